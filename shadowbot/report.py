"""Plain-text and JSON renderings of rule lists and backtest results."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from shadowbot.backtest import RuleReport
from shadowbot.ledger import RuleState, StateChange
from shadowbot.rules import Rule

_COLUMNS = (
    ("rule", "<"),
    ("version", ">"),
    ("claims", ">"),
    ("wins", ">"),
    ("losses", ">"),
    ("neutral", ">"),
    ("closed", ">"),
    ("pending", ">"),
    ("missed", ">"),
    ("errors", ">"),
    ("precision", ">"),
    ("state", "<"),
)


def rules_as_json(rules: Sequence[Rule]) -> str:
    items = [
        {
            "name": r.name,
            "version": r.version,
            "description": r.description,
            "source_hash": r.source_hash,
            "path": str(r.source_path) if r.source_path else None,
        }
        for r in rules
    ]
    return json.dumps(items, indent=2)


def rules_as_text(rules: Sequence[Rule]) -> str:
    width = max(len(r.name) for r in rules)
    return "\n".join(f"{r.name:<{width}}  v{r.version:<3} {r.description}" for r in rules)


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _row(report: RuleReport) -> tuple[str, ...]:
    r = report.record
    return (
        report.rule.name,
        str(report.rule.version),
        str(r.claims),
        str(r.wins),
        str(r.losses),
        str(r.neutral),
        str(r.closed_unmerged),
        str(r.pending),
        str(r.missed),
        str(r.errors),
        _percent(r.precision),
        r.state.value,
    )


def describe_change(rule: str, change: StateChange) -> str:
    when = change.at.date().isoformat() if change.at else "an unknown date"
    if change.after is RuleState.DISABLED:
        verb = "would have been disabled"
    elif change.after is RuleState.PROMOTED:
        verb = "would have been promoted"
    elif change.before is RuleState.PROMOTED:
        verb = "would have lost its promotion"
    else:
        verb = f"would have become {change.after.value}"
    return f"{rule} {verb} at PR #{change.pr} on {when}"


def backtest_as_text(reports: Sequence[RuleReport]) -> str:
    rows = [tuple(name for name, _ in _COLUMNS), *(_row(r) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, align), width in zip(row, _COLUMNS, widths, strict=True)
        ).rstrip()
        for row in rows
    ]
    notes = [describe_change(r.rule.name, c) for r in reports for c in r.record.changes]
    notes += [
        f"{r.rule.name}: {r.record.errors} error(s), the first on PR #{pr}: {reason}"
        for r in reports
        if r.record.first_error
        for pr, reason in [r.record.first_error]
    ]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def backtest_as_json(reports: Sequence[RuleReport], meta: dict[str, Any]) -> str:
    return json.dumps({**meta, "rules": [r.as_dict() for r in reports]}, indent=2)


class Progress:
    """A one-line progress bar on a terminal; silent elsewhere."""

    def __init__(self, stream: IO[str] | None = None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self.started = time.monotonic()
        self._last = 0.0

    def update(self, fraction: float, done: int) -> None:
        now = time.monotonic()
        if self.enabled and now - self._last >= 0.2:
            self._last = now
            self._draw(fraction, done, now)

    def finish(self, done: int) -> None:
        if self.enabled:
            self._draw(1.0, done, time.monotonic())
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, fraction: float, done: int, now: float) -> None:
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        elapsed = now - self.started
        self.stream.write(f"\r[{bar}] {fraction:4.0%}  {done} PRs  {elapsed:5.1f} s")
        self.stream.flush()
