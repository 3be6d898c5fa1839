"""What live mode writes to the database: pull requests, verdicts, revisions, notes,
outcomes. Plain synchronous functions over one session; callers run them off the event
loop (``asyncio.to_thread``) and commit once per delivery.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlmodel import Session, col, select

from shadowbot.rules import Rule
from shadowbot.snapshot import Snapshot
from shadowbot.storage import (
    NoteRow,
    OutcomeRow,
    PullRequestRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    VerdictRow,
    utcnow,
)
from shadowbot.verdict import Verdict


class _HasId(Protocol):
    id: int | None


def _id(row: _HasId) -> int:
    """The primary key of a row that has been flushed."""
    if row.id is None:
        raise RuntimeError(f"{type(row).__name__} has no id yet: flush it first")
    return row.id


def repository(session: Session, full_name: str, installation_id: int | None) -> RepositoryRow:
    """The repository's row, created if new, with its installation (None: the app left)."""
    row = session.exec(
        select(RepositoryRow).where(RepositoryRow.full_name == full_name)
    ).one_or_none()
    if row is None:
        row = RepositoryRow(full_name=full_name, installation_id=installation_id)
    row.installation_id = installation_id
    session.add(row)
    session.flush()
    return row


def _pull_request_in(session: Session, repo: RepositoryRow, number: int) -> PullRequestRow | None:
    return session.exec(
        select(PullRequestRow).where(
            PullRequestRow.repository_id == repo.id, PullRequestRow.number == number
        )
    ).one_or_none()


def pull_request(session: Session, repo: RepositoryRow, pr: Snapshot) -> PullRequestRow:
    row = _pull_request_in(session, repo, pr.number)
    if row is None:
        row = PullRequestRow(
            repository_id=_id(repo),
            number=pr.number,
            author_login=pr.author.login,
            head_sha=pr.head_sha,
            state=pr.state,
            title=pr.title,
            created_at=pr.created_at,
            updated_at=pr.updated_at,
        )
    row.head_sha, row.state, row.title, row.updated_at = (
        pr.head_sha,
        pr.state,
        pr.title,
        pr.updated_at,
    )
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
    session.add(row)
    session.flush()
    return row


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
    """Store each rule version's verdict on this head, replacing an earlier one."""
    rule_ids = _rule_ids(session, [rule for rule, _ in evaluations])
    stored = {
        row.rule_id: row
        for row in session.exec(
            select(VerdictRow).where(
                VerdictRow.pull_request_id == _id(pr), VerdictRow.head_sha == head_sha
            )
        )
    }
    now = utcnow()
    for rule, verdict in evaluations:
        rule_id = rule_ids[(rule.name, rule.version)]
        row = stored.get(rule_id) or VerdictRow(
            rule_id=rule_id,
            pull_request_id=_id(pr),
            head_sha=head_sha,
            decision=verdict.decision.value,
        )
        row.decision = verdict.decision.value
        row.checklist = [
            {"check": c.check, "passed": c.passed, "detail": c.detail} for c in verdict.checklist
        ]
        row.reason = verdict.reason
        row.evaluated_at = now
        session.add(row)


def _rule_ids(session: Session, rules: Sequence[Rule]) -> dict[tuple[str, int], int]:
    names = {rule.name for rule in rules}
    rows = session.exec(select(RuleRow).where(col(RuleRow.name).in_(names)))
    return {(row.name, row.version): row.id for row in rows if row.id is not None}


def current_revision(session: Session, pr: PullRequestRow) -> RevisionRow | None:
    return session.exec(
        select(RevisionRow)
        .where(RevisionRow.pull_request_id == pr.id, col(RevisionRow.hidden_at).is_(None))
        .order_by(col(RevisionRow.id).desc())
    ).first()


def show_revision(
    session: Session,
    pr: PullRequestRow,
    head_sha: str,
    comment_id: int | None,
    summary: dict[str, object],
    now: datetime,
) -> RevisionRow:
    """Record what went on screen at ``now``; the revision it replaces leaves the screen."""
    shown = current_revision(session, pr)
    if shown is not None:
        if shown.head_sha == head_sha and shown.summary == summary:
            shown.comment_id = comment_id or shown.comment_id
            session.add(shown)
            return shown
        shown.hidden_at = now
        session.add(shown)
    revision = RevisionRow(
        pull_request_id=_id(pr),
        head_sha=head_sha,
        shown_at=now,
        comment_id=comment_id,
        summary=summary,
    )
    session.add(revision)
    session.flush()
    return revision


def note(
    session: Session, pr: PullRequestRow, comment_id: int, author: str, body: str, at: datetime
) -> NoteRow:
    row = _note_of(session, comment_id)
    if row is None:
        row = NoteRow(
            pull_request_id=_id(pr),
            comment_id=comment_id,
            author_login=author,
            body=body,
            created_at=at,
            updated_at=at,
        )
    row.body, row.updated_at, row.deleted_at = body, at, None
    session.add(row)
    return row


def delete_note(session: Session, comment_id: int, at: datetime) -> bool:
    row = _note_of(session, comment_id)
    if row is None or row.deleted_at is not None:
        return False
    row.deleted_at = at
    session.add(row)
    return True


def _note_of(session: Session, comment_id: int) -> NoteRow | None:
    return session.exec(select(NoteRow).where(NoteRow.comment_id == comment_id)).one_or_none()


def outcome(
    session: Session, pr: PullRequestRow, kind: str, sha: str | None, actor: str, at: datetime
) -> None:
    session.add(OutcomeRow(pull_request_id=_id(pr), kind=kind, sha=sha, actor_login=actor, at=at))
    if kind == "merged":
        pr.state, pr.merged_at, pr.merged_sha, pr.closed_at = "merged", at, sha, at
    elif kind == "closed":
        pr.state, pr.closed_at = "closed", at
    elif kind == "reopened":
        pr.state, pr.closed_at = "open", None
    session.add(pr)
