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

A rule that keeps failing is another matter: it is **quarantined**, judged no more for
the rest of the history, once it has raised or run out of time on ``max_errors`` PRs
(3 by default), or run out of time on ``max_timeouts`` PRs (1 by default). Errors are
counted in PRs, not evaluations: one odd PR replayed in ten snapshots is one PR. A
timeout is quarantined sooner because each costs the whole time budget (1 s, some
100,000 times a usual evaluation): a rule hanging on every PR would otherwise add
``max_errors`` seconds to a backtest that takes a few, while the first PR it hung on is
already what its author needs to see. After a timeout the rule is not evaluated again on
that PR either. The report names the PRs where a rule failed and where it was
quarantined; its record stops there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadowbot.core.engine import Engine, is_timeout
from shadowbot.core.ledger import RuleRecord, Thresholds
from shadowbot.core.settlement import ClaimFacts, Evidence, Policy, Settlement, settle
from shadowbot.offline.history import Event, HistoryRecord
from shadowbot.offline.reads import ALL, mask, read_of, traced
from shadowbot.rules import Rule
from shadowbot.snapshot import CIResult, FileChange, Review, Snapshot, counts_as_merger
from shadowbot.verdict import Decision

_END_OF_TIME = datetime.max.replace(tzinfo=UTC)
#: Events after which the snapshot is unchanged, so no rule is evaluated again.
_NO_EVALUATION = frozenset({"comment", "merged", "closed", "reverted"})
#: The snapshot fields each kind of event may change, as bits (shadowbot.offline.reads);
#: every event changes the time.
_TIME_CHANGED = mask("updated_at")
_ALL_CHANGED = ALL
_PUSH_CHANGED = mask("head_sha", "ci", "files", "code_owners", "updated_at")
_REVIEW_CHANGED = mask("reviews", "updated_at")
_CHECK_CHANGED = mask("ci", "updated_at")
_LABELS_CHANGED = mask("labels", "updated_at")
_DRAFT_CHANGED = mask("draft", "updated_at")
_TEXT_CHANGED = mask("title", "body", "updated_at")
#: The failed PRs a report lists for each rule (the count is always complete).
LISTED_FAILURES = 20


@dataclass(frozen=True, slots=True)
class Claim:
    sha: str
    at: datetime
    index: int  # position in the timeline of the event after which the rule claimed


@dataclass(slots=True)
class _RuleOnPR:
    claim: Claim | None = None
    last: Decision | None = None
    last_sha: str = ""
    errors: int = 0
    first_error: str = ""
    timed_out: bool = False
    #: The fields its last evaluation read, and those changed since (as bits); -1: none
    #: known, evaluate it.
    read: int = -1
    changed: int = 0


@dataclass(slots=True)
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

    def apply(self, event: Event) -> int:
        """Apply ``event``; the snapshot fields it may have changed (a superset)."""
        kind = event.type
        if kind == "check":  # half the events: first
            ci = event.ci
            if ci is not None and ci.commit == self.head:
                self.ci[(ci.name, ci.source)] = ci
                return _CHECK_CHANGED
            return _TIME_CHANGED
        if kind == "opened" or kind == "push":
            if event.head != self.head:
                self.ci = {}
            self.head = event.head
            if event.files is not None and event.owners is not None:
                self.files, self.owners = event.files, event.owners
            if kind == "opened":
                self.draft, self.labels = event.draft, set(event.labels)
                return _ALL_CHANGED
            return _PUSH_CHANGED
        elif kind == "review" and event.review is not None:
            self.reviews = (*self.reviews, event.review)
            return _REVIEW_CHANGED
        elif kind == "labeled":
            self.labels.add(event.label)
            return _LABELS_CHANGED
        elif kind == "unlabeled":
            self.labels.discard(event.label)
            return _LABELS_CHANGED
        elif kind == "ready_for_review" or kind == "converted_to_draft":
            self.draft = kind == "converted_to_draft"
            return _DRAFT_CHANGED
        elif kind == "edited":
            self.title = self.title if event.title is None else event.title
            self.body = self.body if event.body is None else event.body
            return _TEXT_CHANGED
        elif kind == "merged" or kind == "closed":
            self.state = kind
        elif kind == "reopened":
            self.state = "open"
        return _TIME_CHANGED

    def snapshot(self, repository: str, at: datetime) -> Snapshot:
        """The snapshot now. Built by filling a new instance's attributes: a frozen
        dataclass's ``__init__`` sets each field through ``object.__setattr__``, which
        costs eight times as much on the backtest's hot path (the result is equal to
        ``Snapshot(**fields)``: tests/test_backtest_skip.py)."""
        record = self.record
        snapshot = object.__new__(Snapshot)
        snapshot.__dict__.update(
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
            state="open",
            files_missing=0,
        )
        return snapshot


@dataclass(frozen=True, slots=True)
class RuleResult:
    """What one rule did on one record."""

    rule: Rule
    settlement: Settlement | None  # None: the rule never claimed
    missed: bool
    errors: int  # evaluations that raised or ran out of time
    first_error: str
    claim: Claim | None = None
    #: The rule's last decision on the PR (None: never evaluated).
    last: Decision | None = None
    timed_out: bool = False


def snapshots(record: HistoryRecord, repository: str) -> Iterator[tuple[int, Snapshot]]:
    """The PR's snapshot after each event that may change a verdict, with the event's
    position in the timeline; nothing once the PR is merged or closed."""
    pr = _PRState(record, title=record.title, body=record.body)
    for index, event in enumerate(record.events):
        pr.apply(event)
        if event.type not in _NO_EVALUATION and pr.state == "open":
            yield index, pr.snapshot(repository, event.at)


def replay(
    record: HistoryRecord,
    repository: str,
    engine: Engine,
    rules: Iterable[Rule],
    skip_unchanged: bool = True,
) -> dict[str, _RuleOnPR]:
    """Replay one timeline; return each rule's claim, last verdict and errors. A rule
    that runs out of time is not evaluated again on this PR.

    With ``skip_unchanged``, a rule whose last decision was ``skip`` or ``hold`` is not
    evaluated again until an event changes a snapshot field that evaluation read
    (:mod:`shadowbot.offline.reads`): being pure, it would decide the same. The results
    are the same either way (tests/test_backtest_skip.py); only the time differs."""
    rules = tuple(rules)
    seen = {rule.name: _RuleOnPR() for rule in rules}
    undecided = list(rules)
    thread = threading.get_ident()
    pr = _PRState(record, title=record.title, body=record.body)
    changed = 0  # the fields changed since the last evaluation point
    wanted = -1  # the fields any undecided rule read (-1: some rule must be evaluated)
    head = ""  # the head at the last evaluation point
    for index, event in enumerate(record.events):
        changed |= pr.apply(event)
        if event.type in _NO_EVALUATION or pr.state != "open":
            continue
        head = pr.head
        if skip_unchanged and not changed & wanted:
            changed = 0  # nothing any rule read changed: every decision stands
            continue
        snapshot: Snapshot | None = None
        wanted = 0
        for rule in tuple(undecided):
            on_pr = seen[rule.name]
            if skip_unchanged:
                on_pr.changed |= changed
                if not on_pr.read & on_pr.changed:
                    wanted |= on_pr.read
                    continue  # nothing it read changed: the same decision
            if snapshot is None:
                snapshot = pr.snapshot(repository, event.at)
            view = traced(snapshot) if skip_unchanged else snapshot
            verdict = engine.evaluate_rule(rule, view, explain=False, thread=thread)
            decision = verdict.decision
            on_pr.last, on_pr.last_sha = decision, snapshot.head_sha
            on_pr.read, on_pr.changed = read_of(view) if skip_unchanged else -1, 0
            if decision is Decision.MERGE:
                on_pr.claim = Claim(snapshot.head_sha, snapshot.updated_at, index)
                undecided.remove(rule)
            elif decision is Decision.ERROR:
                on_pr.read = -1  # errors are counted per evaluation: evaluate it again
                on_pr.errors += 1
                on_pr.first_error = on_pr.first_error or verdict.reason
                if is_timeout(verdict):
                    on_pr.timed_out = True
                    undecided.remove(rule)
            wanted |= on_pr.read
        changed = 0
        if not undecided:
            break
    # A rule left undecided was, for all it read, deciding the same on the last head.
    for rule in undecided:
        on_pr = seen[rule.name]
        if on_pr.last is not None:
            on_pr.last_sha = head
    return seen


def claim_facts(record: HistoryRecord, claim: Claim, mergers: frozenset[str]) -> ClaimFacts:
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
    skip_unchanged: bool = True,
    every_rule: bool = True,
) -> list[RuleResult]:
    """Replay one record and settle every rule's claim on it. Without ``every_rule``,
    only the results with something to count (a claim, a miss, an error) are returned."""
    rules = tuple(rules)
    seen = replay(record, repository, engine, rules, skip_unchanged)
    merge = reverted = None
    for event in record.events:
        if event.type == "merged":
            merge = merge or event
        elif event.type == "reverted":
            reverted = event
    # Rules that claimed after the same event share its evidence, hence its settlement.
    settled: dict[int, Settlement] = {}
    results = []
    for rule in rules:
        on_pr = seen[rule.name]
        settlement = None
        missed = False
        claim = on_pr.claim
        if claim is not None:
            settlement = settled.get(claim.index)
            if settlement is None:
                facts = claim_facts(record, claim, mergers)
                settlement = settled[claim.index] = settle(facts, policy, _END_OF_TIME)
        elif merge is not None and reverted is None:
            missed = on_pr.last is Decision.HOLD and on_pr.last_sha == merge.head
        if not (every_rule or settlement is not None or missed or on_pr.errors):
            continue
        results.append(
            RuleResult(
                rule,
                settlement,
                missed,
                on_pr.errors,
                on_pr.first_error,
                on_pr.claim,
                on_pr.last,
                on_pr.timed_out,
            )
        )
    return results


@dataclass(frozen=True, slots=True)
class Quarantine:
    """Why and where a rule stopped being judged."""

    pr: int  # the PR whose error put it in quarantine
    reason: str


@dataclass
class RuleReport:
    rule: Rule
    record: RuleRecord
    #: PRs judged with this rule (all of them, unless it was quarantined); up to date
    #: after :meth:`Backtest.summary`.
    judged: int = 0
    #: PRs where it raised or ran out of time at least once, and those where it ran out.
    error_prs: int = 0
    timeout_prs: int = 0
    #: The first :data:`LISTED_FAILURES` of those PRs, each with its first error.
    failed: list[tuple[int, str]] = field(default_factory=list)
    quarantined: Quarantine | None = None


#: Told each record and every judged rule's result on it.
Observer = Callable[[HistoryRecord, list[RuleResult]], None]


@dataclass
class Backtest:
    """The running backtest of a set of rules: feed it records in order.

    ``rules`` defaults to the engine's; several backtests may share one engine (one
    watchdog, one signal handler), each judging its own rules.
    """

    engine: Engine
    policy: Policy
    thresholds: Callable[[str], Thresholds]
    repository: str = ""
    mergers: frozenset[str] = frozenset()
    records: int = 0
    reports: dict[str, RuleReport] = field(default_factory=dict)
    #: PRs with errors before a rule is quarantined; None: never.
    max_errors: int | None = 3
    #: PRs where it ran out of time before a rule is quarantined; None: never.
    max_timeouts: int | None = 1
    rules: Sequence[Rule] | None = None
    observers: list[Observer] = field(default_factory=list)
    #: Skip an evaluation when nothing the rule read changed (see :func:`replay`).
    skip_unchanged: bool = True

    def __post_init__(self) -> None:
        if self.rules is None:
            self.rules = self.engine.rules
        for value in (self.max_errors, self.max_timeouts):
            if value is not None and value < 1:
                raise ValueError("a quarantine threshold must be at least 1")
        for rule in self.rules:
            record = RuleRecord(self.thresholds(rule.name))
            self.reports[rule.name] = RuleReport(rule, record)
        self._active = tuple(self.rules)

    def add(self, record: HistoryRecord) -> list[RuleResult]:
        """Judge and count one more record; its results (only those with something to
        count when there is no observer: :func:`judge`)."""
        results = judge(
            record,
            self.repository,
            self.engine,
            self._active,
            self.policy,
            self.mergers,
            self.skip_unchanged,
            every_rule=bool(self.observers),
        )
        self.tally(record.number, results)
        for observe in self.observers:
            observe(record, results)
        return results

    def tally(self, pr: int, results: Iterable[RuleResult]) -> None:
        """Count one more record, PR ``pr``, with its judged rules' results (those of
        rules still judged: :meth:`judging`). Results with nothing to count (no claim,
        no miss, no error) may be left out."""
        self.records += 1
        quarantined = False
        for result in results:
            report = self.reports[result.rule.name]
            ledger = report.record
            if result.errors:
                ledger.errors += result.errors
                if ledger.first_error is None:
                    ledger.first_error = (pr, result.first_error)
                quarantined |= self._count_failure(report, pr, result)
            ledger.missed += result.missed
            if result.settlement is not None:
                ledger.record(result.settlement, pr)
        if quarantined:
            self._active = tuple(r for r in self._active if not self.reports[r.name].quarantined)

    def judging(self, rule: Rule) -> bool:
        """Whether ``rule`` is still judged (not quarantined)."""
        return self.reports[rule.name].quarantined is None

    def _count_failure(self, report: RuleReport, pr: int, result: RuleResult) -> bool:
        """Count a PR on which the rule failed; whether that quarantines it."""
        report.error_prs += 1
        report.timeout_prs += result.timed_out
        if len(report.failed) < LISTED_FAILURES:
            report.failed.append((pr, result.first_error))
        if self.max_timeouts is not None and report.timeout_prs >= self.max_timeouts:
            reason = f"ran out of time on {_prs(report.timeout_prs)}"
        elif self.max_errors is not None and report.error_prs >= self.max_errors:
            reason = f"failed on {_prs(report.error_prs)}"
        else:
            return False
        report.quarantined = Quarantine(pr, reason)
        report.judged = self.records
        return True

    @property
    def quarantined(self) -> list[RuleReport]:
        return [r for r in self.summary() if r.quarantined is not None]

    def summary(self) -> list[RuleReport]:
        reports = [self.reports[rule.name] for rule in self.rules or ()]
        for report in reports:
            if report.quarantined is None:
                report.judged = self.records
        return reports


def _prs(count: int) -> str:
    return f"{count} PR" if count == 1 else f"{count} PRs"
