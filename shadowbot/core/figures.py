"""A rule version's record as the pages show it, and the state it implies.

Pure functions over the ledger's newest entry per (rule version, PR): :func:`figures`
counts them and adds the confidence and value figures (DESIGN.md, "Confidence and
value"), :func:`state_of` derives the rule's state with its audited manual overrides
(DESIGN.md, "Thresholds and rule states").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from shadowbot.core.confidence import coverage, loss_rate_bound, median, wins_for_loss_rate
from shadowbot.core.ledger import RuleState, Thresholds

RESULTS = frozenset({"win", "loss", "neutral", "missed", "pending"})
#: DESIGN.md: "Broken down by author kind (bot accounts vs people)".
AUTHOR_KINDS = ("bot", "person")


@dataclass(frozen=True, slots=True)
class Entry:
    """One (rule version, PR): the newest ledger entry of it."""

    #: ``win``, ``loss``, ``neutral``, ``missed`` or ``pending``.
    result: str
    #: The settlement's reason: ``endorsed``, ``reverted``, ``closed_unmerged``, ...
    reason: str
    #: For a win at the merged head: its merge minus the rule's first claim on that head.
    saved_seconds: float | None
    #: The PR author's GitHub account type: ``User`` or ``Bot``.
    author_type: str
    #: A merger's 👍 and 👎 on one revision in which the rule claimed.
    disputed: bool = False
    #: When the deciding evidence happened (GitHub's clock).
    at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Tally:
    """The counts and figures of a set of entries."""

    wins: int = 0
    losses: int = 0
    #: Neutral results other than ``closed_unmerged``.
    neutral: int = 0
    #: Claims on PRs closed unmerged, whichever result the policy gives them (DESIGN.md:
    #: "shown as its own count"); with ``closed_unmerged = loss`` they are losses too.
    closed_unmerged: int = 0
    missed: int = 0
    pending: int = 0
    #: Wins by a merger's 👍 (``endorsed``), included in ``wins``.
    endorsed: int = 0
    #: Losses by a revert, included in ``losses``.
    reverted: int = 0
    #: Losses on a revision with both a merger's 👍 and 👎, included in ``losses``.
    disputed: int = 0
    #: One-sided 95% upper bound on losses / (wins + losses); None with neither.
    loss_bound: float | None = None
    #: wins / (wins + missed); None with neither.
    coverage: float | None = None
    saved_total: timedelta = timedelta(0)
    saved_median: timedelta | None = None
    #: The time span of the decided results (wins and losses), by their ``at``.
    first_at: datetime | None = None
    last_at: datetime | None = None

    @property
    def decided(self) -> int:
        return self.wins + self.losses


@dataclass(frozen=True, slots=True)
class Figures(Tally):
    """A rule version's record: its :class:`Tally`, its errors, and the same by author
    kind (``bot`` and ``person``, both always present)."""

    #: ``error`` verdicts: counted by the caller, they are not settled results.
    errors: int = 0
    by_author: Mapping[str, Tally] = field(default_factory=dict)


T = TypeVar("T", bound=Tally)


def author_kind(author_type: str) -> str:
    return "bot" if author_type == "Bot" else "person"


def figures(entries: Iterable[Entry], errors: int = 0) -> Figures:
    """Count ``entries`` (one per (rule version, PR), the newest ledger entry of each)
    into the record shown beside a rule version."""
    items = list(entries)
    unknown = {e.result for e in items} - RESULTS
    if unknown:
        raise ValueError(f"unknown results: {sorted(unknown)}")
    by_author = {
        kind: _count([e for e in items if author_kind(e.author_type) == kind], Tally)
        for kind in AUTHOR_KINDS
    }
    return _count(items, Figures, errors=errors, by_author=by_author)


def _count(entries: Sequence[Entry], kind: type[T], **extra: Any) -> T:
    wins = [e for e in entries if e.result == "win"]
    losses = [e for e in entries if e.result == "loss"]
    missed = sum(e.result == "missed" for e in entries)
    saved = [e.saved_seconds for e in wins if e.saved_seconds is not None]
    middle = median(saved)
    decided_at = [e.at for e in (*wins, *losses) if e.at is not None]
    return kind(
        wins=len(wins),
        losses=len(losses),
        neutral=sum(e.result == "neutral" and e.reason != "closed_unmerged" for e in entries),
        closed_unmerged=sum(e.reason == "closed_unmerged" for e in entries),
        missed=missed,
        pending=sum(e.result == "pending" for e in entries),
        endorsed=sum(e.reason == "endorsed" for e in wins),
        reverted=sum(e.reason == "reverted" for e in losses),
        disputed=sum(e.disputed for e in losses),
        loss_bound=loss_rate_bound(len(losses), len(wins) + len(losses)),
        coverage=coverage(len(wins), missed),
        saved_total=timedelta(seconds=sum(saved)),
        saved_median=None if middle is None else timedelta(seconds=middle),
        first_at=min(decided_at, default=None),
        last_at=max(decided_at, default=None),
        **extra,
    )


@dataclass(frozen=True, slots=True)
class Override:
    """An audited manual change of a rule's state (DESIGN.md: "``enable``/``disable``
    with a reason")."""

    at: datetime
    action: Literal["enable", "disable"]
    reason: str
    actor: str


def wins_needed(thresholds: Thresholds, promote_max_loss_rate: float | None = None) -> int:
    """The wins a rule with no loss needs to be promoted: ``promote_wins``, or, when the
    target is given as a loss rate (DESIGN.md: ``promote_max_loss_rate = 0.01`` means
    299), the fewest clean wins whose loss-rate bound meets it."""
    if promote_max_loss_rate is None:
        return thresholds.promote_wins
    return wins_for_loss_rate(promote_max_loss_rate)


def state_of(
    wins: int,
    losses: int,
    thresholds: Thresholds,
    overrides: Sequence[Override] = (),
    settled: Iterable[tuple[datetime, str]] = (),
    promote_max_loss_rate: float | None = None,
) -> RuleState:
    """The rule version's state (DESIGN.md, "Thresholds and rule states"; ``active`` is
    DESIGN.md's shadow mode) from its record and its manual overrides.

    - More than ``max_losses`` losses: **disabled**. At least :func:`wins_needed` wins
      and no loss at all: **promoted**; the first loss revokes it. Otherwise **active**.
    - The newest override wins (by ``at``; at the same moment a ``disable`` wins).
    - After a manual ``disable`` the rule is disabled whatever its record.
    - After a manual ``enable`` the rule is back in shadow with a fresh allowance: only
      losses settled *after* the enable count toward ``max_losses`` (otherwise a rule
      enabled over the limit would be disabled again at once); promotion still needs
      zero losses in the whole record.

    ``wins`` and ``losses`` count the whole record. ``settled`` is the record's results
    as ``(settled_at, result)`` pairs, ``settled_at`` being when the ledger entry was
    written (the clock the overrides are stamped with); only its losses after the
    newest ``enable`` are read, so it may be left empty when there is no override.
    """
    newest = max(overrides, key=lambda o: (o.at, o.action == "disable"), default=None)
    if newest is not None and newest.action == "disable":
        return RuleState.DISABLED
    counted = losses
    if newest is not None:
        counted = sum(result == "loss" and at > newest.at for at, result in settled)
    if counted > thresholds.max_losses:
        return RuleState.DISABLED
    if losses == 0 and wins >= wins_needed(thresholds, promote_max_loss_rate):
        return RuleState.PROMOTED
    return RuleState.ACTIVE
