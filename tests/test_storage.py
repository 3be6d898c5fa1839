"""The database layer, on SQLite and (with SHADOWBOT_TEST_DATABASE_URL) on PostgreSQL."""

from __future__ import annotations

import contextlib
import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.exc import IntegrityError, StatementError
from sqlmodel import Session, SQLModel, col, select

from shadowbot import checks
from shadowbot.errors import RuleLoadError, StorageError
from shadowbot.rules import Rule
from shadowbot.storage import (
    DeliveryRow,
    LedgerEntryRow,
    OutcomeRow,
    PullRequestRow,
    RepositoryRow,
    RuleRow,
    VerdictRow,
    create_db_engine,
    current_revision,
    ensure_current,
    head_revision,
    migrate,
    register_rules,
)
from shadowbot.storage.bodies import compress_body

TABLES = {
    "rule",
    "repository",
    "pull_request",
    "verdict",
    "revision",
    "delivery",
    "reaction",
    "outcome",
    "snapshot_seen",
    "note_version",
    "verdict_comment",
    "ledger_entry",
    "settlement_run",
    "audit_event",
}
OPENED = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def migrated(engine: sa.Engine) -> sa.Engine:
    migrate(engine)
    return engine


def make_rule(version: int = 1, source_hash: str = "abc", name: str = "docs-only") -> Rule:
    rule = Rule.from_checks(
        name=name,
        version=version,
        description="Documentation-only changes.",
        requires=[checks.not_draft()],
    )
    return dataclasses.replace(rule, source_hash=source_hash)


def stored_rules(engine: sa.Engine) -> list[tuple[str, int, str]]:
    with Session(engine) as session:
        rows = session.exec(select(RuleRow).order_by(col(RuleRow.name), col(RuleRow.version))).all()
        return [(row.name, row.version, row.source_hash) for row in rows]


def add_pull_request(session: Session, number: int = 1) -> PullRequestRow:
    repository = RepositoryRow(full_name=f"octo/repo-{number}")
    session.add(repository)
    session.flush()
    assert repository.id is not None
    pull_request = PullRequestRow(
        repository_id=repository.id,
        number=number,
        author_login="alice",
        head_sha="a" * 40,
        state="open",
        title="Fix a typo",
        created_at=OPENED,
        updated_at=OPENED,
    )
    session.add(pull_request)
    session.flush()
    return pull_request


def rule_and_pull_request(session: Session) -> tuple[int, int]:
    """The ids of the one registered rule and of a new pull request."""
    rule = session.exec(select(RuleRow)).one()
    pull_request = add_pull_request(session)
    assert rule.id is not None and pull_request.id is not None
    return rule.id, pull_request.id


def test_migrate_creates_every_table_and_is_idempotent(engine: sa.Engine) -> None:
    assert current_revision(engine) is None
    assert migrate(engine) == head_revision()
    assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}

    assert migrate(engine) == head_revision()
    assert current_revision(engine) == head_revision()
    assert set(sa.inspect(engine).get_table_names()) == TABLES | {"alembic_version"}


def test_migrations_build_exactly_the_models(migrated: sa.Engine) -> None:
    with migrated.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)
    assert differences == []


def test_a_database_never_migrated_is_refused_until_migrated(engine: sa.Engine) -> None:
    with pytest.raises(StorageError, match=r"at revision none, expected .*run `shadowbot migrate`"):
        ensure_current(engine)
    migrate(engine)
    ensure_current(engine)


def test_a_database_from_a_newer_shadowbot_is_refused(migrated: sa.Engine) -> None:
    with migrated.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    assert current_revision(migrated) == "9999"
    with pytest.raises(StorageError, match="revision 9999, which this version of shadowbot"):
        ensure_current(migrated)
    with pytest.raises(StorageError, match="upgrade shadowbot"):
        migrate(migrated)


def test_register_rules_records_each_version_once(migrated: sa.Engine) -> None:
    register_rules(migrated, [make_rule(), make_rule(name="tiny")])
    register_rules(migrated, [make_rule()])
    assert stored_rules(migrated) == [("docs-only", 1, "abc"), ("tiny", 1, "abc")]


def test_register_rules_refuses_a_changed_rule_until_its_version_is_bumped(
    migrated: sa.Engine,
) -> None:
    register_rules(migrated, [make_rule()])
    changed = dataclasses.replace(
        make_rule(source_hash="def"), source_path=Path("rules/docs_only.py")
    )

    message = (
        r"rule docs-only version 1 changed since it was recorded"
        r" \(file rules/docs_only.py\): bump its version"
    )
    with pytest.raises(RuleLoadError, match=message):
        register_rules(migrated, [make_rule(name="tiny"), changed])
    # Refused as a whole: the new rule alongside it was not recorded either.
    assert stored_rules(migrated) == [("docs-only", 1, "abc")]

    register_rules(migrated, [dataclasses.replace(changed, version=2)])
    assert stored_rules(migrated) == [("docs-only", 1, "abc"), ("docs-only", 2, "def")]


def test_a_redelivered_webhook_is_rejected(migrated: sa.Engine) -> None:
    def deliver() -> None:
        with Session(migrated) as session, session.begin():
            body = compress_body(b"{}")
            session.add(DeliveryRow(delivery_id="72d3162e", event="ping", body_zstd=body))

    deliver()
    with pytest.raises(IntegrityError):
        deliver()


def test_a_correction_is_a_new_ledger_entry_beside_the_one_it_corrects(
    migrated: sa.Engine,
) -> None:
    register_rules(migrated, [make_rule()])
    with Session(migrated) as session, session.begin():
        rule_id, pull_request_id = rule_and_pull_request(session)
        win = LedgerEntryRow(rule_id=rule_id, pull_request_id=pull_request_id, result="win")
        session.add(win)
        session.flush()
        session.add(
            LedgerEntryRow(
                rule_id=rule_id, pull_request_id=pull_request_id, result="loss", corrects_id=win.id
            )
        )
        session.flush()
        rows = session.exec(select(LedgerEntryRow).order_by(col(LedgerEntryRow.id))).all()
        assert [(r.result, r.corrects_id) for r in rows] == [("win", None), ("loss", win.id)]


def test_rows_must_point_at_existing_rows(migrated: sa.Engine) -> None:
    with Session(migrated) as session, session.begin():
        session.add(VerdictRow(rule_id=41, pull_request_id=42, head_sha="b" * 40, decision="hold"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_an_unknown_result_is_refused(migrated: sa.Engine) -> None:
    register_rules(migrated, [make_rule()])
    with Session(migrated) as session, session.begin():
        rule_id, pull_request_id = rule_and_pull_request(session)
        session.add(LedgerEntryRow(rule_id=rule_id, pull_request_id=pull_request_id, result="wn"))
        with pytest.raises(IntegrityError):
            session.flush()


def test_a_checklist_round_trips(migrated: sa.Engine) -> None:
    checklist = [
        {"check": "not a draft", "passed": True, "detail": "ready for review"},
        {"check": "approved by a writer", "passed": False, "detail": "no approval — yet ✓"},
    ]
    register_rules(migrated, [make_rule()])
    with Session(migrated) as session, session.begin():
        rule_id, pull_request_id = rule_and_pull_request(session)
        session.add(
            VerdictRow(
                rule_id=rule_id,
                pull_request_id=pull_request_id,
                head_sha="a" * 40,
                decision="hold",
                checklist=checklist,
            )
        )
    with Session(migrated) as session:
        assert session.exec(select(VerdictRow)).one().checklist == checklist


def test_datetimes_come_back_aware_in_utc_and_sort_by_instant(migrated: sa.Engine) -> None:
    paris = timezone(timedelta(hours=2))
    merged = datetime(2024, 5, 1, 12, 30, tzinfo=paris)  # 10:30 UTC
    reverted = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)  # later, though its digits are smaller
    with Session(migrated) as session, session.begin():
        pull_request = add_pull_request(session)
        assert pull_request.id is not None
        session.add(OutcomeRow(pull_request_id=pull_request.id, kind="reverted", at=reverted))
        session.add(OutcomeRow(pull_request_id=pull_request.id, kind="merged", at=merged))

    with Session(migrated) as session:
        outcomes = session.exec(select(OutcomeRow).order_by(col(OutcomeRow.at))).all()
        assert [(outcome.kind, outcome.at) for outcome in outcomes] == [
            ("merged", merged),
            ("reverted", reverted),
        ]
        assert all(outcome.at.tzinfo is UTC for outcome in outcomes)
        assert session.exec(select(PullRequestRow)).one().created_at.tzinfo is UTC


def test_a_naive_datetime_is_refused(migrated: sa.Engine) -> None:
    with Session(migrated) as session, session.begin():
        pull_request = add_pull_request(session)
        assert pull_request.id is not None
        session.add(OutcomeRow(pull_request_id=pull_request.id, kind="closed", at=datetime.now()))
        with pytest.raises(StatementError, match="naive datetime"):
            session.flush()


def test_each_backend_uses_its_intended_driver(engine: sa.Engine) -> None:
    expected = {"sqlite": "pysqlite", "postgresql": "psycopg"}
    assert engine.dialect.driver == expected[engine.dialect.name]


def test_a_sqlite_file_gets_its_folder_and_write_ahead_log(tmp_path: Path) -> None:
    path = tmp_path / "data" / "nested" / "shadowbot.db"
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    finally:
        engine.dispose()
    assert path.is_file()


def test_sqlite_pages_and_checkpoints_suit_webhook_bodies_in_new_and_old_files(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    with contextlib.closing(sqlite3.connect(old)) as connection:  # SQLite's default pages
        connection.execute("PRAGMA journal_mode = WAL")
        connection.execute("CREATE TABLE kept (n INTEGER)")
        connection.execute("INSERT INTO kept VALUES (7)")
        connection.commit()
    for path, page_size in ((tmp_path / "new.db", 16384), (old, 4096)):
        engine = create_db_engine(f"sqlite:///{path}")
        try:
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA page_size").scalar() == page_size
                # Either way the log is copied into the database at each MiB.
                pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
                assert pages * page_size == 1024 * 1024
        finally:
            engine.dispose()
    with contextlib.closing(sqlite3.connect(old)) as connection:
        assert connection.execute("SELECT n FROM kept").fetchall() == [(7,)]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "database URL not a url is not valid"),
        ("mysql://bob@db.example/shadowbot", "use sqlite or postgresql, not mysql"),
        ("postgresql+nosuchdriver://bob@db.example/x", "postgresql\\+nosuchdriver"),
    ],
)
def test_a_bad_url_is_named(url: str, message: str) -> None:
    with pytest.raises(StorageError, match=message):
        create_db_engine(url)


def test_an_unreachable_server_is_named_without_its_password() -> None:
    with pytest.raises(StorageError) as raised:
        # Nothing listens on port 1: the connection is refused at once.
        create_db_engine("postgresql://bob:hunter2@127.0.0.1:1/shadowbot")
    message = str(raised.value)
    assert "cannot open database postgresql://bob:***@127.0.0.1:1/shadowbot" in message
    assert "hunter2" not in message


def test_rules_are_not_recorded_in_a_database_never_migrated(engine: sa.Engine) -> None:
    with pytest.raises(StorageError, match="run `shadowbot migrate`"):
        register_rules(engine, [make_rule()])
