"""Reading a pull request's stored evidence into the plain data that
:func:`shadowbot.core.reduction.settle_pull_request` settles.

The settlement job and ``shadowbot ledger verify`` both read evidence through here, so
they can only differ if the ledger was changed behind the job's back.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

from sqlmodel import Session, col, or_, select

from shadowbot.core.reduction import (
    OutcomeKind,
    OutcomeSeen,
    PullRequestEvidence,
    ReactionSeen,
    Shown,
    VerdictSeen,
)
from shadowbot.storage.models import (
    OutcomeRow,
    PullRequestRow,
    ReactionRow,
    RevisionRow,
    RuleRow,
    VerdictCommentRow,
    VerdictRow,
)

#: The decisions settlement reads: a claim, or a hold that may turn out a miss.
JUDGED = ("merge", "hold")


def _judged() -> Any:
    """The PRs on which some rule claimed or held: those with something to settle."""
    return select(VerdictRow.pull_request_id).where(col(VerdictRow.decision).in_(JUDGED))


def rule_keys(session: Session) -> dict[int, str]:
    """``name@version`` of every recorded rule version, by id."""
    return {
        row.id: f"{row.name}@{row.version}"
        for row in session.exec(select(RuleRow))
        if row.id is not None
    }


def gather(session: Session, pr: PullRequestRow, keys: dict[int, str]) -> PullRequestEvidence:
    """Everything recorded about ``pr`` that settles claims on it."""
    verdicts = [
        VerdictSeen(
            keys[row.rule_id], row.head_sha, row.decision, row.evaluated_at, cast(int, row.id)
        )
        for row in session.exec(
            select(VerdictRow).where(
                VerdictRow.pull_request_id == pr.id,
                col(VerdictRow.decision).in_(JUDGED),
            )
        )
    ]
    revisions = [
        Shown(
            id=cast(int, row.id),
            head_sha=row.head_sha,
            shown_at=row.shown_at,
            comment_id=row.comment_id,
            claims=frozenset(row.summary.get("claims") or ()),
            decisions=dict(row.summary.get("decisions") or {}),
            recorded_at=row.recorded_at,
        )
        for row in session.exec(select(RevisionRow).where(RevisionRow.pull_request_id == pr.id))
    ]
    comments = select(VerdictCommentRow.comment_id).where(
        VerdictCommentRow.pull_request_id == pr.id
    )
    reactions = [
        ReactionSeen(
            id=cast(int, row.id),
            comment_id=row.comment_id,
            login=row.user_login,
            user_type=row.user_type,
            permission=row.permission,
            content=row.content,
            created_at=row.created_at,
            gone=row.gone_at is not None,
            first_seen_at=row.first_seen_at,
        )
        for row in session.exec(
            select(ReactionRow).where(col(ReactionRow.comment_id).in_(comments))
        )
    ]
    outcomes = [
        OutcomeSeen(
            id=cast(int, row.id),
            kind=cast(OutcomeKind, row.kind),
            at=row.at,
            sha=row.sha,
            by=row.actor_login,
            detail=row.detail,
        )
        for row in session.exec(select(OutcomeRow).where(OutcomeRow.pull_request_id == pr.id))
    ]
    return PullRequestEvidence(pr.author_login, verdicts, revisions, reactions, outcomes)


def open_to_settlement(
    session: Session, now: datetime, longest_window: float, since: datetime | None
) -> Sequence[PullRequestRow]:
    """The PRs whose results may still change, or changed since the last settlement run
    (at ``since``): open ones, those closed within the longest window (grace period or
    revert window, in seconds) before the last run (they may have become final since),
    and those with evidence recorded since the last run."""
    cutoff = min(now, since or now) - timedelta(seconds=longest_window)
    if since is None:
        cutoff = datetime.min.replace(tzinfo=now.tzinfo)
    judged = _judged()
    conditions = [
        col(PullRequestRow.closed_at).is_(None),
        col(PullRequestRow.closed_at) >= cutoff,
    ]
    if since is not None:
        conditions.append(col(PullRequestRow.evidence_at) >= since)
    return session.exec(
        select(PullRequestRow)
        .where(col(PullRequestRow.id).in_(judged), or_(*conditions))
        .order_by(col(PullRequestRow.id))
    ).all()


def every_judged(session: Session) -> Iterator[PullRequestRow]:
    """Every PR on which some rule claimed or held, for ``ledger verify``."""
    judged = _judged()
    yield from session.exec(
        select(PullRequestRow)
        .where(col(PullRequestRow.id).in_(judged))
        .order_by(col(PullRequestRow.id))
    )
