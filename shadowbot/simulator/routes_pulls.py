"""Repository and pull request endpoints: reads, and the writes GitHub offers for a PR
(update, review, dismiss, merge, labels). Every write works; the middleware logs it.

https://docs.github.com/en/rest/pulls and https://docs.github.com/en/rest/issues/labels
"""

from __future__ import annotations

from aiohttp import web

from shadowbot.simulator import actions, activity, render, render_activity
from shadowbot.simulator.backend import (
    backend_of,
    json_body,
    no_content,
    number_param,
    paged,
    pull_of,
    reply,
    repo_of,
)
from shadowbot.simulator.errors import NotFound, ValidationFailed
from shadowbot.simulator.models import ReviewState

routes = web.RouteTableDef()
PULL = "/repos/{owner}/{repo}/pulls/{number}"
LABELS = "/repos/{owner}/{repo}/issues/{number}/labels"
# The REST limits on these listings:
# https://docs.github.com/en/rest/pulls/pulls#list-pull-requests-files
MAX_FILES = 3000
MAX_COMMITS = 250
_REVIEW_EVENTS: dict[str | None, ReviewState] = {
    "APPROVE": "APPROVED",
    "REQUEST_CHANGES": "CHANGES_REQUESTED",
    "COMMENT": "COMMENTED",
    None: "PENDING",
}


@routes.get("/repos/{owner}/{repo}")
async def get_repo(request: web.Request) -> web.Response:
    return reply(render.repository(backend_of(request).state, repo_of(request)))


@routes.get("/repos/{owner}/{repo}/pulls")
async def list_pulls(request: web.Request) -> web.Response:
    state, repo = backend_of(request).state, repo_of(request)
    wanted = request.query.get("state", "open")
    pulls = [pr for pr in repo.pulls.values() if wanted in ("all", pr.state)]
    pulls.sort(key=lambda pr: pr.number, reverse=True)
    return paged(request, pulls, lambda pr: render.pull(state, repo, pr))


@routes.get(PULL)
async def get_pull(request: web.Request) -> web.Response:
    repo, pr = pull_of(request)
    return reply(render.pull(backend_of(request).state, repo, pr))


@routes.patch(PULL)
async def update_pull(request: web.Request) -> web.Response:
    backend, (repo, pr), body = backend_of(request), pull_of(request), await json_body(request)
    state, bot = backend.state, backend.state.bot
    events = actions.edit_pull(
        state, repo, pr, bot, title=body.get("title"), body=body.get("body"), base=body.get("base")
    )
    if body.get("state") == "closed":
        events += actions.close(state, repo, pr, bot)
    elif body.get("state") == "open":
        events += actions.reopen(state, repo, pr, bot)
    backend.emit(events)
    return reply(render.pull(state, repo, pr))


@routes.get(PULL + "/files")
async def list_files(request: web.Request) -> web.Response:
    state, (repo, pr) = backend_of(request).state, pull_of(request)
    return paged(request, pr.files[:MAX_FILES], lambda f: render.pr_file(state, repo, pr, f))


@routes.get(PULL + "/commits")
async def list_commits(request: web.Request) -> web.Response:
    state, (repo, pr) = backend_of(request).state, pull_of(request)
    return paged(request, pr.commits[:MAX_COMMITS], lambda c: render.commit(state, repo, c))


@routes.get(PULL + "/reviews")
async def list_reviews(request: web.Request) -> web.Response:
    state, (repo, pr) = backend_of(request).state, pull_of(request)
    return paged(request, pr.reviews, lambda r: render_activity.review(state, repo, pr, r))


@routes.post(PULL + "/reviews")
async def create_review(request: web.Request) -> web.Response:
    backend, (repo, pr), body = backend_of(request), pull_of(request), await json_body(request)
    event = body.get("event")
    if event not in _REVIEW_EVENTS:
        raise ValidationFailed(resource="PullRequestReview", field="event", code="invalid")
    review, events = activity.submit_review(
        backend.state,
        repo,
        pr,
        backend.state.bot,
        _REVIEW_EVENTS[event],
        body=str(body.get("body") or ""),
        commit_id=body.get("commit_id"),
    )
    backend.emit(events)
    return reply(render_activity.review(backend.state, repo, pr, review))


@routes.put(PULL + "/reviews/{review_id}/dismissals")
async def dismiss_review(request: web.Request) -> web.Response:
    backend, (repo, pr) = backend_of(request), pull_of(request)
    review_id = number_param(request, "review_id")
    backend.emit(activity.dismiss_review(backend.state, repo, pr, review_id, backend.state.bot))
    review = activity.find_review(pr, review_id)
    return reply(render_activity.review(backend.state, repo, pr, review))


@routes.put(PULL + "/merge")
async def merge_pull(request: web.Request) -> web.Response:
    """https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request"""
    backend, (repo, pr), body = backend_of(request), pull_of(request), await json_body(request)
    if body.get("merge_method", "merge") not in ("merge", "squash", "rebase"):
        raise ValidationFailed(resource="PullRequest", field="merge_method", code="invalid")
    sha, events = actions.merge(backend.state, repo, pr, backend.state.bot, sha=body.get("sha"))
    backend.emit(events)
    return reply({"sha": sha, "merged": True, "message": "Pull Request successfully merged"})


@routes.get(PULL + "/merge")
async def is_merged(request: web.Request) -> web.Response:
    _, pr = pull_of(request)
    if not pr.merged:
        raise NotFound()
    return no_content()


@routes.get(LABELS)
async def list_labels(request: web.Request) -> web.Response:
    state, (repo, pr) = backend_of(request).state, pull_of(request)
    return paged(request, pr.labels, lambda item: render.label(state, repo, item))


@routes.post(LABELS)
@routes.put(LABELS)
async def add_labels(request: web.Request) -> web.Response:
    """POST adds labels; PUT replaces them all."""
    backend, (repo, pr), body = backend_of(request), pull_of(request), await json_body(request)
    names = [str(name) for name in body.get("labels", [])]
    state, bot, events = backend.state, backend.state.bot, []
    if request.method == "PUT":
        for stale in [item.name for item in pr.labels if item.name not in names]:
            events += actions.remove_label(state, repo, pr, bot, stale)
    for name in names:
        events += actions.add_label(state, repo, pr, bot, name)
    backend.emit(events)
    return reply([render.label(state, repo, item) for item in pr.labels])


@routes.delete(LABELS + "/{name}")
async def remove_label(request: web.Request) -> web.Response:
    backend, (repo, pr) = backend_of(request), pull_of(request)
    state = backend.state
    backend.emit(actions.remove_label(state, repo, pr, state.bot, request.match_info["name"]))
    return reply([render.label(state, repo, item) for item in pr.labels])
