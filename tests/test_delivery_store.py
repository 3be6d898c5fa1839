"""The delivery store on both databases: stored once, read back as the ORM sees it."""

import asyncio
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, select

from shadowbot.storage import DeliveryRow, create_db_engine, migrate
from shadowbot.web.intake import Delivery, DeliveryStore


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


async def test_a_delivery_sent_twice_in_one_burst_is_stored_once(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        body = '{"action": "édité", "title": "ünïcode ✓"}'
        same = Delivery("d-twice", "pull_request", "edited", body)
        answers = await asyncio.gather(store.add(same), store.add(same))
    finally:
        await store.close()
    assert sorted(answers) == [False, True]  # stored once, so reported new once
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow)).all()
    assert [(row.delivery_id, row.payload) for row in rows] == [("d-twice", body)]


async def test_a_batch_that_cannot_be_stored_fails_alone(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        broken = Delivery("d-broken", None, None, "{}")  # type: ignore[arg-type]
        with pytest.raises(Exception, match="(?i)null"):
            await store.add(broken)
        assert await store.add(Delivery("d-next", "ping", None, "{}"))
    finally:
        await store.close()
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow)).all()
    assert [row.delivery_id for row in rows] == ["d-next"]


async def test_the_time_received_is_written_as_every_other_time(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        await store.add(Delivery("d-time", "ping", None, "{}"))
    finally:
        await store.close()
    with engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT received_at FROM delivery").scalar()
    if engine.dialect.name == "sqlite":  # text that sorts like the instants it names
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw), raw
    else:
        assert raw.tzinfo is not None
