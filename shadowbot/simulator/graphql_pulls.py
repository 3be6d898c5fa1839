"""GraphQL over the simulator's repositories: a repository's pull requests (newest updated
first or as asked) and collaborators, a pull request's fields and files, commits with their
checks, and files at a revision (``Repository.object``). Timelines are
:mod:`shadowbot.simulator.graphql_timeline`'s.

`updatedAt` is the later of the pull request's own and its latest comment's time, as a comment
bumps it on GitHub. A commit's `statusCheckRollup` holds the latest check run of each name
and the latest status of each context on that commit, null when there is none.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from shadowbot.simulator.graphql_common import connection, github_error
from shadowbot.simulator.graphql_nodes import (
    COMMIT,
    PULL,
    BlobNode,
    CommitNode,
    PullNode,
    Rollup,
    association,
    blobs_by_id,
    checks_by_commit,
    comments_by_issue,
    commit_of,
    commits_by_sha,
    repos,
    updated_at,
)
from shadowbot.simulator.graphql_timeline import timeline_items
from shadowbot.simulator.models import PullRequest, Repo
from shadowbot.simulator.nodeids import node_id
from shadowbot.simulator.render import iso
from shadowbot.simulator.state import State, git_blob_sha

if TYPE_CHECKING:
    from shadowbot.simulator.graphql_common import Context

# GitHub's PatchStatus by REST file status (REST's "unchanged" has no GraphQL name).
CHANGE_TYPE = {
    "added": "ADDED",
    "removed": "DELETED",
    "modified": "MODIFIED",
    "renamed": "RENAMED",
    "copied": "COPIED",
    "changed": "CHANGED",
    "unchanged": "CHANGED",
}


# --- the root and the repository ---


def repository(
    _: None, info: GraphQLResolveInfo[Context], owner: str, name: str, followRenames: bool = True
) -> Repo:
    context: Context = info.context
    wanted = f"{owner}/{name}".lower()
    for repo in repos(context):
        if repo.full_name.lower() == wanted:
            return repo
    message = f"Could not resolve to a Repository with the name '{owner}/{name}'."
    raise github_error(message, "NOT_FOUND")


def _object(
    repo: Repo,
    info: GraphQLResolveInfo[Context],
    expression: str | None = None,
    oid: str | None = None,
) -> object | None:
    """A file at a revision (`rev:path`); a commit or a file by its id (`rev`, or `oid`)."""
    context: Context = info.context
    revision, _, path = (expression or oid or "").partition(":")
    sha = repo.branches.get(revision, revision)
    if not path:
        return commits_by_sha(context).get(sha) or blobs_by_id(context, repo).get(sha)
    text = repo.trees.get(sha, {}).get(path)
    return None if text is None else BlobNode(text)


def _pull_requests(
    repo: Repo,
    info: GraphQLResolveInfo[Context],
    baseRefName: str | None = None,
    orderBy: dict[str, str] | None = None,
    states: list[str] | None = None,
    **page: Any,
) -> dict[str, Any]:
    """Oldest created first unless `orderBy` says otherwise; a cursor names a pull request
    by number, so a page after it starts after wherever that one is now."""
    context: Context = info.context
    pulls = [
        pr
        for pr in repo.pulls.values()
        if (baseRefName is None or pr.base_ref == baseRefName)
        and (states is None or _state(pr) in states)
    ]
    order = (orderBy or {}).get("field", "CREATED_AT")
    keys: dict[str, Callable[[PullRequest], Any]] = {
        "CREATED_AT": lambda pr: (pr.created_at, pr.number),
        "UPDATED_AT": lambda pr: (updated_at(context, repo, pr), pr.number),
        "COMMENTS": lambda pr: (
            len(comments_by_issue(context, repo).get(pr.number, ())),
            pr.number,
        ),
    }
    pulls.sort(key=keys[order], reverse=(orderBy or {}).get("direction") == "DESC")
    return connection(
        info.field_name,
        [PullNode(repo, pr) for pr in pulls],
        **page,
        key=lambda _, node: node.pr.number,
    )


def _collaborators(
    repo: Repo,
    info: GraphQLResolveInfo[Context],
    affiliation: str | None = None,
    **page: Any,
) -> dict[str, Any]:
    """The repository's collaborators by login with their roles (and a user owning it, as
    admin). Every caller may read them here; GitHub asks for push access."""
    state: State = info.context.state
    roles = dict(repo.roles)
    if repo.owner.type == "User":
        roles[repo.owner.login.lower()] = "admin"
    users = sorted((state.user(login) for login in roles), key=lambda user: user.login.lower())
    found = connection(info.field_name, users, **page)
    for edge in found["edges"]:
        edge["permission"] = roles[edge["node"].login.lower()].upper()
    return found


def _state(pr: PullRequest) -> str:
    return "MERGED" if pr.merged else "CLOSED" if pr.state == "closed" else "OPEN"


# --- a pull request ---


def _files(
    node: PullNode,
    info: GraphQLResolveInfo[Context],
    **page: Any,
) -> dict[str, Any]:
    files = [
        {
            "path": change.filename,
            "additions": change.additions,
            "deletions": change.deletions,
            "changeType": CHANGE_TYPE[change.status],
        }
        for change in node.pr.files
    ]
    return connection(info.field_name, files, **page)


def _rollup(commit: CommitNode, info: GraphQLResolveInfo[Context]) -> Rollup | None:
    contexts = checks_by_commit(info.context, commit.repo).get(commit.oid)
    return Rollup(commit.oid, contexts) if contexts else None


def _contexts(
    rollup: Rollup,
    info: GraphQLResolveInfo[Context],
    **page: Any,
) -> dict[str, Any]:
    return connection(info.field_name, rollup.contexts, **page)


FIELDS: dict[tuple[str, str], Callable[..., Any]] = {
    ("Query", "repository"): repository,
    ("Repository", "id"): lambda repo, _: node_id("R", repo.id),
    ("Repository", "nameWithOwner"): lambda repo, _: repo.full_name,
    ("Repository", "object"): _object,
    ("Repository", "pullRequests"): _pull_requests,
    ("Repository", "collaborators"): _collaborators,
    ("PullRequest", "id"): lambda node, _: node_id(PULL, node.pr.id),
    ("PullRequest", "number"): lambda node, _: node.pr.number,
    ("PullRequest", "title"): lambda node, _: node.pr.title,
    ("PullRequest", "body"): lambda node, _: node.pr.body,
    ("PullRequest", "author"): lambda node, _: node.pr.user,
    ("PullRequest", "authorAssociation"): lambda node, info: association(
        info, node.repo, node.pr.user
    ),
    ("PullRequest", "baseRefName"): lambda node, _: node.pr.base_ref,
    ("PullRequest", "baseRefOid"): lambda node, _: (
        node.pr.commits[0].parents[0]
        if node.pr.commits[0].parents
        else node.repo.branches[node.pr.base_ref]
    ),
    ("PullRequest", "headRefOid"): lambda node, _: node.pr.head_sha,
    ("PullRequest", "createdAt"): lambda node, _: iso(node.pr.created_at),
    ("PullRequest", "updatedAt"): lambda node, info: iso(
        updated_at(info.context, node.repo, node.pr)
    ),
    ("PullRequest", "closedAt"): lambda node, _: iso(node.pr.closed_at),
    ("PullRequest", "mergedAt"): lambda node, _: iso(node.pr.merged_at),
    ("PullRequest", "isDraft"): lambda node, _: node.pr.draft,
    ("PullRequest", "merged"): lambda node, _: node.pr.merged,
    ("PullRequest", "mergeCommit"): lambda node, info: commit_of(
        info.context, node.repo, node.pr.merge_commit_sha, node.pr.merged_at
    ),
    ("PullRequest", "state"): lambda node, _: _state(node.pr),
    ("PullRequest", "files"): _files,
    ("PullRequest", "timelineItems"): timeline_items,
    ("Commit", "id"): lambda commit, _: node_id(COMMIT, commit.oid),
    ("Commit", "oid"): lambda commit, _: commit.oid,
    ("Commit", "committedDate"): lambda commit, _: iso(commit.committed),
    ("Commit", "statusCheckRollup"): _rollup,
    ("Blob", "id"): lambda blob, _: node_id("B", git_blob_sha(blob.text)),
    ("Blob", "oid"): lambda blob, _: git_blob_sha(blob.text),
    ("StatusCheckRollup", "id"): lambda rollup, _: node_id("SCR", rollup.oid),
    ("StatusCheckRollup", "contexts"): _contexts,
    ("CheckRun", "id"): lambda run, _: node_id("CR", run.id),
    ("CheckRun", "databaseId"): lambda run, _: run.id,
    ("CheckRun", "status"): lambda run, _: run.status.upper(),
    ("CheckRun", "conclusion"): lambda run, _: run.conclusion.upper() if run.conclusion else None,
    ("CheckRun", "startedAt"): lambda run, _: iso(run.started_at),
    ("CheckRun", "completedAt"): lambda run, _: iso(run.completed_at),
    ("StatusContext", "id"): lambda status, _: node_id("SC", status.id),
    ("StatusContext", "state"): lambda status, _: status.state.upper(),
    ("StatusContext", "createdAt"): lambda status, _: iso(status.created_at),
}
