"""Fixtures shared by the test modules."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

# --- data_home: no test writes into the user's real data directory ----------------------


@pytest.fixture(autouse=True)
def data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The user data directory, where the default database lives: a fresh one per test.
    Commands the tests start inherit ``XDG_DATA_HOME``; platformdirs reads it on Linux only,
    so this process is also given the folder directly."""
    folder = tmp_path_factory.mktemp("data-home")
    monkeypatch.setenv("XDG_DATA_HOME", str(folder))
    monkeypatch.setattr("shadowbot.settings.user_data_path", lambda appname, **_: folder / appname)
    return folder


# --- app_key_pem: the simulated GitHub App's private key, one for the whole run ----------


@pytest.fixture(scope="session")
def app_key_pem() -> str:
    """Generating a 2048-bit RSA key takes ~40 ms: one per simulator would add up."""
    from shadowbot.simulator.auth import generate_private_key

    return generate_private_key()[1]


# --- database_url: every database test runs on SQLite and, when configured, PostgreSQL ---

POSTGRESQL_TEST_URL = "SHADOWBOT_TEST_DATABASE_URL"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database: a new SQLite file, or a new schema in the PostgreSQL
    database named by ``SHADOWBOT_TEST_DATABASE_URL`` (those tests are skipped without it)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'shadowbot.db'}"
        return
    server = os.environ.get(POSTGRESQL_TEST_URL)
    if not server:
        pytest.skip(f"{POSTGRESQL_TEST_URL} is not set: PostgreSQL runs of this test skipped")
    yield from _postgresql_schema(server)


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """A fresh schema as ``database_url`` gives, for tests of what only PostgreSQL does
    (several processes on one database); skipped without ``SHADOWBOT_TEST_DATABASE_URL``."""
    server = os.environ.get(POSTGRESQL_TEST_URL)
    if not server:
        pytest.skip(f"{POSTGRESQL_TEST_URL} is not set: PostgreSQL-only test skipped")
    yield from _postgresql_schema(server)


def _postgresql_schema(server: str) -> Iterator[str]:
    """A fresh schema, first on the search path of the URL yielded, dropped afterwards: tests
    (and engineers running them at once against one server) never see each other's tables."""
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    url = make_url(server)
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"shadowbot_test_{uuid.uuid4().hex[:16]}"
    schema = sql.Identifier(name)
    with psycopg.connect(libpq, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
    options = f"{url.query.get('options', '')} -csearch_path={name}".strip()
    try:
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(libpq, autocommit=True) as connection:
            # A connection a test left inside a transaction fails the drop, not hangs it.
            connection.execute("SET lock_timeout = '10s'")
            connection.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(schema))


# --- github_graphql_schema, axe_js: files of npm packages the tests check against -------

GITHUB_SCHEMA = "SHADOWBOT_GITHUB_GRAPHQL_SCHEMA"
OCTOKIT_SCHEMA = "@octokit/graphql-schema@15.26.1"
AXE_JS = "SHADOWBOT_AXE_JS"
AXE_CORE = "axe-core@4.14.1"


def npm_file(variable: str, package: str, path: str) -> Path:
    """The file the environment variable ``variable`` names (CI fetches it), or else
    ``path`` in the npm package ``package``, installed once into the user's cache folder."""
    named = os.environ.get(variable)
    if named:
        return Path(named)
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    folder = cache / "shadowbot-tests" / package.replace("/", "-")
    found = folder / "node_modules" / path
    if not found.exists():
        import shutil
        import subprocess

        npm = shutil.which("npm")
        if npm is None:
            pytest.fail(f"{variable} is not set and npm is missing to fetch {package}")
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--silent", "--no-save", "--no-package-lock", "--no-audit",
             "--no-fund", package],
            cwd=folder,
            check=True,
        )  # fmt: skip
    return found


@pytest.fixture(scope="session")
def github_graphql_schema() -> Path:
    """GitHub's published ``schema.graphql``."""
    return npm_file(GITHUB_SCHEMA, OCTOKIT_SCHEMA, "@octokit/graphql-schema/schema.graphql")


@pytest.fixture(scope="session")
def axe_js() -> str:
    """The source of the axe-core accessibility checker, ``axe.min.js``."""
    return npm_file(AXE_JS, AXE_CORE, "axe-core/axe.min.js").read_text(encoding="utf-8")
