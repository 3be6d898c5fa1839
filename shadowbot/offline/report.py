"""Plain-text and JSON renderings of rule lists and backtest results."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import IO, Any

from shadowbot.core.ledger import RuleState, StateChange
from shadowbot.offline.backtest import RuleReport
from shadowbot.rules import Rule

#: The backtest table: heading, key of ``report_as_dict``, alignment.
_COLUMNS = (
    ("rule", "rule", "<"),
    ("version", "version", ">"),
    ("claims", "claims", ">"),
    ("wins", "wins", ">"),
    ("losses", "losses", ">"),
    ("neutral", "neutral", ">"),
    ("closed", "closed_unmerged", ">"),
    ("pending", "pending", ">"),
    ("missed", "missed", ">"),
    ("errors", "errors", ">"),
    ("precision", "precision", ">"),
    ("state", "state", "<"),
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


def report_as_dict(report: RuleReport) -> dict[str, Any]:
    """One rule's backtest result, as ``--format json`` gives it."""
    record = report.record
    return {
        "rule": report.rule.name,
        "version": report.rule.version,
        "claims": record.claims,
        "wins": record.wins,
        "losses": record.losses,
        "neutral": record.neutral,
        "closed_unmerged": record.closed_unmerged,
        "pending": record.pending,
        "missed": record.missed,
        "errors": record.errors,
        "first_error": (
            {"pr": record.first_error[0], "reason": record.first_error[1]}
            if record.first_error
            else None
        ),
        "precision": record.precision,
        "state": record.state.value,
        "changes": [_change_as_dict(change) for change in record.changes],
    }


def _change_as_dict(change: StateChange) -> dict[str, Any]:
    return {
        "from": change.before.value,
        "to": change.after.value,
        "pr": change.pr,
        "at": change.at.isoformat() if change.at else None,
    }


def _row(report: RuleReport) -> tuple[str, ...]:
    shown = report_as_dict(report)
    return tuple(_cell(shown[key]) for _, key, _ in _COLUMNS)


def _cell(value: Any) -> str:
    if isinstance(value, float):  # the precision
        return f"{value:.1%}"
    return "-" if value is None else str(value)


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
    rows = [tuple(heading for heading, _, _ in _COLUMNS), *(_row(r) for r in reports)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(_COLUMNS))]
    lines = [
        "  ".join(
            f"{cell:{align}{width}}"
            for cell, (_, _, align), width in zip(row, _COLUMNS, widths, strict=True)
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
    return json.dumps({**meta, "rules": [report_as_dict(r) for r in reports]}, indent=2)


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
