"""One rule on history, claim by claim: ``shadowbot backtest … --explain RULE``.

Every claim of the rule is listed with its result and why — the PR, the head it claimed,
and the evidence that settled it (who requested changes, the revert, the merge or the
close) — and so is every PR it missed, with the checks that held it on the merged head,
and every PR where it failed. Losses and misses come first: they are what a rule author
reads the list for.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shadowbot.core.engine import Engine
from shadowbot.core.settlement import Result
from shadowbot.errors import ShadowbotError
from shadowbot.offline.backtest import Backtest, RuleReport, RuleResult, snapshots
from shadowbot.offline.history import HistoryReader, HistoryRecord
from shadowbot.offline.report import (
    Progress,
    describe_change,
    legend,
    report_as_dict,
    table_lines,
)
from shadowbot.offline.run import Format, judge_history, new_backtest, to_stderr
from shadowbot.rules import Rule
from shadowbot.settings import Settings
from shadowbot.snapshot import Actor, counts_as_merger
from shadowbot.verdict import Decision

#: The order of the list: what a rule author must look at first.
_ORDER = ("loss", "missed", "error", "pending", "closed_unmerged", "neutral", "win")


@dataclass(frozen=True, slots=True)
class Case:
    """One PR in the explanation: a claim, a miss or a failure."""

    pr: int
    title: str
    #: ``loss``, ``missed``, ``error``, ``pending``, ``closed_unmerged`` (not a loss under
    #: the policy), ``neutral`` or ``win``.
    result: str
    #: The settlement's reason (``objection``, ``reverted``, ``closed_unmerged``,
    #: ``merged``, ``endorsed``, ``superseded``, ``open``), or ``missed``, ``error``.
    reason: str
    #: The head the rule claimed (for a miss: the merged head it held).
    head: str
    #: When it claimed (for a miss: the merge).
    at: datetime | None
    why: str
    #: Who did what when: {"kind", "by", "at", "detail"}.
    evidence: tuple[dict[str, Any], ...] = ()
    #: For a miss: each check that failed on the merged head, {"check", "detail"}.
    held_by: tuple[dict[str, str], ...] = ()
    #: The first error, when the rule also failed on this PR.
    error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "pr": self.pr,
            "title": self.title,
            "result": self.result,
            "reason": self.reason,
            "head": self.head,
            "at": self.at.isoformat() if self.at else None,
            "why": self.why,
            "evidence": list(self.evidence),
            "held_by": list(self.held_by),
            "error": self.error or None,
        }


@dataclass
class Explanation:
    report: RuleReport
    repository: str
    records: int
    closed_unmerged: str
    cases: list[Case] = field(default_factory=list)

    def ordered(self) -> list[Case]:
        """Losses, misses and failures first; in history order within each result."""
        return sorted(self.cases, key=lambda case: _ORDER.index(case.result))


def find_rule(rules: Sequence[Rule], wanted: str) -> Rule:
    """The rule named ``wanted`` (``NAME`` or ``NAME@VERSION``), or a one-line error."""
    for rule in rules:
        if wanted in (rule.name, rule.key):
            return rule
    names = ", ".join(rule.key for rule in rules)
    raise ShadowbotError(f"--explain: no rule {wanted!r} among {names}")


class _Collector:
    """Turns each judged record into cases, while the engine is still running."""

    def __init__(self, engine: Engine, explanation: Explanation, backtest: Backtest) -> None:
        self.engine, self.explanation, self.backtest = engine, explanation, backtest

    def __call__(self, record: HistoryRecord, results: list[RuleResult]) -> None:
        for result in results:
            case = self._case(record, result)
            if case is not None:
                self.explanation.cases.append(case)

    def _case(self, record: HistoryRecord, result: RuleResult) -> Case | None:
        error = result.first_error
        if result.settlement is not None and result.claim is not None:
            evidence = _evidence(record, result.claim.index, self.backtest.mergers)
            settlement = result.settlement
            label = settlement.result.value
            if settlement.reason == "closed_unmerged" and settlement.result is not Result.LOSS:
                label = "closed_unmerged"
            why = _why(settlement.reason, result.claim.sha, evidence)
            return Case(
                record.number,
                record.title,
                label,
                settlement.reason,
                result.claim.sha,
                result.claim.at,
                why,
                tuple(evidence),
                error=error,
            )
        if result.missed:
            return self._missed(record, result)
        if result.errors:
            return Case(record.number, record.title, "error", "error", "", None, error, error=error)
        return None

    def _missed(self, record: HistoryRecord, result: RuleResult) -> Case:
        merge = next(e for e in record.events if e.type == "merged")
        last = None
        for _, snapshot in snapshots(record, self.backtest.repository):
            if snapshot.head_sha == merge.head:
                last = snapshot
        held: tuple[dict[str, str], ...] = ()
        if last is not None:
            verdict = self.engine.evaluate_rule(result.rule, last)
            if verdict.decision is Decision.HOLD:
                held = tuple(
                    {"check": c.check, "detail": c.detail}
                    for c in verdict.checklist
                    if not c.passed
                )
        by = f" by @{merge.by.login}" if merge.by else ""
        checks = "; ".join(
            f'"{h["check"]}" ({h["detail"]})' if h["detail"] else f'"{h["check"]}"' for h in held
        )
        why = f"merged cleanly at {merge.head[:7]}{by}; held by " + (
            checks or "the rule's own hold (no checklist)"
        )
        merged = {
            "kind": "merged",
            "by": _login(merge.by),
            "at": merge.at.isoformat(),
            "detail": merge.head,
        }
        return Case(
            record.number,
            record.title,
            "missed",
            "missed",
            merge.head,
            merge.at,
            why,
            (merged,),
            held,
            result.first_error,
        )


def _login(actor: Actor | None) -> str | None:
    return actor.login if actor is not None else None


def _evidence(record: HistoryRecord, index: int, mergers: frozenset[str]) -> list[dict[str, Any]]:
    """What happened after the claim that its settlement reads: mergers' change
    requests, the merge, the close, a reopening, the revert."""
    found = []
    for event in record.events[index + 1 :]:
        review = event.review
        by: str | None
        if review is not None and review.state == "CHANGES_REQUESTED":
            if counts_as_merger(review.author, record.author, mergers):
                kind, by, detail = "changes_requested", review.author.login, review.commit
            else:
                continue
        elif event.type == "merged":
            kind, by, detail = "merged", _login(event.by), event.head
        elif event.type in ("closed", "reopened"):
            kind, by, detail = event.type, _login(event.by), ""
        elif event.type == "reverted":
            kind, by, detail = "reverted", _login(event.by), f"#{event.pr}"
        else:
            continue
        found.append({"kind": kind, "by": by, "at": event.at.isoformat(), "detail": detail})
    return found


def _who(item: dict[str, Any]) -> str:
    return f" by @{item['by']}" if item["by"] else ""


def _when(item: dict[str, Any]) -> str:
    return str(item["at"])[:16].replace("T", " ")


def _why(reason: str, head: str, evidence: list[dict[str, Any]]) -> str:
    """One line: the evidence that decided the result."""
    kinds = {item["kind"]: item for item in reversed(evidence)}  # the first of each kind
    merged = kinds.get("merged")
    if reason == "objection":
        parts = [
            f"changes requested{_who(e)} on {e['detail'][:7]} at {_when(e)}"
            for e in evidence
            if e["kind"] == "changes_requested"
        ]
        return "; ".join(parts)
    if reason == "reverted" and merged is not None:
        revert = kinds["reverted"]
        return (
            f"merged at {head[:7]}{_who(merged)} at {_when(merged)},"
            f" reverted{_who(revert)} in {revert['detail']} at {_when(revert)}"
        )
    if reason == "merged" and merged is not None:
        return f"merged at the claimed head{_who(merged)} at {_when(merged)}"
    if reason == "superseded" and merged is not None:
        return f"merged at another head, {merged['detail'][:7]}{_who(merged)} at {_when(merged)}"
    if reason == "closed_unmerged":
        close = next((e for e in reversed(evidence) if e["kind"] == "closed"), None)
        return "closed unmerged" + (f"{_who(close)} at {_when(close)}" if close else "")
    if reason == "open":
        return "still open at the end of the history"
    return reason


def explain_rule(
    reader: HistoryReader,
    rules: Sequence[Rule],
    name: str,
    settings: Settings,
    progress: Progress | None = None,
    max_errors: int | None = 3,
) -> Explanation:
    """Backtest the rule named ``name`` alone and collect every claim, miss and failure."""
    rule = find_rule(rules, name)
    with Engine([rule], settings.rule_timeout) as engine:
        backtest = new_backtest(engine, settings, max_errors=max_errors)
        report = backtest.reports[rule.name]
        explanation = Explanation(report, "", 0, backtest.policy.closed_unmerged)
        backtest.observers.append(_Collector(engine, explanation, backtest))
        judge_history(reader, engine, [backtest], progress, to_stderr)
    (explanation.report,) = backtest.summary()
    explanation.repository, explanation.records = backtest.repository, backtest.records
    return explanation


def explanation_as_dict(explanation: Explanation) -> dict[str, Any]:
    return {
        "repository": explanation.repository,
        "records": explanation.records,
        "closed_unmerged": explanation.closed_unmerged,
        "record": report_as_dict(explanation.report),
        "cases": [case.as_dict() for case in explanation.ordered()],
    }


def summary_line(explanation: Explanation) -> str:
    report = explanation.report
    record = report.record
    closed = record.closed_unmerged
    of_which = (
        f" ({closed} of them closed unmerged)"
        if closed and explanation.closed_unmerged == "loss"
        else ""
    )
    closed_apart = f", {closed} closed unmerged" if closed and not of_which else ""
    text = (
        f"{report.rule.key} on {explanation.repository or 'the history'}"
        f" ({explanation.records} PRs): {record.claims} claims: {record.wins} wins,"
        f" {record.losses} losses{of_which}{closed_apart}, {record.neutral} neutral,"
        f" {record.pending} pending; {record.missed} missed; errors on {report.error_prs} PRs"
    )
    if report.quarantined is not None:
        text += f"; quarantined at PR #{report.quarantined.pr} ({report.quarantined.reason})"
    return text


def explanation_as_text(explanation: Explanation) -> str:
    cases = explanation.ordered()
    rows = [("result", "PR", "head", "at", "why")]
    for case in cases:
        at = case.at.strftime("%Y-%m-%d %H:%M") if case.at else "-"
        why = case.why + (
            f" (and it failed: {case.error})" if case.error and case.result != "error" else ""
        )
        rows.append((case.result, f"#{case.pr}", case.head[:7] or "-", at, why))
    report = explanation.report
    changes = [describe_change(report.rule.name, c) for c in report.record.changes]
    lines = [summary_line(explanation), *changes]
    lines += ["Losses and misses first; every claim is listed.", ""]
    lines += table_lines(rows, ("<", "<", "<", "<", "<"))
    if not cases:
        lines.append("(no claim, miss or failure on this history)")
    lines += ["", *legend(explanation.closed_unmerged)]
    return "\n".join(lines)


def explain_command(
    reader: HistoryReader,
    rules: Sequence[Rule],
    name: str,
    settings: Settings,
    fmt: Format = "table",
    progress: Progress | None = None,
    max_errors: int | None = 3,
) -> str:
    """``shadowbot backtest HISTORY --explain RULE``: the text (or JSON) to print."""
    explanation = explain_rule(reader, rules, name, settings, progress, max_errors)
    if fmt == "json":
        return json.dumps(explanation_as_dict(explanation), indent=2)
    return explanation_as_text(explanation)
