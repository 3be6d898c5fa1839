"""The model's constants, each kind's profile, and the shapes of actors and files."""

from __future__ import annotations

from dataclasses import dataclass
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


def actor(login: str, permission: str, association: str, kind: str = "User") -> Json:
    return {"login": login, "type": kind, "association": association, "permission": permission}


def file(path: str, status: str, additions: int, deletions: int, owners: list[str]) -> Json:
    return {
        "path": path,
        "status": status,
        "additions": additions,
        "deletions": deletions,
        "owners": owners,
    }
