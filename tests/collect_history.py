"""A repository's past for the collector's tests: history records (docs/history-format.md)
exercising every timeline event GitHub keeps, to seed into the simulator and compare with
what ``collect`` writes back.

Deterministic for a seed. Each login has one association and one permission (mallory is a
MEMBER of the organization who may only read). Events fall on distinct
minutes. What GitHub does not keep is left out (see shadowbot.simulator.graphql_seed): files
only at opening, one result per status context per commit, titles edited but not bodies.
"""

from __future__ import annotations

import copy
import random
from typing import Any

REPO = "acme/widgets"
ALICE = {"login": "alice", "type": "User", "association": "MEMBER", "permission": "write"}
CAROL = {"login": "carol", "type": "User", "association": "COLLABORATOR", "permission": "write"}
DAVE = {"login": "dave", "type": "User", "association": "CONTRIBUTOR", "permission": "none"}
ERIN = {
    "login": "erin",
    "type": "User",
    "association": "FIRST_TIME_CONTRIBUTOR",
    "permission": "none",
}
MALLORY = {"login": "mallory", "type": "User", "association": "MEMBER", "permission": "read"}
BOT = {"login": "renovate[bot]", "type": "Bot", "association": "CONTRIBUTOR", "permission": "none"}
AUTHORS = [DAVE, ERIN, BOT, ALICE]
REVIEWERS = [ALICE, CAROL, DAVE, MALLORY]
MERGERS = [ALICE, CAROL]
CODEOWNERS = {0: "*.py @alice\n/docs/ @acme/docs\n", 1: "*.py @carol\n/docs/ @acme/docs\n"}
PATHS = ["src/widget.py", "docs/guide.md", "README.md", "src/gear.py"]


def owners_of(path: str, phase: int) -> list[str]:
    if path.startswith("docs/"):
        return ["@acme/docs"]
    if path.endswith(".py"):
        return ["alice" if phase == 0 else "carol"]
    return []


def ts(minute: int) -> str:
    day, rest = divmod(minute, 1440)
    return f"2024-{1 + day // 28:02d}-{1 + day % 28:02d}T{rest // 60:02d}:{rest % 60:02d}:00Z"


class _Timeline:
    def __init__(self, start: int) -> None:
        self.minute = start
        self.events: list[dict[str, Any]] = []

    def add(self, kind: str, **fields: Any) -> None:
        self.minute += 1
        self.events.append({"type": kind, "at": ts(self.minute), **fields})


def generate(count: int, seed: int = 7, *, phase_from: int | None = None) -> list[dict[str, Any]]:
    """``count`` records numbered from 1, opened an hour apart; those from ``phase_from`` on
    see the second CODEOWNERS. Some of the merged ones are reverted by a later record that
    says so in its body (and carry the ``reverted`` event)."""
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for index in range(count):
        number = index + 1
        phase = 0 if phase_from is None or number < phase_from else 1
        start = index * 60
        author = AUTHORS[index % len(AUTHORS)]
        tl = _Timeline(start)
        paths = rng.sample(PATHS, rng.randint(1, 3))
        files = [
            {
                "path": p,
                "status": rng.choice(["modified", "added", "removed"]),
                "additions": rng.randint(0, 40),
                "deletions": rng.randint(0, 9),
                "owners": owners_of(p, phase),
            }
            for p in paths
        ]
        draft = rng.random() < 0.2
        head = f"{number:04d}a"
        tl.events.append(
            {
                "type": "opened",
                "at": ts(start),
                "head": head,
                "draft": draft,
                "labels": ["bug"] if rng.random() < 0.3 else [],
                "files": files,
            }
        )
        reverts = None
        body = rng.choice(["", "Fixes the widget.", "Bumps gear to 2.0"])
        if records and rng.random() < 0.15:
            merged_before = [r for r in records if _merge(r) is not None and not r.get("_rev")]
            if merged_before:
                reverts = rng.choice(merged_before)
                reverts["_rev"] = True
                body = f"Reverts {REPO}#{reverts['number']}"
        heads = [head]
        _checks(rng, tl, head)
        if draft:
            tl.add("ready_for_review")
        for step in range(rng.randint(0, 2)):
            if rng.random() < 0.5:
                tl.add("converted_to_draft")
                tl.add("ready_for_review")
            reviewer = rng.choice([r for r in REVIEWERS if r is not author])
            state = rng.choice(["COMMENTED", "CHANGES_REQUESTED", "APPROVED", "DISMISSED"])
            reviewed = rng.choice(heads)
            tl.add("review", by=reviewer, state=state, commit=reviewed)
            if state in ("APPROVED", "CHANGES_REQUESTED") and rng.random() < 0.3:
                tl.add("review", by=reviewer, state="DISMISSED", commit=reviewed)
            head = f"{number:04d}{'bcdefg'[step]}"
            heads.append(head)
            tl.add("push", head=head)
            _checks(rng, tl, head)
        title = f"widget: change {number}"
        if rng.random() < 0.15:
            title = f"WIP: {title}"
            tl.add("edited", title=f"widget: change {number}")
        if rng.random() < 0.4:
            tl.add("labeled", label="needs-review")
            if rng.random() < 0.5:
                tl.add("unlabeled", label="needs-review")
        if rng.random() < 0.5:
            tl.add("comment", by=rng.choice(REVIEWERS + [author]), body="Looks fine?")
        ending = rng.random()
        merger = rng.choice(MERGERS)
        if ending < 0.12:
            tl.add("closed", by=rng.choice(MERGERS))
        elif ending < 0.2:
            tl.add("closed", by=author)
            tl.add("reopened", by=author)
            tl.add("review", by=merger, state="APPROVED", commit=head)
            tl.add("merged", by=merger, commit=head)
        elif ending < 0.3:
            pass  # still open
        else:
            tl.add("review", by=merger, state="APPROVED", commit=head)
            tl.add("merged", by=merger, commit=head)
            if rng.random() < 0.3:
                tl.add("comment", by=merger, body="Thanks!")
        record = {
            "number": number,
            "title": title,
            "body": body,
            "author": author,
            "base": "main",
            "created_at": ts(start),
            "events": tl.events,
        }
        if reverts is not None and _merge(record) is not None:
            merge = _merge(record)
            target_merge = _merge(reverts)
            if merge and target_merge and target_merge["at"] < merge["at"]:
                reverts["_reverted_by"] = (number, merge)
        records.append(record)
    for record in records:
        record.pop("_rev", None)
        reverted = record.pop("_reverted_by", None)
        if reverted is not None:
            number, merge = reverted
            event = {"type": "reverted", "at": merge["at"], "by": merge["by"], "pr": number}
            events = record["events"]
            position = len(events)
            while position and events[position - 1]["at"] > event["at"]:
                position -= 1
            events.insert(position, event)
    return records


def _merge(record: dict[str, Any]) -> dict[str, Any] | None:
    return next((e for e in record["events"] if e["type"] == "merged"), None)


def _checks(rng: random.Random, tl: _Timeline, head: str) -> None:
    if rng.random() < 0.4:
        tl.add("check", name="build", source="check_run", state="pending", commit=head)
    state = rng.choice(["success", "success", "failure", "neutral", "skipped", "cancelled"])
    tl.add("check", name="build", source="check_run", state=state, commit=head)
    if rng.random() < 0.5:
        status = rng.choice(["success", "failure", "error", "pending"])
        tl.add("check", name="ci/legacy", source="status", state=status, commit=head)


def seeded(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as the seed takes them: without their ``reverted`` events (the reverting
    record carries the revert)."""
    out = copy.deepcopy(records)
    for record in out:
        record["events"] = [e for e in record["events"] if e["type"] != "reverted"]
    return out


def normalized(record: dict[str, Any]) -> dict[str, Any]:
    """What a collected record can say: the actor of a merge, close, reopen or revert is a
    login and a type (GitHub gives no association for them, and a merger at least write)."""
    out = copy.deepcopy(record)
    for event in out["events"]:
        if event["type"] in ("merged", "closed", "reopened", "reverted"):
            by = event["by"]
            event["by"] = {"login": by["login"], "type": by.get("type", "User")}
    return out


def expected(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The records as collect should write them: in the order their timelines end."""
    return sorted(
        (normalized(r) for r in records), key=lambda r: (r["events"][-1]["at"], r["number"])
    )
