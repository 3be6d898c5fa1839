"""Commands by mention in PR comments: ``note`` from anyone, ``recheck`` from mergers,
``help``. Notes follow their comment: an edit updates the note, a deletion removes it.

The help, and the short reply to an unknown command, are each posted at most once per
PR: the bot's own comments on the PR are the record of what it answered (tagged with a
hidden marker), so a restart or a delivery tried again does not answer twice, and they are
read and written under the PR's comment lock, so two replicas do not either.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from gidgethub.abc import GitHubAPI
from sqlmodel import Session

from shadowbot.live import posting
from shadowbot.live.api import installation_of
from shadowbot.live.commands import Command, is_ignored_author, note_about, parse_commands
from shadowbot.live.comments import render_help, render_unknown_command
from shadowbot.live.owners import permission_of
from shadowbot.snapshot import Actor, counts_as_merger
from shadowbot.storage import records

if TYPE_CHECKING:
    from shadowbot.live.pipeline import Pipeline

#: Tags the bot's replies to unknown commands, so it sends at most one per PR.
HELP_TAG = "<!-- shadowbot-help -->"
#: Tags its reply to ``help``, likewise: someone who was told of ``help`` may still ask.
FULL_HELP_TAG = "<!-- shadowbot-help-full -->"


class CommandHandler:
    def __init__(self, pipeline: Pipeline) -> None:
        self.p = pipeline

    async def on_comment(self, action: str | None, payload: dict[str, Any]) -> None:
        issue, comment = payload["issue"], payload["comment"]
        user = comment.get("user") or {}
        login = str(user.get("login", ""))
        if "pull_request" not in issue or is_ignored_author(
            login, str(user.get("type", "")), self.p.bot_login
        ):
            return  # a plain issue, a bot, or the bot itself
        repo = payload["repository"]["full_name"]
        installation = installation_of(payload)
        commands = (
            []
            if action == "deleted"
            else parse_commands(comment.get("body") or "", self.p.settings.handle)
        )
        notes = [c.text for c in commands if c.kind == "note" and c.text.strip()]
        if notes or action != "created":  # a new comment has no note to update or remove
            await asyncio.to_thread(
                self._record_note, repo, issue, installation, comment, login, "\n\n".join(notes)
            )
        if action == "created" and commands:
            author = str((issue.get("user") or {}).get("login", ""))
            number, comment_id = int(issue["number"]), int(comment["id"])
            await self._run(repo, number, installation, comment_id, login, commands, author)

    async def _run(
        self,
        repo: str,
        number: int,
        installation: int,
        comment_id: int,
        login: str,
        commands: list[Command],
        author: str,
    ) -> None:
        silent = self.p.settings.posting_mode_for(repo) == "silent"
        gh = await self.p.github.installation(installation)
        lock = self.p.github.write_lock(installation)
        handle = self.p.settings.handle
        for command in commands:
            if command.kind == "recheck" and await self._is_merger(gh, repo, login, author):
                await self.p.reevaluate(installation, repo, number)
            elif silent:
                continue  # DESIGN.md: silent mode writes nothing to GitHub
            elif command.kind == "help":
                reply = render_help(handle=handle)
                await self._reply_once(gh, lock, repo, number, FULL_HELP_TAG, reply)
            elif command.kind == "unknown":
                reply = render_unknown_command(command.word, handle=handle)
                await self._reply_once(gh, lock, repo, number, HELP_TAG, reply)
        if not silent:
            await posting.acknowledge(gh, lock, repo, comment_id)

    async def _is_merger(self, gh: GitHubAPI, repo: str, login: str, author: str) -> bool:
        """DESIGN.md "Merger", for this PR: its author never is."""
        permission = await permission_of(gh, repo, login, self.p.cache)
        actor = Actor(login, permission=permission)
        return counts_as_merger(actor, Actor(author), self.p.settings.mergers)

    async def _reply_once(
        self, gh: GitHubAPI, lock: asyncio.Lock, repo: str, number: int, tag: str, reply: str
    ) -> None:
        """Post ``reply`` on the PR, tagged, unless a reply with that tag is there."""
        async with posting.comment_lock(self.p.database, repo, number):
            mine = await posting.own_comments(gh, repo, number, self.p.bot_login)
            if not any(tag in comment.body for comment in mine):
                await posting.upsert_comment(gh, lock, repo, number, reply + tag + "\n", None)

    def _record_note(
        self,
        repo: str,
        issue: dict[str, Any],
        installation: int,
        comment: dict[str, Any],
        login: str,
        text: str,
    ) -> None:
        comment_id = int(comment["id"])
        at = _time(comment.get("updated_at")) or datetime.now(UTC)
        names = {rule.name for rule in self.p.engine.rules}
        rule_name, text = note_about(text, names)
        with Session(self.p.database) as session:
            if not text:
                # No note (any more): a deleted comment, or an edit that removed the command.
                records.delete_note(session, comment_id, at)
            else:
                repository = records.repository(session, repo, installation)
                pr = records.pull_request_from_issue(session, repository, issue)
                records.note(session, pr, comment_id, login, text, at, rule_name)
            session.commit()


def _time(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None
