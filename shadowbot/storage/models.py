"""The database tables: raw evidence, what the bot showed, and the ledger derived from them.

Classes end in ``Row`` so they never shadow the domain types (``Rule``, ``Verdict``) that
the same modules import. Every timestamp is timezone-aware UTC on every backend.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlmodel import Field, SQLModel

DECISIONS = ("merge", "hold", "skip", "error")
LEDGER_RESULTS = ("win", "loss", "neutral", "missed", "pending")
OUTCOME_KINDS = ("merged", "closed", "reopened", "reverted")
POSTING_MODES = ("combined", "per-rule", "silent")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime, written and read back in UTC.

    SQLite has no zone-aware type: SQLAlchemy writes the wall-clock digits and drops the
    offset, so a value is converted to UTC before it is written and marked UTC when read.
    A naive datetime is refused: its zone would be a guess.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)


class RuleRow(SQLModel, table=True):
    """A rule version as first seen; a changed source under the same version is refused."""

    __tablename__ = "rule"
    __table_args__ = (sa.UniqueConstraint("name", "version", name="uq_rule_name_version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str
    version: int
    source_hash: str
    description: str = Field(sa_type=sa.Text)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RepositoryRow(SQLModel, table=True):
    __tablename__ = "repository"
    __table_args__ = (
        sa.UniqueConstraint("full_name", name="uq_repository_full_name"),
        _one_of("posting_mode", POSTING_MODES, "ck_repository_posting_mode"),
    )

    id: int | None = Field(default=None, primary_key=True)
    full_name: str
    # GitHub ids outgrow 32 bits.
    installation_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    posting_mode: str = Field(default="combined", sa_column_kwargs={"server_default": "combined"})
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PullRequestRow(SQLModel, table=True):
    __tablename__ = "pull_request"
    __table_args__ = (
        sa.UniqueConstraint("repository_id", "number", name="uq_pull_request_repository_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repository_id: int = Field(foreign_key="repository.id")
    number: int
    author_login: str
    # Check-run and status events name a commit, not a pull request.
    head_sha: str = Field(index=True)
    state: str
    title: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_sha: str | None = None


class VerdictRow(SQLModel, table=True):
    """One rule version's verdict on one head of a pull request."""

    __tablename__ = "verdict"
    __table_args__ = (
        sa.UniqueConstraint(
            "rule_id", "pull_request_id", "head_sha", name="uq_verdict_rule_pull_request_head"
        ),
        _one_of("decision", DECISIONS, "ck_verdict_decision"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="rule.id")
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    head_sha: str
    decision: str
    #: ``[{"check": ..., "passed": ..., "detail": ...}, ...]``
    checklist: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    reason: str = Field(default="", sa_type=sa.Text)
    evaluated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class RevisionRow(SQLModel, table=True):
    """What the bot showed on a pull request from ``shown_at`` until ``hidden_at``."""

    __tablename__ = "revision"
    __table_args__ = (sa.Index("ix_revision_pull_request_shown", "pull_request_id", "shown_at"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id")
    head_sha: str
    shown_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    hidden_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # A reaction event names the comment it is on.
    comment_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


class DeliveryRow(SQLModel, table=True):
    """A webhook as received, stored before it is acknowledged."""

    __tablename__ = "delivery"
    __table_args__ = (sa.UniqueConstraint("delivery_id", name="uq_delivery_delivery_id"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The ``X-GitHub-Delivery`` header: the same delivery redelivered is the same row.
    delivery_id: str
    event: str
    action: str | None = None
    #: The body exactly as received, so the evidence is the bytes GitHub signed.
    payload: str = Field(sa_type=sa.Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    error: str | None = Field(default=None, sa_type=sa.Text)


class ReactionRow(SQLModel, table=True):
    """A reaction seen on the revision that was on screen when it was given."""

    __tablename__ = "reaction"
    __table_args__ = (sa.UniqueConstraint("github_id", name="uq_reaction_github_id"),)

    id: int | None = Field(default=None, primary_key=True)
    revision_id: int = Field(foreign_key="revision.id", index=True)
    github_id: int = Field(sa_type=sa.BigInteger)
    user_login: str
    content: str
    #: The user's permission on the repository when the reaction was seen.
    permission: str
    counted: bool
    created_at: datetime = Field(sa_type=UTCDateTime)
    removed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutcomeRow(SQLModel, table=True):
    __tablename__ = "outcome"
    __table_args__ = (
        sa.Index("ix_outcome_pull_request_at", "pull_request_id", "at"),
        _one_of("kind", OUTCOME_KINDS, "ck_outcome_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id")
    kind: str
    sha: str | None = None
    actor_login: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)


class NoteRow(SQLModel, table=True):
    """An ``@shadowbot note …`` comment; edits and deletions are kept as they happen."""

    __tablename__ = "note"
    __table_args__ = (sa.UniqueConstraint("comment_id", name="uq_note_comment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    comment_id: int = Field(sa_type=sa.BigInteger)
    author_login: str
    body: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class LedgerEntryRow(SQLModel, table=True):
    """The settlement of one rule version on one pull request: a function of the evidence."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        sa.UniqueConstraint("rule_id", "pull_request_id", name="uq_ledger_entry_rule_pull_request"),
        _one_of("result", LEDGER_RESULTS, "ck_ledger_entry_result"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="rule.id")
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    result: str
    reason: str = Field(default="", sa_type=sa.Text)
    #: Who did what when: the links that make a win or a loss checkable.
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    settled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AuditEventRow(SQLModel, table=True):
    """A change of a rule's state, automatic or a manual override with its reason."""

    __tablename__ = "audit_event"
    __table_args__ = (sa.Index("ix_audit_event_rule_at", "rule_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    actor: str
    rule_id: int | None = Field(default=None, foreign_key="rule.id")
    action: str
    reason: str = Field(default="", sa_type=sa.Text)
    detail: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
