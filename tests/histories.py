"""Build history lines (docs/history-format.md) for tests, compactly."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

HEADER = {"shadowbot_history": 1, "repository": "example/pkgs"}
WRITER = {"login": "alice", "permission": "write", "association": "MEMBER"}
OTHER_WRITER = {"login": "carol", "permission": "write", "association": "MEMBER"}
OUTSIDER = {"login": "dave", "permission": "read", "association": "CONTRIBUTOR"}
AUTHOR = {"login": "erin", "permission": "none", "association": "FIRST_TIME_CONTRIBUTOR"}


def ts(minutes: int) -> str:
    return f"2024-03-{1 + minutes // 1440:02d}T{minutes % 1440 // 60:02d}:{minutes % 60:02d}:00Z"


def opened(minute: int = 0, head: str = "a1", draft: bool = False, **files: Any) -> dict[str, Any]:
    paths = files.get("paths", ["pkgs/by-name/he/hello/package.nix"])
    owners = files.get("owners", ["alice"])
    return {
        "type": "opened",
        "at": ts(minute),
        "head": head,
        "draft": draft,
        "labels": [],
        "files": [
            {"path": p, "status": "modified", "additions": 2, "deletions": 1, "owners": owners}
            for p in paths
        ],
    }


def review(minute: int, by: dict[str, Any], state: str, commit: str) -> dict[str, Any]:
    return {"type": "review", "at": ts(minute), "by": by, "state": state, "commit": commit}


def check(minute: int, commit: str, state: str = "success") -> dict[str, Any]:
    return {
        "type": "check",
        "at": ts(minute),
        "name": "build",
        "source": "check_run",
        "state": state,
        "commit": commit,
    }


def push(minute: int, head: str) -> dict[str, Any]:
    return {"type": "push", "at": ts(minute), "head": head}


def merged(minute: int, commit: str, by: dict[str, Any] = WRITER) -> dict[str, Any]:
    return {"type": "merged", "at": ts(minute), "by": by, "commit": commit}


def closed(minute: int, by: dict[str, Any] = WRITER) -> dict[str, Any]:
    return {"type": "closed", "at": ts(minute), "by": by}


def reverted(minute: int, pr: int = 999) -> dict[str, Any]:
    return {"type": "reverted", "at": ts(minute), "by": WRITER, "pr": pr}


def record(number: int, *events: dict[str, Any], author: dict[str, Any] = AUTHOR) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"hello: fix #{number}",
        "body": "",
        "author": author,
        "base": "master",
        "created_at": events[0]["at"],
        "events": list(events),
    }


def write_history(path: Path, *lines: dict[str, Any] | str, header: Any = HEADER) -> Path:
    text = "\n".join(
        line if isinstance(line, str) else json.dumps(line) for line in (header, *lines)
    )
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text + "\n")
    return path


def losses_and_a_win(path: Path, losses: int, *extra: dict[str, Any] | str) -> Path:
    """A history of ``losses`` PRs (#1, #2, …) an outsider approved that were closed
    unmerged, then PR #9, checked, approved by a writer and merged at that head, then
    ``extra``: any-approval loses the first ones and wins #9."""
    lost = [
        record(
            n,
            opened(n * 100),
            review(n * 100 + 10, OUTSIDER, "APPROVED", "a1"),
            closed(n * 100 + 20),
        )
        for n in range(1, losses + 1)
    ]
    winning = record(
        9, opened(900), check(905, "a1"), review(910, WRITER, "APPROVED", "a1"), merged(920, "a1")
    )
    return write_history(path, *lost, winning, *extra)
