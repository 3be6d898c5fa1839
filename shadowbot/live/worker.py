"""Process stored deliveries, oldest first, one at a time.

One worker processes every delivery in the order it was stored, so deliveries of the same
pull request are handled in order. Deliveries left unprocessed by a crash are picked up
at the next start, because "processed" is only recorded after the handler finished.
A delivery that failed because GitHub could not be reached or was rate limiting is tried
again later, a few times, before it is recorded as failed: GitHub sends no event again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

import sqlalchemy as sa
from gidgethub import GitHubBroken, RateLimitExceeded
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shadowbot.background import Background
from shadowbot.github.client import GitHubUnavailable
from shadowbot.metrics import Metrics
from shadowbot.storage import DeliveryRow, utcnow

log = logging.getLogger(__name__)

Handler = Callable[[DeliveryRow], Awaitable[None]]
#: What a delivery would make the bot redo, if that is all it does (e.g. "evaluate PR 7
#: of o/r"); two deliveries with the same key have the same effect once both are seen.
CoalesceKey = Callable[[DeliveryRow], str | None]


@dataclass(frozen=True, slots=True)
class Processing:
    """How stored deliveries are processed: the handler, and optionally which of them
    a later one makes redundant."""

    handle: Handler
    coalesce_key: CoalesceKey | None = None


#: Errors worth another try later: GitHub unreachable, failing or rate limiting.
TRANSIENT: tuple[type[Exception], ...] = (GitHubUnavailable, GitHubBroken, RateLimitExceeded)
#: Seconds before each further try of a delivery that failed transiently.
RETRY_DELAYS: tuple[float, ...] = (5.0, 30.0, 120.0)
#: Under a burst of deliveries the worker waits for a pause this long before it works...
QUIET = 0.05
#: ...but never longer than this: processing is deferred, never starved.
MAX_DEFER = 2.0


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
    ) -> None:
        self._engine = engine
        self._last_received = last_received
        self._handler = handler
        self._coalesce_key = coalesce_key
        self._wakeup = wakeup
        self._metrics = metrics
        self.idle = asyncio.Event()  # set while nothing is left to process now
        self._attempts: dict[int, int] = {}
        self._retry_at: dict[int, float] = {}

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            self._wakeup.clear()  # before looking, so a store during the look is not missed
            await self._yield_to_intake()
            deferred = {i for i, at in self._retry_at.items() if at > loop.time()}
            pending = await asyncio.to_thread(self._pending, deferred)
            if not pending:
                self.idle.set()
                due = min((self._retry_at[i] for i in deferred), default=None)
                timeout = None if due is None else max(due - loop.time(), 0.0)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), timeout)
                self.idle.clear()  # woken: something may be waiting
                continue
            self.idle.clear()
            # In a thread: finding the keys parses each queued payload.
            pending, superseded = await asyncio.to_thread(self._coalesce, pending)
            self._metrics.inc("shadowbot_deliveries_coalesced_total", len(superseded))
            if superseded:
                await asyncio.to_thread(self._mark_superseded, superseded)
            for delivery in pending:
                await self._process(delivery)

    async def _yield_to_intake(self) -> None:
        """Let a burst of deliveries be acknowledged first: the acknowledgement is what
        GitHub times out on, and the deliveries queued meanwhile coalesce."""
        if self._last_received is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + MAX_DEFER
        while loop.time() - self._last_received() < QUIET and loop.time() < deadline:
            await asyncio.sleep(QUIET)

    def _coalesce(self, pending: list[DeliveryRow]) -> tuple[list[DeliveryRow], list[int]]:
        """Drop the deliveries a later one in the batch makes redundant: under a burst of
        pushes, checks and reviews a PR is evaluated once, on its newest state. The kept
        ones, and the ids of the dropped ones."""
        if self._coalesce_key is None:
            return pending, []
        keys = [self._coalesce_key(delivery) for delivery in pending]
        last = {key: i for i, key in enumerate(keys) if key is not None}
        kept, superseded = [], []
        for i, (delivery, key) in enumerate(zip(pending, keys, strict=True)):
            if key is None or last[key] == i:
                kept.append(delivery)
            elif delivery.id is not None:
                superseded.append(delivery.id)
        return kept, superseded

    async def _process(self, delivery: DeliveryRow) -> None:
        context = {"delivery": delivery.delivery_id, "event": delivery.event}
        error = None
        try:
            await self._handler(delivery)
            self._metrics.inc("shadowbot_deliveries_processed_total", event=delivery.event)
        except asyncio.CancelledError:
            raise  # shutting down: left unprocessed, picked up at the next start
        except TRANSIENT as exc:
            if self._defer(delivery, exc):
                return
            error = f"{type(exc).__name__}: {exc}"[:2000]
            self._metrics.inc("shadowbot_errors_total", where="github")
        except Exception as exc:  # one bad delivery must not stop the others
            log.exception("processing a delivery failed", extra=context)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            self._metrics.inc("shadowbot_errors_total", where="worker")
        self._attempts.pop(delivery.id or 0, None)
        self._retry_at.pop(delivery.id or 0, None)
        await asyncio.to_thread(self._mark_processed, delivery.id, error)

    def _defer(self, delivery: DeliveryRow, exc: Exception) -> bool:
        """Schedule another try of ``delivery``; False once its tries are used up."""
        assert delivery.id is not None
        attempt = self._attempts.get(delivery.id, 0)
        if attempt >= len(RETRY_DELAYS):
            self._attempts.pop(delivery.id, None)
            self._retry_at.pop(delivery.id, None)
            return False
        self._attempts[delivery.id] = attempt + 1
        delay = RETRY_DELAYS[attempt]
        self._retry_at[delivery.id] = asyncio.get_running_loop().time() + delay
        log.warning(
            "GitHub failed (%s); trying the delivery again in %.0f s",
            type(exc).__name__,
            delay,
            extra={"delivery": delivery.delivery_id},
        )
        self._metrics.inc("shadowbot_delivery_retries_total")
        return True

    def _pending(self, deferred: set[int], limit: int = 100) -> list[DeliveryRow]:
        with Session(self._engine) as session:
            query = (
                select(DeliveryRow)
                .where(
                    col(DeliveryRow.processed_at).is_(None),
                    col(DeliveryRow.id).not_in(deferred),
                )
                .order_by(col(DeliveryRow.id))
                .limit(limit)
            )
            rows = list(session.exec(query))
            session.expunge_all()
            return rows

    def _mark_superseded(self, row_ids: list[int]) -> None:
        table = DeliveryRow.__table__  # type: ignore[attr-defined]
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(table).where(table.c.id.in_(row_ids)).values(processed_at=utcnow())
            )

    def _mark_processed(self, row_id: int | None, error: str | None) -> None:
        table = DeliveryRow.__table__  # type: ignore[attr-defined]
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values(processed_at=utcnow(), error=error)
            )
