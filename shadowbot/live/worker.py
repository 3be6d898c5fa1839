"""Process stored deliveries: several at a time, one subject's in order, nothing lost.

The worker claims deliveries from the database with a lease (:mod:`shadowbot.storage.claims`)
and processes up to ``slots`` of them at once, each in its own task: a slow GitHub answer
for one pull request delays no other. One subject's deliveries (a pull request's, a head
commit's) are claimed one at a time, oldest first, so they are handled in order. Several
processes may share the database: each delivery is processed by the one that claimed it,
and a claim whose process died is taken over once its lease runs out.

When GitHub fails, the delivery is let go and tried again later — never waited for
inside a slot:

- a rate limit: from the time GitHub said it lifts, however long (no claim is made by
  this process meanwhile, since every request would be refused);
- GitHub unreachable, a 5xx, a token refused: with a growing backoff and jitter, until
  :data:`GIVE_UP_AFTER` has passed since the delivery arrived;
- anything else (a 422, a bug): not tried again.

A delivery given up is kept with its reason, and its pull request is taken up again by
the reconciler; ``/healthz`` and ``/metrics`` show what is going on meanwhile
(:mod:`shadowbot.health`). Deliveries left unprocessed by a crash are taken up again: a
delivery is recorded processed only after its handler finished.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import random
import socket
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from gidgethub import BadRequest, GitHubBroken, RateLimitExceeded
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from shadowbot.background import Background
from shadowbot.github.client import GitHubUnavailable
from shadowbot.github.pacing import RateLimited
from shadowbot.health import DATABASE, GIVEN_UP, RATE_LIMITED, UNREACHABLE, WAITING, Health
from shadowbot.metrics import Metrics
from shadowbot.storage import DeliveryRow, claims, utcnow
from shadowbot.storage.claims import Waiting

log = logging.getLogger(__name__)

Handler = Callable[[DeliveryRow], Awaitable[None]]
#: What a delivery would make the bot redo, if that is all it does (e.g. "evaluate PR 7
#: of o/r"); two deliveries with the same key have the same effect once both are seen.
CoalesceKey = Callable[[DeliveryRow], str | None]


@dataclass(frozen=True, slots=True)
class Processing:
    """How stored deliveries are processed: the handler, optionally which of them a
    later one makes redundant, and an event set once the handler can work (e.g. once
    the app's identity was learned from GitHub)."""

    handle: Handler
    coalesce_key: CoalesceKey | None = None
    ready: asyncio.Event | None = None


#: Deliveries processed at once by one process.
SLOTS = 8
#: A claim lasts this long (``SHADOWBOT_DELIVERY_LEASE``), renewed every third of it while
#: the delivery is processed.
LEASE = timedelta(seconds=60)
#: GitHub failing (unreachable, 5xx, a token refused): tried again after a backoff that
#: doubles from the first to the last, with jitter...
BACKOFF = (5.0, 600.0)
#: ...until the delivery is this old; then it is given up, to the reconciler.
GIVE_UP_AFTER = timedelta(hours=6)
#: Deliveries waiting longer than this make the service "degraded".
WAITING_AFTER = timedelta(seconds=60)
#: On PostgreSQL other processes store deliveries this one hears nothing of: look this often.
POLL = 1.0
#: Under a burst of deliveries the worker waits for a pause this long before it claims...
QUIET = 0.05
#: ...but never longer than this: processing is deferred, never starved.
MAX_DEFER = 2.0


def replica_name() -> str:
    """This process's name in the claims it makes: host, process id and a nonce (a pid
    is reused after a restart)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Worker(Background):
    task_name = "delivery-worker"

    def __init__(
        self,
        engine: Engine,
        handler: Handler,
        wakeup: asyncio.Event,
        metrics: Metrics,
        coalesce_key: CoalesceKey | None = None,
        last_received: Callable[[], float] | None = None,
        *,
        health: Health | None = None,
        ready: asyncio.Event | None = None,
        slots: int = SLOTS,
        owner: str | None = None,
        lease: timedelta = LEASE,
    ) -> None:
        self._engine = engine
        self._handler = handler
        self._wakeup = wakeup
        self._metrics = metrics
        self._coalesce_key = coalesce_key
        self._last_received = last_received
        self._health = health or Health(metrics)
        self._ready = ready
        self.slots = slots
        self.lease = lease
        self.owner = owner or replica_name()
        self._polls = engine.dialect.name != "sqlite"
        self.idle = asyncio.Event()  # set while nothing is left to process now
        self._running: dict[int, asyncio.Task[None]] = {}
        self._paused_until: datetime | None = None
        self._next_look = 0.0

    async def run(self) -> None:
        if self._ready is not None:
            await self._ready.wait()
        renewing = asyncio.create_task(self._renew_leases(), name="delivery-leases")
        try:
            await self._loop()
        finally:
            renewing.cancel()
            running = list(self._running.values())
            for task in running:
                task.cancel()  # left unprocessed, and let go: taken up again at once
            await asyncio.gather(renewing, *running, return_exceptions=True)
            with contextlib.suppress(Exception):  # else its lease runs out first
                await asyncio.to_thread(claims.release, self._engine, self.owner)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            try:
                await self._pass(loop.time())
            except SQLAlchemyError as exc:  # the database restarting, failing over: wait
                failures += 1
                delay = min(2.0**failures, 60.0) * random.uniform(0.5, 1.5)
                log.warning("the database failed (%s); looking again in %.0f s", exc, delay)
                self._health.report(DATABASE, f"the database failed: {type(exc).__name__}")
                await asyncio.sleep(delay)
            else:
                if failures:
                    failures = 0
                    self._health.clear(DATABASE)

    async def _pass(self, at: float) -> None:
        """Claim what can be claimed, look at the health, wait for something to change."""
        self._wakeup.clear()  # before looking, so a store during the look is not missed
        await self._yield_to_intake()
        claimed = await self._claim()
        waiting = await self._look_at_health(at)
        if claimed and len(self._running) < self.slots:
            return  # there may be more to claim right away
        timeout = await self._wait_timeout(waiting)
        # Idle only now, with nothing awaited before the wait: a delivery stored during
        # any look above has set the wakeup, and the worker is not idle then.
        if not self._running and not self._wakeup.is_set():
            self.idle.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)
            self.idle.clear()  # woken: something may be waiting

    async def _claim(self) -> list[DeliveryRow]:
        now = utcnow()
        if self._paused_until is not None:
            if now < self._paused_until:
                return []
            self._paused_until = None  # the limit lifted: claims go on
            self._health.clear(RATE_LIMITED)
        free = self.slots - len(self._running)
        if free <= 0:
            return []
        rows = await asyncio.to_thread(
            claims.claim, self._engine, self.owner, free, now, self.lease
        )
        for row in rows:
            assert row.id is not None
            self.idle.clear()
            task = asyncio.create_task(self._guarded(row), name=f"delivery-{row.id}")
            self._running[row.id] = task
            task.add_done_callback(functools.partial(self._done, row.id))
        return rows

    def _done(self, row_id: int, task: asyncio.Task[None]) -> None:
        self._running.pop(row_id, None)
        self._wakeup.set()  # a slot is free, and the subject's next delivery may go

    async def _wait_timeout(self, waiting: Waiting | None) -> float | None:
        """How long to wait for a delivery stored or finished: until a retry comes due,
        or (PostgreSQL) the next look for what other processes stored. ``waiting`` is
        what the health look of this pass read, if it looked."""
        timeout = POLL if self._polls else None
        if waiting is None:
            waiting = await asyncio.to_thread(claims.waiting, self._engine)
        retry = waiting[2]
        if self._paused_until is not None:
            retry = max(retry, self._paused_until) if retry else self._paused_until
        if retry is not None:
            seconds = max((retry - utcnow()).total_seconds(), 0.05)
            timeout = seconds if timeout is None else min(timeout, seconds)
        return timeout

    async def _yield_to_intake(self) -> None:
        """Let a burst of deliveries be acknowledged first: the acknowledgement is what
        GitHub times out on, and the deliveries queued meanwhile coalesce."""
        if self._last_received is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_DEFER
        while loop.time() - self._last_received() < QUIET and loop.time() < deadline:
            await asyncio.sleep(QUIET)

    async def _renew_leases(self) -> None:
        while True:
            await asyncio.sleep(self.lease.total_seconds() / 3)
            if self._running:
                with contextlib.suppress(Exception):  # the next renewal tries again
                    await asyncio.to_thread(
                        claims.renew,
                        self._engine,
                        self.owner,
                        list(self._running),
                        utcnow() + self.lease,
                    )

    # -- one delivery ------------------------------------------------------------------

    async def _guarded(self, row: DeliveryRow) -> None:
        """Process ``row``; the database failing while recording what happened leaves it
        claimed, taken up again once its lease runs out."""
        try:
            await self._process(row)
        except SQLAlchemyError as exc:
            log.warning("recording delivery %s failed (%s); it is tried again", row.id, exc)

    async def _process(self, row: DeliveryRow) -> None:
        assert row.id is not None
        if await self._superseded(row):
            return
        context = {"delivery": row.delivery_id, "event": row.event}
        try:
            await self._handler(row)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # one bad delivery must not stop the others
            await self._failed(row, exc, context)
            return
        self._metrics.inc("shadowbot_deliveries_processed_total", event=row.event)
        self._health.clear(UNREACHABLE)
        await asyncio.to_thread(claims.finish, self._engine, row.id, self.owner, utcnow(), None)

    async def _superseded(self, row: DeliveryRow) -> bool:
        """Drop ``row`` when a later delivery of its subject has the same effect (under a
        burst of pushes, checks and reviews a PR is evaluated once, on its newest state),
        with the later ones of that effect but the last."""
        if self._coalesce_key is None or row.subject is None:
            return False
        key = await asyncio.to_thread(self._coalesce_key, row)
        if key is None:
            return False
        coalesce_key = self._coalesce_key

        def same_effect() -> list[int]:  # in a thread: a key decompresses and parses a body
            later = claims.later_of_subject(self._engine, row)
            return [d.id for d in later if d.id is not None and coalesce_key(d) == key]

        alike = await asyncio.to_thread(same_effect)
        if not alike:
            return False
        dropped = [cast_id(row), *alike[:-1]]
        await asyncio.to_thread(claims.supersede, self._engine, dropped, utcnow())
        self._metrics.inc("shadowbot_deliveries_coalesced_total", len(dropped))
        return True

    async def _failed(self, row: DeliveryRow, exc: Exception, context: dict[str, str]) -> None:
        assert row.id is not None
        now = utcnow()
        reason = reason_of(exc)
        until = _rate_limit_lifts(exc)
        if until is not None:
            self._paused_until = until
            shown = until.strftime("%Y-%m-%d %H:%M:%S UTC")
            self._health.report(RATE_LIMITED, f"rate-limited by GitHub until {shown}")
            self._metrics.inc("shadowbot_delivery_retries_total", why="rate_limit")
            log.warning("GitHub rate limits until %s; the delivery waits", shown, extra=context)
            jitter = timedelta(seconds=random.uniform(0, 2))
            await asyncio.to_thread(
                claims.defer, self._engine, row.id, self.owner, until + jitter, reason
            )
            return
        if _transient(exc) and now - row.received_at < GIVE_UP_AFTER:
            if isinstance(exc, GitHubUnavailable | GitHubBroken):
                since = self._health.since(UNREACHABLE) or now
                shown = since.strftime("%Y-%m-%d %H:%M:%S UTC")
                self._health.report(UNREACHABLE, f"GitHub unreachable or failing since {shown}")
            delay = backoff(row.attempts)
            self._metrics.inc("shadowbot_delivery_retries_total", why="github")
            log.warning(
                "GitHub failed (%s); trying the delivery again in %.0f s",
                type(exc).__name__,
                delay,
                extra=context,
            )
            await asyncio.to_thread(
                claims.defer,
                self._engine,
                row.id,
                self.owner,
                now + timedelta(seconds=delay),
                reason,
            )
            return
        if _transient(exc):
            log.error("gave up on a delivery after %s: %s", GIVE_UP_AFTER, reason, extra=context)
            self._metrics.inc("shadowbot_errors_total", where="github")
        else:
            log.error("processing a delivery failed", exc_info=exc, extra=context)
            self._metrics.inc("shadowbot_errors_total", where="worker")
        self._metrics.inc("shadowbot_deliveries_given_up_total")
        await asyncio.to_thread(claims.give_up, self._engine, row.id, self.owner, now, reason)
        self._next_look = 0.0  # shown at once

    # -- health ------------------------------------------------------------------------

    async def _look_at_health(self, at: float) -> Waiting | None:
        """Every few seconds: how many deliveries wait, and how many were given up; what
        :func:`claims.waiting` read (None when it was not time to look)."""
        if at < self._next_look:
            return None
        self._next_look = at + 5.0
        now = utcnow()
        waiting = await asyncio.to_thread(claims.waiting, self._engine)
        count, oldest, _ = waiting
        given_up = await asyncio.to_thread(claims.count_given_up, self._engine)
        self._metrics.set("shadowbot_deliveries_waiting", count)
        self._metrics.set("shadowbot_deliveries_given_up", given_up)
        if count and oldest is not None and now - oldest > WAITING_AFTER:
            self._health.report(WAITING, f"{count} deliveries waiting")
        else:
            self._health.clear(WAITING)
        if given_up:
            self._health.report(
                GIVEN_UP, f"{given_up} deliveries given up, waiting for the reconciler"
            )
        else:
            self._health.clear(GIVEN_UP)
        return waiting


def reason_of(exc: Exception) -> str:
    """What went wrong, as kept with the delivery: GitHub's status code where it gave one."""
    status = getattr(exc, "status_code", None)
    said = f"GitHub answered {int(status)}: " if status is not None else ""
    return f"{said}{type(exc).__name__}: {exc}"[:2000]


def backoff(attempts: int) -> float:
    """Seconds before the next try after ``attempts`` tries: doubling from BACKOFF[0] to
    BACKOFF[1], with ±50% jitter so that replicas do not retry in step."""
    first, most = BACKOFF
    base = min(first * 2.0 ** max(attempts - 1, 0), most)
    return base * random.uniform(0.5, 1.5)


def _rate_limit_lifts(exc: Exception) -> datetime | None:
    if isinstance(exc, RateLimited):
        return datetime.fromtimestamp(exc.until, UTC)
    if isinstance(exc, RateLimitExceeded):
        reset: datetime = exc.rate_limit.reset_datetime
        return reset
    return None


def _transient(exc: Exception) -> bool:
    """GitHub unreachable or failing, or refusing the app's token, or the database busy
    or in a race with another process (a row inserted at the same moment, a lock, a
    serialization failure): worth another try."""
    if isinstance(exc, GitHubUnavailable | GitHubBroken | IntegrityError | OperationalError):
        return True
    return isinstance(exc, BadRequest) and exc.status_code == 401


def cast_id(row: DeliveryRow) -> int:
    assert row.id is not None
    return row.id
