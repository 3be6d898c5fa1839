"""The scenario driver, continued: reviews, checks, statuses, comments and reactions,
installation events, and the delivery tricks tests need (redelivery, forged signatures)."""

from __future__ import annotations

from typing import Any

from shadowbot.simulator import activity, payloads
from shadowbot.simulator.models import (
    CheckConclusion,
    CheckStatus,
    ReviewState,
    StatusState,
)
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.scenario import ScenarioDriver
from shadowbot.simulator.webhooks import Delivery

# A well-formed signature that no secret produced.
FORGED_SIGNATURE = "sha256=" + "0" * 64


class ActivityDriver(ScenarioDriver):
    # --- reviews, checks, statuses ---

    async def review(
        self,
        repo: str,
        number: int,
        reviewer: str,
        state: ReviewState = "APPROVED",
        *,
        body: str = "",
        commit_id: str | None = None,
    ) -> int:
        """Submit a review on the head (or `commit_id`); the review id."""
        target, pr = self._pull(repo, number)
        review, events = activity.submit_review(
            self.state, target, pr, self.state.user(reviewer), state, body=body, commit_id=commit_id
        )
        await self.emit(events)
        return review.id

    async def edit_review(self, repo: str, number: int, review_id: int, body: str) -> None:
        target, pr = self._pull(repo, number)
        editor = activity.find_review(pr, review_id).user
        await self.emit(activity.edit_review(self.state, target, pr, review_id, body, editor))

    async def dismiss_review(
        self, repo: str, number: int, review_id: int, *, sender: str | None = None
    ) -> None:
        target, pr = self._pull(repo, number)
        user = self._user(sender, target.owner)
        await self.emit(activity.dismiss_review(self.state, target, pr, review_id, user))

    async def add_check(
        self,
        repo: str,
        number: int,
        name: str,
        conclusion: CheckConclusion | None = "success",
        *,
        status: CheckStatus = "completed",
        app: str = "ci",
    ) -> int:
        """A check run on the PR's head (`check_run`, and `check_suite` completed once its
        whole suite has); the run id."""
        target, pr = self._pull(repo, number)
        run, events = activity.add_check_run(
            self.state, target, pr.head_sha, name, status=status, conclusion=conclusion, app=app
        )
        await self.emit(events)
        return run.id

    async def complete_check(
        self, repo: str, run_id: int, conclusion: CheckConclusion = "success"
    ) -> None:
        target = self.state.repo(repo)
        await self.emit(activity.complete_check_run(self.state, target, run_id, conclusion))

    async def set_status(
        self,
        repo: str,
        number: int,
        context: str,
        state: StatusState = "success",
        *,
        description: str = "",
        sender: str | None = None,
    ) -> int:
        """A commit status on the PR's head (`status`); its id."""
        target, pr = self._pull(repo, number)
        creator = self._user(sender, self.state.bot)
        item, events = activity.add_status(
            self.state, target, pr.head_sha, context, state, creator, description=description
        )
        await self.emit(events)
        return item.id

    # --- issue comments and reactions ---

    async def comment(self, repo: str, number: int, author: str, body: str) -> int:
        """An issue comment on the pull request (`issue_comment` created); its id."""
        target, pr = self._pull(repo, number)
        item, events = activity.add_comment(self.state, target, pr, self.state.user(author), body)
        await self.emit(events)
        return item.id

    async def edit_comment(self, comment_id: int, body: str, *, sender: str | None = None) -> None:
        """`issue_comment` edited, with the old body in `changes.body.from`."""
        repo, item = self.state.find_comment(comment_id)
        editor = self._user(sender, item.user)
        await self.emit(activity.edit_comment(self.state, repo, item, body, editor))

    async def delete_comment(self, comment_id: int, *, sender: str | None = None) -> None:
        repo, item = self.state.find_comment(comment_id)
        deleter = self._user(sender, item.user)
        await self.emit(activity.delete_comment(self.state, repo, item, deleter))

    async def react(self, comment_id: int, user: str, content: str) -> int:
        """Add a reaction ("+1", "-1", "eyes", ...); its id. GitHub sends no webhook for
        reactions, so neither does this: a bot learns of them by reading."""
        _, item = self.state.find_comment(comment_id)
        reaction, _ = activity.add_reaction(self.state, item, self.state.user(user), content)
        return reaction.id

    async def unreact(self, comment_id: int, user: str, content: str) -> bool:
        """Remove `user`'s `content` reaction; whether there was one."""
        _, item = self.state.find_comment(comment_id)
        login = user.lower()
        for reaction in item.reactions:
            if reaction.user.login.lower() == login and reaction.content == content:
                activity.remove_reaction(item, reaction.id)
                return True
        return False

    # --- installations and hooks ---

    async def add_repo(self, full_name: str) -> None:
        """Create a repository and add it to the installation (`installation_repositories`
        added)."""
        repo = self.state.create_repo(full_name)
        self.state.installation(self.installation_id).repos.append(repo.full_name)
        event = payloads.installation_repositories(
            self.state, self.installation_id, "added", [repo], self.state.bot
        )
        await self.emit([event])

    async def remove_repo(self, full_name: str) -> None:
        repo = self.state.repo(full_name)
        installation = self.state.installation(self.installation_id)
        installation.repos = [n for n in installation.repos if n.lower() != full_name.lower()]
        event = payloads.installation_repositories(
            self.state, self.installation_id, "removed", [repo], self.state.bot
        )
        await self.emit([event])

    async def send_installation(self, action: str = "created") -> Delivery:
        """An `installation` event (created, deleted, suspend, unsuspend, ...)."""
        installation = self.state.installation(self.installation_id)
        event = payloads.installation(self.state, installation.id, action, installation.account)
        return (await self.emit([event]))[0]

    async def ping(self) -> Delivery:
        event = payloads.ping(self.state, self.sender.hook_id, self.sender.url)
        return (await self.emit([event]))[0]

    async def redeliver(self, guid: str) -> Delivery:
        """Deliver a past delivery again, same `X-GitHub-Delivery` and body."""
        return await self.sender.redeliver(guid)

    def drop_webhooks(self, count: int = 1) -> None:
        """The next `count` webhooks are not sent: each is logged as a failed delivery ("failed
        to connect to host"), as when the bot's endpoint is down. GitHub does not retry them on
        its own; the app finds and redelivers them through `/app/hook/deliveries`:
        https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries"""
        if count < 1:
            raise ValueError("drop at least one webhook")
        self.sender.dropping += count

    async def send_forged(
        self,
        event: str = "ping",
        payload: dict[str, Any] | None = None,
        *,
        signature: str | None = FORGED_SIGNATURE,
    ) -> Delivery:
        """A delivery with a wrong `X-Hub-Signature-256` (or none, with `signature=None`)."""
        if payload is None:
            payload = payloads.ping(self.state, self.sender.hook_id, self.sender.url).payload
        return await self.sender.deliver_forged(Event(event, payload), signature=signature)
