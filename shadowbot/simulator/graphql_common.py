"""What the GraphQL resolvers share: the request's context, GitHub's errors, and connections
(GitHub's node limits, cursors, pages)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError

from shadowbot.simulator.graphql_cost import MAX_PAGE, Cost
from shadowbot.simulator.protocol import RateWindow
from shadowbot.simulator.state import State


@dataclass
class Context:
    """What every resolver of one request may read."""

    state: State
    installation_id: int
    window: RateWindow
    cost: Cost
    # Indexes built once per request (commits by SHA, checks by commit, ...): the state does
    # not change while a query runs.
    cache: dict[str, Any] = field(default_factory=dict)


def github_error(message: str, kind: str | None = None) -> GraphQLError:
    """An error the GraphQL endpoint shows with GitHub's top-level `type`."""
    return GraphQLError(message, extensions={"type": kind} if kind else None)


def check_bounds(connection: str, first: int | None, last: int | None) -> None:
    """GitHub's node limits, checked as each connection resolves:
    https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api#node-limit
    """
    if first is None and last is None:
        message = (
            "You must provide a `first` or `last` value to properly paginate the"
            f" `{connection}` connection."
        )
        raise github_error(message, "MISSING_PAGINATION_BOUNDARIES")
    for name, value in (("first", first), ("last", last)):
        if value is not None and value > MAX_PAGE:
            message = (
                f"Requesting {value} records on the `{connection}` connection exceeds the"
                f" `{name}` limit of {MAX_PAGE} records."
            )
            raise github_error(message, "EXCESSIVE_PAGINATION")
        if value is not None and value < 0:
            raise github_error(
                f"`{name}` on the `{connection}` connection cannot be less than zero."
            )


def cursor(key: int) -> str:
    return base64.b64encode(f"cursor:v2:{key}".encode()).decode()


def cursor_key(value: str) -> int:
    try:
        prefix, _, number = base64.b64decode(value, validate=True).decode().rpartition(":")
        if prefix == "cursor:v2" and number.isascii() and number.isdigit():
            return int(number)
    except (binascii.Error, UnicodeDecodeError):
        pass
    raise _invalid_cursor(value)


def connection(
    name: str,
    items: Sequence[Any],
    *,
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    key: Callable[[int, Any], int] = lambda index, _: index,
) -> dict[str, Any]:
    """A page of ``items`` as GitHub's connections give it: ``nodes``, ``edges``,
    ``pageInfo`` and ``totalCount``. A cursor names an item by ``key`` (its position by
    default), so a page after it starts after wherever that item is now. A resolver takes
    the four paging arguments as ``**page`` and passes them on here."""
    check_bounds(name, first, last)
    keys = [key(index, item) for index, item in enumerate(items)]
    start, end = 0, len(items)
    if after is not None:
        start = _position(keys, cursor_key(after), after) + 1
    if before is not None:
        end = _position(keys, cursor_key(before), before)
    if first is not None:
        end = min(end, start + first)
    if last is not None:
        start = max(start, end - last)
    end = max(start, end)
    edges = [{"cursor": cursor(keys[i]), "node": items[i]} for i in range(start, end)]
    return {
        "totalCount": len(items),
        "nodes": [edge["node"] for edge in edges],
        "edges": edges,
        "pageInfo": {
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
            "hasNextPage": end < len(items),
            "hasPreviousPage": start > 0,
        },
    }


def _position(keys: list[int], wanted: int, value: str) -> int:
    try:
        return keys.index(wanted)
    except ValueError:
        raise _invalid_cursor(value) from None


def _invalid_cursor(value: str) -> GraphQLError:
    return github_error(
        f"`{value}` does not appear to be a valid cursor.", "INVALID_CURSOR_ARGUMENTS"
    )
