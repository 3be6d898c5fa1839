"""The in-memory store behind the simulator: users, repositories, installations, tokens.

Lookups raise :class:`NotFound` exactly where GitHub answers 404. Owner and repository
names are case-insensitive on GitHub, so repositories are keyed by their lowered full name.
"""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from shadowbot.simulator.errors import NotFound, ValidationFailed
from shadowbot.simulator.models import (
    Comment,
    Installation,
    Permission,
    PullRequest,
    Repo,
    Token,
    User,
    UserType,
)

WRITE_ROLES: frozenset[str] = frozenset({"admin", "maintain", "write"})


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def git_blob_sha(text: str) -> str:
    """The SHA Git gives a file's content, which is what the contents API reports as `sha`."""
    data = text.encode()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class State:
    """Everything the simulated GitHub knows. Not thread-safe; one event loop owns it."""

    def __init__(
        self, *, app_id: int, app_slug: str, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.app_id = app_id
        self.app_slug = app_slug
        self.clock = clock
        # The base of every URL in a JSON body; the server sets it once it has a port.
        self.api_url = "http://127.0.0.1"
        self.users: dict[str, User] = {}
        self.repos: dict[str, Repo] = {}
        self.installations: dict[int, Installation] = {}
        self.tokens: dict[str, Token] = {}
        # Team members by lowered "org/team-slug", for CODEOWNERS entries naming teams.
        self.teams: dict[str, list[User]] = {}
        self._ids: Iterator[int] = itertools.count(1001)
        self._shas: Iterator[int] = itertools.count(1)
        # An app acts as `<slug>[bot]`, a user of type Bot.
        self.bot = self.user(f"{app_slug}[bot]", type="Bot")

    def now(self) -> datetime:
        return self.clock()

    def next_id(self) -> int:
        return next(self._ids)

    def new_sha(self) -> str:
        """A fresh 40-hex commit SHA, deterministic per simulator so runs are repeatable."""
        return hashlib.sha1(b"simulated commit %d" % next(self._shas)).hexdigest()

    # --- users and repositories ---

    def user(self, login: str, *, type: UserType = "User") -> User:
        """The user called `login`, created on first mention."""
        found = self.users.get(login.lower())
        if found is None:
            found = self.users[login.lower()] = User(login, self.next_id(), type)
        return found

    def create_repo(self, full_name: str, *, default_branch: str = "main") -> Repo:
        owner_login, _, name = full_name.partition("/")
        if not owner_login or not name or "/" in name:
            raise ValidationFailed(f"not an owner/name repository: {full_name!r}")
        if full_name.lower() in self.repos:
            raise ValidationFailed(f"repository {full_name} already exists")
        owner = self.users.get(owner_login.lower()) or self.user(owner_login, type="Organization")
        repo = Repo(self.next_id(), owner, name, default_branch=default_branch)
        first = self.new_sha()
        repo.branches[default_branch] = first
        repo.trees[first] = {}
        self.repos[full_name.lower()] = repo
        return repo

    def repo(self, full_name: str) -> Repo:
        found = self.repos.get(full_name.lower())
        if found is None:
            raise NotFound()
        return found

    def pull(self, repo: Repo, number: int) -> PullRequest:
        found = repo.pulls.get(number)
        if found is None:
            raise NotFound()
        return found

    def find_comment(self, comment_id: int) -> tuple[Repo, Comment]:
        for repo in self.repos.values():
            if comment_id in repo.comments:
                return repo, repo.comments[comment_id]
        raise NotFound()

    def installation(self, installation_id: int) -> Installation:
        found = self.installations.get(installation_id)
        if found is None:
            raise NotFound()
        return found

    def installation_of(self, repo: Repo) -> Installation | None:
        for installation in self.installations.values():
            if repo.full_name.lower() in (name.lower() for name in installation.repos):
                return installation
        return None

    # --- permissions ---

    def role_of(self, repo: Repo, login: str) -> Permission | None:
        if login.lower() == repo.owner.login.lower():
            return "admin"
        return repo.roles.get(login.lower())

    def association(self, repo: Repo, user: User) -> str:
        """`author_association` as GitHub derives it, unless the scenario fixed one:
        https://docs.github.com/en/graphql/reference/enums#commentauthorassociation"""
        login = user.login.lower()
        if login in repo.associations:
            return repo.associations[login]
        if login == repo.owner.login.lower():
            return "OWNER"
        role = repo.roles.get(login)
        if role in WRITE_ROLES and repo.owner.type == "Organization":
            return "MEMBER"
        if role is not None:
            return "COLLABORATOR"
        authored = [pr for pr in repo.pulls.values() if pr.user.login.lower() == login]
        if any(pr.merged for pr in authored):
            return "CONTRIBUTOR"
        return "FIRST_TIME_CONTRIBUTOR" if authored else "NONE"

    # --- files and refs ---

    def resolve_ref(self, repo: Repo, ref: str | None) -> str:
        """The commit SHA a branch name or SHA names; 404 for anything else."""
        if ref is None:
            return repo.branches[repo.default_branch]
        if ref in repo.branches:
            return repo.branches[ref]
        if ref in repo.trees:
            return ref
        raise NotFound(f"No commit found for the ref {ref}")

    def write_file(self, repo: Repo, path: str, text: str, *, branch: str | None = None) -> str:
        """Commit `text` at `path` on `branch` (default branch by default); the new SHA."""
        branch = branch or repo.default_branch
        parent = repo.branches.get(branch, repo.branches[repo.default_branch])
        sha = self.new_sha()
        repo.trees[sha] = {**repo.trees[parent], path: text}
        repo.branches[branch] = sha
        return sha

    def read_file(self, repo: Repo, path: str, ref: str | None = None) -> str:
        text = repo.trees[self.resolve_ref(repo, ref)].get(path)
        if text is None:
            raise NotFound()
        return text
