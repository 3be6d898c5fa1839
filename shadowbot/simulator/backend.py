"""What the API handlers share: the backend object, the request log, and JSON replies."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from shadowbot.simulator.errors import NotFound, SimulatorError
from shadowbot.simulator.faults import Faults
from shadowbot.simulator.models import PullRequest, Repo
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.protocol import RateLimits, paginate
from shadowbot.simulator.render import Json
from shadowbot.simulator.state import State
from shadowbot.simulator.webhooks import WebhookSender

T = TypeVar("T")
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
GRAPHQL_PATH = "/graphql"


@dataclass
class RequestRecord:
    """One request the simulator received, as a test reads it back."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    installation_id: int | None = None
    status: int | None = None
    at: float = field(default_factory=time.time)
    # For `POST /graphql`: "query", or "mutation" when the document holds one; None when it
    # did not parse.
    graphql_operation: str | None = None

    @property
    def is_write(self) -> bool:
        """A GraphQL request is a POST, but only a mutation is (an attempt at) a write."""
        if self.path == GRAPHQL_PATH:
            return self.graphql_operation == "mutation"
        return self.method not in READ_METHODS


@dataclass
class Backend:
    state: State
    faults: Faults
    rates: RateLimits
    public_key: rsa.RSAPublicKey
    # Sends the events an API write caused, in the background, as GitHub does.
    emit: Callable[[list[Event]], None]
    token_ttl: float = 3600.0
    # GraphQL's primary rate limit is a bucket of points apart from REST's requests.
    graphql_rates: RateLimits = field(default_factory=lambda: RateLimits(5000, "graphql"))
    # Every GraphQL point charged, all installations together, for tests and benchmarks.
    graphql_points: int = 0
    # The app's webhook, whose deliveries the app may list and redeliver.
    hooks: WebhookSender | None = None
    requests: list[RequestRecord] = field(default_factory=list)
    # Set when the simulator shuts down, to cut hanging faults short.
    closing: asyncio.Event = field(default_factory=asyncio.Event)
    clock: Callable[[], float] = time.time


BACKEND = web.AppKey("simulator_backend", Backend)
INSTALLATION = web.RequestKey("simulator_installation", int)
RECORD = web.RequestKey("simulator_record", RequestRecord)


def backend_of(request: web.Request) -> Backend:
    return request.app[BACKEND]


def reply(data: Any, *, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=json.dumps(data).encode(),
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def no_content() -> web.Response:
    return web.Response(status=204)


def paged(request: web.Request, items: Sequence[T], shape: Callable[[T], Json]) -> web.Response:
    """A page of a list endpoint, with its `Link` header."""
    chunk, link = paginate(items, request.url)
    return reply([shape(item) for item in chunk], headers={"Link": link} if link else None)


def paged_object(
    request: web.Request, key: str, items: Sequence[T], shape: Callable[[T], Json]
) -> web.Response:
    """A page of an endpoint that wraps its list, e.g. `{"total_count", "check_runs"}`."""
    chunk, link = paginate(items, request.url)
    body = {"total_count": len(items), key: [shape(item) for item in chunk]}
    return reply(body, headers={"Link": link} if link else None)


async def json_body(request: web.Request) -> dict[str, Any]:
    """The request's JSON object; an empty body reads as `{}`."""
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError as error:
        raise SimulatorError("Problems parsing JSON") from error
    if not isinstance(data, dict):
        raise SimulatorError("Problems parsing JSON")
    return data


def number_param(request: web.Request, name: str) -> int:
    try:
        return int(request.match_info[name])
    except ValueError as error:
        raise NotFound() from error


def repo_of(request: web.Request) -> Repo:
    """The repository in the path, if the calling installation can see it (404 otherwise,
    as GitHub answers for repositories a token cannot access)."""
    state = backend_of(request).state
    repo = state.repo(f"{request.match_info['owner']}/{request.match_info['repo']}")
    installation = state.installation_of(repo)
    if installation is None or installation.id != request.get(INSTALLATION):
        raise NotFound()
    return repo


def pull_of(request: web.Request) -> tuple[Repo, PullRequest]:
    repo = repo_of(request)
    return repo, backend_of(request).state.pull(repo, number_param(request, "number"))
