"""The scheduled jobs of live mode, run by apscheduler on the event loop: the reaction
sweep, the settlement job, and the reconciler.

Each job does its I/O here and its deciding in :mod:`shadowbot.core` through
:mod:`shadowbot.live.settling`; a job that fails is logged and tried again at its next
run (apscheduler keeps the schedule), and the two never overlap themselves
(``max_instances=1``).
https://apscheduler.readthedocs.io/en/3.x/modules/triggers/interval.html

Several replicas on one PostgreSQL database run the scheduled jobs on one of them at a
time, the leader: the replica holding the ``jobs:leader`` advisory lock
(:mod:`shadowbot.storage.locks`). Every replica tries to take it every few seconds and
before each job; when the leader dies, its session ends, PostgreSQL releases the lock and
the next replica to try leads. On SQLite the one process always leads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN, SchedulerEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine as Database
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col, select

from shadowbot.live.harvest import Harvester, HarvestStats, Target, open_targets
from shadowbot.live.settling import SettleReport, settle_all
from shadowbot.metrics import Metrics
from shadowbot.settings import Settings
from shadowbot.storage import PullRequestRow, utcnow
from shadowbot.storage.locks import HeldLock

log = logging.getLogger(__name__)

Refresh = Callable[[int, str, int], Awaitable[None]]
Reconcile = Callable[[], Awaitable[object]]
Job = Callable[[], Awaitable[object]]

#: The advisory lock the leader holds (see :mod:`shadowbot.storage.locks`).
LEADER_LOCK = "jobs:leader"
#: How often a replica tries to take the lead (or checks it still has it), in seconds; a
#: replica also tries before each job, so a dead leader's next job runs elsewhere.
ELECTION_INTERVAL = 5.0
LEADER_GAUGE = "shadowbot_leader"


@dataclass
class Jobs:
    """What the scheduler runs; also callable directly (the demo, the tests)."""

    settings: Settings
    database: Database
    harvester: Harvester
    metrics: Metrics
    #: Re-evaluates one open PR (installation, repository, number).
    refresh: Refresh
    reconcile: Reconcile | None = None
    clock: Callable[[], datetime] = utcnow
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    _settled_at: datetime | None = None
    _leading: bool | None = None
    _election: asyncio.Task[None] | None = None

    def __post_init__(self) -> None:
        self._leadership = HeldLock(self.database, LEADER_LOCK)
        self.metrics.help[LEADER_GAUGE] = "1 while this replica runs the scheduled jobs"

    async def lead(self) -> bool:
        """Take the lead if no replica has it, or check this one still has it; whether
        this replica runs the scheduled jobs now. Logged when that changes."""
        try:
            leading = await asyncio.to_thread(self._leadership.try_hold)
        except SQLAlchemyError:
            log.warning("could not ask the database who runs the scheduled jobs", exc_info=True)
            leading = False
        if leading != self._leading:
            if leading:
                log.info("leading: this replica runs the scheduled jobs")
            else:
                log.info("standing by: another replica runs the scheduled jobs")
            self.metrics.set(LEADER_GAUGE, 1.0 if leading else 0.0)
            self._leading = leading
        return leading

    async def run_as_leader(self, job: Job) -> bool:
        """Run ``job`` if this replica leads; whether it ran."""
        if not await self.lead():
            return False
        await job()
        return True

    def step_down(self) -> None:
        """Let another replica lead, for good (this one is shutting down)."""
        if self._election is not None:
            self._election.cancel()
        self._leadership.close()
        if self._leading:
            log.info("stepped down: this replica no longer runs the scheduled jobs")
        self._leading = False
        self.metrics.set(LEADER_GAUGE, 0.0)

    async def _elect(self) -> None:
        """Try to lead every few seconds: the gauge says who leads between job runs, and a
        dead leader is replaced as soon as a job is due. (A task of its own, not a
        scheduled job: apscheduler would log two lines at every try.)"""
        while True:
            await self.lead()
            await asyncio.sleep(ELECTION_INTERVAL)

    async def sweep(self) -> HarvestStats:
        """Read the reactions of every verdict comment whose PR is not final yet."""
        targets = await asyncio.to_thread(self._unsettled_targets)
        stats = await self.harvester.sweep(targets)
        self.metrics.inc("shadowbot_harvest_sweeps_total")
        return stats

    async def settle(self) -> SettleReport:
        """Sweep the PRs about to settle once more, settle, and show disabled rules."""
        async with self._lock:
            now = self.clock()
            due = await asyncio.to_thread(self._closing_targets, now)
            try:
                if due:
                    await self.harvester.sweep(due)
            except Exception:  # settling needs only the database: go on with what is known
                log.warning("could not read reactions before settling", exc_info=True)
            report = await asyncio.to_thread(settle_all, self.database, self.settings, now)
            self._settled_at = now
        self.metrics.inc("shadowbot_ledger_entries_total", report.entries)
        for change in report.changes:
            self.metrics.inc("shadowbot_rule_state_changes_total", to=change.after)
        for repository, installation, number in report.refresh:
            try:
                await self.refresh(installation, repository, number)
            except Exception:  # one PR's failure must not keep the others stale
                log.exception("could not show a disabled rule on %s#%d", repository, number)
        return report

    def start(self) -> AsyncIOScheduler:
        """Schedule the jobs, run by the leader only; shutting the scheduler down steps
        down."""
        scheduler = AsyncIOScheduler()
        every: list[tuple[Job, float]] = [
            (self.sweep, self.settings.harvest_interval),
            (self.settle, self.settings.settle_interval),
        ]
        if self.reconcile is not None:
            every.append((self.reconcile, self.settings.reconcile_interval))
        for job, seconds in every:
            scheduler.add_job(
                self.run_as_leader,
                "interval",
                args=[job],
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow() + timedelta(seconds=seconds),
                name=getattr(job, "__name__", repr(job)),
            )
        scheduler.add_listener(self._on_shutdown, EVENT_SCHEDULER_SHUTDOWN)
        scheduler.start()
        self._election = asyncio.get_running_loop().create_task(self._elect(), name="election")
        return scheduler

    def _on_shutdown(self, event: SchedulerEvent) -> None:
        self.step_down()

    def _unsettled_targets(self) -> list[Target]:
        """Verdict comments of PRs whose claims are not final: open, or closed within the
        longest window (grace period or revert window)."""
        policy = self.settings.live_policy()
        cutoff = self.clock() - max(policy.grace_period, policy.revert_window)
        closed_at = col(PullRequestRow.closed_at)
        with Session(self.database) as session:
            ids = session.exec(
                select(PullRequestRow.id).where(closed_at.is_(None) | (closed_at >= cutoff))
            )
            return open_targets(session, [i for i in ids if i is not None])

    def _closing_targets(self, now: datetime) -> list[Target]:
        """Verdict comments of the PRs whose grace period ran out since the last settlement:
        read once more before their claims settle (a reaction after it never counts)."""
        grace = self.settings.live_policy().grace_period
        since = self._settled_at or now - grace
        closed_at = col(PullRequestRow.closed_at)
        with Session(self.database) as session:
            ids = session.exec(
                select(PullRequestRow.id).where(closed_at > since - grace, closed_at <= now - grace)
            )
            return open_targets(session, [i for i in ids if i is not None])
