"""Commit-level endpoints (check runs, statuses, comparing two commits), collaborator
permission, file contents.

https://docs.github.com/en/rest/checks/runs, https://docs.github.com/en/rest/commits/statuses,
https://docs.github.com/en/rest/commits/commits#compare-two-commits,
https://docs.github.com/en/rest/collaborators/collaborators,
https://docs.github.com/en/rest/repos/contents
"""

from __future__ import annotations

import base64
import difflib
import re
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from shadowbot.simulator import activity, render, render_activity
from shadowbot.simulator.backend import (
    backend_of,
    json_body,
    number_param,
    paged,
    paged_object,
    reply,
    repo_of,
)
from shadowbot.simulator.errors import NotFound, ValidationFailed
from shadowbot.simulator.models import CheckRun, Commit, FileChange, FileStatus, Repo, Status
from shadowbot.simulator.protocol import paginate
from shadowbot.simulator.state import State, git_blob_sha

routes = web.RouteTableDef()
REPO = "/repos/{owner}/{repo}"
_SHA = re.compile(r"[0-9a-f]{40}")
# The legacy `permission` field folds maintain into write and triage into read.
_LEGACY = {
    "admin": "admin",
    "maintain": "write",
    "write": "write",
    "triage": "read",
    "read": "read",
}
_RANK = ["read", "triage", "write", "maintain", "admin"]
#: Files a comparison lists at most; commits without `per_page`/`page`.
COMPARE_MAX_FILES = 300
COMPARE_MAX_COMMITS = 250


def _sha_of(repo: Repo, ref: str) -> str:
    # Unlike State.resolve_ref (404, known commits only): 422, and any well-formed SHA passes.
    if ref in repo.branches:
        return repo.branches[ref]
    if _SHA.fullmatch(ref):
        return ref
    raise ValidationFailed(f"No commit found for SHA: {ref}")


@routes.get(REPO + "/commits/{ref}/check-runs")
async def list_check_runs(request: web.Request) -> web.Response:
    """Latest run per name by default (`filter=latest`), newest first."""
    state, repo = backend_of(request).state, repo_of(request)
    sha = _sha_of(repo, request.match_info["ref"])
    runs = sorted((r for r in repo.check_runs if r.head_sha == sha), key=lambda r: -r.id)
    if request.query.get("filter", "latest") == "latest":
        latest: dict[str, CheckRun] = {}
        for run in runs:
            latest.setdefault(run.name, run)
        runs = list(latest.values())
    if "check_name" in request.query:
        runs = [r for r in runs if r.name == request.query["check_name"]]
    if "status" in request.query:
        runs = [r for r in runs if r.status == request.query["status"]]
    shape = render_activity.check_run
    return paged_object(request, "check_runs", runs, lambda r: shape(state, repo, r))


@routes.post(REPO + "/check-runs")
async def create_check_run(request: web.Request) -> web.Response:
    backend, repo, body = backend_of(request), repo_of(request), await json_body(request)
    if not body.get("name") or not body.get("head_sha"):
        raise ValidationFailed(resource="CheckRun", field="name", code="missing_field")
    status = body.get("status", "queued")
    run, events = activity.add_check_run(
        backend.state,
        repo,
        str(body["head_sha"]),
        str(body["name"]),
        status=status,
        conclusion=body.get("conclusion"),
        app=backend.state.app_slug,
    )
    backend.emit(events)
    return reply(render_activity.check_run(backend.state, repo, run), status=201)


@routes.patch(REPO + "/check-runs/{check_run_id}")
async def update_check_run(request: web.Request) -> web.Response:
    backend, repo, body = backend_of(request), repo_of(request), await json_body(request)
    run_id = number_param(request, "check_run_id")
    if body.get("conclusion"):
        backend.emit(activity.complete_check_run(backend.state, repo, run_id, body["conclusion"]))
    run = activity.find_check_run(repo, run_id)
    return reply(render_activity.check_run(backend.state, repo, run))


def _newest_first(repo: Repo, sha: str) -> list[Status]:
    return sorted((s for s in repo.statuses if s.sha == sha), key=lambda s: -s.id)


@routes.get(REPO + "/commits/{ref}/status")
async def combined_status(request: web.Request) -> web.Response:
    """The latest status per context and their combined state: failure if any failed or
    errored, pending if any is pending or there are none, success otherwise."""
    state, repo = backend_of(request).state, repo_of(request)
    sha = _sha_of(repo, request.match_info["ref"])
    latest: dict[str, Status] = {}
    for item in _newest_first(repo, sha):
        latest.setdefault(item.context, item)
    states = {item.state for item in latest.values()}
    combined = (
        "failure"
        if states & {"failure", "error"}
        else "pending"
        if not states or "pending" in states
        else "success"
    )
    body: dict[str, Any] = {
        "state": combined,
        "sha": sha,
        "total_count": len(latest),
        "statuses": [render_activity.status(state, repo, item) for item in latest.values()],
        "repository": render.repository(state, repo),
        "commit_url": f"{state.api_url}/repos/{repo.full_name}/commits/{sha}",
    }
    return reply(body)


@routes.get(REPO + "/commits/{ref}/statuses")
async def list_statuses(request: web.Request) -> web.Response:
    state, repo = backend_of(request).state, repo_of(request)
    sha = _sha_of(repo, request.match_info["ref"])
    shape = render_activity.status
    return paged(request, _newest_first(repo, sha), lambda s: shape(state, repo, s))


@routes.post(REPO + "/statuses/{sha}")
async def create_status(request: web.Request) -> web.Response:
    backend, repo, body = backend_of(request), repo_of(request), await json_body(request)
    if body.get("state") not in ("error", "failure", "pending", "success"):
        raise ValidationFailed(resource="Status", field="state", code="invalid")
    item, events = activity.add_status(
        backend.state,
        repo,
        request.match_info["sha"],
        str(body.get("context") or "default"),
        body["state"],
        backend.state.bot,
        description=str(body.get("description") or ""),
        target_url=body.get("target_url"),
    )
    backend.emit(events)
    return reply(render_activity.status(backend.state, repo, item), status=201)


@routes.get(REPO + "/collaborators/{username}/permission")
async def collaborator_permission(request: web.Request) -> web.Response:
    state, repo = backend_of(request).state, repo_of(request)
    who = state.users.get(request.match_info["username"].lower())
    if who is None:
        raise NotFound()
    # Anyone can read a public repository; collaborators have their role.
    role = state.role_of(repo, who.login) or (None if repo.private else "read")
    rank = _RANK.index(role) if role else -1
    user = render.user(state, who)
    user["permissions"] = {
        "pull": rank >= 0,
        "triage": rank >= 1,
        "push": rank >= 2,
        "maintain": rank >= 3,
        "admin": rank >= 4,
    }
    user["role_name"] = role or "none"
    legacy = _LEGACY[role] if role else "none"
    return reply({"permission": legacy, "role_name": role or "none", "user": user})


@routes.get(REPO + "/contents/{path:.+}")
async def get_contents(request: web.Request) -> web.Response:
    """A file at `ref` (the default branch without one), base64-encoded; 404 if absent."""
    state, repo = backend_of(request).state, repo_of(request)
    path = request.match_info["path"]
    text = state.read_file(repo, path, request.query.get("ref"))
    url = f"{state.api_url}/repos/{repo.full_name}/contents/{path}"
    sha = git_blob_sha(text)
    body = {
        "type": "file",
        "encoding": "base64",
        "size": len(text.encode()),
        "name": path.rsplit("/", 1)[-1],
        "path": path,
        # GitHub wraps the base64 in lines; decoders skip the newlines.
        "content": base64.encodebytes(text.encode()).decode(),
        "sha": sha,
        "url": url,
        "git_url": f"{state.api_url}/repos/{repo.full_name}/git/blobs/{sha}",
        "html_url": f"{state.api_url}/{repo.full_name}/blob/{repo.default_branch}/{path}",
        "download_url": None,
    }
    return reply(body)


@routes.get(REPO + "/compare/{basehead}")
async def compare(request: web.Request) -> web.Response:
    """`BASE...HEAD`: the commits on HEAD since its merge base with BASE, and the files HEAD
    changes since that merge base.

    As GitHub documents it: without `per_page` or `page` the commits are the last 250;
    with them the commits are paged (`Link` header) and the files, at most 300 for the
    whole comparison, come on the first page only. The simulator knows the parents of pull
    requests' commits only, so the merge base is BASE when HEAD's branch passes through it,
    else where HEAD's branch left its base. Compared from where its branch left the base, a head a
    seeded history gave files to lists those, a pull request's head its files now; any
    other comparison lists how the two trees differ."""
    state, repo = backend_of(request).state, repo_of(request)
    base_ref, dots, head_ref = request.match_info["basehead"].partition("...")
    if not dots or not base_ref or not head_ref:
        raise NotFound()
    base, head = state.resolve_ref(repo, base_ref), state.resolve_ref(repo, head_ref)
    known = {c.sha: c for pr in repo.pulls.values() for c in pr.commits}
    merge_base, ahead, behind = _merge_base(known, base, head)
    files = _compared_files(repo, known, merge_base, head)
    paged_request = "per_page" in request.query or "page" in request.query
    link = None
    if paged_request:
        commits, link = paginate(ahead, request.url)
        first = int(request.query.get("page", "1") or 1) <= 1
        shown = files[:COMPARE_MAX_FILES] if first else []
    else:
        commits, shown = ahead[-COMPARE_MAX_COMMITS:], files[:COMPARE_MAX_FILES]
    url = f"{state.api_url}/repos/{repo.full_name}"
    web_url = f"{state.api_url}/{repo.full_name}"
    basehead = request.match_info["basehead"]
    body: dict[str, Any] = {
        "url": f"{url}/compare/{basehead}",
        "html_url": f"{web_url}/compare/{basehead}",
        "permalink_url": f"{web_url}/compare/{base}...{head}",
        "diff_url": f"{web_url}/compare/{basehead}.diff",
        "patch_url": f"{web_url}/compare/{basehead}.patch",
        "base_commit": render.commit(state, repo, _commit_of(state, repo, known, base)),
        "merge_base_commit": render.commit(state, repo, _commit_of(state, repo, known, merge_base)),
        "status": _status(ahead, behind),
        "ahead_by": len(ahead),
        "behind_by": len(behind),
        "total_commits": len(ahead),
        "commits": [render.commit(state, repo, c) for c in commits],
        "files": [render.file_at(state, repo, head, change) for change in shown],
    }
    return reply(body, headers={"Link": link} if link else None)


def _merge_base(
    known: dict[str, Commit], base: str, head: str
) -> tuple[str, list[Commit], list[str]]:
    """The merge base of ``base`` and ``head`` as far as pull requests' commits tell, the
    commits ``head`` is ahead by (oldest first) and the SHAs ``base`` is ahead by."""
    chain = [head]  # head, its parent, ... while they are pull requests' commits
    while chain[-1] != base and chain[-1] in known and known[chain[-1]].parents:
        chain.append(known[chain[-1]].parents[0])
    merge_base = chain[-1]
    ahead = [known[sha] for sha in reversed(chain[:-1])]
    behind = []
    sha = base
    while sha != merge_base and sha in known and known[sha].parents:
        behind.append(sha)
        sha = known[sha].parents[0]
    return merge_base, ahead, behind


def _status(ahead: list[Commit], behind: list[str]) -> str:
    if not behind:
        return "ahead" if ahead else "identical"
    return "diverged" if ahead else "behind"


def _compared_files(
    repo: Repo, known: dict[str, Commit], merge_base: str, head: str
) -> list[FileChange]:
    """From where a branch left its base: the files a seeded history gave the head, else a
    pull request's files now; any other comparison, how the two trees differ."""
    if merge_base not in known:
        if head in repo.commit_files:
            return list(repo.commit_files[head])
        now = next((pr.files for pr in repo.pulls.values() if pr.head_sha == head), None)
        if now is not None:
            return list(now)
    return _tree_changes(repo, merge_base, head)


def _commit_of(state: State, repo: Repo, known: dict[str, Commit], sha: str) -> Commit:
    """A commit by SHA: a pull request's, else one of the base's the simulator made."""
    found = known.get(sha)
    if found is not None:
        return found
    owner = repo.owner
    return Commit(sha, f"Commit {sha}", owner, datetime.fromtimestamp(0, UTC), [])


def _tree_changes(repo: Repo, old_sha: str, new_sha: str) -> list[FileChange]:
    """How the tree at ``new_sha`` differs from the one at ``old_sha``, by path."""
    old, new = repo.trees.get(old_sha, {}), repo.trees.get(new_sha, {})
    changes = []
    for path in sorted(old.keys() | new.keys()):
        before, after = old.get(path), new.get(path)
        if before == after:
            continue
        a = before.splitlines() if before is not None else []
        b = after.splitlines() if after is not None else []
        added = removed = 0
        for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes():
            if tag != "equal":
                removed += i2 - i1
                added += j2 - j1
        status: FileStatus = (
            "added" if before is None else "removed" if after is None else "modified"
        )
        changes.append(FileChange(path, status, added, removed))
    return changes
