"""Counting the HTTP requests a snapshot costs, for the benchmark and the tests."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass

from gidgethub import HTTPException
from gidgethub.abc import GitHubAPI

log = logging.getLogger(__name__)


@dataclass
class RequestTally:
    """The HTTP requests made while building snapshots, retries included."""

    requests: int = 0
    not_modified: int = 0
    errors: int = 0

    def record(self, status: int) -> None:
        self.requests += 1
        self.not_modified += status == 304
        self.errors += status >= 400


class CountingAPI(GitHubAPI):
    """``inner`` with every request counted: its transport, write guard, retry policy and
    ETag cache are the ones used (gidgethub's ``_request`` is its documented I/O seam)."""

    def __init__(self, inner: GitHubAPI, tally: RequestTally) -> None:
        super().__init__(inner.requester, cache=inner._cache, base_url=inner.base_url)
        self.oauth_token, self.app_id, self.private_key = (
            inner.oauth_token,
            inner.app_id,
            inner.private_key,
        )
        self._inner, self._tally = inner, tally

    async def _request(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes = b""
    ) -> tuple[int, Mapping[str, str], bytes]:
        response = await self._inner._request(method, url, headers, body)
        self._tally.record(response[0])
        return response

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)

    async def handle_rate_limit_error(
        self, *, method: str, url: str, exception: HTTPException, attempt: int
    ) -> bool:
        return await self._inner.handle_rate_limit_error(
            method=method, url=url, exception=exception, attempt=attempt
        )
