"""Opening the database, migrating it, and recording which rule versions exist.

Only SQLite and PostgreSQL are supported. Migrations are the hand-written Alembic scripts
in :func:`shadowbot.resources.bundled_path` ``("migrations")``, run without an
``alembic.ini``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session, col, select

from shadowbot.errors import RuleLoadError, StorageError
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule
from shadowbot.storage.models import RuleRow

_PASSWORD = re.compile(r"(://[^:/@]*:)[^@/]*@")
# Any fixed number works; it only has to be the same in every shadowbot process.
_MIGRATION_LOCK = 0x5AD0B07
#: How much of SQLite's write-ahead log is copied into the database at a time.
CHECKPOINT_BYTES = 1024 * 1024


def create_db_engine(url: str) -> Engine:
    """An engine for ``url`` whose database was reached once, or :class:`StorageError`."""
    shown = _PASSWORD.sub(r"\1***@", url)
    try:
        parsed = sa.make_url(url)
    except ArgumentError as exc:
        raise StorageError(
            f"database URL {shown} is not valid: use sqlite:///path/to/file.db"
            " or postgresql://user@host/database"
        ) from exc
    shown = parsed.render_as_string(hide_password=True)
    backend = parsed.get_backend_name()
    try:
        if backend == "sqlite":
            engine = _sqlite_engine(parsed, shown)
        elif backend in ("postgresql", "postgres"):
            engine = _postgresql_engine(parsed)
        else:
            raise StorageError(f"database URL {shown}: use sqlite or postgresql, not {backend}")
    except (ArgumentError, ImportError) as exc:  # an unknown or missing driver
        raise StorageError(f"database URL {shown}: {exc}") from exc
    try:
        with engine.connect():
            pass
    except SQLAlchemyError as exc:
        engine.dispose()
        raise StorageError(f"cannot open database {shown}: {_reason(exc, parsed)}") from exc
    return engine


def _sqlite_engine(url: URL, shown: str) -> Engine:
    database = url.database or ""
    if database not in ("", ":memory:") and not database.startswith("file:"):
        try:
            Path(database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"database {shown}: cannot create its folder: {exc}") from exc
    # The web server and the scheduler use the engine from more than one thread.
    engine = sa.create_engine(url, connect_args={"check_same_thread": False})
    sa.event.listen(engine, "connect", _configure_sqlite)
    sa.event.listen(engine, "begin", _begin_sqlite)
    return engine


def _configure_sqlite(dbapi_connection: Any, connection_record: Any) -> None:
    # The sqlite3 module begins transactions only before INSERT/UPDATE/DELETE, which leaves
    # DDL outside them and breaks SAVEPOINT; SQLAlchemy begins them instead (_begin_sqlite).
    # https://docs.sqlalchemy.org/en/20/dialects/sqlite.html#sqlite-transactions
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        # SQLite ignores foreign keys unless asked, on every connection.
        cursor.execute("PRAGMA foreign_keys = ON")
        # A new database gets 16 KiB pages (SQLite's default is 4): a stored webhook body
        # is 5-100 KB, which then spans a quarter of the overflow pages, each of which is
        # written twice (to the WAL, then to the database). It cuts the intake's commits
        # by about a third; an existing database keeps the page size it was created with.
        # https://www.sqlite.org/pragma.html#pragma_page_size
        cursor.execute("PRAGMA page_size = 16384")
        # Readers (the dashboard) do not block the writer (webhooks) and vice versa.
        cursor.execute("PRAGMA journal_mode = WAL")
        # The commit that fills the WAL past the mark copies it into the database, and the
        # deliveries in that commit wait for it: a checkpoint per MiB keeps that wait short
        # (SQLite's default mark is 1000 pages, 16 MiB here: a pause that showed in the
        # intake's p99). https://www.sqlite.org/wal.html#automatic_checkpoint
        page_size = cursor.execute("PRAGMA page_size").fetchone()[0]
        cursor.execute(f"PRAGMA wal_autocheckpoint = {max(CHECKPOINT_BYTES // page_size, 1)}")
    finally:
        cursor.close()


def _begin_sqlite(connection: Connection) -> None:
    # IMMEDIATE takes the write lock up front. A deferred transaction that reads and then
    # writes fails at once with "database is locked" when another connection committed in
    # between (WAL cannot upgrade a stale snapshot); an immediate one waits for the lock
    # up to the busy timeout instead. The intake and the worker write concurrently.
    # https://www.sqlite.org/lang_transaction.html#deferred_immediate_and_exclusive_transactions
    connection.exec_driver_sql("BEGIN IMMEDIATE")


def _postgresql_engine(url: URL) -> Engine:
    if "+" not in url.drivername:
        url = url.set(drivername="postgresql+psycopg")
    # An unreachable host would otherwise hang for the operating system's TCP timeout.
    connect_args = {} if "connect_timeout" in url.query else {"connect_timeout": 10}
    return sa.create_engine(url, connect_args=connect_args, pool_pre_ping=True)


def _reason(exc: SQLAlchemyError, url: URL | None = None) -> str:
    reason = str(exc.orig if isinstance(exc, DBAPIError) else exc).strip()
    if url is not None and url.password:
        reason = reason.replace(str(url.password), "***")
    return reason


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    # Config is a ConfigParser: a "%" in the folder's path would read as interpolation.
    location = str(bundled_path("migrations")).replace("%", "%%")
    config.set_main_option("script_location", location)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The revision this version of shadowbot expects."""
    scripts = _scripts()
    head = scripts.get_current_head()
    if head is None:
        raise StorageError(f"no migrations in {scripts.dir}")
    return head


@contextmanager
def migrated(url: str) -> Iterator[Engine]:
    """An engine on ``url`` upgraded to the latest schema, disposed of afterwards."""
    engine = create_db_engine(url)
    try:
        migrate(engine)
        yield engine
    finally:
        engine.dispose()


def current_revision(engine: Engine) -> str | None:
    """The database's revision; ``None`` for a database never migrated."""
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    except (SQLAlchemyError, CommandError) as exc:
        raise StorageError(f"cannot read the revision of database {_shown(engine)}: {exc}") from exc


def _refuse_unknown(revision: str | None, engine: Engine) -> None:
    """A revision from a newer shadowbot: migrating or running would be guesswork."""
    if revision is None:
        return
    try:
        _scripts().get_revision(revision)
    except CommandError as exc:
        raise StorageError(
            f"database {_shown(engine)} is at revision {revision}, which this version of"
            f" shadowbot does not know (it expects {head_revision()}): upgrade shadowbot"
        ) from exc


def migrate(engine: Engine) -> str:
    """Upgrade the database to the newest revision and return it."""
    _refuse_unknown(current_revision(engine), engine)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                # Two processes starting together would both try to create the tables; the
                # second waits here, then finds the database already at head.
                connection.execute(sa.select(sa.func.pg_advisory_xact_lock(_MIGRATION_LOCK)))
            command.upgrade(_alembic_config(connection), "head")
    except (SQLAlchemyError, CommandError) as exc:
        raise StorageError(f"cannot migrate database {_shown(engine)}: {exc}") from exc
    return head_revision()


def ensure_current(engine: Engine) -> None:
    """Refuse to run on a database that is not at the revision this code expects."""
    current = current_revision(engine)
    head = head_revision()
    if current == head:
        return
    _refuse_unknown(current, engine)
    raise StorageError(
        f"database {_shown(engine)} at revision {current or 'none'}, expected {head}:"
        " run `shadowbot migrate`"
    )


def register_rules(engine: Engine, rules: Iterable[Rule]) -> None:
    """Record rule versions not seen before; refuse a known version whose source changed.

    All or nothing: when one rule is refused, none is recorded.
    """
    ensure_current(engine)
    wanted = list(rules)
    try:
        try:
            _register(engine, wanted)
        except IntegrityError:
            # Another process recorded one of these versions between our read and our
            # write; reading again finds its row and compares the hash.
            _register(engine, wanted)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot record rules in database {_shown(engine)}: {_reason(exc)}"
        ) from exc


def _register(engine: Engine, rules: Sequence[Rule]) -> None:
    with Session(engine) as session, session.begin():
        names = {rule.name for rule in rules}
        rows = session.exec(select(RuleRow).where(col(RuleRow.name).in_(names))).all()
        known = {(row.name, row.version): row.source_hash for row in rows}
        changed: list[str] = []
        for rule in rules:
            stored = known.get((rule.name, rule.version))
            if stored is None:
                session.add(
                    RuleRow(
                        name=rule.name,
                        version=rule.version,
                        source_hash=rule.source_hash,
                        description=rule.description,
                    )
                )
                known[(rule.name, rule.version)] = rule.source_hash
            elif stored != rule.source_hash:
                changed.append(_changed_message(rule))
        if changed:
            raise RuleLoadError("\n".join(changed))


def _changed_message(rule: Rule) -> str:
    where = f" (file {rule.source_path})" if rule.source_path else ""
    return (
        f"rule {rule.name} version {rule.version} changed since it was recorded{where}:"
        " bump its version"
    )
