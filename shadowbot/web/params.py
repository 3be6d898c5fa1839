"""The pages' query parameters, read strictly: a wrong one is a one-line 400, never a
page that silently ignores it (``?max_loss=5`` would otherwise show the real states as
if they were the hypothetical ones)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, cast

from multidict import MultiMapping

from shadowbot.errors import ShadowbotError

STATES = ("shadow", "disabled", "promoted")
AUTHOR_KINDS = ("bot", "person")
SORTS = (
    "loss_bound",
    "name",
    "state",
    "wins",
    "losses",
    "neutral",
    "missed",
    "pending",
    "coverage",
    "time_saved",
    "last_activity",
)
#: The thresholds a page may be asked to show states under, as ``?name=value``.
HYPOTHESIS_KEYS = ("max_losses", "promote_wins", "promote_max_loss_rate", "rfc_ready_rules")
#: The smallest target loss rate asked for: it takes about 3 million clean wins (a
#: smaller one only tells that no rule gets there, and takes long to compute).
MIN_RATE = 1e-6
LEADERBOARD_KEYS = ("repository", "state", "author", "sort", "order", "versions", *HYPOTHESIS_KEYS)


class PageNotFound(ShadowbotError):
    """An unknown repository, rule, version or pull request: a friendly 404."""


class BadQuery(ShadowbotError):
    """A query parameter that cannot be read: a 400 with this one-line message."""


@dataclass(frozen=True, slots=True)
class Hypothesis:
    """Thresholds to show every rule's state under instead of the configured ones; a
    threshold not given stays as configured (per rule)."""

    max_losses: int | None = None
    promote_wins: int | None = None
    promote_max_loss_rate: float | None = None
    rfc_ready_rules: int | None = None

    def as_dict(self) -> dict[str, int | float]:
        given = {key: getattr(self, key) for key in HYPOTHESIS_KEYS}
        return {key: value for key, value in given.items() if value is not None}


@dataclass(frozen=True, slots=True)
class BoardQuery:
    repository: str | None = None
    state: str | None = None
    author: str | None = None
    sort: str = "loss_bound"
    order: Literal["asc", "desc"] = "asc"
    versions: Literal["current", "all"] = "current"
    hypothesis: Hypothesis | None = None

    def as_params(self) -> dict[str, str]:
        """The query as given, without its defaults: what links keep."""
        params = {
            "repository": self.repository,
            "state": self.state,
            "author": self.author,
            "sort": None if self.sort == "loss_bound" else self.sort,
            "order": None if self.order == "asc" else self.order,
            "versions": None if self.versions == "current" else self.versions,
        }
        found = {key: value for key, value in params.items() if value is not None}
        if self.hypothesis is not None:
            found.update({k: _number(v) for k, v in self.hypothesis.as_dict().items()})
        return found


def _number(value: float) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def given(query: MultiMapping[str], allowed: Sequence[str]) -> dict[str, str]:
    """The non-empty parameters (an empty one is what a form sends for "any"), each at
    most once and each one of ``allowed``."""
    found: dict[str, str] = {}
    for key in query:
        if key not in allowed:
            known = ", ".join(allowed) or "none"
            raise BadQuery(f"unknown query parameter {key!r}; this page takes: {known}")
        values = query.getall(key)
        if len(values) > 1:
            raise BadQuery(f"query parameter {key!r} is given {len(values)} times; give it once")
        if values[0].strip():
            found[key] = values[0].strip()
    return found


def _choice(params: Mapping[str, str], key: str, allowed: Sequence[str]) -> str | None:
    value = params.get(key)
    if value is not None and value not in allowed:
        raise BadQuery(f"{key}={value!r}: expected one of {', '.join(allowed)}")
    return value


def whole_number(params: Mapping[str, str], key: str, minimum: int) -> int | None:
    value = params.get(key)
    if value is None:
        return None
    if not value.isdigit() or len(value) > 9:
        raise BadQuery(f"{key}={value!r}: expected a whole number of at least {minimum}")
    if int(value) < minimum:
        raise BadQuery(f"{key}={value}: must be at least {minimum}")
    return int(value)


def _rate(params: Mapping[str, str], key: str) -> float | None:
    value = params.get(key)
    if value is None:
        return None
    try:
        rate = float(value)
    except ValueError:
        rate = -1.0
    if not MIN_RATE <= rate < 1:
        raise BadQuery(
            f"{key}={value!r}: expected a loss rate from {MIN_RATE:g} to below 1, such as 0.01"
        )
    return rate


def hypothesis_of(params: Mapping[str, str]) -> Hypothesis | None:
    if "promote_wins" in params and "promote_max_loss_rate" in params:
        raise BadQuery("give promote_wins or promote_max_loss_rate, not both")
    hypothesis = Hypothesis(
        max_losses=whole_number(params, "max_losses", 0),
        promote_wins=whole_number(params, "promote_wins", 1),
        promote_max_loss_rate=_rate(params, "promote_max_loss_rate"),
        rfc_ready_rules=whole_number(params, "rfc_ready_rules", 1),
    )
    return hypothesis if hypothesis.as_dict() else None


def board_query(query: MultiMapping[str]) -> BoardQuery:
    """The leaderboard's parameters; see docs/pages.md."""
    params = given(query, LEADERBOARD_KEYS)
    return BoardQuery(
        repository=params.get("repository"),
        state=_choice(params, "state", STATES),
        author=_choice(params, "author", AUTHOR_KINDS),
        sort=_choice(params, "sort", SORTS) or "loss_bound",
        order=cast(Literal["asc", "desc"], _choice(params, "order", ("asc", "desc")) or "asc"),
        versions=cast(
            Literal["current", "all"], _choice(params, "versions", ("current", "all")) or "current"
        ),
        hypothesis=hypothesis_of(params),
    )


def page_number(query: MultiMapping[str]) -> int:
    """``?page=N`` (1 without it), for the pages that take nothing else."""
    return whole_number(given(query, ("page",)), "page", 1) or 1
