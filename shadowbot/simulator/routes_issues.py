"""Issue comments and their reactions, and the issue view of a pull request.

https://docs.github.com/en/rest/issues/comments and
https://docs.github.com/en/rest/reactions/reactions
"""

from __future__ import annotations

from aiohttp import web

from shadowbot.simulator import activity, render, render_activity
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
from shadowbot.simulator.errors import NotFound
from shadowbot.simulator.models import Comment, Repo

routes = web.RouteTableDef()
ISSUE = "/repos/{owner}/{repo}/issues/{number}"
COMMENT = "/repos/{owner}/{repo}/issues/comments/{comment_id}"


def _comment_of(request: web.Request) -> tuple[Repo, Comment]:
    repo = repo_of(request)
    comment = repo.comments.get(number_param(request, "comment_id"))
    if comment is None:
        raise NotFound()
    return repo, comment


@routes.get(ISSUE)
async def get_issue(request: web.Request) -> web.Response:
    repo, pr = pull_of(request)
    return reply(render.issue(backend_of(request).state, repo, pr))


@routes.get(ISSUE + "/comments")
async def list_comments(request: web.Request) -> web.Response:
    """Oldest first; `since` keeps those updated at or after a time."""
    state, (repo, pr) = backend_of(request).state, pull_of(request)
    comments = sorted(
        (c for c in repo.comments.values() if c.issue_number == pr.number), key=lambda c: c.id
    )
    since = request.query.get("since")
    if since:
        comments = [c for c in comments if (render.iso(c.updated_at) or "") >= since]
    return paged(request, comments, lambda c: render_activity.comment(state, repo, c))


@routes.post(ISSUE + "/comments")
async def create_comment(request: web.Request) -> web.Response:
    backend, (repo, pr), body = backend_of(request), pull_of(request), await json_body(request)
    state = backend.state
    comment, events = activity.add_comment(state, repo, pr, state.bot, str(body.get("body", "")))
    backend.emit(events)
    shape = render_activity.comment(state, repo, comment)
    return reply(shape, status=201, headers={"Location": shape["url"]})


@routes.get(COMMENT)
async def get_comment(request: web.Request) -> web.Response:
    repo, comment = _comment_of(request)
    return reply(render_activity.comment(backend_of(request).state, repo, comment))


@routes.patch(COMMENT)
async def update_comment(request: web.Request) -> web.Response:
    backend, (repo, comment) = backend_of(request), _comment_of(request)
    body = str((await json_body(request)).get("body", ""))
    backend.emit(activity.edit_comment(backend.state, repo, comment, body, backend.state.bot))
    return reply(render_activity.comment(backend.state, repo, comment))


@routes.delete(COMMENT)
async def delete_comment(request: web.Request) -> web.Response:
    backend, (repo, comment) = backend_of(request), _comment_of(request)
    backend.emit(activity.delete_comment(backend.state, repo, comment, backend.state.bot))
    return no_content()


@routes.get(COMMENT + "/reactions")
async def list_reactions(request: web.Request) -> web.Response:
    state, (_, comment) = backend_of(request).state, _comment_of(request)
    content = request.query.get("content")
    reactions = [r for r in comment.reactions if content in (None, r.content)]
    return paged(request, reactions, lambda r: render_activity.reaction(state, r))


@routes.post(COMMENT + "/reactions")
async def create_reaction(request: web.Request) -> web.Response:
    """201 for a new reaction, 200 with the existing one when it was already there."""
    state, (_, comment) = backend_of(request).state, _comment_of(request)
    content = str((await json_body(request)).get("content", ""))
    reaction, created = activity.add_reaction(state, comment, state.bot, content)
    return reply(render_activity.reaction(state, reaction), status=201 if created else 200)


@routes.delete(COMMENT + "/reactions/{reaction_id}")
async def delete_reaction(request: web.Request) -> web.Response:
    _, comment = _comment_of(request)
    activity.remove_reaction(comment, number_param(request, "reaction_id"))
    return no_content()
