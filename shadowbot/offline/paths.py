"""Warn about path patterns that name a directory without its trailing slash.

``only_touches("pkgs/development/python-modules")`` matches a file of that exact path and
nothing below it, so a rule scoped with it silently never applies. Whether a pattern
was meant as a directory only shows in a history: :class:`DirectoryPatterns` watches the
changed files' paths go by (memory stays flat: it keeps one flag per pattern) and warns
about each slash-less pattern under which some file of the history lies.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from shadowbot.checks import Check, compile_glob
from shadowbot.offline.history import HistoryRecord
from shadowbot.rules import Rule


@dataclass
class _Pattern:
    rule: str
    check: str
    pattern: str
    #: Matches a path below the directory the pattern would name with a trailing slash.
    below: re.Pattern[str]
    example: str | None = None


def checks_of(rule: Rule) -> Iterator[Check]:
    """The checks a rule was built with, as far as they can be seen from outside.

    A :class:`Rule` keeps only its functions, so the checks are read from what those
    functions hold: the check lists :meth:`Rule.from_checks` closes over, and for a
    ``@Rule.define`` rule its module's checks (module-level names, or lists of them).
    Checks a rule function builds while it runs are not seen.
    """
    seen: set[int] = set()
    for function in (rule.function, rule.decider):
        if function is None:
            continue
        values: list[Any] = list(getattr(function, "__globals__", {}).values())
        for cell in getattr(function, "__closure__", None) or ():
            with contextlib.suppress(ValueError):  # a cell not yet filled in
                values.append(cell.cell_contents)
        for value in values:
            items = value if isinstance(value, tuple | list | frozenset | set) else (value,)
            for item in items:
                if isinstance(item, Check) and id(item) not in seen:
                    seen.add(id(item))
                    yield item


class DirectoryPatterns:
    """The rules' slash-less file patterns, and which of them a history shows to be a
    directory. Feed it paths (:meth:`see`) or records (:meth:`see_record`, or hand it to a
    backtest as an observer), then ask for :meth:`warnings`."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self._patterns = [
            _Pattern(rule.key, check.label, pattern, compile_glob(pattern + "/"))
            for rule in rules
            for check in checks_of(rule)
            for pattern in check.file_patterns
            if not pattern.endswith("/")
        ]
        self._open = list(self._patterns)

    @property
    def all_seen(self) -> bool:
        """Whether every slash-less pattern has been found to name a directory (nothing
        more to look for)."""
        return not self._open

    def see(self, path: str) -> bool:
        """Look at one path of the history; whether it was the first below some pattern."""
        first = False
        for pattern in tuple(self._open):
            if pattern.below.match(path):
                pattern.example = path
                self._open.remove(pattern)
                first = True
        return first

    def see_record(self, record: HistoryRecord) -> None:
        """Every path a record's changed files touch (a rename's old path too)."""
        if not self._open:
            return
        for event in record.events:
            for change in event.files or ():
                for path in change.paths:
                    self.see(path)

    def __call__(self, record: HistoryRecord, results: object = None) -> None:
        """As a backtest's observer (``Backtest.observers``): sees each record's paths."""
        self.see_record(record)

    def merge(self, other: DirectoryPatterns) -> None:
        """Take in what another watcher of the same rules saw (another shard of the
        history, read in another process)."""
        for mine, theirs in zip(self._patterns, other._patterns, strict=True):
            if mine.example is None and theirs.example is not None:
                mine.example = theirs.example
                self._open.remove(mine)

    def warnings(self) -> list[str]:
        """One line per slash-less pattern that names a directory of the history."""
        return [
            f"rule {p.rule}: check '{p.check}': {p.pattern!r} names a directory in this history"
            f" ({p.example}), but without a trailing slash it matches that exact path only;"
            f" write {p.pattern + '/'!r} to match the files below it"
            for p in self._patterns
            if p.example is not None
        ]


def directory_warnings(rules: Iterable[Rule], paths: Iterable[str]) -> list[str]:
    """Warnings for every path argument without a trailing slash that names a directory
    among ``paths`` (some path lies below it), naming the rule, the check and the fix."""
    patterns = DirectoryPatterns(rules)
    for path in paths:
        patterns.see(path)
    return patterns.warnings()
