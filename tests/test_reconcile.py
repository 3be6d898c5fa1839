"""The reconciler end to end: webhooks the bot missed (the simulator drops them, as when the
bot's endpoint is unreachable) are made up for by reading the PRs again and by asking
GitHub to redeliver. The bot and the GitHub simulator over real HTTP, the real database."""

from datetime import UTC, datetime, timedelta

from livebot import PACKAGE, running_bot, sim_fixture, writer_pair_claim  # noqa: F401
from sqlmodel import select

from shadowbot.github import HookDelivery
from shadowbot.live.comments import parse_marker
from shadowbot.live.reconcile import (
    MAX_REDELIVERIES,
    OVERLAP,
    RETENTION,
    Asked,
    Reconciler,
    to_redeliver,
    window_start,
)
from shadowbot.live.service import pipeline_of
from shadowbot.simulator.webhooks import DROPPED
from shadowbot.storage import DeliveryRow, OutcomeRow, PullRequestRow
from shadowbot.web.app import DATABASE, METRICS

WRITER_PAIR = "writer-pair@1"


def reconciler(bot):
    return Reconciler(bot.app[DATABASE], pipeline_of(bot.app).github, bot.app[METRICS])


def outcomes(bot):
    """(number, kind, sha, actor, at) of every outcome recorded, in order."""
    with bot.session() as session:
        numbers = {pr.id: pr.number for pr in session.exec(select(PullRequestRow))}
        rows = session.exec(select(OutcomeRow).order_by(OutcomeRow.id))
        return [(numbers[o.pull_request_id], o.kind, o.sha, o.actor_login, o.at) for o in rows]


def state_of(bot, number):
    with bot.session() as session:
        pr = session.exec(select(PullRequestRow).where(PullRequestRow.number == number)).one()
        return pr.state, pr.merged_at, pr.closed_at


def redelivery_requests(sim):
    return [r for r in sim.writes if r.path.startswith("/app/hook/deliveries/")]


async def dropped(sim, action):
    """Run ``action`` with its one webhook dropped; that delivery."""
    sim.drop_webhooks(1)
    before = len(sim.deliveries)
    await action
    (delivery,) = sim.deliveries[before:]
    assert delivery.error == DROPPED
    return delivery


# -- outcomes ----------------------------------------------------------------------------


async def test_a_merge_whose_webhook_was_dropped_is_recorded_at_githubs_time(sim, database_url):
    async with running_bot(sim, database_url) as bot:
        number = await writer_pair_claim(sim)
        await bot.quiet()
        head = sim.pull(sim.repo, number).head_sha
        lost = await dropped(sim, sim.merge(sim.repo, number, merger="alice"))
        await bot.quiet()
        assert outcomes(bot) == [] and state_of(bot, number)[0] == "open"

        report = await reconciler(bot).reconcile()
        merged_at = sim.pull(sim.repo, number).merged_at
        assert (report.checked, report.recorded, report.failed) == (1, 1, 0)
        assert outcomes(bot) == [(number, "merged", head, "alice", merged_at)]
        assert state_of(bot, number) == ("merged", merged_at, merged_at)

        # The dropped webhook was redelivered too; processing it adds nothing.
        assert report.redelivered == 1
        await bot.quiet()
        assert ("closed", None) in bot.processed("pull_request")
        with bot.session() as session:
            stored = session.exec(select(DeliveryRow).where(DeliveryRow.delivery_id == lost.guid))
            assert stored.one().processed_at is not None
        assert outcomes(bot) == [(number, "merged", head, "alice", merged_at)]


async def test_a_close_whose_webhook_was_dropped_is_recorded_at_githubs_time(sim, database_url):
    async with running_bot(sim, database_url) as bot:
        number = await sim.open_pr(sim.repo, "dave", "hello: try this", files=[PACKAGE])
        await bot.quiet()
        await dropped(sim, sim.close(sim.repo, number, sender="carol"))
        await bot.quiet()
        assert outcomes(bot) == []

        report = await reconciler(bot).reconcile()
        pull = sim.pull(sim.repo, number)
        assert (report.checked, report.recorded) == (1, 1)
        [(recorded, kind, sha, _, at)] = outcomes(bot)
        assert (recorded, kind, sha, at) == (number, "closed", pull.head_sha, pull.closed_at)
        assert state_of(bot, number) == ("closed", None, pull.closed_at)


async def test_running_twice_records_and_redelivers_nothing_twice(sim, database_url):
    async with running_bot(sim, database_url) as bot:
        merged = await writer_pair_claim(sim)
        closed = await sim.open_pr(sim.repo, "dave", "hello: try this", files=[PACKAGE])
        still_open = await sim.open_pr(sim.repo, "dave", "hello: and this", files=[PACKAGE])
        await bot.quiet()
        await dropped(sim, sim.merge(sim.repo, merged, merger="alice"))
        await dropped(sim, sim.close(sim.repo, closed, sender="carol"))
        reconcile = reconciler(bot)

        first = await reconcile.reconcile()
        assert (first.checked, first.recorded, first.redelivered) == (3, 2, 2)
        await bot.quiet()
        recorded = outcomes(bot)
        assert [(n, kind) for n, kind, *_ in recorded] == [(merged, "merged"), (closed, "closed")]

        mark = len(sim.requests)
        second = await reconcile.reconcile()
        assert (second.checked, second.recorded, second.redelivered) == (1, 0, 0)
        await bot.quiet()
        assert outcomes(bot) == recorded
        assert len(redelivery_requests(sim)) == 2
        # Only the open PR is read again, and unchanged it answers 304 to the cached ETag.
        reads = [r for r in sim.requests[mark:] if r.path.startswith(f"/repos/{sim.repo}/")]
        assert [(r.path, r.status) for r in reads] == [
            (f"/repos/{sim.repo}/pulls/{still_open}", 304)
        ]


async def test_only_prs_the_bot_judged_are_read(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        lost = await dropped(sim, sim.open_pr(sim.repo, "dave", "hello: try", files=[PACKAGE]))
        number = lost.payload["pull_request"]["number"]
        await sim.comment(sim.repo, number, "dave", "@shadowbot note untested on darwin")
        await bot.quiet()
        assert state_of(bot, number)[0] == "open"  # known from the note, never evaluated
        reconcile = reconciler(bot)
        first = await reconcile.reconcile()
        assert (first.checked, first.redelivered) == (0, 1)  # the `opened` webhook comes again
        await bot.quiet()
        assert (await reconcile.reconcile()).checked == 1  # evaluated now


async def test_a_pr_of_a_repository_the_app_left_is_not_read(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        await sim.add_repo("acme/gadgets")
        number = await sim.open_pr("acme/gadgets", "dave", "try this", files=["a.py"])
        await bot.quiet()
        assert state_of(bot, number)[0] == "open"  # judged: it has verdicts
        await sim.remove_repo("acme/gadgets")
        await bot.quiet()
        mark = len(sim.requests)
        report = await reconciler(bot).reconcile()
        assert (report.checked, report.failed) == (0, 0)
        assert not [r for r in sim.requests[mark:] if r.path.startswith("/repos/acme/gadgets")]


# -- redelivery --------------------------------------------------------------------------


async def test_a_dropped_review_is_redelivered_and_processed(sim, database_url):
    async with running_bot(sim, database_url) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=[PACKAGE])
        await sim.add_check(sim.repo, number, "build")
        await bot.quiet()
        assert bot.bot_comments(number) == []  # nothing claims without an approval
        lost = await dropped(sim, sim.review(sim.repo, number, "carol", "APPROVED"))
        await bot.quiet()
        assert bot.bot_comments(number) == []

        report = await reconciler(bot).reconcile()
        assert report.redelivered == 1
        await bot.quiet()
        again = [d for d in sim.deliveries if d.guid == lost.guid and d.redelivery]
        assert [d.status for d in again] == [202]
        with bot.session() as session:
            stored = session.exec(
                select(DeliveryRow).where(DeliveryRow.delivery_id == lost.guid)
            ).one()
        assert (stored.event, stored.action, stored.error) == (
            "pull_request_review",
            "submitted",
            None,
        )
        assert stored.processed_at is not None
        (comment,) = bot.bot_comments(number)
        assert WRITER_PAIR in parse_marker(comment.body).claims


async def test_deliveries_that_succeeded_or_that_the_bot_stored_are_not_redelivered(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        await writer_pair_claim(sim)
        await bot.quiet()
        assert all(200 <= (d.status or 0) < 300 for d in sim.deliveries)
        # The bot stored this one, but GitHub saw no answer in time: a failure to GitHub.
        slow = next(d for d in sim.deliveries if d.event == "pull_request")
        slow.status, slow.timed_out = None, True
        report = await reconciler(bot).reconcile()
        assert report.redelivered == 0
        assert redelivery_requests(sim) == []


async def test_a_redelivery_that_fails_again_is_asked_for_again_a_few_times(sim, tmp_path):
    async with running_bot(sim, tmp_path) as bot:
        number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=[PACKAGE])
        await bot.quiet()
        lost = await dropped(sim, sim.review(sim.repo, number, "carol", "APPROVED"))
        sim.drop_webhooks(MAX_REDELIVERIES)  # every redelivery fails as well
        reconcile = reconciler(bot)
        asked = []
        for _ in range(MAX_REDELIVERIES + 1):
            asked.append((await reconcile.reconcile()).redelivered)
            await bot.quiet()
        assert asked == [1] * MAX_REDELIVERIES + [0]
        attempts = [d for d in sim.deliveries if d.guid == lost.guid]
        assert [d.error for d in attempts] == [DROPPED] * (MAX_REDELIVERIES + 1)


# -- deciding ----------------------------------------------------------------------------

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def attempt(id, status_code, minutes_ago, guid="g-1"):
    return HookDelivery(
        id=id,
        guid=guid,
        delivered_at=NOW - timedelta(minutes=minutes_ago),
        redelivery=id > 1,
        status="OK" if status_code < 300 else "failed to connect to host",
        status_code=status_code,
        event="pull_request",
        action="closed",
        installation_id=1,
        repository_id=2,
    )


def test_the_newest_failed_attempt_is_redelivered_unless_stored_or_succeeded_since():
    failed, ok, failed_again = attempt(1, 502, 30), attempt(2, 200, 20), attempt(3, 503, 10)
    assert to_redeliver([failed], stored=False, asked=None) == failed
    assert to_redeliver([failed], stored=True, asked=None) is None
    assert to_redeliver([ok, failed], stored=False, asked=None) is None
    assert to_redeliver([failed_again, ok, failed], stored=False, asked=None) == failed_again


def test_a_redelivery_asked_for_is_awaited_and_asked_again_a_few_times_only():
    failed, failed_again = attempt(1, 502, 30), attempt(2, 502, 10)
    assert to_redeliver([failed], False, Asked(1, failed.id, NOW)) is None  # not attempted yet
    assert to_redeliver([failed_again, failed], False, Asked(1, failed.id, NOW)) == failed_again
    limit = Asked(MAX_REDELIVERIES, failed.id, NOW)
    assert to_redeliver([failed_again, failed], False, limit) is None


def test_the_listing_starts_before_the_last_one_seen_and_within_githubs_retention():
    assert window_start(NOW, None) == NOW - RETENTION
    last = NOW - timedelta(minutes=15)
    assert window_start(NOW, last) == last - OVERLAP
    assert window_start(NOW, NOW - timedelta(days=5)) == NOW - RETENTION
