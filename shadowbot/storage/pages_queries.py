"""What the public pages read: the data's version, and indexed slices of the evidence.

Nothing here scans a table: verdicts are read for one pull request at a time
(``ix_verdict_pull_request_head``), ledger entries for one rule version or one pull
request. The records themselves come from :mod:`shadowbot.offline.ledger_view`, as
``shadowbot ledger show`` reads them, and the reads across the whole ledger are in
:mod:`shadowbot.storage.pages_records`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, col, func, select

from shadowbot.storage.models import (
    AuditEventRow,
    LedgerEntryRow,
    NoteVersionRow,
    OutcomeRow,
    PullRequestRow,
    ReactionRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    VerdictCommentRow,
    VerdictRow,
)

#: Tables whose newest row changes the records (the leaderboard): the ledger, the audit
#: log, the rule versions and repositories, and the revisions: a claim (``pending`` until
#: settled) or an ``error`` is counted once a revision shows it, not at each evaluation
#: (which would read the records again at every webhook).
_RECORDS = (LedgerEntryRow, AuditEventRow, RuleRow, RepositoryRow, RevisionRow)
#: And the rest of the evidence a pull request's page shows.
_EVIDENCE = (VerdictRow, ReactionRow, OutcomeRow)


def reader(engine: Engine) -> Engine:
    """An engine for reading only. On a SQLite file it begins *deferred* transactions:
    the bot's engine begins ``IMMEDIATE`` ones, which take the write lock, and a page
    read must not make a webhook wait. Other databases read through ``engine`` itself."""
    database = engine.url.database or ""
    if engine.dialect.name != "sqlite" or database in ("", ":memory:") or "memory" in database:
        return engine
    read = sa.create_engine(engine.url, connect_args={"check_same_thread": False})
    sa.event.listen(read, "connect", _read_only)
    sa.event.listen(read, "begin", _begin_deferred)
    return read


def _read_only(dbapi_connection: Any, connection_record: Any) -> None:
    # SQLAlchemy begins the transactions (_begin_deferred), not the sqlite3 module.
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#sqlite-transactions
    dbapi_connection.isolation_level = None
    dbapi_connection.execute("PRAGMA query_only = ON")


def _begin_deferred(connection: Connection) -> None:
    # In WAL mode a deferred transaction reads one snapshot and never blocks the writer.
    connection.exec_driver_sql("BEGIN")


@dataclass(frozen=True, slots=True)
class DataVersion:
    """What the pages were computed from, as the newest id of each table they read.

    ``records`` changes when a rule's record may change; ``pages`` also when a note is
    written; ``evidence`` also with every verdict, reaction, outcome and pull request
    update (``evidence_at`` moves when a row is updated in place: a PR edited, a
    reaction seen gone). Each evaluation changes ``evidence``, so only the pages of one
    pull request are keyed by it."""

    records: tuple[Any, ...]
    pages: tuple[Any, ...]
    evidence: tuple[Any, ...]


def data_version(session: Session) -> DataVersion:
    """One query over primary keys and an indexed time: no table is scanned."""
    newest = [
        sa.select(func.max(col(row.id))).scalar_subquery()
        for row in (*_RECORDS, NoteVersionRow, *_EVIDENCE)
    ]
    evidence = sa.select(func.max(col(PullRequestRow.evidence_at))).scalar_subquery()
    row = tuple(session.connection().execute(sa.select(*newest, evidence)).one())
    records = row[: len(_RECORDS)]
    pages = row[: len(_RECORDS) + 1]
    return DataVersion(records, pages, row[:-1] + (str(row[-1]),))


def repositories(session: Session) -> list[RepositoryRow]:
    return list(session.exec(select(RepositoryRow).order_by(col(RepositoryRow.full_name))))


def rule_versions(session: Session, name: str) -> list[RuleRow]:
    """Every recorded version of the rule ``name``, oldest first."""
    query = select(RuleRow).where(RuleRow.name == name).order_by(col(RuleRow.version))
    return list(session.exec(query))


def pull_request(session: Session, repository_id: int, number: int) -> PullRequestRow | None:
    query = select(PullRequestRow).where(
        PullRequestRow.repository_id == repository_id, PullRequestRow.number == number
    )
    return session.exec(query).one_or_none()


def verdicts_on(session: Session, pr_id: int) -> list[VerdictRow]:
    """Every verdict on one pull request, in the order evaluated."""
    query = select(VerdictRow).where(VerdictRow.pull_request_id == pr_id)
    return list(session.exec(query.order_by(col(VerdictRow.id))))


def revisions_on(session: Session, pr_id: int) -> list[RevisionRow]:
    query = select(RevisionRow).where(RevisionRow.pull_request_id == pr_id)
    return list(session.exec(query.order_by(col(RevisionRow.shown_at), col(RevisionRow.id))))


def verdict_comments_on(session: Session, pr_id: int) -> list[VerdictCommentRow]:
    query = select(VerdictCommentRow).where(VerdictCommentRow.pull_request_id == pr_id)
    return list(session.exec(query.order_by(col(VerdictCommentRow.created_at))))


def reactions_on(session: Session, pr_id: int) -> list[ReactionRow]:
    """The reactions seen on the pull request's verdict comments, in GitHub's order."""
    comments = select(VerdictCommentRow.comment_id).where(
        VerdictCommentRow.pull_request_id == pr_id
    )
    query = select(ReactionRow).where(col(ReactionRow.comment_id).in_(comments))
    return list(session.exec(query.order_by(col(ReactionRow.created_at), col(ReactionRow.id))))


def outcomes_on(session: Session, pr_id: int) -> list[OutcomeRow]:
    query = select(OutcomeRow).where(OutcomeRow.pull_request_id == pr_id)
    return list(session.exec(query.order_by(col(OutcomeRow.at), col(OutcomeRow.id))))


def notes_on(session: Session, pr_id: int) -> list[NoteVersionRow]:
    """The notes on one pull request as they stand: the newest version of each comment,
    unless that version deleted it."""
    query = select(NoteVersionRow).where(NoteVersionRow.pull_request_id == pr_id)
    newest = {
        note.comment_id: note for note in session.exec(query.order_by(col(NoteVersionRow.id)))
    }
    return sorted(
        (note for note in newest.values() if not note.deleted),
        key=lambda note: (note.at, note.comment_id),
    )


def notes_about(session: Session, rule_name: str) -> list[tuple[NoteVersionRow, PullRequestRow]]:
    """The notes about a rule (every version of it) as they stand, as ``shadowbot report``
    lists them: a comment counts when its newest version still names the rule."""
    named = select(NoteVersionRow.comment_id).where(NoteVersionRow.rule_name == rule_name)
    query = (
        select(NoteVersionRow, PullRequestRow)
        .join(PullRequestRow, col(PullRequestRow.id) == col(NoteVersionRow.pull_request_id))
        .where(col(NoteVersionRow.comment_id).in_(named))
        .order_by(col(NoteVersionRow.id))
    )
    newest = {note.comment_id: (note, pr) for note, pr in session.exec(query)}
    standing = [
        (note, pr)
        for note, pr in newest.values()
        if not note.deleted and note.rule_name == rule_name
    ]
    return sorted(standing, key=lambda pair: (pair[0].at, pair[0].comment_id))


def checklist_of(session: Session, rule_id: int, pr_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The checklist of the rule's newest ``merge`` or ``hold`` verdict on these pull
    requests (its whole list of checks; a ``skip`` shows only the one that failed)."""
    if not pr_ids:
        return []
    query = (
        select(VerdictRow.checklist)
        .where(
            col(VerdictRow.pull_request_id).in_(pr_ids),
            VerdictRow.rule_id == rule_id,
            col(VerdictRow.decision).in_(("merge", "hold")),
        )
        .order_by(col(VerdictRow.id).desc())
        .limit(1)
    )
    found = session.exec(query).first()
    return list(found or [])


def entries_by_id(session: Session, ids: Collection[int]) -> dict[int, LedgerEntryRow]:
    """Ledger entries by id (those that later entries correct)."""
    if not ids:
        return {}
    rows = session.exec(select(LedgerEntryRow).where(col(LedgerEntryRow.id).in_(ids)))
    return {cast(int, row.id): row for row in rows}


def audit_page(session: Session, offset: int, limit: int) -> tuple[list[AuditEventRow], int]:
    """One page of the audit log, newest first, and how many events it has in all."""
    total = session.exec(select(func.count()).select_from(AuditEventRow)).one()
    query = (
        select(AuditEventRow)
        .order_by(col(AuditEventRow.at).desc(), col(AuditEventRow.id).desc())
        .offset(offset)
        .limit(limit)
    )
    return list(session.exec(query)), int(total)


def state_events(session: Session, limit: int) -> list[AuditEventRow]:
    """The newest changes of a rule's state, newest first."""
    query = (
        select(AuditEventRow)
        .where(AuditEventRow.action == "state")
        .order_by(col(AuditEventRow.at).desc(), col(AuditEventRow.id).desc())
        .limit(limit)
    )
    return list(session.exec(query))
