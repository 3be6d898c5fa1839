"""One pull request's timeline: its events, and the steps that add them (open, CI, push...).

The outcome model that decides which steps happen is in ``story``.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from typing import Any

from .model import BUILDS, DAY, EVAL, HOUR, MINUTE, PROFILES, Json, Profile
from .text import stamp
from .world import World


@dataclass
class RevertPlan:
    """A merged change that will be reverted: the reverting PR is created at ``opened_at``."""

    opened_at: int
    merged_at: int
    by: Json
    target: int
    title: str
    base: str
    files: list[Json]
    event: Json  # the target's ``reverted`` event, whose ``pr`` is filled in later


@dataclass
class Timeline:
    """One pull request's timeline under construction (times are seconds from START)."""

    rng: random.Random
    world: World
    number: int
    kind: str
    author: Json
    base: str
    title: str
    files: list[Json]
    body: str = ""
    created: int = 0
    labels: list[str] = field(default_factory=list)
    x86_only: bool = False
    builds: bool = False
    deadline: int = 1 << 62  # CI reports no later than this (a revert's fixed merge time)
    events: list[tuple[int, int, Json]] = field(default_factory=list)
    seq: int = 0
    t: int = 0  # the time of the latest sequential step
    head: str = ""
    draft: bool = False
    ci_done: int = 0
    reverts: list[RevertPlan] = field(default_factory=list)
    on_merge: list[tuple[str, list[int]]] = field(default_factory=list)

    @property
    def profile(self) -> Profile:
        return PROFILES[self.kind]

    @property
    def last(self) -> int:
        return max(at for at, _, _ in self.events)

    def add(self, at: int, kind: str, **fields: Any) -> Json:
        event: Json = {"type": kind, "at": at, **fields}
        self.events.append((at, self.seq, event))
        self.seq += 1
        return event

    def wait(self, median: int, low: int = MINUTE, high: int = 20 * DAY) -> int:
        """Advance the sequential clock by a log-normal delay, clamped to [low, high]."""
        delay = int(median * math.exp(self.rng.gauss(0.0, 1.0)))
        self.t += min(high, max(low, delay))
        return self.t

    def sha(self) -> str:
        return f"{self.rng.getrandbits(48):012x}"

    def owner_actors(self) -> list[Json]:
        logins: list[str] = []
        for f in self.files:
            for login in f["owners"]:
                if login not in logins and login != self.author["login"] and "/" not in login:
                    logins.append(login)
        return [self.world.by_login[login] for login in logins]

    # -- the record ------------------------------------------------------------------

    def record(self) -> tuple[int, Json]:
        events = sorted(self.events, key=lambda item: (item[0], item[1]))
        for at, _, event in events:
            event["at"] = stamp(at)
        return events[-1][0], {
            "number": self.number,
            "title": self.title,
            "body": self.body,
            "author": self.author,
            "base": self.base,
            "created_at": stamp(self.created),
            "events": [event for _, _, event in events],
        }

    # -- steps -----------------------------------------------------------------------

    def open(self) -> None:
        rng = self.rng
        self.t = self.created
        self.head = self.sha()
        self.draft = rng.random() < self.profile.draft
        if self.draft and rng.random() < 0.5:
            self.title = "WIP: " + self.title
        self.add(self.t, "opened", head=self.head, draft=self.draft, labels=[], files=self.files)
        for label in self.labels:
            self.add(self.t + rng.randint(20, 90), "labeled", label=label)

    def ci(self, sound: bool, first: bool = False) -> None:
        """Report CI on the current head: pending, then final; failures if not ``sound``."""
        rng, head, cap = self.rng, self.head, self.deadline
        checks = [EVAL, *BUILDS] if self.builds else [EVAL]
        failing = -1 if sound else rng.choices((0, 1, 2), (1, 6, 3))[0] % len(checks)
        if failing == 2 and self.x86_only:
            failing = 1  # aarch64 is skipped for this package
        at = self.t + rng.randint(20, 120)
        for name, source in checks:
            self.add(min(at, cap), "check", name=name, source=source, state="pending", commit=head)
            at += rng.randint(0, 30)
        done = at + int(rng.uniform(8, 40) * MINUTE)
        eval_state = "failure" if failing == 0 else "success"
        self.add(
            min(done, cap), "check", name=EVAL[0], source=EVAL[1], state=eval_state, commit=head
        )
        if first:
            self.add(min(done + rng.randint(10, 60), cap), "labeled", label=self.rebuild_label())
        for index, (name, source) in enumerate(checks[1:], start=1):
            finish = done + min(12 * HOUR, int(HOUR * math.exp(rng.gauss(0.0, 0.8))))
            state = "failure" if index == failing else "success"
            if failing == 0:
                state = "cancelled"
            elif index == 2 and self.x86_only:
                state = "skipped"
            elif sound and rng.random() < 0.03:  # a flaky build, re-run green
                self.add(
                    min(finish, cap),
                    "check",
                    name=name,
                    source=source,
                    state="failure",
                    commit=head,
                )
                finish += rng.randint(10, 90) * MINUTE
            self.add(min(finish, cap), "check", name=name, source=source, state=state, commit=head)
            done = max(done, finish)
        self.ci_done = min(done, cap)

    def rebuild_label(self) -> str:
        if not self.builds:
            return "10.rebuild-linux: 0"
        if self.kind == "wide":
            return "10.rebuild-linux: " + self.rng.choice(("101-500", "501+", "1001-2500", "5001+"))
        return "10.rebuild-linux: " + ("1-10" if self.rng.random() < 0.9 else "11-100")

    def push(self, files: list[Json] | None = None) -> None:
        """A new head; the old head's runs that had not finished yet are dropped."""
        at = self.t
        old = self.head
        self.events = [
            item
            for item in self.events
            if not (item[0] > at and item[2]["type"] == "check" and item[2]["commit"] == old)
        ]
        self.head = self.sha()
        if files is None:
            self.add(at, "push", head=self.head)
        else:
            self.files = files
            self.add(at, "push", head=self.head, files=files)

    def review(self, by: Json, state: str, commit: str = "") -> None:
        self.add(self.t, "review", by=by, state=state, commit=commit or self.head)

    def comment(self, by: Json, body: str) -> None:
        self.add(self.t, "comment", by=by, body=body)

    def ready(self) -> None:
        if not self.draft:
            return
        self.t = max(self.t, self.ci_done)
        self.wait(6 * HOUR)
        self.add(self.t, "ready_for_review")
        self.draft = False
        if self.title.startswith("WIP: "):
            self.add(self.t + 5, "edited", title=self.title.removeprefix("WIP: "))
