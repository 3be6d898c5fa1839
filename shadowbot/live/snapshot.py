"""A live pull request as a :class:`~shadowbot.snapshot.Snapshot`, read from GitHub's REST API.

One snapshot reads the pull request; then, at once, its files, reviews, check runs and
statuses on the head, and CODEOWNERS at the base; then the permission of the author and of
each reviewer, and the members of teams owning changed files. Lists are read to the end,
100 items a page. Every GET goes through gidgethub's ETag cache, so an unchanged resource
costs a ``304``, which GitHub does not count against the rate limit:
https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
What changes slowly is kept in a :class:`LiveCache` instead of being asked again.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar, cast

from gidgethub import BadRequest, HTTPException, RateLimitExceeded
from gidgethub.abc import GitHubAPI

from shadowbot.live.codeowners import LOCATIONS, CodeOwners, parse_codeowners
from shadowbot.snapshot import (
    Actor,
    CIResult,
    CIState,
    FileChange,
    Permission,
    Review,
    Snapshot,
    UserType,
)

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")
PAGE = "per_page=100"
#: At most this many permission or team reads in flight per snapshot (GitHub asks
#: integrators not to fire many requests at once: secondary rate limits).
MAX_CONCURRENT = 8
_RANK: tuple[Permission, ...] = ("none", "read", "triage", "write", "maintain", "admin")
_REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"})
# https://docs.github.com/en/rest/checks/runs#get-a-check-run (status and conclusion)
_CONCLUSIONS: dict[str, CIState] = {
    "success": "success",
    "failure": "failure",
    "neutral": "neutral",
    "skipped": "skipped",
    "cancelled": "cancelled",
    "timed_out": "failure",
    "action_required": "failure",
    "startup_failure": "failure",
    "stale": "pending",  # GitHub marks a run stale when it was left incomplete too long
}
# https://docs.github.com/en/rest/commits/statuses
_STATUS_STATES: dict[str, CIState] = {
    "success": "success",
    "failure": "failure",
    "error": "error",
    "pending": "pending",
}


class _Expiring(Generic[K, V]):
    """A dict whose entries are forgotten ``ttl`` seconds after they were stored."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl, self.clock = ttl, clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        return found[1] if found is not None and found[0] > self.clock() else None

    def put(self, key: K, value: V) -> None:
        now = self.clock()
        if len(self._items) >= 4096:  # forget what expired before growing further
            self._items = {k: item for k, item in self._items.items() if item[0] > now}
        self._items[key] = (now + self.ttl, value)


class LiveCache:
    """What one process remembers between snapshots.

    - parsed CODEOWNERS per (repository, blob SHA of the file at the base): the file is
      still read each time, conditionally (a ``304`` while unchanged), never parsed twice;
    - which CODEOWNERS locations are absent, for ``ttl`` (a 404 carries no ETag);
    - permissions per (repository, login) and team members per team, for ``ttl`` seconds:
      a permission granted or revoked is seen within that time.
    ``expand_teams`` turns off reading team members (it needs the organization ``members``
    read permission and a request per team).
    """

    def __init__(
        self,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        expand_teams: bool = True,
    ) -> None:
        self.expand_teams = expand_teams
        self.permissions: _Expiring[tuple[str, str], Permission] = _Expiring(ttl, clock)
        self.teams: _Expiring[str, tuple[str, ...]] = _Expiring(ttl, clock)
        self.absent: _Expiring[tuple[str, str, str], bool] = _Expiring(ttl, clock)
        self._codeowners: dict[tuple[str, str], CodeOwners] = {}

    def codeowners(self, repo: str, blob_sha: str, text: Callable[[], str]) -> CodeOwners:
        key = (repo.lower(), blob_sha)
        found = self._codeowners.get(key)
        if found is None:
            if len(self._codeowners) >= 256:
                del self._codeowners[next(iter(self._codeowners))]  # the oldest parse
            found = self._codeowners[key] = parse_codeowners(text())
            for error in found.errors:
                log.warning(
                    "CODEOWNERS line %d skipped: %s",
                    error.line,
                    error.reason,
                    extra={"repo": repo, "blob": blob_sha},
                )
        return found


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


class _Counting(GitHubAPI):
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


async def fetch_snapshot(
    gh: GitHubAPI,
    repo: str,
    number: int,
    cache: LiveCache,
    *,
    mergers: frozenset[str] = frozenset(),
    tally: RequestTally | None = None,
) -> Snapshot:
    """The pull request ``repo#number`` as it is now on GitHub.

    ``mergers`` are logins counted as having at least write permission (the settings'
    configured list); ``tally``, when given, counts this snapshot's requests.
    """
    if tally is not None:
        gh = _Counting(gh, tally)
    pull = await gh.getitem(f"/repos/{repo}/pulls/{number}")
    files, reviews, ci, codeowners = await asyncio.gather(
        _files(gh, repo, number),
        _list(gh, f"/repos/{repo}/pulls/{number}/reviews?{PAGE}"),
        _ci(gh, repo, pull["head"]["sha"]),
        _codeowners(gh, repo, pull["base"]["ref"], cache),
    )
    logins = _logins([pull.get("user"), *(review.get("user") for review in reviews)])
    limit = asyncio.Semaphore(MAX_CONCURRENT)
    permissions, owners = await asyncio.gather(
        _permissions(gh, repo, logins, cache, mergers, limit),
        _owners_by_file(gh, codeowners, files, cache, limit, logins),
    )
    return Snapshot(
        repository=repo,
        number=number,
        author=_actor(pull.get("user"), pull.get("author_association"), permissions),
        title=pull.get("title") or "",
        body=pull.get("body") or "",
        base=pull["base"]["ref"],
        head_sha=pull["head"]["sha"],
        draft=bool(pull.get("draft")),
        labels=frozenset(label["name"] for label in pull.get("labels") or ()),
        files=files,
        reviews=_reviews(reviews, permissions),
        ci=ci,
        code_owners=owners,
        created_at=_time(pull["created_at"]),
        updated_at=_time(pull["updated_at"]),
        state="merged" if pull.get("merged") or pull.get("merged_at") else pull["state"],
        extra=_truncation(pull, files),
    )


async def _list(gh: GitHubAPI, url: str, key: str = "items", **url_vars: str) -> list[Any]:
    """Every item of a paginated list, following ``Link: rel="next"`` to the last page."""
    return [item async for item in gh.getiter(url, url_vars, iterable_key=key)]


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _truncation(pull: Mapping[str, Any], files: tuple[FileChange, ...]) -> dict[str, str]:
    """GitHub lists at most 3000 files of a pull request; say so when some are missing:
    https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files"""
    total = int(pull.get("changed_files") or 0)
    if total > len(files):
        log.warning("only %d of %d changed files listed", len(files), total)
        return {"files_truncated": f"{len(files)} of {total}"}
    return {}


async def _files(gh: GitHubAPI, repo: str, number: int) -> tuple[FileChange, ...]:
    items = await _list(gh, f"/repos/{repo}/pulls/{number}/files?{PAGE}")
    return tuple(
        FileChange(
            item["filename"],
            item.get("status", "modified"),
            int(item.get("additions") or 0),
            int(item.get("deletions") or 0),
        )
        for item in items
    )


# -- people ----------------------------------------------------------------------------


def _logins(users: Iterable[Mapping[str, Any] | None]) -> dict[str, str]:
    """Distinct logins (GitHub compares them without case), sorted: lowered -> as shown."""
    found = {user["login"].lower(): user["login"] for user in users if user}
    return dict(sorted(found.items()))


def _actor(
    user: Mapping[str, Any] | None, association: str | None, permissions: Mapping[str, str]
) -> Actor:
    if not user:  # a deleted account: GitHub shows it as "ghost"
        return Actor("ghost", "User", association or "NONE", "none")
    kind = user.get("type")
    login = str(user["login"])
    return Actor(
        login,
        cast(UserType, kind) if kind in ("User", "Bot", "Organization") else "User",
        association or "NONE",
        cast(Permission, permissions.get(login.lower(), "none")),
    )


def _reviews(items: list[Any], permissions: Mapping[str, str]) -> tuple[Review, ...]:
    """Submitted reviews, oldest first. ``PENDING`` ones are drafts only their author
    sees, with no ``submitted_at``: https://docs.github.com/en/rest/pulls/reviews"""
    found: list[tuple[datetime, int, Review]] = []
    for item in items:
        state = item.get("state")
        if state not in _REVIEW_STATES or not item.get("submitted_at"):
            continue
        author = _actor(item.get("user"), item.get("author_association"), permissions)
        at = _time(item["submitted_at"])
        found.append((at, int(item["id"]), Review(author, state, item.get("commit_id") or "", at)))
    found.sort(key=lambda entry: entry[:2])
    return tuple(review for _, _, review in found)


async def _permissions(
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


# -- checks and statuses on the head -------------------------------------------------


async def _ci(gh: GitHubAPI, repo: str, sha: str) -> tuple[CIResult, ...]:
    """Check runs and commit statuses of ``sha`` only, the latest of each. A run is known
    by its name and app (two apps may report the same name; neither hides the other)."""
    runs, statuses = await asyncio.gather(
        _list(gh, f"/repos/{repo}/commits/{sha}/check-runs?filter=latest&{PAGE}", "check_runs"),
        _list(gh, f"/repos/{repo}/commits/{sha}/status?{PAGE}", "statuses"),
    )
    return tuple(
        CIResult(run["name"], "check_run", _run_state(run), sha)
        for run in _latest(runs, lambda run: (run["name"], (run.get("app") or {}).get("slug")))
    ) + tuple(
        CIResult(status["context"], "status", _STATUS_STATES.get(status["state"], "error"), sha)
        for status in _latest(statuses, lambda status: (status["context"], None))
    )


def _latest(items: list[Any], key: Callable[[Any], tuple[str, Any]]) -> list[Any]:
    """The newest item (highest id) per key, ordered by key."""
    newest: dict[tuple[str, Any], Any] = {}
    for item in sorted(items, key=lambda item: int(item["id"])):
        newest[key(item)] = item
    return [newest[k] for k in sorted(newest, key=lambda k: (k[0], str(k[1])))]


def _run_state(run: Mapping[str, Any]) -> CIState:
    """queued, in_progress, waiting, requested, pending: not finished, so pending."""
    if run.get("status") != "completed":
        return "pending"
    return _CONCLUSIONS.get(run.get("conclusion") or "", "error")


# -- CODEOWNERS at the base ------------------------------------------------------------


async def _codeowners(gh: GitHubAPI, repo: str, ref: str, cache: LiveCache) -> CodeOwners | None:
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


async def _owners_by_file(
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
    owners = {change.path: codeowners.owners_of(change.path) for change in files}
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
            users = await _list(gh, url, org=org, slug=slug)
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
