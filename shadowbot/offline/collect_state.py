"""What ``shadowbot collect`` keeps beside the history it writes, so that a run killed at any
moment resumes without writing a pull request twice or losing one, and a later run reads only
what was updated since: ``FILE.collect.json`` (the filters, the last complete run's newest
update, and the run under way: its cursor and the length of ``FILE.partial`` it counts).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shadowbot.errors import ShadowbotError
from shadowbot.offline.collect_records import Json, show_time

STATE_VERSION = 1


class CollectError(ShadowbotError):
    """The collection cannot go on; the message says why and what to do."""


def unreadable(repository: str, exc: Exception) -> CollectError:
    """GitHub's NOT_FOUND, which it gives alike for a repository that does not exist and
    for one these credentials may not read."""
    return CollectError(
        f"{repository}: no such repository, or these credentials cannot read it ({exc})"
    )


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    base: str | None = None

    def as_json(self) -> Json:
        return {
            "since": show_time(self.since) if self.since else None,
            "until": show_time(self.until) if self.until else None,
            "base": self.base,
        }

    def wants(self, created: datetime) -> bool:
        return (self.since is None or created >= self.since) and (
            self.until is None or created < self.until
        )


@dataclass
class RunState:
    """The run under way."""

    #: GitHub's cursor after the last page saved; the length of the partial file then.
    cursor: str | None = None
    offset: int = 0
    #: The newest ``updatedAt`` of the run's first page: the next run's watermark.
    top: str | None = None
    #: Pull requests written; whether no page is left to read.
    done: int = 0
    finished: bool = False
    #: Whether the collaborators were asked for, and their permissions by lowered login
    #: (None when the credentials may not read them), kept so that a resumed run writes
    #: what the interrupted one would have.
    asked_collaborators: bool = False
    permissions: dict[str, str] | None = None
    #: Stopped by --limit before the older pull requests.
    limited: bool = False
    #: Pull requests read (written or not).
    scanned: int = 0

    def as_json(self) -> Json:
        return {
            "cursor": self.cursor,
            "offset": self.offset,
            "top": self.top,
            "done": self.done,
            "finished": self.finished,
            "asked_collaborators": self.asked_collaborators,
            "permissions": self.permissions,
            "limited": self.limited,
            "scanned": self.scanned,
        }


@dataclass
class CollectState:
    repository: str
    filters: Json
    watermark: str | None = None
    run: RunState | None = None

    def as_json(self) -> Json:
        return {
            "shadowbot_collect": STATE_VERSION,
            "repository": self.repository,
            "filters": self.filters,
            "watermark": self.watermark,
            "run": self.run.as_json() if self.run else None,
        }


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".collect.json")


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


def check_arguments(
    repository: str,
    out: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> tuple[str, str]:
    """(owner, name) of ``owner/name``; a :class:`CollectError` for a wrong argument."""
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name or repository != repository.strip():
        raise CollectError(f"not an owner/name repository: {repository!r}")
    if out.is_dir():
        raise CollectError(f"{out} is a directory: give the history file to write")
    if limit is not None and limit < 1:
        raise CollectError("--limit must be at least 1")
    if since and until and since >= until:
        raise CollectError("--since must be before --until")
    return owner, name


def load_state(out: Path, repository: str, filters: Filters) -> CollectState:
    path = state_path(out)
    if not path.exists():
        if out.exists():
            raise CollectError(
                f"{out} exists and was not written by collect (no {path.name} beside it):"
                " give another --out, or remove it"
            )
        return CollectState(repository, filters.as_json())
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("shadowbot_collect") != STATE_VERSION:
            raise ValueError("unknown version")
        run = saved.get("run")
        state = CollectState(
            saved["repository"],
            saved["filters"],
            saved.get("watermark"),
            RunState(**run) if isinstance(run, dict) else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectError(
            f"{path}: unreadable collect state ({exc}); remove it to start over"
        ) from None
    if state.repository.lower() != repository.lower():
        raise CollectError(f"{out} holds {state.repository}, not {repository}: give another --out")
    if state.filters != filters.as_json():
        raise CollectError(
            f"{out} was collected with other filters ({_show_filters(state.filters)}):"
            " give the same ones, or another --out"
        )
    return state


def _show_filters(filters: Json) -> str:
    shown = [f"--{key} {value}" for key, value in filters.items() if value is not None]
    return " ".join(shown) or "none"


def save_state(out: Path, state: CollectState) -> None:
    path = state_path(out)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(state.as_json(), handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


def record_line(value: Json) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def cut_partial(path: Path, length: int) -> None:
    """Cut the partial file back to what the saved state counts."""
    if not path.exists():
        if length:
            raise CollectError(
                f"{path} is missing but the collect state counts {length} bytes in it:"
                " remove the state file beside it to start over"
            )
        return
    with path.open("r+b") as handle:
        handle.truncate(length)
