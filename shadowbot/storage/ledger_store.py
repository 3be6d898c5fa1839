"""The ledger and the audit log in the database: appended to, never edited.

The newest ledger entry of a (rule version, PR) is its result; an older one stays as it
was, and the newer one names it in ``corrects_id``. A rule's state is the newest
``state`` event of the audit log, written by the settlement job and by manual overrides.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, func, select

from shadowbot.core.figures import Entry
from shadowbot.core.reduction import LiveResult, RuleOnPullRequest
from shadowbot.storage.models import (
    AuditEventRow,
    LedgerEntryRow,
    PullRequestRow,
    RuleRow,
    SettlementRunRow,
    VerdictRow,
    utcnow,
)

#: Audit actions: a rule's state changed (automatically, or after an override), and a
#: manual ``enable``/``disable`` with its reason.
STATE, OVERRIDE = "state", "override"


def stored_evidence(result: RuleOnPullRequest) -> list[dict[str, Any]]:
    """The evidence links an entry stores for ``result``: who did what when, and whether
    the revision was disputed."""
    links = [dict(link) for link in result.evidence]
    return links + ([{"kind": "disputed"}] if result.disputed else [])


def _saved(result: RuleOnPullRequest) -> float | None:
    return result.saved.total_seconds() if result.saved is not None else None


def agrees(row: LedgerEntryRow, result: RuleOnPullRequest) -> bool:
    """Whether a stored entry says all that ``result`` says: the result and its reason,
    when, the evidence it rests on and its links, and the time saved."""
    return (
        (row.result, row.reason, row.at, row.revision_id, row.reaction_id, row.outcome_id)
        == result.key()[:6]
        and row.evidence == stored_evidence(result)
        and row.saved_seconds == _saved(result)
    )


def latest_entries(session: Session, pr_id: int) -> dict[int, LedgerEntryRow]:
    """The newest entry of each rule version on one PR, by rule id."""
    rows = session.exec(
        select(LedgerEntryRow)
        .where(LedgerEntryRow.pull_request_id == pr_id)
        .order_by(col(LedgerEntryRow.id))
    )
    return {row.rule_id: row for row in rows}


def record_results(
    session: Session,
    pr: PullRequestRow,
    results: Iterable[RuleOnPullRequest],
    rule_ids: Mapping[str, int],
    now: datetime,
) -> list[LedgerEntryRow]:
    """Append an entry for each result that differs from its rule's newest entry. A
    pending result is only written to take back an earlier one (a 👎 removed); a rule
    with an entry and no result any more (a ``missed`` whose merge was reverted after
    all) gets a ``pending`` entry that says ``retracted``."""
    latest = latest_entries(session, cast(int, pr.id))
    added = []
    results = list(results)
    judged = {rule_ids[r.rule] for r in results}
    keys = {rule_id: key for key, rule_id in rule_ids.items()}
    for rule_id, newest in latest.items():
        if rule_id not in judged and newest.result != LiveResult.PENDING.value:
            results.append(
                RuleOnPullRequest(keys[rule_id], LiveResult.PENDING, "retracted", newest.at)
            )
    for result in results:
        rule_id = rule_ids[result.rule]
        before = latest.get(rule_id)
        if before is None and result.result is LiveResult.PENDING:
            continue
        if before is not None and agrees(before, result):
            continue
        row = LedgerEntryRow(
            rule_id=rule_id,
            pull_request_id=cast(int, pr.id),
            result=result.result.value,
            reason=result.reason,
            at=result.at,
            revision_id=result.revision_id,
            reaction_id=result.reaction_id,
            outcome_id=result.outcome_id,
            corrects_id=before.id if before is not None else None,
            evidence=stored_evidence(result),
            saved_seconds=_saved(result),
            settled_at=now,
        )
        session.add(row)
        added.append(row)
    session.flush()
    return added


@dataclass(frozen=True, slots=True)
class CurrentEntry:
    """A (rule version, PR)'s result as the ledger has it now."""

    entry: LedgerEntryRow
    pr: PullRequestRow


def newest_ids(rule_id: int | None = None) -> sa.Select[Any]:
    """The id of the newest entry of each (rule version, PR): read from
    ``ix_ledger_entry_rule_pull_request`` alone."""
    query = sa.select(func.max(col(LedgerEntryRow.id)))
    if rule_id is not None:
        query = query.where(col(LedgerEntryRow.rule_id) == rule_id)
    return query.group_by(col(LedgerEntryRow.rule_id), col(LedgerEntryRow.pull_request_id))


def current_entries(session: Session, rule_id: int | None = None) -> list[CurrentEntry]:
    """The newest entry of every (rule version, PR), oldest first."""
    query = (
        select(LedgerEntryRow, PullRequestRow)
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .where(col(LedgerEntryRow.id).in_(newest_ids(rule_id)))
        .order_by(col(LedgerEntryRow.id))
    )
    return [CurrentEntry(entry, pr) for entry, pr in session.exec(query)]


@dataclass(frozen=True, slots=True)
class CurrentResult:
    """A ledger entry read as columns, with what the figures need of its pull request:
    building an ORM object for each of a ledger's tens of thousands of entries costs
    seconds."""

    id: int
    rule_id: int
    pr_id: int
    repository_id: int
    author_type: str
    result: str
    reason: str
    at: datetime | None
    settled_at: datetime
    saved_seconds: float | None
    disputed: bool

    def entry(self) -> Entry:
        """The result as :func:`shadowbot.core.figures.figures` counts it."""
        return Entry(
            result=self.result,
            reason=self.reason,
            saved_seconds=self.saved_seconds,
            author_type=self.author_type,
            disputed=self.disputed,
            at=self.at,
        )


def read_results(session: Session, where: sa.ColumnElement[bool]) -> list[CurrentResult]:
    """The ledger entries ``where`` selects, oldest first, as columns."""
    evidence = col(LedgerEntryRow.evidence)
    # Only an entry whose evidence mentions a dispute is decoded (a few in a hundred).
    maybe_disputed = sa.case((sa.cast(evidence, sa.Text).like("%disputed%"), evidence))
    query = (
        sa.select(
            col(LedgerEntryRow.id),
            col(LedgerEntryRow.rule_id),
            col(LedgerEntryRow.pull_request_id),
            col(PullRequestRow.repository_id),
            col(PullRequestRow.author_type),
            col(LedgerEntryRow.result),
            col(LedgerEntryRow.reason),
            col(LedgerEntryRow.at),
            col(LedgerEntryRow.settled_at),
            col(LedgerEntryRow.saved_seconds),
            sa.type_coerce(maybe_disputed, sa.JSON),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
        .where(where)
        .order_by(col(LedgerEntryRow.id))
    )
    return [
        CurrentResult(
            cast(int, id_), rule, pr, repo, kind, result, reason, at, settled, saved, _disputed(ev)
        )
        for id_, rule, pr, repo, kind, result, reason, at, settled, saved, ev in (
            session.connection().execute(query)
        )
    ]


def _disputed(evidence: list[dict[str, Any]] | None) -> bool:
    return any(link.get("kind") == "disputed" for link in evidence or ())


def current_results(session: Session) -> list[CurrentResult]:
    """The newest entry of every (rule version, PR), oldest first, in one query: what
    :func:`current_entries` gives, as columns."""
    return read_results(session, col(LedgerEntryRow.id).in_(newest_ids()))


def unsettled_claims(session: Session) -> list[tuple[int, int, str, int]]:
    """(rule id, PR id, author type, repository id) of each pull request a rule version
    claimed (said ``merge``) and the ledger has no entry for yet: the settlement job
    writes nothing for a claim still pending. The claims are read from
    ``ix_verdict_decision_rule_pull_request`` alone, each looked up in
    ``ix_ledger_entry_rule_pull_request``."""
    claims = (
        sa.select(col(VerdictRow.rule_id), col(VerdictRow.pull_request_id))
        .where(col(VerdictRow.decision) == "merge")
        .distinct()
        .subquery()
    )
    settled = sa.select(col(LedgerEntryRow.id)).where(
        col(LedgerEntryRow.rule_id) == claims.c.rule_id,
        col(LedgerEntryRow.pull_request_id) == claims.c.pull_request_id,
    )
    query = (
        sa.select(
            claims.c.rule_id,
            claims.c.pull_request_id,
            col(PullRequestRow.author_type),
            col(PullRequestRow.repository_id),
        )
        .join(PullRequestRow, col(PullRequestRow.id) == claims.c.pull_request_id)
        .where(~settled.exists())
    )
    return [(rule, pr, kind, repo) for rule, pr, kind, repo in session.connection().execute(query)]


def add_audit(
    session: Session,
    rule_id: int,
    actor: str,
    action: str,
    reason: str,
    detail: dict[str, Any],
    at: datetime | None = None,
) -> AuditEventRow:
    row = AuditEventRow(
        at=at or utcnow(),
        actor=actor,
        rule_id=rule_id,
        action=action,
        reason=reason,
        detail=detail,
    )
    session.add(row)
    return row


def audit_events(session: Session, rule_id: int | None = None) -> list[AuditEventRow]:
    query = select(AuditEventRow).order_by(col(AuditEventRow.at), col(AuditEventRow.id))
    if rule_id is not None:
        query = query.where(AuditEventRow.rule_id == rule_id)
    return list(session.exec(query))


def states(session: Session) -> dict[int, tuple[str, str]]:
    """Each rule version's state and why, from the newest ``state`` event; a rule with
    none is in shadow (``active``)."""
    found: dict[int, tuple[str, str]] = {}
    for row in audit_events(session):
        if row.action == STATE and row.rule_id is not None:
            found[row.rule_id] = (str(row.detail.get("to", "active")), row.reason)
    return found


def disabled_rules(session: Session) -> dict[str, str]:
    """``name@version`` of each disabled rule version, with why."""
    disabled = {
        rule_id: why for rule_id, (state, why) in states(session).items() if state == "disabled"
    }
    if not disabled:
        return {}
    rows = session.exec(select(RuleRow).where(col(RuleRow.id).in_(disabled)))
    return {f"{row.name}@{row.version}": disabled[cast(int, row.id)] for row in rows}


def last_settlement(session: Session) -> SettlementRunRow | None:
    return session.exec(select(SettlementRunRow).order_by(col(SettlementRunRow.id).desc())).first()
