"""The simulated GitHub's objects: plain mutable dataclasses, no I/O, no JSON.

How each object looks on the wire is :mod:`shadowbot.simulator.render`'s business; here are
only the facts a bot can observe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

UserType = Literal["User", "Bot", "Organization"]
# Repository roles; the collaborator-permission endpoint maps maintain -> write and
# triage -> read in its legacy `permission` field and keeps the role in `role_name`:
# https://docs.github.com/en/rest/collaborators/collaborators#get-repository-permissions-for-a-user
Permission = Literal["admin", "maintain", "write", "triage", "read"]
ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED", "PENDING"]
CheckStatus = Literal["queued", "in_progress", "completed"]
CheckConclusion = Literal[
    "success", "failure", "neutral", "cancelled", "skipped", "timed_out", "action_required"
]
StatusState = Literal["error", "failure", "pending", "success"]
FileStatus = Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]
# The reaction contents GitHub accepts:
# https://docs.github.com/en/rest/reactions/reactions#about-reactions
REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass
class User:
    login: str
    id: int
    type: UserType = "User"


@dataclass
class Label:
    name: str
    id: int
    color: str = "ededed"


@dataclass
class FileChange:
    """One entry of a pull request's diff, as `GET /pulls/{n}/files` lists it."""

    filename: str
    status: FileStatus = "modified"
    additions: int = 1
    deletions: int = 0
    previous_filename: str | None = None
    patch: str | None = None


@dataclass
class Commit:
    sha: str
    message: str
    author: User
    at: datetime
    parents: list[str] = field(default_factory=list)


@dataclass
class Review:
    id: int
    user: User
    state: ReviewState
    commit_id: str
    body: str
    submitted_at: datetime | None


TimelineKind = Literal[
    "labeled",
    "unlabeled",
    "ready_for_review",
    "convert_to_draft",
    "closed",
    "reopened",
    "merged",
    "renamed",
    "review_dismissed",
]


@dataclass
class TimelineEvent:
    """A moment of a pull request's life that its other fields do not keep: who labelled,
    unlabelled, marked ready, converted to draft, retitled, closed, reopened or merged it, or
    dismissed a review, and when.
    GraphQL's `timelineItems` shows them (:mod:`shadowbot.simulator.graphql_pulls`); a
    history seeded into the simulator records them (:mod:`shadowbot.simulator.graphql_seed`),
    and so do the REST endpoints and the scenario driver (:mod:`shadowbot.simulator.actions`).
    """

    id: int
    kind: TimelineKind
    actor: User
    at: datetime
    label: str | None = None
    # The titles before and after a retitling; a dismissed review's state before.
    previous: str | None = None
    current: str | None = None
    # The review a dismissal dismissed.
    review: Review | None = None


@dataclass
class PullRequest:
    number: int
    id: int
    issue_id: int
    title: str
    body: str
    user: User
    head_ref: str
    base_ref: str
    created_at: datetime
    updated_at: datetime
    draft: bool = False
    state: Literal["open", "closed"] = "open"
    labels: list[Label] = field(default_factory=list)
    files: list[FileChange] = field(default_factory=list)
    commits: list[Commit] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)
    closed_at: datetime | None = None
    merged_at: datetime | None = None
    merged_by: User | None = None
    merge_commit_sha: str | None = None
    # Events of its timeline beyond commits, reviews and comments, oldest first.
    timeline: list[TimelineEvent] = field(default_factory=list)

    @property
    def head_sha(self) -> str:
        return self.commits[-1].sha

    @property
    def merged(self) -> bool:
        return self.merged_at is not None


@dataclass
class CheckRun:
    id: int
    name: str
    head_sha: str
    status: CheckStatus
    conclusion: CheckConclusion | None
    app: str
    suite_id: int
    started_at: datetime
    completed_at: datetime | None


@dataclass
class Status:
    id: int
    sha: str
    context: str
    state: StatusState
    description: str
    target_url: str | None
    creator: User
    created_at: datetime


@dataclass
class Reaction:
    id: int
    user: User
    content: str
    created_at: datetime


@dataclass
class Comment:
    id: int
    issue_number: int
    user: User
    body: str
    created_at: datetime
    updated_at: datetime
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Repo:
    id: int
    owner: User
    name: str
    default_branch: str = "main"
    private: bool = False
    # Collaborators' roles; everyone else reads a public repository.
    roles: dict[str, Permission] = field(default_factory=dict)
    # An explicit `author_association` per login, overriding the derived one.
    associations: dict[str, str] = field(default_factory=dict)
    # Branch name -> head commit SHA, and commit SHA -> file tree (path -> text).
    branches: dict[str, str] = field(default_factory=dict)
    trees: dict[str, dict[str, str]] = field(default_factory=dict)
    # Commit SHA -> the files it changes since its branch left the base, where a seeded
    # history says so (each head of a pull request): what `GET /compare` lists for it.
    commit_files: dict[str, list[FileChange]] = field(default_factory=dict)
    labels: dict[str, Label] = field(default_factory=dict)
    pulls: dict[int, PullRequest] = field(default_factory=dict)
    comments: dict[int, Comment] = field(default_factory=dict)
    check_runs: list[CheckRun] = field(default_factory=list)
    statuses: list[Status] = field(default_factory=list)
    next_number: int = 1

    @property
    def full_name(self) -> str:
        return f"{self.owner.login}/{self.name}"


@dataclass
class Installation:
    id: int
    account: User
    repos: list[str] = field(default_factory=list)
    created_at: datetime | None = None


@dataclass
class Token:
    """An installation access token; expiry is in Unix seconds (real time)."""

    value: str
    installation_id: int
    expires_at: float
