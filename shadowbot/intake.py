"""Durable intake of webhook deliveries, and the events shadowbot acts on.

A delivery is stored before GitHub gets its answer, keyed by ``X-GitHub-Delivery`` so that
a redelivery is a no-op. Stores are grouped: concurrent deliveries wait for one commit
together, which keeps a burst fast on SQLite without answering before the data is safe.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shadowbot.background import Background
from shadowbot.storage import DeliveryRow, utcnow

log = logging.getLogger(__name__)

#: Events and the actions of each that shadowbot stores and processes (None: any action).
HANDLED: dict[str, frozenset[str] | None] = {
    "pull_request": frozenset(
        {
            "opened",
            "reopened",
            "synchronize",
            "edited",
            "ready_for_review",
            "converted_to_draft",
            "labeled",
            "unlabeled",
            "closed",
        }
    ),
    "pull_request_review": frozenset({"submitted", "edited", "dismissed"}),
    "check_run": frozenset({"completed"}),
    "check_suite": frozenset({"completed"}),
    "status": None,
    "issue_comment": frozenset({"created", "edited", "deleted"}),
    "installation": None,
    "installation_repositories": None,
    "ping": None,
}


def is_handled(event: str, action: str | None) -> bool:
    if event not in HANDLED:
        return False
    actions = HANDLED[event]
    return actions is None or action in actions


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    payload: str


class DeliveryStore(Background):
    """Stores deliveries in batches; ``await add(...)`` returns once it is committed."""

    task_name = "delivery-store"

    def __init__(self, engine: Engine, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self.stored = asyncio.Event()  # set whenever new deliveries were committed
        self.last_received = 0.0  # loop time of the latest delivery received

    async def add(self, delivery: Delivery) -> bool:
        """Store ``delivery``; ``False`` if it was stored before (a redelivery)."""
        loop = asyncio.get_running_loop()
        self.last_received = loop.time()
        future: asyncio.Future[bool] = loop.create_future()
        self._queue.append((delivery, future))
        self._wakeup.set()
        return await future

    async def run(self) -> None:
        while True:
            await self._wakeup.wait()
            self._wakeup.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: len(batch)]
                try:
                    fresh = await asyncio.to_thread(self._insert, [d for d, _ in batch])
                except Exception as exc:  # the requests in the batch answer 5xx; retried by GitHub
                    log.exception("storing %d deliveries failed", len(batch))
                    for _, future in batch:
                        future.set_exception(exc)
                    continue
                for delivery, future in batch:
                    future.set_result(delivery.delivery_id in fresh)
                if fresh:
                    self.stored.set()

    def _insert(self, deliveries: list[Delivery]) -> set[str]:
        """Insert the new ones in one transaction; return the ids that were new."""
        ids = {d.delivery_id for d in deliveries}
        table = DeliveryRow.__table__  # type: ignore[attr-defined]
        with self._engine.begin() as connection:
            known = set(
                connection.scalars(
                    sa.select(table.c.delivery_id).where(table.c.delivery_id.in_(ids))
                )
            )
            rows, fresh = [], set()
            for d in deliveries:
                if d.delivery_id in known or d.delivery_id in fresh:
                    continue
                fresh.add(d.delivery_id)
                rows.append(
                    {
                        "delivery_id": d.delivery_id,
                        "event": d.event,
                        "action": d.action,
                        "payload": d.payload,
                        "received_at": utcnow(),
                    }
                )
            if rows:
                connection.execute(sa.insert(table), rows)
        return fresh
