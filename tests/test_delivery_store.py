"""The delivery store on both databases: stored once, read back as the ORM sees it."""

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from shadowbot.intake import Delivery, DeliveryStore
from shadowbot.storage import DeliveryRow, create_db_engine, migrate


@pytest.fixture
def engine(database_url):
    engine = create_db_engine(database_url)
    migrate(engine)
    yield engine
    engine.dispose()


async def test_concurrent_deliveries_are_stored_once_each(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        deliveries = [
            Delivery(f"d-{i}", "pull_request", "opened", f'{{"n": {i}}}') for i in range(40)
        ]
        first = await asyncio.gather(*(store.add(d) for d in deliveries))
        again = await asyncio.gather(*(store.add(d) for d in deliveries[:5]))
    finally:
        await store.close()
    assert all(first) and not any(again)
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).all()
    assert [row.delivery_id for row in rows] == [d.delivery_id for d in deliveries]
    assert rows[7].payload == '{"n": 7}' and rows[7].action == "opened"
    received = rows[0].received_at
    assert received.tzinfo is not None
    assert abs(received - datetime.now(UTC)) < timedelta(minutes=1)
