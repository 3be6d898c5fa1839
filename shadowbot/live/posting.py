"""Putting verdicts on screen: find the bot's comment again, then edit it or create it.

The bot finds its comments by their hidden marker and by their author (its own login), so
a restart, or a database lost, never leads to a duplicate comment. Writes of one
installation are serialized, as GitHub asks of integrations to stay clear of secondary
rate limits: https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#avoid-concurrent-requests
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from gidgethub.abc import GitHubAPI

from shadowbot.live.api import PAGE
from shadowbot.live.comments import Marker, parse_marker


async def own_comments(
    gh: GitHubAPI, repository: str, number: int, bot_login: str
) -> list[tuple[int, str]]:
    """The bot's own comments on the PR, (id, body), oldest first. Only the author tells
    them apart: anyone can quote a marker."""
    url = f"/repos/{repository}/issues/{number}/comments?{PAGE}"
    return [
        (int(comment["id"]), str(comment.get("body") or ""))
        async for comment in gh.getiter(url)
        if _login(comment) == bot_login
    ]


async def find_comments(
    gh: GitHubAPI, repository: str, number: int, bot_login: str
) -> list[tuple[int, Marker, str]]:
    """The bot's own marked comments on the PR: (id, marker, body), oldest first."""
    found = []
    for comment_id, body in await own_comments(gh, repository, number, bot_login):
        marker = parse_marker(body)
        if marker is not None:
            found.append((comment_id, marker, body))
    return found


async def upsert_comment(
    gh: GitHubAPI,
    lock: asyncio.Lock,
    repository: str,
    number: int,
    body: str,
    existing: tuple[int, str] | None,
) -> int:
    """Edit ``existing`` (id, body) to ``body``, or create a comment; nothing if unchanged.
    The comment's id."""
    async with lock:
        if existing is not None:
            comment_id, old_body = existing
            if old_body != body:
                url = f"/repos/{repository}/issues/comments/{comment_id}"
                await gh.patch(url, data={"body": body})
            return comment_id
        created = await gh.post(
            f"/repos/{repository}/issues/{number}/comments", data={"body": body}
        )
        return int(created["id"])


async def acknowledge(
    gh: GitHubAPI, lock: asyncio.Lock, repository: str, comment_id: int, content: str = "eyes"
) -> None:
    """React to a command so its author sees it was read."""
    async with lock:
        await gh.post(
            f"/repos/{repository}/issues/comments/{comment_id}/reactions",
            data={"content": content},
        )


def pick(
    comments: list[tuple[int, Marker, str]], wanted: Callable[[Marker], bool]
) -> tuple[int, str] | None:
    """The oldest of the bot's comments whose marker is ``wanted``."""
    return next(((cid, body) for cid, marker, body in comments if wanted(marker)), None)


def pick_rule(comments: list[tuple[int, Marker, str]], key: str) -> tuple[int, str] | None:
    """The bot's ``per-rule`` comment for the rule ``key``."""
    return pick(comments, lambda marker: marker.kind == "rule" and marker.rule == key)


def _login(comment: dict[str, Any]) -> str:
    user = comment.get("user") or {}
    return str(user.get("login", ""))
