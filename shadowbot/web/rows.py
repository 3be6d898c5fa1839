"""The leaderboard's rows, built once per rule and kept until that rule's record changes.

A new ledger entry changes one rule's record; the page shows a hundred. The board's
records are immutable and replaced whole when they change (:class:`board.Records`), so
a row built from a rule's :class:`RuleView` and :class:`RuleRecord` stays right for as
long as the board holds those very objects: the cache compares them by identity, never
by value, and keeps them (an object's id is not reused while it is referenced).
A row's HTML is kept with it: rendering a hundred rows is most of a fresh page's time.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from shadowbot.core.figures import Figures
from shadowbot.offline.ledger_view import RuleView
from shadowbot.web.records import RuleRecord

Row = dict[str, Any]


@dataclass(slots=True)
class _Kept:
    view: RuleView
    record: RuleRecord
    scoped: Figures | None
    row: Row
    html: Markup | None = None


class RowCache:
    """Rows by (rule id, the query's parameters), and their HTML by row."""

    def __init__(self, size: int = 4096) -> None:
        self.size = size
        self._rows: dict[tuple[int, Hashable], _Kept] = {}
        #: id(row) -> the row's entry: a row is a dict, not hashable.
        self._by_row: dict[int, _Kept] = {}

    def row(
        self,
        rule_id: int,
        query: Hashable,
        view: RuleView,
        record: RuleRecord,
        scoped: Figures | None,
        build: Callable[[], Row],
    ) -> Row:
        """The row built from these very objects before, else ``build()``'s (kept)."""
        key = (rule_id, query)
        kept = self._rows.get(key)
        if (
            kept is not None
            and kept.view is view
            and kept.record is record
            and kept.scoped is scoped
        ):
            return kept.row
        if len(self._rows) >= self.size:  # many queries seen: start again
            self._rows.clear()
            self._by_row.clear()
        if kept is not None:
            self._by_row.pop(id(kept.row), None)
        kept = self._rows[key] = _Kept(view, record, scoped, build())
        self._by_row[id(kept.row)] = kept
        return kept.row

    def html(self, row: Row, render: Callable[[Row], str]) -> Markup:
        """The row's HTML, rendered once per row kept (a row not kept is rendered)."""
        kept = self._by_row.get(id(row))
        if kept is None or kept.row is not row:
            return Markup(render(row))
        if kept.html is None:
            kept.html = Markup(render(row))
        return kept.html
