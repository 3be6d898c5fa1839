"""The HTML pages: each renders its data (:mod:`shadowbot.web.data`) with a template
under ``templates/site/`` that extends ``base.html``. Jinja2 escapes every value, so a
title, a note or a login shows as the text it is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jinja2
from aiohttp import web
from markupsafe import Markup

from shadowbot.offline.ledger_view import human_duration, percent
from shadowbot.resources import bundled_path
from shadowbot.web import links, svg
from shadowbot.web.board import Board
from shadowbot.web.data import BOARDS, audit_data, leaderboard_data, pr_data, rule_data

TEMPLATES = web.AppKey("templates", jinja2.Environment)
#: Each reaction as its emoji and its name: the name reads where no emoji font is installed,
#: and to a screen reader.
EMOJI = {
    "+1": "👍 thumbs up",
    "-1": "👎 thumbs down",
    "laugh": "😄 laugh",
    "hooray": "🎉 hooray",
    "confused": "😕 confused",
    "heart": "❤️ heart",
    "rocket": "🚀 rocket",
    "eyes": "👀 eyes",
}
_STATUS_TITLES = {
    400: "Bad request",
    404: "Not found",
    500: "Error",
    503: "Unavailable",
}


def when(value: str | datetime | None) -> Markup:
    """A time as ``2024-03-01 09:00 UTC`` in a ``<time>`` element; ``-`` for none."""
    if value is None:
        return Markup("-")
    at = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    # Both texts are made here from a datetime (digits, '-', ':', '+', 'T', ' ', 'UTC'):
    # nothing to escape, and Markup.format costs a rule page tens of milliseconds.
    return Markup(f'<time datetime="{at.isoformat()}">{at:%Y-%m-%d %H:%M} UTC</time>')


def pct(value: float | None) -> str:
    """A percentage as the JSON gives it (``2.9513``) as ``ledger show`` prints it."""
    return percent(None if value is None else value / 100)


def duration(seconds: float | None) -> str:
    return human_duration(None if seconds is None else timedelta(seconds=seconds))


def environment(stylesheet: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(bundled_path("templates") / "site"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(when=when, pct=pct, duration=duration, emoji=lambda c: EMOJI.get(c, c))
    env.globals.update(stylesheet=stylesheet, trend=svg.trend, links=links)
    return env


def render(
    request: web.Request,
    template: str,
    data: dict[str, Any],
    title: str,
    status: int = 200,
    **extra: Any,
) -> web.Response:
    page = request.app[TEMPLATES].get_template(template)
    html = page.render(
        data=data,
        title=title,
        path=request.path,
        api_url=_api_url(request),
        status=status,
        **extra,
    )
    return web.Response(text=html, status=status, content_type="text/html", charset="utf-8")


def _api_url(request: web.Request) -> str | None:
    if request.path == "/":
        return links.with_query("/api/leaderboard", dict(request.query))
    if request.path.startswith(("/rules/", "/prs/", "/audit")):
        return "/api" + request.path_qs
    return None


async def board(request: web.Request, board: Board) -> web.Response:
    data = await leaderboard_data(request, board)
    title = "Hypothetical leaderboard" if data["hypothetical"] else "Rule leaderboard"
    row_template = request.app[TEMPLATES].get_template("_leaderboard_row.html")
    rows = request.app[BOARDS].rows

    def row_html(row: dict[str, Any]) -> Markup:
        return rows.html(row, lambda row: row_template.render(row=row))

    return render(request, "leaderboard.html", data, title, row_html=row_html)


async def rule(request: web.Request, board: Board) -> web.Response:
    data = await rule_data(request, board)
    return render(request, "rule.html", data, f"Rule {data['rule']['rule']}")


async def pull_request(request: web.Request, board: Board) -> web.Response:
    data = await pr_data(request, board)
    pr = data["pull_request"]
    return render(request, "pr.html", data, f"{pr['repository']}#{pr['number']}")


async def audit(request: web.Request, board: Board) -> web.Response:
    data = await audit_data(request, board)
    return render(request, "audit.html", data, "Audit log")


def error_page(request: web.Request, status: int, message: str) -> web.Response:
    title = _STATUS_TITLES.get(status, "Error")
    return render(request, "error.html", {"message": message}, title, status=status)
