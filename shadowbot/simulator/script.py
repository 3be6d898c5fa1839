"""Scenario scripts: a sequence of steps a demo or a test can play against the simulator.

A script is either an `async def script(sim)` coroutine function, or a list of step dicts
(loadable from JSON) such as::

    [
        {"say": "Alice opens a pull request"},
        {"do": "open_pr", "author": "alice", "title": "Fix typo", "files": ["README.md"],
         "as": "pr"},
        {"do": "review", "number": "$pr", "reviewer": "bob"},
        {"do": "sleep", "seconds": 1},
        {"do": "merge", "number": "$pr", "merger": "bob"}
    ]

`do` names a driver method (keyword arguments are the other keys), `as` names its result,
`"$name"` refers to a named result, `say` is narration, and a step without `repo` acts on
the simulator's default repository.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shadowbot.simulator.errors import SimulatorError
from shadowbot.simulator.scenario_verdicts import VerdictDriver

Step = Mapping[str, Any]
Script = Sequence[Step] | Callable[[Any], Awaitable[None]]
# Steps whose driver method acts on a repository, first.
REPO_STEPS = frozenset(
    {
        "set_codeowners", "set_file", "open_pr", "push", "edit_pr", "ready_for_review",
        "convert_to_draft", "label", "unlabel", "merge", "close", "reopen", "review",
        "edit_review", "dismiss_review", "add_check", "complete_check", "set_status", "comment",
        "react_to_verdict", "unreact_to_verdict",
    }
)  # fmt: skip
OTHER_STEPS = frozenset(
    {
        "add_user", "add_team", "edit_comment", "delete_comment", "react", "unreact", "add_repo",
        "remove_repo", "send_installation", "ping", "settle", "drop_webhooks",
    }
)  # fmt: skip
_RESERVED = frozenset({"do", "as", "say"})


def load_script(path: Path) -> list[dict[str, Any]]:
    """A list of steps from a JSON file."""
    steps = json.loads(path.read_text())
    if not isinstance(steps, list) or not all(isinstance(step, dict) for step in steps):
        raise SimulatorError(f"{path}: a scenario script is a JSON list of objects")
    return steps


async def play(
    driver: VerdictDriver, script: Script, *, narrate: Callable[[str], None] | None = None
) -> None:
    if callable(script):
        await script(driver)
        return
    results: dict[str, Any] = {}
    for index, step in enumerate(script, 1):
        try:
            await _play_step(driver, step, results, narrate)
        except SimulatorError as error:
            raise SimulatorError(f"step {index} ({step.get('do')}): {error}") from error


async def _play_step(
    driver: VerdictDriver,
    step: Step,
    results: dict[str, Any],
    narrate: Callable[[str], None] | None,
) -> None:
    if "say" in step and narrate is not None:
        narrate(str(step["say"]))
    action = step.get("do")
    if action is None:
        return
    kwargs = {key: _resolve(value, results) for key, value in step.items() if key not in _RESERVED}
    if action == "sleep":
        await asyncio.sleep(float(kwargs.get("seconds", 0)))
        return
    if action not in REPO_STEPS | OTHER_STEPS:
        raise SimulatorError(f"unknown step {action!r}")
    if action in REPO_STEPS:
        kwargs.setdefault("repo", driver.repo)
    try:
        result = getattr(driver, action)(**kwargs)
    except TypeError as error:
        raise SimulatorError(str(error)) from error
    if inspect.isawaitable(result):
        result = await result
    if "as" in step:
        results[str(step["as"])] = result


def _resolve(value: Any, results: Mapping[str, Any]) -> Any:
    if isinstance(value, str) and value.startswith("$"):
        if value[1:] not in results:
            raise SimulatorError(f"{value} names no earlier result")
        return results[value[1:]]
    if isinstance(value, list):
        return [_resolve(item, results) for item in value]
    if isinstance(value, dict):
        return {key: _resolve(item, results) for key, item in value.items()}
    return value
