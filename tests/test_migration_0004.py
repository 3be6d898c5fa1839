"""Migration 0004 (compressed delivery bodies): the text bodies of a 0003 database become
zstd frames of the very same bytes on the way up, and text again on the way down.

Rows are written with plain SQL, as in test_migration_0002: these tests are about two
fixed revisions, not about the models.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import zstandard
from alembic import command
from test_migration_0002 import columns, differences_from_the_models, migrate, rows, schema

from shadowbot.storage import DeliveryRow, UTCDateTime, create_db_engine
from shadowbot.storage.bodies import compress_body

#: What GitHub may send, kept as sent: spacing, escapes, non-ASCII text, a large body.
BODIES = [
    '{"action": "closed", "number": 7}',
    '{ "action":"edited",\r\n\t"title": "caf\u00e9 \\u2713 \u2713 \U0001f680" }\n',
    '{"action": "opened", "files": ['
    + ", ".join(
        f'{{"filename": "src/m{i}.py", "url": "https://api.github.com/f/{i}"}}' for i in range(3000)
    )
    + "]}",
    "{}",
]
#: Enough rows to take more than one of the migration's chunks of 200.
MANY = 450


@pytest.fixture
def at_0003(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    migrate(engine, command.upgrade, "0003")
    yield engine
    engine.dispose()


def fill_0003(engine: sa.Engine) -> dict[str, str]:
    """Deliveries as 0003 stores them (text bodies); each delivery id's body."""
    bodies = {f"d-{i}": BODIES[i % len(BODIES)] for i in range(MANY)}
    delivery = sa.table(
        "delivery",
        sa.column("delivery_id", sa.String()),
        sa.column("event", sa.String()),
        sa.column("payload", sa.Text()),
        sa.column("received_at", UTCDateTime()),
        sa.column("subject", sa.String()),
    )
    with engine.begin() as connection:
        connection.execute(
            sa.insert(delivery),
            [
                {
                    "delivery_id": delivery_id,
                    "event": "pull_request",
                    "payload": body,
                    "received_at": datetime(2026, 12, 2, 4, 0, tzinfo=UTC),
                    "subject": "o/r#7",
                }
                for delivery_id, body in bodies.items()
            ],
        )
    return bodies


def stored_bodies(engine: sa.Engine) -> dict[str, bytes]:
    found = rows(engine, "SELECT delivery_id, body_zstd FROM delivery", body_zstd=sa.LargeBinary())
    return {delivery_id: zstandard.ZstdDecompressor().decompress(z) for delivery_id, z in found}


def text_bodies(engine: sa.Engine) -> dict[str, str]:
    return dict(rows(engine, "SELECT delivery_id, payload FROM delivery"))


def partial_index(engine: sa.Engine) -> str:
    """How the database defines the index of the unprocessed deliveries."""
    if engine.dialect.name == "sqlite":
        sql = "SELECT sql FROM sqlite_master WHERE name = 'ix_delivery_subject_unprocessed'"
    else:
        sql = (
            "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_delivery_subject_unprocessed'"
            " AND schemaname = current_schema()"  # not another test's schema
        )
    (definition,) = (row[0] for row in rows(engine, sql))
    return str(definition)


def test_upgrade_compresses_each_text_body_to_exactly_its_bytes(at_0003: sa.Engine) -> None:
    bodies = fill_0003(at_0003)
    migrate(at_0003, command.upgrade, "0004")
    assert stored_bodies(at_0003) == {key: body.encode() for key, body in bodies.items()}
    assert "payload" not in columns(at_0003, "delivery")
    stored = rows(at_0003, "SELECT body_zstd FROM delivery WHERE delivery_id = 'd-2'")
    assert len(stored[0][0]) < len(BODIES[2]) / 5  # compressed, not merely re-typed
    assert "processed_at IS NULL" in partial_index(at_0003).replace('"', "")
    migrate(at_0003, command.upgrade, "head")
    assert differences_from_the_models(at_0003) == []


def test_a_body_stored_after_the_upgrade_reads_back_through_the_model(
    at_0003: sa.Engine,
) -> None:
    migrate(at_0003, command.upgrade, "head")
    body = BODIES[1].encode()
    with at_0003.begin() as connection:
        connection.execute(
            sa.insert(DeliveryRow.__table__).values(  # type: ignore[attr-defined]
                delivery_id="d-new", event="pull_request", body_zstd=compress_body(body)
            )
        )
    (stored,) = rows(at_0003, "SELECT body_zstd FROM delivery", body_zstd=sa.LargeBinary())
    row = DeliveryRow(delivery_id="d-new", event="pull_request", body_zstd=stored[0])
    assert row.body() == body


def test_downgrade_restores_the_text_bodies(at_0003: sa.Engine) -> None:
    schema_0003 = schema(at_0003)
    bodies = fill_0003(at_0003)
    migrate(at_0003, command.upgrade, "0004")
    migrate(at_0003, command.downgrade, "0003")
    assert text_bodies(at_0003) == bodies
    assert schema(at_0003) == schema_0003
    assert "processed_at IS NULL" in partial_index(at_0003).replace('"', "")
    migrate(at_0003, command.upgrade, "0004")  # and up again, unchanged
    assert stored_bodies(at_0003) == {key: body.encode() for key, body in bodies.items()}


def test_an_empty_database_goes_down_to_0003_and_back(at_0003: sa.Engine) -> None:
    schema_0003 = schema(at_0003)
    migrate(at_0003, command.upgrade, "head")
    migrate(at_0003, command.downgrade, "0003")
    assert schema(at_0003) == schema_0003
    migrate(at_0003, command.upgrade, "head")
    assert differences_from_the_models(at_0003) == []
