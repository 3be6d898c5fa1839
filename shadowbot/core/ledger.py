"""A rule's record: settled results in order, and the state they imply.

State is derived, never stored on its own (DESIGN.md, "Thresholds and rule states"):
more than ``max_losses`` losses disables a rule, ``promote_wins`` wins with no loss
promotes it, and a manual override (audited elsewhere) wins over both.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from shadowbot.core.settlement import Result, Settlement


@dataclass(frozen=True, slots=True)
class Thresholds:
    max_losses: int = 3
    promote_wins: int = 100
    rfc_ready_rules: int = 5


class RuleState(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"
    PROMOTED = "promoted"


def derive_state(
    wins: int, losses: int, thresholds: Thresholds, override: RuleState | None = None
) -> RuleState:
    if override is not None:
        return override
    if losses > thresholds.max_losses:
        return RuleState.DISABLED
    if losses == 0 and wins >= thresholds.promote_wins:
        return RuleState.PROMOTED
    return RuleState.ACTIVE


@dataclass(frozen=True, slots=True)
class StateChange:
    """A change of a rule's state, and the PR whose result caused it."""

    before: RuleState
    after: RuleState
    pr: int
    at: datetime | None


@dataclass
class RuleRecord:
    """Counts of one rule version's results, fed in settlement order."""

    thresholds: Thresholds
    claims: int = 0
    wins: int = 0
    losses: int = 0
    neutral: int = 0
    #: Claims on PRs closed unmerged, whichever result the policy gives them (DESIGN.md:
    #: "shown as its own count"); with ``closed_unmerged = loss`` they are losses too.
    closed_unmerged: int = 0
    pending: int = 0
    missed: int = 0
    errors: int = 0
    #: The PR and reason of the first ``error`` verdict, to show the rule's author.
    first_error: tuple[int, str] | None = None
    changes: list[StateChange] = field(default_factory=list)

    @property
    def precision(self) -> float | None:
        decided = self.wins + self.losses
        return self.wins / decided if decided else None

    @property
    def state(self) -> RuleState:
        return derive_state(self.wins, self.losses, self.thresholds)

    def first_change_to(self, state: RuleState) -> StateChange | None:
        return next((c for c in self.changes if c.after is state), None)

    def record(self, settlement: Settlement, pr: int) -> StateChange | None:
        """Count one settled claim; return the change of state it caused, if any."""
        before = self.state
        result = settlement.result
        self.claims += 1
        if settlement.reason == "closed_unmerged":
            self.closed_unmerged += 1
        if result is Result.WIN:
            self.wins += 1
        elif result is Result.LOSS:
            self.losses += 1
        elif result is Result.PENDING:
            self.pending += 1
        elif settlement.reason != "closed_unmerged":
            self.neutral += 1
        after = self.state
        if after is before:
            return None
        change = StateChange(before, after, pr, settlement.at)
        self.changes.append(change)
        return change
