"""Generate the bundled history: a synthetic, nixpkgs-like repository's pull requests.

    python examples/generate_history.py --output examples/history.jsonl.gz
    python examples/generate_history.py --count 100000 --seed 7 --output - | head

The output follows docs/history-format.md: the header line, then one pull request per
line, ordered by the time of its last event. It is a pure function of ``--count`` and
``--seed`` (one ``random.Random(seed)``, no clock, no set order): the same arguments give
the same bytes, given the same Python minor version (``random``) and zlib (``.gz``; the
gzip header carries no name and mtime 0).

**The repository.** ``example/pkgs``, one new pull request every ~105 minutes on average.
The history holds the pull requests that end from 2023-01-01Z on, so 10,000 of them span
about two years; a longer history runs further at the same rate, which keeps the reorder
buffer bounded. Pull requests are made from 60 days before that date, and until enough
have ended, so the history is in a steady state throughout (some opened in late 2022;
long-running pull requests end among quick ones). PR numbers rise with creation time and
skip the numbers taken by issues. Bases: ``master``; ``staging`` for most wide changes and
a few heavy package updates (~8 % in all); the stable release branch of the day
(``release-23.11`` and its neighbours) for a few backports.

**People.** 45 writers (``write``, ``MEMBER``), 5 admins (``admin``, ``OWNER`` or
``MEMBER``), 1,500 outside contributors (``read`` or ``none``; ``CONTRIBUTOR``,
``FIRST_TIME_CONTRIBUTOR`` or ``NONE``), of whom 350 maintain packages without commit
rights, and two bots: ``update-bot[bot]`` and ``dependency-bot[bot]``. Activity is skewed:
a few people author and review most pull requests.

**Files.** 3,000 packages under ``pkgs/by-name/<first two letters>/<name>/package.nix`` (a
patch file beside it in some), each with 0-3 code owners drawn from writers and outside
maintainers; documentation under ``doc/``, ``nixos/doc/manual/`` and ``*.md`` (owned by a
team or nobody); NixOS modules under ``nixos/modules/`` with their tests (some owned);
``lib/``, ``pkgs/top-level/all-packages.nix`` and ``pkgs/stdenv/`` owned by the admins. A
new package's file has no code owner yet (CODEOWNERS is read at the base).

**Kinds of pull request** (share of new ones): bot version bumps 35 % (``<pkg>: <old> ->
<new>`` by update-bot, a few GitHub Actions bumps by dependency-bot), human single-package
updates and fixes 22 %, new packages 8 %, documentation 8 %, NixOS modules 12 %, wide or
treewide changes (many packages, ``lib/``, ``stdenv``) 10 %, the rest (maintainer list, CI
workflows, the legacy package tree) 5 %. Reverts are pull requests of their own, by the
writer who reverts (a few per thousand).

**Timeline.** ``opened`` (some humans open drafts, often titled ``WIP:``, then
``ready_for_review``), a topic label, and CI on every head: the ``ci/eval`` status, and
for package changes the ``build (x86_64-linux)`` and ``build (aarch64-linux)`` check runs
(aarch64 ``skipped`` for x86-only packages), each ``pending`` then final; a rebuild label
after the first evaluation. Then reviews on the head of their time, pushes (each with new
CI; the old head's unfinished runs vanish), comments, an occasional ``edited``,
``converted_to_draft`` or ``reopened``, and the end: ``merged`` by a writer at the current
head, ``closed``, or nothing (still open). A merged change may be ``reverted`` days later.

**Outcome model.** Every head has a latent quality: *flawed* (a visible defect a careful
reviewer sees; the first head is flawed with a probability that depends on the kind and
the author, a fix push yields a sound head with probability 0.85) or *sound*. CI fails on
a flawed head with a per-kind probability (90 % for bot bumps, less for human changes); on
a sound head it is always green in the end (a flaky build failure is re-run green). Code
owners and writers are careful: they review after CI and approve exactly the sound heads;
on a flawed one they request changes (or comment on a red build), after which the author
pushes a fix (re-reviewed, usually by the same person) or the pull request is closed or
abandoned. Once a careful reviewer approved a sound head, the pull request is merged at
it, or at a later sound head pushed after the approval (a rebase or a nit, not always
re-approved), and nobody objects afterwards (wide changes aside, see below). Outside
contributors' reviews are unreliable: they approve a flawed head about half the time (less
often when CI is red), after which a careful reviewer is more likely to step in and
request changes, or the pull request is closed or abandoned, or (rarely, a quarter of the
unchallenged cases) a writer merges it anyway and a writer reverts it days later. Sound
heads nobody careful reviewed are often merged by a writer without any approval; flawed
ones so merged are reverted. Only wide changes carry a hidden risk no reviewer can see:
3 % of merged wide changes are reverted days later, and 2 % of approved ones draw a second
writer's change request. So documentation approved by a writer, bot bumps approved by a
code owner with green CI and single-package changes approved by their code owners are
never objected to, closed or reverted, while an outsider's approval is a poor predictor,
and writer-approved wide changes are a medium risk.
"""

from __future__ import annotations

import argparse
import gzip
import heapq
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Json = dict[str, Any]

REPOSITORY = "example/pkgs"
DOCS_TEAM = "@example/documentation-team"
ALL_PACKAGES = "pkgs/top-level/all-packages.nix"
START = 1672531200  # 2023-01-01T00:00:00Z
MEAN_GAP = 6300  # seconds between new pull requests, on average
WARM_UP = 60 * 86400  # pull requests are made from 60 days before START
FIRST_NUMBER = 207_500
MINUTE, HOUR, DAY = 60, 3600, 86400

EVAL = ("ci/eval", "status")
BUILDS = (("build (x86_64-linux)", "check_run"), ("build (aarch64-linux)", "check_run"))

_SYLLABLES = (
    "ba ce di fo gu ka le mi no pu ra se ti vo zu xa qu wy ly ne ar el in or um "
    "to sa ri ko be na ju ve hi mo ga ze"
).split()
_TOPICS = (
    "python", "rust", "golang", "haskell", "qt/kde", "gnome", "games", "lua", "ocaml",
    "nodejs", "perl", "ruby", "emacs", "vim", "kernel", "security",
)  # fmt: skip
_DOCS = (
    "doc/languages-frameworks/python.section.md", "doc/languages-frameworks/rust.section.md",
    "doc/languages-frameworks/go.section.md", "doc/languages-frameworks/haskell.section.md",
    "doc/languages-frameworks/javascript.section.md", "doc/stdenv/stdenv.chapter.md",
    "doc/stdenv/meta.chapter.md", "doc/stdenv/cross-compilation.chapter.md",
    "doc/build-helpers/fetchers.chapter.md", "doc/build-helpers/trivial-build-helpers.chapter.md",
    "doc/using/overlays.chapter.md", "doc/contributing/reviewing-contributions.chapter.md",
    "nixos/doc/manual/configuration/user-mgmt.chapter.md",
    "nixos/doc/manual/configuration/networking.chapter.md",
    "nixos/doc/manual/development/writing-modules.chapter.md",
    "nixos/doc/manual/installation/installing.chapter.md",
    "README.md", "CONTRIBUTING.md", "pkgs/README.md", "nixos/README.md",
)  # fmt: skip
_CORE = (
    "lib/attrsets.nix", "lib/lists.nix", "lib/strings.nix", "lib/modules.nix",
    "lib/options.nix", "lib/types.nix", "lib/trivial.nix", "lib/customisation.nix",
    "pkgs/stdenv/generic/setup.sh", "pkgs/stdenv/generic/make-derivation.nix",
    "pkgs/build-support/fetchurl/default.nix", "pkgs/build-support/trivial-builders/default.nix",
)  # fmt: skip
_FIXES = (
    "fix build with gcc 13", "add meta.mainProgram", "modernize", "enable tests",
    "fix cross compilation", "patch CVE",
)  # fmt: skip
_DOC_EDITS = ("fix typo in", "clarify", "update links in", "expand")
_MODULE_EDITS = (
    "add package option", "fix startup", "harden systemd unit", "add settings option",
    "use RFC 42 settings",
)  # fmt: skip
_CORE_EDITS = ("add a helper", "fix an edge case", "refactor")
_TREEWIDE_EDITS = (
    "remove unused inputs", "use finalAttrs", "fix meta.license", "drop python 3.8 support",
    "migrate to by-name",
)  # fmt: skip
_WORKFLOWS = ("eval", "check-by-name", "labels", "editorconfig", "manual", "backport")
_ACTIONS = ("actions/checkout", "cachix/install-nix-action", "actions/github-script")
_SERVICE_AREAS = ("networking", "web-servers", "databases", "monitoring", "misc", "mail")


@dataclass(frozen=True, slots=True)
class Profile:
    """How a kind of pull request behaves; every figure is a probability."""

    flawed: float  # the first head is flawed
    ci_catches: float  # CI fails on a flawed head
    builds: bool  # the change is built (the two build check runs)
    outsider: float  # an outside contributor reviews a head
    careful: float  # a code owner or writer reviews a head
    owner_first: float  # that careful reviewer is a code owner, when there is one
    fix: float  # after a rejection the author pushes a fix
    unreviewed_merge: float  # a sound, green head nobody careful reviewed is merged
    draft: float = 0.0
    hidden: float = 0.0  # a merged change is reverted all the same
    late_objection: float = 0.0  # a second writer objects after an approval
    review_wait: int = DAY  # median time to a review
    merge_wait: int = 2 * HOUR  # median time from approval to merge


# Positional fields: flawed, ci_catches, builds, outsider, careful, owner_first, fix,
# unreviewed_merge.
PROFILES: dict[str, Profile] = {
    "bump": Profile(0.18, 0.9, True, 0.08, 0.6, 0.92, 0.4, 0.5, review_wait=12 * HOUR,
                    merge_wait=40 * MINUTE),
    "actions": Profile(0.05, 0.9, False, 0.05, 0.6, 0.8, 0.3, 0.4, merge_wait=HOUR),
    "pkg": Profile(0.18, 0.5, True, 0.2, 0.6, 0.8, 0.7, 0.25, draft=0.08),
    "new": Profile(0.4, 0.3, True, 0.2, 0.6, 0.0, 0.75, 0.05, draft=0.1,
                   review_wait=3 * DAY),
    "docs": Profile(0.15, 0.2, False, 0.2, 0.6, 0.0, 0.7, 0.25, draft=0.05),
    "module": Profile(0.2, 0.4, True, 0.18, 0.55, 0.6, 0.65, 0.2, draft=0.1),
    "wide": Profile(0.25, 0.5, True, 0.15, 0.7, 0.5, 0.7, 0.25, draft=0.25, hidden=0.03,
                    late_objection=0.02, review_wait=2 * DAY, merge_wait=6 * HOUR),
    "misc": Profile(0.1, 0.3, False, 0.15, 0.5, 0.7, 0.6, 0.4),
    "revert": Profile(0.0, 0.0, True, 0.0, 0.0, 0.0, 0.0, 1.0),
}  # fmt: skip
KINDS = ("bump", "actions", "pkg", "new", "docs", "module", "wide", "misc")
KIND_WEIGHTS = (32, 3, 22, 8, 8, 12, 10, 5)

COMMENTS = (
    "Result of `nixpkgs-review` run on x86_64-linux: 1 package built.",
    "Tested on my machine, works for me.",
    "Could you squash the commits?",
    "Is this change needed on staging too?",
    "Thanks!",
)


def actor(login: str, permission: str, association: str, kind: str = "User") -> Json:
    return {"login": login, "type": kind, "association": association, "permission": permission}


@dataclass(frozen=True, slots=True)
class Package:
    name: str
    directory: str
    owners: list[str]
    topic: str
    has_patch: bool
    x86_only: bool


class World:
    """The repository's people and files, drawn once from the seed."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._taken: dict[str, None] = {}
        self.writers = [actor(self._name(), "write", "MEMBER") for _ in range(45)]
        self.admins = [
            actor(self._name(), "admin", "OWNER" if i < 2 else "MEMBER") for i in range(5)
        ]
        self.maintainers = [actor(self._name(), "read", "CONTRIBUTOR") for _ in range(350)]
        self.outsiders = self.maintainers + [self._outsider() for _ in range(1150)]
        self.update_bot = actor("update-bot[bot]", "none", "CONTRIBUTOR", "Bot")
        self.dependency_bot = actor("dependency-bot[bot]", "none", "NONE", "Bot")
        self.by_login = {a["login"]: a for a in self.writers + self.admins + self.outsiders}
        self.packages = [self._package() for _ in range(3000)]
        self.versions = {p.name: self.version() for p in self.packages}
        self.modules = [self._module() for _ in range(400)]
        admins = [a["login"] for a in self.admins]
        self.core_owners = {path: sorted(rng.sample(admins, 2)) for path in _CORE}
        self.core_owners[ALL_PACKAGES] = admins[:2]
        self.workflow_owners = [w["login"] for w in rng.sample(self.writers, 2)]
        # Cumulative Zipf-like weights: a few people and packages get most of the activity.
        self.writer_weights = _zipf(len(self.writers), 0.8)
        self.outsider_weights = _zipf(len(self.outsiders), 0.9)
        self.package_weights = _zipf(len(self.packages), 0.7)

    def fresh_name(self, parts: int = 0) -> str:
        """A pronounceable name, not necessarily unused (new packages' names)."""
        rng = self.rng
        name = "".join(rng.choice(_SYLLABLES) for _ in range(parts or rng.randint(2, 4)))
        return name + str(rng.randint(1, 99)) if rng.random() < 0.2 else name

    def _name(self, parts: int = 0) -> str:
        while True:
            name = self.fresh_name(parts)
            if name not in self._taken:
                self._taken[name] = None
                return name

    def _outsider(self) -> Json:
        rng = self.rng
        association = rng.choices(("CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "NONE"), (5, 2, 3))
        return actor(self._name(), "read" if rng.random() < 0.6 else "none", association[0])

    def _package(self) -> Package:
        rng = self.rng
        name = rng.choice(("", "", "", "", "lib", "py", "go-", "perl-")) + self._name(2)
        name += rng.choice(("", "", "", "", "d", "ctl", "fs", "-cli", "-utils", "2", "js"))
        owners: list[str] = []
        for _ in range(rng.choices((0, 1, 2, 3), (15, 45, 28, 12))[0]):
            pool = self.writers if rng.random() < 0.35 else self.maintainers
            login = rng.choice(pool)["login"]
            if login not in owners:
                owners.append(login)
        topic = rng.choice(_TOPICS) if rng.random() < 0.4 else ""
        directory = f"pkgs/by-name/{name[:2]}/{name}"
        return Package(name, directory, owners, topic, rng.random() < 0.15, rng.random() < 0.05)

    def version(self) -> list[int]:
        rng = self.rng
        if rng.random() < 0.1:
            return [rng.randint(2019, 2022), rng.randint(1, 12), rng.randint(1, 28)]
        return [rng.randint(0, 9), rng.randint(0, 30), rng.randint(0, 12)]

    def _module(self) -> tuple[str, str, list[str]]:
        rng = self.rng
        name = self._name(2)
        path = f"nixos/modules/services/{rng.choice(_SERVICE_AREAS)}/{name}.nix"
        owners = [w["login"] for w in rng.sample(self.writers + self.maintainers[:60], 1)]
        return name, path, owners if rng.random() < 0.45 else []

    def writer(self, not_login: str = "") -> Json:
        while True:
            chosen = self.rng.choices(self.writers, cum_weights=self.writer_weights)[0]
            if chosen["login"] != not_login:
                return chosen

    def outsider(self, exclude: Sequence[str] = ()) -> Json:
        while True:
            chosen = self.rng.choices(self.outsiders, cum_weights=self.outsider_weights)[0]
            if chosen["login"] not in exclude:
                return chosen

    def package(self) -> Package:
        return self.rng.choices(self.packages, cum_weights=self.package_weights)[0]


def _zipf(n: int, exponent: float) -> list[float]:
    total = 0.0
    weights = []
    for rank in range(1, n + 1):
        total += rank**-exponent
        weights.append(total)
    return weights


def stamp(seconds: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(START + seconds))


def release_branch(seconds: int) -> str:
    """The stable branch of the day: 23.05 from June 2023, 23.11 from December, and so on."""
    year, month = time.gmtime(START + seconds)[:2]
    if month == 12:
        return f"release-{year % 100}.11"
    if month >= 6:
        return f"release-{year % 100}.05"
    return f"release-{year % 100 - 1}.11"


def next_release_notes(seconds: int) -> str:
    year, month = time.gmtime(START + seconds)[:2]
    upcoming = f"{year % 100}05" if month <= 5 else f"{year % 100}11"
    if month == 12:
        upcoming = f"{year % 100 + 1}05"
    return f"nixos/doc/manual/release-notes/rl-{upcoming}.section.md"


def file(path: str, status: str, additions: int, deletions: int, owners: list[str]) -> Json:
    return {
        "path": path,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "owners": owners,
    }


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
class PullRequest:
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

    # -- the outcome model -----------------------------------------------------------

    def play(self) -> None:
        """Open the pull request and run it to its end (module docstring, outcome model)."""
        rng, prof = self.rng, self.profile
        self.open()
        if self.author["type"] != "Bot" and rng.random() < 0.06:
            at = self.t + rng.randint(60, 4 * HOUR)
            self.add(at, "edited", body=(self.body + "\n\nTested with nixpkgs-review.").strip())
        sound = rng.random() >= self.flaw_chance()
        reviewer: Json | None = None
        for round_ in range(4):
            green = sound or rng.random() >= prof.ci_catches
            self.ci(green, first=round_ == 0)
            self.ready()
            vouched = self.outsider_review(sound, green)
            reviewer = self.careful_review(sound, green, vouched, reviewer)
            if reviewer is not None and sound:
                objector = self.finish(reviewer)
                if objector is None:
                    return
                reviewer = objector
            elif reviewer is None and self.unreviewed(sound, green, vouched):
                return
            last_try = round_ == 3
            if (last_try or rng.random() >= prof.fix) and not self.give_up(reopen=not last_try):
                return
            sound = self.fix(reviewer)

    def flaw_chance(self) -> float:
        chance = self.profile.flawed
        if self.author["permission"] in ("write", "admin"):
            return chance * 0.5
        if self.author["association"] == "FIRST_TIME_CONTRIBUTOR":
            return min(0.9, chance * 1.4)
        return chance

    def outsider_review(self, sound: bool, green: bool) -> bool:
        """Maybe an outside contributor reviews the head; True if they approved it."""
        rng = self.rng
        if rng.random() >= self.profile.outsider:
            return False
        exclude = [self.author["login"]] + [login for f in self.files for login in f["owners"]]
        by = self.world.outsider(exclude)
        weights = (75, 22, 3) if sound else (50, 35, 15) if green else (20, 50, 30)
        state = rng.choices(("APPROVED", "COMMENTED", "CHANGES_REQUESTED"), weights)[0]
        self.wait(self.profile.review_wait // 2)
        self.review(by, state)
        if state == "COMMENTED" and rng.random() < 0.5:
            self.comment(by, COMMENTS[rng.randrange(3)])
        return state == "APPROVED"

    def careful_review(
        self, sound: bool, green: bool, vouched: bool, previous: Json | None
    ) -> Json | None:
        """Maybe a code owner or writer reviews: approves a sound head, rejects a flawed one."""
        rng, prof = self.rng, self.profile
        chance = prof.careful
        if vouched and not sound:
            chance = 1 - (1 - chance) * 0.4  # an outsider's approval draws a writer's look
        if previous is not None:
            chance = max(chance, 0.85)
        if rng.random() >= chance:
            # Nobody came; a while later (after a ping, for humans) somebody might.
            if rng.random() >= 0.5:
                return None
            self.wait(3 * DAY)
            if self.author["type"] != "Bot" and rng.random() < 0.5:
                self.comment(self.author, "Friendly ping, could someone review this?")
            if rng.random() >= chance:
                return None
        reviewer = previous if previous is not None and rng.random() < 0.85 else self.careful()
        self.t = max(self.t, self.ci_done)
        self.wait(prof.review_wait)
        if sound:
            self.review(reviewer, "APPROVED")
            if rng.random() < 0.25:
                self.add(self.t + rng.randint(30, 300), "labeled", label="12.approvals: 1")
            elif self.author["type"] != "Bot" and rng.random() < 0.15:
                self.comment(reviewer, COMMENTS[0])
            return reviewer
        state = "COMMENTED" if not green and rng.random() < 0.4 else "CHANGES_REQUESTED"
        self.review(reviewer, state)
        if rng.random() < 0.3:
            self.comment(reviewer, COMMENTS[2 + rng.randrange(2)])
        return reviewer

    def careful(self, exclude: str = "") -> Json:
        """A careful reviewer: one of the files' code owners, or else a writer (or admin)."""
        rng = self.rng
        owners = [o for o in self.owner_actors() if o["login"] != exclude]
        if owners and rng.random() < self.profile.owner_first:
            return rng.choice(owners)
        if self.kind == "wide" and rng.random() < 0.3:
            admins = [a for a in self.world.admins if a["login"] != self.author["login"]]
            return rng.choice(admins)
        while True:
            writer = self.world.writer(self.author["login"])
            if writer["login"] != exclude:
                return writer

    def finish(self, approver: Json) -> Json | None:
        """After a careful approval of a sound head: merge, or return a late objector."""
        rng, prof = self.rng, self.profile
        if rng.random() < prof.late_objection:  # a hidden risk that a second writer saw
            objector = self.careful(exclude=approver["login"])
            self.wait(prof.review_wait)
            self.review(objector, "CHANGES_REQUESTED")
            return objector
        if rng.random() < 0.2:
            self.wait(prof.review_wait)
            self.review(self.careful(exclude=approver["login"]), "APPROVED")
            if rng.random() < 0.3:
                self.add(self.t + rng.randint(30, 300), "labeled", label="12.approvals: 2")
        if rng.random() < 0.1:  # a rebase or a nit after the approval
            self.wait(4 * HOUR)
            self.push()
            self.ci(True)
            if rng.random() < 0.4:
                self.t = max(self.t, self.ci_done)
                self.wait(prof.review_wait)
                self.review(approver, "APPROVED")
        self.merge(approver)
        return None

    def unreviewed(self, sound: bool, green: bool, vouched: bool) -> bool:
        """Nobody careful looked at the head; True if the pull request ended here."""
        rng, prof = self.rng, self.profile
        if sound:
            merge = max(prof.unreviewed_merge, 0.8) if vouched else prof.unreviewed_merge
            if rng.random() < merge:
                self.merge(None)
            elif rng.random() < 0.35:
                self.abandon()
            else:
                self.give_up(reopen=False)
            return True
        if green and vouched and rng.random() < 0.25:
            self.merge(None, doomed=True)  # merged on the outsider's word, reverted later
            return True
        if green and rng.random() < prof.unreviewed_merge * 0.1:
            self.merge(None, doomed=True)
            return True
        return False

    def fix(self, reviewer: Json | None) -> bool:
        """The author pushes a fix; returns whether the new head is sound."""
        rng = self.rng
        old = self.head
        self.t = max(self.t, self.ci_done)
        self.wait(DAY)
        if self.author["type"] != "Bot" and not self.draft and rng.random() < 0.1:
            self.add(self.t, "converted_to_draft")
            self.draft = True
            self.wait(HOUR)
        files = None
        if self.kind == "pkg" and len(self.files) == 1 and rng.random() < 0.3:
            directory = self.files[0]["path"].rsplit("/", 1)[0]
            patch = file(
                f"{directory}/fix-build.patch",
                "added",
                rng.randint(8, 60),
                0,
                self.files[0]["owners"],
            )
            files = [*self.files, patch]
        self.push(files)
        if reviewer is not None and rng.random() < 0.12:
            self.review(reviewer, "DISMISSED", commit=old)
        return rng.random() < 0.85

    def merge(self, approver: Json | None, doomed: bool = False) -> None:
        rng = self.rng
        self.t = max(self.t, self.last)
        self.wait(self.profile.merge_wait, high=5 * DAY)
        if approver is not None and approver["permission"] != "read" and rng.random() < 0.7:
            merger = approver
        elif self.author["permission"] in ("write", "admin") and rng.random() < 0.5:
            merger = self.author
        else:
            merger = self.world.writer()
        self.add(self.t, "merged", by=merger, commit=self.head)
        for name, version in self.on_merge:
            self.world.versions[name] = version
        if doomed or rng.random() < self.profile.hidden:
            self.schedule_revert()
        elif rng.random() < 0.08:
            self.wait(DAY)
            self.comment(merger, "Backport to the release branch?")

    def schedule_revert(self) -> None:
        reverter = self.world.writer()
        self.wait(2 * DAY, low=3 * HOUR, high=10 * DAY)
        opened = self.t
        self.comment(reverter, "This broke dependent packages on Hydra; reverting.")
        self.wait(HOUR, low=10 * MINUTE, high=8 * HOUR)
        event = self.add(self.t, "reverted", by=reverter, pr=0)
        swapped = {"added": "removed", "removed": "added"}
        files = [
            {
                **f,
                "status": swapped.get(f["status"], f["status"]),
                "additions": f["deletions"],
                "deletions": f["additions"],
            }
            for f in self.files
        ]
        title = self.title.removeprefix("WIP: ")
        plan = RevertPlan(opened, self.t, reverter, self.number, title, self.base, files, event)
        self.reverts.append(plan)

    def abandon(self) -> None:
        if self.rng.random() < 0.3:
            self.wait(20 * DAY, low=DAY, high=60 * DAY)
            self.add(self.t, "labeled", label="2.status: merge conflict")

    def give_up(self, reopen: bool = True) -> bool:
        """Closed or abandoned; True if the author reopened it to try again."""
        rng = self.rng
        if rng.random() < 0.2:
            self.abandon()
            return False
        self.t = max(self.t, self.last)
        self.wait(4 * DAY, high=40 * DAY)
        if self.author["type"] == "Bot" and rng.random() < 0.7:
            closer = self.author  # the bot closes a bump a newer version superseded
        elif rng.random() < 0.4 and self.author["type"] != "Bot":
            closer = self.author
        else:
            closer = self.world.writer()
        self.add(self.t, "closed", by=closer)
        if reopen and self.author["type"] != "Bot" and rng.random() < 0.12:
            self.wait(3 * DAY)
            self.add(self.t, "reopened", by=self.author)
            return True
        return False


def version_text(version: list[int]) -> str:
    return ".".join(str(part) for part in version)


def bumped(rng: random.Random, version: list[int]) -> list[int]:
    if version[0] >= 2000:  # a date version: a later month
        year, month = version[:2]
        return [year + (month == 12), month % 12 + 1, rng.randint(1, 28)]
    level = rng.choices((2, 1, 0), (60, 30, 10))[0]
    return [*version[:level], version[level] + 1] + [0] * (2 - level)


class Stream:
    """Makes pull requests in creation order and emits them in the order they end."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.number = FIRST_NUMBER
        # (opened_at, target number, plan): reverting pull requests still to be created.
        self.scheduled: list[tuple[int, int, RevertPlan]] = []
        # (end time, number, record): the reorder buffer, bounded by the longest timeline.
        self.finished: list[tuple[int, int, Json]] = []
        self.builders = {
            "bump": self.bump,
            "actions": self.actions,
            "pkg": self.package_change,
            "new": self.new_package,
            "docs": self.docs,
            "module": self.module,
            "wide": self.wide,
            "misc": self.misc,
        }
        self.kind_weights = list(_cumulative(KIND_WEIGHTS))

    def records(self, count: int) -> Iterator[Json]:
        """Yield ``count`` records, each once no later pull request can end before it."""
        rng = self.rng
        # Start early, and stop once enough have ended: the history is in a steady state
        # from its first record to its last, long-running pull requests ending among quick
        # ones, instead of quick ones first and long ones last.
        arrival = -WARM_UP
        emitted = 0
        while emitted < count:
            if self.scheduled and self.scheduled[0][0] <= arrival:
                pr = self.revert(heapq.heappop(self.scheduled)[2])
            else:
                kind = rng.choices(KINDS, cum_weights=self.kind_weights)[0]
                pr = self.builders[kind](arrival)
                pr.play()
                arrival += 1 + int(rng.expovariate(1 / MEAN_GAP))
            for plan in pr.reverts:
                heapq.heappush(self.scheduled, (plan.opened_at, plan.target, plan))
            end, record = pr.record()
            if end >= 0:  # what ended before START is not part of the history
                heapq.heappush(self.finished, (end, pr.number, record))
            # Every later pull request is created at or after this one and ends after it (so
            # the reverting pull request of an emitted record was made, and named, before).
            while self.finished and self.finished[0][0] <= pr.created and emitted < count:
                yield heapq.heappop(self.finished)[2]
                emitted += 1

    def next_number(self) -> int:
        # Issues share the numbering, so pull request numbers skip some.
        self.number += 1 if self.rng.random() < 0.7 else self.rng.randint(2, 4)
        return self.number

    def pr(
        self, kind: str, created: int, author: Json, title: str, files: list[Json],
        base: str = "master", topic: str = "",
    ) -> PullRequest:  # fmt: skip
        rng = self.rng
        pr = PullRequest(rng, self.world, self.next_number(), kind, author, base, title, files)
        pr.created = created
        pr.body = "" if author["type"] == "Bot" else _body(rng)
        pr.labels = [f"6.topic: {topic}"] if topic else []
        touches_packages = any(f["path"].startswith("pkgs/") for f in files)
        pr.builds = PROFILES[kind].builds and (touches_packages or kind == "module")
        return pr

    def human(self, writers: float, owners: Sequence[str] = (), as_owner: float = 0.0) -> Json:
        """An author: one of ``owners`` (with ``as_owner``), a writer, or an outsider."""
        rng, world = self.rng, self.world
        if owners and rng.random() < as_owner:
            return world.by_login[rng.choice(owners)]
        if rng.random() < writers:
            return world.admins[rng.randrange(5)] if rng.random() < 0.1 else world.writer()
        return world.outsider()

    def base(self, created: int, staging: float, release: float) -> str:
        roll = self.rng.random()
        if roll < staging:
            return "staging"
        return release_branch(created) if roll < staging + release else "master"

    def change(self, path: str, owners: list[str], added: int, deleted: int) -> Json:
        """A modified file with up to ``added`` lines added and ``deleted`` removed."""
        rng = self.rng
        return file(path, "modified", rng.randint(1, added), rng.randint(0, deleted), owners)

    def bump(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        package = world.package()
        old = world.versions[package.name]
        new = bumped(rng, old)
        title = f"{package.name}: {version_text(old)} -> {version_text(new)}"
        files = [file(f"{package.directory}/package.nix", "modified", 2, 2, package.owners)]
        base = "staging" if rng.random() < 0.03 else "master"
        pr = self.pr("bump", created, world.update_bot, title, files, base, package.topic)
        pr.body = (
            f"Automatic update by update-bot.\n\nChangelog: https://example.org/{package.name}"
        )
        pr.x86_only = package.x86_only
        pr.on_merge.append((package.name, new))
        return pr

    def actions(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        action = rng.choice(_ACTIONS)
        major, minor = rng.randint(2, 5), rng.randint(0, 9)
        title = f"build(deps): bump {action} from {major}.{minor}.0 to {major}.{minor + 1}.0"
        path = f".github/workflows/{rng.choice(_WORKFLOWS)}.yml"
        files = [file(path, "modified", 1, 1, world.workflow_owners)]
        pr = self.pr("actions", created, world.dependency_bot, title, files, "master", "ci")
        pr.body = f"Bumps {action}."
        return pr

    def package_change(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        package = world.package()
        author = self.human(0.35, package.owners, as_owner=0.45)
        path = f"{package.directory}/package.nix"
        new: list[int] = []
        if rng.random() < 0.5:
            old = world.versions[package.name]
            new = bumped(rng, old)
            title = f"{package.name}: {version_text(old)} -> {version_text(new)}"
            files = [self.change(path, package.owners, 12, 10)]
        else:
            what = rng.choice(_FIXES)
            title = f"{package.name}: {what}"
            files = [self.change(path, package.owners, 30, 20)]
            if package.has_patch:
                patch = f"{package.directory}/{what.split()[0]}.patch"
                files.append(file(patch, "added", rng.randint(5, 80), 0, package.owners))
        base = self.base(created, 0.08, 0.05)
        if base.startswith("release-"):
            title = f"[{base[8:]}] {title}"
        pr = self.pr("pkg", created, author, title, files, base, package.topic)
        pr.x86_only = package.x86_only
        if new and base == "master":
            pr.on_merge.append((package.name, new))
        return pr

    def new_package(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        author = self.human(0.25)
        name = world.fresh_name()
        path = f"pkgs/by-name/{name[:2]}/{name}/package.nix"
        files = [file(path, "added", rng.randint(20, 150), 0, [])]  # no owner at the base yet
        if author["permission"] not in ("write", "admin") and rng.random() < 0.3:
            files.append(file("maintainers/maintainer-list.nix", "modified", 6, 0, []))
        title = f"{name}: init at {version_text(world.version())}"
        pr = self.pr("new", created, author, title, files)
        pr.labels.append("8.has: package (new)")
        return pr

    def docs(self, created: int) -> PullRequest:
        rng = self.rng
        paths = [rng.choice(_DOCS)]
        if rng.random() < 0.25:
            paths.append(next_release_notes(created))
        files = [
            self.change(path, [DOCS_TEAM] if path.startswith("doc/") else [], 40, 20)
            for path in paths
        ]
        section = paths[0].rsplit("/", 1)[-1].split(".")[0]
        title = f"doc: {rng.choice(_DOC_EDITS)} {section}"
        base = self.base(created, 0.0, 0.02)
        pr = self.pr("docs", created, self.human(0.3), title, files, base)
        pr.labels.append("8.has: documentation")
        return pr

    def module(self, created: int) -> PullRequest:
        rng = self.rng
        name, path, owners = rng.choice(self.world.modules)
        author = self.human(0.35, owners, as_owner=0.35)
        files = [self.change(path, owners, 60, 25)]
        if rng.random() < 0.35:
            files.append(self.change(f"nixos/tests/{name}.nix", owners, 30, 10))
        if rng.random() < 0.25:
            files.append(file(next_release_notes(created), "modified", 2, 0, []))
        title = f"nixos/{name}: {rng.choice(_MODULE_EDITS)}"
        base = self.base(created, 0.0, 0.03)
        return self.pr("module", created, author, title, files, base, "nixos")

    def wide(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        if rng.random() < 0.35:
            paths = rng.sample(_CORE, rng.randint(1, 3))
            files = [self.change(path, world.core_owners[path], 80, 40) for path in paths]
            area = paths[0].split("/")[0 if paths[0].startswith("lib") else 1]
            title = f"{area}: {rng.choice(_CORE_EDITS)}"
        else:
            packages = rng.sample(world.packages, rng.randint(4, 22))
            files = [self.change(f"{p.directory}/package.nix", p.owners, 6, 6) for p in packages]
            title = f"treewide: {rng.choice(_TREEWIDE_EDITS)}"
        if rng.random() < 0.3:
            files.append(self.change(ALL_PACKAGES, world.core_owners[ALL_PACKAGES], 30, 30))
        base = self.base(created, 0.55, 0.0)
        return self.pr("wide", created, self.human(0.75), title, files, base)

    def misc(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        roll = rng.random()
        if roll < 0.45:
            author = world.outsider()
            files = [file("maintainers/maintainer-list.nix", "modified", 6, 0, [])]
            title = f"maintainers: add {author['login']}"
        elif roll < 0.7:
            author = world.writer()
            workflow = rng.choice(_WORKFLOWS)
            files = [
                self.change(f".github/workflows/{workflow}.yml", world.workflow_owners, 40, 30)
            ]
            title = f"workflows/{workflow}: {rng.choice(('pin nix', 'speed up', 'fix'))}"
        else:
            author = self.human(0.3)
            name = world.fresh_name()
            path = f"pkgs/development/python-modules/{name}/default.nix"
            files = [self.change(path, [], 10, 10)]
            title = f"python3Packages.{name}: {version_text(world.version())} -> unstable"
        return self.pr("misc", created, author, title, files)

    def revert(self, plan: RevertPlan) -> PullRequest:
        """The reverting pull request: a writer's, sound, merged at the planned time."""
        rng = self.rng
        title = f'Revert "{plan.title}"'
        pr = self.pr("revert", plan.opened_at, plan.by, title, plan.files, plan.base)
        pr.body = f"Reverts {REPOSITORY}#{plan.target}: it broke dependent packages."
        plan.event["pr"] = pr.number
        pr.deadline = plan.merged_at - 2 * MINUTE
        pr.open()
        pr.ci(True, first=True)
        if rng.random() < 0.4:
            pr.t = pr.ci_done + (pr.deadline - pr.ci_done) // 2
            pr.review(pr.careful(), "APPROVED")
        merger = plan.by if rng.random() < 0.6 else self.world.writer()
        pr.add(plan.merged_at, "merged", by=merger, commit=pr.head)
        return pr


def _cumulative(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


def _body(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return ""
    return rng.choice(
        (
            "## Things done\n\n- [x] Built on x86_64-linux\n- [ ] Tested with nixpkgs-review",
            "Upstream changelog in the release notes.",
            "Fixes the build; see the Hydra log.",
        )
    )


def header(count: int, seed: int) -> Json:
    return {
        "shadowbot_history": 1,
        "repository": REPOSITORY,
        "description": (
            f"synthetic nixpkgs-like history: {count} pull requests, seed {seed}, made by "
            "examples/generate_history.py (its docstring describes the model)"
        ),
    }


def generate(count: int, seed: int = 2024) -> Iterator[dict[str, Any]]:
    """Yield the header, then ``count`` records ordered by their last event's time."""
    if count < 0:
        raise ValueError("count cannot be negative")
    rng = random.Random(seed)
    yield header(count, seed)
    yield from Stream(rng, World(rng)).records(count)


def write(lines: Iterator[dict[str, Any]], out: Callable[[bytes], object]) -> None:
    """Write compact JSON lines through ``out`` (a binary stream's ``write``)."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    batch: list[str] = []
    for obj in lines:
        batch.append(dumps(obj))
        if len(batch) >= 512:
            out(("\n".join(batch) + "\n").encode())
            batch.clear()
    if batch:
        out(("\n".join(batch) + "\n").encode())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="pull requests (10000)")
    parser.add_argument("--seed", type=int, default=2024, help="random seed (2024)")
    parser.add_argument(
        "--output", default="-", help="a path (.gz: gzip-compressed), or - for stdout"
    )
    args = parser.parse_args(argv)
    if args.count < 0:
        parser.error("--count cannot be negative")
    lines = generate(args.count, args.seed)
    if args.output == "-":
        try:
            write(lines, sys.stdout.buffer.write)
            sys.stdout.buffer.flush()
        except BrokenPipeError:
            # The reader left early (`| head`); keep the interpreter's final flush quiet.
            # https://docs.python.org/3/library/signal.html#note-on-sigpipe
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return 1
        return 0
    path = Path(args.output)
    with path.open("wb") as raw:
        if path.suffix == ".gz":
            # No file name and mtime 0 in the gzip header: the bytes depend on the content only.
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as packed:
                write(lines, packed.write)
        else:
            write(lines, raw.write)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
