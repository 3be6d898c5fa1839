"""Small helpers over gidgethub for reading lists from GitHub, and over its payloads."""

from __future__ import annotations

from typing import Any

from gidgethub.abc import GitHubAPI

#: GitHub's largest page: fewer requests for long lists.
#: https://docs.github.com/en/rest/using-the-rest-api/using-pagination-in-the-rest-api
PAGE = "per_page=100"


async def list_all(gh: GitHubAPI, url: str, key: str = "items", **url_vars: str) -> list[Any]:
    """Every item of a paginated list, following ``Link: rel="next"`` to the last page."""
    return [item async for item in gh.getiter(url, url_vars, iterable_key=key)]


def installation_of(payload: dict[str, Any]) -> int:
    """The id of the app installation a delivery came from (0 if it names none)."""
    return int((payload.get("installation") or {}).get("id") or 0)
