"""GraphQL over the simulator's repositories: pull requests, their files and timelines,
commits with their checks, and files at a revision (``Repository.object``).

A pull request's timeline is put together from what the state keeps: a `PullRequestCommit`
for each commit, each submitted review, each comment, and the recorded
:class:`~shadowbot.simulator.models.TimelineEvent` s (labels, drafts, titles, close, reopen,
merge, a review's dismissal).
A merge or close the state knows of without a recorded event (made through the REST API or
the scenario driver) still shows, with the merger and without the closer. GitHub lists a
`ClosedEvent` after the `MergedEvent` of a merged pull request; so does the simulator.

`updatedAt` is the later of the pull request's own and its latest comment's time, as a comment
bumps it on GitHub. A commit's `statusCheckRollup` holds the latest check run of each name
and the latest status of each context on that commit, null when there is none.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLResolveInfo

from shadowbot.simulator.graphql_common import connection, github_error
from shadowbot.simulator.models import (
    CheckRun,
    Comment,
    Commit,
    PullRequest,
    Repo,
    Review,
    Status,
    TimelineEvent,
    User,
)
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
EVENT_TYPE = {
    "labeled": "LabeledEvent",
    "unlabeled": "UnlabeledEvent",
    "ready_for_review": "ReadyForReviewEvent",
    "convert_to_draft": "ConvertToDraftEvent",
    "closed": "ClosedEvent",
    "reopened": "ReopenedEvent",
    "merged": "MergedEvent",
    "renamed": "RenamedTitleEvent",
    "review_dismissed": "ReviewDismissedEvent",
}
# The `itemTypes` filter's name of each item type the simulator holds.
ITEM_TYPE = {
    "PullRequestCommit": "PULL_REQUEST_COMMIT",
    "PullRequestReview": "PULL_REQUEST_REVIEW",
    "IssueComment": "ISSUE_COMMENT",
    "LabeledEvent": "LABELED_EVENT",
    "UnlabeledEvent": "UNLABELED_EVENT",
    "ReadyForReviewEvent": "READY_FOR_REVIEW_EVENT",
    "ConvertToDraftEvent": "CONVERT_TO_DRAFT_EVENT",
    "ClosedEvent": "CLOSED_EVENT",
    "ReopenedEvent": "REOPENED_EVENT",
    "MergedEvent": "MERGED_EVENT",
    "RenamedTitleEvent": "RENAMED_TITLE_EVENT",
    "ReviewDismissedEvent": "REVIEW_DISMISSED_EVENT",
}
PULL, COMMIT = "PR", "C"
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class PullNode:
    repo: Repo
    pr: PullRequest


@dataclass(frozen=True, slots=True)
class CommitNode:
    repo: Repo
    oid: str
    committed: datetime


@dataclass(frozen=True, slots=True)
class Rollup:
    oid: str
    contexts: list[CheckRun | Status]


@dataclass(frozen=True, slots=True)
class BlobNode:
    text: str


@dataclass(frozen=True, slots=True)
class Item:
    """A timeline item other than a comment: ``value`` is a Commit, Review or TimelineEvent
    (an event with no actor known has ``actor`` None)."""

    typename: str
    repo: Repo
    pr: PullRequest
    value: Any
    actor: User | None = None


def node_id(kind: str, key: object) -> str:
    raw = f"{kind}:{key}".encode()
    return f"{kind}_" + base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _parse(value: str) -> tuple[str, str] | None:
    kind, _, encoded = value.partition("_")
    if kind not in (PULL, COMMIT):
        return None
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    inner, _, key = raw.partition(":")
    return (kind, key) if inner == kind and key else None


def find(context: Context, global_id: str) -> object | None:
    """The pull request or commit a global id names, in the installation's repositories."""
    parsed = _parse(global_id)
    if parsed is None:
        return None
    kind, key = parsed
    if kind == COMMIT:
        return _commits(context).get(key)
    for repo in _repos(context):
        for pr in repo.pulls.values():
            if str(pr.id) == key:
                return PullNode(repo, pr)
    return None


def type_name(value: object) -> str | None:
    if isinstance(value, PullNode):
        return "PullRequest"
    if isinstance(value, Item):
        return value.typename
    if isinstance(value, CommitNode):
        return "Commit"
    if isinstance(value, BlobNode):
        return "Blob"
    if isinstance(value, CheckRun):
        return "CheckRun"
    if isinstance(value, Status):
        return "StatusContext"
    if isinstance(value, Repo):
        return "Repository"
    return None


# --- per-request indexes ---


def _repos(context: Context) -> list[Repo]:
    installation = context.state.installation(context.installation_id)
    return [context.state.repo(name) for name in installation.repos]


def _cached(context: Context, key: str, build: Callable[[], T]) -> T:
    if key not in context.cache:
        context.cache[key] = build()
    found: T = context.cache[key]
    return found


def _commits(context: Context) -> dict[str, CommitNode]:
    def build() -> dict[str, CommitNode]:
        found: dict[str, CommitNode] = {}
        for repo in _repos(context):
            for pr in repo.pulls.values():
                for commit in pr.commits:
                    found[commit.sha] = CommitNode(repo, commit.sha, commit.at)
        return found

    return _cached(context, "commits", build)


def _blobs(context: Context, repo: Repo) -> dict[str, BlobNode]:
    """Every file text of the repository's trees by its blob id."""

    def build() -> dict[str, BlobNode]:
        texts = {id(text): text for tree in repo.trees.values() for text in tree.values()}
        return {git_blob_sha(text): BlobNode(text) for text in texts.values()}

    return _cached(context, f"blobs:{repo.id}", build)


def _comments(context: Context, repo: Repo) -> dict[int, list[Comment]]:
    def build() -> dict[int, list[Comment]]:
        found: dict[int, list[Comment]] = {}
        for comment in sorted(repo.comments.values(), key=lambda c: c.id):
            found.setdefault(comment.issue_number, []).append(comment)
        return found

    return _cached(context, f"comments:{repo.id}", build)


def _checks(context: Context, repo: Repo) -> dict[str, list[CheckRun | Status]]:
    """The latest check run of each name and status of each context, by commit SHA."""

    def build() -> dict[str, list[CheckRun | Status]]:
        runs: dict[str, dict[str, CheckRun | Status]] = {}
        for run in repo.check_runs:
            runs.setdefault(run.head_sha, {})[f"run:{run.name}"] = run
        for status in repo.statuses:
            runs.setdefault(status.sha, {})[f"status:{status.context}"] = status
        return {sha: list(latest.values()) for sha, latest in runs.items()}

    return _cached(context, f"checks:{repo.id}", build)


def _updated(context: Context, repo: Repo, pr: PullRequest) -> datetime:
    comments = _comments(context, repo).get(pr.number)
    return max([pr.updated_at, *(c.created_at for c in comments or ())])


# --- the root and the repository ---


def repository(
    _: None, info: GraphQLResolveInfo[Context], owner: str, name: str, followRenames: bool = True
) -> Repo:
    context: Context = info.context
    wanted = f"{owner}/{name}".lower()
    for repo in _repos(context):
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
        return _commits(context).get(sha) or _blobs(context, repo).get(sha)
    text = repo.trees.get(sha, {}).get(path)
    return None if text is None else BlobNode(text)


def _pull_requests(
    repo: Repo,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    baseRefName: str | None = None,
    orderBy: dict[str, str] | None = None,
    states: list[str] | None = None,
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
        "UPDATED_AT": lambda pr: (_updated(context, repo, pr), pr.number),
        "COMMENTS": lambda pr: (len(_comments(context, repo).get(pr.number, ())), pr.number),
    }
    pulls.sort(key=keys[order], reverse=(orderBy or {}).get("direction") == "DESC")
    return connection(
        info.field_name,
        [PullNode(repo, pr) for pr in pulls],
        first=first,
        last=last,
        after=after,
        before=before,
        key=lambda _, node: node.pr.number,
    )


def _collaborators(
    repo: Repo,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    affiliation: str | None = None,
) -> dict[str, Any]:
    """The repository's collaborators by login with their roles (and a user owning it, as
    admin). Every caller may read them here; GitHub asks for push access."""
    state: State = info.context.state
    roles = dict(repo.roles)
    if repo.owner.type == "User":
        roles[repo.owner.login.lower()] = "admin"
    users = sorted((state.user(login) for login in roles), key=lambda user: user.login.lower())
    page = connection(info.field_name, users, first=first, last=last, after=after, before=before)
    for edge in page["edges"]:
        edge["permission"] = roles[edge["node"].login.lower()].upper()
    return page


def _state(pr: PullRequest) -> str:
    return "MERGED" if pr.merged else "CLOSED" if pr.state == "closed" else "OPEN"


# --- a pull request ---


def _files(
    node: PullNode,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
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
    return connection(info.field_name, files, first=first, last=last, after=after, before=before)


def _timeline_items(
    node: PullNode,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
    itemTypes: list[str] | None = None,
    since: str | None = None,
) -> dict[str, Any]:
    items = timeline(info.context, node.repo, node.pr)
    if itemTypes is not None:
        wanted = set(itemTypes)
        items = [(at, item) for at, item in items if ITEM_TYPE[_typename(item)] in wanted]
    if since is not None:
        start = datetime.fromisoformat(since)
        items = [(at, item) for at, item in items if at >= start]
    nodes = [item for _, item in items]
    return connection(info.field_name, nodes, first=first, last=last, after=after, before=before)


def _typename(item: object) -> str:
    return "IssueComment" if isinstance(item, Comment) else item.typename  # type: ignore[attr-defined]


def timeline(context: Context, repo: Repo, pr: PullRequest) -> list[tuple[datetime, object]]:
    """The pull request's timeline items, oldest first, with their times. At the same
    moment a commit comes first, and a merge's close last."""
    entries: list[tuple[datetime, int, int, object]] = []

    def add(at: datetime, rank: int, item: object) -> None:
        entries.append((at, rank, len(entries), item))

    for commit in pr.commits:
        add(commit.at, 0, Item("PullRequestCommit", repo, pr, commit))
    for review in pr.reviews:
        if review.submitted_at is not None:
            add(review.submitted_at, 1, Item("PullRequestReview", repo, pr, review, review.user))
    for comment in _comments(context, repo).get(pr.number, ()):
        add(comment.created_at, 1, comment)
    kinds = set()
    for event in pr.timeline:
        kinds.add(event.kind)
        rank = 2 if event.kind == "closed" else 1
        add(event.at, rank, Item(EVENT_TYPE[event.kind], repo, pr, event, event.actor))
    if pr.merged_at is not None and "merged" not in kinds:
        merge = TimelineEvent(0, "merged", pr.merged_by or pr.user, pr.merged_at)
        add(pr.merged_at, 1, Item("MergedEvent", repo, pr, merge, pr.merged_by))
    if pr.closed_at is not None and "closed" not in kinds:
        close = TimelineEvent(0, "closed", pr.user, pr.closed_at)
        add(pr.closed_at, 2, Item("ClosedEvent", repo, pr, close, pr.merged_by))
    entries.sort(key=lambda entry: entry[:3])
    return [(at, item) for at, _, _, item in entries]


def _commit_of(context: Context, repo: Repo, sha: str | None, at: datetime) -> CommitNode | None:
    if sha is None:
        return None
    return _commits(context).get(sha) or CommitNode(repo, sha, at)


def _item_id(item: Item) -> str:
    value = item.value
    if isinstance(value, Commit):
        return node_id("PURC", f"{item.pr.id}:{value.sha}")
    if isinstance(value, Review):
        return node_id("PRR", value.id)
    return node_id("EV", f"{item.pr.id}:{value.kind}:{value.id}:{iso(value.at)}")


def _association(info: GraphQLResolveInfo[Context], repo: Repo, user: User) -> str:
    return info.context.state.association(repo, user)


def _comment_association(comment: Comment, info: GraphQLResolveInfo[Context]) -> str:
    repo, _ = info.context.state.find_comment(comment.id)
    return _association(info, repo, comment.user)


def _rollup(commit: CommitNode, info: GraphQLResolveInfo[Context]) -> Rollup | None:
    contexts = _checks(info.context, commit.repo).get(commit.oid)
    return Rollup(commit.oid, contexts) if contexts else None


def _contexts(
    rollup: Rollup,
    info: GraphQLResolveInfo[Context],
    first: int | None = None,
    last: int | None = None,
    after: str | None = None,
    before: str | None = None,
) -> dict[str, Any]:
    return connection(
        info.field_name, rollup.contexts, first=first, last=last, after=after, before=before
    )


def _event_label(item: Item, _: object) -> dict[str, str]:
    name = item.value.label or ""
    return {"id": node_id("LA", f"{item.repo.id}:{name}"), "name": name}


def _event_commit(item: Item, info: GraphQLResolveInfo[Context]) -> CommitNode | None:
    return _commit_of(info.context, item.repo, item.pr.merge_commit_sha, item.value.at)


_EVENT_FIELDS: dict[str, Callable[..., Any]] = {
    "id": lambda item, _: _item_id(item),
    "actor": lambda item, _: item.actor,
    "createdAt": lambda item, _: iso(item.value.at),
}

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
    ("PullRequest", "authorAssociation"): lambda node, info: _association(
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
        _updated(info.context, node.repo, node.pr)
    ),
    ("PullRequest", "closedAt"): lambda node, _: iso(node.pr.closed_at),
    ("PullRequest", "mergedAt"): lambda node, _: iso(node.pr.merged_at),
    ("PullRequest", "isDraft"): lambda node, _: node.pr.draft,
    ("PullRequest", "merged"): lambda node, _: node.pr.merged,
    ("PullRequest", "mergeCommit"): lambda node, info: _commit_of(
        info.context, node.repo, node.pr.merge_commit_sha, node.pr.merged_at
    ),
    ("PullRequest", "state"): lambda node, _: _state(node.pr),
    ("PullRequest", "files"): _files,
    ("PullRequest", "timelineItems"): _timeline_items,
    ("PullRequestCommit", "id"): lambda item, _: _item_id(item),
    ("PullRequestCommit", "commit"): lambda item, _: CommitNode(
        item.repo, item.value.sha, item.value.at
    ),
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
    ("PullRequestReview", "id"): lambda item, _: _item_id(item),
    ("PullRequestReview", "databaseId"): lambda item, _: item.value.id,
    ("PullRequestReview", "author"): lambda item, _: item.value.user,
    ("PullRequestReview", "authorAssociation"): lambda item, info: _association(
        info, item.repo, item.value.user
    ),
    ("PullRequestReview", "body"): lambda item, _: item.value.body,
    ("PullRequestReview", "state"): lambda item, _: item.value.state,
    ("PullRequestReview", "commit"): lambda item, info: _commit_of(
        info.context, item.repo, item.value.commit_id, item.value.submitted_at
    ),
    ("PullRequestReview", "createdAt"): lambda item, _: iso(item.value.submitted_at),
    ("PullRequestReview", "submittedAt"): lambda item, _: iso(item.value.submitted_at),
    ("IssueComment", "authorAssociation"): _comment_association,
    **{
        (kind, name): resolve
        for kind in EVENT_TYPE.values()
        for name, resolve in _EVENT_FIELDS.items()
    },
    ("LabeledEvent", "label"): _event_label,
    ("UnlabeledEvent", "label"): _event_label,
    ("MergedEvent", "commit"): _event_commit,
    ("ReviewDismissedEvent", "previousReviewState"): lambda item, _: item.value.previous,
    ("ReviewDismissedEvent", "review"): lambda item, _: Item(
        "PullRequestReview", item.repo, item.pr, item.value.review, item.value.review.user
    ),
    ("RenamedTitleEvent", "previousTitle"): lambda item, _: item.value.previous,
    ("RenamedTitleEvent", "currentTitle"): lambda item, _: item.value.current,
}
