"""Deliveries claimed with a lease, their retries kept in the database.

Several ``shadowbot serve`` processes may share one PostgreSQL database: each delivery is
claimed by one of them for a while (``claimed_by``, ``claimed_until``), and a claim that
runs out (its process died) is taken over. What happened to a delivery that failed is
kept with it, not in a process's memory: how often it was tried (``attempts``), when it
may be tried again (``not_before``), the last failure (``last_error``), and, when it was
given up, when (``given_up_at``) and when the reconciler took its pull request up again
(``reconciled_at``). ``subject`` names what a delivery is about (a pull request, a head
commit): one subject's deliveries are processed one at a time, in order.

Written by hand, and frozen: it does not import the models.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_STAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column("subject", sa.String(), nullable=True))
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("not_before", _STAMP, nullable=True))
        batch.add_column(sa.Column("claimed_by", sa.String(), nullable=True))
        batch.add_column(sa.Column("claimed_until", _STAMP, nullable=True))
        batch.add_column(sa.Column("last_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("given_up_at", _STAMP, nullable=True))
        batch.add_column(sa.Column("reconciled_at", _STAMP, nullable=True))
    # Only the unprocessed ones: a claim asks, for each candidate, whether an older
    # delivery of its subject is still unprocessed, and must not step over the processed.
    unprocessed = sa.text("processed_at IS NULL")
    op.create_index(
        "ix_delivery_subject_unprocessed",
        "delivery",
        ["subject", "id"],
        sqlite_where=unprocessed,
        postgresql_where=unprocessed,
    )
    op.create_index("ix_delivery_given_up_at", "delivery", ["given_up_at"])


def downgrade() -> None:
    op.drop_index("ix_delivery_given_up_at", table_name="delivery")
    op.drop_index("ix_delivery_subject_unprocessed", table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        for column in (
            "reconciled_at",
            "given_up_at",
            "last_error",
            "claimed_until",
            "claimed_by",
            "not_before",
            "attempts",
            "subject",
        ):
            batch.drop_column(column)
