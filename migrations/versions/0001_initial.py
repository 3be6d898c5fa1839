"""The initial schema: rules, repositories, pull requests, evidence and the ledger.

Written by hand, and frozen: it does not import the models, so a later change to them
cannot rewrite history that databases have already applied.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), sa.ForeignKey(f"{target}.id"), nullable=nullable)


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)


def upgrade() -> None:
    op.create_table(
        "rule",
        _id(),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source_hash", sa.String(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        _at("first_seen_at"),
        sa.UniqueConstraint("name", "version", name="uq_rule_name_version"),
    )
    op.create_table(
        "repository",
        _id(),
        sa.Column("full_name", sa.String(), nullable=False),
        sa.Column("installation_id", sa.BigInteger(), nullable=True),
        sa.Column("posting_mode", sa.String(), server_default="combined", nullable=False),
        _at("created_at"),
        sa.UniqueConstraint("full_name", name="uq_repository_full_name"),
        _one_of("posting_mode", ("combined", "per-rule", "silent"), "ck_repository_posting_mode"),
    )
    op.create_index("ix_repository_installation_id", "repository", ["installation_id"])
    op.create_table(
        "pull_request",
        _id(),
        _fk("repository_id", "repository"),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("author_login", sa.String(), nullable=False),
        sa.Column("head_sha", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("closed_at", nullable=True),
        _at("merged_at", nullable=True),
        sa.Column("merged_sha", sa.String(), nullable=True),
        sa.UniqueConstraint("repository_id", "number", name="uq_pull_request_repository_number"),
    )
    op.create_index("ix_pull_request_head_sha", "pull_request", ["head_sha"])
    op.create_table(
        "verdict",
        _id(),
        _fk("rule_id", "rule"),
        _fk("pull_request_id", "pull_request"),
        sa.Column("head_sha", sa.String(), nullable=False),
        sa.Column("decision", sa.String(), nullable=False),
        sa.Column("checklist", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        _at("evaluated_at"),
        sa.UniqueConstraint(
            "rule_id", "pull_request_id", "head_sha", name="uq_verdict_rule_pull_request_head"
        ),
        _one_of("decision", ("merge", "hold", "skip", "error"), "ck_verdict_decision"),
    )
    op.create_index("ix_verdict_pull_request_id", "verdict", ["pull_request_id"])
    op.create_table(
        "revision",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("head_sha", sa.String(), nullable=False),
        _at("shown_at"),
        _at("hidden_at", nullable=True),
        sa.Column("comment_id", sa.BigInteger(), nullable=True),
        sa.Column("summary", sa.JSON(), nullable=False),
    )
    op.create_index("ix_revision_pull_request_shown", "revision", ["pull_request_id", "shown_at"])
    op.create_index("ix_revision_comment_id", "revision", ["comment_id"])
    op.create_table(
        "delivery",
        _id(),
        sa.Column("delivery_id", sa.String(), nullable=False),
        sa.Column("event", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        _at("received_at"),
        _at("processed_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.UniqueConstraint("delivery_id", name="uq_delivery_delivery_id"),
    )
    op.create_index("ix_delivery_processed_at", "delivery", ["processed_at"])
    op.create_table(
        "reaction",
        _id(),
        _fk("revision_id", "revision"),
        sa.Column("github_id", sa.BigInteger(), nullable=False),
        sa.Column("user_login", sa.String(), nullable=False),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("permission", sa.String(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("removed_at", nullable=True),
        sa.UniqueConstraint("github_id", name="uq_reaction_github_id"),
    )
    op.create_index("ix_reaction_revision_id", "reaction", ["revision_id"])
    op.create_table(
        "outcome",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("sha", sa.String(), nullable=True),
        sa.Column("actor_login", sa.String(), nullable=True),
        _at("at"),
        _one_of("kind", ("merged", "closed", "reopened", "reverted"), "ck_outcome_kind"),
    )
    op.create_index("ix_outcome_pull_request_at", "outcome", ["pull_request_id", "at"])
    op.create_table(
        "note",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("author_login", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("deleted_at", nullable=True),
        sa.UniqueConstraint("comment_id", name="uq_note_comment_id"),
    )
    op.create_index("ix_note_pull_request_id", "note", ["pull_request_id"])
    op.create_table(
        "ledger_entry",
        _id(),
        _fk("rule_id", "rule"),
        _fk("pull_request_id", "pull_request"),
        sa.Column("result", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        _at("settled_at"),
        sa.UniqueConstraint("rule_id", "pull_request_id", name="uq_ledger_entry_rule_pull_request"),
        _one_of(
            "result", ("win", "loss", "neutral", "missed", "pending"), "ck_ledger_entry_result"
        ),
    )
    op.create_index("ix_ledger_entry_pull_request_id", "ledger_entry", ["pull_request_id"])
    op.create_table(
        "audit_event",
        _id(),
        _at("at"),
        sa.Column("actor", sa.String(), nullable=False),
        _fk("rule_id", "rule", nullable=True),
        sa.Column("action", sa.String(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
    )
    op.create_index("ix_audit_event_at", "audit_event", ["at"])
    op.create_index("ix_audit_event_rule_at", "audit_event", ["rule_id", "at"])


def downgrade() -> None:
    for table in (
        "audit_event",
        "ledger_entry",
        "note",
        "outcome",
        "reaction",
        "delivery",
        "revision",
        "verdict",
        "pull_request",
        "repository",
        "rule",
    ):
        op.drop_table(table)
