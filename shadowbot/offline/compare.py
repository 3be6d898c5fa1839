"""Two sets of rules on one history, side by side: ``shadowbot backtest … --compare A B``.

What a rule author needs before bumping a version: both records, and every PR where the
two decided differently. Rules are paired by name (two versions of one rule share it);
when each side holds a single rule, those two are paired whatever their names.

Both sets are judged in one pass over the history, by one engine: each record is replayed
for A then for B, and only the PRs that differ are kept.

The differences are listed with those where either side lost first, then misses and
failures. "Decided differently" compares outcomes, not raw verdicts: a claim (its result and the
head it claimed), a miss, a failure, or no claim at all. A rule that said ``hold`` where
the other said ``skip`` decided the same: neither claimed.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from shadowbot.core.engine import Engine
from shadowbot.errors import RuleLoadError
from shadowbot.offline.backtest import RuleReport, RuleResult
from shadowbot.offline.history import HistoryReader, HistoryRecord
from shadowbot.offline.report import (
    ALIGNS,
    HEADINGS,
    Progress,
    failure_notes,
    legend,
    record_cells,
    report_as_dict,
    table_lines,
)
from shadowbot.offline.run import Format, judge_history, new_backtest, to_stderr
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import Settings


def load_rule_set(path: Path) -> list[Rule]:
    """The rules of a directory, or the one rule of a ``.py`` file (with the helper files
    ``_*.py`` beside it, as a rules directory would load it)."""
    if not path.exists():
        raise RuleLoadError(f"{path}: does not exist")
    if path.is_dir():
        return load_rules(path)
    if path.suffix != ".py" or not path.is_file():
        raise RuleLoadError(f"{path}: neither a rules directory nor a rule file (.py)")
    if path.name.startswith("_"):
        raise RuleLoadError(f"{path}: a helper file (its name starts with _), not a rule")
    with tempfile.TemporaryDirectory(prefix="shadowbot-rule-") as scratch:
        # Alone in a directory with its helpers, it hashes as it does in its own.
        for source in (path, *path.parent.glob("_*.py")):
            shutil.copyfile(source, Path(scratch) / source.name)
        return [replace(rule, source_path=path) for rule in load_rules(Path(scratch))]


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one rule made of one PR."""

    #: ``win``, ``loss``, ``neutral``, ``pending`` (a claim's result), ``missed``,
    #: ``error``, ``no claim``, or ``not judged`` (quarantined before this PR).
    label: str
    head: str = ""  # the head it claimed
    reason: str = ""  # the settlement's reason, the error, or the last decision

    def __str__(self) -> str:
        text = self.label + (f" {self.head[:7]}" if self.head else "")
        return text + (f" ({self.reason})" if self.reason and self.reason != self.label else "")

    def as_dict(self) -> dict[str, Any]:
        return {"outcome": self.label, "head": self.head or None, "reason": self.reason or None}


NOT_JUDGED = Outcome("not judged")


def outcome(result: RuleResult | None) -> Outcome:
    if result is None:
        return NOT_JUDGED
    if result.settlement is not None and result.claim is not None:
        settlement = result.settlement
        return Outcome(settlement.result.value, result.claim.sha, settlement.reason)
    if result.missed:
        return Outcome("missed")
    if result.errors:
        return Outcome("error", reason=result.first_error)
    return Outcome("no claim", reason=result.last.value if result.last else "")


@dataclass(frozen=True, slots=True)
class Difference:
    rule: str  # the pair's name: "name", or "a-name / b-name"
    pr: int
    title: str
    a: Outcome
    b: Outcome

    def as_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "pr": self.pr,
            "title": self.title,
            "a": self.a.as_dict(),
            "b": self.b.as_dict(),
        }


@dataclass
class Comparison:
    labels: tuple[str, str]
    a: list[RuleReport]
    b: list[RuleReport]
    pairs: list[tuple[str, str]]
    repository: str = ""
    records: int = 0
    closed_unmerged: str = "loss"
    differences: list[Difference] = field(default_factory=list)


def pair_rules(a: Sequence[Rule], b: Sequence[Rule]) -> list[tuple[str, str]]:
    """(A's name, B's name) of each pair of rules to compare."""
    if len(a) == 1 and len(b) == 1:
        return [(a[0].name, b[0].name)]
    names = {rule.name for rule in b}
    return [(rule.name, rule.name) for rule in a if rule.name in names]


class _Differ:
    """Observes A's results on a record, then B's, and keeps the pairs that differ."""

    def __init__(self, comparison: Comparison) -> None:
        self.comparison = comparison
        self._a: dict[str, RuleResult] = {}

    def seen_a(self, record: HistoryRecord, results: list[RuleResult]) -> None:
        self._a = {result.rule.name: result for result in results}

    def seen_b(self, record: HistoryRecord, results: list[RuleResult]) -> None:
        b = {result.rule.name: result for result in results}
        for name_a, name_b in self.comparison.pairs:
            first, second = outcome(self._a.get(name_a)), outcome(b.get(name_b))
            if (first.label, first.head) != (second.label, second.head):
                name = name_a if name_a == name_b else f"{name_a} / {name_b}"
                self.comparison.differences.append(
                    Difference(name, record.number, record.title, first, second)
                )
        self._a = {}


def compare_rules(
    reader: HistoryReader,
    rules_a: Sequence[Rule],
    rules_b: Sequence[Rule],
    settings: Settings,
    labels: tuple[str, str] = ("A", "B"),
    progress: Progress | None = None,
    max_errors: int | None = 3,
) -> Comparison:
    """Judge both sets on the history in one pass; their records and differences."""
    with Engine([*rules_a, *rules_b], settings.rule_timeout) as engine:
        first = new_backtest(engine, settings, rules_a, max_errors)
        second = new_backtest(engine, settings, rules_b, max_errors)
        comparison = Comparison(labels, [], [], pair_rules(rules_a, rules_b))
        differ = _Differ(comparison)
        first.observers.append(differ.seen_a)
        second.observers.append(differ.seen_b)
        judge_history(reader, engine, [first, second], progress, to_stderr)
    comparison.a, comparison.b = first.summary(), second.summary()
    comparison.repository, comparison.records = first.repository, first.records
    comparison.closed_unmerged = first.policy.closed_unmerged
    return comparison


def _by_pair(comparison: Comparison) -> list[tuple[str, RuleReport | None, RuleReport | None]]:
    """(shown name, A's report, B's report): the pairs, then the rules of one side only."""
    a = {r.rule.name: r for r in comparison.a}
    b = {r.rule.name: r for r in comparison.b}
    rows: list[tuple[str, RuleReport | None, RuleReport | None]] = [
        (na if na == nb else f"{na} / {nb}", a.pop(na), b.pop(nb)) for na, nb in comparison.pairs
    ]
    rows += [(name, report, None) for name, report in a.items()]
    rows += [(name, None, report) for name, report in b.items()]
    return rows


def comparison_as_text(comparison: Comparison) -> str:
    label_a, label_b = comparison.labels
    lines = [
        f"A: {label_a}  B: {label_b}  on {comparison.repository or 'the history'}"
        f" ({comparison.records} PRs)",
        "",
    ]
    pairs = _by_pair(comparison)
    rows: list[tuple[str, ...]] = [("set", *HEADINGS)]
    for _, first, second in pairs:
        rows += [("A", *record_cells(first))] if first else []
        rows += [("B", *record_cells(second))] if second else []
    lines += table_lines(rows, ("<", *ALIGNS))
    only = [name for name, first, second in pairs if not (first and second)]
    if only:
        lines += ["", f"on one side only, not compared: {', '.join(only)}"]
    notes = [
        f"{side}: {note}"
        for side, reports in (("A", comparison.a), ("B", comparison.b))
        for report in reports
        for note in failure_notes(report, comparison.records)
    ]
    lines += ["", *notes] if notes else []
    lines += ["", *_differences_text(comparison)]
    lines += ["", *legend(comparison.closed_unmerged)]
    return "\n".join(lines)


#: Differences involving a loss come first, then misses and failures.
_ORDER = ("loss", "missed", "error", "not judged", "pending", "neutral", "win", "no claim")


def _rank(difference: Difference) -> int:
    return min(_ORDER.index(difference.a.label), _ORDER.index(difference.b.label))


def ordered(differences: Sequence[Difference]) -> list[Difference]:
    """Those where either side lost first, then misses, failures and the rest; in
    history order within each."""
    return sorted(differences, key=_rank)


def _differences_text(comparison: Comparison) -> list[str]:
    found = ordered(comparison.differences)
    if not found:
        return ["A and B decided the same on every PR."]
    per_rule = Counter(d.rule for d in found)
    counts = ", ".join(f"{rule}: {n}" for rule, n in per_rule.items())
    heading = f"PRs where A and B decided differently: {len(found)} ({counts})"
    rows = [("rule", "PR", "A", "B")]
    rows += [(d.rule, f"#{d.pr}", str(d.a), str(d.b)) for d in found]
    return [heading, *table_lines(rows, ("<", ">", "<", "<"))]


def comparison_as_dict(comparison: Comparison) -> dict[str, Any]:
    def side(label: str, reports: list[RuleReport]) -> dict[str, Any]:
        return {"label": label, "rules": [report_as_dict(r) for r in reports]}

    return {
        "repository": comparison.repository,
        "records": comparison.records,
        "a": side(comparison.labels[0], comparison.a),
        "b": side(comparison.labels[1], comparison.b),
        "pairs": [list(pair) for pair in comparison.pairs],
        "differences": [d.as_dict() for d in ordered(comparison.differences)],
    }


def compare_command(
    reader: HistoryReader,
    rules_a: Sequence[Rule],
    rules_b: Sequence[Rule],
    settings: Settings,
    fmt: Format = "table",
    labels: tuple[str, str] = ("A", "B"),
    progress: Progress | None = None,
    max_errors: int | None = 3,
) -> str:
    """``shadowbot backtest HISTORY --compare A B``: the text (or JSON) to print."""
    comparison = compare_rules(reader, rules_a, rules_b, settings, labels, progress, max_errors)
    if fmt == "json":
        return json.dumps(comparison_as_dict(comparison), indent=2)
    return comparison_as_text(comparison)
