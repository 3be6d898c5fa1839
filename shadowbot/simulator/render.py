"""JSON shapes of accounts, repositories, pull requests, their files and commits, as GitHub's
REST API and webhooks show them (activity on a PR is in :mod:`render_activity`).

Only the fields a bot reads, plus the URLs clients follow; node ids are left out. Shapes
follow the REST reference (https://docs.github.com/en/rest) and the webhook payload
reference (https://docs.github.com/en/webhooks/webhook-events-and-payloads).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from shadowbot.simulator.models import (
    Commit,
    FileChange,
    Installation,
    Label,
    PullRequest,
    Repo,
    User,
)
from shadowbot.simulator.state import State, git_blob_sha

Json = dict[str, Any]
# What an installation of the simulated app may do: the permissions shadowbot's manifest asks
# for (no contents write, no merge). Shown in tokens and installations, never enforced.
APP_PERMISSIONS = {
    "metadata": "read",
    "contents": "read",
    "pull_requests": "read",
    "issues": "write",
    "checks": "read",
    "statuses": "read",
    "members": "read",
}
APP_EVENTS = [
    "pull_request",
    "pull_request_review",
    "check_run",
    "check_suite",
    "status",
    "issue_comment",
]

# The fields of a pull request's JSON that its issue side shares.
_ISSUE_KEYS = frozenset(
    {
        "number",
        "title",
        "body",
        "user",
        "labels",
        "state",
        "locked",
        "draft",
        "created_at",
        "updated_at",
        "closed_at",
        "author_association",
        "comments",
    }
)


def iso(moment: datetime | None) -> str | None:
    """GitHub's timestamp format, ISO 8601 in UTC with a `Z`."""
    return None if moment is None else moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def user(state: State, who: User) -> Json:
    return {
        "login": who.login,
        "id": who.id,
        "type": who.type,
        "site_admin": False,
        "url": f"{state.api_url}/users/{who.login}",
        "html_url": f"{state.api_url}/{who.login}",
        "avatar_url": f"{state.api_url}/avatars/{who.login}",
    }


def repository(state: State, repo: Repo) -> Json:
    return {
        "id": repo.id,
        "name": repo.name,
        "full_name": repo.full_name,
        "owner": user(state, repo.owner),
        "private": repo.private,
        "visibility": "private" if repo.private else "public",
        "fork": False,
        "archived": False,
        "default_branch": repo.default_branch,
        "url": f"{state.api_url}/repos/{repo.full_name}",
        "html_url": f"{state.api_url}/{repo.full_name}",
    }


def label(state: State, repo: Repo, item: Label) -> Json:
    return {
        "id": item.id,
        "name": item.name,
        "color": item.color,
        "default": False,
        "description": None,
        "url": f"{state.api_url}/repos/{repo.full_name}/labels/{item.name}",
    }


def _base_sha(repo: Repo, pr: PullRequest) -> str:
    """The base branch's head, or the default branch's if the base branch is gone."""
    return repo.branches.get(pr.base_ref, repo.branches[repo.default_branch])


def _branch(state: State, repo: Repo, ref: str, sha: str) -> Json:
    return {
        "label": f"{repo.owner.login}:{ref}",
        "ref": ref,
        "sha": sha,
        "user": user(state, repo.owner),
        "repo": repository(state, repo),
    }


def pull(state: State, repo: Repo, pr: PullRequest) -> Json:
    """A pull request as `GET /repos/{o}/{r}/pulls/{n}` and `pull_request` webhooks show it."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    return {
        "url": f"{api}/pulls/{pr.number}",
        "id": pr.id,
        "number": pr.number,
        "html_url": f"{state.api_url}/{repo.full_name}/pull/{pr.number}",
        "issue_url": f"{api}/issues/{pr.number}",
        "state": pr.state,
        "locked": False,
        "title": pr.title,
        "body": pr.body,
        "user": user(state, pr.user),
        "labels": [label(state, repo, item) for item in pr.labels],
        "draft": pr.draft,
        "created_at": iso(pr.created_at),
        "updated_at": iso(pr.updated_at),
        "closed_at": iso(pr.closed_at),
        "merged_at": iso(pr.merged_at),
        "merged": pr.merged,
        "merged_by": user(state, pr.merged_by) if pr.merged_by else None,
        "merge_commit_sha": pr.merge_commit_sha,
        "mergeable": None if pr.merged else pr.state == "open",
        "head": _branch(state, repo, pr.head_ref, pr.head_sha),
        "base": _branch(state, repo, pr.base_ref, _base_sha(repo, pr)),
        "author_association": state.association(repo, pr.user),
        "requested_reviewers": [],
        "assignees": [],
        "auto_merge": None,
        "commits": len(pr.commits),
        "changed_files": len(pr.files),
        "additions": sum(f.additions for f in pr.files),
        "deletions": sum(f.deletions for f in pr.files),
        "comments": sum(1 for c in repo.comments.values() if c.issue_number == pr.number),
        "review_comments": 0,
    }


def pull_brief(state: State, repo: Repo, pr: PullRequest) -> Json:
    """The short form check runs and suites list under `pull_requests`."""
    brief = {"id": repo.id, "url": f"{state.api_url}/repos/{repo.full_name}", "name": repo.name}
    return {
        "url": f"{state.api_url}/repos/{repo.full_name}/pulls/{pr.number}",
        "id": pr.id,
        "number": pr.number,
        "head": {"ref": pr.head_ref, "sha": pr.head_sha, "repo": brief},
        "base": {"ref": pr.base_ref, "sha": _base_sha(repo, pr), "repo": brief},
    }


def issue(state: State, repo: Repo, pr: PullRequest) -> Json:
    """The issue side of a pull request (`issue_comment` payloads carry this)."""
    api = f"{state.api_url}/repos/{repo.full_name}"
    shape = {key: value for key, value in pull(state, repo, pr).items() if key in _ISSUE_KEYS}
    return {
        **shape,
        "id": pr.issue_id,
        "url": f"{api}/issues/{pr.number}",
        "repository_url": api,
        "html_url": f"{state.api_url}/{repo.full_name}/pull/{pr.number}",
        "assignees": [],
        # The key that tells an issue_comment on a pull request from one on an issue.
        "pull_request": {
            "url": f"{api}/pulls/{pr.number}",
            "html_url": f"{state.api_url}/{repo.full_name}/pull/{pr.number}",
            "merged_at": iso(pr.merged_at),
        },
    }


def pr_file(state: State, repo: Repo, pr: PullRequest, change: FileChange) -> Json:
    return file_at(state, repo, pr.head_sha, change)


def file_at(state: State, repo: Repo, head: str, change: FileChange) -> Json:
    """A changed file as REST shows it at commit ``head`` (a pull request's files, a compare's)."""
    shape: Json = {
        "sha": git_blob_sha(f"{head}:{change.filename}"),
        "filename": change.filename,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "changes": change.additions + change.deletions,
        "blob_url": f"{state.api_url}/{repo.full_name}/blob/{head}/{change.filename}",
        "raw_url": f"{state.api_url}/{repo.full_name}/raw/{head}/{change.filename}",
        "contents_url": f"{state.api_url}/repos/{repo.full_name}/contents/{change.filename}"
        f"?ref={head}",
    }
    if change.patch is not None:
        shape["patch"] = change.patch
    if change.previous_filename is not None:
        shape["previous_filename"] = change.previous_filename
    return shape


def commit(state: State, repo: Repo, item: Commit) -> Json:
    signature = {"name": item.author.login, "email": "", "date": iso(item.at)}
    return {
        "sha": item.sha,
        "url": f"{state.api_url}/repos/{repo.full_name}/commits/{item.sha}",
        "commit": {"message": item.message, "author": signature, "committer": signature},
        "author": user(state, item.author),
        "committer": user(state, item.author),
        "parents": [{"sha": sha} for sha in item.parents],
    }


def app(state: State) -> Json:
    return {
        "id": state.app_id,
        "slug": state.app_slug,
        "name": state.app_slug,
        "owner": None,
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
    }


def installation(state: State, item: Installation) -> Json:
    return {
        "id": item.id,
        "account": user(state, item.account),
        "app_id": state.app_id,
        "app_slug": state.app_slug,
        "target_type": item.account.type,
        "repository_selection": "selected",
        "permissions": APP_PERMISSIONS,
        "events": APP_EVENTS,
        "access_tokens_url": f"{state.api_url}/app/installations/{item.id}/access_tokens",
        "repositories_url": f"{state.api_url}/installation/repositories",
        "html_url": f"{state.api_url}/settings/installations/{item.id}",
        "target_id": item.account.id,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
        "single_file_name": None,
        "has_multiple_single_files": False,
        "single_file_paths": [],
        "suspended_by": None,
        "suspended_at": None,
    }
