"""The public pages' plumbing: the route table, conditional GETs per change of the data,
the security headers, and the one place where a page's errors become HTTP answers.

Every page is cached per change of the data: its ETag is the data's version
(:func:`shadowbot.storage.pages_queries.data_version`), its ``Last-Modified`` when this
process first saw that version; a repeat request gets a 304, and a page already rendered
for that version is served from memory.
"""

from __future__ import annotations

import hashlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from email.utils import format_datetime
from typing import Literal

from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from shadowbot.errors import StorageError
from shadowbot.resources import bundled_path
from shadowbot.settings import Settings
from shadowbot.storage.pages_queries import reader
from shadowbot.web import api, links, pages
from shadowbot.web.board import Board, Boards, Seen
from shadowbot.web.data import BOARDS
from shadowbot.web.params import BadQuery, PageNotFound

log = logging.getLogger(__name__)

PageHandler = Callable[[web.Request, Board], Awaitable[web.Response]]

#: No script at all, styles from our one stylesheet, nothing framed or posted elsewhere.
#: https://developer.mozilla.org/en-US/docs/Web/HTTP/Headers/Content-Security-Policy
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self';"
    " base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}
#: Rendered pages kept per (data version, host, path and query).
CACHED_PAGES = 256
#: What a bug must never show: the rest goes to the log.
BROKEN = "this page could not be built; the error is logged"
UNAVAILABLE = "the database cannot be read right now; try again in a moment"


class PageCache:
    """The newest rendered pages, least recently used dropped first."""

    def __init__(self, size: int = CACHED_PAGES) -> None:
        self._size = size
        self._pages: OrderedDict[tuple[str, ...], tuple[bytes, dict[str, str]]] = OrderedDict()

    def get(self, key: tuple[str, ...]) -> web.Response | None:
        found = self._pages.get(key)
        if found is None:
            return None
        self._pages.move_to_end(key)
        body, headers = found
        return web.Response(body=body, headers=headers)

    def put(self, key: tuple[str, ...], response: web.Response) -> None:
        if not isinstance(response.body, bytes):
            return
        headers = {k: v for k, v in response.headers.items() if k.lower() != "content-length"}
        self._pages[key] = (response.body, headers)
        self._pages.move_to_end(key)
        while len(self._pages) > self._size:
            self._pages.popitem(last=False)


PAGE_CACHE = web.AppKey("page_cache", PageCache)


def http_date(at: datetime) -> str:
    return format_datetime(at, usegmt=True)


def not_modified(request: web.Request, etag: str, seen: Seen | None) -> bool:
    """RFC 9110 13.1: If-None-Match when given, else If-Modified-Since (a copy dated
    after this version was first seen, or in that second when no other version was)."""
    given = request.headers.get("If-None-Match")
    if given is not None:
        tags = {tag.strip().removeprefix("W/") for tag in given.split(",")}
        return "*" in tags or etag in tags
    since = request.if_modified_since
    if since is None or seen is None:
        return False
    return seen.at < since or (seen.at == since and seen.alone)


def cached(handler: PageHandler, level: Literal["pages", "evidence"] = "pages") -> Handler:
    """A page served for the data's version: 304 when the client has it, from memory
    when it was rendered already, else built. A pull request's page is keyed by every
    piece of evidence (``level="evidence"``), the others by what they show."""

    async def serve(request: web.Request) -> web.StreamResponse:
        boards = request.app[BOARDS]
        version = await boards.version()
        marks = version.evidence if level == "evidence" else version.pages
        etag = boards.etag(marks)
        seen = boards.seen(level, marks)
        headers = {
            "ETag": etag,
            "Last-Modified": http_date(seen.at),
            "Cache-Control": "no-cache",
        }
        if not_modified(request, etag, seen):
            return web.Response(status=304, headers=headers)
        key = (etag, request.host, request.path_qs)
        response = request.app[PAGE_CACHE].get(key)
        if response is None:
            response = await handler(request, await boards.board(version))
            if response.status == 200:
                request.app[PAGE_CACHE].put(key, response)
        response.headers.update(headers)
        return response

    return serve


def error_response(request: web.Request, status: int, message: str) -> web.Response:
    """A one-line message in the form the address asked for."""
    message = " ".join(message.split())
    path = request.path
    if path.startswith("/api/"):
        return web.json_response({"error": message, "status": status}, status=status)
    if path.startswith("/badge/") and status == 404:
        return api.unknown_badge()
    if path.startswith("/static/") or path in (links.CSV, links.FEED, links.REPORT):
        return web.Response(text=message + "\n", status=status, content_type="text/plain")
    return pages.error_page(request, status, message)


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """A page's errors as answers: unknown things are a 404, a bad query parameter a
    400, an unreadable database a 503; and the security headers on every answer."""
    if request.path == "/webhook":  # the intake answers for itself, as fast as it can
        return await handler(request)
    try:
        response = await handler(request)
    except PageNotFound as exc:
        response = error_response(request, 404, str(exc))
    except BadQuery as exc:
        response = error_response(request, 400, str(exc))
    except web.HTTPNotFound:
        response = error_response(request, 404, f"there is no page at {request.path}")
    except web.HTTPException:
        raise
    except (SQLAlchemyError, StorageError):
        log.exception("page %s: cannot read the database", request.path)
        response = error_response(request, 503, UNAVAILABLE)
    except Exception:  # a bug: logged, and answered without a traceback
        log.exception("page %s failed", request.path)
        response = error_response(request, 500, BROKEN)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def stylesheet() -> tuple[bytes, str]:
    body = (bundled_path("templates") / "site" / "static" / "site.css").read_bytes()
    return body, hashlib.sha256(body).hexdigest()[:16]


def static_css(body: bytes, digest: str) -> Handler:
    async def serve(request: web.Request) -> web.StreamResponse:
        headers = {"ETag": f'"{digest}"', "Cache-Control": "public, max-age=86400"}
        if not_modified(request, headers["ETag"], None):
            return web.Response(status=304, headers=headers)
        return web.Response(body=body, content_type="text/css", charset="utf-8", headers=headers)

    return serve


def add_pages(app: web.Application, settings: Settings, database: web.AppKey[Engine]) -> None:
    """The pages' routes, middleware and resources; call it after the resource context
    that opens ``database``, so that the pages' reader opens after it."""
    app.middlewares.append(pages_middleware)
    css, digest = stylesheet()
    app[pages.TEMPLATES] = pages.environment(f"{links.STYLESHEET}?v={digest}")
    app[PAGE_CACHE] = PageCache()
    get = app.router.add_get
    get(links.STYLESHEET, static_css(css, digest))
    for prefix, module in (("", pages), ("/api", api)):
        get(f"{prefix}/" if prefix == "" else f"{prefix}/leaderboard", cached(module.board))
        get(prefix + "/rules/{name}", cached(module.rule))
        get(prefix + r"/rules/{name}/v{version:\d+}", cached(module.rule))
        get(prefix + r"/prs/{owner}/{repo}/{number:\d+}", cached(module.pull_request, "evidence"))
        get(prefix + "/audit", cached(module.audit))
    get(links.CSV, cached(api.ledger_csv))
    get(links.FEED, cached(api.feed))
    get(links.REPORT, cached(api.report))
    get("/badge/{name}.svg", cached(api.badge))
    get(r"/badge/{name}/v{version:\d+}.svg", cached(api.badge))

    async def boards(app: web.Application) -> AsyncIterator[None]:
        opened = app[database]
        engine = reader(opened)
        app[BOARDS] = Boards(engine, settings)
        try:
            yield
        finally:
            if engine is not opened:
                engine.dispose()

    app.cleanup_ctx.append(boards)
