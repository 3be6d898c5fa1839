"""JSON shapes of what happens on a pull request: reviews, comments, reactions, check runs
and statuses, as the REST reference shows them (https://docs.github.com/en/rest/pulls/reviews,
https://docs.github.com/en/rest/issues/comments, https://docs.github.com/en/rest/reactions,
https://docs.github.com/en/rest/checks/runs, https://docs.github.com/en/rest/commits/statuses).
Comments and reactions carry the `node_id` that GraphQL's `nodes(ids:)` resolves.
"""

from __future__ import annotations

import zlib

from shadowbot.simulator import nodeids
from shadowbot.simulator.models import (
    REACTIONS,
    CheckRun,
    Comment,
    PullRequest,
    Reaction,
    Repo,
    Review,
    Status,
)
from shadowbot.simulator.render import Json, iso, pull_brief, user
from shadowbot.simulator.state import State


def review(state: State, repo: Repo, pr: PullRequest, item: Review) -> Json:
    shape: Json = {
        "id": item.id,
        "user": user(state, item.user),
        "body": item.body,
        "state": item.state,
        "commit_id": item.commit_id,
        "author_association": state.association(repo, item.user),
        "pull_request_url": f"{state.api_url}/repos/{repo.full_name}/pulls/{pr.number}",
        "html_url": f"{state.api_url}/{repo.full_name}/pull/{pr.number}#review-{item.id}",
    }
    # Pending reviews are not submitted and carry no `submitted_at`:
    # https://docs.github.com/en/rest/pulls/reviews#create-a-review-for-a-pull-request
    if item.submitted_at is not None:
        shape["submitted_at"] = iso(item.submitted_at)
    return shape


def reaction(state: State, item: Reaction) -> Json:
    return {
        "id": item.id,
        "node_id": nodeids.node_id(nodeids.REACTION, item.id),
        "user": user(state, item.user),
        "content": item.content,
        "created_at": iso(item.created_at),
    }


def comment(state: State, repo: Repo, item: Comment) -> Json:
    api = f"{state.api_url}/repos/{repo.full_name}/issues"
    rollup: Json = {"url": f"{api}/comments/{item.id}/reactions"}
    rollup["total_count"] = len(item.reactions)
    rollup.update({c: sum(r.content == c for r in item.reactions) for c in REACTIONS})
    return {
        "id": item.id,
        "node_id": nodeids.node_id(nodeids.COMMENT, item.id),
        "url": f"{api}/comments/{item.id}",
        "html_url": f"{state.api_url}/{repo.full_name}/pull/{item.issue_number}"
        f"#issuecomment-{item.id}",
        "issue_url": f"{api}/{item.issue_number}",
        "body": item.body,
        "user": user(state, item.user),
        "created_at": iso(item.created_at),
        "updated_at": iso(item.updated_at),
        "author_association": state.association(repo, item.user),
        "reactions": rollup,
    }


def check_run(state: State, repo: Repo, run: CheckRun) -> Json:
    pulls = [pr for pr in repo.pulls.values() if pr.head_sha == run.head_sha]
    branch = next((name for name, sha in repo.branches.items() if sha == run.head_sha), None)
    return {
        "id": run.id,
        "name": run.name,
        "head_sha": run.head_sha,
        "status": run.status,
        "conclusion": run.conclusion,
        "started_at": iso(run.started_at),
        "completed_at": iso(run.completed_at),
        "url": f"{state.api_url}/repos/{repo.full_name}/check-runs/{run.id}",
        "app": {"id": zlib.crc32(run.app.encode()), "slug": run.app, "name": run.app},
        "check_suite": {"id": run.suite_id, "head_branch": branch},
        "pull_requests": [pull_brief(state, repo, pr) for pr in pulls],
    }


def status(state: State, repo: Repo, item: Status) -> Json:
    return {
        "id": item.id,
        "url": f"{state.api_url}/repos/{repo.full_name}/statuses/{item.sha}",
        "state": item.state,
        "description": item.description,
        "target_url": item.target_url,
        "context": item.context,
        "created_at": iso(item.created_at),
        "updated_at": iso(item.created_at),
        "creator": user(state, item.creator),
    }
