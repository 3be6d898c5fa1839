"""Alembic environment for shadowbot.

shadowbot runs migrations itself (``shadowbot migrate``, :func:`shadowbot.storage.migrate`)
with no ``alembic.ini``: the caller hands over an open connection in
``config.attributes["connection"]``, or else a URL in the ``sqlalchemy.url`` option. The
environment is never consulted, so a stray ``DATABASE_URL`` cannot redirect a migration.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import shadowbot.storage.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
# Only for drafting a new migration with `alembic revision --autogenerate`; every migration
# is written out by hand and none is generated at run time.
target_metadata = SQLModel.metadata


def run_offline(url: str) -> None:
    """Print the SQL (``alembic upgrade --sql``) instead of running it."""
    context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite can alter little in place: future migrations copy and rename its tables.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_online(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database: pass a connection or set sqlalchemy.url")
    if context.is_offline_mode():
        run_offline(url)
        return
    # Imported here so that offline mode needs no driver.
    from shadowbot.storage.database import create_db_engine

    engine = create_db_engine(url)
    try:
        with engine.begin() as connection:
            run_online(connection)
    finally:
        engine.dispose()


main()
