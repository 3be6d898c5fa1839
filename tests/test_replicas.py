"""Several replicas on one PostgreSQL database (PostgreSQL only: on SQLite there is one
process by design): a PR's lock is held by one replica at a time, a repository both see
first is recorded once, and two replicas evaluating one PR at once post one verdict
comment."""

import asyncio

from livebot import running_bot, sim_fixture, writer_pair_claim  # noqa: F401
from sqlmodel import Session, select

from shadowbot.live.posting import comment_lock
from shadowbot.live.service import pipeline_of
from shadowbot.storage import RepositoryRow, migrated, records


async def test_a_pull_requests_lock_is_held_by_one_replica_at_a_time(postgresql_url):
    with migrated(postgresql_url) as one, migrated(postgresql_url) as two:
        seen = []

        async def hold(database, name, number=7, seconds=0.0):
            async with comment_lock(database, "o/r", number):
                seen.append(f"{name} in")
                await asyncio.sleep(seconds)
                seen.append(f"{name} out")

        first = asyncio.create_task(hold(one, "one", seconds=0.3))
        await asyncio.sleep(0.1)
        await hold(two, "other PR", number=8)  # not held: another PR's
        await hold(two, "two")  # waits for the first to let go
        await first
        assert seen == ["one in", "other PR in", "other PR out", "one out", "two in", "two out"]

        # One that stops waiting (cancelled at shutdown) gives its connection back.
        holder = asyncio.create_task(hold(one, "one", seconds=0.5))
        await asyncio.sleep(0.1)
        waiter = asyncio.create_task(hold(two, "two"))
        await asyncio.sleep(0.1)
        waiter.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        assert (one.pool.checkedout(), two.pool.checkedout()) == (0, 0)


async def test_two_replicas_seeing_a_new_repository_at_once_record_it_once(postgresql_url):
    with migrated(postgresql_url) as database:
        with Session(database) as first, Session(database) as second:
            records.repository(first, "o/r", 1)  # inserted, not committed yet
            # The second finds no row (not committed) and inserts one, which waits for
            # the first transaction on the unique index, then breaks it.
            seeing = asyncio.create_task(asyncio.to_thread(records.repository, second, "o/r", 1))
            await asyncio.sleep(0.3)
            first.commit()
            found = await seeing
            second.commit()
            rows = second.exec(select(RepositoryRow)).all()
        assert [row.full_name for row in rows] == ["o/r"] and found.id == rows[0].id


async def test_two_replicas_evaluating_one_pr_at_once_post_one_comment(postgresql_url, sim):
    async with (
        running_bot(sim, postgresql_url) as one,
        running_bot(sim, postgresql_url) as two,
    ):
        sim.webhook_url = None  # the PR's webhooks reach neither: both evaluate it below
        number = await writer_pair_claim(sim)
        # Both replicas list the PR's comments slowly, so that without the lock both
        # would find none and both would create one.
        comments = f"/repos/{sim.repo}/issues/{number}/comments"
        sim.hang_next(2, delay=0.5, method="GET", path=comments)
        failures = await asyncio.gather(
            pipeline_of(one.app).reevaluate(sim.installation_id, sim.repo, number),
            pipeline_of(two.app).reevaluate(sim.installation_id, sim.repo, number),
            return_exceptions=True,
        )
        assert len(one.bot_comments(number)) == 1
        created = [w for w in sim.writes if w.method == "POST" and w.path == comments]
        assert len(created) == 1
        assert failures == [None, None]
