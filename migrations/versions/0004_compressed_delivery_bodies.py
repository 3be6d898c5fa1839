"""Delivery bodies stored compressed: ``delivery.payload`` (text) becomes ``body_zstd``
(binary), each body a zstd frame that decompresses to exactly the bytes received.

A 20-100 KB body written as text made every commit of the intake write it twice (to the
WAL, then to the table) and wait for the disk; compressed it is about a tenth of that
(docs/performance.md, "Webhook intake"). The rows already stored are converted both ways:
up, each text body's UTF-8 (the bytes received: the intake accepted only UTF-8 JSON) is
compressed; down, each body is decompressed back to its text.

Written by hand, and frozen: it does not import the models, nor the code that compresses
new bodies (a zstd frame that records its size is all either side needs).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
import zstandard
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

#: Rows converted per statement: a few MB of bodies in memory at a time.
_CHUNK = 200
_UNPROCESSED = sa.text("processed_at IS NULL")


def upgrade() -> None:
    compressor = zstandard.ZstdCompressor(level=1)

    def compressed(text: str) -> bytes:
        return compressor.compress(text.encode())

    _replace("payload", sa.Text(), "body_zstd", sa.LargeBinary(), compressed)


def downgrade() -> None:
    decompressor = zstandard.ZstdDecompressor()

    def text(stored: bytes) -> str:
        return decompressor.decompress(stored).decode()

    _replace("body_zstd", sa.LargeBinary(), "payload", sa.Text(), text)


def _replace(
    old: str,
    old_type: sa.types.TypeEngine[Any],
    new: str,
    new_type: sa.types.TypeEngine[Any],
    convert: Callable[[Any], Any],
) -> None:
    """Column ``old`` becomes ``new``, every row's value converted by ``convert``."""
    with op.batch_alter_table("delivery") as batch:
        batch.add_column(sa.Column(new, new_type, nullable=True))
    _convert(old, old_type, new, new_type, convert)
    # On SQLite the table is copied to drop the column and to make the new one NOT NULL;
    # a partial index does not survive the copy, so it is made again afterwards.
    op.drop_index("ix_delivery_subject_unprocessed", table_name="delivery")
    with op.batch_alter_table("delivery") as batch:
        batch.drop_column(old)
        batch.alter_column(new, existing_type=new_type, nullable=False)
    op.create_index(
        "ix_delivery_subject_unprocessed",
        "delivery",
        ["subject", "id"],
        sqlite_where=_UNPROCESSED,
        postgresql_where=_UNPROCESSED,
    )


def _convert(
    old: str,
    old_type: sa.types.TypeEngine[Any],
    new: str,
    new_type: sa.types.TypeEngine[Any],
    convert: Callable[[Any], Any],
) -> None:
    bind = op.get_bind()
    delivery = sa.table(
        "delivery",
        sa.column("id", sa.Integer()),
        sa.column(old, old_type),
        sa.column(new, new_type),
    )
    write = (
        sa.update(delivery)
        .where(delivery.c.id == sa.bindparam("row_id"))
        .values({new: sa.bindparam("converted", type_=new_type)})
    )
    last = 0
    while True:
        chunk = bind.execute(
            sa.select(delivery.c.id, delivery.c[old])
            .where(delivery.c.id > last)
            .order_by(delivery.c.id)
            .limit(_CHUNK)
        ).all()
        if not chunk:
            return
        bind.execute(write, [{"row_id": id_, "converted": convert(value)} for id_, value in chunk])
        last = chunk[-1][0]
