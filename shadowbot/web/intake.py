"""Durable intake of webhook deliveries, and the events shadowbot acts on.

A delivery is stored before GitHub gets its answer, keyed by ``X-GitHub-Delivery`` so that
a redelivery is a no-op. Stores are grouped: concurrent deliveries wait for one commit
together, which keeps a burst fast on SQLite without answering before the data is safe.

This is the one hot path of the service (GitHub gives up on a delivery after 10 seconds,
and a busy repository sends bursts), so two things here are done below the usual layers,
each measured in docs/performance.md ("Webhook intake"): the body is checked to be JSON
without being built into Python objects, the body is compressed before it is written
(in the store's thread, not on the event loop), and the rows are written through the
database driver rather than through SQLAlchemy's statement execution.
"""

from __future__ import annotations

import asyncio
import logging
import re
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import simdjson
from sqlalchemy.engine import Engine

from shadowbot.background import Background
from shadowbot.storage import DeliveryRow, utcnow
from shadowbot.storage.bodies import compress_body

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


#: GitHub's delivery ids are GUIDs; other short printable ones are taken too (redelivery
#: tools and tests name theirs), but not text a database refuses to store or to index:
#: bytes that are not UTF-8, or an id longer than PostgreSQL indexes (2704 bytes).
_DELIVERY_ID = re.compile(r"[!-~]{1,200}")


def is_delivery_id(value: str) -> bool:
    return _DELIVERY_ID.fullmatch(value) is not None


def is_handled(event: str, action: str | None) -> bool:
    if event not in HANDLED:
        return False
    actions = HANDLED[event]
    return actions is None or action in actions


#: A body up to this size leaves the parser's buffers allocated for the next one; a larger
#: one (GitHub sends up to 25 MB) gets a parser of its own, so the process does not keep
#: buffers that size for good.
KEEP_PARSER_UP_TO = 1024 * 1024
UTF8_BOM = b"\xef\xbb\xbf"
_parsers = threading.local()


def read_delivery(body: bytes) -> tuple[str | None, str | None]:
    """The ``action`` of a webhook body and its subject (:func:`subject_of`);
    :class:`ValueError` when the body is not a JSON object, or its action no GitHub
    event has.

    The whole body is validated, its UTF-8 included, but only these are read out:
    building the objects of a 20-100 KB payload costs the intake more than everything
    else it does for a delivery, and the worker parses the stored body anyway.
    """
    if body.startswith(UTF8_BOM):  # JSON has none (RFC 8259, 8.1); the worker would refuse it
        raise ValueError("the body starts with a byte order mark")
    try:
        # ValueError (UnicodeDecodeError too) if not JSON; RuntimeError if it nests deeper
        # than simdjson's 1024 levels or holds an integer beyond 64 bits.
        document = _parser_for(body).parse(body)
    except RuntimeError as exc:
        raise ValueError(str(exc)) from None
    # A parser refuses to parse again while a view into its last document is alive, so
    # none is kept: not in a local, nor in the traceback of the error below.
    if not isinstance(document, simdjson.Object):
        del document
        raise ValueError("the body is JSON but not an object")
    action = document.get("action")
    subject = subject_of(document)
    del document
    if not isinstance(action, str):
        return None, subject
    if "\x00" in action:  # stored in a column of its own, which PostgreSQL's text refuses
        raise ValueError("the action holds a NUL character")
    return action, subject


def subject_of(document: simdjson.Object) -> str | None:
    """What a delivery is about, as the worker orders deliveries (one subject's one at a
    time, oldest first): ``owner/repo#number`` for a pull request or an issue (a check
    names its pull request when it has exactly one), ``owner/repo@sha`` for a head commit;
    None for anything else. Only text is returned: no view into the document is kept."""
    repository = _get(document, "repository")
    name = _get(repository, "full_name")
    del repository
    if not isinstance(name, str):
        return None
    for key in ("pull_request", "issue"):
        number = _get(_get(document, key), "number")
        if isinstance(number, int):
            return f"{name}#{number}"
    for key in ("check_run", "check_suite"):
        item = _get(document, key)
        if item is None:
            continue
        prs = _get(item, "pull_requests")
        if isinstance(prs, simdjson.Array) and len(prs) == 1:
            number = _get(prs[0], "number")
            if isinstance(number, int):
                return f"{name}#{number}"
        sha = _get(item, "head_sha")
        del prs, item
        return f"{name}@{sha}" if isinstance(sha, str) else None
    sha = _get(document, "sha")  # a status
    return f"{name}@{sha}" if isinstance(sha, str) else None


def _get(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, simdjson.Object) else None


def _parser_for(body: bytes) -> simdjson.Parser:
    if len(body) > KEEP_PARSER_UP_TO:
        return simdjson.Parser()
    parser: simdjson.Parser | None = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = simdjson.Parser()
    return parser


@dataclass(frozen=True, slots=True)
class Delivery:
    delivery_id: str
    event: str
    action: str | None
    #: The body exactly as received (the bytes its signature covers).
    body: bytes
    subject: str | None = None


class DeliveryStore(Background):
    """Stores deliveries in batches; ``await add(...)`` returns once it is committed."""

    task_name = "delivery-store"

    def __init__(self, engine: Engine, max_batch: int = 256) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._sql = _DriverSql.for_engine(engine)
        self._queue: list[tuple[Delivery, asyncio.Future[bool]]] = []
        self._wakeup = asyncio.Event()
        self.stored = asyncio.Event()  # set whenever new deliveries were committed
        self.last_received = 0.0  # loop time of the latest delivery received
        #: A thread of its own: the loop's shared threads run the worker's database calls,
        #: which under a burst for many pull requests may all be waiting (for SQLite's
        #: write lock, or a slow database), and no acknowledgement may wait behind them.
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="delivery-store")

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
                    fresh = await asyncio.get_running_loop().run_in_executor(
                        self._thread, self._insert, [d for d, _ in batch]
                    )
                except Exception as exc:  # the requests in the batch answer 5xx; retried by GitHub
                    log.exception("storing %d deliveries failed", len(batch))
                    for _, future in batch:
                        if not future.done():  # its request may be gone
                            future.set_exception(exc)
                    continue
                if fresh:
                    self.stored.set()
                for delivery, future in batch:
                    # A delivery sent twice in one batch is new only the first time.
                    if not future.done():  # its request may be gone: the row is stored
                        future.set_result(delivery.delivery_id in fresh)
                    fresh.discard(delivery.delivery_id)

    async def close(self) -> None:
        await super().close()
        self._thread.shutdown(wait=False)  # a batch being inserted still ends its transaction

    def _insert(self, deliveries: list[Delivery]) -> set[str]:
        """Insert the new ones in one statement; return the ids that were new.

        ``ON CONFLICT DO NOTHING``: another process sharing the database may store the
        same redelivery at the same moment, and neither must fail its whole batch. The
        rows inserted are those ``RETURNING`` gives back.

        Through the driver's own connection: SQLAlchemy's execution of the same
        statements costs about a millisecond of the event loop's time per batch, because
        this thread holds the GIL while it runs, where the driver releases it.
        """
        sql = self._sql
        received_at = sql.received_at(utcnow())
        unique = {d.delivery_id: d for d in reversed(deliveries)}  # the first of each id
        rows = [
            value
            for d in reversed(unique.values())
            for value in (d.delivery_id, d.event, d.action, _stored(d.body), received_at, d.subject)
        ]
        connection = self._engine.raw_connection()
        try:
            cursor = connection.cursor()
            if sql.begin:
                cursor.execute(sql.begin)
            cursor.execute(sql.insert(len(unique)), rows)
            fresh = {row[0] for row in cursor.fetchall()}
            connection.commit()
        except BaseException:
            connection.rollback()
            raise
        finally:
            connection.close()  # back to the pool
        return fresh


def _stored(body: bytes) -> bytes:
    """What the row keeps of a body: about a tenth of its size, so a commit writes and
    waits for that much less (docs/performance.md, "Webhook intake")."""
    return compress_body(body)


@dataclass(frozen=True)
class _DriverSql:
    """The store's statements in the driver's own parameter style: ``?`` for sqlite3,
    ``%s`` for psycopg (the only two drivers :func:`create_db_engine` opens)."""

    placeholder: str
    #: What starts a transaction, where the driver does not. On SQLite the same
    #: ``BEGIN IMMEDIATE`` as every other write (see ``storage.database``).
    begin: str | None
    #: The column type's own conversion, so the row reads back like any other.
    received_at: Callable[[datetime], Any]

    @classmethod
    def for_engine(cls, engine: Engine) -> _DriverSql:
        dialect = engine.dialect
        column = DeliveryRow.__table__.c.received_at  # type: ignore[attr-defined]
        # The type as this dialect implements it: on SQLite that includes writing the
        # datetime as SQLAlchemy's text, which the driver would otherwise do its own way.
        convert = column.type.dialect_impl(dialect).bind_processor(dialect)
        convert = convert or (lambda value: value)
        if dialect.name == "sqlite":
            return cls("?", "BEGIN IMMEDIATE", convert)
        return cls("%s", None, convert)

    def insert(self, count: int) -> str:
        row = "(" + ", ".join([self.placeholder] * 6) + ")"
        return (
            "INSERT INTO delivery (delivery_id, event, action, body_zstd, received_at, subject)"
            f" VALUES {', '.join([row] * count)}"
            " ON CONFLICT (delivery_id) DO NOTHING RETURNING delivery_id"
        )
