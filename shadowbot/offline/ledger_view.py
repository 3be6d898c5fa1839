"""Each rule version's record as the database has it, for ``shadowbot ledger show``,
``shadowbot rule enable|disable`` and ``shadowbot report``.

The figures are :func:`shadowbot.live.settling.record_figures` (the ledger's newest entry
per (rule version, PR)) plus the claims the ledger has no entry for yet: the settlement
job writes nothing for a claim still pending (an open PR, a grace period not over), so
those are counted from the ``merge`` verdicts the ledger has no entry for
(:func:`shadowbot.storage.ledger_store.unsettled_claims`, :func:`count_unsettled`). A rule's
state is the newest ``state`` event of the audit log; DESIGN.md's "shadow mode" is
stored as ``active`` and shown as ``shadow``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, Literal, cast

from sqlmodel import Session, col, select

from shadowbot.core.figures import AUTHOR_KINDS, Figures, Override, Tally, author_kind, state_of
from shadowbot.core.ledger import RuleState
from shadowbot.errors import ShadowbotError
from shadowbot.live.settling import (
    StateChange,
    overrides_of,
    record_figures,
    rule_id_of,
    update_states,
)
from shadowbot.settings import Settings
from shadowbot.storage import RuleRow
from shadowbot.storage.ledger_store import OVERRIDE, add_audit, states, unsettled_claims

SHADOW = "shadow"
#: Shown beside a state set by a manual override, in the text table.
MANUAL_MARK = "*"


@dataclass(frozen=True, slots=True)
class RuleView:
    """One rule version: its record, its state and where that state comes from."""

    name: str
    version: int
    description: str
    #: ``shadow``, ``disabled`` or ``promoted``.
    state: str
    #: The state was set by a manual ``enable``/``disable`` rather than by the record.
    manual: bool
    #: Why the rule is in its state (the newest ``state`` event's reason); "" if never
    #: changed.
    why: str
    figures: Figures
    first_seen_at: datetime | None = None

    @property
    def key(self) -> str:
        return f"{self.name}@{self.version}"


# -- pure ------------------------------------------------------------------------------


def shown_state(stored: str) -> str:
    return SHADOW if stored == RuleState.ACTIVE.value else stored


def set_manually(stored: str, overrides: Sequence[Override], by_record: RuleState) -> bool:
    """Whether the state ``stored`` comes from a manual override: the newest override
    is a ``disable`` and the rule is disabled, or it is an ``enable`` and the state is
    not the one the record alone gives (the fresh allowance after an enable)."""
    newest = max(overrides, key=lambda o: (o.at, o.action == "disable"), default=None)
    if newest is None:
        return False
    if newest.action == "disable":
        return stored == RuleState.DISABLED.value
    return stored != by_record.value


def count_unsettled(
    claims: Iterable[tuple[int, int, str]], settled: Collection[tuple[int, int]]
) -> dict[int, Counter[str]]:
    """Pending claims the ledger has no entry for, per rule id and author kind.

    ``claims`` are (rule id, PR id, the PR author's account type) of ``merge`` verdicts,
    in any number; ``settled`` the (rule id, PR id) pairs with a ledger entry (whose
    newest entry, pending or not, :func:`record_figures` counts already)."""
    seen: set[tuple[int, int]] = set()
    found: dict[int, Counter[str]] = defaultdict(Counter)
    for rule_id, pr_id, author_type in claims:
        if (rule_id, pr_id) in settled or (rule_id, pr_id) in seen:
            continue
        seen.add((rule_id, pr_id))
        found[rule_id][author_kind(author_type)] += 1
    return dict(found)


def with_pending(record: Figures, unsettled: Mapping[str, int]) -> Figures:
    """``record`` with ``unsettled`` (pending claims by author kind) added."""
    by_author = {
        kind: replace(tally, pending=tally.pending + unsettled.get(kind, 0))
        for kind, tally in record.by_author.items()
    }
    return replace(record, pending=record.pending + sum(unsettled.values()), by_author=by_author)


def percent(value: float | None) -> str:
    """``0.0295`` as ``2.95%``, three significant digits at most; ``-`` for None."""
    if value is None:
        return "-"
    share = value * 100
    places = 1 if share >= 10 else 2 if share >= 1 else 3
    return f"{share:.{places}f}".rstrip("0").rstrip(".") + "%"


def human_duration(span: timedelta | None) -> str:
    """``2 d 3 h``, ``1 h 30 min``, ``10 min``, ``45 s``; ``-`` for None."""
    if span is None:
        return "-"
    seconds = round(span.total_seconds())
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min" if minutes else f"{seconds} s"


def tally_as_dict(tally: Tally) -> dict[str, Any]:
    return {
        "wins": tally.wins,
        "losses": tally.losses,
        "neutral": tally.neutral,
        "closed_unmerged": tally.closed_unmerged,
        "missed": tally.missed,
        "pending": tally.pending,
        "endorsed": tally.endorsed,
        "reverted": tally.reverted,
        "disputed": tally.disputed,
        "loss_rate_bound_percent": _percent_number(tally.loss_bound),
        "coverage_percent": _percent_number(tally.coverage),
        "time_saved_seconds": tally.saved_total.total_seconds(),
        "time_saved_median_seconds": (
            None if tally.saved_median is None else tally.saved_median.total_seconds()
        ),
        "first_result_at": tally.first_at.isoformat() if tally.first_at else None,
        "last_result_at": tally.last_at.isoformat() if tally.last_at else None,
    }


def _percent_number(value: float | None) -> float | None:
    return None if value is None else round(value * 100, 4)


def view_as_dict(view: RuleView) -> dict[str, Any]:
    """One rule version as ``ledger show --format json`` gives it.

    Keys: ``rule`` (``name@version``), ``name``, ``version``, ``state`` (``shadow``,
    ``disabled`` or ``promoted``), ``manual_override`` (the state was set by a manual
    ``enable``/``disable``), ``state_reason``; the counts ``wins``, ``losses``,
    ``neutral`` (other than closed unmerged), ``closed_unmerged``, ``missed``,
    ``pending``, ``errors`` (PRs with an ``error`` verdict), ``endorsed``, ``reverted``
    and ``disputed`` (the last three are included in wins and losses);
    ``loss_rate_bound_percent`` (one-sided 95% upper bound, null with no win or loss),
    ``coverage_percent`` (wins / (wins + missed), null with neither),
    ``time_saved_seconds`` and ``time_saved_median_seconds`` (null without a timed win),
    ``first_result_at`` and ``last_result_at`` (ISO 8601, of the wins and losses); and
    ``by_author``: ``{"bot": {...}, "person": {...}}`` with the same count and figure keys
    (all but ``errors``).
    """
    record = view.figures
    return {
        "rule": view.key,
        "name": view.name,
        "version": view.version,
        "state": view.state,
        "manual_override": view.manual,
        "state_reason": view.why,
        **tally_as_dict(record),
        "errors": record.errors,
        "by_author": {
            kind: tally_as_dict(record.by_author.get(kind, Tally())) for kind in AUTHOR_KINDS
        },
    }


def views_as_json(views: Sequence[RuleView]) -> str:
    return json.dumps([view_as_dict(v) for v in views], indent=2)


_COUNT_HEADINGS = ("wins", "losses", "neutral", "closed", "missed", "pending")
_FIGURE_HEADINGS = ("loss bound", "coverage", "saved")
_RECORD_HEADINGS = ("rule", "state", *_COUNT_HEADINGS, "errors", *_FIGURE_HEADINGS, "median")
_KIND_HEADINGS = ("rule", "author", *_COUNT_HEADINGS, *_FIGURE_HEADINGS)


def views_as_text(views: Sequence[RuleView]) -> str:
    """The records as a table, then the same by author kind (kinds with a result only)."""
    if not views:
        return "no rule versions recorded yet"
    rows = [
        (
            v.key,
            v.state + (MANUAL_MARK if v.manual else ""),
            *_counts(v.figures),
            str(v.figures.errors),
            *_value(v.figures),
            human_duration(v.figures.saved_median),
        )
        for v in views
    ]
    kinds = [
        (v.key, kind, *_counts(tally), *_value(tally))
        for v in views
        for kind, tally in sorted(v.figures.by_author.items())
        if _counts(tally) != _counts(Tally())
    ]
    lines = table(_RECORD_HEADINGS, rows, left=2)
    if any(v.manual for v in views):
        lines.append(f"{MANUAL_MARK} set by a manual override (shadowbot rule enable|disable)")
    lines.append("")
    lines += table(_KIND_HEADINGS, kinds, left=2) if kinds else ["by author kind: no results yet"]
    return "\n".join(lines)


def _counts(tally: Tally) -> tuple[str, ...]:
    numbers = (tally.wins, tally.losses, tally.neutral, tally.closed_unmerged)
    return tuple(str(n) for n in (*numbers, tally.missed, tally.pending))


def _value(tally: Tally) -> tuple[str, str, str]:
    return percent(tally.loss_bound), percent(tally.coverage), saved_total(tally)


def saved_total(tally: Tally) -> str:
    """The time saved in total; ``-`` without a timed win."""
    return "-" if tally.saved_median is None else human_duration(tally.saved_total)


def table(headings: Sequence[str], rows: Iterable[Sequence[str]], left: int = 1) -> list[str]:
    """Plain-text columns; the first ``left`` are aligned left, the rest right."""
    cells = [tuple(headings), *(tuple(row) for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headings))]
    return [
        "  ".join(
            f"{cell:<{width}}" if i < left else f"{cell:>{width}}"
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for row in cells
    ]


# -- reading the database --------------------------------------------------------------


def load_views(session: Session, settings: Settings) -> list[RuleView]:
    """Every recorded rule version's record, by name and version."""
    records = record_figures(session)
    unsettled = count_unsettled(
        ((rule_id, pr_id, kind) for rule_id, pr_id, kind, _ in unsettled_claims(session)), ()
    )
    overrides = overrides_of(session)
    known = states(session)
    rows = session.exec(select(RuleRow).order_by(col(RuleRow.name), col(RuleRow.version)))
    return [
        rule_view(
            row,
            records[cast(int, row.id)],
            unsettled.get(cast(int, row.id), {}),
            overrides.get(cast(int, row.id), ()),
            known.get(cast(int, row.id)),
            settings,
        )
        for row in rows
    ]


def rule_view(
    row: RuleRow,
    record: Figures,
    unsettled: Mapping[str, int],
    overrides: Sequence[Override],
    stored: tuple[str, str] | None,
    settings: Settings,
) -> RuleView:
    """One rule version's view: its ledger record (:func:`record_figures`) with its
    claims not settled yet (by author kind) as pending, and its stored state (the newest
    ``state`` event: the state and why) with whether a manual override set it."""
    record = with_pending(record, unsettled)
    state, why = stored or (RuleState.ACTIVE.value, "")
    by_record = state_of(
        record.wins,
        record.losses,
        settings.thresholds_for(row.name),
        promote_max_loss_rate=settings.promote_max_loss_rate,
    )
    manual = set_manually(state, overrides, by_record)
    return RuleView(
        row.name,
        row.version,
        row.description,
        shown_state(state),
        manual,
        why,
        record,
        row.first_seen_at,
    )


def find_rule(session: Session, spec: str) -> RuleRow:
    """The rule version ``spec`` names: ``name`` (its newest recorded version) or
    ``name@version``; a :class:`ShadowbotError` listing the known names otherwise."""
    name, _, version = spec.partition("@")
    if version and (not version.isdigit() or len(version) > 9):
        raise ShadowbotError(f"{spec}: give a rule as NAME or NAME@VERSION (a number)")
    row = rule_id_of(session, name, int(version) if version else None)
    if row is not None:
        return row
    names = sorted(set(session.exec(select(RuleRow.name))))
    if name in names:
        versions = session.exec(select(RuleRow.version).where(RuleRow.name == name))
        shown = ", ".join(f"{name}@{v}" for v in sorted(versions))
        raise ShadowbotError(f"unknown rule version {spec}; recorded versions: {shown}")
    known = ", ".join(names) if names else "none recorded yet (run `shadowbot rules`)"
    raise ShadowbotError(f"unknown rule {spec}; known rules: {known}")


def select_views(views: Sequence[RuleView], spec: str | None) -> list[RuleView]:
    """The views ``--rule`` asks for: every version of ``name``, or ``name@version``."""
    if spec is None:
        return list(views)
    chosen = [v for v in views if spec in (v.name, v.key)]
    if not chosen:
        names = ", ".join(sorted({v.name for v in views})) or "none recorded yet"
        raise ShadowbotError(f"unknown rule {spec}; known rules: {names}")
    return chosen


# -- manual overrides ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Overridden:
    """What ``shadowbot rule enable|disable`` did."""

    rule: str
    #: The state before and after, as shown (``shadow``, ``disabled``, ``promoted``).
    before: str
    after: str
    #: Why the rule is in state ``after`` (or, with nothing written, why not).
    why: str
    #: False when the rule already was where the override would put it.
    written: bool
    #: Other rule versions whose state changed in the same pass, already due.
    others: tuple[StateChange, ...] = ()


def override_rule(
    session: Session,
    settings: Settings,
    spec: str,
    action: Literal["enable", "disable"],
    reason: str,
    actor: str,
    now: datetime,
) -> Overridden:
    """Audit a manual ``enable``/``disable`` of the rule version ``spec``, then derive
    every rule's state again so the change of state is audited too (DESIGN.md: "every
    change of state is an audit-log event"). The caller commits. Enabling a rule that is
    not disabled, or disabling one that is, writes nothing."""
    row = find_rule(session, spec)
    rule_id, key = cast(int, row.id), f"{row.name}@{row.version}"
    stored, why = states(session).get(rule_id, (RuleState.ACTIVE.value, ""))
    before = shown_state(stored)
    if (stored == RuleState.DISABLED.value) == (action == "disable"):
        return Overridden(key, before, before, why, written=False)
    add_audit(session, rule_id, actor, OVERRIDE, reason, {"action": action}, at=now)
    session.flush()
    changes = update_states(session, settings, now, actor=actor, only={rule_id})
    after, why = states(session).get(rule_id, (RuleState.ACTIVE.value, ""))
    others = tuple(c for c in changes if c.rule != key)
    return Overridden(key, before, shown_state(after), why, written=True, others=others)
