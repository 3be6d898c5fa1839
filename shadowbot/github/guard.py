"""The write guard: the only writes shadowbot may send to GitHub, checked before sending.

Shadow mode needs these writes, and nothing else:

- ``POST /repos/{owner}/{repo}/issues/{number}/comments``: create its verdict comment;
- ``PATCH /repos/{owner}/{repo}/issues/comments/{id}``: edit its own comment, and only
  its own: :func:`edited_comment` names the comment, and the client asks GitHub who wrote
  it before sending (:func:`check_author`);
- ``POST /repos/{owner}/{repo}/issues/comments/{id}/reactions``: acknowledge a command;
- ``POST /app/installations/{id}/access_tokens``: exchange the app's JWT for an
  installation token;
- ``POST /app/hook/deliveries/{id}/attempts``: redeliver a webhook delivery that failed,
  as the app (https://docs.github.com/en/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook);
- ``POST /graphql`` when every operation of the document is a ``query``: GraphQL reads
  (the reactions on its verdict comments) are POSTs too, so the body is read as well
  (https://docs.github.com/en/graphql/guides/forming-calls-with-graphql).

Every other method and path — merging, reviews, labels, contents, refs, any GraphQL
mutation or subscription — is refused here, so no code path of the bot can merge. So is a
write whose path has an empty segment (``//``, a trailing ``/``), a ``.`` or ``..``
segment, or any percent escape (``%2F`` is a ``/`` once the server decodes it): servers
differ on such paths, and an allowed write needs none.

Why an edit is checked against GitHub's word on the author, and not against the comments
the database records as the bot's: the author is GitHub's to say and never changes, while
the database may be new, restored from a backup or shared by replicas, and the bot finds
its comments again by their author too (:mod:`shadowbot.live.posting`). It also keeps
this package free of the storage layer. The price is one read before the first edit of a
comment the process did not create itself; the client remembers the answer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from graphql import GraphQLError, OperationDefinitionNode, OperationType, parse

from shadowbot.errors import ShadowbotError

#: GitHub's owner and repository names: letters, digits, `-`, `_` and `.`.
_REPO = r"/repos/[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+"
_GRAPHQL = re.compile(r"/graphql")
_CREATE = re.compile(rf"{_REPO}/issues/\d+/comments")
_EDIT = re.compile(rf"{_REPO}/issues/comments/\d+")
ALLOWED_WRITES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", _CREATE, "create a comment"),
    ("PATCH", _EDIT, "edit its own comment"),  # and only its own: see check_author
    ("POST", re.compile(rf"{_REPO}/issues/comments/\d+/reactions"), "acknowledge a command"),
    ("POST", re.compile(r"/app/installations/\d+/access_tokens"), "get an installation token"),
    ("POST", re.compile(r"/app/hook/deliveries/\d+/attempts"), "redeliver a failed delivery"),
    ("POST", _GRAPHQL, "read with a GraphQL query"),  # and only a query: see _check_graphql
)
READ_METHODS = frozenset({"GET", "HEAD"})
#: The keys of a GraphQL request body; anything else could mean something to the server.
_GRAPHQL_KEYS = frozenset({"query", "variables", "operationName"})

Body = bytes | Mapping[str, Any] | None


class WriteRefused(ShadowbotError):
    """A write outside what shadow mode needs was attempted; nothing was sent."""


def check_request(method: str, url: str, base_url: str, body: Body = None) -> None:
    """Raise :class:`WriteRefused` unless ``method url`` is a read or an allowed write,
    below the API base: the installation token never goes to another host, even when a
    ``Link`` header points there. ``body`` is what will be sent (the bytes, or the JSON
    object before encoding); only a GraphQL POST needs it."""
    method = method.upper()
    segments = _segments_below(url, base_url)
    if segments is None or any(p in (".", "..") for p in segments):
        raise WriteRefused(f"refused {method} {url}: not below the API at {base_url}")
    if method in READ_METHODS:
        return
    path = "/" + "/".join(segments)
    if "" in segments:
        # `//` (or a trailing `/`) is no path an allowed write has; servers differ on it.
        raise WriteRefused(f"refused {method} {path}: an empty path segment")
    if "%" in path:
        # The allowed writes name plain numbers and names: an escape (`%2F`, `%2e%2e`)
        # could dress up another endpoint once the server decodes it.
        raise WriteRefused(f"refused {method} {path}: a percent escape in the path")
    for allowed_method, pattern, _ in ALLOWED_WRITES:
        if method == allowed_method and pattern.fullmatch(path):
            if pattern is _GRAPHQL:
                _check_graphql(method, path, body)
            return
    raise WriteRefused(f"refused {method} {path}: shadowbot only writes its own comments")


def edited_comment(method: str, url: str, base_url: str) -> int | None:
    """The id of the issue comment ``method url`` edits, or None if it edits none. Call
    it on a request :func:`check_request` let through."""
    segments = _segments_below(url, base_url)
    if method.upper() != "PATCH" or segments is None:
        return None
    path = "/" + "/".join(segments)
    return int(segments[-1]) if _EDIT.fullmatch(path) else None


def created_comment(method: str, url: str, base_url: str) -> bool:
    """Whether ``method url`` creates an issue comment (the bot's own, then)."""
    segments = _segments_below(url, base_url)
    if method.upper() != "POST" or segments is None:
        return False
    return _CREATE.fullmatch("/" + "/".join(segments)) is not None


def check_author(method: str, url: str, comment: Any, bot_login: str) -> None:
    """Raise :class:`WriteRefused` unless ``comment`` (GitHub's JSON for the comment
    ``method url`` edits) was written by ``bot_login``. Logins ignore case on GitHub."""
    user = comment.get("user") if isinstance(comment, Mapping) else None
    login = user.get("login") if isinstance(user, Mapping) else None
    if not isinstance(login, str) or login.casefold() != bot_login.casefold():
        path = urlsplit(url).path
        raise WriteRefused(
            f"refused {method.upper()} {path}: the comment was written by {login!r},"
            f" not by {bot_login}"
        )


def _check_graphql(method: str, path: str, body: Body) -> None:
    """Refuse a GraphQL request unless every operation of its document is a query."""
    reason = _graphql_refusal(body)
    if reason is not None:
        raise WriteRefused(f"refused {method} {path}: {reason}")


def _graphql_refusal(body: Body) -> str | None:
    """Why this GraphQL request body is no plain read, or None if it is one."""
    payload = _json_object(body)
    if payload is None:
        return "the body is not a JSON object"
    if not _GRAPHQL_KEYS.issuperset(payload):
        return f"unexpected keys {sorted(set(payload) - _GRAPHQL_KEYS)} in the body"
    query = payload.get("query")
    if not isinstance(query, str):
        return "the body has no string `query`"
    try:
        document = parse(query, no_location=True)
    except (GraphQLError, RecursionError) as error:
        first_line = str(error).splitlines()[0] if str(error) else type(error).__name__
        return f"the GraphQL document does not parse ({first_line})"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    named = {op.name.value: op for op in operations if op.name is not None}
    selected = payload.get("operationName")
    if selected is not None:
        if not isinstance(selected, str) or selected not in named:
            return f"operationName {selected!r} names no operation of the document"
        if named[selected].operation is not OperationType.QUERY:
            return f"operationName {selected!r} selects a {named[selected].operation.value}"
    if not operations:
        return "the GraphQL document has no operation"
    for operation in operations:
        if operation.operation is not OperationType.QUERY:
            name = operation.name.value if operation.name is not None else "(anonymous)"
            return f"a GraphQL {operation.operation.value} {name}: only queries are sent"
    return None


def _json_object(body: Body) -> Mapping[str, Any] | None:
    """``body`` as a JSON object, or None. Bytes must be strict UTF-8 JSON without
    duplicate keys: a server that keeps another duplicate than Python would run another
    document than the one checked here."""
    if isinstance(body, Mapping):
        return body
    if not isinstance(body, bytes):
        return None
    try:
        parsed = json.loads(body.decode("utf-8"), object_pairs_hook=_unique_keys)
    except (ValueError, RecursionError):  # JSONDecodeError and UnicodeDecodeError too
        return None
    return parsed if isinstance(parsed, dict) else None


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"duplicate keys in {keys}")
    return dict(pairs)


def _segments_below(url: str, base_url: str) -> list[str] | None:
    """The path segments of ``url`` below the API base, empty ones included (the one
    before the first ``/`` aside), or None if it is elsewhere."""
    base, target = urlsplit(base_url), urlsplit(url)
    prefix = base.path.rstrip("/")
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
        target.path == prefix or target.path.startswith(prefix + "/")
    ):
        return None
    below = target.path[len(prefix) :]
    return below.split("/")[1:] if below else []
