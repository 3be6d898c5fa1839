"""What a rule says about a snapshot: a decision and the checklist that explains it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Decision(StrEnum):
    MERGE = "merge"  # would merge now: a claim
    HOLD = "hold"  # would not merge
    SKIP = "skip"  # the rule does not apply to this pull request
    ERROR = "error"  # the rule raised or ran out of time


@dataclass(frozen=True, slots=True)
class CheckResult:
    """One line of a checklist: ``(check, passed, detail)``."""

    check: str
    passed: bool
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What a rule returns for one snapshot: its :class:`Decision`, the checklist that
    explains it (shown in the verdict comment and on the PR's page), and for ``skip`` and
    ``error`` a one-line reason. Build it with the constructors below rather than by hand.
    """

    decision: Decision
    checklist: tuple[CheckResult, ...] = ()
    #: A one-line reason for ``skip`` and ``error`` verdicts.
    reason: str = ""

    @property
    def is_claim(self) -> bool:
        """Whether the rule would merge: only a ``merge`` is a claim the ledger settles."""
        return self.decision is Decision.MERGE

    @classmethod
    def merge(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        """The rule would merge this head now: a claim, settled later as a win or a loss."""
        return cls(Decision.MERGE, checklist)

    @classmethod
    def hold(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        """The rule applies but would not merge yet; the checklist says what failed."""
        return cls(Decision.HOLD, checklist)

    @classmethod
    def skip(cls, reason: str, checklist: tuple[CheckResult, ...] = ()) -> Verdict:
        """The rule does not apply to this pull request, for ``reason`` (one line)."""
        return cls(Decision.SKIP, checklist, reason)

    @classmethod
    def error(cls, reason: str) -> Verdict:
        """The rule failed; the engine returns this when a rule raises or runs out of
        time, so a rule rarely needs it itself."""
        return cls(Decision.ERROR, (), reason)

    @classmethod
    def from_checks(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        """``merge`` when every check passed, ``hold`` otherwise."""
        if all(result.passed for result in checklist):
            return cls(Decision.MERGE, checklist)
        return cls(Decision.HOLD, checklist)
