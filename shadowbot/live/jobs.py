"""The scheduled jobs of live mode, run by apscheduler on the event loop: the reaction
sweep, the settlement job, and the reconciler.

Each job does its I/O here and its deciding in :mod:`shadowbot.core` through
:mod:`shadowbot.live.settling`; a job that fails is logged and tried again at its next
run (apscheduler keeps the schedule), and the two never overlap themselves
(``max_instances=1``).
https://apscheduler.readthedocs.io/en/3.x/modules/triggers/interval.html
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session, col, select

from shadowbot.live.harvest import Harvester, HarvestStats, Target, open_targets
from shadowbot.live.settling import SettleReport, settle_all
from shadowbot.metrics import Metrics
from shadowbot.settings import Settings
from shadowbot.storage import PullRequestRow, utcnow

log = logging.getLogger(__name__)

Refresh = Callable[[int, str, int], Awaitable[None]]
Reconcile = Callable[[], Awaitable[object]]


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
        scheduler = AsyncIOScheduler()
        every: list[tuple[Callable[[], Awaitable[object]], float]] = [
            (self.sweep, self.settings.harvest_interval),
            (self.settle, self.settings.settle_interval),
        ]
        if self.reconcile is not None:
            every.append((self.reconcile, self.settings.reconcile_interval))
        for job, seconds in every:
            scheduler.add_job(
                job,
                "interval",
                seconds=seconds,
                max_instances=1,
                coalesce=True,
                next_run_time=utcnow() + timedelta(seconds=seconds),
            )
        scheduler.start()
        return scheduler

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
