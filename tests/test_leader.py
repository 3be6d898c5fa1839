"""The scheduled jobs run on one replica at a time: the one holding the leader's advisory
lock on PostgreSQL. Two replicas here are two ``Jobs`` in this process, each with its own
engine (so its own sessions), on one database; a replica dies when PostgreSQL ends its
session, as it does when the process is killed."""

import asyncio
import logging

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shadowbot.live.jobs import LEADER_GAUGE, LEADER_LOCK, Jobs
from shadowbot.metrics import Metrics
from shadowbot.settings import load_settings
from shadowbot.storage import migrated
from shadowbot.storage.locks import lock_number


def replica(database: Engine) -> Jobs:
    """The scheduled jobs of one replica; only whether they run is looked at here."""

    async def refresh(installation: int, repository: str, number: int) -> None:
        raise AssertionError("not called here")

    return Jobs(load_settings({}), database, harvester=None, metrics=Metrics(), refresh=refresh)


class Runs:
    """A job that counts who ran it."""

    def __init__(self) -> None:
        self.by: list[str] = []

    def job(self, name: str):
        async def run() -> None:
            self.by.append(name)

        return run


def kill_session_holding(database: Engine, name: str) -> None:
    """End the PostgreSQL session that holds the advisory lock ``name``, as the death of
    its process would (a 64-bit lock shows in pg_locks as two 32-bit halves)."""
    with database.connect() as connection:
        schema = connection.execute(sa.select(sa.func.current_schema())).scalar_one()
        number = lock_number(schema, name) & 0xFFFF_FFFF_FFFF_FFFF
        pid = connection.execute(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted"
                " AND classid = :high AND objid = :low AND objsubid = 1"
            ),
            {"high": number >> 32, "low": number & 0xFFFF_FFFF},
        ).scalar_one()
        # With a timeout, pg_terminate_backend waits until the session is gone.
        connection.execute(sa.select(sa.func.pg_terminate_backend(pid, 5000)))


async def test_on_sqlite_the_one_process_always_leads(tmp_path):
    runs = Runs()
    with migrated(f"sqlite:///{tmp_path / 'one.db'}") as database:
        jobs = replica(database)
        assert await jobs.run_as_leader(runs.job("only"))
        assert await jobs.run_as_leader(runs.job("only"))
    assert runs.by == ["only", "only"]
    assert jobs.metrics.value(LEADER_GAUGE) == 1


async def test_one_replica_runs_the_jobs_and_another_takes_over_when_it_dies(
    postgresql_url, caplog
):
    runs = Runs()
    with migrated(postgresql_url) as one, migrated(postgresql_url) as two:
        first, second = replica(one), replica(two)
        with caplog.at_level(logging.INFO, logger="shadowbot.live.jobs"):
            for _ in range(3):
                await first.run_as_leader(runs.job("first"))
                await second.run_as_leader(runs.job("second"))
            assert runs.by == ["first"] * 3
            assert (first.metrics.value(LEADER_GAUGE), second.metrics.value(LEADER_GAUGE)) == (1, 0)

            await asyncio.to_thread(kill_session_holding, one, LEADER_LOCK)
            # The other replica leads from its next try on, and the dead one's jobs stop.
            assert await second.run_as_leader(runs.job("second"))
            assert not await first.run_as_leader(runs.job("first"))
            assert await second.run_as_leader(runs.job("second"))
            assert runs.by == ["first"] * 3 + ["second"] * 2
            assert (first.metrics.value(LEADER_GAUGE), second.metrics.value(LEADER_GAUGE)) == (0, 1)
        # Each change is logged once, not at every try.
        assert [r.getMessage().split(":")[0] for r in caplog.records] == [
            "leading",  # first
            "standing by",  # second
            "leading",  # second, once the first is gone
            "standing by",  # first
        ]
        first.step_down()
        second.step_down()


async def test_a_replica_shutting_down_hands_the_jobs_over(postgresql_url):
    with migrated(postgresql_url) as one, migrated(postgresql_url) as two:
        first, second = replica(one), replica(two)
        scheduler = first.start()
        try:
            for _ in range(100):  # the scheduler tries to lead as it starts
                if first.metrics.value(LEADER_GAUGE) == 1:
                    break
                await asyncio.sleep(0.05)
            assert first.metrics.value(LEADER_GAUGE) == 1
            assert not await second.lead()
        finally:
            scheduler.shutdown(wait=False)
        await asyncio.sleep(0.05)  # the scheduler shuts down on the event loop, soon after
        assert first.metrics.value(LEADER_GAUGE) == 0
        assert await second.lead()
        second.step_down()
