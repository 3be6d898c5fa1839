"""The simulated REST API: an aiohttp app whose one middleware plays GitHub's front door.

Per request, in order: record it; apply a pending fault; authenticate (an app JWT for
`/app/...`, an installation token elsewhere); refuse it when the installation's rate limit is
spent; run the handler; answer `304` to a matching `If-None-Match`; count it against the rate
limit unless it was a `304` or `GET /rate_limit`, which GitHub does not count:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
`POST /graphql` is recorded, faulted and authenticated the same way, but its points come from
a bucket of their own, which its handler charges (:mod:`routes_graphql`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import uuid
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from shadowbot.simulator import (
    auth,
    pages,
    routes_app,
    routes_commits,
    routes_graphql,
    routes_hooks,
    routes_issues,
    routes_orgs,
    routes_pulls,
)
from shadowbot.simulator.backend import (
    BACKEND,
    INSTALLATION,
    RECORD,
    Backend,
    RequestRecord,
    reply,
)
from shadowbot.simulator.errors import DOCS, SimulatorError
from shadowbot.simulator.faults import SECONDARY_RATE_LIMIT_MESSAGE, Fault
from shadowbot.simulator.protocol import RATE_LIMIT_DOCS, RateWindow, etag_matches, etag_of

# Endpoints that authenticate as the app itself, with a JWT.
_JWT_PATH = re.compile(r"/app(/.*)?|/repos/[^/]+/[^/]+/installation")
_UNCOUNTED = frozenset({"/rate_limit"})
# Paths rate limited by their own handler, not against `core`.
_OWN_BUCKET = frozenset({routes_graphql.PATH})


def create_app(backend: Backend) -> web.Application:
    app = web.Application(middlewares=[github_front_door], client_max_size=25 * 1024**2)
    app[BACKEND] = backend
    modules = (routes_app, routes_hooks, routes_pulls, routes_commits, routes_issues, routes_orgs)
    for module in (*modules, routes_graphql, pages):
        app.router.add_routes(module.routes)
    return app


@web.middleware
async def github_front_door(request: web.Request, handler: Handler) -> web.StreamResponse:
    if (request.match_info.route.name or "").startswith(pages.PAGE_PREFIX):
        try:
            return await handler(request)
        except SimulatorError as error:
            return web.Response(status=error.status, text=error.message)
    backend = request.app[BACKEND]
    record = RequestRecord(request.method, request.path, dict(request.query), await _body(request))
    backend.requests.append(record)
    request[RECORD] = record
    response = await _answer(request, handler, backend, record)
    response.headers["X-GitHub-Request-Id"] = uuid.uuid4().hex[:20].upper()
    record.status = response.status
    return response


async def _answer(
    request: web.Request, handler: Handler, backend: Backend, record: RequestRecord
) -> web.StreamResponse:
    window: RateWindow | None = None
    try:
        fault = backend.faults.take(request.method, request.path)
        if fault is not None:
            early = await _apply(fault, backend)
            if early is not None:
                return early
        window = _authenticate(request, backend, record)
        if request.path in _OWN_BUCKET:
            window = None
        if window is not None and window.remaining == 0:
            return _primary_limit_hit(window, record)
        response = await handler(request)
    except SimulatorError as error:
        response = reply(error.body(), status=error.status)
    except web.HTTPException as error:
        # The router's own 404/405, in GitHub's JSON shape.
        response = reply({"message": error.reason, "documentation_url": DOCS}, status=error.status)
    response = _conditional(request, response)
    if window is not None:
        if response.status != 304 and request.path not in _UNCOUNTED:
            window.used += 1
        response.headers.update(window.headers())
    return response


def _authenticate(
    request: web.Request, backend: Backend, record: RequestRecord
) -> RateWindow | None:
    """Check the credentials; the rate window of the calling installation, if any."""
    token = auth.credential(request.headers.get("Authorization"))
    now = backend.clock()
    if _JWT_PATH.fullmatch(request.path):
        auth.verify_app_jwt(token, backend.public_key, backend.state.app_id, now)
        return None
    installation_id = auth.installation_of_token(backend.state, token, now)
    request[INSTALLATION] = record.installation_id = installation_id
    return backend.rates.window(installation_id, now)


async def _apply(fault: Fault, backend: Backend) -> web.Response | None:
    if fault.kind == "hang":
        # Sleeps, then answers normally; a shutdown cuts the sleep short.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(backend.closing.wait(), fault.delay)
        return None
    if fault.kind == "secondary_rate_limit":
        body = {"message": SECONDARY_RATE_LIMIT_MESSAGE, "documentation_url": RATE_LIMIT_DOCS}
        return reply(body, status=403, headers={"Retry-After": str(fault.retry_after)})
    return reply({"message": "Server Error"}, status=fault.status)


def _primary_limit_hit(window: RateWindow, record: RequestRecord) -> web.Response:
    message = f"API rate limit exceeded for installation ID {record.installation_id}."
    body = {"message": message, "documentation_url": RATE_LIMIT_DOCS.partition("#")[0]}
    return reply(body, status=403, headers=window.headers())


def _conditional(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    """ETag every successful GET; `304 Not Modified`, empty, when the client has it."""
    if request.method != "GET" or response.status != 200 or not isinstance(response, web.Response):
        return response
    body = response.body
    if not isinstance(body, bytes):
        return response
    etag = etag_of(body)
    if etag_matches(request.headers.get("If-None-Match"), etag):
        return web.Response(status=304, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return response


async def _body(request: web.Request) -> Any:
    """The body as JSON if it is JSON, as text otherwise, `None` when empty."""
    if not request.body_exists:
        return None
    raw = await request.read()
    try:
        return json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace")
