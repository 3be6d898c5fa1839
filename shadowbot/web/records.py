"""A rule version's share of the leaderboard: its record, counted from its current ledger
entries, its claims not settled yet and its errors, and what the pages derive from them
(its trend, its ledger's order). Counted again only when one of those changes
(:class:`shadowbot.web.board.Records`); immutable once counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shadowbot.core.figures import Entry, Figures, author_kind, figures
from shadowbot.offline.ledger_view import with_pending
from shadowbot.storage.ledger_store import CurrentResult

#: The most points a trend has: enough for a small picture, small in the JSON.
TREND_POINTS = 48


@dataclass(frozen=True, slots=True)
class Repo:
    id: int
    full_name: str
    #: Private and not named as shown: it counts in the figures, without its details.
    hidden: bool


@dataclass(frozen=True, slots=True)
class RuleRecord:
    """One rule version's share of the board, counted again only when its results, its
    claims not settled yet or its errors change."""

    #: The ledger's figures with the errors, without the unsettled claims.
    figures: Figures
    #: Claims the ledger has no entry for yet, by author kind.
    unsettled: Mapping[str, int]
    #: (settled_at, result) of each current entry: for :func:`state_of`.
    settled: tuple[tuple[datetime, str], ...]
    #: Wins and losses so far at each decided result in time order, or at most
    #: :data:`TREND_POINTS` of them (:func:`trend_points`): shared, never changed.
    trend: tuple[dict[str, Any], ...]
    #: The newest evidence behind any of its results.
    last_activity: datetime | None
    #: (repository id, entry) of each current entry, (repository id, author type) of
    #: each unsettled claim, the repository of each PR it erred on: per repository.
    entries: tuple[tuple[int, Entry], ...]
    claims: tuple[tuple[int, str], ...]
    errors: tuple[int, ...]
    #: Ids of its current entries in the order the rule page lists them: losses first,
    #: then wins, pending, neutral, missed; newest first within each.
    ledger_order: tuple[int, ...]
    #: Its pull requests with the newest entries, newest first (at most 20).
    newest_prs: tuple[int, ...]
    #: Its record on one repository's pull requests, by repository id: filled when asked.
    scoped: dict[int, Figures] = field(default_factory=dict)

    def on(self, repository_id: int) -> Figures:
        """The record on one repository's pull requests only, counted as ``ledger show``
        counts the whole record."""
        found = self.scoped.get(repository_id)
        if found is None:
            mine = [entry for repo, entry in self.entries if repo == repository_id]
            record = figures(mine, sum(repo == repository_id for repo in self.errors))
            kinds = Counter(
                author_kind(kind) for repo, kind in self.claims if repo == repository_id
            )
            found = self.scoped[repository_id] = with_pending(record, kinds)
        return found


@dataclass(frozen=True, slots=True)
class Current:
    """A (rule version, PR)'s newest ledger entry, as the records keep it."""

    id: int
    repository_id: int
    entry: Entry
    settled_at: datetime

    @classmethod
    def of(cls, result: CurrentResult) -> Current:
        return cls(result.id, result.repository_id, result.entry(), result.settled_at)


def trend_points(decided: Sequence[tuple[datetime, str]]) -> tuple[dict[str, Any], ...]:
    """Wins and losses so far, in time order: at each decided result, or at most
    :data:`TREND_POINTS` of them spread evenly (the first and the last always). Only the
    points kept are formatted: a rule has hundreds of results, a trend 48 points."""
    wins = losses = 0
    counts = []
    for _, result in decided:
        wins += result == "win"
        losses += result == "loss"
        counts.append((wins, losses))
    kept: Sequence[int] = range(len(counts))
    if len(counts) > TREND_POINTS:
        step = (len(counts) - 1) / (TREND_POINTS - 1)
        kept = [round(i * step) for i in range(TREND_POINTS)]
    return tuple(
        {"at": decided[i][0].isoformat(), "wins": counts[i][0], "losses": counts[i][1]}
        for i in kept
    )


#: The rule page's order of results: losses first, then what else a rule is judged on.
RESULT_ORDER = {"loss": 0, "win": 1, "pending": 2, "neutral": 3, "missed": 4}


def ledger_order(current: Iterable[Current]) -> tuple[int, ...]:
    """Entry ids losses first (:data:`RESULT_ORDER`), newest first within a result (by
    when its evidence happened, else when it was settled; then by id)."""
    by_result: dict[int, list[tuple[datetime, int]]] = {}
    for c in current:
        rank = RESULT_ORDER.get(c.entry.result, len(RESULT_ORDER))
        by_result.setdefault(rank, []).append((c.entry.at or c.settled_at, c.id))
    return tuple(
        entry_id
        for rank in sorted(by_result)
        for _, entry_id in sorted(by_result[rank], reverse=True)
    )


def count_rule(
    results: Mapping[int, Current], claims: Iterable[tuple[int, str]], errors: Iterable[int]
) -> RuleRecord:
    """Count a rule version's record from its current entries (by PR id, in the order of
    their ids), its unsettled claims and the PRs it erred on."""
    current = list(results.values())
    entries = tuple((c.repository_id, c.entry) for c in current)
    unsettled = tuple(claims)
    erred = tuple(errors)
    decided = sorted(
        (c.entry.at, c.entry.result)
        for c in current
        if c.entry.result in ("win", "loss") and c.entry.at is not None
    )
    return RuleRecord(
        figures=figures((entry for _, entry in entries), len(erred)),
        unsettled=Counter(author_kind(kind) for _, kind in unsettled),
        settled=tuple((c.settled_at, c.entry.result) for c in current),
        trend=trend_points(decided),
        last_activity=max((c.entry.at or c.settled_at for c in current), default=None),
        entries=entries,
        claims=unsettled,
        errors=erred,
        ledger_order=ledger_order(current),
        newest_prs=tuple(reversed(list(results)[-20:])),
    )
