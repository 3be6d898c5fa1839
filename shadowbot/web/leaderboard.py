"""The leaderboard as plain data: one row per rule, the same dict for ``/`` (rendered)
and ``/api/leaderboard`` (as JSON). Pure functions over a :class:`Board`.

Each row's figures are ``shadowbot ledger show --format json``'s for that rule version
(:func:`view_as_dict`); a repository or author-kind filter narrows them to that
repository's or kind's pull requests. A rule's state, its progress and its trend are
always its whole record's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from operator import itemgetter
from typing import Any

from shadowbot.core.figures import Figures, Override, state_of, wins_needed
from shadowbot.core.ledger import Thresholds
from shadowbot.offline.ledger_view import RuleView, shown_state, tally_as_dict, view_as_dict
from shadowbot.settings import Settings
from shadowbot.web import links
from shadowbot.web.board import Board
from shadowbot.web.params import (
    AUTHOR_KINDS,
    HYPOTHESIS_KEYS,
    SORTS,
    STATES,
    BoardQuery,
    Hypothesis,
)
from shadowbot.web.rows import RowCache

#: Counts that are empty for a rule with nothing in a filter's scope.
_COUNTS = ("wins", "losses", "neutral", "closed_unmerged", "missed", "pending")
_STATE_RANK = {"promoted": 0, "shadow": 1, "disabled": 2}


def thresholds_under(
    settings: Settings, name: str, hypothesis: Hypothesis | None
) -> tuple[Thresholds, float | None]:
    """The rule's thresholds and promotion loss rate, with a hypothesis's in their place."""
    own, rate = settings.thresholds_for(name), settings.promote_max_loss_rate
    if hypothesis is None:
        return own, rate
    if hypothesis.promote_max_loss_rate is not None:
        rate = hypothesis.promote_max_loss_rate
    elif hypothesis.promote_wins is not None:
        rate = None  # a number of wins given instead of a rate
    changes = {
        key: value
        for key, value in (
            ("max_losses", hypothesis.max_losses),
            ("promote_wins", hypothesis.promote_wins),
            ("rfc_ready_rules", hypothesis.rfc_ready_rules),
        )
        if value is not None
    }
    return replace(own, **changes), rate


def state_under(view: RuleView, board: Board, thresholds: Thresholds, rate: float | None) -> str:
    """The state the rule would be in under these thresholds, its overrides kept."""
    rule_id = board.rule_id(view)
    state = state_of(
        view.figures.wins,
        view.figures.losses,
        thresholds,
        board.overrides.get(rule_id, ()),
        board.settled.get(rule_id, ()),
        rate,
    )
    return shown_state(state.value)


def progress(
    record: Figures,
    thresholds: Thresholds,
    rate: float | None,
    overrides: Sequence[Override],
    settled: Sequence[tuple[datetime, str]],
) -> dict[str, Any]:
    """How far the rule is from promotion and from being disabled. Losses count toward
    disabling as :func:`state_of` counts them: after a manual ``enable``, only the
    losses settled since."""
    needed = wins_needed(thresholds, rate)
    newest = max(overrides, key=lambda o: (o.at, o.action == "disable"), default=None)
    counted = record.losses
    if newest is not None and newest.action == "enable":
        counted = sum(result == "loss" and at > newest.at for at, result in settled)
    limit = thresholds.max_losses + 1
    return {
        "promotion": {
            "wins": record.wins,
            "needed": needed,
            "blocked_by_loss": record.losses > 0,
            "percent": 0 if record.losses else min(100, round(100 * record.wins / needed)),
        },
        "disabling": {
            "losses": counted,
            "disabled_at": limit,
            "percent": min(100, round(100 * counted / limit)),
        },
    }


def figures_of(view: RuleView, scoped: Figures | None, author: str | None) -> dict[str, Any]:
    """``ledger show``'s dict of the rule version, narrowed to a repository's record
    (``scoped``) and then to one author kind's (``errors`` is not split by kind)."""
    shown = view_as_dict(view if scoped is None else replace(view, figures=scoped))
    if author is not None:
        record = view.figures if scoped is None else scoped
        shown.update(tally_as_dict(record.by_author[author]), errors=None)
    return shown


def rule_row(
    view: RuleView,
    board: Board,
    settings: Settings,
    query: BoardQuery,
    scoped: Mapping[int, Figures] | None,
) -> dict[str, Any]:
    rule_id = board.rule_id(view)
    thresholds, rate = thresholds_under(settings, view.name, query.hypothesis)
    hypothetical = state_under(view, board, thresholds, rate) if query.hypothesis else None
    last = board.last_activity.get(rule_id)
    versions = [v.version for v in board.views if v.name == view.name]
    return {
        **figures_of(view, None if scoped is None else scoped[rule_id], query.author),
        "description": view.description,
        "current": view.version == max(versions),
        "hypothetical_state": hypothetical,
        "shown_state": hypothetical or view.state,
        "progress": progress(
            view.figures,
            thresholds,
            rate,
            board.overrides.get(rule_id, ()),
            board.settled.get(rule_id, ()),
        ),
        "trend": board.trend(rule_id),
        "last_activity_at": last.isoformat() if last else None,
        "url": links.rule_url(view.name, view.version),
        "api_url": links.rule_url(view.name, view.version, api=True),
        "badge_url": links.badge_url(view.name),
        "versions": [
            {"version": v, "url": links.rule_url(view.name, v), "current": v == view.version}
            for v in versions
        ],
    }


def _in_scope(row: Mapping[str, Any], query: BoardQuery) -> bool:
    if query.state is not None and row["shown_state"] != query.state:
        return False
    if query.repository is None and query.author is None:
        return True
    return any(row[key] for key in _COUNTS) or bool(row["errors"])


_SORT_KEYS: dict[str, Callable[[Mapping[str, Any]], Any]] = {
    "loss_bound": lambda row: row["loss_rate_bound_percent"],
    "name": lambda row: (row["name"], row["version"]),
    "state": lambda row: _STATE_RANK.get(row["shown_state"], 3),
    "coverage": lambda row: row["coverage_percent"],
    "time_saved": lambda row: (
        row["time_saved_seconds"] if row["time_saved_median_seconds"] else None
    ),
    "last_activity": lambda row: row["last_activity_at"],
    **{key: itemgetter(key) for key in ("wins", "losses", "neutral", "missed", "pending")},
}


def sort_rows(rows: list[dict[str, Any]], sort: str, order: str) -> list[dict[str, Any]]:
    """Sorted by ``sort`` (name and version break ties), rows without a value last."""
    key = _SORT_KEYS[sort]
    rows = sorted(rows, key=lambda row: (row["name"], row["version"]))
    known = [row for row in rows if key(row) is not None]
    unknown = [row for row in rows if key(row) is None]
    known.sort(key=key, reverse=order == "desc")
    return known + unknown


def filter_links(query: BoardQuery) -> dict[str, Any]:
    """Plain links that change one parameter and keep the others."""
    params = query.as_params()

    def link(**changes: str | None) -> str:
        changed = {**params, **changes}
        return links.with_query("/", {k: v for k, v in changed.items() if v is not None})

    def sort_link(key: str) -> str:
        ascending = key in ("loss_bound", "name", "state")
        flip = query.sort == key and (query.order == "asc") == ascending
        order = ("desc" if ascending else "asc") if flip else ("asc" if ascending else "desc")
        return link(
            sort=None if key == "loss_bound" else key, order=None if order == "asc" else order
        )

    return {
        "sort": {key: sort_link(key) for key in SORTS},
        "state": {"any": link(state=None), **{s: link(state=s) for s in STATES}},
        "author": {"any": link(author=None), **{k: link(author=k) for k in AUTHOR_KINDS}},
        "versions": link(versions=None if query.versions == "all" else "all"),
        "real_thresholds": links.with_query("/", _without_hypothesis(params)),
        "api": links.with_query("/api/leaderboard", params),
    }


def _without_hypothesis(params: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in params.items() if k not in HYPOTHESIS_KEYS}


def leaderboard(
    board: Board,
    settings: Settings,
    query: BoardQuery,
    scoped: Mapping[int, Figures] | None,
    cache: RowCache | None = None,
) -> dict[str, Any]:
    """The page: its thresholds (and the hypothetical ones), whether enough rules are
    promoted for a policy proposal, and the rows, filtered and sorted (each built again
    only when its rule's record changed, with a ``cache``)."""
    views = board.views if query.versions == "all" else board.current_views()
    cache = cache or RowCache()
    asked = tuple(sorted(query.as_params().items()))
    rows = [
        cache.row(
            board.rule_id(view),
            asked,
            view,
            board.records[board.rule_id(view)],
            None if scoped is None else scoped[board.rule_id(view)],
            lambda view=view: rule_row(view, board, settings, query, scoped),  # type: ignore[misc]
        )
        for view in views
    ]
    rows = sort_rows([row for row in rows if _in_scope(row, query)], query.sort, query.order)
    hypothesis = query.hypothesis
    real = settings.thresholds
    needed = hypothesis.rfc_ready_rules if hypothesis and hypothesis.rfc_ready_rules else None
    promoted = sum(
        state_under(view, board, *thresholds_under(settings, view.name, hypothesis)) == "promoted"
        if hypothesis
        else view.state == "promoted"
        for view in board.views
    )
    rfc_ready_rules = needed or real.rfc_ready_rules
    return {
        "thresholds": {
            "max_losses": real.max_losses,
            "promote_wins": real.promote_wins,
            "promote_max_loss_rate": settings.promote_max_loss_rate,
            "wins_needed": wins_needed(real, settings.promote_max_loss_rate),
            "rfc_ready_rules": real.rfc_ready_rules,
            "per_rule": {
                name: {"max_losses": t.max_losses, "promote_wins": t.promote_wins}
                for name, t in sorted(settings.rule_thresholds.items())
            },
        },
        "hypothetical": None if hypothesis is None else _hypothetical(settings, hypothesis),
        "query": query.as_params(),
        "promoted": promoted,
        "rfc_ready_rules": rfc_ready_rules,
        "rfc_ready": promoted >= rfc_ready_rules,
        "report_url": links.REPORT,
        "repositories": [r.full_name for r in board.repositories if not r.hidden],
        "rules": rows,
        "links": filter_links(query),
    }


def _hypothetical(settings: Settings, hypothesis: Hypothesis) -> dict[str, Any]:
    thresholds, rate = thresholds_under(settings, "", hypothesis)
    return {**hypothesis.as_dict(), "wins_needed": wins_needed(thresholds, rate)}
