"""Global node ids: the `node_id` of REST bodies, which is the `id` of the same object in GraphQL.

GitHub's are opaque strings with a type prefix (`IC_kwDO...` for an issue comment) that clients
must pass back as they are and never parse:
https://docs.github.com/en/graphql/guides/using-global-node-ids
The simulator's keep GitHub's prefixes and encode the database id after it, so each is stable
across runs and unique per object.
"""

from __future__ import annotations

import base64
import binascii

# GitHub's prefixes: issue comment, reaction, user, bot.
COMMENT, REACTION, USER, BOT = "IC", "REA", "U", "BOT"
_KINDS = frozenset({COMMENT, REACTION, USER, BOT})


def node_id(kind: str, key: int | str) -> str:
    """The global id of the object of ``kind`` with ``key`` (a database id, or a SHA)."""
    raw = f"{kind}:{key}".encode()
    return f"{kind}_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_key(value: str, kinds: frozenset[str]) -> tuple[str, str] | None:
    """(kind, key) of an id :func:`node_id` made for one of ``kinds``; None for anything
    else."""
    kind, _, encoded = value.partition("_")
    if kind not in kinds:
        return None
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    inner, _, key = raw.partition(":")
    return (kind, key) if inner == kind and key else None


def parse_node_id(value: str) -> tuple[str, int] | None:
    """(kind, database id) of an id :func:`node_id` made; None for anything else."""
    parsed = parse_key(value, _KINDS)
    if parsed is None or not (parsed[1].isascii() and parsed[1].isdigit()):
        return None
    return parsed[0], int(parsed[1])
