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
    into the record shown beside a rule version.

    One pass over the entries fills a :class:`_Counts` for the whole record and one per
    author kind: a record is counted again each time one of its entries changes."""
    whole = _Counts()
    kinds = {kind: _Counts() for kind in AUTHOR_KINDS}
    for entry in entries:
        if entry.result not in RESULTS:
            raise ValueError(f"unknown result {entry.result!r}, not one of {sorted(RESULTS)}")
        whole.add(entry)
        kinds["bot" if entry.author_type == "Bot" else "person"].add(entry)
    by_author = {kind: counts.tally(Tally) for kind, counts in kinds.items()}
    return whole.tally(Figures, errors=errors, by_author=by_author)


class _Counts:
    """What :func:`figures` counts of a set of entries, one entry at a time."""

    __slots__ = ("found", "saved", "decided_at")

    def __init__(self) -> None:
        #: By result, and by ``result:reason`` for the reasons shown on their own.
        self.found: dict[str, int] = dict.fromkeys(_COUNTED, 0)
        self.saved: list[float] = []
        self.decided_at: list[datetime] = []

    def add(self, entry: Entry) -> None:
        found, result = self.found, entry.result
        found[result] += 1
        if entry.reason == "closed_unmerged":
            found["closed_unmerged"] += 1
            if result == "neutral":
                found["neutral"] -= 1  # shown as its own count, not as neutral
        if result == "win":
            found["endorsed"] += entry.reason == "endorsed"
            if entry.saved_seconds is not None:
                self.saved.append(entry.saved_seconds)
        elif result == "loss":
            found["reverted"] += entry.reason == "reverted"
            found["disputed"] += entry.disputed
        if result in ("win", "loss") and entry.at is not None:
            self.decided_at.append(entry.at)

    def tally(self, kind: type[T], **extra: Any) -> T:
        found = self.found
        wins, losses = found["win"], found["loss"]
        middle = median(self.saved)
        return kind(
            wins=wins,
            losses=losses,
            neutral=found["neutral"],
            closed_unmerged=found["closed_unmerged"],
            missed=found["missed"],
            pending=found["pending"],
            endorsed=found["endorsed"],
            reverted=found["reverted"],
            disputed=found["disputed"],
            loss_bound=loss_rate_bound(losses, wins + losses),
            coverage=coverage(wins, found["missed"]),
            saved_total=timedelta(seconds=sum(self.saved)),
            saved_median=None if middle is None else timedelta(seconds=middle),
            first_at=min(self.decided_at, default=None),
            last_at=max(self.decided_at, default=None),
            **extra,
        )


#: What :class:`_Counts` counts: the results, and the reasons shown on their own.
_COUNTED = (*sorted(RESULTS), "closed_unmerged", "endorsed", "reverted", "disputed")


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
