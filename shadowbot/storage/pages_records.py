"""The pages' reads across the whole ledger, as columns: a ledger has tens of thousands
of entries, and building an ORM object for each costs seconds. Each (rule version, PR)'s
result is its newest entry, as :func:`shadowbot.storage.ledger_store.current_entries`
has it; the verdicts are read in one pass, as ``shadowbot ledger show`` reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col

from shadowbot.storage.models import LedgerEntryRow, PullRequestRow, VerdictRow


@dataclass(frozen=True, slots=True)
class CurrentResult:
    """A (rule version, PR)'s newest ledger entry, read as columns (no ORM objects: a
    ledger has tens of thousands of them)."""

    rule_id: int
    pr_id: int
    repository_id: int
    author_type: str
    result: str
    reason: str
    at: datetime | None
    settled_at: datetime
    saved_seconds: float | None
    evidence: list[dict[str, Any]]


def current_results(session: Session) -> list[CurrentResult]:
    """What :func:`shadowbot.storage.ledger_store.current_entries` gives, oldest first."""
    query = (
        sa.select(
            col(LedgerEntryRow.rule_id),
            col(LedgerEntryRow.pull_request_id),
            col(PullRequestRow.repository_id),
            col(PullRequestRow.author_type),
            col(LedgerEntryRow.result),
            col(LedgerEntryRow.reason),
            col(LedgerEntryRow.at),
            col(LedgerEntryRow.settled_at),
            col(LedgerEntryRow.saved_seconds),
            col(LedgerEntryRow.evidence),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .order_by(col(LedgerEntryRow.id))
    )
    newest: dict[tuple[int, int], CurrentResult] = {}
    for row in session.connection().execute(query):
        found = CurrentResult(*row)
        newest.pop((found.rule_id, found.pr_id), None)  # keep the order of the newest
        newest[found.rule_id, found.pr_id] = found
    return list(newest.values())


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
    evidence: list[dict[str, Any]]
    corrects_id: int | None
    repository_id: int
    number: int
    title: str
    author_login: str

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


def rule_results(session: Session, rule_id: int) -> list[RuleResult]:
    """The rule version's result on each pull request, oldest first (read by
    ``ix_ledger_entry_rule_pull_request``, as columns)."""
    query = (
        sa.select(
            col(LedgerEntryRow.id),
            col(LedgerEntryRow.pull_request_id),
            col(LedgerEntryRow.result),
            col(LedgerEntryRow.reason),
            col(LedgerEntryRow.at),
            col(LedgerEntryRow.settled_at),
            col(LedgerEntryRow.saved_seconds),
            col(LedgerEntryRow.evidence),
            col(LedgerEntryRow.corrects_id),
            col(PullRequestRow.repository_id),
            col(PullRequestRow.number),
            col(PullRequestRow.title),
            col(PullRequestRow.author_login),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .where(col(LedgerEntryRow.rule_id) == rule_id)
        .order_by(col(LedgerEntryRow.id))
    )
    newest: dict[int, RuleResult] = {}
    for row in session.connection().execute(query):
        found = RuleResult(*row)
        newest.pop(found.pr_id, None)
        newest[found.pr_id] = found
    return list(newest.values())


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


def claims_by_repository(session: Session) -> list[tuple[int, int, str, int]]:
    """(rule id, PR id, author type, repository id) of every ``merge`` verdict, once per
    pair: :func:`shadowbot.offline.ledger_view.count_unsettled`'s input, per repository.
    One pass over the verdicts, as ``ledger show`` makes (reaching them through each
    repository's pull requests is slower: random reads of the same rows)."""
    query = (
        sa.select(
            col(VerdictRow.rule_id),
            col(VerdictRow.pull_request_id),
            col(PullRequestRow.author_type),
            col(PullRequestRow.repository_id),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(VerdictRow.pull_request_id))
        .where(col(VerdictRow.decision) == "merge")
        .distinct()
    )
    return [(rule, pr, kind, repo) for rule, pr, kind, repo in session.connection().execute(query)]


def errors_by_repository(session: Session) -> dict[tuple[int, int], int]:
    """Per (repository id, rule version id), the pull requests on which the rule yielded
    ``error`` (as :func:`shadowbot.live.settling.error_counts` counts them all)."""
    query = (
        sa.select(
            col(PullRequestRow.repository_id),
            col(VerdictRow.rule_id),
            col(VerdictRow.pull_request_id),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(VerdictRow.pull_request_id))
        .where(col(VerdictRow.decision) == "error")
        .distinct()
    )
    counts: dict[tuple[int, int], int] = {}
    for repo, rule, _ in session.connection().execute(query):
        counts[repo, rule] = counts.get((repo, rule), 0) + 1
    return counts
