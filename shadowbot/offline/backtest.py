"""Replay recorded pull requests through the rules and keep each rule's ledger.

One record at a time: its timeline is replayed into snapshots, every rule that has not
claimed yet is evaluated after each event that changes the snapshot, and once the record
ends each claim is settled with the same code as live mode (:mod:`shadowbot.core.settlement`).
Only the per-rule tallies outlive a record, so memory does not grow with the history.

A backtest sees each record's whole future, so it has no grace period: a revert at any
later time is a loss (DESIGN.md, "Backtest").

A rule that would have been disabled keeps being judged to the end of the history: live
mode would have stopped evaluating it at that PR, which the report states, but the full
record is what a maintainer needs to decide whether a fixed version is worth trying.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadowbot.core.engine import Engine
from shadowbot.core.ledger import RuleRecord, Thresholds
from shadowbot.core.settlement import ClaimFacts, Evidence, Policy, Settlement, settle
from shadowbot.offline.history import Event, HistoryRecord
from shadowbot.rules import Rule
from shadowbot.snapshot import CIResult, FileChange, Review, Snapshot, counts_as_merger
from shadowbot.verdict import Decision

_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
#: Events after which the snapshot is unchanged, so no rule is evaluated again.
_NO_EVALUATION = frozenset({"comment", "merged", "closed", "reverted"})


@dataclass
class _Claim:
    sha: str
    at: datetime
    index: int  # position in the timeline of the event after which the rule claimed


@dataclass
class _RuleOnPR:
    claim: _Claim | None = None
    last: Decision | None = None
    last_sha: str = ""
    errors: int = 0
    first_error: str = ""


@dataclass
class _PRState:
    """The mutable replay state of one pull request."""

    record: HistoryRecord
    head: str = ""
    draft: bool = False
    labels: set[str] = field(default_factory=set)
    files: tuple[FileChange, ...] = ()
    owners: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    reviews: tuple[Review, ...] = ()
    ci: dict[tuple[str, str], CIResult] = field(default_factory=dict)
    title: str = ""
    body: str = ""
    state: str = "open"

    def apply(self, event: Event) -> None:
        kind = event.type
        if kind == "opened" or kind == "push":
            if event.head != self.head:
                self.ci = {}
            self.head = event.head
            if event.files is not None and event.owners is not None:
                self.files, self.owners = event.files, event.owners
            if kind == "opened":
                self.draft, self.labels = event.draft, set(event.labels)
        elif kind == "review" and event.review is not None:
            self.reviews = (*self.reviews, event.review)
        elif kind == "check" and event.ci is not None:
            if event.ci.commit == self.head:
                self.ci[(event.ci.name, event.ci.source)] = event.ci
        elif kind == "labeled":
            self.labels.add(event.label)
        elif kind == "unlabeled":
            self.labels.discard(event.label)
        elif kind == "ready_for_review" or kind == "converted_to_draft":
            self.draft = kind == "converted_to_draft"
        elif kind == "edited":
            self.title = self.title if event.title is None else event.title
            self.body = self.body if event.body is None else event.body
        elif kind == "merged" or kind == "closed":
            self.state = kind
        elif kind == "reopened":
            self.state = "open"

    def snapshot(self, repository: str, at: datetime) -> Snapshot:
        record = self.record
        return Snapshot(
            repository=repository,
            number=record.number,
            author=record.author,
            title=self.title,
            body=self.body,
            base=record.base,
            head_sha=self.head,
            draft=self.draft,
            labels=frozenset(self.labels),
            files=self.files,
            reviews=self.reviews,
            ci=tuple(self.ci.values()),
            code_owners=self.owners,
            created_at=record.created_at,
            updated_at=at,
        )


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule did on one record."""

    rule: Rule
    settlement: Settlement | None  # None: the rule never claimed
    missed: bool
    errors: int
    first_error: str


def snapshots(record: HistoryRecord, repository: str) -> Iterator[tuple[int, Snapshot]]:
    """The PR's snapshot after each event that may change a verdict, with the event's
    position in the timeline; nothing once the PR is merged or closed."""
    pr = _PRState(record, title=record.title, body=record.body)
    for index, event in enumerate(record.events):
        pr.apply(event)
        if event.type not in _NO_EVALUATION and pr.state == "open":
            yield index, pr.snapshot(repository, event.at)


def replay(
    record: HistoryRecord, repository: str, engine: Engine, rules: Iterable[Rule]
) -> dict[str, _RuleOnPR]:
    """Replay one timeline; return each rule's claim, last verdict and errors."""
    seen = {rule.name: _RuleOnPR() for rule in rules}
    undecided = list(rules)
    thread = threading.get_ident()
    for index, snapshot in snapshots(record, repository):
        for rule in tuple(undecided):
            verdict = engine.evaluate_rule(rule, snapshot, explain=False, thread=thread)
            on_pr = seen[rule.name]
            on_pr.last, on_pr.last_sha = verdict.decision, snapshot.head_sha
            if verdict.decision is Decision.MERGE:
                on_pr.claim = _Claim(snapshot.head_sha, snapshot.updated_at, index)
                undecided.remove(rule)
            elif verdict.decision is Decision.ERROR:
                on_pr.errors += 1
                on_pr.first_error = on_pr.first_error or verdict.reason
        if not undecided:
            break
    return seen


def claim_facts(record: HistoryRecord, claim: _Claim, mergers: frozenset[str]) -> ClaimFacts:
    """The backtest's evidence about a claim: what came after it in the timeline."""
    evidence: list[Evidence] = []
    merged_sha = merged_at = closed_at = None
    for event in record.events[claim.index + 1 :]:
        review = event.review
        if (
            review is not None
            and review.state == "CHANGES_REQUESTED"
            and counts_as_merger(review.author, record.author, mergers)
        ):
            detail = f"changes requested on {review.commit[:7]}"
            evidence.append(Evidence("objection", event.at, review.author.login, detail))
        elif event.type == "reverted" and event.by is not None:
            evidence.append(
                Evidence("revert", event.at, event.by.login, f"reverted by #{event.pr}")
            )
        elif event.type == "merged":
            merged_sha, merged_at = event.head, event.at
        elif event.type == "closed":
            closed_at = event.at
        elif event.type == "reopened":
            closed_at = None
    return ClaimFacts(
        claimed_sha=claim.sha,
        claimed_at=claim.at,
        evidence=tuple(evidence),
        merged_sha=merged_sha,
        merged_at=merged_at,
        closed_at=closed_at,
    )


def judge(
    record: HistoryRecord,
    repository: str,
    engine: Engine,
    rules: Iterable[Rule],
    policy: Policy,
    mergers: frozenset[str] = frozenset(),
) -> list[RuleResult]:
    """Replay one record and settle every rule's claim on it."""
    rules = tuple(rules)
    seen = replay(record, repository, engine, rules)
    merge = next((e for e in record.events if e.type == "merged"), None)
    reverted = any(e.type == "reverted" for e in record.events)
    results = []
    for rule in rules:
        on_pr = seen[rule.name]
        settlement = None
        missed = False
        if on_pr.claim is not None:
            facts = claim_facts(record, on_pr.claim, mergers)
            settlement = settle(facts, policy, _END_OF_TIME)
        elif merge is not None and not reverted:
            missed = on_pr.last is Decision.HOLD and on_pr.last_sha == merge.head
        results.append(RuleResult(rule, settlement, missed, on_pr.errors, on_pr.first_error))
    return results


@dataclass
class RuleReport:
    rule: Rule
    record: RuleRecord


@dataclass
class Backtest:
    """The running backtest of a set of rules: feed it records in order."""

    engine: Engine
    policy: Policy
    thresholds: Callable[[str], Thresholds]
    repository: str = ""
    mergers: frozenset[str] = frozenset()
    records: int = 0
    reports: dict[str, RuleReport] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for rule in self.engine.rules:
            record = RuleRecord(self.thresholds(rule.name))
            self.reports[rule.name] = RuleReport(rule, record)

    def add(self, record: HistoryRecord) -> None:
        self.records += 1
        results = judge(
            record, self.repository, self.engine, self.engine.rules, self.policy, self.mergers
        )
        for result in results:
            ledger = self.reports[result.rule.name].record
            ledger.errors += result.errors
            if result.first_error and ledger.first_error is None:
                ledger.first_error = (record.number, result.first_error)
            ledger.missed += result.missed
            if result.settlement is not None:
                ledger.record(result.settlement, record.number)

    def summary(self) -> list[RuleReport]:
        return [self.reports[rule.name] for rule in self.engine.rules]
