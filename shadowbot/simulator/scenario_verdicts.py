"""The scenario driver, continued: mergers reacting to the bot's verdict comments.

A verdict comment is one the app's bot user wrote whose body starts with shadowbot's hidden
marker, `<!-- shadowbot-marker {json} -->` (see `format_marker` in `shadowbot.live.comments`);
in per-rule mode the marker's `rule` names the rule the comment belongs to. The marker is read
here on its own, minimally, so that the simulator does not depend on the bot it tests. A marker
on anyone else's comment is ignored: it is easy to type.
"""

from __future__ import annotations

import json
import re
from typing import Any

from shadowbot.simulator.errors import SimulatorError
from shadowbot.simulator.models import Comment, Repo
from shadowbot.simulator.scenario_activity import ActivityDriver
from shadowbot.simulator.state import State

_MARKER = re.compile(r"\s*<!-- shadowbot-marker (\{[^\n]*?\}) -->")


def marker_of(body: str) -> dict[str, Any] | None:
    """The JSON object of the marker `body` starts with, or None."""
    found = _MARKER.match(body)
    if found is None:
        return None
    try:
        data = json.loads(found.group(1))
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def find_verdict(state: State, repo: Repo, number: int, rule: str | None = None) -> Comment:
    """The newest of the bot's marked comments on pull request `number` (whose marker names
    `rule`, when given)."""
    bot = state.bot.id
    mine = [c for c in repo.comments.values() if c.issue_number == number and c.user.id == bot]
    for comment in sorted(mine, key=lambda c: c.id, reverse=True):
        marker = marker_of(comment.body)
        if marker is not None and (rule is None or marker.get("rule") == rule):
            return comment
    wanted = f" for rule {rule}" if rule else ""
    raise SimulatorError(f"no verdict comment of the bot{wanted} on {repo.full_name}#{number}")


class VerdictDriver(ActivityDriver):
    async def react_to_verdict(
        self, repo: str, number: int, user: str, content: str, *, rule: str | None = None
    ) -> int:
        """`user` reacts ("+1", "-1", ...) to the bot's verdict on the pull request (in
        per-rule mode, to `rule`'s, e.g. "docs-only@1"); the reaction's id."""
        target, _ = self._pull(repo, number)
        comment = find_verdict(self.state, target, number, rule)
        return await self.react(comment.id, user, content)

    async def unreact_to_verdict(
        self, repo: str, number: int, user: str, content: str, *, rule: str | None = None
    ) -> bool:
        """Remove that reaction again; whether there was one."""
        target, _ = self._pull(repo, number)
        comment = find_verdict(self.state, target, number, rule)
        return await self.unreact(comment.id, user, content)
