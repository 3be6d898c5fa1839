"""The scenario driver: what people do on GitHub, each step changing the state and then
delivering the webhooks GitHub would send for it (awaited, so the bot has answered them by
the time a step returns).

Repositories are named `"owner/name"`; pull requests by (repository, number); comments by
their id, which is unique across repositories as on GitHub.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from shadowbot.simulator import actions
from shadowbot.simulator.actions import FileSpec
from shadowbot.simulator.models import (
    Permission,
    PullRequest,
    Repo,
    User,
    UserType,
)
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.state import State
from shadowbot.simulator.webhooks import Delivery, WebhookSender

CODEOWNERS = ".github/CODEOWNERS"


class ScenarioDriver:
    def __init__(
        self, state: State, sender: WebhookSender, installation_id: int, repo: str
    ) -> None:
        self.state = state
        self.sender = sender
        self.installation_id = installation_id
        # The default repository, which script steps use when they name none.
        self.repo = repo

    async def emit(self, events: Sequence[Event]) -> list[Delivery]:
        return [await self.sender.deliver(event) for event in events]

    async def settle(self) -> None:
        """Wait until the deliveries that API writes caused have been sent."""
        await self.sender.settle()

    def _pull(self, repo: str, number: int) -> tuple[Repo, PullRequest]:
        found = self.state.repo(repo)
        return found, self.state.pull(found, number)

    def _user(self, login: str | None, default: User) -> User:
        return default if login is None else self.state.user(login)

    # --- setup: people, permissions, files (GitHub sends no event the bot handles) ---

    def add_user(
        self,
        login: str,
        permission: Permission | None = None,
        *,
        type: UserType = "User",
        repo: str | None = None,
        association: str | None = None,
    ) -> User:
        """A user, a collaborator with `permission` on `repo` (every installed repository
        when None) if given; `association` fixes their `author_association` there."""
        user = self.state.user(login, type=type)
        user.type = type
        installation = self.state.installation(self.installation_id)
        for name in [repo] if repo else installation.repos:
            target = self.state.repo(name)
            if permission is not None:
                target.roles[login.lower()] = permission
            if association is not None:
                target.associations[login.lower()] = association
        return user

    def add_team(self, team: str, members: Iterable[str]) -> None:
        """A team `"org/slug"` (as CODEOWNERS writes `@org/slug`) and its members."""
        self.state.teams[team.lower()] = [self.state.user(login) for login in members]

    def set_codeowners(self, repo: str, text: str, *, branch: str | None = None) -> str:
        """Commit `.github/CODEOWNERS` on `branch` (the default branch); the commit SHA."""
        return self.set_file(repo, CODEOWNERS, text, branch=branch)

    def set_file(self, repo: str, path: str, text: str, *, branch: str | None = None) -> str:
        return self.state.write_file(self.state.repo(repo), path, text, branch=branch)

    # --- pull requests ---

    async def open_pr(
        self,
        repo: str,
        author: str,
        title: str,
        *,
        files: Iterable[FileSpec] = (),
        draft: bool = False,
        body: str = "",
        base: str | None = None,
        labels: Iterable[str] = (),
    ) -> int:
        """Open a pull request (`opened`, then `labeled` per label); its number."""
        target, user = self.state.repo(repo), self.state.user(author)
        pr, events = actions.open_pull(
            self.state, target, user, title, body=body, files=files, draft=draft, base=base
        )
        for name in labels:
            events += actions.add_label(self.state, target, pr, user, name)
        await self.emit(events)
        return pr.number

    async def push(
        self,
        repo: str,
        number: int,
        *,
        files: Iterable[FileSpec] = (),
        sender: str | None = None,
        message: str = "Update",
    ) -> str:
        """A new head commit (`synchronize` with `before`/`after`); its SHA."""
        target, pr = self._pull(repo, number)
        pusher = self._user(sender, pr.user)
        sha, events = actions.push(self.state, target, pr, pusher, files=files, message=message)
        await self.emit(events)
        return sha

    async def edit_pr(
        self,
        repo: str,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        base: str | None = None,
        sender: str | None = None,
    ) -> None:
        target, pr = self._pull(repo, number)
        editor = self._user(sender, pr.user)
        await self.emit(
            actions.edit_pull(self.state, target, pr, editor, title=title, body=body, base=base)
        )

    async def ready_for_review(self, repo: str, number: int, *, sender: str | None = None) -> None:
        await self._set_draft(repo, number, False, sender)

    async def convert_to_draft(self, repo: str, number: int, *, sender: str | None = None) -> None:
        await self._set_draft(repo, number, True, sender)

    async def _set_draft(self, repo: str, number: int, draft: bool, sender: str | None) -> None:
        target, pr = self._pull(repo, number)
        user = self._user(sender, pr.user)
        await self.emit(actions.set_draft(self.state, target, pr, user, draft))

    async def label(self, repo: str, number: int, name: str, *, sender: str | None = None) -> None:
        target, pr = self._pull(repo, number)
        user = self._user(sender, pr.user)
        await self.emit(actions.add_label(self.state, target, pr, user, name))

    async def unlabel(
        self, repo: str, number: int, name: str, *, sender: str | None = None
    ) -> None:
        target, pr = self._pull(repo, number)
        user = self._user(sender, pr.user)
        await self.emit(actions.remove_label(self.state, target, pr, user, name))

    async def merge(self, repo: str, number: int, *, merger: str | None = None) -> str:
        """Merge (`closed` with `merged: true`); the merge commit SHA. The merger defaults to
        the repository's owner."""
        target, pr = self._pull(repo, number)
        sha, events = actions.merge(self.state, target, pr, self._user(merger, target.owner))
        await self.emit(events)
        return sha

    async def close(self, repo: str, number: int, *, sender: str | None = None) -> None:
        target, pr = self._pull(repo, number)
        await self.emit(actions.close(self.state, target, pr, self._user(sender, pr.user)))

    async def reopen(self, repo: str, number: int, *, sender: str | None = None) -> None:
        target, pr = self._pull(repo, number)
        await self.emit(actions.reopen(self.state, target, pr, self._user(sender, pr.user)))
