"""Webhook payloads in GitHub's shapes, built from the state at the moment of the event.

Every payload a GitHub App receives carries `action` (where the event has one), `sender`,
`installation{id}` and, for repository events, `repository`:
https://docs.github.com/en/webhooks/webhook-events-and-payloads#webhook-payload-object-common-properties
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shadowbot.simulator import render, render_activity
from shadowbot.simulator.models import CheckRun, Comment, PullRequest, Repo, Review, Status, User
from shadowbot.simulator.render import Json
from shadowbot.simulator.state import State


@dataclass(frozen=True)
class Event:
    """One webhook event to deliver: its `X-GitHub-Event` name and its payload."""

    name: str
    payload: Json


def _common(state: State, repo: Repo | None, sender: User) -> Json:
    common: Json = {"sender": render.user(state, sender)}
    if repo is not None:
        common["repository"] = render.repository(state, repo)
        installation = state.installation_of(repo)
        if installation is not None:
            common["installation"] = {"id": installation.id}
    return common


def pull_request(
    state: State, repo: Repo, pr: PullRequest, action: str, sender: User, **extra: Any
) -> Event:
    """`pull_request`; `extra` adds `before`/`after` (synchronize), `changes` (edited) or
    `label` (labeled, unlabeled): https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request"""
    payload = {
        "action": action,
        "number": pr.number,
        "pull_request": render.pull(state, repo, pr),
        **extra,
    }
    return Event("pull_request", {**payload, **_common(state, repo, sender)})


def pull_request_review(
    state: State,
    repo: Repo,
    pr: PullRequest,
    review: Review,
    action: str,
    sender: User,
    changes: Json | None = None,
) -> Event:
    shape = render_activity.review(state, repo, pr, review)
    # Webhooks spell the review state in lower case ("approved"), the REST API in upper case:
    # https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request_review
    shape["state"] = review.state.lower()
    payload: Json = {
        "action": action,
        "review": shape,
        "pull_request": render.pull(state, repo, pr),
    }
    if changes is not None:
        payload["changes"] = changes
    return Event("pull_request_review", {**payload, **_common(state, repo, sender)})


def check_run(state: State, repo: Repo, run: CheckRun, action: str, sender: User) -> Event:
    payload = {"action": action, "check_run": render_activity.check_run(state, repo, run)}
    return Event("check_run", {**payload, **_common(state, repo, sender)})


def check_suite(state: State, repo: Repo, run: CheckRun, sender: User) -> Event:
    """`check_suite` completed, sent once every run of the suite has completed."""
    runs = [r for r in repo.check_runs if r.suite_id == run.suite_id]
    conclusions = {r.conclusion for r in runs}
    worst = next((c for c in ("failure", "timed_out", "cancelled") if c in conclusions), None)
    shape = render_activity.check_run(state, repo, run)
    suite = {
        "id": run.suite_id,
        "head_sha": run.head_sha,
        "head_branch": shape["check_suite"]["head_branch"],
        "status": "completed",
        "conclusion": worst or "success",
        "app": shape["app"],
        "pull_requests": shape["pull_requests"],
        "latest_check_runs_count": len(runs),
    }
    payload = {"action": "completed", "check_suite": suite}
    return Event("check_suite", {**payload, **_common(state, repo, sender)})


def status(state: State, repo: Repo, item: Status, sender: User) -> Event:
    """`status` has no `action`: https://docs.github.com/en/webhooks/webhook-events-and-payloads#status"""
    payload = {
        "id": item.id,
        "sha": item.sha,
        "name": repo.full_name,
        "context": item.context,
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "commit": {"sha": item.sha},
        # The branches whose head is this commit, as GitHub lists them.
        "branches": [
            {"name": name, "commit": {"sha": sha}}
            for name, sha in repo.branches.items()
            if sha == item.sha
        ],
        "created_at": render.iso(item.created_at),
        "updated_at": render.iso(item.created_at),
    }
    return Event("status", {**payload, **_common(state, repo, sender)})


def issue_comment(
    state: State,
    repo: Repo,
    pr: PullRequest,
    comment: Comment,
    action: str,
    sender: User,
    changes: Json | None = None,
) -> Event:
    payload: Json = {
        "action": action,
        "issue": render.issue(state, repo, pr),
        "comment": render_activity.comment(state, repo, comment),
    }
    if changes is not None:
        payload["changes"] = changes
    return Event("issue_comment", {**payload, **_common(state, repo, sender)})


def installation(state: State, installation_id: int, action: str, sender: User) -> Event:
    item = state.installation(installation_id)
    repos = [state.repo(name) for name in item.repos]
    payload = {
        "action": action,
        "installation": render.installation(state, item),
        "repositories": [_repo_brief(repo) for repo in repos],
    }
    return Event("installation", {**payload, **_common(state, None, sender)})


def installation_repositories(
    state: State, installation_id: int, action: str, repos: list[Repo], sender: User
) -> Event:
    payload = {
        "action": action,
        "installation": render.installation(state, state.installation(installation_id)),
        "repository_selection": "selected",
        "repositories_added": [_repo_brief(r) for r in repos] if action == "added" else [],
        "repositories_removed": [_repo_brief(r) for r in repos] if action == "removed" else [],
    }
    return Event("installation_repositories", {**payload, **_common(state, None, sender)})


def ping(state: State, hook_id: int, url: str | None) -> Event:
    """The first delivery to a new hook: https://docs.github.com/en/webhooks/webhook-events-and-payloads#ping"""
    hook = {
        "type": "App",
        "id": hook_id,
        "name": "web",
        "active": True,
        "events": render.APP_EVENTS,
        "config": {"content_type": "json", "insecure_ssl": "0", "url": url},
        "app_id": state.app_id,
    }
    payload = {"zen": "Keep it logically awesome.", "hook_id": hook_id, "hook": hook}
    return Event("ping", {**payload, **_common(state, None, state.bot)})


def _repo_brief(repo: Repo) -> Json:
    return {"id": repo.id, "name": repo.name, "full_name": repo.full_name, "private": False}
