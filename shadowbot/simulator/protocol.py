"""GitHub's REST conventions that are not about any one resource: pagination (by page and by
cursor), ETags and conditional requests, and the primary rate limits. Pure functions and plain
objects."""

from __future__ import annotations

import hashlib
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from yarl import URL

T = TypeVar("T")
# https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
DEFAULT_PER_PAGE = 30
MAX_PER_PAGE = 100
WINDOW_SECONDS = 3600
RATE_LIMIT_DOCS = (
    "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits"
)


def _positive_int(text: str | None, default: int) -> int:
    try:
        value = int(text) if text is not None else default
    except ValueError:
        return default
    return value if value > 0 else default


def paginate(items: Sequence[T], url: URL) -> tuple[list[T], str | None]:
    """The page of `items` that `url` asks for, and the `Link` header to send with it.

    `per_page` defaults to 30 and is capped at 100; links are absolute, keep the request's
    other query parameters, and come in GitHub's order (prev, next, last, first). The header
    is left out when everything fits on one page, as the pagination guide says.
    """
    per_page = min(_positive_int(url.query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    page = _positive_int(url.query.get("page"), 1)
    last = max(math.ceil(len(items) / per_page), 1)
    chunk = list(items[(page - 1) * per_page : page * per_page])
    if last == 1:
        return chunk, None
    rels: list[tuple[str, int]] = []
    if page > 1:
        rels.append(("prev", min(page - 1, last)))
    if page < last:
        rels += [("next", page + 1), ("last", last)]
    if page > 1:
        rels.append(("first", 1))
    links = [f'<{url.update_query(page=str(number))}>; rel="{rel}"' for rel, number in rels]
    return chunk, ", ".join(links)


def paginate_by_cursor(
    items: Sequence[T], url: URL, key: Callable[[T], int]
) -> tuple[list[T], str | None]:
    """The page of `items` (sorted by `key`, descending) after the request's `cursor`, and its
    `Link` header, for the endpoints GitHub pages by cursor (the webhook deliveries): `per_page`
    as above, an opaque `cursor`, and a `rel="next"` link only, left out on the last page.
    Raises ValueError for a cursor this function did not hand out."""
    per_page = min(_positive_int(url.query.get("per_page"), DEFAULT_PER_PAGE), MAX_PER_PAGE)
    start = 0
    cursor = url.query.get("cursor")
    if cursor:
        after = _cursor_key(cursor)
        start = next((i for i, item in enumerate(items) if key(item) < after), len(items))
    chunk = list(items[start : start + per_page])
    if not chunk or start + per_page >= len(items):
        return chunk, None
    following = url.update_query(cursor=f"v1_{key(chunk[-1])}")
    return chunk, f'<{following}>; rel="next"'


def _cursor_key(cursor: str) -> int:
    version, _, number = cursor.partition("_")
    if version != "v1" or not (number.isascii() and number.isdigit()):
        raise ValueError(f"not a cursor: {cursor!r}")
    return int(number)


def etag_of(body: bytes) -> str:
    """A weak validator over the response body, like the `W/"..."` GitHub sends."""
    return f'W/"{hashlib.sha256(body).hexdigest()[:32]}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """Weak comparison (RFC 9110 section 13.1.2): `W/` prefixes are ignored; `*` matches."""
    if not if_none_match:
        return False
    tags = [_opaque(tag) for tag in if_none_match.split(",")]
    return "*" in tags or _opaque(etag) in tags


@dataclass
class RateWindow:
    """One installation's primary rate limit for one resource: requests for `core`, points for
    `graphql`. https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api
    https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
    """

    limit: int
    used: int = 0
    reset: int = 0
    resource: str = "core"

    def refresh(self, now: float) -> None:
        if now >= self.reset:
            self.used = 0
            self.reset = int(now) + WINDOW_SECONDS

    @property
    def remaining(self) -> int:
        return max(self.limit - self.used, 0)

    def headers(self) -> dict[str, str]:
        return {
            "x-ratelimit-limit": str(self.limit),
            "x-ratelimit-remaining": str(self.remaining),
            "x-ratelimit-used": str(self.used),
            "x-ratelimit-reset": str(self.reset),
            "x-ratelimit-resource": self.resource,
        }

    def as_json(self) -> dict[str, int]:
        return {
            "limit": self.limit,
            "used": self.used,
            "remaining": self.remaining,
            "reset": self.reset,
        }


class RateLimits:
    """Rate windows of one resource per installation: GitHub counts an installation's requests
    together, whichever of its tokens made them."""

    def __init__(self, limit: int, resource: str = "core") -> None:
        self.limit = limit
        self.resource = resource
        self._windows: dict[int, RateWindow] = {}

    def window(self, installation_id: int, now: float) -> RateWindow:
        window = self._windows.get(installation_id)
        if window is None:
            window = RateWindow(self.limit, resource=self.resource)
            self._windows[installation_id] = window
        window.refresh(now)
        return window
