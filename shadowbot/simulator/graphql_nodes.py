"""The objects the simulator's GraphQL resolvers hand each other over its state (a pull
request with its repository, a commit, a check rollup, a file, a timeline item), their global
ids, and indexes of the state built once per request."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from graphql import GraphQLResolveInfo

from shadowbot.simulator.models import CheckRun, Comment, PullRequest, Repo, Status, User
from shadowbot.simulator.nodeids import parse_key
from shadowbot.simulator.state import git_blob_sha

if TYPE_CHECKING:
    from shadowbot.simulator.graphql_common import Context

PULL, COMMIT = "PR", "C"
_KINDS = frozenset({PULL, COMMIT})
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


def find(context: Context, global_id: str) -> object | None:
    """The pull request or commit a global id names, in the installation's repositories."""
    parsed = parse_key(global_id, _KINDS)
    if parsed is None:
        return None
    kind, key = parsed
    if kind == COMMIT:
        return commits_by_sha(context).get(key)
    for repo in repos(context):
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


def repos(context: Context) -> list[Repo]:
    installation = context.state.installation(context.installation_id)
    return [context.state.repo(name) for name in installation.repos]


def cached(context: Context, key: str, build: Callable[[], T]) -> T:
    if key not in context.cache:
        context.cache[key] = build()
    found: T = context.cache[key]
    return found


def commits_by_sha(context: Context) -> dict[str, CommitNode]:
    def build() -> dict[str, CommitNode]:
        found: dict[str, CommitNode] = {}
        for repo in repos(context):
            for pr in repo.pulls.values():
                for commit in pr.commits:
                    found[commit.sha] = CommitNode(repo, commit.sha, commit.at)
        return found

    return cached(context, "commits", build)


def blobs_by_id(context: Context, repo: Repo) -> dict[str, BlobNode]:
    """Every file text of the repository's trees by its blob id."""

    def build() -> dict[str, BlobNode]:
        texts = {id(text): text for tree in repo.trees.values() for text in tree.values()}
        return {git_blob_sha(text): BlobNode(text) for text in texts.values()}

    return cached(context, f"blobs:{repo.id}", build)


def comments_by_issue(context: Context, repo: Repo) -> dict[int, list[Comment]]:
    def build() -> dict[int, list[Comment]]:
        found: dict[int, list[Comment]] = {}
        for comment in sorted(repo.comments.values(), key=lambda c: c.id):
            found.setdefault(comment.issue_number, []).append(comment)
        return found

    return cached(context, f"comments:{repo.id}", build)


def checks_by_commit(context: Context, repo: Repo) -> dict[str, list[CheckRun | Status]]:
    """The latest check run of each name and status of each context, by commit SHA."""

    def build() -> dict[str, list[CheckRun | Status]]:
        runs: dict[str, dict[str, CheckRun | Status]] = {}
        for run in repo.check_runs:
            runs.setdefault(run.head_sha, {})[f"run:{run.name}"] = run
        for status in repo.statuses:
            runs.setdefault(status.sha, {})[f"status:{status.context}"] = status
        return {sha: list(latest.values()) for sha, latest in runs.items()}

    return cached(context, f"checks:{repo.id}", build)


def updated_at(context: Context, repo: Repo, pr: PullRequest) -> datetime:
    comments = comments_by_issue(context, repo).get(pr.number)
    return max([pr.updated_at, *(c.created_at for c in comments or ())])


def commit_of(context: Context, repo: Repo, sha: str | None, at: datetime) -> CommitNode | None:
    if sha is None:
        return None
    return commits_by_sha(context).get(sha) or CommitNode(repo, sha, at)


def association(info: GraphQLResolveInfo[Context], repo: Repo, user: User) -> str:
    return info.context.state.association(repo, user)
