"""The immutable view of a pull request at one moment, the only input a rule ever sees.

The same type is built from the GitHub API (live) and from a history record (backtest),
so a rule cannot tell the two apart. Everything is a frozen dataclass of plain values;
derived facts (approvals on the current head, outstanding change requests) are computed
once per snapshot and cached, because every rule asks for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, Literal, TypeVar, overload

T = TypeVar("T")

UserType = Literal["User", "Bot", "Organization"]
Permission = Literal["admin", "maintain", "write", "triage", "read", "none"]
ReviewState = Literal["APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"]
FileStatus = Literal["added", "removed", "modified", "renamed", "copied", "changed", "unchanged"]
CIState = Literal["success", "failure", "pending", "neutral", "skipped", "cancelled", "error"]
CISource = Literal["check_run", "status"]

#: Permissions that make a user a merger (DESIGN.md, "Merger").
WRITE_PERMISSIONS: frozenset[str] = frozenset({"write", "maintain", "admin"})
#: CI states that do not block a merge.
GREEN_STATES: frozenset[str] = frozenset({"success", "neutral", "skipped"})


class memo(Generic[T]):  # noqa: N801 - used like @property
    """Compute once per instance, then read from the instance's ``__dict__``.

    functools.cached_property takes a lock on every first access before Python 3.12,
    which costs more than the views it caches on the backtest's hot path.
    """

    def __init__(self, function: Callable[[Any], T]) -> None:
        self.function = function
        self.name = function.__name__
        self.__doc__ = function.__doc__

    @overload
    def __get__(self, instance: None, owner: type) -> memo[T]: ...
    @overload
    def __get__(self, instance: object, owner: type) -> T: ...
    def __get__(self, instance: object | None, owner: type) -> memo[T] | T:
        if instance is None:
            return self
        value = self.function(instance)
        # Frozen dataclasses refuse setattr; the instance dict is still theirs to hold it.
        instance.__dict__[self.name] = value
        return value


@dataclass(frozen=True, slots=True)
class Actor:
    """A GitHub account as it appears on a pull request."""

    #: The account's login, as GitHub spells it (bots end in ``[bot]``).
    login: str
    #: GitHub's account type: ``User``, ``Bot`` or ``Organization``.
    type: UserType = "User"
    #: GitHub's author_association (OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE, ...).
    association: str = "NONE"
    #: The account's permission on the repository, when known.
    permission: Permission = "none"

    @property
    def is_bot(self) -> bool:
        """A ``Bot`` account, or a login ending in ``[bot]``."""
        return self.type == "Bot" or self.login.endswith("[bot]")

    @property
    def can_write(self) -> bool:
        """The permission is write, maintain or admin (``WRITE_PERMISSIONS``)."""
        return self.permission in WRITE_PERMISSIONS


def counts_as_merger(actor: Actor, author: Actor, mergers: frozenset[str]) -> bool:
    """DESIGN.md, "Merger": write, maintain or admin (or listed); never a bot or the author.
    ``mergers`` are lowered logins (``Settings.mergers``): GitHub ignores a login's case."""
    if actor.is_bot or actor.login.lower() == author.login.lower():
        return False
    return actor.permission in WRITE_PERMISSIONS or actor.login.lower() in mergers


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file of a pull request, as GitHub lists it."""

    #: The file's path from the repository root, without a leading ``/``.
    path: str
    #: GitHub's status: ``added``, ``removed``, ``modified``, ``renamed``, ``copied``, ...
    status: FileStatus = "modified"
    #: Lines added to the file.
    additions: int = 0
    #: Lines deleted from the file.
    deletions: int = 0
    #: Where a renamed or copied file came from: GitHub's ``previous_filename``.
    previous_path: str | None = None

    @property
    def paths(self) -> tuple[str, ...]:
        """Every path the change touches. A rename takes a file away from its old path as
        much as it puts one at the new path: moving ``src/main.py`` to ``docs/main.md``
        is not a documentation-only change, and the old path's owners have a say. A copy
        leaves its source as it was."""
        previous = self.previous_path
        if self.status != "renamed" or previous is None or previous == self.path:
            return (self.path,)
        return (self.path, previous)


@dataclass(frozen=True, slots=True)
class Review:
    """One submitted review."""

    #: Who reviewed, with their permission on the repository.
    author: Actor
    #: ``APPROVED``, ``CHANGES_REQUESTED``, ``COMMENTED`` or ``DISMISSED``.
    state: ReviewState
    #: The head SHA the review was submitted on.
    commit: str
    #: When GitHub recorded the review.
    submitted_at: datetime


@dataclass(frozen=True, slots=True)
class CIResult:
    """One check run or commit status reported on a commit."""

    #: The check run's name or the status's context, e.g. ``ofborg-eval``.
    name: str
    #: ``check_run`` (the Checks API) or ``status`` (the commit status API).
    source: CISource
    #: ``success``, ``failure``, ``pending``, ``neutral``, ``skipped``, ``cancelled`` or
    #: ``error``; a check run is ``pending`` until it completes.
    state: CIState
    #: The commit it reported on.
    commit: str


@dataclass(frozen=True)
class Snapshot:
    """A pull request at one moment. Rules read it; nobody writes it."""

    #: ``owner/name`` of the repository.
    repository: str
    #: The pull request's number.
    number: int
    #: Who opened it, with their permission on the repository.
    author: Actor
    #: The title as it is now.
    title: str
    #: The description as it is now (may be empty).
    body: str
    #: The branch it would merge into, e.g. ``master``.
    base: str
    #: The SHA of the current head commit.
    head_sha: str
    #: Whether it is a draft.
    draft: bool
    #: The names of its labels.
    labels: frozenset[str]
    #: Its changed files, as GitHub lists them (see ``files_missing``).
    files: tuple[FileChange, ...]
    #: Every review ever submitted, oldest first; rules usually want the derived views below.
    reviews: tuple[Review, ...]
    #: Check runs and statuses on ``head_sha`` only.
    ci: tuple[CIResult, ...]
    #: The code owners of each changed file, read from CODEOWNERS at the base.
    code_owners: Mapping[str, tuple[str, ...]]
    #: When it was opened.
    created_at: datetime
    #: The time of this snapshot: when the pull request last changed.
    updated_at: datetime
    #: ``open``, ``closed`` or ``merged``; rules are only asked about open ones.
    state: Literal["open", "closed", "merged"] = "open"
    #: Changed files that ``files`` lacks: GitHub lists at most 3000 of a pull request.
    #: A check about the changed files fails while any are missing (see ``checks``).
    files_missing: int = 0

    @memo
    def latest_reviews(self) -> Mapping[str, Review]:
        """Each reviewer's latest review that carries a decision, as GitHub counts them.

        Comments do not replace an earlier approval or change request; a dismissal does.
        https://docs.github.com/en/pull-requests/collaborating-with-pull-requests/reviewing-changes-in-pull-requests/about-pull-request-reviews
        """
        latest: dict[str, Review] = {}
        for review in self.reviews:
            if review.state != "COMMENTED":
                latest[review.author.login] = review
        return latest

    @memo
    def approvers_on_head(self) -> tuple[Actor, ...]:
        """Users whose standing review approves the current head (the author never counts)."""
        return tuple(
            r.author
            for r in self.latest_reviews.values()
            if r.state == "APPROVED"
            and r.commit == self.head_sha
            and r.author.login != self.author.login
        )

    @memo
    def changes_requested_by(self) -> tuple[Actor, ...]:
        """Users whose standing review requests changes, whatever commit it was on."""
        return tuple(
            r.author for r in self.latest_reviews.values() if r.state == "CHANGES_REQUESTED"
        )

    @memo
    def changed_lines(self) -> int:
        """Additions plus deletions over the listed files."""
        return sum(f.additions + f.deletions for f in self.files)

    def owners_of(self, path: str) -> tuple[str, ...]:
        """The code owners of a changed file's path: logins, and team names (with a ``/``)."""
        return self.code_owners.get(path, ())
