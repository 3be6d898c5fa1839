"""Putting verdicts on screen: find the bot's comment again, then edit it or create it.

The bot finds its comments by their hidden marker and by their author (its own login), so
a restart, or a database lost, never leads to a duplicate comment; and it finds and writes
them under a per-PR lock (:func:`comment_lock`), so neither do two replicas evaluating
the same PR at once, each finding no comment yet. Writes of one
installation are serialized, as GitHub asks of integrations to stay clear of secondary
rate limits: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#avoid-concurrent-requests
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gidgethub import BadRequest
from gidgethub.abc import GitHubAPI
from sqlalchemy.engine import Engine as Database

from shadowbot.live.api import PAGE
from shadowbot.live.comments import Marker, parse_marker
from shadowbot.storage.locks import advisory_lock

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OwnComment:
    """One of the bot's own comments on a PR, as GitHub lists it."""

    id: int
    body: str
    node_id: str | None
    created_at: datetime
    updated_at: datetime
    marker: Marker | None = None


@dataclass(frozen=True, slots=True)
class Written:
    """A comment after :func:`upsert_comment`."""

    id: int
    node_id: str | None
    created_at: datetime
    #: GitHub's time of the write that put the body on screen: the comment's
    #: ``created_at`` or ``updated_at`` as GitHub returned them (DESIGN.md: "Clocks are
    #: GitHub's"). When the body was already on screen, the time of that earlier write.
    shown_at: datetime
    wrote: bool


def _own(comment: dict[str, Any]) -> OwnComment:
    body = str(comment.get("body") or "")
    created = _time(comment.get("created_at"))
    return OwnComment(
        id=int(comment["id"]),
        body=body,
        node_id=comment.get("node_id"),
        created_at=created,
        updated_at=_time(comment.get("updated_at")) if comment.get("updated_at") else created,
        marker=parse_marker(body),
    )


def _time(value: Any) -> datetime:
    return datetime.fromisoformat(str(value))


async def own_comments(
    gh: GitHubAPI, repository: str, number: int, bot_login: str
) -> list[OwnComment]:
    """The bot's own comments on the PR, oldest first. Only the author tells them apart:
    anyone can quote a marker."""
    url = f"/repos/{repository}/issues/{number}/comments?{PAGE}"
    return [_own(comment) async for comment in gh.getiter(url) if _login(comment) == bot_login]


async def find_comments(
    gh: GitHubAPI, repository: str, number: int, bot_login: str
) -> list[OwnComment]:
    """The bot's own marked comments on the PR, oldest first."""
    mine = await own_comments(gh, repository, number, bot_login)
    return [comment for comment in mine if comment.marker is not None]


def comment_lock(
    database: Database, repository: str, number: int
) -> AbstractAsyncContextManager[None]:
    """Hold while finding the bot's comments on the PR and writing them: the per-PR lock
    of all replicas on one PostgreSQL database (nothing to hold on SQLite)."""
    return advisory_lock(database, f"comment:{repository.lower()}#{number}")


async def upsert_comment(
    gh: GitHubAPI,
    lock: asyncio.Lock,
    repository: str,
    number: int,
    body: str,
    existing: OwnComment | None,
) -> Written:
    """Edit ``existing`` to ``body``, or create a comment; nothing if unchanged. A comment
    deleted (a 404) between finding it and editing it is created again, once, now: the
    PR must not go without its verdict until its next event."""
    async with lock:
        if existing is not None:
            if existing.body == body:
                return Written(
                    existing.id,
                    existing.node_id,
                    existing.created_at,
                    existing.updated_at,
                    wrote=False,
                )
            url = f"/repos/{repository}/issues/comments/{existing.id}"
            try:
                edited = _own(await gh.patch(url, data={"body": body}))
            except BadRequest as exc:
                if exc.status_code != 404:
                    raise
                log.info(
                    "comment %d on %s#%d is gone; posting it again", existing.id, repository, number
                )
            else:
                return Written(
                    edited.id, edited.node_id, edited.created_at, edited.updated_at, wrote=True
                )
        created = _own(
            await gh.post(f"/repos/{repository}/issues/{number}/comments", data={"body": body})
        )
        return Written(
            created.id, created.node_id, created.created_at, created.created_at, wrote=True
        )


async def acknowledge(
    gh: GitHubAPI, lock: asyncio.Lock, repository: str, comment_id: int, content: str = "eyes"
) -> None:
    """React to a command so its author sees it was read."""
    async with lock:
        await gh.post(
            f"/repos/{repository}/issues/comments/{comment_id}/reactions",
            data={"content": content},
        )


def pick(comments: list[OwnComment], wanted: Callable[[Marker], bool]) -> OwnComment | None:
    """The oldest of the bot's comments whose marker is ``wanted``."""
    return next((c for c in comments if c.marker is not None and wanted(c.marker)), None)


def pick_rule(comments: list[OwnComment], key: str) -> OwnComment | None:
    """The bot's ``per-rule`` comment for the rule ``key``."""
    return pick(comments, lambda marker: marker.kind == "rule" and marker.rule == key)


def _login(comment: dict[str, Any]) -> str:
    user = comment.get("user") or {}
    return str(user.get("login", ""))
