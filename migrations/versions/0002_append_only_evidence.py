"""Append-only evidence: every verdict, revision, reaction, note version and outcome is a
row added, never rewritten; the ledger appends an entry when a result changes.

- ``pull_request``: ``author_type``, ``evidence_at``.
- ``verdict``: one row per evaluation (the unique constraint goes); each rule's claims
  and errors indexed by decision.
- ``verdict_comment`` (new): the bot's verdict comments, backfilled from revisions.
- ``revision``: ``recorded_at``; ``hidden_at`` goes (the next revision hides it).
- ``reaction``: tied to a verdict comment (``comment_id``), not to a revision; seen
  ``first_seen_at``, ``gone_at``; who counts is decided at settlement.
- ``outcome``: ``detail``, ``recorded_at``; each (pull request, kind, time) once.
- ``note`` becomes ``note_version``: one row per edit and per deletion.
- ``ledger_entry``: many entries per (rule, pull request), with the evidence they rest on.
- ``settlement_run`` (new).

Written by hand, and frozen: it does not import the models, so a later change to them
cannot rewrite history that databases have already applied.

On SQLite a table is altered by copying it (batch mode), and the copy fails while rows of
another table point at the table copied: foreign keys are enforced, and cannot be turned
off inside the migration's transaction. So a table is copied only when nothing points at
it (``reaction`` is dropped before ``revision`` is copied, ``ledger_entry`` loses its new
links before ``revision``, ``reaction`` and ``outcome`` are copied back), and
``pull_request``, which everything points at, is only altered in place.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28
"""

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _id() -> sa.Column[int]:
    return sa.Column("id", sa.Integer(), primary_key=True)


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(name: str, target: str, *, nullable: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.Integer(), sa.ForeignKey(f"{target}.id"), nullable=nullable)


def _one_of(column: str, values: tuple[str, ...], name: str) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=name)


def _restart_ids(table: str) -> None:
    """After rows were inserted with their ids, PostgreSQL's sequence must follow them."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            f"SELECT setval(pg_get_serial_sequence('{table}', 'id'),"
            f" COALESCE(MAX(id), 0) + 1, false) FROM {table}"
        )


def _insert(table: sa.Table, rows: list[dict[str, Any]]) -> None:
    if rows:
        op.bulk_insert(table, rows)


# --- upgrade -------------------------------------------------------------------------------


def upgrade() -> None:
    _upgrade_pull_request()
    _upgrade_verdict()
    _create_verdict_comment()
    # reaction points at revision: it goes before revision is copied, and comes back new.
    reactions = _old_reactions()
    op.drop_table("reaction")
    _upgrade_revision()
    _create_reaction(reactions)
    _upgrade_outcome()
    _note_to_note_version()
    _upgrade_ledger_entry()
    op.create_table(
        "settlement_run",
        _id(),
        _at("at"),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
    )
    op.create_index("ix_settlement_run_at", "settlement_run", ["at"])


def _upgrade_pull_request() -> None:
    # Both in place: every other table points at pull_request (see the docstring).
    op.add_column(
        "pull_request",
        sa.Column("author_type", sa.String(), server_default="User", nullable=False),
    )
    op.add_column("pull_request", _at("evidence_at", nullable=True))
    op.create_index("ix_pull_request_evidence_at", "pull_request", ["evidence_at"])
    # In place too (pull_request points at repository). NULL: not known yet.
    op.add_column("repository", sa.Column("private", sa.Boolean(), nullable=True))


def _upgrade_verdict() -> None:
    with op.batch_alter_table("verdict") as batch:
        batch.drop_constraint("uq_verdict_rule_pull_request_head", type_="unique")
        batch.create_index("ix_verdict_pull_request_head", ["pull_request_id", "head_sha"])
    # Each rule's claims and errors, read from the index alone (``ledger show``, the pages).
    op.create_index(
        "ix_verdict_decision_rule_pull_request",
        "verdict",
        ["decision", "rule_id", "pull_request_id"],
    )


def _create_verdict_comment() -> None:
    op.create_table(
        "verdict_comment",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("node_id", sa.String(), nullable=True),
        _fk("rule_id", "rule", nullable=True),
        _at("created_at"),
        _at("deleted_at", nullable=True),
        _at("swept_at", nullable=True),
        sa.Column("etag", sa.String(), nullable=True),
        sa.UniqueConstraint("comment_id", name="uq_verdict_comment_comment_id"),
    )
    op.create_index("ix_verdict_comment_pull_request_id", "verdict_comment", ["pull_request_id"])
    # Before 0002 the bot wrote only the combined comment (rule_id NULL), first shown with
    # the earliest revision that names it.
    op.execute(
        "INSERT INTO verdict_comment (pull_request_id, comment_id, created_at)"
        " SELECT MIN(pull_request_id), comment_id, MIN(shown_at) FROM revision"
        " WHERE comment_id IS NOT NULL GROUP BY comment_id ORDER BY MIN(shown_at), comment_id"
    )


def _old_reactions() -> list[dict[str, Any]]:
    """The 0001 reactions that can be tied to a comment: their revision names one."""
    query = sa.text(
        "SELECT reaction.id, revision.comment_id, reaction.github_id, reaction.user_login,"
        " reaction.content, reaction.permission, reaction.created_at, reaction.removed_at"
        " FROM reaction JOIN revision ON revision.id = reaction.revision_id"
        " WHERE revision.comment_id IS NOT NULL ORDER BY reaction.id"
    ).columns(created_at=sa.DateTime(timezone=True), removed_at=sa.DateTime(timezone=True))
    return [
        {
            "id": row.id,
            "comment_id": row.comment_id,
            "github_id": row.github_id,
            "user_login": row.user_login,
            "user_type": "User",
            "content": row.content,
            "permission": row.permission,
            "created_at": row.created_at,
            "first_seen_at": row.created_at,
            "gone_at": row.removed_at,
        }
        for row in op.get_bind().execute(query)
    ]


def _upgrade_revision() -> None:
    with op.batch_alter_table("revision") as batch:
        batch.add_column(_at("recorded_at", nullable=True))
    op.execute("UPDATE revision SET recorded_at = shown_at")
    with op.batch_alter_table("revision") as batch:
        batch.alter_column("recorded_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.drop_column("hidden_at")


def _create_reaction(rows: list[dict[str, Any]]) -> None:
    reaction = op.create_table(
        "reaction",
        _id(),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("github_id", sa.BigInteger(), nullable=False),
        sa.Column("user_login", sa.String(), nullable=False),
        sa.Column("user_type", sa.String(), nullable=False),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("permission", sa.String(), nullable=False),
        _at("created_at"),
        _at("first_seen_at"),
        _at("gone_at", nullable=True),
        sa.UniqueConstraint("github_id", name="uq_reaction_github_id"),
    )
    op.create_index("ix_reaction_comment_id", "reaction", ["comment_id"])
    assert reaction is not None
    _insert(reaction, rows)
    _restart_ids("reaction")


def _upgrade_outcome() -> None:
    # The same outcome recorded twice: the first row stays.
    op.execute(
        "DELETE FROM outcome WHERE EXISTS (SELECT 1 FROM outcome AS earlier"
        " WHERE earlier.pull_request_id = outcome.pull_request_id"
        " AND earlier.kind = outcome.kind AND earlier.at = outcome.at"
        " AND earlier.id < outcome.id)"
    )
    op.drop_index("ix_outcome_pull_request_at", table_name="outcome")
    with op.batch_alter_table("outcome") as batch:
        # The default fills the rows there are, then goes: the model has none.
        batch.add_column(sa.Column("detail", sa.Text(), server_default="", nullable=False))
        batch.add_column(_at("recorded_at", nullable=True))
    op.execute("UPDATE outcome SET recorded_at = at")
    with op.batch_alter_table("outcome") as batch:
        batch.alter_column("detail", existing_type=sa.Text(), server_default=None)
        batch.alter_column("recorded_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_unique_constraint(
            "uq_outcome_pull_request_kind_at", ["pull_request_id", "kind", "at"]
        )


def _note_to_note_version() -> None:
    op.create_table(
        "note_version",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("author_login", sa.String(), nullable=False),
        sa.Column("rule_name", sa.String(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("deleted", sa.Boolean(), nullable=False),
        _at("at"),
    )
    op.create_index("ix_note_version_comment_at", "note_version", ["comment_id", "at"])
    op.create_index("ix_note_version_pull_request_id", "note_version", ["pull_request_id"])
    op.create_index("ix_note_version_rule_name", "note_version", ["rule_name"])
    # A note kept only its last text (at its updated_at), then its deletion if deleted.
    op.execute(
        "INSERT INTO note_version (pull_request_id, comment_id, author_login, body, deleted, at)"
        " SELECT pull_request_id, comment_id, author_login, body, deleted, at FROM ("
        " SELECT pull_request_id, comment_id, author_login, body, FALSE AS deleted,"
        " updated_at AS at, id AS note_id FROM note"
        " UNION ALL"
        " SELECT pull_request_id, comment_id, author_login, '' AS body, TRUE AS deleted,"
        " deleted_at AS at, id AS note_id FROM note WHERE deleted_at IS NOT NULL"
        " ) AS versions ORDER BY at, note_id, deleted"
    )
    op.drop_table("note")


def _upgrade_ledger_entry() -> None:
    links = {
        "revision_id": "revision",
        "reaction_id": "reaction",
        "outcome_id": "outcome",
        "corrects_id": "ledger_entry",
    }
    # SQLite cannot add a foreign key to a table in place, and batch mode refuses an
    # unnamed one: the copy is made with them (table_args), unnamed like 0001's. They name
    # their targets' columns: the copy's metadata holds no other table to look them up in.
    copied = op.get_bind().dialect.name == "sqlite"
    targets = sa.MetaData()
    foreign_keys = tuple(
        sa.ForeignKeyConstraint([name], [sa.Table(target, targets, _id()).c.id])
        for name, target in links.items()
    )
    with op.batch_alter_table("ledger_entry", table_args=foreign_keys if copied else ()) as batch:
        batch.drop_constraint("uq_ledger_entry_rule_pull_request", type_="unique")
        batch.create_index("ix_ledger_entry_rule_pull_request", ["rule_id", "pull_request_id"])
        batch.add_column(_at("at", nullable=True))
        batch.add_column(sa.Column("saved_seconds", sa.Float(), nullable=True))
        if copied:
            for name in links:
                batch.add_column(sa.Column(name, sa.Integer(), nullable=True))
    if not copied:
        for name, target in links.items():
            op.add_column("ledger_entry", _fk(name, target, nullable=True))


# --- downgrade -----------------------------------------------------------------------------


def downgrade() -> None:
    op.drop_table("settlement_run")
    # First: its new links point at revision, reaction and outcome, copied below.
    _downgrade_ledger_entry()
    _note_version_to_note()
    _downgrade_revision()
    _downgrade_reaction()
    _downgrade_outcome()
    _downgrade_verdict()
    op.drop_table("verdict_comment")
    _downgrade_pull_request()


def _downgrade_ledger_entry() -> None:
    # 0001 holds one entry per (rule, pull request): the newest, its result.
    op.execute("UPDATE ledger_entry SET corrects_id = NULL")
    op.execute(
        "DELETE FROM ledger_entry WHERE EXISTS (SELECT 1 FROM ledger_entry AS newer"
        " WHERE newer.rule_id = ledger_entry.rule_id"
        " AND newer.pull_request_id = ledger_entry.pull_request_id"
        " AND newer.id > ledger_entry.id)"
    )
    op.drop_index("ix_ledger_entry_rule_pull_request", table_name="ledger_entry")
    with op.batch_alter_table("ledger_entry") as batch:
        for column in (
            "at",
            "revision_id",
            "reaction_id",
            "outcome_id",
            "corrects_id",
            "saved_seconds",
        ):
            batch.drop_column(column)
        batch.create_unique_constraint(
            "uq_ledger_entry_rule_pull_request", ["rule_id", "pull_request_id"]
        )


def _note_version_to_note() -> None:
    note = op.create_table(
        "note",
        _id(),
        _fk("pull_request_id", "pull_request"),
        sa.Column("comment_id", sa.BigInteger(), nullable=False),
        sa.Column("author_login", sa.String(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("deleted_at", nullable=True),
        sa.UniqueConstraint("comment_id", name="uq_note_comment_id"),
    )
    op.create_index("ix_note_pull_request_id", "note", ["pull_request_id"])
    assert note is not None
    query = sa.text(
        "SELECT pull_request_id, comment_id, author_login, body, deleted, at"
        " FROM note_version ORDER BY comment_id, at, id"
    ).columns(deleted=sa.Boolean(), at=sa.DateTime(timezone=True))
    versions: defaultdict[int, list[Any]] = defaultdict(list)
    for row in op.get_bind().execute(query):
        versions[row.comment_id].append(row)
    notes = []
    for comment_id, rows in versions.items():
        first, newest = rows[0], rows[-1]
        texts = [row for row in rows if not row.deleted]
        # A deletion left 0001's body and updated_at as they were; an edit undeleted.
        text = texts[-1] if texts else None
        notes.append(
            {
                "pull_request_id": first.pull_request_id,
                "comment_id": comment_id,
                "author_login": first.author_login,
                "body": text.body if text is not None else "",
                "created_at": first.at,
                "updated_at": text.at if text is not None else newest.at,
                "deleted_at": newest.at if newest.deleted else None,
            }
        )
    notes.sort(key=lambda note: (note["created_at"], note["comment_id"]))
    _insert(note, notes)
    op.drop_table("note_version")


def _downgrade_revision() -> None:
    # Copied on SQLite: nothing points at revision now (ledger_entry lost revision_id,
    # the 0002 reaction names a comment).
    with op.batch_alter_table("revision") as batch:
        batch.add_column(_at("hidden_at", nullable=True))
        batch.drop_column("recorded_at")
    # 0001 hid a revision when the next one on its pull request was shown.
    op.execute(
        "UPDATE revision SET hidden_at = (SELECT later.shown_at FROM revision AS later"
        " WHERE later.pull_request_id = revision.pull_request_id"
        " AND (later.shown_at > revision.shown_at"
        " OR (later.shown_at = revision.shown_at AND later.id > revision.id))"
        " ORDER BY later.shown_at, later.id LIMIT 1)"
    )


def _downgrade_reaction() -> None:
    query = sa.text(
        "SELECT * FROM (SELECT id, (SELECT revision.id FROM revision"
        " WHERE revision.comment_id = reaction.comment_id"
        " ORDER BY revision.shown_at DESC, revision.id DESC LIMIT 1) AS revision_id,"
        " github_id, user_login, content, permission, created_at, gone_at FROM reaction)"
        " AS tied WHERE revision_id IS NOT NULL ORDER BY id"
    ).columns(created_at=sa.DateTime(timezone=True), gone_at=sa.DateTime(timezone=True))
    rows = [
        {
            "id": row.id,
            "revision_id": row.revision_id,
            "github_id": row.github_id,
            "user_login": row.user_login,
            "content": row.content,
            "permission": row.permission,
            "counted": False,
            "created_at": row.created_at,
            "removed_at": row.gone_at,
        }
        for row in op.get_bind().execute(query)
    ]
    op.drop_table("reaction")
    reaction = op.create_table(
        "reaction",
        _id(),
        _fk("revision_id", "revision"),
        sa.Column("github_id", sa.BigInteger(), nullable=False),
        sa.Column("user_login", sa.String(), nullable=False),
        sa.Column("content", sa.String(), nullable=False),
        sa.Column("permission", sa.String(), nullable=False),
        sa.Column("counted", sa.Boolean(), nullable=False),
        _at("created_at"),
        _at("removed_at", nullable=True),
        sa.UniqueConstraint("github_id", name="uq_reaction_github_id"),
    )
    op.create_index("ix_reaction_revision_id", "reaction", ["revision_id"])
    assert reaction is not None
    _insert(reaction, rows)
    _restart_ids("reaction")


def _downgrade_outcome() -> None:
    with op.batch_alter_table("outcome") as batch:
        batch.drop_constraint("uq_outcome_pull_request_kind_at", type_="unique")
        batch.drop_column("detail")
        batch.drop_column("recorded_at")
    op.create_index("ix_outcome_pull_request_at", "outcome", ["pull_request_id", "at"])


def _downgrade_verdict() -> None:
    # 0001 holds one verdict per (rule, pull request, head): the last evaluation.
    op.execute(
        "DELETE FROM verdict WHERE EXISTS (SELECT 1 FROM verdict AS newer"
        " WHERE newer.rule_id = verdict.rule_id"
        " AND newer.pull_request_id = verdict.pull_request_id"
        " AND newer.head_sha = verdict.head_sha AND newer.id > verdict.id)"
    )
    op.drop_index("ix_verdict_decision_rule_pull_request", table_name="verdict")
    op.drop_index("ix_verdict_pull_request_head", table_name="verdict")
    with op.batch_alter_table("verdict") as batch:
        batch.create_unique_constraint(
            "uq_verdict_rule_pull_request_head", ["rule_id", "pull_request_id", "head_sha"]
        )


def _downgrade_pull_request() -> None:
    # In place, never copied (every table points at it): SQLite 3.35 or later drops a
    # column itself.
    op.drop_index("ix_pull_request_evidence_at", table_name="pull_request")
    op.drop_column("pull_request", "evidence_at")
    op.drop_column("pull_request", "author_type")
    op.drop_column("repository", "private")
