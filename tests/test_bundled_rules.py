"""The bundled rules: what each decides on the pull requests a maintainer would try.

Every rule has fixtures for ``merge``, ``hold`` (naming the one check that failed) and
``skip`` (naming the scope check that ruled the pull request out).
"""

import dataclasses
import re

import pytest
from snapshots import (
    OLD,
    PACKAGE_FILE,
    approve,
    bot,
    changed,
    failing,
    green,
    make_pr,
    outsider,
    pending,
    request_changes,
    user,
    writer,
)

from shadowbot.resources import bundled_path
from shadowbot.rules import load_rules
from shadowbot.snapshot import FileChange
from shadowbot.verdict import Decision

MERGE, HOLD, SKIP = Decision.MERGE, Decision.HOLD, Decision.SKIP
NAMES = [
    "any-approval",
    "bot-version-bump",
    "docs-only",
    "package-owner",
    "small-two-approvals",
    "writer-pair",
]

# Checklist lines, as a maintainer reads them under a verdict.
IS_BOT = "author is a bot"
IS_HUMAN = "author is not a bot"
IS_BUMP = "title is a version bump (<pkg>: <old> -> <new>)"
TO_MASTER = "targets master"
TO_MASTER_OR_STAGING = "targets master, staging"
ONE_PACKAGE = "confined to one pkgs/by-name/*/*"
DOCS = "only touches doc/, nixos/doc/, **/*.md"
AUTHOR_WRITES = "author has write permission"
SMALL_LINES = "at most 20 changed lines"
SMALL_FILES = "at most 3 changed files"
BY_OWNERS = "approved by a code owner of every file"
BY_WRITER = "approved by 1 writer(s) on the current head"
BY_ONE = "approved by 1 reviewer(s) on the current head"
BY_TWO = "approved by 2 reviewer(s) on the current head"
GREEN = "all checks green"
NO_OBJECTION = "no outstanding change request"
NOT_DRAFT = "not a draft"

ALICE, CAROL = writer("alice"), writer("carol")
ERIN = user("erin")  # the default author
HELLO = PACKAGE_FILE
HELLO_PATCH = "pkgs/by-name/he/hello/fix-aarch64.patch"
NOBODY = "approved on c0ffee0 by nobody"


@pytest.fixture(scope="module")
def rules():
    return {rule.name: rule for rule in load_rules(bundled_path("rules"))}


# -- fixtures per rule -----------------------------------------------------------------


def bump(**changes):
    """An update bot bumps hello on master; alice, its code owner, approved the head."""
    pr = dict(
        author=bot("update-bot[bot]"),
        title="hello: 2.12.1 -> 2.12.2",
        files=[HELLO],
        owners=["alice"],
        reviews=[approve(ALICE)],
    )
    return make_pr(**(pr | changes))


def docs(**changes):
    """A contributor's documentation change, approved by a writer."""
    pr = dict(
        files=[
            "doc/languages-frameworks/python.section.md",
            "nixos/doc/manual/installation/installing.chapter.xml",
            "pkgs/by-name/he/hello/README.md",
        ],
        reviews=[approve(ALICE)],
    )
    return make_pr(**(pr | changes))


def package(**changes):
    """A contributor changes hello; alice, its code owner, approved the head."""
    pr = dict(files=[HELLO, HELLO_PATCH], owners=["alice"], reviews=[approve(ALICE)])
    return make_pr(**(pr | changes))


def pair(**changes):
    """A writer's pull request, approved by another writer."""
    pr = dict(author=writer("erin"), files=["lib/strings.nix"], reviews=[approve(CAROL)])
    return make_pr(**(pr | changes))


def small(**changes):
    """Twenty changed lines in three files, approved by two reviewers without write access."""
    pr = dict(
        files=[changed("lib/a.nix", 8, 2), changed("lib/b.nix", 5, 0), changed("lib/c.nix", 5, 0)],
        reviews=[approve(outsider("dave")), approve(user("frank"))],
    )
    return make_pr(**(pr | changes))


def merges(pr):
    return pr, MERGE, None, None


def holds(pr, failed, detail=None):
    return pr, HOLD, failed, detail


def skips(pr, failed):
    return pr, SKIP, failed, None


BOT_VERSION_BUMP = {
    "approved by the code owner": merges(bump()),
    "unstable versions": merges(bump(title="hello: unstable-2024-01-02 -> unstable-2024-02-01")),
    "stale code owner approval": holds(
        bump(reviews=[approve(ALICE, commit=OLD)]), BY_OWNERS, f"{HELLO}: no approval from alice"
    ),
    "approved by a writer who owns nothing": holds(bump(reviews=[approve(CAROL)]), BY_OWNERS),
    "a file without code owner": holds(
        bump(files=[HELLO, HELLO_PATCH], owners=(), code_owners={HELLO: ["alice"]}),
        BY_OWNERS,
        f"{HELLO_PATCH} has no code owner",
    ),
    "build still pending": holds(
        bump(ci=[green("eval"), pending("build")]), GREEN, "build: pending"
    ),
    "a change request": holds(
        bump(reviews=[approve(ALICE), request_changes(CAROL)]),
        NO_OBJECTION,
        "changes requested by carol",
    ),
    "draft": holds(bump(draft=True), NOT_DRAFT),
    "human author": skips(bump(author=ERIN), IS_BOT),
    "not a bump": skips(bump(title="hello: add aarch64 support"), IS_BUMP),
    "same version twice": skips(bump(title="hello: 2.12 -> 2.12"), IS_BUMP),
    "a revert of a bump": skips(bump(title='Revert "hello: 2.12.1 -> 2.12.2"'), IS_BUMP),
    "targets staging": skips(bump(base="staging"), TO_MASTER),
    "two packages": skips(bump(files=[HELLO, "pkgs/by-name/gr/grep/package.nix"]), ONE_PACKAGE),
}

DOCS_ONLY = {
    "approved by a writer": merges(docs()),
    "approved by an outsider": holds(docs(reviews=[approve(outsider())]), BY_WRITER, NOBODY),
    "approved by a bot with write permission": holds(
        docs(reviews=[approve(bot(permission="write"))]), BY_WRITER, NOBODY
    ),
    "stale approval": holds(docs(reviews=[approve(ALICE, commit=OLD)]), BY_WRITER, NOBODY),
    "failing check": holds(docs(ci=[green(), failing("manual")]), GREEN, "manual: failure"),
    "draft": holds(docs(draft=True), NOT_DRAFT),
    "also touches a package": skips(docs(files=["doc/a.md", HELLO]), DOCS),
    "moves a package's file into the docs": skips(
        docs(files=[FileChange("doc/hello.md", "renamed", previous_path=HELLO)]), DOCS
    ),
    "moves a page within the docs": merges(
        docs(files=[FileChange("doc/b.md", "renamed", previous_path="doc/a.md")])
    ),
}

PACKAGE_OWNER = {
    "approved by the code owner": merges(package()),
    "targets staging": merges(package(base="staging")),
    "the owner approves after requesting changes": merges(
        package(reviews=[request_changes(ALICE), approve(ALICE)])
    ),
    "stale approval": holds(package(reviews=[approve(ALICE, commit=OLD)]), BY_OWNERS),
    "the owner approves their own change": holds(
        package(author=ALICE), BY_OWNERS, f"{HELLO}: no approval from alice"
    ),
    "a file without code owner": holds(
        package(owners=(), code_owners={HELLO: ["alice"]}),
        BY_OWNERS,
        f"{HELLO_PATCH} has no code owner",
    ),
    "build still pending": holds(package(ci=[pending()]), GREEN, "build: pending"),
    "no checks reported": holds(package(ci=[]), GREEN, "no checks on c0ffee0"),
    "another reviewer requests changes": holds(
        package(reviews=[approve(ALICE), request_changes(outsider())]), NO_OBJECTION
    ),
    "draft": holds(package(draft=True), NOT_DRAFT),
    "bot author": skips(package(author=bot()), IS_HUMAN),
    "release branch": skips(package(base="release-23.11"), TO_MASTER_OR_STAGING),
    "touches lib/ too": skips(package(files=[HELLO, "lib/strings.nix"]), ONE_PACKAGE),
}

WRITER_PAIR = {
    "approved by another writer": merges(pair()),
    "approved by a maintainer": merges(pair(reviews=[approve(writer("mo", "maintain"))])),
    "stale approval": holds(pair(reviews=[approve(CAROL, commit=OLD)]), BY_WRITER, NOBODY),
    "the author approves their own change": holds(
        pair(reviews=[approve(writer("erin"))]), BY_WRITER, NOBODY
    ),
    "approved by a bot with write permission": holds(
        pair(reviews=[approve(bot(permission="write"))]), BY_WRITER, NOBODY
    ),
    "approved by an outsider": holds(pair(reviews=[approve(outsider())]), BY_WRITER, NOBODY),
    "failing check": holds(pair(ci=[failing()]), GREEN, "build: failure"),
    "a change request": holds(pair(reviews=[approve(CAROL), request_changes(ALICE)]), NO_OBJECTION),
    "draft": holds(pair(draft=True), NOT_DRAFT),
    "outsider author": skips(pair(author=outsider("erin")), AUTHOR_WRITES),
    "bot author with write permission": skips(pair(author=bot(permission="write")), AUTHOR_WRITES),
}

SMALL_TWO_APPROVALS = {
    "two approvals, 20 lines, 3 files": merges(small()),
    "one approval and the author's own": holds(
        small(reviews=[approve(outsider()), approve(ERIN)]), BY_TWO, "approved on c0ffee0 by dave"
    ),
    "one approval is stale": holds(
        small(reviews=[approve(outsider()), approve(ALICE, commit=OLD)]), BY_TWO
    ),
    "build still pending": holds(small(ci=[pending()]), GREEN, "build: pending"),
    "a change request": holds(
        small(reviews=[approve(outsider()), approve(user("frank")), request_changes(ALICE)]),
        NO_OBJECTION,
    ),
    "21 lines": skips(small(files=[changed("lib/a.nix", 21, 0)]), SMALL_LINES),
    "4 files": skips(small(files=["a", "b", "c", "d"]), SMALL_FILES),
}

ANY_APPROVAL = {
    "one approval by an outsider": merges(make_pr(reviews=[approve(outsider())])),
    "despite a failing build and a change request": merges(
        make_pr(ci=[failing()], reviews=[approve(outsider()), request_changes(ALICE)])
    ),
    "no review": holds(make_pr(), BY_ONE, NOBODY),
    "stale approval": holds(make_pr(reviews=[approve(ALICE, commit=OLD)]), BY_ONE, NOBODY),
    "the author's own approval": holds(make_pr(reviews=[approve(ERIN)]), BY_ONE, NOBODY),
    "draft": skips(make_pr(draft=True, reviews=[approve(ALICE)]), NOT_DRAFT),
}

CASES = [
    pytest.param(rule, *expected, id=f"{rule}: {name}")
    for rule, table in [
        ("any-approval", ANY_APPROVAL),
        ("bot-version-bump", BOT_VERSION_BUMP),
        ("docs-only", DOCS_ONLY),
        ("package-owner", PACKAGE_OWNER),
        ("small-two-approvals", SMALL_TWO_APPROVALS),
        ("writer-pair", WRITER_PAIR),
    ]
    for name, expected in table.items()
]


@pytest.mark.parametrize(("name", "pr", "decision", "failed", "detail"), CASES)
def test_decision_and_the_check_that_explains_it(rules, name, pr, decision, failed, detail):
    verdict = rules[name].evaluate(pr)
    assert verdict.decision is decision, verdict
    failures = [line for line in verdict.checklist if not line.passed]
    if decision is MERGE:
        assert failures == []
        return
    # Exactly one line fails, and it is the one a maintainer should look at.
    assert [line.check for line in failures] == [failed]
    if detail is not None:
        assert failures[0].detail == detail
    if decision is SKIP:
        assert verdict.reason == f"{failed}: {failures[0].detail}"


def test_every_rule_has_a_merge_hold_and_skip_fixture(rules):
    covered = {(p.values[0], p.values[2]) for p in CASES}
    assert covered == {(name, d) for name in rules for d in (MERGE, HOLD, SKIP)}


# What each rule checks, in the order its checklist shows: its scope, then its requirements.
CHECKLISTS = {
    "bot-version-bump": (
        bump(),
        [IS_BOT, IS_BUMP, TO_MASTER, ONE_PACKAGE, BY_OWNERS, GREEN, NO_OBJECTION, NOT_DRAFT],
    ),
    "docs-only": (docs(), [DOCS, BY_WRITER, GREEN, NO_OBJECTION, NOT_DRAFT]),
    "package-owner": (
        package(),
        [IS_HUMAN, TO_MASTER_OR_STAGING, ONE_PACKAGE, BY_OWNERS, GREEN, NO_OBJECTION, NOT_DRAFT],
    ),
    "writer-pair": (pair(), [AUTHOR_WRITES, BY_WRITER, GREEN, NO_OBJECTION, NOT_DRAFT]),
    "small-two-approvals": (small(), [SMALL_LINES, SMALL_FILES, BY_TWO, GREEN, NO_OBJECTION]),
    "any-approval": (make_pr(reviews=[approve(ALICE)]), [NOT_DRAFT, BY_ONE]),
}


@pytest.mark.parametrize("name", sorted(CHECKLISTS))
def test_a_merge_shows_every_check_it_passed(rules, name):
    pr, lines = CHECKLISTS[name]
    verdict = rules[name].evaluate(pr)
    assert verdict.decision is MERGE
    assert [line.check for line in verdict.checklist] == lines


def test_the_package_detail_names_the_package(rules):
    verdict = rules["package-owner"].evaluate(package())
    details = {line.check: line.detail for line in verdict.checklist}
    assert details[ONE_PACKAGE] == "pkgs/by-name/he/hello"


def test_a_bots_bump_is_left_to_bot_version_bump(rules):
    pr = bump()
    assert rules["bot-version-bump"].evaluate(pr).decision is MERGE
    assert rules["package-owner"].evaluate(pr).decision is SKIP


# -- loading and determinism -----------------------------------------------------------


def test_the_bundled_directory_loads_every_rule_sorted_by_name():
    loaded = load_rules(bundled_path("rules"))
    assert [rule.name for rule in loaded] == NAMES
    for rule in loaded:
        assert rule.version == 1
        assert re.fullmatch(r"[0-9a-f]{64}", rule.source_hash), rule.name
        assert rule.source_path is not None
        assert rule.source_path.stem == rule.name.replace("-", "_")
        assert rule.description.strip()


def test_source_hashes_are_stable_across_loads():
    first = {rule.name: rule.source_hash for rule in load_rules(bundled_path("rules"))}
    again = {rule.name: rule.source_hash for rule in load_rules(bundled_path("rules"))}
    assert first == again
    assert len(set(first.values())) == len(first)


def test_any_approval_says_it_is_deliberately_loose(rules):
    description = rules["any-approval"].description.lower()
    assert "deliberately loose" in description
    assert "unsafe" in description


@pytest.mark.parametrize("name", NAMES)
def test_every_rule_is_deterministic(rules, name):
    rule = rules[name]
    for param in CASES:
        pr = param.values[1]
        first = rule.evaluate(pr)
        # Twice on the same snapshot, and once on an equal one whose caches are fresh.
        assert rule.evaluate(pr) == first
        assert rule.evaluate(dataclasses.replace(pr)) == first
