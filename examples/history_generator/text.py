"""Words and text: names' syllables, paths and titles, comments, bodies, dates, versions."""

from __future__ import annotations

import random
import time

from .model import START

SYLLABLES = (
    "ba ce di fo gu ka le mi no pu ra se ti vo zu xa qu wy ly ne ar el in or um "
    "to sa ri ko be na ju ve hi mo ga ze"
).split()
TOPICS = (
    "python", "rust", "golang", "haskell", "qt/kde", "gnome", "games", "lua", "ocaml",
    "nodejs", "perl", "ruby", "emacs", "vim", "kernel", "security",
)  # fmt: skip
DOCS = (
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
CORE = (
    "lib/attrsets.nix", "lib/lists.nix", "lib/strings.nix", "lib/modules.nix",
    "lib/options.nix", "lib/types.nix", "lib/trivial.nix", "lib/customisation.nix",
    "pkgs/stdenv/generic/setup.sh", "pkgs/stdenv/generic/make-derivation.nix",
    "pkgs/build-support/fetchurl/default.nix", "pkgs/build-support/trivial-builders/default.nix",
)  # fmt: skip
FIXES = (
    "fix build with gcc 13", "add meta.mainProgram", "modernize", "enable tests",
    "fix cross compilation", "patch CVE",
)  # fmt: skip
DOC_EDITS = ("fix typo in", "clarify", "update links in", "expand")
MODULE_EDITS = (
    "add package option", "fix startup", "harden systemd unit", "add settings option",
    "use RFC 42 settings",
)  # fmt: skip
CORE_EDITS = ("add a helper", "fix an edge case", "refactor")
TREEWIDE_EDITS = (
    "remove unused inputs", "use finalAttrs", "fix meta.license", "drop python 3.8 support",
    "migrate to by-name",
)  # fmt: skip
WORKFLOWS = ("eval", "check-by-name", "labels", "editorconfig", "manual", "backport")
ACTIONS = ("actions/checkout", "cachix/install-nix-action", "actions/github-script")
SERVICE_AREAS = ("networking", "web-servers", "databases", "monitoring", "misc", "mail")

COMMENTS = (
    "Result of `nixpkgs-review` run on x86_64-linux: 1 package built.",
    "Tested on my machine, works for me.",
    "Could you squash the commits?",
    "Is this change needed on staging too?",
    "Thanks!",
)


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


def version_text(version: list[int]) -> str:
    return ".".join(str(part) for part in version)


def bumped(rng: random.Random, version: list[int]) -> list[int]:
    if version[0] >= 2000:  # a date version: a later month
        year, month = version[:2]
        return [year + (month == 12), month % 12 + 1, rng.randint(1, 28)]
    level = rng.choices((2, 1, 0), (60, 30, 10))[0]
    return [*version[:level], version[level] + 1] + [0] * (2 - level)


def body(rng: random.Random) -> str:
    if rng.random() < 0.3:
        return ""
    return rng.choice(
        (
            "## Things done\n\n- [x] Built on x86_64-linux\n- [ ] Tested with nixpkgs-review",
            "Upstream changelog in the release notes.",
            "Fixes the build; see the Hydra log.",
        )
    )
