"""GitHub misbehaving, survived: the bot against the simulator's faults over real HTTP,
each fault as an operator would meet it, nothing lost and nothing done twice.

Each test fails when its defence is removed: a rate limit waited inside the worker (or
not at all) gives the delivery up; a slow answer for one PR held the only worker; a 422
or a 404 dropped the verdict until the PR's next event."""

from __future__ import annotations

import asyncio
import time
import urllib.request
from datetime import UTC, datetime

import aiohttp
import pytest
from livebot import (  # noqa: F401
    PACKAGE,
    running_bot,
    sim_fixture,
    writer_pair_claim,
)
from sqlmodel import select

from shadowbot.github import client as github_client
from shadowbot.github.pacing import SLOW_INTERVAL, WRITE_LIMITS, Pacer
from shadowbot.live import worker
from shadowbot.live.reconcile import Reconciler
from shadowbot.live.service import pipeline_of
from shadowbot.storage import DeliveryRow, VerdictRow
from shadowbot.web.app import DATABASE, METRICS


def deliveries(bot) -> list[DeliveryRow]:
    with bot.session() as session:
        return list(session.exec(select(DeliveryRow).order_by(DeliveryRow.id)))


async def health(sim) -> dict:
    base = sim.webhook_url.rpartition("/webhook")[0]
    async with aiohttp.ClientSession() as client, client.get(f"{base}/healthz") as answer:
        assert answer.status == 200  # the intake works: a load balancer keeps sending
        return await answer.json()


async def until(condition, timeout: float = 20.0) -> None:
    """Wait until ``condition()`` holds, or fail."""
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.05)


def reads_of(sim, number: int, since: float) -> list:
    return [
        r
        for r in sim.requests
        if r.path.startswith(f"/repos/{sim.repo}/pulls/{number}") and r.at >= since
    ]


# -- rate limits ----------------------------------------------------------------------


async def test_a_primary_rate_limit_an_hour_away_keeps_the_deliveries_until_its_reset(
    database_url, sim
):
    async with running_bot(sim, database_url) as bot:
        sim.exhaust_rate_limit()
        reset = sim.backend.rates.window(sim.installation_id, time.time()).reset
        number = await writer_pair_claim(sim)
        await bot.quiet()
        rows = deliveries(bot)
        assert all(r.given_up_at is None and r.error is None for r in rows)
        waiting = [r for r in rows if r.processed_at is None]  # (some superseded by later ones)
        assert waiting and waiting[-1].event == "pull_request_review"
        tried = [r for r in rows if r.not_before is not None]
        assert len(tried) == 1  # the first one; the others wait without asking GitHub
        assert reset <= tried[0].not_before.timestamp() <= reset + 3
        asked = len(sim.requests)
        await asyncio.sleep(1.0)
        assert len(sim.requests) == asked  # GitHub is not asked again before the reset
        shown = datetime.fromtimestamp(reset, UTC).strftime("%Y-%m-%d %H:%M")
        state = await health(sim)
        assert state["status"] == "degraded"
        assert any(f"rate-limited by GitHub until {shown}" in r for r in state["reasons"])
        assert bot.bot_comments(number) == []


async def test_a_rate_limit_is_waited_out_without_a_worker_and_the_verdict_posted_after(
    database_url, sim, monkeypatch
):
    monkeypatch.setattr(github_client, "IN_PLACE", 0.2)  # any wait goes to the database
    async with running_bot(sim, database_url) as bot:
        sim.exhaust_rate_limit()
        window = sim.backend.rates.window(sim.installation_id, time.time())
        reset = window.reset = int(time.time()) + 3
        number = await writer_pair_claim(sim)
        await until(lambda: bot.bot_comments(number), timeout=25)
        assert time.time() >= reset - 1
        await bot.quiet()
        assert all(r.processed_at is not None and r.error is None for r in deliveries(bot))
        assert (await health(sim))["status"] == "ok"


async def test_a_secondary_rate_limit_is_waited_for_its_retry_after_then_writes_go_slower(
    database_url, sim, monkeypatch
):
    monkeypatch.setattr(github_client, "IN_PLACE", 0.2)
    async with running_bot(sim, database_url) as bot:
        sim.secondary_rate_limit_next(1, retry_after=3, method="GET", path="/repos/*/pulls/*")
        started = time.time()
        number = await writer_pair_claim(sim)
        await until(lambda: bot.bot_comments(number), timeout=25)
        limited = [r for r in sim.requests if r.status == 403]
        assert len(limited) == 1
        after = [r for r in sim.requests if r.at > limited[0].at and r.path.startswith("/repos/")]
        assert after and min(r.at for r in after) >= limited[0].at + 3 - 0.1
        assert time.time() - started >= 3
        pacer = pipeline_of(bot.app).github.pacer
        assert pacer.wait_before(write=True) >= SLOW_INTERVAL - 0.5  # slower from now on
        assert all(r.given_up_at is None for r in deliveries(bot))


def test_writes_are_paced_within_githubs_content_creation_limits():
    now = [1000.0]
    pacer = Pacer(clock=lambda: now[0])
    per_minute, minute = WRITE_LIMITS[0]
    waits = [pacer.wait_before(write=True) for _ in range(per_minute)]
    assert waits == [0.0] * per_minute
    assert pacer.wait_before(write=True) == pytest.approx(minute)  # the 81st: a minute on
    assert pacer.wait_before(write=False) == 0.0  # reads are not content creation
    hourly, hour = WRITE_LIMITS[1]
    spread = Pacer(clock=lambda: now[0])
    sent = []
    for _ in range(hourly + 1):
        wait = spread.wait_before(write=True)
        sent.append(now[0] + wait)
        now[0] += wait
    assert sent[-1] - sent[0] >= hour  # the 501st write is an hour after the first
    assert all(sum(1 for t in sent if start <= t < start + minute) <= per_minute for start in sent)


def test_a_wait_github_asked_for_holds_every_request():
    now = [0.0]
    pacer = Pacer(clock=lambda: now[0])
    pacer.block(30.0, "retry-after", secondary=False)
    assert pacer.wait_before(write=False) == 30.0
    now[0] = 31.0
    assert pacer.wait_before(write=False) == 0.0


# -- GitHub failing -------------------------------------------------------------------


async def test_a_server_error_on_posting_is_tried_again_later_and_posts_once(
    database_url, sim, monkeypatch
):
    monkeypatch.setattr(worker, "BACKOFF", (0.1, 0.1))
    async with running_bot(sim, database_url) as bot:
        sim.fail_next(2, status=502, method="POST", path="/repos/*/issues/*/comments")
        number = await writer_pair_claim(sim)
        await until(lambda: bot.bot_comments(number))
        await bot.quiet()
        assert len(bot.bot_comments(number)) == 1
        rows = deliveries(bot)
        assert all(r.processed_at is not None and r.given_up_at is None for r in rows)
        assert max(r.attempts for r in rows) >= 2  # tried again, from the database
        retried = bot.app[METRICS].value("shadowbot_delivery_retries_total", why="github")
        assert retried >= 1


async def test_one_prs_slow_github_answer_does_not_delay_another_prs_verdict(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        slow = sim.hang_next(1, delay=15, method="GET", path=f"/repos/{sim.repo}/pulls/1")
        first = await writer_pair_claim(sim)
        assert first == 1
        await until(lambda: slow.remaining == 0, timeout=10)  # its read is hanging now
        second = await writer_pair_claim(sim)
        started = time.monotonic()
        await until(lambda: bot.bot_comments(second), timeout=10)
        assert time.monotonic() - started < 8
        assert bot.bot_comments(first) == []  # still waiting for GitHub
        await until(lambda: bot.bot_comments(first), timeout=30)


async def test_a_422_is_kept_with_its_reason_and_the_reconciler_posts_the_verdict(
    database_url, sim
):
    async with running_bot(sim, database_url) as bot:
        sim.fail_next(1, status=422, method="POST", path="/repos/*/issues/*/comments")
        number = await writer_pair_claim(sim)
        await bot.quiet()
        failed = [r for r in deliveries(bot) if r.error is not None]
        assert len(failed) == 1 and failed[0].given_up_at is not None
        assert "422" in failed[0].error or "Validation" in failed[0].error
        state = await health(sim)
        assert any("given up" in reason for reason in state["reasons"])
        if bot.bot_comments(number):  # a later delivery of the PR posted it already
            assert len(bot.bot_comments(number)) == 1
        pipeline = pipeline_of(bot.app)
        reconciler = Reconciler(
            bot.app[DATABASE], pipeline.github, bot.app[METRICS], refresh=pipeline.reevaluate
        )
        report = await reconciler.reconcile()
        assert report.retaken == 1
        await bot.quiet()
        assert len(bot.bot_comments(number)) == 1
        (again,) = [r for r in deliveries(bot) if r.id == failed[0].id]
        assert again.reconciled_at is not None


async def test_a_verdict_comment_deleted_before_its_edit_is_posted_again_at_once(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        (comment,) = bot.bot_comments(number)
        sim.fail_next(1, status=404, method="PATCH", path=f"/repos/*/issues/comments/{comment.id}")
        await sim.push(sim.repo, number, files=[PACKAGE])
        await bot.quiet()
        comments = bot.bot_comments(number)
        assert len(comments) == 2 and comments[-1].id != comment.id  # created again, once
        head = sim.pull(sim.repo, number).head_sha
        assert head in comments[-1].body
        assert all(r.error is None for r in deliveries(bot))


async def test_a_token_exchange_refused_once_is_asked_again_with_a_new_jwt(database_url, sim):
    async with running_bot(sim, database_url) as bot:
        sim.fail_next(1, status=401, method="POST", path="/app/installations/*/access_tokens")
        number = await writer_pair_claim(sim)
        await bot.quiet()
        assert len(bot.bot_comments(number)) == 1
        exchanges = [r for r in sim.requests if r.path.endswith("/access_tokens")]
        assert [r.status for r in exchanges][:2] == [401, 201]
        assert all(r.error is None for r in deliveries(bot))


# -- the event loop ----------------------------------------------------------------------

SLOW_RULE = """
import time

from shadowbot.rules import Rule
from shadowbot.verdict import Verdict


@Rule.define(name="slow", version=1, description="thinks for most of its time budget")
def slow(pr):
    time.sleep(0.8)
    return Verdict.skip("nothing to say")
"""


async def test_a_slow_rule_does_not_delay_the_webhook_acknowledgements(sim, tmp_path):
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "slow.py").write_text(SLOW_RULE)
    async with running_bot(sim, tmp_path, SHADOWBOT_RULES_DIR=str(rules)) as bot:
        health_url = sim.webhook_url.rpartition("/webhook")[0] + "/healthz"

        def probe(until: float) -> list[float]:
            """How long /healthz takes, asked from another thread every 0.1 s: the bot's
            event loop (which this test shares) blocked by a rule would hold answers."""
            answers = []
            while time.monotonic() < until:
                started = time.monotonic()
                with urllib.request.urlopen(health_url, timeout=10) as answer:
                    assert answer.status == 200
                answers.append(time.monotonic() - started)
                time.sleep(0.1)
            return answers

        probing = asyncio.create_task(asyncio.to_thread(probe, time.monotonic() + 4))
        for n in range(4):  # four PRs: the rule thinks for 3 s in all, meanwhile
            await sim.open_pr(sim.repo, "alice", f"hello {n}", files=[PACKAGE])
        answers = await probing
        await bot.quiet()
        with bot.session() as session:
            thought = session.exec(select(VerdictRow).where(VerdictRow.reason != "")).all()
        assert len(thought) >= 4  # the rule ran on every PR
        assert len(answers) > 10 and max(answers) < 0.4  # on the loop, 0.8 s
