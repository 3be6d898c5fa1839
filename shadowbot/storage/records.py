"""What live mode writes to the database: pull requests, verdicts, revisions, the bot's
verdict comments, note versions, outcomes. Plain synchronous functions over one session;
callers run them off the event loop (``asyncio.to_thread``) and commit once per delivery.

Evidence is append-only (DESIGN.md, "Ledger integrity"): every evaluation adds its
verdicts, every write of a verdict comment adds a revision at GitHub's time of the write,
every version of a note adds a row, every outcome is added once. Only the pull request
row, a cache of GitHub's state, is updated in place.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, Protocol, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from shadowbot.rules import Rule
from shadowbot.snapshot import Snapshot
from shadowbot.storage import (
    NoteVersionRow,
    OutcomeRow,
    PullRequestRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    VerdictCommentRow,
    VerdictRow,
    utcnow,
)
from shadowbot.verdict import Verdict


class _HasId(Protocol):
    id: int | None


R = TypeVar("R", RepositoryRow, PullRequestRow)


def _id(row: _HasId) -> int:
    """The primary key of a row that has been flushed."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


def _inserted_or_found(session: Session, row: R, find: Callable[[], R | None]) -> R:
    """``row`` inserted, or the same row another process inserted first: on PostgreSQL
    two replicas (or two workers) may both find no row and both insert one; the second
    insert then breaks a unique constraint, and the first one's row is found instead."""
    try:
        with session.begin_nested():
            session.add(row)
    except IntegrityError:
        found = find()
        if found is None:
            raise
        return found
    return row


def _repository_named(session: Session, full_name: str) -> RepositoryRow | None:
    return session.exec(
        select(RepositoryRow).where(RepositoryRow.full_name == full_name)
    ).one_or_none()


def repository(session: Session, full_name: str, installation_id: int | None) -> RepositoryRow:
    """The repository's row, created if new, with its installation (None: the app left)."""
    row = _repository_named(session, full_name)
    if row is None:
        row = _inserted_or_found(
            session,
            RepositoryRow(full_name=full_name, installation_id=installation_id),
            lambda: _repository_named(session, full_name),
        )
    row.installation_id = installation_id
    session.add(row)
    session.flush()
    return row


def privacy(session: Session, full_name: str, private: bool) -> None:
    """Whether a repository the bot knows is private, as GitHub says."""
    row = session.exec(
        select(RepositoryRow).where(RepositoryRow.full_name == full_name)
    ).one_or_none()
    if row is not None and row.private is not private:
        row.private = private
        session.add(row)


def _pull_request_in(session: Session, repo: RepositoryRow, number: int) -> PullRequestRow | None:
    return session.exec(
        select(PullRequestRow).where(
            PullRequestRow.repository_id == repo.id, PullRequestRow.number == number
        )
    ).one_or_none()


def pull_request(session: Session, repo: RepositoryRow, pr: Snapshot) -> PullRequestRow:
    row = _pull_request_in(session, repo, pr.number)
    if row is None:
        row = _inserted_or_found(
            session,
            PullRequestRow(
                repository_id=_id(repo),
                number=pr.number,
                author_login=pr.author.login,
                author_type="Bot" if pr.author.is_bot else "User",
                head_sha=pr.head_sha,
                state=pr.state,
                title=pr.title,
                created_at=pr.created_at,
                updated_at=pr.updated_at,
            ),
            lambda: _pull_request_in(session, repo, pr.number),
        )
    row.head_sha, row.state, row.title, row.updated_at = (
        pr.head_sha,
        pr.state,
        pr.title,
        pr.updated_at,
    )
    row.evidence_at = utcnow()
    session.add(row)
    session.flush()
    return row


def pull_request_from_issue(
    session: Session, repo: RepositoryRow, issue: dict[str, Any]
) -> PullRequestRow:
    """The PR row for a comment's issue payload, created from it if never evaluated."""
    row = _pull_request_in(session, repo, int(issue["number"]))
    if row is not None:
        return row
    opened = datetime.fromisoformat(str(issue["created_at"]))
    row = PullRequestRow(
        repository_id=_id(repo),
        number=int(issue["number"]),
        author_login=str((issue.get("user") or {}).get("login", "")),
        head_sha="",  # unknown until the PR is evaluated
        state=str(issue.get("state", "open")),
        title=str(issue.get("title", "")),
        created_at=opened,
        updated_at=datetime.fromisoformat(str(issue.get("updated_at") or issue["created_at"])),
    )
    return _inserted_or_found(
        session, row, lambda: _pull_request_in(session, repo, int(issue["number"]))
    )


def find_pull_request(session: Session, full_name: str, number: int) -> PullRequestRow | None:
    return session.exec(
        select(PullRequestRow)
        .join(RepositoryRow, col(RepositoryRow.id) == col(PullRequestRow.repository_id))
        .where(RepositoryRow.full_name == full_name, PullRequestRow.number == number)
    ).one_or_none()


def open_pull_requests_at(session: Session, full_name: str, sha: str) -> list[int]:
    """Numbers of the open PRs whose head is ``sha`` (a status names no PR)."""
    rows = session.exec(
        select(PullRequestRow.number)
        .join(RepositoryRow, col(RepositoryRow.id) == col(PullRequestRow.repository_id))
        .where(
            RepositoryRow.full_name == full_name,
            PullRequestRow.head_sha == sha,
            PullRequestRow.state == "open",
        )
    )
    return sorted(rows)


def verdicts(
    session: Session,
    pr: PullRequestRow,
    head_sha: str,
    evaluations: Sequence[tuple[Rule, Verdict]],
) -> None:
    """Add each rule version's verdict on this head, as evaluated now."""
    rule_ids = _rule_ids(session, [rule for rule, _ in evaluations])
    now = utcnow()
    for rule, verdict in evaluations:
        checklist = [
            {"check": c.check, "passed": c.passed, "detail": c.detail} for c in verdict.checklist
        ]
        session.add(
            VerdictRow(
                rule_id=rule_ids[(rule.name, rule.version)],
                pull_request_id=_id(pr),
                head_sha=head_sha,
                decision=verdict.decision.value,
                checklist=checklist,
                reason=verdict.reason,
                evaluated_at=now,
            )
        )


def _rule_ids(session: Session, rules: Sequence[Rule]) -> dict[tuple[str, int], int]:
    names = {rule.name for rule in rules}
    rows = session.exec(select(RuleRow).where(col(RuleRow.name).in_(names)))
    return {(row.name, row.version): row.id for row in rows if row.id is not None}


def rule_id(session: Session, key: str) -> int | None:
    """The id of the rule version ``name@version``."""
    name, _, version = key.partition("@")
    return session.exec(
        select(RuleRow.id).where(RuleRow.name == name, RuleRow.version == int(version or 0))
    ).first()


def verdict_comment(
    session: Session,
    pr: PullRequestRow,
    comment_id: int,
    node_id: str | None,
    created_at: datetime,
    rule_key: str | None = None,
) -> VerdictCommentRow:
    """The bot's verdict comment, recorded the first time it is seen."""
    row = session.exec(
        select(VerdictCommentRow).where(VerdictCommentRow.comment_id == comment_id)
    ).one_or_none()
    if row is None:
        row = VerdictCommentRow(
            pull_request_id=_id(pr),
            comment_id=comment_id,
            node_id=node_id,
            rule_id=rule_id(session, rule_key) if rule_key else None,
            created_at=created_at,
        )
    elif node_id and not row.node_id:
        row.node_id = node_id
    session.add(row)
    return row


def current_revision(
    session: Session, pr: PullRequestRow, comment_id: int | None
) -> RevisionRow | None:
    """The revision on screen in ``comment_id`` (None: what silent mode shows)."""
    return session.exec(
        select(RevisionRow)
        .where(RevisionRow.pull_request_id == pr.id, RevisionRow.comment_id == comment_id)
        .order_by(col(RevisionRow.shown_at).desc(), col(RevisionRow.id).desc())
    ).first()


def show_revision(
    session: Session,
    pr: PullRequestRow,
    head_sha: str,
    comment_id: int | None,
    summary: dict[str, object],
    shown_at: datetime,
) -> RevisionRow:
    """Record what went on screen at ``shown_at`` (GitHub's time of the write); the
    revision it replaces in the same comment leaves the screen then. Showing again what
    is on screen adds nothing."""
    shown = current_revision(session, pr, comment_id)
    if shown is not None and shown.head_sha == head_sha and shown.summary == summary:
        return shown
    revision = RevisionRow(
        pull_request_id=_id(pr),
        head_sha=head_sha,
        shown_at=shown_at,
        comment_id=comment_id,
        summary=summary,
    )
    session.add(revision)
    pr.evidence_at = utcnow()
    session.add(pr)
    session.flush()
    return revision


def note(
    session: Session,
    pr: PullRequestRow,
    comment_id: int,
    author: str,
    body: str,
    at: datetime,
    rule_name: str | None = None,
) -> NoteVersionRow | None:
    """Add a version of the note in comment ``comment_id``, unless it says what the note
    already says."""
    latest = _latest_note(session, comment_id)
    if (
        latest is not None
        and not latest.deleted
        and (latest.body, latest.rule_name)
        == (
            body,
            rule_name,
        )
    ):
        return None
    row = NoteVersionRow(
        pull_request_id=_id(pr),
        comment_id=comment_id,
        author_login=author,
        rule_name=rule_name,
        body=body,
        at=at,
    )
    session.add(row)
    return row


def delete_note(session: Session, comment_id: int, at: datetime) -> bool:
    """Add the version that says the note is gone; False if there was none to remove."""
    latest = _latest_note(session, comment_id)
    if latest is None or latest.deleted:
        return False
    session.add(
        NoteVersionRow(
            pull_request_id=latest.pull_request_id,
            comment_id=comment_id,
            author_login=latest.author_login,
            rule_name=latest.rule_name,
            body="",
            deleted=True,
            at=at,
        )
    )
    return True


def _latest_note(session: Session, comment_id: int) -> NoteVersionRow | None:
    return session.exec(
        select(NoteVersionRow)
        .where(NoteVersionRow.comment_id == comment_id)
        .order_by(col(NoteVersionRow.id).desc())
    ).first()


def outcome(
    session: Session,
    pr: PullRequestRow,
    kind: str,
    sha: str | None,
    actor: str,
    at: datetime,
    detail: str = "",
) -> bool:
    """Record a merge, close, reopen or revert at GitHub's time ``at``, once: a
    redelivered event (or the reconciler finding what a webhook said) adds nothing."""
    known = session.exec(
        select(OutcomeRow.id).where(
            OutcomeRow.pull_request_id == _id(pr), OutcomeRow.kind == kind, OutcomeRow.at == at
        )
    ).first()
    if known is not None:
        return False
    session.add(
        OutcomeRow(
            pull_request_id=_id(pr), kind=kind, sha=sha, actor_login=actor, at=at, detail=detail
        )
    )
    if kind == "merged":
        pr.state, pr.merged_at, pr.merged_sha, pr.closed_at = "merged", at, sha, at
    elif kind == "closed":
        pr.state, pr.closed_at = "closed", at
    elif kind == "reopened":
        pr.state, pr.closed_at = "open", None
    pr.evidence_at = utcnow()
    session.add(pr)
    return True
