"""What each page shows, as plain data: the one source of both the HTML page and its
JSON under ``/api/`` (which therefore mirror each other)."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from shadowbot.web import links
from shadowbot.web.board import Board, Boards
from shadowbot.web.feeds import audit_page
from shadowbot.web.leaderboard import leaderboard
from shadowbot.web.params import PageNotFound, board_query, given, page_number
from shadowbot.web.pr_page import pr_page
from shadowbot.web.rule_page import rule_page

BOARDS = web.AppKey("boards", Boards)
#: The largest pull request number a (32-bit) column holds.
MAX_NUMBER = 2**31 - 1


async def leaderboard_data(request: web.Request, board: Board) -> dict[str, Any]:
    boards = request.app[BOARDS]
    query = board_query(request.query)
    scoped = None
    if query.repository is not None:
        repo = board.repository(query.repository)
        if repo is None or repo.hidden:
            raise PageNotFound(f"no repository {query.repository} is recorded")
        scoped = await boards.figures_in(board, repo.id)
    return leaderboard(board, boards.settings, query, scoped, boards.rows)


async def rule_data(request: web.Request, board: Board) -> dict[str, Any]:
    boards = request.app[BOARDS]
    name = request.match_info["name"]
    shown = request.match_info.get("version")
    version = int(shown) if shown is not None else None
    page = page_number(request.query)
    data = await boards.read(
        lambda session: rule_page(session, board, boards.settings, name, version, page)
    )
    data["links"] = _pages(request, data["ledger"]["page"], data["ledger"]["pages"])
    return data


async def pr_data(request: web.Request, board: Board) -> dict[str, Any]:
    boards = request.app[BOARDS]
    info = request.match_info
    owner, name, number = info["owner"], info["repo"], int(info["number"])
    given(request.query, ())  # it takes no parameter: refuse any, as the others do
    if number > MAX_NUMBER:  # no database column holds it
        raise PageNotFound(f"no pull request {owner}/{name}#{number} is recorded")
    return await boards.read(
        lambda session: pr_page(session, board, boards.settings, owner, name, number)
    )


async def audit_data(request: web.Request, board: Board) -> dict[str, Any]:
    page = page_number(request.query)
    return await request.app[BOARDS].read(lambda session: audit_page(session, page))


def _pages(request: web.Request, page: int, pages: int) -> dict[str, str | None]:
    def to(number: int) -> str:
        return links.with_query(request.path, {"page": str(number)} if number > 1 else {})

    return {
        "previous": to(page - 1) if page > 1 else None,
        "next": to(page + 1) if page < pages else None,
    }
