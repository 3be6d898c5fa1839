"""The repository's world: its people (writers, admins, outsiders, bots) and its files."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from .model import ALL_PACKAGES, Json, actor
from .text import CORE, SERVICE_AREAS, SYLLABLES, TOPICS


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
        self.core_owners = {path: sorted(rng.sample(admins, 2)) for path in CORE}
        self.core_owners[ALL_PACKAGES] = admins[:2]
        self.workflow_owners = [w["login"] for w in rng.sample(self.writers, 2)]
        # Cumulative Zipf-like weights: a few people and packages get most of the activity.
        self.writer_weights = _zipf(len(self.writers), 0.8)
        self.outsider_weights = _zipf(len(self.outsiders), 0.9)
        self.package_weights = _zipf(len(self.packages), 0.7)

    def fresh_name(self, parts: int = 0) -> str:
        """A pronounceable name, not necessarily unused (new packages' names)."""
        rng = self.rng
        name = "".join(rng.choice(SYLLABLES) for _ in range(parts or rng.randint(2, 4)))
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
        topic = rng.choice(TOPICS) if rng.random() < 0.4 else ""
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
        path = f"nixos/modules/services/{rng.choice(SERVICE_AREAS)}/{name}.nix"
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
