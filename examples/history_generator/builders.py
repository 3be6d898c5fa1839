"""The builders of new pull requests, one for each kind: their authors, files and titles."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

from .model import ALL_PACKAGES, DOCS_TEAM, FIRST_NUMBER, MINUTE, PROFILES, REPOSITORY, Json, file
from .story import PullRequest
from .text import (
    ACTIONS,
    CORE,
    CORE_EDITS,
    DOC_EDITS,
    DOCS,
    FIXES,
    MODULE_EDITS,
    TREEWIDE_EDITS,
    WORKFLOWS,
    body,
    bumped,
    next_release_notes,
    release_branch,
    version_text,
)
from .timeline import RevertPlan
from .world import World


class Builder:
    """Makes new pull requests, numbered in creation order; ``by_kind`` maps kinds to makers."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.world = world
        self.number = FIRST_NUMBER
        self.by_kind: dict[str, Callable[[int], PullRequest]] = {
            "bump": self.bump,
            "actions": self.actions,
            "pkg": self.package_change,
            "new": self.new_package,
            "docs": self.docs,
            "module": self.module,
            "wide": self.wide,
            "misc": self.misc,
        }

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
        pr.body = "" if author["type"] == "Bot" else body(rng)
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
        action = rng.choice(ACTIONS)
        major, minor = rng.randint(2, 5), rng.randint(0, 9)
        title = f"build(deps): bump {action} from {major}.{minor}.0 to {major}.{minor + 1}.0"
        path = f".github/workflows/{rng.choice(WORKFLOWS)}.yml"
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
            what = rng.choice(FIXES)
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
        paths = [rng.choice(DOCS)]
        if rng.random() < 0.25:
            paths.append(next_release_notes(created))
        files = [
            self.change(path, [DOCS_TEAM] if path.startswith("doc/") else [], 40, 20)
            for path in paths
        ]
        section = paths[0].rsplit("/", 1)[-1].split(".")[0]
        title = f"doc: {rng.choice(DOC_EDITS)} {section}"
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
        title = f"nixos/{name}: {rng.choice(MODULE_EDITS)}"
        base = self.base(created, 0.0, 0.03)
        return self.pr("module", created, author, title, files, base, "nixos")

    def wide(self, created: int) -> PullRequest:
        rng, world = self.rng, self.world
        if rng.random() < 0.35:
            paths = rng.sample(CORE, rng.randint(1, 3))
            files = [self.change(path, world.core_owners[path], 80, 40) for path in paths]
            area = paths[0].split("/")[0 if paths[0].startswith("lib") else 1]
            title = f"{area}: {rng.choice(CORE_EDITS)}"
        else:
            packages = rng.sample(world.packages, rng.randint(4, 22))
            files = [self.change(f"{p.directory}/package.nix", p.owners, 6, 6) for p in packages]
            title = f"treewide: {rng.choice(TREEWIDE_EDITS)}"
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
            workflow = rng.choice(WORKFLOWS)
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
