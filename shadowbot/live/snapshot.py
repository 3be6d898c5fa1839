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
import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, cast

from gidgethub.abc import GitHubAPI

from shadowbot.live.api import PAGE, list_all
from shadowbot.live.cache import LiveCache
from shadowbot.live.counting import CountingAPI, RequestTally
from shadowbot.live.owners import owners_by_file, read_codeowners, read_permissions
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

__all__ = ["LiveCache", "RequestTally", "fetch_snapshot"]

#: At most this many permission or team reads in flight per snapshot (GitHub asks
#: integrators not to fire many requests at once: secondary rate limits).
MAX_CONCURRENT = 8
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
        gh = CountingAPI(gh, tally)
    pull = await gh.getitem(f"/repos/{repo}/pulls/{number}")
    files, reviews, ci, codeowners = await asyncio.gather(
        _files(gh, repo, number),
        list_all(gh, f"/repos/{repo}/pulls/{number}/reviews?{PAGE}"),
        _ci(gh, repo, pull["head"]["sha"]),
        read_codeowners(gh, repo, pull["base"]["ref"], cache),
    )
    logins = _logins([pull.get("user"), *(review.get("user") for review in reviews)])
    limit = asyncio.Semaphore(MAX_CONCURRENT)
    permissions, owners = await asyncio.gather(
        read_permissions(gh, repo, logins, cache, mergers, limit),
        owners_by_file(gh, codeowners, files, cache, limit, logins),
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
        files_missing=_files_missing(pull, files),
    )


def _time(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


#: GitHub lists at most this many files of a pull request:
#: https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files
LISTED_FILES_CAP = 3000


def _files_missing(pull: Mapping[str, Any], files: tuple[FileChange, ...]) -> int:
    """How many changed files GitHub left out of the list. Only a full list can be short:
    a shorter one differs from ``changed_files`` only when a push came in between."""
    total = int(pull.get("changed_files") or 0)
    if len(files) < LISTED_FILES_CAP or total <= len(files):
        return 0
    log.warning("only %d of %d changed files listed", len(files), total)
    return total - len(files)


async def _files(gh: GitHubAPI, repo: str, number: int) -> tuple[FileChange, ...]:
    items = await list_all(gh, f"/repos/{repo}/pulls/{number}/files?{PAGE}")
    return tuple(
        FileChange(
            item["filename"],
            item.get("status", "modified"),
            int(item.get("additions") or 0),
            int(item.get("deletions") or 0),
            item.get("previous_filename"),
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


async def _ci(gh: GitHubAPI, repo: str, sha: str) -> tuple[CIResult, ...]:
    """Check runs and commit statuses of ``sha`` only, the latest of each. A run is known
    by its name and app (two apps may report the same name; neither hides the other)."""
    runs, statuses = await asyncio.gather(
        list_all(gh, f"/repos/{repo}/commits/{sha}/check-runs?filter=latest&{PAGE}", "check_runs"),
        list_all(gh, f"/repos/{repo}/commits/{sha}/status?{PAGE}", "statuses"),
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
