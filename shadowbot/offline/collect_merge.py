"""The end of a ``shadowbot collect`` run: the records of earlier runs and of this one merged
into the history, a record fetched again replacing the old one, reverts worked out over all
of them, records ordered by the time their timeline ends; the file replaced at once."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from shadowbot.offline.collect_records import Json, parse_time
from shadowbot.offline.collect_reverts import Outline, outline, revert_events, with_revert
from shadowbot.offline.collect_state import (
    CollectState,
    RunState,
    partial_path,
    record_line,
    save_state,
)
from shadowbot.offline.history import SCHEMA_VERSION


def merge_history(out: Path, state: CollectState, repository: str) -> tuple[int, int]:
    """Merge the records of this run into ``out``; (records in it, reverts). Two passes
    over the files, holding only an outline of each record: the first finds every
    record's latest copy, its end and what it reverts; the second writes them in
    order."""
    run = state.run or RunState()
    partial = partial_path(out)
    where: dict[int, tuple[Path, int, int]] = {}
    outlines: dict[int, Outline] = {}
    for path, has_header in ((out, True), (partial, False)):
        for offset, length, record in scan_records(path, header=has_header):
            where[record["number"]] = (path, offset, length)
            outlines[record["number"]] = outline(record, repository)
    reverts = revert_events(outlines)

    def ends(number: int) -> tuple[datetime, int]:
        revert = reverts.get(number)
        end = outlines[number].ends
        return (max(end, parse_time(revert["at"])) if revert else end), number

    # A run cut short by --limit leaves older pull requests unread: the next run reads
    # from the newest down to where the last complete one began, again.
    watermark = state.watermark if run.limited else (run.top or state.watermark)
    header = {
        "shadowbot_history": SCHEMA_VERSION,
        "repository": repository,
        "description": "collected from GitHub's GraphQL API by shadowbot collect",
        "updated_through": watermark,
        **{k: v for k, v in state.filters.items() if v is not None},
    }
    temporary = out.with_name(out.name + ".tmp")
    with contextlib.ExitStack() as stack:
        handle = stack.enter_context(temporary.open("wb"))
        sources = {
            path: stack.enter_context(path.open("rb"))
            for path in {path for path, _, _ in where.values()}
        }
        handle.write(record_line(header))
        for number in sorted(where, key=ends):
            path, offset, length = where[number]
            source = sources[path]
            source.seek(offset)
            record = json.loads(source.read(length))
            handle.write(record_line(with_revert(record, reverts.get(number))))
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(out)
    state.watermark = watermark
    state.run = None
    save_state(out, state)
    with contextlib.suppress(FileNotFoundError):
        partial.unlink()
    return len(where), len(reverts)


def scan_records(path: Path, *, header: bool) -> Iterator[tuple[int, int, Json]]:
    """(offset, length, record) of each record line of ``path`` (none if it is missing)."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        if header:
            handle.readline()
        while True:
            offset = handle.tell()
            line = handle.readline()
            if not line:
                return
            if line.strip():
                yield offset, len(line), json.loads(line)
