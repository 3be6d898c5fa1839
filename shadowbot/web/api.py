"""The machine-readable pages: JSON mirroring every HTML page (the same data), the ledger
as CSV, an Atom feed of state changes, the evidence report and a badge per rule."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from shadowbot.storage import utcnow
from shadowbot.web import feeds, svg
from shadowbot.web.board import Board
from shadowbot.web.data import BOARDS, audit_data, leaderboard_data, pr_data, rule_data
from shadowbot.web.params import PageNotFound, given

#: Public, read-only data without credentials: anyone's page may fetch it.
OPEN = {"Access-Control-Allow-Origin": "*"}


def as_json(data: Any) -> web.Response:
    """Indented UTF-8 JSON. orjson writes the leaderboard's 500 KB in a tenth of the
    stdlib's time (docs/performance.md, "Leaderboard pages")."""
    body = orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS)
    return web.Response(body=body, content_type="application/json", charset="utf-8", headers=OPEN)


async def board(request: web.Request, board: Board) -> web.Response:
    return as_json(await leaderboard_data(request, board))


async def rule(request: web.Request, board: Board) -> web.Response:
    return as_json(await rule_data(request, board))


async def pull_request(request: web.Request, board: Board) -> web.Response:
    return as_json(await pr_data(request, board))


async def audit(request: web.Request, board: Board) -> web.Response:
    return as_json(await audit_data(request, board))


async def ledger_csv(request: web.Request, board: Board) -> web.Response:
    given(request.query, ())
    text = await request.app[BOARDS].read(lambda session: feeds.ledger_csv(session, board))
    headers = {**OPEN, "Content-Disposition": 'inline; filename="ledger.csv"'}
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers=headers)


async def feed(request: web.Request, board: Board) -> web.Response:
    given(request.query, ())
    boards = request.app[BOARDS]
    base = boards.settings.public_url or f"{request.scheme}://{request.host}"
    body = await boards.read(lambda session: feeds.atom_feed(session, base))
    return web.Response(body=body, content_type="application/atom+xml", headers=OPEN)


async def report(request: web.Request, board: Board) -> web.Response:
    given(request.query, ())
    boards = request.app[BOARDS]
    text = await boards.read(
        lambda session: feeds.report_markdown(session, boards.settings, board, utcnow())
    )
    return web.Response(text=text, content_type="text/markdown", charset="utf-8", headers=OPEN)


async def badge(request: web.Request, board: Board) -> web.Response:
    """The rule's state and record (its newest version's, or the one asked for)."""
    given(request.query, ())
    name = request.match_info["name"]
    version = request.match_info.get("version")
    views = [v for v in board.views if v.name == name]
    if version is not None:
        views = [v for v in views if v.version == int(version)]
    if not views:
        raise PageNotFound(f"no rule {name} is recorded")
    view = views[-1]
    message = f"{view.state}, {view.figures.wins} wins, {view.figures.losses} losses"
    body = svg.badge(view.key, message, view.state)
    return web.Response(text=body, content_type="image/svg+xml", charset="utf-8", headers=OPEN)


def unknown_badge() -> web.Response:
    """A badge for a rule that is not recorded, still an image where it is embedded."""
    body = svg.badge("shadowbot", "unknown rule", None)
    return web.Response(
        text=body, status=404, content_type="image/svg+xml", charset="utf-8", headers=OPEN
    )
