"""Who may approve what: repository permissions and code owners, read through the cache."""

from __future__ import annotations

import asyncio
import base64
import logging
from collections.abc import Mapping
from typing import Any, cast

from gidgethub import BadRequest, RateLimitExceeded
from gidgethub.abc import GitHubAPI

from shadowbot.github.codeowners import LOCATIONS, CodeOwners
from shadowbot.live.api import PAGE, list_all
from shadowbot.live.cache import LiveCache
from shadowbot.snapshot import (
    FileChange,
    Permission,
)

log = logging.getLogger(__name__)

_RANK: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")


async def read_permissions(
    gh: GitHubAPI,
    repo: str,
    logins: Mapping[str, str],
    cache: LiveCache,
    mergers: frozenset[str],
    limit: asyncio.Semaphore,
) -> dict[str, Permission]:
    """Each login's permission (keyed lowered); configured mergers get at least write."""
    found = await asyncio.gather(
        *(_permission(gh, repo, login, cache, limit) for login in logins.values())
    )
    listed = {login.lower() for login in mergers}
    return {
        key: max(permission, "write", key=_RANK.index) if key in listed else permission
        for key, permission in zip(logins, found, strict=True)
    }


async def permission_of(gh: GitHubAPI, repo: str, login: str, cache: LiveCache) -> Permission:
    """One user's permission on the repository, through the cache (for commands)."""
    return await _permission(gh, repo, login, cache, asyncio.Semaphore(1))


async def _permission(
    gh: GitHubAPI, repo: str, login: str, cache: LiveCache, limit: asyncio.Semaphore
) -> Permission:
    key = (repo.lower(), login.lower())
    known = cache.permissions.get(key)
    if known is None:
        async with limit:
            known = await _read_permission(gh, repo, login)
        cache.permissions.put(key, known)
    return known


async def _read_permission(gh: GitHubAPI, repo: str, login: str) -> Permission:
    """``role_name`` keeps maintain and triage, which the legacy ``permission`` folds into
    write and read; a custom role's name is unknown here, so its base (legacy) is used.
    https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
    """
    url = f"/repos/{repo}/collaborators/{{login}}/permission"
    try:
        data = await gh.getitem(url, {"login": login})
    except BadRequest as error:
        if error.status_code != 404:  # not a user GitHub knows: no permission
            raise
        return "none"
    for value in (data.get("role_name"), data.get("permission")):
        if value in _RANK:
            return cast(Permission, value)
    return "none"


# -- CODEOWNERS at the base ------------------------------------------------------------


async def read_codeowners(
    gh: GitHubAPI, repo: str, ref: str, cache: LiveCache
) -> CodeOwners | None:
    item = await _find_codeowners(gh, repo, ref, cache)
    if item is None:
        return None
    return cache.codeowners(repo, item["sha"], lambda: _decode(item))


async def _find_codeowners(
    gh: GitHubAPI, repo: str, ref: str, cache: LiveCache
) -> Mapping[str, Any] | None:
    """The first CODEOWNERS file in GitHub's order, from the contents API at ``ref``."""
    for path in LOCATIONS:
        key = (repo.lower(), ref, path)
        if cache.absent.get(key):
            continue
        try:
            item: Mapping[str, Any] = await gh.getitem(
                f"/repos/{repo}/contents/{path}{{?ref}}", {"ref": ref}
            )
        except BadRequest as error:
            if error.status_code != 404:
                raise
            cache.absent.put(key, True)
            continue
        return item
    return None


def _decode(item: Mapping[str, Any]) -> str:
    """Files over 1 MB come without content (GitHub ignores a CODEOWNERS over 3 MB):
    https://docs.github.com/en/rest/repos/contents#get-repository-content"""
    if item.get("encoding") != "base64":
        log.warning("CODEOWNERS at %s is too large to read; no owners", item.get("path"))
        return ""
    return base64.b64decode(item.get("content") or "").decode("utf-8", errors="replace")


async def owners_by_file(
    gh: GitHubAPI,
    codeowners: CodeOwners | None,
    files: tuple[FileChange, ...],
    cache: LiveCache,
    limit: asyncio.Semaphore,
    logins: Mapping[str, str],
) -> dict[str, tuple[str, ...]]:
    """The owners of each changed file; a team is followed by its members when they can be
    read, so that an approval by a member is an approval by an owner."""
    if codeowners is None:
        return {}
    owners = {path: codeowners.owners_of(path) for change in files for path in change.paths}
    teams = sorted({owner for found in owners.values() for owner in found if "/" in owner})
    members: dict[str, tuple[str, ...]] = {}
    if cache.expand_teams and teams:
        read = await asyncio.gather(*(_members(gh, team, cache, limit) for team in teams))
        members = dict(zip(teams, read, strict=True))
    return {path: _expand(found, members, logins) for path, found in owners.items()}


def _expand(
    owners: tuple[str, ...], members: Mapping[str, tuple[str, ...]], logins: Mapping[str, str]
) -> tuple[str, ...]:
    """Owners in order, each team followed by its members; a user written in another case
    than GitHub shows (``@Alice``) gets the login's case, as GitHub ignores it."""
    found: dict[str, None] = {}
    for owner in owners:
        found[owner if "/" in owner else logins.get(owner.lower(), owner)] = None
        found.update(dict.fromkeys(members.get(owner, ())))
    return tuple(found)


async def _members(
    gh: GitHubAPI, team: str, cache: LiveCache, limit: asyncio.Semaphore
) -> tuple[str, ...]:
    """A team's members; nobody when the app may not read them (organization ``members``
    read permission): https://docs.github.com/en/rest/teams/members#list-team-members"""
    known = cache.teams.get(team.lower())
    if known is not None:
        return known
    org, slug = team.split("/", 1)
    url = f"/orgs/{{org}}/teams/{{slug}}/members?{PAGE}"
    try:
        async with limit:
            users = await list_all(gh, url, org=org, slug=slug)
    except BadRequest as error:
        # 404: a team this installation cannot see; 403: no members permission. A rate
        # limit is a 403 too, and must not pass for an empty team.
        limited = isinstance(error, RateLimitExceeded) or "rate limit" in str(error).lower()
        if error.status_code not in (403, 404) or limited:
            raise
        log.info("cannot read the members of team %s (%s)", team, int(error.status_code))
        users = []
    found = tuple(str(user["login"]) for user in users)
    cache.teams.put(team.lower(), found)
    return found
