"""Plain-text and JSON renderings of rule lists and backtest results."""

from __future__ import annotations

import json
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import IO, Any

from shadowbot.core.ledger import RuleState, StateChange
from shadowbot.core.settlement import Policy
from shadowbot.offline.backtest import RuleReport
from shadowbot.rules import Rule

#: The backtest table: heading, key of ``report_as_dict``, alignment. Each heading is one
#: word, and :func:`legend` says what it counts.
_COLUMNS = (
    ("rule", "rule", "<"),
    ("version", "version", ">"),
    ("claims", "claims", ">"),
    ("wins", "wins", ">"),
    ("losses", "losses", ">"),
    ("closed-unmerged", "closed_unmerged", ">"),
    ("neutral", "neutral", ">"),
    ("pending", "pending", ">"),
    ("missed", "missed", ">"),
    ("error-PRs", "errors", ">"),
    ("precision", "precision", ">"),
    ("state", "shown_state", "<"),
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
    """One rule's backtest result, as ``--format json`` gives it. ``errors`` counts PRs
    (``error_evaluations`` the evaluations); ``losses`` includes ``closed_unmerged`` when
    the backtest policy counts those as losses."""
    record = report.record
    quarantine = report.quarantined
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
        "errors": report.error_prs,
        "error_evaluations": record.errors,
        "timeouts": report.timeout_prs,
        "failed": [{"pr": pr, "reason": reason} for pr, reason in report.failed],
        "quarantined": ({"pr": quarantine.pr, "reason": quarantine.reason} if quarantine else None),
        "judged": report.judged,
        "first_error": (
            {"pr": record.first_error[0], "reason": record.first_error[1]}
            if record.first_error
            else None
        ),
        "precision": record.precision,
        "state": record.state.value,
        "shown_state": "quarantined" if quarantine else record.state.value,
        "changes": [_change_as_dict(change) for change in record.changes],
    }


def _change_as_dict(change: StateChange) -> dict[str, Any]:
    return {
        "from": change.before.value,
        "to": change.after.value,
        "pr": change.pr,
        "at": change.at.isoformat() if change.at else None,
    }


#: The backtest table's headings, and each column's alignment (``<`` or ``>``).
HEADINGS = tuple(heading for heading, _, _ in _COLUMNS)
ALIGNS = tuple(align for _, _, align in _COLUMNS)


def record_cells(report: RuleReport) -> tuple[str, ...]:
    """One rule's row of the backtest table."""
    shown = report_as_dict(report)
    return tuple(_cell(shown[key]) for _, key, _ in _COLUMNS)


def table_lines(rows: Sequence[Sequence[str]], aligns: Sequence[str]) -> list[str]:
    """Rows (the first of them the headings) as aligned lines."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(aligns))]
    return [
        "  ".join(
            f"{cell:{align}{width}}" for cell, align, width in zip(row, aligns, widths, strict=True)
        ).rstrip()
        for row in rows
    ]


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


def legend(closed_unmerged: str | None, width: int = 88) -> list[str]:
    """What each column of the backtest table counts, as lines of at most ``width``;
    ``closed_unmerged`` is the backtest policy's (``loss`` or ``neutral``), None when
    unknown."""
    if closed_unmerged == "loss":
        closed = "counted in losses too (backtest_closed_unmerged = loss)"
    elif closed_unmerged == "neutral":
        closed = "neither wins nor losses (backtest_closed_unmerged = neutral)"
    else:
        closed = "counted in losses when backtest_closed_unmerged = loss"
    entries = [
        "claims: PRs where the rule said merge; each is a win (merged at the head it"
        " claimed), a loss (a merger then requested changes, or the merge was reverted),"
        " closed-unmerged, neutral (merged at another head) or pending (still open).",
        f"closed-unmerged: claims on PRs closed without merging, {closed}.",
        "missed: PRs merged cleanly at a head the rule held.",
        "error-PRs: PRs where the rule raised or ran out of time.",
        "precision: wins / (wins + losses).",
    ]
    return [
        line for entry in entries for line in textwrap.wrap(entry, width, subsequent_indent="  ")
    ]


def failure_notes(report: RuleReport, records: int | None) -> list[str]:
    """A failing rule's errors: how many PRs, the first, the PRs listed, the quarantine."""
    record, name = report.record, report.rule.name
    if record.first_error is None:
        return []
    pr, reason = record.first_error
    notes = [
        f"{name}: errors on {_count(report.error_prs, 'PR')}"
        f" ({_count(record.errors, 'evaluation')}), the first on PR #{pr}: {reason}"
    ]
    listed = ", ".join(f"#{number}" for number, _ in report.failed)
    more = report.error_prs - len(report.failed)
    notes.append(f"{name}: failed on {listed}" + (f" and {more} more" if more > 0 else ""))
    if report.quarantined is not None:
        q = report.quarantined
        of = f" of {records}" if records is not None else ""
        notes.append(
            f"{name}: quarantined at PR #{q.pr} ({q.reason}): its record covers"
            f" {report.judged}{of} PRs"
        )
    return notes


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"


def backtest_as_text(
    reports: Sequence[RuleReport], policy: Policy | None = None, records: int | None = None
) -> str:
    """The table, what its columns count, then state changes and failures. ``records``
    is the number of PRs backtested, when known."""
    lines = table_lines([HEADINGS, *(record_cells(r) for r in reports)], ALIGNS)
    lines += ["", *legend(policy.closed_unmerged if policy else None)]
    notes = [describe_change(r.rule.name, c) for r in reports for c in r.record.changes]
    notes += [note for r in reports for note in failure_notes(r, records)]
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
        self._width = 0

    def update(self, fraction: float, done: int, note: str = "", now: bool = False) -> None:
        """Redraw, at most five times a second unless ``now``; ``note`` follows the bar
        (a rule slowing the backtest down, one quarantined)."""
        at = time.monotonic()
        if self.enabled and (now or at - self._last >= 0.2):
            self._last = at
            self._draw(fraction, done, at, note)

    def finish(self, done: int, note: str = "") -> None:
        if self.enabled:
            self._draw(1.0, done, time.monotonic(), note)
            self.stream.write("\n")
            self.stream.flush()

    def _draw(self, fraction: float, done: int, now: float, note: str = "") -> None:
        filled = int(fraction * 30)
        bar = "#" * filled + "-" * (30 - filled)
        elapsed = now - self.started
        line = f"\r[{bar}] {fraction:4.0%}  {done} PRs  {elapsed:5.1f} s"
        if note:
            line += f"  {note}"
        # Blank out what a longer previous line left behind.
        self.stream.write(line.ljust(self._width))
        self._width = len(line)
        self.stream.flush()
