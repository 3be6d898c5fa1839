"""How a claim becomes a win, a loss or neutral: one pure function, shared by live mode
and the backtest (DESIGN.md, "Settlement" and "Backtest").

The two modes differ only in which evidence they gather for a claim, and both build a
:class:`ClaimFacts`:

- live mode (its evidence builder is not written yet) counts a merger's 👎 made while
  the claim was on screen or within the grace period after the PR closed, and sets
  ``superseded_at`` when a new push took the claim
  off screen (a superseded claim is settled neutral: nobody was shown that head any more);
- the backtest counts a merger's change request made any time after the claim and a
  revert of the merge, and never sets ``superseded_at``: had the bot merged at the claim,
  whatever came after is evidence about that merge (DESIGN.md: "loss if afterwards a
  merger requested changes"), so more commits only matter once the PR is merged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Literal


class Result(StrEnum):
    WIN = "win"
    LOSS = "loss"
    NEUTRAL = "neutral"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class Policy:
    grace_period: timedelta = timedelta(hours=24)
    closed_unmerged: Literal["neutral", "loss"] = "neutral"


@dataclass(frozen=True, slots=True)
class Evidence:
    """One counted piece of feedback on a claim, with who gave it and when."""

    kind: Literal["objection", "revert", "endorsement"]
    at: datetime
    by: str
    detail: str


@dataclass(frozen=True, slots=True)
class ClaimFacts:
    claimed_sha: str
    claimed_at: datetime
    #: Counted evidence only: the caller has already dropped non-mergers and out-of-window
    #: feedback.
    evidence: tuple[Evidence, ...] = ()
    merged_sha: str | None = None
    merged_at: datetime | None = None
    #: Closed without merging (and not reopened since).
    closed_at: datetime | None = None
    superseded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Settlement:
    result: Result
    #: Why: ``objection``, ``reverted``, ``merged``, ``endorsed``, ``superseded``,
    #: ``closed_unmerged``, ``open`` or ``grace``.
    reason: str
    #: When the deciding evidence happened (``None`` while pending and open).
    at: datetime | None
    evidence: Evidence | None = None


def settle(facts: ClaimFacts, policy: Policy, now: datetime) -> Settlement:
    """Settle one claim from its evidence as it stands at ``now``."""
    losses = [e for e in facts.evidence if e.kind != "endorsement"]
    if losses:
        first = min(losses, key=lambda e: e.at)
        reason = "reverted" if first.kind == "revert" else "objection"
        return Settlement(Result.LOSS, reason, first.at, first)

    if facts.merged_at is not None:
        if facts.merged_sha == facts.claimed_sha:
            if now < facts.merged_at + policy.grace_period:
                return Settlement(Result.PENDING, "grace", facts.merged_at)
            return Settlement(Result.WIN, "merged", facts.merged_at)
        otherwise = Settlement(Result.NEUTRAL, "superseded", facts.merged_at)
    elif facts.closed_at is not None:
        if policy.closed_unmerged == "loss":
            return Settlement(Result.LOSS, "closed_unmerged", facts.closed_at)
        if now < facts.closed_at + policy.grace_period:
            # A merger's 👎 still counts until the grace period after the close runs out.
            return Settlement(Result.PENDING, "grace", facts.closed_at)
        otherwise = Settlement(Result.NEUTRAL, "closed_unmerged", facts.closed_at)
    elif facts.superseded_at is not None:
        otherwise = Settlement(Result.NEUTRAL, "superseded", facts.superseded_at)
    else:
        return Settlement(Result.PENDING, "open", None)

    endorsements = [e for e in facts.evidence if e.kind == "endorsement"]
    if endorsements:
        first = min(endorsements, key=lambda e: e.at)
        return Settlement(Result.WIN, "endorsed", first.at, first)
    return otherwise
