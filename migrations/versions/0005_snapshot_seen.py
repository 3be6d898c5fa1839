"""What the live bot saw: ``snapshot_seen`` keeps each pull request's facts (head, files
and their owners, reviews, checks, labels, draft, title) whenever they changed between two
evaluations, so that ``shadowbot export`` can write them as a history and a new rule
version be backtested on exactly what the live one saw.

Written by hand, and frozen: it does not import the models.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "snapshot_seen",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("pull_request_id", sa.Integer(), nullable=False),
        sa.Column("head_sha", sa.String(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("digest", sa.String(), nullable=False),
        sa.Column("facts_zstd", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["pull_request_id"], ["pull_request.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_snapshot_seen_pull_request_id", "snapshot_seen", ["pull_request_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_snapshot_seen_pull_request_id", table_name="snapshot_seen")
    op.drop_table("snapshot_seen")
