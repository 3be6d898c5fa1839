"""App-level endpoints: the app, its installations and their tokens, and `GET /rate_limit`.

https://docs.github.com/en/rest/apps/apps and https://docs.github.com/en/rest/apps/installations
"""

from __future__ import annotations

from datetime import UTC, datetime

from aiohttp import web

from shadowbot.simulator import auth, render
from shadowbot.simulator.backend import (
    INSTALLATION,
    backend_of,
    no_content,
    number_param,
    paged,
    paged_object,
    reply,
)
from shadowbot.simulator.errors import NotFound
from shadowbot.simulator.protocol import RateWindow

routes = web.RouteTableDef()


@routes.get("/app")
async def get_app(request: web.Request) -> web.Response:
    return reply(render.app(backend_of(request).state))


@routes.get("/app/installations")
async def list_installations(request: web.Request) -> web.Response:
    state = backend_of(request).state
    items = list(state.installations.values())
    return paged(request, items, lambda item: render.installation(state, item))


@routes.get("/app/installations/{installation_id}")
async def get_installation(request: web.Request) -> web.Response:
    state = backend_of(request).state
    item = state.installation(number_param(request, "installation_id"))
    return reply(render.installation(state, item))


@routes.get("/repos/{owner}/{repo}/installation")
async def get_repo_installation(request: web.Request) -> web.Response:
    state = backend_of(request).state
    repo = state.repo(f"{request.match_info['owner']}/{request.match_info['repo']}")
    item = state.installation_of(repo)
    if item is None:
        raise NotFound()
    return reply(render.installation(state, item))


@routes.post("/app/installations/{installation_id}/access_tokens")
async def create_access_token(request: web.Request) -> web.Response:
    """201 with `{token, expires_at}`, expiring `token_ttl` seconds ahead (an hour)."""
    backend = backend_of(request)
    installation_id = number_param(request, "installation_id")
    token = auth.issue_token(backend.state, installation_id, backend.token_ttl, now=backend.clock())
    expires = render.iso(_utc(token.expires_at))
    body = {
        "token": token.value,
        "expires_at": expires,
        "permissions": render.APP_PERMISSIONS,
        "repository_selection": "selected",
    }
    return reply(body, status=201)


@routes.get("/installation/repositories")
async def list_installation_repositories(request: web.Request) -> web.Response:
    state = backend_of(request).state
    installation = state.installation(request[INSTALLATION])
    repos = [state.repo(name) for name in installation.repos]
    return paged_object(request, "repositories", repos, lambda repo: render.repository(state, repo))


@routes.delete("/installation/token")
async def revoke_token(request: web.Request) -> web.Response:
    state = backend_of(request).state
    state.tokens.pop(auth.credential(request.headers.get("Authorization")), None)
    return no_content()


@routes.get("/rate_limit")
async def get_rate_limit(request: web.Request) -> web.Response:
    """Does not count against the primary rate limit (the middleware knows). Shows the REST
    (`core`) and GraphQL (`graphql`) buckets, which are counted apart:
    https://docs.github.com/en/rest/rate-limit/rate-limit"""
    backend = backend_of(request)
    now = backend.clock()
    window: RateWindow = backend.rates.window(request[INSTALLATION], now)
    core = window.as_json()
    graphql = backend.graphql_rates.window(request[INSTALLATION], now).as_json()
    return reply({"resources": {"core": core, "graphql": graphql}, "rate": core})


def _utc(epoch: float) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)
