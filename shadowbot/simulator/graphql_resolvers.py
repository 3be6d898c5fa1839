"""How the GraphQL schema's fields read the simulator's state, and GitHub's GraphQL errors.

Resolvers get the state's own objects (comments, reactions, users) and compute what differs
from the REST shape: node ids, enum names, timestamps. Errors GitHub raises while resolving are
field errors carrying GitHub's `type` (NOT_FOUND, ARGUMENT_LIMIT, MISSING_PAGINATION_BOUNDARIES,
EXCESSIVE_PAGINATION): the field becomes null, and a null in a non-null field nulls its parent,
so a missing `first` on `reactions` nulls that comment in `nodes`, as GitHub answers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

from graphql import GraphQLAbstractType, GraphQLError, GraphQLResolveInfo, default_field_resolver

from shadowbot.simulator import graphql_nodes, graphql_pulls, graphql_timeline, nodeids
from shadowbot.simulator.graphql_common import (
    Context,
    check_bounds,
    cursor,
    cursor_key,
    github_error,
)
from shadowbot.simulator.models import Comment, Reaction, User
from shadowbot.simulator.render import iso

# https://docs.github.com/en/graphql/reference/enums#reactioncontent, by REST content.
CONTENT = {
    "+1": "THUMBS_UP",
    "-1": "THUMBS_DOWN",
    "laugh": "LAUGH",
    "hooray": "HOORAY",
    "confused": "CONFUSED",
    "heart": "HEART",
    "rocket": "ROCKET",
    "eyes": "EYES",
}
_REST_CONTENT = {name: content for content, name in CONTENT.items()}
MAX_IDS = 100


def resolve_field(source: Any, info: GraphQLResolveInfo[Context], **arguments: Any) -> Any:
    resolver = _FIELDS.get((info.parent_type.name, info.field_name))
    if resolver is None:  # a field named as the object's attribute, or a dict key
        return default_field_resolver(source, info, **arguments)
    return resolver(source, info, **arguments)


def resolve_type(
    value: Any, info: GraphQLResolveInfo[Context], abstract: GraphQLAbstractType
) -> str:
    if isinstance(value, Comment):
        return "IssueComment"
    if isinstance(value, Reaction):
        return "Reaction"
    if isinstance(value, User):
        return "Bot" if value.type == "Bot" else "User"
    name = graphql_nodes.type_name(value)
    if name is not None:
        return name
    raise TypeError(f"no GraphQL type for {type(value).__name__}")


# --- the root: nodes, node, rateLimit ---


def _nodes(_: None, info: GraphQLResolveInfo[Context], ids: list[str]) -> list[object]:
    """One entry per id, in order; an id that resolves to nothing is null with a NOT_FOUND
    error. More than 100 ids are refused as GitHub refuses them, nulling `data` (`nodes` is
    non-null)."""
    if len(ids) > MAX_IDS:
        message = f"You may not provide more than {MAX_IDS} node ids; you provided {len(ids)}."
        raise github_error(message, "ARGUMENT_LIMIT")
    context = _context(info)
    return [_lookup(context, global_id) for global_id in ids]


def _node(_: None, info: GraphQLResolveInfo[Context], id: str) -> object:
    found = _lookup(_context(info), id)
    if isinstance(found, GraphQLError):
        raise found
    return found


def _lookup(context: Context, global_id: str) -> object:
    """The object, or the NOT_FOUND error to put in its place. Only the repositories of the
    calling installation are visible, as with REST."""
    parsed = nodeids.parse_node_id(global_id)
    found = _find(context, *parsed) if parsed else graphql_nodes.find(context, global_id)
    if found is None:
        message = f"Could not resolve to a node with the global id of '{global_id}'."
        return github_error(message, "NOT_FOUND")
    return found


def _find(context: Context, kind: str, database_id: int) -> object | None:
    if kind in (nodeids.USER, nodeids.BOT):
        wanted = "Bot" if kind == nodeids.BOT else "User"
        users = context.state.users.values()
        return next((u for u in users if u.id == database_id and u.type == wanted), None)
    installation = context.state.installation(context.installation_id)
    for name in installation.repos:
        comments = context.state.repo(name).comments
        if kind == nodeids.COMMENT and database_id in comments:
            return comments[database_id]
        for comment in comments.values() if kind == nodeids.REACTION else ():
            for reaction in comment.reactions:
                if reaction.id == database_id:
                    return reaction
    return None


def _rate_limit(_: None, info: GraphQLResolveInfo[Context], dryRun: bool = False) -> dict[str, Any]:
    """After this query's charge, as GitHub reports it (`cost` is charged unless a dry run)."""
    context = _context(info)
    window = context.window
    return {
        "cost": context.cost.points,
        "limit": window.limit,
        "nodeCount": context.cost.nodes,
        "remaining": window.remaining,
        "resetAt": iso(datetime.fromtimestamp(window.reset, UTC)),
        "used": window.used,
    }


# --- reactions, a connection ---


def _reactions(
    comment: Comment,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    content: str | None = None,
) -> dict[str, Any]:
    """Oldest first, like the REST list; `content` filters, and `totalCount` counts the
    filtered reactions on every page."""
    check_bounds(info.field_name, first, last)
    items = [r for r in comment.reactions if content is None or r.content == _REST_CONTENT[content]]
    window = items
    if after is not None:
        window = [r for r in window if r.id > cursor_key(after)]
    if before is not None:
        window = [r for r in window if r.id < cursor_key(before)]
    start, end = 0, len(window)
    if first is not None:
        end = min(first, end)
    if last is not None:
        start = max(end - last, 0)
    page = window[start:end]
    edges = [{"cursor": cursor(r.id), "node": r} for r in page]
    info_page = {
        "startCursor": edges[0]["cursor"] if edges else None,
        "endCursor": edges[-1]["cursor"] if edges else None,
        "hasNextPage": end < len(window) or _any_from(items, before, later=True),
        "hasPreviousPage": start > 0 or _any_from(items, after, later=False),
    }
    return {"totalCount": len(items), "nodes": page, "edges": edges, "pageInfo": info_page}


def _any_from(items: Sequence[Reaction], value: str | None, *, later: bool) -> bool:
    """Whether anything lies at or beyond the cursor `value` in that direction (none
    without one)."""
    if value is None:
        return False
    mark = cursor_key(value)
    return any(r.id >= mark if later else r.id <= mark for r in items)


def _context(info: GraphQLResolveInfo[Context]) -> Context:
    return info.context


_FIELDS: dict[tuple[str, str], Callable[..., Any]] = {
    ("Query", "nodes"): _nodes,
    ("Query", "node"): _node,
    ("Query", "rateLimit"): _rate_limit,
    ("IssueComment", "id"): lambda c, _: nodeids.node_id(nodeids.COMMENT, c.id),
    ("IssueComment", "databaseId"): lambda c, _: c.id,
    ("IssueComment", "createdAt"): lambda c, _: iso(c.created_at),
    ("IssueComment", "updatedAt"): lambda c, _: iso(c.updated_at),
    ("IssueComment", "author"): lambda c, _: c.user,
    ("IssueComment", "reactions"): _reactions,
    ("Reaction", "id"): lambda r, _: nodeids.node_id(nodeids.REACTION, r.id),
    ("Reaction", "databaseId"): lambda r, _: r.id,
    ("Reaction", "content"): lambda r, _: CONTENT[r.content],
    ("Reaction", "createdAt"): lambda r, _: iso(r.created_at),
    # The field is a User: a reaction by an app's bot shows no user.
    ("Reaction", "user"): lambda r, _: None if r.user.type == "Bot" else r.user,
    ("User", "id"): lambda u, _: nodeids.node_id(nodeids.USER, u.id),
    ("User", "databaseId"): lambda u, _: u.id,
    ("Bot", "id"): lambda u, _: nodeids.node_id(nodeids.BOT, u.id),
    ("Bot", "databaseId"): lambda u, _: u.id,
    **graphql_pulls.FIELDS,
    **graphql_timeline.FIELDS,
}
