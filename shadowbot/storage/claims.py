"""Stored deliveries, claimed for processing with a lease.

Several processes may share one database (PostgreSQL; SQLite is one process). Each takes
the deliveries it will process by claiming them: ``claimed_by`` names it, and
``claimed_until`` is the lease, renewed while the work lasts. A claim whose lease ran out
(its process died, or hangs) is taken over by whoever claims next. The rows are chosen
with ``FOR UPDATE SKIP LOCKED``, so two processes claiming at once take different ones.

A delivery is claimable when it is not processed, its ``not_before`` (a retry's time) has
passed, no lease holds it, and no older delivery of its ``subject`` (one pull request,
one head commit) is still unprocessed: one subject's deliveries run one at a time, in the
order GitHub sent them, while different subjects run side by side.

Everything about a delivery's retries lives in its row, so any process can take it up.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from shadowbot.storage.models import DeliveryRow

_TABLE: sa.Table = DeliveryRow.__table__  # type: ignore[attr-defined]


def claim(
    engine: Engine, owner: str, limit: int, now: datetime, lease: timedelta
) -> list[DeliveryRow]:
    """Claim up to ``limit`` deliveries for ``owner``, oldest first; the rows claimed."""
    t = _TABLE
    earlier = t.alias("earlier")
    blocked = sa.exists().where(
        earlier.c.subject == t.c.subject,
        earlier.c.processed_at.is_(None),
        earlier.c.id < t.c.id,
    )
    chosen = (
        sa.select(t.c.id)
        .where(
            t.c.processed_at.is_(None),
            sa.or_(t.c.not_before.is_(None), t.c.not_before <= now),
            sa.or_(t.c.claimed_until.is_(None), t.c.claimed_until < now),
            ~blocked,
        )
        .order_by(t.c.id)
        .limit(limit)
        .with_for_update(of=t, skip_locked=True)
    )
    with engine.begin() as connection:
        ids = [row[0] for row in connection.execute(chosen)]
        if not ids:
            return []
        connection.execute(
            sa.update(t)
            .where(t.c.id.in_(ids))
            .values(claimed_by=owner, claimed_until=now + lease, attempts=t.c.attempts + 1)
        )
        return _rows(connection, sa.select(t).where(t.c.id.in_(ids)).order_by(t.c.id))


def renew(engine: Engine, owner: str, ids: Collection[int], until: datetime) -> None:
    """Extend ``owner``'s leases on ``ids`` (those it still holds)."""
    if not ids:
        return
    t = _TABLE
    with engine.begin() as connection:
        connection.execute(
            sa.update(t)
            .where(t.c.id.in_(list(ids)), t.c.claimed_by == owner, t.c.processed_at.is_(None))
            .values(claimed_until=until)
        )


def release(engine: Engine, owner: str) -> None:
    """Let go of every claim ``owner`` holds (a clean stop): taken up again at once."""
    t = _TABLE
    with engine.begin() as connection:
        connection.execute(
            sa.update(t)
            .where(t.c.claimed_by == owner, t.c.processed_at.is_(None))
            .values(claimed_until=None)
        )


def _settle(engine: Engine, row_id: int, owner: str, **values: Any) -> bool:
    """Update a delivery ``owner`` holds; False when another process took it over."""
    t = _TABLE
    with engine.begin() as connection:
        result = connection.execute(
            sa.update(t)
            .where(t.c.id == row_id, t.c.claimed_by == owner, t.c.processed_at.is_(None))
            .values(**values)
        )
        return result.rowcount == 1


def finish(engine: Engine, row_id: int, owner: str, now: datetime, error: str | None) -> bool:
    """Record the delivery processed (``error``: why it failed for good)."""
    return _settle(engine, row_id, owner, processed_at=now, error=error, claimed_until=None)


def defer(engine: Engine, row_id: int, owner: str, until: datetime, reason: str) -> bool:
    """Let go of the delivery, to be tried again from ``until``."""
    return _settle(engine, row_id, owner, not_before=until, last_error=reason, claimed_until=None)


def give_up(engine: Engine, row_id: int, owner: str, now: datetime, reason: str) -> bool:
    """Stop trying: the delivery is kept with its reason, for the reconciler."""
    return _settle(
        engine,
        row_id,
        owner,
        processed_at=now,
        given_up_at=now,
        error=reason,
        last_error=reason,
        claimed_until=None,
    )


def later_of_subject(engine: Engine, row: DeliveryRow, limit: int = 500) -> list[DeliveryRow]:
    """The unprocessed deliveries of ``row``'s subject stored after it, oldest first."""
    if row.subject is None:
        return []
    t = _TABLE
    query = (
        sa.select(t)
        .where(t.c.subject == row.subject, t.c.id > row.id, t.c.processed_at.is_(None))
        .order_by(t.c.id)
        .limit(limit)
    )
    with engine.connect() as connection:
        return _rows(connection, query)


def supersede(engine: Engine, ids: Iterable[int], now: datetime) -> None:
    """Record deliveries processed that a later one of the same effect makes redundant."""
    _update(engine, ids, _TABLE.c.processed_at.is_(None), processed_at=now, claimed_until=None)


#: :func:`waiting`'s answer: the count, the oldest received, the soonest retry.
Waiting = tuple[int, datetime | None, datetime | None]


def waiting(engine: Engine) -> Waiting:
    """How many deliveries are not processed yet, when the oldest was received, and when
    the soonest deferred one may be tried again."""
    t = _TABLE
    query = sa.select(
        sa.func.count(), sa.func.min(t.c.received_at), sa.func.min(t.c.not_before)
    ).where(t.c.processed_at.is_(None))
    with engine.connect() as connection:
        count, oldest, retry = connection.execute(query).one()
    received = t.c.received_at.type
    return int(count), _as_datetime(received, engine, oldest), _as_datetime(received, engine, retry)


def _as_datetime(column_type: Any, engine: Engine, value: Any) -> datetime | None:
    """An aggregate's value read back as the column type reads it (SQLite gives text)."""
    if value is None or isinstance(value, datetime):
        return value
    process = column_type.result_processor(engine.dialect, None)
    return process(value) if process else value  # type: ignore[no-any-return]


#: Given up, and its pull request not yet taken up again by the reconciler.
_GIVEN_UP = sa.and_(_TABLE.c.given_up_at.is_not(None), _TABLE.c.reconciled_at.is_(None))


def given_up(engine: Engine, limit: int = 100) -> list[DeliveryRow]:
    """Deliveries given up whose pull requests the reconciler has not taken up again."""
    query = sa.select(_TABLE).where(_GIVEN_UP).order_by(_TABLE.c.id).limit(limit)
    with engine.connect() as connection:
        return _rows(connection, query)


def count_given_up(engine: Engine) -> int:
    query = sa.select(sa.func.count()).where(_GIVEN_UP)
    with engine.connect() as connection:
        return int(connection.execute(query).scalar_one())


def _rows(connection: sa.Connection, query: sa.Select[Any]) -> list[DeliveryRow]:
    return [DeliveryRow.model_validate(dict(r._mapping)) for r in connection.execute(query)]


def reconciled(engine: Engine, ids: Iterable[int], now: datetime) -> None:
    _update(engine, ids, sa.true(), reconciled_at=now)


def _update(engine: Engine, ids: Iterable[int], where: Any, **values: Any) -> None:
    """Set ``values`` on the deliveries ``ids`` that match ``where``."""
    wanted = list(ids)
    if wanted:
        with engine.begin() as connection:
            table = _TABLE
            connection.execute(
                sa.update(table).where(table.c.id.in_(wanted), where).values(**values)
            )
