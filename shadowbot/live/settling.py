"""The settlement job: gather each open PR's evidence, settle it with the one pure
function, append what changed to the ledger, derive every rule's state, audit the
changes. ``shadowbot ledger verify`` settles the stored evidence again and compares.

Plain synchronous functions over the database; the scheduler runs them in a thread.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session, col, func, select

from shadowbot.core.figures import Entry, Figures, Override, figures, state_of
from shadowbot.core.ledger import RuleState
from shadowbot.core.reduction import (
    LivePolicy,
    LiveResult,
    RuleOnPullRequest,
    settle_pull_request,
)
from shadowbot.settings import Settings
from shadowbot.storage import (
    PullRequestRow,
    RepositoryRow,
    RevisionRow,
    RuleRow,
    SettlementRunRow,
    VerdictRow,
)
from shadowbot.storage.evidence import every_judged, gather, open_to_settlement, rule_keys
from shadowbot.storage.ledger_store import (
    OVERRIDE,
    STATE,
    CurrentResult,
    add_audit,
    agrees,
    audit_events,
    current_results,
    disabled_rules,
    last_settlement,
    latest_entries,
    record_results,
    states,
)

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class StateChange:
    rule: str
    before: str
    after: str
    reason: str


@dataclass
class SettleReport:
    entries: int = 0
    pull_requests: int = 0
    changes: list[StateChange] = field(default_factory=list)
    #: Open PRs (repository, installation, number) showing a rule just disabled: their
    #: verdicts are edited to say so.
    refresh: list[tuple[str, int, int]] = field(default_factory=list)


def settle_all(database: Database, settings: Settings, now: datetime) -> SettleReport:
    """Settle every PR whose results may have changed, as of ``now``; one transaction."""
    report = SettleReport()
    policy = settings.live_policy()
    longest = max(policy.grace_period, policy.revert_window).total_seconds()
    with Session(database) as session:
        keys = rule_keys(session)
        ids = {key: rule_id for rule_id, key in keys.items()}
        last = last_settlement(session)
        for pr in open_to_settlement(session, now, longest, last.at if last else None):
            results = settle_pull_request(gather(session, pr, keys), policy, now)
            report.entries += len(record_results(session, pr, results, ids, now))
            report.pull_requests += 1
        report.changes = update_states(session, settings, now, actor="settlement")
        report.refresh = open_pull_requests_showing(session, disabled_rules(session))
        session.add(SettlementRunRow(at=now, entries=report.entries, policy=policy.as_dict()))
        session.commit()
    for change in report.changes:
        log.info(
            "rule %s: %s -> %s (%s)",
            change.rule,
            change.before,
            change.after,
            change.reason,
            extra={"rule": change.rule},
        )
    return report


def record_figures(
    session: Session, results: Sequence[CurrentResult] | None = None
) -> dict[int, Figures]:
    """Each rule version's record from the ledger as it stands, by rule id: the newest
    entry of each (rule version, PR) read as columns in one query (or ``results``, read
    so already), counted once."""
    by_rule: dict[int, list[Entry]] = defaultdict(list)
    for current in current_results(session) if results is None else results:
        by_rule[current.rule_id].append(current.entry())
    errors = error_counts(session)
    return {
        rule_id: figures(by_rule.get(rule_id, []), errors.get(rule_id, 0))
        for rule_id in rule_keys(session)
    }


def error_counts(session: Session) -> dict[int, int]:
    """Per rule version, the PRs on which it yielded ``error`` at least once (read from
    ``ix_verdict_decision_rule_pull_request`` alone)."""
    rows = session.exec(
        select(VerdictRow.rule_id, func.count(sa.distinct(col(VerdictRow.pull_request_id))))
        .where(VerdictRow.decision == "error")
        .group_by(col(VerdictRow.rule_id))
    )
    return {rule_id: int(count) for rule_id, count in rows}


def overrides_of(session: Session) -> dict[int, list[Override]]:
    found: dict[int, list[Override]] = defaultdict(list)
    for row in audit_events(session):
        if row.action == OVERRIDE and row.rule_id is not None:
            disable = row.detail.get("action") == "disable"
            found[row.rule_id].append(
                Override(row.at, "disable" if disable else "enable", row.reason, row.actor)
            )
    return found


def update_states(
    session: Session,
    settings: Settings,
    now: datetime,
    actor: str,
    only: Collection[int] | None = None,
) -> list[StateChange]:
    """Derive every rule version's state (or those of the rule ids ``only``); audit each
    change (one event, one log line). A disabled rule stays disabled until a manual
    ``enable`` (DESIGN.md: "Only a manual enable (audited) or a new version brings it
    back"), even when a loss that disabled it is taken back."""
    keys = rule_keys(session)
    if only is not None:
        keys = {rule_id: key for rule_id, key in keys.items() if rule_id in only}
    became = _last_change_at(session)
    results = current_results(session)
    records = record_figures(session, results)
    overrides = overrides_of(session)
    settled: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for current in results:
        settled[current.rule_id].append((current.settled_at, current.result))
    known = states(session)
    changes = []
    for rule_id, key in keys.items():
        name = key.partition("@")[0]
        thresholds = settings.thresholds_for(name)
        record = records[rule_id]
        after = state_of(
            record.wins,
            record.losses,
            thresholds,
            overrides.get(rule_id, ()),
            settled.get(rule_id, ()),
            _promotion_rate(settings, name),
        )
        before = known.get(rule_id, (RuleState.ACTIVE.value, ""))[0]
        if after.value == before:
            continue
        mine = overrides.get(rule_id, [])
        if before == RuleState.DISABLED.value and not _enabled_since(mine, became.get(rule_id)):
            continue
        reason = _why(after, before, record, thresholds.max_losses, mine)
        detail = {"from": before, "to": after.value, "wins": record.wins, "losses": record.losses}
        add_audit(session, rule_id, actor, STATE, reason, detail, at=now)
        changes.append(StateChange(key, before, after.value, reason))
    return changes


def _promotion_rate(settings: Settings, name: str) -> float | None:
    """The global target loss rate, unless the rule has its own ``promote_wins``."""
    own = settings.rule_thresholds.get(name)
    if own is not None and own.promote_wins != settings.thresholds.promote_wins:
        return None
    return settings.promote_max_loss_rate


def _last_change_at(session: Session) -> dict[int, datetime]:
    """When each rule's state last changed."""
    return {
        row.rule_id: row.at
        for row in audit_events(session)
        if row.action == STATE and row.rule_id is not None
    }


def _enabled_since(overrides: list[Override], since: datetime | None) -> bool:
    newest = max(overrides, key=lambda o: o.at, default=None)
    return (
        newest is not None and newest.action == "enable" and (since is None or newest.at >= since)
    )


def _why(
    state: RuleState, before: str, record: Figures, max_losses: int, overrides: list[Override]
) -> str:
    newest = max(overrides, key=lambda o: o.at, default=None)
    if newest is not None and newest.action == "disable" and state is RuleState.DISABLED:
        return f"disabled by {newest.actor}: {newest.reason}"
    if state is RuleState.DISABLED:
        return f"{record.losses} losses, more than the {max_losses} allowed"
    if state is RuleState.PROMOTED:
        return f"{record.wins} wins and no loss"
    if newest is not None and newest.action == "enable" and before == RuleState.DISABLED.value:
        return f"enabled by {newest.actor}: {newest.reason}"
    if before == RuleState.PROMOTED.value and record.losses:
        losses = f"{record.losses} loss" + ("es" if record.losses > 1 else "")
        return f"a loss revokes the promotion ({record.wins} wins, {losses})"
    return "back in shadow mode"


def open_pull_requests_showing(
    session: Session, rule_keys_: Iterable[str]
) -> list[tuple[str, int, int]]:
    """Open PRs one of whose comments still shows a claim of one of these rules: the
    newest revision of the comment claims for it. Asked on every run, so a rule disabled
    by hand, or a refresh that failed, is shown as disabled at the next run."""
    wanted = set(rule_keys_)
    if not wanted:
        return []
    rows = session.exec(
        select(RevisionRow, PullRequestRow, RepositoryRow)
        .join(PullRequestRow, col(PullRequestRow.id) == col(RevisionRow.pull_request_id))
        .join(RepositoryRow, col(RepositoryRow.id) == col(PullRequestRow.repository_id))
        .where(PullRequestRow.state == "open", col(RepositoryRow.installation_id).is_not(None))
        .where(col(RevisionRow.comment_id).is_not(None))
        .order_by(col(RevisionRow.shown_at), col(RevisionRow.id))
    )
    newest: dict[int, tuple[RevisionRow, PullRequestRow, RepositoryRow]] = {}
    for revision, pr, repo in rows:
        newest[cast(int, revision.comment_id)] = (revision, pr, repo)
    found = {
        (repo.full_name, cast(int, repo.installation_id), pr.number)
        for revision, pr, repo in newest.values()
        if wanted & set(revision.summary.get("claims") or ())
    }
    return sorted(found)


# -- ledger verify ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Difference:
    rule: str
    repository: str
    number: int
    stored: str
    computed: str
    #: Evidence arrived after the last settlement run: not settled yet, not tampering.
    stale: bool


def verify(database: Database, settings: Settings) -> list[Difference]:
    """Settle every judged PR's stored evidence again, as of the last settlement run and
    with the policy it used, and list each (rule, PR) whose newest ledger entry says
    otherwise."""
    differences = []
    with Session(database) as session:
        last = last_settlement(session)
        if last is None:
            return []
        policy = LivePolicy.from_dict(last.policy) if last.policy else settings.live_policy()
        keys = rule_keys(session)
        ids = {key: rule_id for rule_id, key in keys.items()}
        repos = {r.id: r.full_name for r in session.exec(select(RepositoryRow))}
        for pr in every_judged(session):
            computed = {
                r.rule: r for r in settle_pull_request(gather(session, pr, keys), policy, last.at)
            }
            stored = latest_entries(session, cast(int, pr.id))
            stale = pr.evidence_at is not None and pr.evidence_at > last.at
            for key in sorted(set(computed) | {keys[i] for i in stored}):
                entry = stored.get(ids[key])
                result = computed.get(key)
                if _agrees(entry, result):
                    continue
                differences.append(
                    Difference(
                        key,
                        repos.get(pr.repository_id, "?"),
                        pr.number,
                        _show_entry(entry),
                        _show_result(result),
                        stale,
                    )
                )
    return differences


def _agrees(entry: Any, result: RuleOnPullRequest | None) -> bool:
    if entry is None:
        return result is None or result.result is LiveResult.PENDING
    if result is None:
        return bool(entry.result == LiveResult.PENDING.value)
    return agrees(entry, result)


def _show_entry(entry: Any) -> str:
    return "nothing" if entry is None else f"{entry.result} ({entry.reason})"


def _show_result(result: RuleOnPullRequest | None) -> str:
    return "nothing" if result is None else f"{result.result.value} ({result.reason})"


def rule_id_of(session: Session, name: str, version: int | None) -> RuleRow | None:
    """The rule version ``name`` (its newest recorded version unless ``version``)."""
    query = select(RuleRow).where(RuleRow.name == name)
    if version is not None:
        query = query.where(RuleRow.version == version)
    return session.exec(query.order_by(col(RuleRow.version).desc())).first()
