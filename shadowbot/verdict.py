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
    decision: Decision
    checklist: tuple[CheckResult, ...] = ()
    #: A one-line reason for ``skip`` and ``error`` verdicts.
    reason: str = ""

    @property
    def is_claim(self) -> bool:
        return self.decision is Decision.MERGE

    @classmethod
    def merge(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        return cls(Decision.MERGE, checklist)

    @classmethod
    def hold(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        return cls(Decision.HOLD, checklist)

    @classmethod
    def skip(cls, reason: str, checklist: tuple[CheckResult, ...] = ()) -> Verdict:
        return cls(Decision.SKIP, checklist, reason)

    @classmethod
    def error(cls, reason: str) -> Verdict:
        return cls(Decision.ERROR, (), reason)

    @classmethod
    def from_checks(cls, checklist: tuple[CheckResult, ...]) -> Verdict:
        """``merge`` when every check passed, ``hold`` otherwise."""
        if all(result.passed for result in checklist):
            return cls(Decision.MERGE, checklist)
        return cls(Decision.HOLD, checklist)
