"""Migration 0002 (append-only evidence): a 0001 database keeps its evidence on the way up,
and what 0001 can hold on the way down.

Rows are written with plain SQL on tables named here, not with the models: the models are
the newest schema, and these tests are about two fixed revisions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlmodel import SQLModel

from shadowbot.storage import UTCDateTime, create_db_engine
from shadowbot.storage.database import _alembic_config

T0 = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)
T1, T2, T3, T4, T5, T6, T7 = (T0 + timedelta(hours=hours) for hours in range(1, 8))
COMMENT = 9001
HEAD_A, HEAD_B = "a" * 40, "b" * 40
NEW_TABLES = {"verdict_comment", "note_version", "settlement_run"}


@pytest.fixture
def engine(database_url: str) -> Iterator[sa.Engine]:
    engine = create_db_engine(database_url)
    yield engine
    engine.dispose()


def migrate(engine: sa.Engine, step: Callable[[Config, str], None], revision: str) -> None:
    with engine.begin() as connection:
        step(_alembic_config(connection), revision)


def insert(connection: sa.Connection, table: str, **values: Any) -> int:
    """Insert one row into ``table`` as it is now; its id."""
    columns = [sa.column(name, _type(value)) for name, value in values.items()]
    row = sa.table(table, sa.column("id", sa.Integer()), *columns)
    return int(connection.execute(sa.insert(row).values(**values).returning(row.c.id)).scalar_one())


def _type(value: Any) -> sa.types.TypeEngine[Any]:
    if isinstance(value, datetime):
        return UTCDateTime()
    if isinstance(value, dict | list):
        return sa.JSON()
    if isinstance(value, bool):
        return sa.Boolean()
    return sa.types.NULLTYPE


def rows(
    engine: sa.Engine,
    sql: str,
    params: dict[str, Any] | None = None,
    /,
    **types: sa.types.TypeEngine[Any],
) -> list[Any]:
    """The rows of a query; the columns named in ``types`` are read as that type."""
    with engine.connect() as connection:
        return list(connection.execute(sa.text(sql).columns(**types), params or {}))


def at(*names: str) -> dict[str, sa.types.TypeEngine[Any]]:
    return {name: UTCDateTime() for name in names}


def columns(engine: sa.Engine, table: str) -> set[str]:
    return {column["name"] for column in sa.inspect(engine).get_columns(table)}


def schema(engine: sa.Engine) -> dict[str, dict[str, Any]]:
    """Everything about the tables that a migration decides, column order aside."""
    inspector = sa.inspect(engine)
    tables: dict[str, dict[str, Any]] = {}
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        tables[table] = {
            "columns": sorted(
                (c["name"], repr(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ),
            "primary_key": inspector.get_pk_constraint(table)["constrained_columns"],
            "foreign_keys": sorted(
                (
                    fk["name"] or "",
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(str(c) for c in i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "checks": sorted(
                (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    return tables


def differences_from_the_models(engine: sa.Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_server_default": True})
        return list(compare_metadata(context, SQLModel.metadata))


def fill_0001(engine: sa.Engine) -> dict[str, int]:
    """A 0001 database with one of each kind of evidence; the ids by name."""
    ids: dict[str, int] = {}
    with engine.begin() as c:
        ids["rule"] = insert(
            c, "rule", name="docs-only", version=1, source_hash="abc", description="Docs.",
            first_seen_at=T0,
        )  # fmt: skip
        ids["repository"] = insert(
            c, "repository", full_name="octo/repo", installation_id=2**40, created_at=T0
        )
        for number, key in ((1, "pr"), (2, "silent_pr")):
            ids[key] = insert(
                c, "pull_request", repository_id=ids["repository"], number=number,
                author_login="alice", head_sha=HEAD_B, state="merged", title="Fix a typo",
                created_at=T0, updated_at=T5, closed_at=T5, merged_at=T5, merged_sha=HEAD_B,
            )  # fmt: skip
        for head, key in ((HEAD_A, "verdict_a"), (HEAD_B, "verdict_b")):
            ids[key] = insert(
                c, "verdict", rule_id=ids["rule"], pull_request_id=ids["pr"], head_sha=head,
                decision="merge", checklist=[{"check": "docs", "passed": True}],
                reason="docs only", evaluated_at=T1,
            )  # fmt: skip
        ids["revision_a"] = insert(
            c, "revision", pull_request_id=ids["pr"], head_sha=HEAD_A, shown_at=T1,
            hidden_at=T2, comment_id=COMMENT, summary={"claims": ["docs-only@1"]},
        )  # fmt: skip
        ids["revision_b"] = insert(
            c, "revision", pull_request_id=ids["pr"], head_sha=HEAD_B, shown_at=T2,
            hidden_at=None, comment_id=COMMENT, summary={"claims": ["docs-only@1"]},
        )  # fmt: skip
        # Silent mode: shown on the pages only, no comment to tie a reaction to.
        ids["revision_silent"] = insert(
            c, "revision", pull_request_id=ids["silent_pr"], head_sha=HEAD_B, shown_at=T2,
            hidden_at=None, comment_id=None, summary={},
        )  # fmt: skip
        ids["reaction"] = insert(
            c, "reaction", revision_id=ids["revision_a"], github_id=2**33 + 1,
            user_login="bob", content="-1", permission="admin", counted=True,
            created_at=T1 + timedelta(minutes=5), removed_at=T1 + timedelta(minutes=10),
        )  # fmt: skip
        insert(
            c, "reaction", revision_id=ids["revision_silent"], github_id=2**33 + 2,
            user_login="carol", content="+1", permission="write", counted=True,
            created_at=T3, removed_at=None,
        )  # fmt: skip
        ids["note_edited"] = insert(
            c, "note", pull_request_id=ids["pr"], comment_id=7001, author_login="bob",
            body="edited text", created_at=T1, updated_at=T3, deleted_at=None,
        )  # fmt: skip
        ids["note_deleted"] = insert(
            c, "note", pull_request_id=ids["pr"], comment_id=7002, author_login="carol",
            body="gone", created_at=T1, updated_at=T1, deleted_at=T4,
        )  # fmt: skip
        for key in ("merged", "merged_again"):
            ids[key] = insert(
                c, "outcome", pull_request_id=ids["pr"], kind="merged", sha=HEAD_B,
                actor_login="alice", at=T5,
            )  # fmt: skip
        ids["closed"] = insert(
            c, "outcome", pull_request_id=ids["pr"], kind="closed", sha=None,
            actor_login="alice", at=T5,
        )  # fmt: skip
        ids["ledger"] = insert(
            c, "ledger_entry", rule_id=ids["rule"], pull_request_id=ids["pr"], result="win",
            reason="merged at a claimed head", evidence=[{"merged_at": T5.isoformat()}],
            settled_at=T6,
        )  # fmt: skip
        ids["audit"] = insert(
            c, "audit_event", at=T0, actor="shadowbot", rule_id=ids["rule"], action="enable",
            reason="new version", detail={"state": "enabled"},
        )  # fmt: skip
        ids["delivery"] = insert(
            c, "delivery", delivery_id="d-1", event="pull_request", action="closed",
            payload='{"action": "closed"}', received_at=T5, processed_at=T5, error=None,
        )  # fmt: skip
    return ids


@pytest.fixture
def at_0001(engine: sa.Engine) -> sa.Engine:
    migrate(engine, command.upgrade, "0001")
    return engine


def test_0002_and_later_build_exactly_the_models_from_a_0001_database_with_rows(
    at_0001: sa.Engine,
) -> None:
    fill_0001(at_0001)
    migrate(at_0001, command.upgrade, "head")
    assert differences_from_the_models(at_0001) == []


def test_an_empty_database_goes_down_to_0002_and_back(at_0001: sa.Engine) -> None:
    migrate(at_0001, command.upgrade, "0002")
    schema_0002 = schema(at_0001)
    migrate(at_0001, command.upgrade, "head")
    migrate(at_0001, command.downgrade, "0002")
    assert schema(at_0001) == schema_0002
    migrate(at_0001, command.upgrade, "head")
    assert differences_from_the_models(at_0001) == []


def test_upgrade_keeps_the_0001_evidence(at_0001: sa.Engine) -> None:
    engine = at_0001
    ids = fill_0001(engine)
    migrate(engine, command.upgrade, "0002")

    assert "note" not in sa.inspect(engine).get_table_names()
    assert NEW_TABLES <= set(sa.inspect(engine).get_table_names())
    assert rows(engine, "SELECT author_type, evidence_at FROM pull_request ORDER BY id") == [
        ("User", None),
        ("User", None),
    ]
    assert rows(engine, "SELECT id, head_sha FROM verdict ORDER BY id") == [
        (ids["verdict_a"], HEAD_A),
        (ids["verdict_b"], HEAD_B),
    ]
    # The combined comment, first shown with the first revision that names it.
    assert rows(
        engine,
        "SELECT pull_request_id, comment_id, rule_id, node_id, created_at, deleted_at,"
        " swept_at, etag FROM verdict_comment",
        **at("created_at"),
    ) == [(ids["pr"], COMMENT, None, None, T1, None, None, None)]

    assert "hidden_at" not in columns(engine, "revision")
    assert rows(
        engine, "SELECT id, shown_at, recorded_at FROM revision ORDER BY id",
        **at("shown_at", "recorded_at"),
    ) == [
        (ids["revision_a"], T1, T1),
        (ids["revision_b"], T2, T2),
        (ids["revision_silent"], T2, T2),
    ]  # fmt: skip

    # The reaction on the silent revision cannot be tied to a comment: it is dropped.
    assert columns(engine, "reaction") == {
        "id", "comment_id", "github_id", "user_login", "user_type", "content", "permission",
        "created_at", "first_seen_at", "gone_at",
    }  # fmt: skip
    assert rows(
        engine,
        "SELECT id, comment_id, github_id, user_login, user_type, content, permission,"
        " created_at, first_seen_at, gone_at FROM reaction",
        **at("created_at", "first_seen_at", "gone_at"),
    ) == [
        (
            ids["reaction"], COMMENT, 2**33 + 1, "bob", "User", "-1", "admin",
            T1 + timedelta(minutes=5), T1 + timedelta(minutes=5), T1 + timedelta(minutes=10),
        )
    ]  # fmt: skip

    # The duplicate merge goes (the first row stays); a close at the same time is another.
    assert rows(
        engine, "SELECT id, kind, detail, at, recorded_at FROM outcome ORDER BY id",
        **at("at", "recorded_at"),
    ) == [(ids["merged"], "merged", "", T5, T5), (ids["closed"], "closed", "", T5, T5)]  # fmt: skip

    assert rows(
        engine,
        "SELECT pull_request_id, comment_id, author_login, rule_name, body, deleted, at"
        " FROM note_version ORDER BY id",
        deleted=sa.Boolean(), **at("at"),
    ) == [
        (ids["pr"], 7002, "carol", None, "gone", False, T1),
        (ids["pr"], 7001, "bob", None, "edited text", False, T3),
        (ids["pr"], 7002, "carol", None, "", True, T4),
    ]  # fmt: skip

    assert rows(
        engine,
        "SELECT id, result, at, revision_id, reaction_id, outcome_id, corrects_id,"
        " saved_seconds, settled_at FROM ledger_entry",
        **at("settled_at"),
    ) == [(ids["ledger"], "win", None, None, None, None, None, None, T6)]
    assert rows(engine, "SELECT id, action, at FROM audit_event", **at("at")) == [
        (ids["audit"], "enable", T0)
    ]
    assert rows(engine, "SELECT id, delivery_id FROM delivery") == [(ids["delivery"], "d-1")]
    assert rows(engine, "SELECT COUNT(*) FROM settlement_run") == [(0,)]


def test_0002_appends_what_0001_refused(at_0001: sa.Engine) -> None:
    engine = at_0001
    ids = fill_0001(engine)
    migrate(engine, command.upgrade, "0002")
    with engine.begin() as c:
        # Ids come from the sequences, which must follow the rows copied with their ids.
        reaction = insert(
            c, "reaction", comment_id=COMMENT, github_id=2**33 + 3, user_login="dave",
            user_type="Bot", content="+1", permission="write", created_at=T6,
            first_seen_at=T6, gone_at=None,
        )  # fmt: skip
        assert reaction > ids["reaction"]
        insert(
            c, "ledger_entry", rule_id=ids["rule"], pull_request_id=ids["pr"], result="loss",
            reason="reverted", evidence=[], settled_at=T7, at=T6,
            revision_id=ids["revision_b"], reaction_id=reaction, outcome_id=ids["merged"],
            corrects_id=ids["ledger"], saved_seconds=12.5,
        )  # fmt: skip
        insert(
            c, "verdict", rule_id=ids["rule"], pull_request_id=ids["pr"], head_sha=HEAD_B,
            decision="hold", checklist=[], reason="evaluated again", evaluated_at=T6,
        )  # fmt: skip
        insert(
            c, "outcome", pull_request_id=ids["pr"], kind="reverted", sha=None,
            actor_login="alice", at=T6, detail="octo/repo#3", recorded_at=T7,
        )  # fmt: skip
    assert rows(
        engine,
        "SELECT result, corrects_id FROM ledger_entry"
        " WHERE rule_id = :rule AND pull_request_id = :pr ORDER BY id",
        {"rule": ids["rule"], "pr": ids["pr"]},
    ) == [("win", None), ("loss", ids["ledger"])]
    assert rows(
        engine, "SELECT COUNT(*) FROM verdict WHERE head_sha = :head", {"head": HEAD_B}
    ) == [(2,)]

    # Each (pull request, kind, time) once.
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        insert(
            c, "outcome", pull_request_id=ids["pr"], kind="merged", sha=HEAD_B,
            actor_login="alice", at=T5, detail="", recorded_at=T7,
        )  # fmt: skip


def test_downgrade_returns_to_0001_with_what_it_can_hold(at_0001: sa.Engine) -> None:
    engine = at_0001
    schema_0001 = schema(engine)
    ids = fill_0001(engine)
    migrate(engine, command.upgrade, "0002")
    with engine.begin() as c:
        # Shown again on the same comment: the newest revision with it.
        revision_c = insert(
            c, "revision", pull_request_id=ids["pr"], head_sha=HEAD_B, shown_at=T6,
            comment_id=COMMENT, summary={}, recorded_at=T6,
        )  # fmt: skip
        # On a comment no revision names: 0001 cannot tie it to one.
        reaction = insert(
            c, "reaction", comment_id=4242, github_id=2**33 + 3, user_login="dave",
            user_type="User", content="+1", permission="write", created_at=T6,
            first_seen_at=T6, gone_at=None,
        )  # fmt: skip
        loss = insert(
            c, "ledger_entry", rule_id=ids["rule"], pull_request_id=ids["pr"], result="loss",
            reason="reverted", evidence=[], settled_at=T7, at=T6, revision_id=revision_c,
            reaction_id=reaction, outcome_id=ids["merged"], corrects_id=ids["ledger"],
            saved_seconds=None,
        )  # fmt: skip
        verdict_again = insert(
            c, "verdict", rule_id=ids["rule"], pull_request_id=ids["pr"], head_sha=HEAD_B,
            decision="hold", checklist=[], reason="evaluated again", evaluated_at=T6,
        )  # fmt: skip
        insert(
            c, "note_version", pull_request_id=ids["pr"], comment_id=7001,
            author_login="bob", rule_name=None, body="third text", deleted=False, at=T6,
        )  # fmt: skip
        for body, deleted, when in (("short-lived", False, T6), ("", True, T7)):
            insert(
                c, "note_version", pull_request_id=ids["pr"], comment_id=7003,
                author_login="dave", rule_name="docs-only", body=body, deleted=deleted,
                at=when,
            )  # fmt: skip
        insert(c, "verdict_comment", pull_request_id=ids["pr"], comment_id=9002,
               rule_id=ids["rule"], created_at=T6)  # fmt: skip
        insert(c, "settlement_run", at=T7, entries=1, policy={"grace_seconds": 86400.0})
        reverted = insert(
            c, "outcome", pull_request_id=ids["pr"], kind="reverted", sha=None,
            actor_login="alice", at=T6, detail="octo/repo#3", recorded_at=T7,
        )  # fmt: skip

    migrate(engine, command.downgrade, "0001")

    assert schema(engine) == schema_0001
    assert rows(engine, "SELECT version_num FROM alembic_version") == [("0001",)]
    # The last evaluation of each (rule, pull request, head).
    assert rows(engine, "SELECT id, head_sha, decision FROM verdict ORDER BY id") == [
        (ids["verdict_a"], HEAD_A, "merge"),
        (verdict_again, HEAD_B, "hold"),
    ]
    # Hidden when the next revision of its pull request was shown.
    assert rows(
        engine, "SELECT id, shown_at, hidden_at FROM revision ORDER BY id",
        **at("shown_at", "hidden_at"),
    ) == [
        (ids["revision_a"], T1, T2),
        (ids["revision_b"], T2, T6),
        (ids["revision_silent"], T2, None),
        (revision_c, T6, None),
    ]  # fmt: skip
    assert rows(
        engine,
        "SELECT id, revision_id, github_id, user_login, content, permission, counted,"
        " created_at, removed_at FROM reaction",
        counted=sa.Boolean(), **at("created_at", "removed_at"),
    ) == [
        (
            ids["reaction"], revision_c, 2**33 + 1, "bob", "-1", "admin", False,
            T1 + timedelta(minutes=5), T1 + timedelta(minutes=10),
        )
    ]  # fmt: skip
    assert rows(
        engine,
        "SELECT pull_request_id, comment_id, author_login, body, created_at, updated_at,"
        " deleted_at FROM note ORDER BY comment_id",
        **at("created_at", "updated_at", "deleted_at"),
    ) == [
        # The text before the edit is not kept by 0001, so its version starts at the edit.
        (ids["pr"], 7001, "bob", "third text", T3, T6, None),
        (ids["pr"], 7002, "carol", "gone", T1, T1, T4),
        (ids["pr"], 7003, "dave", "short-lived", T6, T6, T7),
    ]  # fmt: skip
    assert rows(engine, "SELECT id, kind, at FROM outcome ORDER BY id", **at("at")) == [
        (ids["merged"], "merged", T5),
        (ids["closed"], "closed", T5),
        (reverted, "reverted", T6),
    ]
    # The newest entry of a (rule, pull request) is its result.
    assert rows(engine, "SELECT id, result FROM ledger_entry") == [(loss, "loss")]
    assert rows(engine, "SELECT id, action FROM audit_event") == [(ids["audit"], "enable")]
    assert rows(engine, "SELECT id, delivery_id FROM delivery") == [(ids["delivery"], "d-1")]

    # 0001 works as it did, its sequences past the rows copied with their ids.
    with engine.begin() as c:
        again = insert(
            c, "reaction", revision_id=revision_c, github_id=2**33 + 4, user_login="erin",
            content="+1", permission="write", counted=False, created_at=T7, removed_at=None,
        )  # fmt: skip
        assert again > ids["reaction"]
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as c:
        insert(
            c, "ledger_entry", rule_id=ids["rule"], pull_request_id=ids["pr"], result="win",
            reason="", evidence=[], settled_at=T7,
        )  # fmt: skip

    migrate(engine, command.upgrade, "head")
    assert differences_from_the_models(engine) == []
    assert rows(engine, "SELECT comment_id FROM reaction ORDER BY id") == [(COMMENT,), (COMMENT,)]


def test_an_empty_database_goes_down_to_0001_and_back(at_0001: sa.Engine) -> None:
    schema_0001 = schema(at_0001)
    migrate(at_0001, command.upgrade, "0002")
    migrate(at_0001, command.downgrade, "0001")
    assert schema(at_0001) == schema_0001
    migrate(at_0001, command.upgrade, "head")
    assert differences_from_the_models(at_0001) == []
