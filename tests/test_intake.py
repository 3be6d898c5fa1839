"""Webhook intake over real HTTP, with deliveries signed by the GitHub simulator, on SQLite
and on PostgreSQL."""

import asyncio
import contextlib
import io
import json
from datetime import timedelta

from aiohttp import ClientSession, web
from livebot import SECRET, sim_fixture  # noqa: F401
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, select

from shadowbot.github.client import GitHubUnavailable
from shadowbot.live import worker
from shadowbot.live.worker import Processing
from shadowbot.settings import load_settings
from shadowbot.storage import DeliveryRow, claims, create_db_engine
from shadowbot.web.app import WORKER, create_app
from shadowbot.web.signature import sign, verify


class Recorder:
    """A delivery handler that remembers what it processed, and can be made to stall."""

    def __init__(self):
        self.seen = []
        self.gate = asyncio.Event()
        self.gate.set()

    @contextlib.asynccontextmanager
    async def factory(self, app):
        async def handle(delivery):
            await self.gate.wait()
            self.seen.append((delivery.delivery_id, delivery.event, delivery.action))

        yield Processing(handle)


def settings_for(database_url):
    return load_settings(
        {"SHADOWBOT_WEBHOOK_SECRET": SECRET, "SHADOWBOT_DATABASE_URL": database_url}
    )


@contextlib.asynccontextmanager
async def bot(database_url, recorder):
    runner = web.AppRunner(create_app(settings_for(database_url), recorder.factory))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    try:
        yield f"http://{host}:{port}", runner.app
    finally:
        await runner.cleanup()


async def soon(condition, seconds):
    """Until ``condition()`` holds or ``seconds`` have passed (the asserts after say which)."""
    for _ in range(round(seconds / 0.05)):
        await asyncio.sleep(0.05)
        if condition():
            return


async def drained(app):
    await asyncio.wait_for(app[WORKER].idle.wait(), 5)


async def test_a_signed_delivery_is_stored_acknowledged_and_processed(database_url, sim):
    recorder = Recorder()
    async with bot(database_url, recorder) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        delivery = await sim.ping()
        assert delivery.status == 202
        await asyncio.sleep(0.05)
        await drained(app)
    assert recorder.seen == [(delivery.guid, "ping", None)]


async def test_forged_or_missing_signatures_get_401_and_store_nothing(database_url, sim):
    recorder = Recorder()
    async with bot(database_url, recorder) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        assert (await sim.send_forged()).status == 401
        assert (await sim.send_forged(signature=None)).status == 401
        await drained(app)
    assert recorder.seen == []


async def test_a_redelivery_is_a_no_op(database_url, sim):
    recorder = Recorder()
    async with bot(database_url, recorder) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        first = await sim.ping()
        again = await sim.redeliver(first.guid)
        assert (first.status, again.status) == (202, 202)
        await asyncio.sleep(0.05)
        await drained(app)
    assert [seen[0] for seen in recorder.seen] == [first.guid]


async def post(url, body, event="pull_request", delivery="d-1", signature=None):
    headers = {
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": signature or sign(SECRET, body),
        "Content-Type": "application/json",
    }
    async with ClientSession() as session:
        data = io.BytesIO(body)  # a large body as bytes would trip aiohttp's ResourceWarning
        async with session.post(f"{url}/webhook", data=data, headers=headers) as response:
            return response.status, await response.text()


async def test_bad_bodies_are_refused_with_the_right_status(database_url):
    async with bot(database_url, Recorder()) as (url, app):
        assert (await post(url, b"{not json"))[0] == 400
        assert (await post(url, b"[1, 2]"))[0] == 400
        assert (await post(url, b'{"action": "opened"} trailing'))[0] == 400
        assert (await post(url, b'{"action": "opened", "title": "\xff"}'))[0] == 400
        assert (await post(url, b""))[0] == 400
        huge = b'{"action": "opened", "x": "' + b"a" * (25 * 1024 * 1024) + b'"}'
        assert (await post(url, huge))[0] == 413
        status, text = await post(url, json.dumps({"action": "starred"}).encode(), event="star")
        assert status == 202 and "ignored" in text


async def test_the_stored_body_is_the_bytes_github_signed(database_url):
    # Not JSON as Python would write it: GitHub's spacing, escapes and UTF-8 are kept.
    body = (
        b'{"action":"opened",  "number": 7,\n "pull_request": {"number": 7, "title":'
        b' "caf\xc3\xa9 \\u2713 \xe2\x9c\x93"}, "repository": {"full_name": "o/r"}}\r\n'
    )
    signature = sign(SECRET, body)
    async with bot(database_url, Recorder()) as (url, app):
        assert (await post(url, body, delivery="d-signed", signature=signature))[0] == 202
        await drained(app)
    (row,) = stored_rows(database_url)
    assert row.body() == body
    assert verify(SECRET, row.body(), signature)
    assert row.body_zstd != body  # compressed as it was written
    assert (row.action, row.subject) == ("opened", "o/r#7")


async def test_a_restart_mid_queue_loses_nothing(database_url, sim):
    stalled = Recorder()
    stalled.gate.clear()  # the first run processes nothing before it is stopped
    async with bot(database_url, stalled) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        sent = [await sim.ping() for _ in range(5)]
        assert all(d.status == 202 for d in sent)
    assert stalled.seen == []

    recorder = Recorder()
    async with bot(database_url, recorder) as (url, app):
        await asyncio.sleep(0.05)
        await drained(app)
    assert [seen[0] for seen in recorder.seen] == [d.guid for d in sent]


async def test_health_and_metrics(database_url, sim):
    async with bot(database_url, Recorder()) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        await sim.ping()
        await sim.send_forged()
        async with ClientSession() as session:
            async with session.get(f"{url}/healthz") as response:
                assert response.status == 200
            async with session.get(f"{url}/metrics") as response:
                text = await response.text()
    assert 'shadowbot_deliveries_total{outcome="stored"} 1' in text
    assert 'shadowbot_deliveries_total{outcome="bad_signature"} 1' in text
    assert "# TYPE shadowbot_deliveries_total counter" in text


class Flaky(Recorder):
    """A handler whose GitHub is down for the first ``failures`` tries."""

    def __init__(self, failures):
        super().__init__()
        self.failures = failures
        self.tries = 0

    @contextlib.asynccontextmanager
    async def factory(self, app):
        async def handle(delivery):
            self.tries += 1
            if self.tries <= self.failures:
                raise GitHubUnavailable("GET /repos/acme/widgets: ServerDisconnectedError")
            self.seen.append(delivery.delivery_id)

        yield Processing(handle)


def stored_rows(database_url):
    engine = create_db_engine(database_url)
    try:
        with Session(engine) as session:
            rows = list(session.exec(select(DeliveryRow)))
            session.expunge_all()
            return rows
    finally:
        engine.dispose()


def stored_errors(database_url):
    return [(row.processed_at is not None, row.error) for row in stored_rows(database_url)]


async def test_a_delivery_github_failed_is_tried_again(database_url, sim, monkeypatch):
    monkeypatch.setattr(worker, "BACKOFF", (0.05, 0.05))
    flaky = Flaky(failures=2)
    async with bot(database_url, flaky) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        delivery = await sim.ping()
        await soon(lambda: flaky.seen, 2.5)
    assert (flaky.tries, flaky.seen) == (3, [delivery.guid])
    assert stored_errors(database_url) == [(True, None)]


async def test_a_delivery_github_keeps_failing_is_given_up_with_its_reason_once_too_old(
    database_url, sim, monkeypatch
):
    monkeypatch.setattr(worker, "BACKOFF", (0.05, 0.05))
    monkeypatch.setattr(worker, "GIVE_UP_AFTER", timedelta(seconds=1.5))
    flaky = Flaky(failures=10_000)
    async with bot(database_url, flaky) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        await sim.ping()
        await soon(lambda: stored_errors(database_url)[0][0], 10)
        await asyncio.sleep(0.2)
        async with ClientSession() as client, client.get(f"{url}/healthz") as answer:
            health = await answer.json()
    assert flaky.tries > 2  # tried again and again meanwhile
    ((processed, error),) = stored_errors(database_url)
    assert processed and error.startswith("GitHubUnavailable")
    (row,) = stored_rows(database_url)
    assert row.given_up_at is not None and row.reconciled_at is None
    assert health["status"] == "degraded"
    assert any("given up" in reason for reason in health["reasons"])


async def test_the_worker_outlives_the_database_failing_for_a_moment(
    database_url, sim, monkeypatch
):
    monkeypatch.setattr(worker.random, "uniform", lambda low, high: 0.05)  # a short backoff
    real_claim = claims.claim
    failures = iter([OperationalError("SELECT", {}, Exception("server closed the connection"))])

    def flaky_claim(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real_claim(*args, **kwargs)

    monkeypatch.setattr(claims, "claim", flaky_claim)
    recorder = Recorder()
    async with bot(database_url, recorder) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        first = await sim.ping()
        await soon(lambda: recorder.seen, 5)
        second = await sim.ping()
        await soon(lambda: len(recorder.seen) == 2, 5)
    assert [guid for guid, _, _ in recorder.seen] == [first.guid, second.guid]


class Stuck(Recorder):
    """A handler that never finishes: its delivery is in hand when the app stops."""

    @contextlib.asynccontextmanager
    async def factory(self, app):
        async def handle(delivery):
            self.seen.append(delivery.delivery_id)
            await asyncio.Event().wait()

        yield Processing(handle)


async def test_a_clean_stop_lets_go_of_the_deliveries_in_hand(database_url, sim):
    stuck = Stuck()
    async with bot(database_url, stuck) as (url, app):
        sim.webhook_url = f"{url}/webhook"
        await sim.ping()
        await soon(lambda: stuck.seen, 5)
    (row,) = stored_rows(database_url)
    assert row.processed_at is None and row.claimed_until is None  # taken up again at once
