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

from shadowbot.storage.bodies import decompress_body

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
    #: As GitHub says in every webhook (``repository.private``); None until one is seen, and
    #: then treated as private: a repository's details are shown only once known public.
    private: bool | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class PullRequestRow(SQLModel, table=True):
    """A pull request as last seen: a cache of GitHub's state, not evidence (outcomes are)."""

    __tablename__ = "pull_request"
    __table_args__ = (
        sa.UniqueConstraint("repository_id", "number", name="uq_pull_request_repository_number"),
    )

    id: int | None = Field(default=None, primary_key=True)
    repository_id: int = Field(foreign_key="repository.id")
    number: int
    author_login: str
    #: ``User`` or ``Bot``: results are broken down by author kind (DESIGN.md).
    author_type: str = Field(default="User", sa_column_kwargs={"server_default": "User"})
    # Check-run and status events name a commit, not a pull request.
    head_sha: str = Field(index=True)
    state: str
    title: str = Field(sa_type=sa.Text)
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    merged_sha: str | None = None
    #: When evidence about this PR was last recorded (the bot's clock): settlement looks
    #: at PRs with news, and ``ledger verify`` tells a result not settled yet from a
    #: tampered one.
    evidence_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class VerdictRow(SQLModel, table=True):
    """One rule version's verdict on one head of a pull request, one row per evaluation."""

    __tablename__ = "verdict"
    __table_args__ = (
        sa.Index("ix_verdict_pull_request_head", "pull_request_id", "head_sha"),
        # The claims and errors of every rule read from the index alone, never the table:
        # ``ledger show`` and the leaderboard count them (docs/performance.md).
        sa.Index("ix_verdict_decision_rule_pull_request", "decision", "rule_id", "pull_request_id"),
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


class VerdictCommentRow(SQLModel, table=True):
    """A comment the bot wrote to show verdicts: the combined one (``rule_id`` None) or one
    rule's (``per-rule`` mode). Reactions are read from these, and only these."""

    __tablename__ = "verdict_comment"
    __table_args__ = (sa.UniqueConstraint("comment_id", name="uq_verdict_comment_comment_id"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    comment_id: int = Field(sa_type=sa.BigInteger)
    #: GitHub's GraphQL id of the comment, for reading reactions in batches.
    node_id: str | None = None
    rule_id: int | None = Field(default=None, foreign_key="rule.id")
    created_at: datetime = Field(sa_type=UTCDateTime)
    #: When the bot found the comment gone (a human deleted it).
    deleted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The harvest's cursor, not evidence: the last sweep, and the REST ETag it got.
    swept_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    etag: str | None = None


class RevisionRow(SQLModel, table=True):
    """What the bot showed on a pull request from ``shown_at`` (GitHub's time of the write
    that showed it) until the next revision on the same comment: append-only."""

    __tablename__ = "revision"
    __table_args__ = (sa.Index("ix_revision_pull_request_shown", "pull_request_id", "shown_at"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id")
    head_sha: str
    shown_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: The comment it was shown in; None in ``silent`` mode (shown on the pages only).
    comment_id: int | None = Field(default=None, sa_type=sa.BigInteger, index=True)
    #: ``{"claims": [rule keys], "decisions": {rule key: decision}}``
    summary: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class DeliveryRow(SQLModel, table=True):
    """A webhook as received, stored before it is acknowledged."""

    __tablename__ = "delivery"
    __table_args__ = (
        sa.UniqueConstraint("delivery_id", name="uq_delivery_delivery_id"),
        # A claim's "no older delivery of its subject unprocessed" (storage/claims.py).
        sa.Index(
            "ix_delivery_subject_unprocessed",
            "subject",
            "id",
            sqlite_where=sa.text("processed_at IS NULL"),
            postgresql_where=sa.text("processed_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: The ``X-GitHub-Delivery`` header: the same delivery redelivered is the same row.
    delivery_id: str
    event: str
    action: str | None = None
    #: The body exactly as received, so the evidence is the bytes GitHub signed, as a zstd
    #: frame (:mod:`shadowbot.storage.bodies`); read it with :meth:`body`.
    body_zstd: bytes = Field(sa_type=sa.LargeBinary)
    received_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    processed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    #: Why it failed for good (or was given up); None once processed as it should be.
    error: str | None = Field(default=None, sa_type=sa.Text)
    #: What it is about, e.g. ``o/r#7`` or ``o/r@<sha>`` (None: nothing in particular):
    #: one subject's deliveries are processed one at a time, oldest first.
    subject: str | None = None
    #: How often it was claimed for processing.
    attempts: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: Not tried again before this (after GitHub failed or was rate limiting).
    not_before: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The process processing it, until when (a lease: taken over once it runs out).
    claimed_by: str | None = None
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: The newest failure it will be tried again after.
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    #: Given up after GitHub failed for too long; its pull request is then evaluated
    #: again by the reconciler, at ``reconciled_at``.
    given_up_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    reconciled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    def body(self) -> bytes:
        """The body exactly as GitHub sent it (and signed it); :class:`ValueError` if what
        is stored is not a body :func:`~shadowbot.storage.bodies.compress_body` made."""
        return decompress_body(self.body_zstd)


class ReactionRow(SQLModel, table=True):
    """A reaction seen on one of the bot's verdict comments. Kept as first seen; when it is
    seen gone, ``gone_at`` is set once. Who counts is decided at settlement."""

    __tablename__ = "reaction"
    __table_args__ = (sa.UniqueConstraint("github_id", name="uq_reaction_github_id"),)

    id: int | None = Field(default=None, primary_key=True)
    #: The GitHub id of the verdict comment it is on.
    comment_id: int = Field(sa_type=sa.BigInteger, index=True)
    github_id: int = Field(sa_type=sa.BigInteger)
    user_login: str
    #: ``User`` or ``Bot``: a bot never counts as a merger.
    user_type: str = "User"
    content: str
    #: The user's permission on the repository when the reaction was first seen.
    permission: str
    created_at: datetime = Field(sa_type=UTCDateTime)
    first_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    gone_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OutcomeRow(SQLModel, table=True):
    """A merge, close, reopen or revert, at GitHub's time; each recorded once."""

    __tablename__ = "outcome"
    __table_args__ = (
        sa.UniqueConstraint(
            "pull_request_id", "kind", "at", name="uq_outcome_pull_request_kind_at"
        ),
        _one_of("kind", OUTCOME_KINDS, "ck_outcome_kind"),
    )

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id")
    kind: str
    sha: str | None = None
    actor_login: str | None = None
    at: datetime = Field(sa_type=UTCDateTime)
    #: For a revert, the reverting PR (``owner/repo#N``).
    detail: str = Field(default="", sa_type=sa.Text)
    recorded_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class NoteVersionRow(SQLModel, table=True):
    """One version of an ``@shadowbot note …`` comment: each edit and the deletion add a
    row. The note as it stands is the newest version of its comment."""

    __tablename__ = "note_version"
    __table_args__ = (sa.Index("ix_note_version_comment_at", "comment_id", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    comment_id: int = Field(sa_type=sa.BigInteger)
    author_login: str
    #: The rule the note names (``note RULE: text``), or None for a note on the PR only.
    rule_name: str | None = Field(default=None, index=True)
    body: str = Field(sa_type=sa.Text)
    deleted: bool = False
    #: GitHub's time of the comment's version (its ``updated_at``).
    at: datetime = Field(sa_type=UTCDateTime)


class LedgerEntryRow(SQLModel, table=True):
    """A rule version's result on one pull request, appended when it changes: the newest
    entry of a (rule, PR) is its result; an older one is never edited (a revert after a
    win is a new ``loss`` entry that ``corrects`` the win)."""

    __tablename__ = "ledger_entry"
    __table_args__ = (
        sa.Index("ix_ledger_entry_rule_pull_request", "rule_id", "pull_request_id"),
        _one_of("result", LEDGER_RESULTS, "ck_ledger_entry_result"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="rule.id")
    pull_request_id: int = Field(foreign_key="pull_request.id", index=True)
    result: str
    reason: str = Field(default="", sa_type=sa.Text)
    #: When the deciding evidence happened (GitHub's clock).
    at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revision_id: int | None = Field(default=None, foreign_key="revision.id")
    reaction_id: int | None = Field(default=None, foreign_key="reaction.id")
    outcome_id: int | None = Field(default=None, foreign_key="outcome.id")
    #: The entry this one replaces as the result of its (rule, PR).
    corrects_id: int | None = Field(default=None, foreign_key="ledger_entry.id")
    #: Who did what when: the links that make a win or a loss checkable.
    evidence: list[dict[str, Any]] = Field(default_factory=list, sa_type=sa.JSON)
    #: Seconds a win would have saved (the PR's merge minus the rule's first claim on
    #: the merged head).
    saved_seconds: float | None = None
    settled_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SettlementRunRow(SQLModel, table=True):
    """A run of the settlement job: the time and the policy it settled with, which
    ``ledger verify`` settles with again (whatever the settings of the shell it runs in)."""

    __tablename__ = "settlement_run"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    entries: int = 0
    #: ``{"grace_seconds", "revert_seconds", "closed_unmerged", "mergers"}``
    policy: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)


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


class SnapshotSeenRow(SQLModel, table=True):
    """What a pull request looked like when the bot evaluated it: its facts as a history
    record gives them (head, files with their owners, reviews, checks, labels, draft,
    title), stored when they changed. ``shadowbot export`` writes the history the live bot
    saw from these rows and the outcomes (:mod:`shadowbot.offline.export`)."""

    __tablename__ = "snapshot_seen"
    __table_args__ = (sa.Index("ix_snapshot_seen_pull_request_id", "pull_request_id", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    pull_request_id: int = Field(foreign_key="pull_request.id")
    head_sha: str
    #: When the bot took it (its clock: GitHub gives no time for a snapshot as a whole).
    taken_at: datetime = Field(sa_type=UTCDateTime)
    #: SHA-256 of the facts' JSON: the same facts twice in a row are stored once.
    digest: str
    #: The facts' JSON compressed with zstd (a PR's files repeat their folders).
    facts_zstd: bytes = Field(sa_type=sa.LargeBinary)
