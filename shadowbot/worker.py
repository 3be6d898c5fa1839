"""Process stored deliveries, oldest first, one at a time.

One worker processes every delivery in the order it was stored, so deliveries of the same
pull request are handled in order. Deliveries left unprocessed by a crash are picked up
at the next start, because "processed" is only recorded after the handler finished.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shadowbot.background import Background
from shadowbot.metrics import Metrics
from shadowbot.storage import DeliveryRow, utcnow

log = logging.getLogger(__name__)

Handler = Callable[[DeliveryRow], Awaitable[None]]


class Worker(Background):
    task_name = "delivery-worker"

    def __init__(
        self, engine: Engine, handler: Handler, wakeup: asyncio.Event, metrics: Metrics
    ) -> None:
        self._engine = engine
        self._handler = handler
        self._wakeup = wakeup
        self._metrics = metrics
        self.idle = asyncio.Event()  # set while nothing is left to process

    async def run(self) -> None:
        while True:
            self._wakeup.clear()  # before looking, so a store during the look is not missed
            pending = await asyncio.to_thread(self._pending)
            if not pending:
                self.idle.set()
                await self._wakeup.wait()
                continue
            self.idle.clear()
            for delivery in pending:
                await self._process(delivery)

    async def _process(self, delivery: DeliveryRow) -> None:
        context = {"delivery": delivery.delivery_id, "event": delivery.event}
        error = None
        try:
            await self._handler(delivery)
            self._metrics.inc("shadowbot_deliveries_processed_total", event=delivery.event)
        except asyncio.CancelledError:
            raise  # shutting down: left unprocessed, picked up at the next start
        except Exception as exc:  # one bad delivery must not stop the others
            log.exception("processing a delivery failed", extra=context)
            error = f"{type(exc).__name__}: {exc}"[:2000]
            self._metrics.inc("shadowbot_errors_total", where="worker")
        await asyncio.to_thread(self._mark_processed, delivery.id, error)

    def _pending(self, limit: int = 100) -> list[DeliveryRow]:
        with Session(self._engine) as session:
            query = (
                select(DeliveryRow)
                .where(col(DeliveryRow.processed_at).is_(None))
                .order_by(col(DeliveryRow.id))
                .limit(limit)
            )
            rows = list(session.exec(query))
            session.expunge_all()
            return rows

    def _mark_processed(self, row_id: int | None, error: str | None) -> None:
        table = DeliveryRow.__table__  # type: ignore[attr-defined]
        with self._engine.begin() as connection:
            connection.execute(
                sa.update(table)
                .where(table.c.id == row_id)
                .values(processed_at=utcnow(), error=error)
            )
