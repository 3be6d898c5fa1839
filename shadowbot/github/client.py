"""One aiohttp session per process, one gidgethub client per installation.

:class:`GitHubClient` is gidgethub's ``GitHubAPI`` with a thin I/O edge: the write guard
runs before every request (GraphQL included, body and all), retries follow GitHub's
rate-limit guidance, and requests and the remaining rate limit are counted.

No redirect is followed: aiohttp would re-send the request, body and token, to wherever
``Location`` points, past the guard. A 3xx answer (but 304, the ETag cache's "unchanged")
is logged and raised as :class:`RedirectRefused`. An edit of a comment is sent only once
GitHub has said the bot wrote that comment (see :mod:`shadowbot.github.guard` for why
GitHub's word and not the database's): the client reads the comment first, unless it
created the comment itself or checked it before.
:class:`GitHubApp` hands out a client per installation with its token cached until
shortly before it expires, and speaks as the app (a JWT) for its webhook deliveries.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NoReturn
from urllib.parse import urlsplit

import aiohttp
from gidgethub import GraphQLException, HTTPException, QueryError, abc, apps

from shadowbot.errors import ShadowbotError
from shadowbot.github.guard import (
    READ_METHODS,
    WriteRefused,
    check_author,
    check_request,
    created_comment,
    edited_comment,
)
from shadowbot.github.pacing import IN_PLACE, Pacer, RateLimited
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


class RedirectRefused(ShadowbotError):
    """GitHub answered with a redirect; it was not followed."""


Response = tuple[int, Mapping[str, str], bytes]
#: The headers that describe a request's body, dropped from the read before an edit.
_BODY_HEADERS = frozenset({"content-type", "content-length"})


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
        bot_login: Callable[[], Awaitable[str]] | None = None,
        own_comments: MutableMapping[str, Any] | None = None,
        pacer: Pacer | None = None,
    ) -> None:
        super().__init__("shadowbot", oauth_token=oauth_token, cache=cache, base_url=base_url)
        self._pacer = pacer
        self._renew_token = renew_token
        self._bot_login = bot_login
        #: The ids (as text) of comments known to be the bot's: an author never changes.
        self._own_comments = BoundedCache() if own_comments is None else own_comments
        self._session = session
        self._metrics = metrics
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Response:
        check_request(method, url, self.base_url, body)  # before anything is sent
        comment_id = edited_comment(method, url, self.base_url)
        if comment_id is not None and str(comment_id) not in self._own_comments:
            refusal = await self._check_own_comment(method, url, headers)
            if refusal is not None:
                return refusal  # GitHub's answer to the read: e.g. 404, the comment is gone
            self._own_comments[str(comment_id)] = True
        response = await self._send_renewing(method, url, headers, body)
        if response[0] == 201 and created_comment(method, url, self.base_url):
            self._remember_created(response[2])
        return response

    async def _check_own_comment(
        self, method: str, url: str, headers: Mapping[str, str]
    ) -> Response | None:
        """Read the comment ``method url`` edits: raise :class:`WriteRefused` unless the
        bot wrote it. GitHub's answer if it is no comment to check (404, a rate limit),
        for the caller to see as the edit's answer; None once the author is checked."""
        if self._bot_login is None:
            raise WriteRefused(f"refused {method} {url}: the bot's login is not known here")
        bot_login = await self._bot_login()
        read_headers = {k: v for k, v in headers.items() if k.lower() not in _BODY_HEADERS}
        status, response_headers, content = await self._send_renewing("GET", url, read_headers)
        if status != 200:
            return status, response_headers, content
        try:
            comment = json.loads(content)
        except ValueError:
            comment = None
        try:
            check_author(method, url, comment, bot_login)
        except WriteRefused:
            log.warning("refused to edit a comment the bot did not write", exc_info=True)
            self._metrics.inc("shadowbot_github_refused_total", reason="author")
            raise
        return None

    def _remember_created(self, content: bytes) -> None:
        """Remember the comment the bot just created as its own: no read before its edit."""
        try:
            created = json.loads(content)
        except ValueError:
            return
        if isinstance(created, dict) and isinstance(created.get("id"), int):
            self._own_comments[str(created["id"])] = True

    async def _send_renewing(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> Response:
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
    ) -> Response:
        try:
            # allow_redirects=False: aiohttp follows redirects by default, re-sending the
            # body and the token to another path (or host) that the guard never saw.
            async with self._session.request(
                method,
                url,
                headers=headers,
                data=body,
                timeout=self._timeout,
                allow_redirects=False,
            ) as response:
                content = await response.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            self._metrics.inc("shadowbot_github_errors_total", kind=type(exc).__name__)
            raise GitHubUnavailable(f"{method} {url}: {type(exc).__name__} {exc}") from exc
        self._metrics.inc(
            "shadowbot_github_requests_total", method=method, status=str(response.status)
        )
        if 300 <= response.status < 400 and response.status != 304:
            self._refuse_redirect(method, url, response.status, response.headers)
        remaining = response.headers.get("x-ratelimit-remaining")
        if remaining is not None and remaining.isdigit():
            # REST ("core") and GraphQL ("graphql") budgets are separate, and so are the
            # series: https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
            resource = response.headers.get("x-ratelimit-resource", "core")
            self._metrics.set(
                "shadowbot_github_rate_limit_remaining", float(remaining), resource=resource
            )
        return response.status, response.headers, content

    def _refuse_redirect(
        self, method: str, url: str, status: int, headers: Mapping[str, str]
    ) -> NoReturn:
        location = " ".join(headers.get("location", "(no Location)").split())[:500]
        message = f"GitHub answered {method} {url} with {status}, a redirect to {location}"
        log.warning("%s; not followed", message, extra={"method": method, "url": url})
        self._metrics.inc("shadowbot_github_errors_total", kind="redirect")
        raise RedirectRefused(f"{message}: redirects are not followed")

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

    async def manage_rate_limit(self, *, method: str, url: str) -> None:
        """Before each request: hold it while GitHub has said to wait, and pace writes
        within the content-creation limits (:mod:`shadowbot.github.pacing`)."""
        if self._pacer is None:
            return
        write = counts_as_write(method, url, self.base_url)
        wait = self._pacer.wait_before(write)
        if wait > IN_PLACE:
            if write:
                self._pacer.forget_last_write()
            why = self._pacer.blocked_because or "the content-creation limits"
            raise RateLimited(self._pacer.clock() + wait, f"{method} {url} held back: {why}")
        if wait > 0:
            await self.sleep(wait)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        message = " ".join(str(arg) for arg in exception.args[1:])
        until = limit_lifts_at(exception.status_code, exception.headers, message, attempt)
        if until is not None:
            secondary = exception.headers.get("x-ratelimit-remaining") != "0"
            reason = f"GitHub answered {int(exception.status_code)}: {message or 'rate limited'}"
            if self._pacer is not None:
                self._pacer.block(until, reason, secondary)
            if until - time.time() > IN_PLACE or attempt > MAX_RETRIES:
                self._metrics.inc("shadowbot_github_rate_limited_total", kind=_kind(secondary))
                raise RateLimited(until, f"{method} {url}: {reason}", secondary) from exception
        wait = retry_delay(method, exception.status_code, exception.headers, attempt, message)
        if wait is None:
            return False
        if until is None:  # a server error: jitter, so replicas do not retry in step
            wait *= 1 + random.random() / 2
        log.warning(
            "GitHub answered %s; retrying in %.0f s",
            int(exception.status_code),
            wait,
            extra={"method": method, "url": url, "attempt": attempt},
        )
        self._metrics.inc("shadowbot_github_retries_total", status=str(int(exception.status_code)))
        await self.sleep(wait)
        return True


def limit_lifts_at(
    status: int, headers: Mapping[str, str], message: str, attempt: int, now: float | None = None
) -> float | None:
    """When a rate limit GitHub answered with lifts (a Unix time), or None when the answer
    is no rate limit: ``retry-after``, else the primary limit's ``x-ratelimit-reset``,
    else (a secondary limit without either) a minute, doubling on each attempt."""
    status = int(status)
    if status not in (403, 429):
        return None
    clock = time.time() if now is None else now
    retry_after = headers.get("retry-after", "")
    if retry_after.isdigit():
        return clock + float(retry_after)
    if headers.get("x-ratelimit-remaining") == "0":
        reset = headers.get("x-ratelimit-reset", "")
        if reset.isdigit():
            return max(float(reset), clock + 1.0)
    if status == 429 or "rate limit" in message.lower():
        return clock + 60.0 * 2.0 ** (max(attempt, 1) - 1)
    return None


def _kind(secondary: bool) -> str:
    return "secondary" if secondary else "primary"


def counts_as_write(method: str, url: str, base_url: str) -> bool:
    """Whether a request creates content as GitHub's secondary limits count it: a write
    other than a GraphQL read or a token exchange."""
    if method.upper() in READ_METHODS:
        return False
    path = urlsplit(url).path if "://" in url else url
    base = urlsplit(base_url).path.rstrip("/")
    path = path[len(base) :] if base and path.startswith(base) else path
    return not (path.endswith("/graphql") or path.endswith("/access_tokens"))


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
        self._slug: str | None = None
        #: Comments known to be the bot's, shared by its clients (see GitHubClient).
        self._own_comments = BoundedCache()
        self._token_locks: dict[int, asyncio.Lock] = {}
        #: Writes are serialized per installation (GitHub's secondary-limit guidance).
        self._write_locks: dict[int, asyncio.Lock] = {}
        #: Every client's requests held back while GitHub says to wait, writes paced.
        self.pacer = Pacer()

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
            bot_login=self.bot_login,
            own_comments=self._own_comments,
            pacer=self.pacer,
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
        """The app's slug: its comments are authored by ``<slug>[bot]``. Asked of GitHub
        once; it never changes while the app is installed."""
        if self._slug is None:
            app = await self.client().getitem("/app", jwt=self._jwt())
            self._slug = str(app["slug"])
        return self._slug

    async def bot_login(self) -> str:
        """The login the app's comments are written by."""
        return f"{await self.slug()}[bot]"

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
        """An installation token. A 401 on the exchange is tried once more with a new
        JWT (one signed a moment before GitHub's clock moved on may be refused)."""
        for attempt in (1, 2):
            try:
                response = await apps.get_installation_access_token(
                    self.client(),
                    installation_id=str(installation_id),
                    app_id=self._app_id,
                    private_key=self._private_key,
                )
                break
            except HTTPException as exc:
                if exc.status_code != 401 or attempt == 2:
                    raise
                log.warning("GitHub refused the app's JWT; trying once more with a new one")
        expires = datetime.fromisoformat(response["expires_at"]).timestamp()
        self._metrics.inc("shadowbot_github_tokens_total")
        return str(response["token"]), expires
