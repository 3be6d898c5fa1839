"""One aiohttp session per process, one gidgethub client per installation.

:class:`GitHubClient` is gidgethub's ``GitHubAPI`` with a thin I/O edge: the write guard
runs before every request (GraphQL included, body and all), retries follow GitHub's
rate-limit guidance, and requests and the remaining rate limit are counted.
:class:`GitHubApp` hands out a client per installation with its token cached until
shortly before it expires, and speaks as the app (a JWT) for its webhook deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import aiohttp
from gidgethub import GraphQLException, HTTPException, QueryError, abc, apps

from shadowbot.errors import ShadowbotError
from shadowbot.github.guard import READ_METHODS, check_request
from shadowbot.metrics import Metrics

log = logging.getLogger(__name__)

#: Renew an installation token this long before GitHub says it expires.
TOKEN_MARGIN = 300.0
MAX_RETRIES = 4
MAX_WAIT = 120.0
#: GitHub's largest page of webhook deliveries.
DELIVERIES_PAGE = 100


class BoundedCache(OrderedDict[str, Any]):
    """gidgethub's ETag cache, keeping the ``size`` most recently used URLs."""

    def __init__(self, size: int = 4096) -> None:
        super().__init__()
        self.size = size

    def __getitem__(self, key: str) -> Any:
        value = super().__getitem__(key)
        self.move_to_end(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        super().__setitem__(key, value)
        self.move_to_end(key)
        if len(self) > self.size:
            self.popitem(last=False)


class GitHubUnavailable(ShadowbotError):
    """GitHub could not be reached, or timed out."""


class GitHubClient(abc.GitHubAPI):
    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        metrics: Metrics,
        oauth_token: str | None = None,
        cache: MutableMapping[str, Any] | None = None,
        timeout: float = 30.0,
        renew_token: Callable[[], Awaitable[str]] | None = None,
    ) -> None:
        super().__init__("shadowbot", oauth_token=oauth_token, cache=cache, base_url=base_url)
        self._renew_token = renew_token
        self._session = session
        self._metrics = metrics
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        check_request(method, url, self.base_url, body)  # before anything is sent
        status, response_headers, content = await self._send(method, url, headers, body)
        if status == 401 and self._renew_token is not None and self.oauth_token:
            # An installation token can be revoked or expire before its stated time; one
            # new token and one more try, then the 401 is the caller's to see.
            self.oauth_token = await self._renew_token()
            headers = {**headers, "authorization": f"token {self.oauth_token}"}
            status, response_headers, content = await self._send(method, url, headers, body)
        return status, response_headers, content

    async def _send(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, Mapping[str, str], bytes]:
        try:
            async with self._session.request(
                method, url, headers=headers, data=body, timeout=self._timeout
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._metrics.inc("shadowbot_github_errors_total", kind=type(exc).__name__)
            raise GitHubUnavailable(f"{method} {url}: {type(exc).__name__} {exc}") from exc
        self._metrics.inc(
            "shadowbot_github_requests_total", method=method, status=str(response.status)
        )
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            # REST ("core") and GraphQL ("graphql") budgets are separate, and so are the
            # series: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
            resource = response.headers.get("x-ratelimit-resource", "core")
            self._metrics.set(
                "shadowbot_github_rate_limit_remaining", float(remaining), resource=resource
            )
        return response.status, response.headers, content

    async def graphql(
        self, query: str, *, endpoint: str = "/graphql", **variables: Any
    ) -> dict[str, Any]:
        """Run a GraphQL query against this client's API and return its ``data``.

        gidgethub's own ``graphql`` posts to github.com whatever the base URL, and skips
        the retries; this one goes through :meth:`post`, so the guard reads the document
        (queries only) and a rate limit is waited out as for REST. Raises
        :class:`~gidgethub.QueryError` when GitHub answers with ``errors``.
        https://docs.github.com/en/graphql/guides/forming-calls-with-graphql
        """
        payload: dict[str, Any] = {"query": query}
        if variables:
            payload["variables"] = variables
        response = await self.post(endpoint, data=payload, accept="application/json")
        if not isinstance(response, dict):
            raise GraphQLException(f"GraphQL answered with no JSON object: {response!r}", {})
        if response.get("errors"):
            raise QueryError(response)
        data = response.get("data")
        if not isinstance(data, dict):
            raise GraphQLException(f"GraphQL answered without data: {response}", response)
        return data

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        message = " ".join(str(arg) for arg in exception.args[1:])
        wait = retry_delay(method, exception.status_code, exception.headers, attempt, message)
        if wait is None:
            return False
        log.warning(
            "GitHub answered %s; retrying in %.0f s",
            int(exception.status_code),
            wait,
            extra={"method": method, "url": url, "attempt": attempt},
        )
        self._metrics.inc("shadowbot_github_retries_total", status=str(int(exception.status_code)))
        await self.sleep(wait)
        return True


def retry_delay(
    method: str,
    status: int,
    headers: Mapping[str, str],
    attempt: int,
    message: str = "",
    now: float | None = None,
) -> float | None:
    """Seconds to wait before retrying, or ``None`` not to retry.

    Rate limits: honour ``retry-after``; at ``x-ratelimit-remaining: 0`` wait for
    ``x-ratelimit-reset``; otherwise wait at least a minute, more on each attempt.
    https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
    Server errors are retried for reads only, with a short backoff: a write that may have
    landed is not repeated (a duplicate comment is worse than a late one).
    """
    if attempt > MAX_RETRIES:
        return None
    status = int(status)
    if status in (403, 429):
        retry_after = headers.get("retry-after", "")
        if retry_after.isdigit():
            return _within_budget(float(retry_after))
        if headers.get("x-ratelimit-remaining") == "0":
            reset = headers.get("x-ratelimit-reset", "")
            if reset.isdigit():
                clock = time.time() if now is None else now
                return _within_budget(max(float(reset) - clock, 1.0))
        if status == 429 or "rate limit" in message.lower():
            return min(60.0 * 2.0 ** (attempt - 1), MAX_WAIT)
        return None
    if status >= 500 and method.upper() in READ_METHODS:
        return 2.0 ** (attempt - 1)
    return None


@dataclass(frozen=True)
class HookDelivery:
    """One attempt to deliver a webhook of the app, as GitHub lists it.
    https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook"""

    id: int
    guid: str  # the X-GitHub-Delivery header; shared by a delivery and its redeliveries
    delivered_at: datetime
    redelivery: bool
    status: str  # GitHub's summary, e.g. "OK" or "Invalid HTTP Response: 503"
    status_code: int  # the bot's answer
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None

    @classmethod
    def from_json(cls, item: Mapping[str, Any]) -> HookDelivery:
        return cls(
            id=int(item["id"]),
            guid=str(item["guid"]),
            delivered_at=datetime.fromisoformat(item["delivered_at"]),
            redelivery=bool(item.get("redelivery")),
            status=str(item.get("status") or ""),
            status_code=int(item.get("status_code") or 0),
            event=str(item["event"]),
            action=item.get("action"),
            installation_id=item.get("installation_id"),
            repository_id=item.get("repository_id"),
        )


def _within_budget(wait: float) -> float | None:
    """``wait`` if the bot can afford it; else give up rather than retry early, which
    GitHub warns can get an integration banned."""
    return wait if wait <= MAX_WAIT else None


class GitHubApp:
    """The app's identity: a client per installation over one shared session."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        *,
        base_url: str,
        app_id: int,
        private_key: str,
        metrics: Metrics,
    ) -> None:
        self._session = session
        self._base_url = base_url
        self._app_id = str(app_id)
        self._private_key = private_key
        self._metrics = metrics
        self._tokens: dict[int, tuple[str, float]] = {}
        self._caches: dict[int, BoundedCache] = {}
        self._token_locks: dict[int, asyncio.Lock] = {}
        #: Writes are serialized per installation (GitHub's secondary-limit guidance).
        self._write_locks: dict[int, asyncio.Lock] = {}

    def client(
        self,
        token: str | None = None,
        installation_id: int = 0,
        renew_token: Callable[[], Awaitable[str]] | None = None,
    ) -> GitHubClient:
        cache = self._caches.get(installation_id)
        if cache is None:
            cache = self._caches[installation_id] = BoundedCache()
        return GitHubClient(
            self._session,
            base_url=self._base_url,
            metrics=self._metrics,
            oauth_token=token,
            cache=cache,
            renew_token=renew_token,
        )

    async def installation(self, installation_id: int) -> GitHubClient:
        """A client authenticated as the installation, its token reused while valid."""

        async def renew() -> str:
            self.forget_token(installation_id)
            return await self._token(installation_id)

        return self.client(await self._token(installation_id), installation_id, renew)

    async def _token(self, installation_id: int) -> str:
        lock = self._token_locks.setdefault(installation_id, asyncio.Lock())
        async with lock:
            cached = self._tokens.get(installation_id)
            if cached is None or cached[1] - TOKEN_MARGIN <= time.time():
                cached = await self._new_token(installation_id)
                self._tokens[installation_id] = cached
        return cached[0]

    async def slug(self) -> str:
        """The app's slug: its comments are authored by ``<slug>[bot]``."""
        app = await self.client().getitem("/app", jwt=self._jwt())
        return str(app["slug"])

    async def graphql(
        self, installation_id: int, query: str, variables: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        """Run a GraphQL query as the installation; its ``data``. Only queries are sent:
        the guard refuses a mutation before sending."""
        variables = dict(variables or {})
        reserved = sorted(variables.keys() & {"query", "endpoint"})
        if reserved:
            raise ValueError(f"GraphQL variables may not be named {reserved}")
        gh = await self.installation(installation_id)
        return await gh.graphql(query, **variables)

    async def list_hook_deliveries(
        self, *, since: datetime | None = None, limit: int = 1000
    ) -> list[HookDelivery]:
        """The app's webhook deliveries, newest first: those delivered at ``since`` (an
        aware datetime) or later, ``limit`` at most. Pages follow the ``Link`` header's
        cursor; GitHub lists the newest first, so the first older one ends the walk.
        https://docs.github.com/en/rest/apps/webhooks#list-deliveries-for-an-app-webhook"""
        found: list[HookDelivery] = []
        if limit < 1:
            return found
        url = f"/app/hook/deliveries?per_page={DELIVERIES_PAGE}"
        async with contextlib.aclosing(self.client().getiter(url, jwt=self._jwt())) as items:
            async for item in items:
                delivery = HookDelivery.from_json(item)
                if since is not None and delivery.delivered_at < since:
                    break
                found.append(delivery)
                if len(found) >= limit:
                    break
        return found

    async def redeliver(self, delivery_id: int) -> None:
        """Ask GitHub to send a delivery again (it answers 202 and sends it later).
        https://docs.github.com/en/rest/apps/webhooks#redeliver-a-delivery-for-an-app-webhook"""
        url = f"/app/hook/deliveries/{int(delivery_id)}/attempts"
        await self.client().post(url, data=b"", jwt=self._jwt())

    def _jwt(self) -> str:
        """A JWT for the endpoints that authenticate as the app itself."""
        return apps.get_jwt(app_id=self._app_id, private_key=self._private_key)

    def forget_token(self, installation_id: int) -> None:
        """Drop a token GitHub refused (e.g. revoked early), so the next call gets another."""
        self._tokens.pop(installation_id, None)

    def write_lock(self, installation_id: int) -> asyncio.Lock:
        return self._write_locks.setdefault(installation_id, asyncio.Lock())

    async def _new_token(self, installation_id: int) -> tuple[str, float]:
        response = await apps.get_installation_access_token(
            self.client(),
            installation_id=str(installation_id),
            app_id=self._app_id,
            private_key=self._private_key,
        )
        expires = datetime.fromisoformat(response["expires_at"]).timestamp()
        self._metrics.inc("shadowbot_github_tokens_total")
        return str(response["token"]), expires
