"""The delivery store on both databases: stored once, compressed, read back as the ORM sees
it, each body decompressing to exactly the bytes received."""

import asyncio
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import zstandard
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
            Delivery(f"d-{i}", "pull_request", "opened", f'{{"n": {i}}}'.encode())
            for i in range(40)
        ]
        first = await asyncio.gather(*(store.add(d) for d in deliveries))
        again = await asyncio.gather(*(store.add(d) for d in deliveries[:5]))
    finally:
        await store.close()
    assert all(first) and not any(again)
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).all()
    assert [row.delivery_id for row in rows] == [d.delivery_id for d in deliveries]
    assert rows[7].body() == b'{"n": 7}' and rows[7].action == "opened"
    received = rows[0].received_at
    assert received.tzinfo is not None
    assert abs(received - datetime.now(UTC)) < timedelta(minutes=1)


async def test_a_delivery_sent_twice_in_one_burst_is_stored_once(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        body = '{"action": "édité", "title": "ünïcode ✓"}'.encode()
        same = Delivery("d-twice", "pull_request", "edited", body)
        answers = await asyncio.gather(store.add(same), store.add(same))
    finally:
        await store.close()
    assert sorted(answers) == [False, True]  # stored once, so reported new once
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow)).all()
    assert [(row.delivery_id, row.body()) for row in rows] == [("d-twice", body)]


async def test_deliveries_are_stored_while_every_shared_thread_is_busy(engine):
    # The worker's database calls run in the loop's shared threads; under a burst for many
    # pull requests all of them may be waiting (for SQLite's write lock, a slow database),
    # and GitHub gives up on an acknowledgement after 10 s.
    loop = asyncio.get_running_loop()
    loop.set_default_executor(ThreadPoolExecutor(max_workers=1))
    release = threading.Event()
    busy = loop.run_in_executor(None, release.wait)
    store = DeliveryStore(engine)
    store.start()
    try:
        stored = store.add(Delivery("d-busy", "ping", None, b"{}"))
        assert await asyncio.wait_for(stored, 5)
    finally:
        release.set()
        await busy
        await store.close()
    with Session(engine) as session:
        assert [row.delivery_id for row in session.exec(select(DeliveryRow))] == ["d-busy"]


async def test_a_batch_that_cannot_be_stored_fails_alone(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        broken = Delivery("d-broken", None, None, b"{}")  # type: ignore[arg-type]
        with pytest.raises(Exception, match="(?i)null"):
            await store.add(broken)
        assert await store.add(Delivery("d-next", "ping", None, b"{}"))
    finally:
        await store.close()
    with Session(engine) as session:
        rows = session.exec(select(DeliveryRow)).all()
    assert [row.delivery_id for row in rows] == ["d-next"]


async def test_the_time_received_is_written_as_every_other_time(engine):
    store = DeliveryStore(engine)
    store.start()
    try:
        await store.add(Delivery("d-time", "ping", None, b"{}"))
    finally:
        await store.close()
    with engine.connect() as connection:
        raw = connection.exec_driver_sql("SELECT received_at FROM delivery").scalar()
    if engine.dialect.name == "sqlite":  # text that sorts like the instants it names
        assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}", raw), raw
    else:
        assert raw.tzinfo is not None


async def test_a_body_is_stored_compressed_and_read_back_byte_for_byte(engine):
    # A pull request's body repeats its URLs; odd whitespace, escapes and non-ASCII text
    # must come back as sent, not as some equivalent JSON.
    files = [
        {"filename": f"src/m{i}.py", "url": f"https://api.github.com/r/{i}"} for i in range(300)
    ]
    body = (
        b'{ "action" :"opened",\r\n\t"title": "\\u00e9 caf\xc3\xa9 \xe2\x9c\x93",  "files": '
        + json.dumps(files).encode()
        + b"}\n"
    )
    text = '{"action": "closed", "title": "plain text"}'
    store = DeliveryStore(engine)
    store.start()
    try:
        assert await store.add(Delivery("d-big", "pull_request", "opened", body))
        assert await store.add(Delivery("d-text", "pull_request", "closed", text.encode()))
    finally:
        await store.close()
    with Session(engine) as session:
        big, small = session.exec(select(DeliveryRow).order_by(DeliveryRow.id)).all()
    assert big.body() == body
    assert len(big.body_zstd) < len(body) / 5  # what the commit writes
    assert small.body() == text.encode()
    with engine.connect() as connection:  # as any zstd tool reads the column
        raw = connection.exec_driver_sql("SELECT body_zstd FROM delivery ORDER BY id").scalars()
        assert [zstandard.ZstdDecompressor().decompress(bytes(r)) for r in raw] == [
            body,
            text.encode(),
        ]


def test_a_body_that_is_not_stored_compressed_is_a_value_error():
    row = DeliveryRow(delivery_id="d-raw", event="ping", body_zstd=b'{"zen": "plain"}')
    with pytest.raises(ValueError, match="not a stored body"):
        row.body()
