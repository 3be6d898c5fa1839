"""Reverts in a collected history: a merged pull request whose body says
``Reverts OWNER/REPO#N`` (GitHub's revert button writes it so) reverts #N, if #N was merged
before it. Worked out over every record of the history at the end of each run, from an
outline of each record, so that a revert collected in a later run still marks the record it
reverts."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shadowbot.offline.collect_records import Json, parse_time

_REVERTS = re.compile(r"\bReverts\s+([\w.-]+/[\w.-]+)#(\d+)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Outline:
    """What the revert pass and the ordering need of a record, without the record."""

    number: int
    #: The time its timeline ends, ``reverted`` events aside.
    ends: datetime
    #: Its ``merged`` event, if merged.
    merge: Json | None
    #: The pull requests of this repository its body says it reverts.
    reverts: tuple[int, ...]


def outline(record: Mapping[str, Any], repository: str) -> Outline:
    events = [e for e in record["events"] if e["type"] != "reverted"]
    merge = next((e for e in events if e["type"] == "merged"), None)
    targets = tuple(
        int(match.group(2))
        for match in _REVERTS.finditer(record.get("body") or "")
        if match.group(1).lower() == repository.lower()
    )
    return Outline(record["number"], parse_time(events[-1]["at"]), merge, targets)


def revert_events(outlines: Mapping[int, Outline]) -> dict[int, Json]:
    """The ``reverted`` event of each record a later merged one reverts (saying
    ``Reverts OWNER/REPO#N``), by the reverted record's number: the first such revert, at
    its merge, by its merger."""
    found: dict[int, Json] = {}
    for number in sorted(outlines):
        reverter = outlines[number]
        if reverter.merge is None:
            continue
        at = parse_time(reverter.merge["at"])
        for target_number in reverter.reverts:
            target = outlines.get(target_number)
            if target is None or target is reverter or target.merge is None:
                continue
            if target_number in found or parse_time(target.merge["at"]) > at:
                continue
            found[target_number] = {
                "type": "reverted",
                "at": reverter.merge["at"],
                "by": reverter.merge["by"],
                "pr": number,
            }
    return found


def with_revert(record: Json, revert: Json | None) -> Json:
    """``record`` with its ``reverted`` event (or none) in its place by time."""
    events = [e for e in record["events"] if e["type"] != "reverted"]
    if revert is not None:
        at = parse_time(revert["at"])
        position = len(events)
        while position > 0 and parse_time(events[position - 1]["at"]) > at:
            position -= 1
        events.insert(position, revert)
    return {**record, "events": events}
