"""The pages' reads across the whole ledger, as columns: a ledger has tens of thousands
of entries, and building an ORM object for each costs seconds. Each (rule version, PR)'s
result is its newest entry, as :func:`shadowbot.storage.ledger_store.current_entries`
has it.

The leaderboard reads the records once, then only what was added since
(:class:`ReadUpTo`): every table they come from is append-only. The verdicts are never
scanned: read once from an index, then by a range of their primary key.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, func

from shadowbot.storage.ledger_store import CurrentResult, read_results
from shadowbot.storage.models import LedgerEntryRow, PullRequestRow, VerdictRow


@dataclass(frozen=True, slots=True)
class RuleResult:
    """A rule version's result on one pull request (its newest ledger entry), with what
    a page shows of the pull request."""

    id: int
    pr_id: int
    result: str
    reason: str
    at: datetime | None
    settled_at: datetime
    saved_seconds: float | None
    #: The evidence links, or their JSON text: decoded when read (a page shows a hundred
    #: of a rule's results, and sorts them all).
    stored_evidence: list[dict[str, Any]] | str
    corrects_id: int | None
    repository_id: int
    number: int
    title: str
    author_login: str

    @property
    def evidence(self) -> list[dict[str, Any]]:
        stored = self.stored_evidence
        return cast(list[dict[str, Any]], json.loads(stored)) if isinstance(stored, str) else stored

    @classmethod
    def of(cls, entry: LedgerEntryRow, pr: PullRequestRow) -> RuleResult:
        return cls(
            cast(int, entry.id),
            entry.pull_request_id,
            entry.result,
            entry.reason,
            entry.at,
            entry.settled_at,
            entry.saved_seconds,
            entry.evidence,
            entry.corrects_id,
            pr.repository_id,
            pr.number,
            pr.title,
            pr.author_login,
        )


def rule_results(session: Session, entry_ids: Iterable[int]) -> list[RuleResult]:
    """Ledger entries by id (a rule page's: a rule's current entries are known to the
    leaderboard's records), with their pull requests, read as columns, oldest first."""
    query = (
        sa.select(
            col(LedgerEntryRow.id),
            col(LedgerEntryRow.pull_request_id),
            col(LedgerEntryRow.result),
            col(LedgerEntryRow.reason),
            col(LedgerEntryRow.at),
            col(LedgerEntryRow.settled_at),
            col(LedgerEntryRow.saved_seconds),
            sa.cast(col(LedgerEntryRow.evidence), sa.Text),
            col(LedgerEntryRow.corrects_id),
            col(PullRequestRow.repository_id),
            col(PullRequestRow.number),
            col(PullRequestRow.title),
            col(PullRequestRow.author_login),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .where(col(LedgerEntryRow.id).in_(list(entry_ids)))
        .order_by(col(LedgerEntryRow.id))
    )
    rows = session.connection().execute(query)
    return [RuleResult(*cast(tuple[Any, ...], row)) for row in rows]


def every_entry(session: Session) -> list[sa.Row[Any]]:
    """Every ledger entry in the order written, as columns, with its PR's repository id,
    number and author type."""
    query = (
        sa.select(
            col(LedgerEntryRow.id),
            col(LedgerEntryRow.rule_id),
            col(LedgerEntryRow.pull_request_id),
            col(LedgerEntryRow.result),
            col(LedgerEntryRow.reason),
            col(LedgerEntryRow.at),
            col(LedgerEntryRow.settled_at),
            col(LedgerEntryRow.corrects_id),
            col(LedgerEntryRow.saved_seconds),
            col(LedgerEntryRow.evidence),
            col(PullRequestRow.repository_id),
            col(PullRequestRow.number),
            col(PullRequestRow.author_type),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .order_by(col(LedgerEntryRow.id))
    )
    return list(session.connection().execute(query))


#: How far below the newest id a row may still be committed late: PostgreSQL hands ids
#: out in the order transactions ask, and they commit in their own order.
LATE_WINDOW = 10_000
#: The most ids kept waiting for (a rolled-back transaction's never come).
LATE_KEPT = 1_000


@dataclass(frozen=True, slots=True)
class ReadUpTo:
    """How far an append-only table was read: every row up to id ``newest`` but those of
    ``missing``, ids not committed yet when it was read (or never: rolled back). The next
    read takes the rows after ``newest`` and those of ``missing``."""

    newest: int = 0
    missing: frozenset[int] = frozenset()

    def where(self, column: Any) -> sa.ColumnElement[bool]:
        newer: sa.ColumnElement[bool] = column > self.newest
        return sa.or_(newer, column.in_(sorted(self.missing))) if self.missing else newer

    def then(self, ids: Iterable[int]) -> ReadUpTo:
        """After reading the rows with ``ids`` (what :meth:`where` selected)."""
        found = set(ids)
        newest = max(found, default=self.newest)
        if newest <= self.newest:
            return ReadUpTo(self.newest, self.missing - found)
        skipped = range(max(self.newest, newest - LATE_WINDOW) + 1, newest)
        missing = (self.missing | set(skipped)) - found
        kept = sorted(i for i in missing if i > newest - LATE_WINDOW)[-LATE_KEPT:]
        return ReadUpTo(newest, frozenset(kept))


def read_up_to(session: Session, column: Any) -> ReadUpTo:
    """Where a table stands now: its newest id, and the ids just below it that are not
    there (yet). One range of the primary key."""
    newest = sa.select(func.max(column)).scalar_subquery()
    query = sa.select(column).where(column > newest - LATE_WINDOW)
    return ReadUpTo().then(id_ for (id_,) in session.connection().execute(query))


def results_since(session: Session, read: ReadUpTo) -> list[CurrentResult]:
    """The ledger entries written after ``read``, oldest first, as columns."""
    return read_results(session, read.where(col(LedgerEntryRow.id)))


@dataclass(frozen=True, slots=True)
class Judged:
    """A verdict as the records count it: a ``merge`` is a claim, an ``error`` an error
    on the pull request; the others only move the table on."""

    id: int
    decision: str
    rule_id: int
    pr_id: int
    author_type: str
    repository_id: int


def verdicts_since(session: Session, read: ReadUpTo) -> list[Judged]:
    """The verdicts recorded after ``read`` (a range of the primary key)."""
    query = (
        sa.select(
            col(VerdictRow.id),
            col(VerdictRow.decision),
            col(VerdictRow.rule_id),
            col(VerdictRow.pull_request_id),
            col(PullRequestRow.author_type),
            col(PullRequestRow.repository_id),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(VerdictRow.pull_request_id))
        .where(read.where(col(VerdictRow.id)))
        .order_by(col(VerdictRow.id))
    )
    return [
        Judged(cast(int, id_), decision, rule, pr, kind, repo)
        for id_, decision, rule, pr, kind, repo in session.connection().execute(query)
    ]


def error_pairs(session: Session) -> list[tuple[int, int, int]]:
    """(rule id, PR id, repository id) of each pull request on which a rule version
    yielded ``error``: read from ``ix_verdict_decision_rule_pull_request`` alone."""
    errors = (
        sa.select(col(VerdictRow.rule_id), col(VerdictRow.pull_request_id))
        .where(col(VerdictRow.decision) == "error")
        .distinct()
        .subquery()
    )
    query = sa.select(
        errors.c.rule_id, errors.c.pull_request_id, col(PullRequestRow.repository_id)
    ).join(PullRequestRow, col(PullRequestRow.id) == errors.c.pull_request_id)
    return [(rule, pr, repo) for rule, pr, repo in session.connection().execute(query)]


def ids_since(session: Session, column: Any, read: ReadUpTo) -> list[int]:
    """The ids of the rows added after ``read`` (a range of the primary key)."""
    query = sa.select(column).where(read.where(column))
    return [id_ for (id_,) in session.connection().execute(query)]
