"""Running the history collector's GraphQL queries within GitHub's limits.

Every query asks for ``rateLimit { cost remaining resetAt }``; :class:`QueryRunner` keeps
what the last answer said and, before a query it could not afford (fewer points left than
the last query of its kind cost), sleeps until ``resetAt``. A query GitHub refuses as
``RATE_LIMITED`` is waited out the same way, until the reset the rate-limit headers give.
https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api

A 502 or 504 (GitHub's answer to a query that took too long), an error saying the query timed
out, and a timeout of the request are raised as :class:`Overloaded` for the caller to retry
with a smaller page. Queries are sent one at a time, well within the secondary limit of 100
concurrent requests; the points of the last minute are counted, and a query that would pass
2,000 waits for the oldest to be a minute old.

REST reads (``shadowbot collect --files-per-head``) go through :meth:`QueryRunner.rest`: they
count against GitHub's REST budget (5,000 requests an hour for a token or an installation),
apart from GraphQL's points. The client retries a 5xx on a read and waits out a short rate
limit itself; a longer one, or a spent budget (``x-ratelimit-remaining: 0``), is waited out
here until its reset. One request at a time.
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api

The clock and the sleep are injectable, so tests wait out a reset without waiting.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gidgethub import HTTPException, QueryError, sansio

from shadowbot.errors import ShadowbotError
from shadowbot.github.client import GitHubClient, GitHubUnavailable
from shadowbot.github.pacing import RateLimited

#: GitHub's secondary limit on GraphQL points a minute:
#: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
POINTS_PER_MINUTE = 2000
#: Slack after a reset before the next query: clocks differ a little.
RESET_SLACK = 1.0
#: A spent limit with no reset time known is tried again after this long.
UNKNOWN_RESET_WAIT = 60.0
#: How GitHub says, with a 200 and an error, that a query took too long: a smaller page may do.
TIMEOUT_SIGNS = ("timeout", "timed out", "something went wrong while executing your query")
#: Connection failures (not timeouts) retried this many times, backing off, before giving up.
NETWORK_RETRIES = 5


class QueryFailed(ShadowbotError):
    """GitHub answered a query with errors that waiting or a smaller page will not mend."""


class NotFound(QueryFailed):
    """The repository does not exist, or the credentials cannot see it."""


class Overloaded(ShadowbotError):
    """GitHub gave up on the query (502, 504) or did not answer in time."""


@dataclass
class Spending:
    """What the queries have cost so far, and what GitHub last said is left."""

    points: int = 0
    queries: int = 0
    remaining: int | None = None
    reset_at: float | None = None
    waited: float = 0.0
    #: REST requests (``--files-per-head``), and what GitHub last said is left of them.
    rest_requests: int = 0
    rest_remaining: int | None = None
    rest_reset_at: float | None = None


class QueryRunner:
    def __init__(
        self,
        client: GitHubClient,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        on_wait: Callable[[float, str], None] | None = None,
    ) -> None:
        self.client = client
        self.clock = clock
        self.sleep = sleep
        self.on_wait = on_wait
        self.spending = Spending()
        self._last_cost: dict[str, int] = {}
        #: (when, points) of the queries of the last minute.
        self._recent: deque[tuple[float, int]] = deque()

    async def run(self, kind: str, document: str, variables: dict[str, Any]) -> dict[str, Any]:
        """The ``data`` of ``document``; ``kind`` names the query for its expected cost."""
        failures = 0
        while True:
            await self._afford(self._last_cost.get(kind, 1))
            try:
                data = await self.client.graphql(document, **variables)
            except QueryError as exc:
                await self._query_error(exc)
                continue
            except RateLimited as exc:
                await self._wait_until(exc.until, "GitHub's secondary rate limit")
                continue
            except HTTPException as exc:
                if int(exc.status_code) in (502, 504):
                    raise Overloaded(f"GitHub answered {int(exc.status_code)}") from exc
                raise QueryFailed(f"GitHub answered {int(exc.status_code)}: {exc}") from exc
            except GitHubUnavailable as exc:
                if isinstance(exc.__cause__, TimeoutError):
                    raise Overloaded(str(exc)) from exc
                failures += 1
                await self._back_off(failures, exc)
                continue
            self._account(kind, data.get("rateLimit"))
            return data

    async def rest(self, url: str) -> tuple[Any, str | None]:
        """``GET url`` of GitHub's REST API: its JSON and the next page's URL (the ``Link``
        header's ``next``), None on the last page. A 404 or 422 (no such commit, or it is
        gone) is :class:`NotFound`; another error the client did not mend is
        :class:`QueryFailed`."""
        failures = 0
        while True:
            spending = self.spending
            if spending.rest_remaining == 0 and spending.rest_reset_at is not None:
                await self._wait_until(spending.rest_reset_at, "the REST rate limit is spent")
                spending.rest_remaining = None
            spending.rest_requests += 1
            try:
                # getiter's own step: the page and the Link header's next.
                data, next_url, _ = await self.client._make_request(
                    "GET", url, {}, b"", sansio.accept_format()
                )
            except RateLimited as exc:
                await self._wait_until(exc.until, "GitHub's REST rate limit")
                continue
            except HTTPException as exc:
                status = int(exc.status_code)
                if status in (404, 422):
                    raise NotFound(f"GET {url}: GitHub answered {status}") from exc
                raise QueryFailed(f"GET {url}: GitHub answered {status}") from exc
            except GitHubUnavailable as exc:
                failures += 1
                await self._back_off(failures, exc)
                continue
            limit = self.client.rate_limit
            if limit is not None:
                spending.rest_remaining = int(limit.remaining)
                spending.rest_reset_at = limit.reset_datetime.timestamp()
            return data, next_url

    async def _afford(self, cost: int) -> None:
        await self._within_the_minute(cost)
        spending = self.spending
        if spending.remaining is None or spending.remaining >= cost:
            return
        if spending.reset_at is not None:
            await self._wait_until(spending.reset_at, "the rate limit is spent")
        spending.remaining = None

    async def _query_error(self, exc: QueryError) -> None:
        errors = (exc.response or {}).get("errors") or []
        kinds = {error.get("type") for error in errors if isinstance(error, dict)}
        if "RATE_LIMITED" in kinds:
            limit = self.client.rate_limit
            reset = limit.reset_datetime.timestamp() if limit is not None else None
            if reset is None or reset <= self.clock():
                reset = self.clock() + UNKNOWN_RESET_WAIT
            await self._wait_until(reset, "the rate limit is spent")
            return
        message = "; ".join(
            str(error.get("message")) for error in errors if isinstance(error, dict)
        )
        if "NOT_FOUND" in kinds:
            raise NotFound(message or "not found") from exc
        if any(sign in message.lower() for sign in TIMEOUT_SIGNS):
            raise Overloaded(message) from exc
        raise QueryFailed(message or str(exc)) from exc

    async def _within_the_minute(self, cost: int) -> None:
        """Wait until the points spent in the last minute leave room for ``cost``."""
        recent = self._recent
        while recent and recent[0][0] <= self.clock() - 60.0:
            recent.popleft()
        spent = sum(points for _, points in recent)
        while recent and spent + cost > POINTS_PER_MINUTE:
            at, points = recent.popleft()
            spent -= points
            if spent + cost <= POINTS_PER_MINUTE:
                await self._wait_until(at + 60.0, "GitHub's 2,000 points a minute")

    async def _back_off(self, failures: int, exc: GitHubUnavailable) -> None:
        """After a connection failure: wait 2, 4, 8... seconds, or give up with ``exc`` after
        :data:`NETWORK_RETRIES` of them in a row."""
        if failures > NETWORK_RETRIES:
            raise exc
        await self.sleep(2.0**failures)

    async def _wait_until(self, until: float, why: str) -> None:
        seconds = max(0.0, until - self.clock()) + RESET_SLACK
        if self.on_wait is not None:
            self.on_wait(seconds, why)
        self.spending.waited += seconds
        await self.sleep(seconds)

    def _account(self, kind: str, rate: object) -> None:
        spending = self.spending
        spending.queries += 1
        if not isinstance(rate, dict):
            return
        cost = rate.get("cost")
        if isinstance(cost, int):
            spending.points += cost
            self._recent.append((self.clock(), cost))
            self._last_cost[kind] = max(cost, 1)
        remaining = rate.get("remaining")
        if isinstance(remaining, int):
            spending.remaining = remaining
        reset = rate.get("resetAt")
        if isinstance(reset, str):
            spending.reset_at = datetime.fromisoformat(reset.replace("Z", "+00:00")).timestamp()
