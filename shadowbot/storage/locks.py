"""PostgreSQL advisory locks between the replicas of one deployment, as context managers.

On SQLite there is one process by design, so every lock is granted at once and nothing
is sent to the database.

The key space. A lock is named by text, and PostgreSQL's lock is the signed 64-bit
BLAKE2b hash of ``"<schema>:<name>"``, where the schema is the connection's
``current_schema()``: advisory locks belong to a whole database, and two deployments (or
two test runs) in separate schemas of one database must not share theirs. The names:

- ``jobs:leader`` — held by the replica that runs the scheduled jobs (harvest,
  settlement, reconciler), on a connection of its own, for as long as it lives;
- ``comment:<owner>/<repo>#<number>`` (lower case) — held while one replica finds the
  bot's verdict comments on that pull request and writes them.

Migrations take a lock of their own, with a fixed number (see :mod:`.database`).
A hash can collide; two names that did would only wait for each other more than needed.
https://www.postgresql.org/docs/current/explicit-locking.html#ADVISORY-LOCKS
"""

from __future__ import annotations

import asyncio
import hashlib
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from types import TracebackType
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

T = TypeVar("T")

#: The first wait before asking again for a lock another replica holds, and the longest.
FIRST_POLL = 0.02
MAX_POLL = 0.25


def lock_number(schema: str, name: str) -> int:
    """PostgreSQL's ``bigint`` for the lock ``name`` of the deployment in ``schema``; the
    same in every process and every Python version (unlike ``hash()``)."""
    digest = hashlib.blake2b(f"{schema}:{name}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _number(connection: Connection, name: str) -> int:
    schema = connection.execute(sa.select(sa.func.current_schema())).scalar()
    return lock_number(str(schema or ""), name)


def _on_postgresql(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


class HeldLock:
    """A session-level advisory lock tried, never waited for, on a connection of its own,
    and held until :meth:`close` or until that connection ends: when the process dies,
    PostgreSQL closes its session and releases the lock, and another process's next try
    takes it. Thread-safe; its methods block (call them through ``asyncio.to_thread``)."""

    def __init__(self, engine: Engine, name: str) -> None:
        self._engine = engine
        self._name = name
        self._connection: Connection | None = None
        self._mutex = threading.Lock()
        self._closed = False

    def try_hold(self) -> bool:
        """Take the lock if it is free; whether this process holds it now. Raises the
        database's error when it cannot be asked."""
        if not _on_postgresql(self._engine):
            return not self._closed
        with self._mutex:
            if self._closed:
                return False
            if self._connection is not None:
                try:
                    # Held while the session lives; asking again would stack a second hold.
                    self._connection.execute(sa.text("SELECT 1"))
                    return True
                except DBAPIError:
                    self._drop()  # the session ended, and the lock with it
            # Autocommit: a session idle in a transaction for hours would hold back vacuum.
            connection = self._engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            try:
                number = _number(connection, self._name)
                held = connection.execute(sa.select(sa.func.pg_try_advisory_lock(number))).scalar()
            except BaseException:
                connection.invalidate()
                connection.close()
                raise
            if not held:
                connection.close()
                return False
            self._connection = connection
            return True

    def close(self) -> None:
        """Let the lock go for good: a try still running, or any later, takes nothing."""
        with self._mutex:
            self._closed = True
            self._drop()

    def _drop(self) -> None:
        if self._connection is not None:
            # Closed for good, not returned to the pool: the lock goes with the session.
            self._connection.invalidate()
            self._connection.close()
            self._connection = None

    def __enter__(self) -> HeldLock:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class _Pinned:
    """A connection used from worker threads one call at a time, so that closing it waits
    for a call still running after its caller was cancelled."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self._mutex = threading.Lock()

    async def run(self, call: Callable[[Connection], T]) -> T:
        return await asyncio.to_thread(self._locked, call)

    def _locked(self, call: Callable[[Connection], T]) -> T:
        with self._mutex:
            return call(self.connection)


@asynccontextmanager
async def advisory_lock(engine: Engine, name: str) -> AsyncIterator[None]:
    """Hold the lock ``name`` across the block, waiting (on the event loop, not in a
    thread) while another process holds it. A transaction-level lock: however the block
    ends, or the process, the lock ends with the transaction. The block keeps one pooled
    connection meanwhile."""
    if not _on_postgresql(engine):
        yield
        return
    pinned = _Pinned(await _connect(engine))
    try:
        number = await pinned.run(lambda connection: _number(connection, name))
        wait = FIRST_POLL
        while not await pinned.run(lambda connection: _try_xact(connection, number)):
            await asyncio.sleep(wait)
            wait = min(wait * 2, MAX_POLL)
        yield
    finally:
        # Back to the pool, which rolls the transaction back: the lock is released.
        await pinned.run(lambda connection: connection.close())


async def _connect(engine: Engine) -> Connection:
    """A pooled connection; given back if the caller is cancelled while it opens."""
    opening = asyncio.ensure_future(asyncio.to_thread(engine.connect))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_give_back)
        raise


def _give_back(opened: asyncio.Future[Connection]) -> None:
    if not opened.cancelled() and opened.exception() is None:
        opened.result().close()


def _try_xact(connection: Connection, number: int) -> bool:
    return bool(connection.execute(sa.select(sa.func.pg_try_advisory_xact_lock(number))).scalar())
