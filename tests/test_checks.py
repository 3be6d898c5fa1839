"""The check vocabulary (shadowbot.checks) and the review semantics it relies on."""

import dataclasses

import pytest
from snapshots import (
    HEAD,
    OLD,
    PACKAGE_FILE,
    approve,
    bot,
    changed,
    ci_result,
    comment,
    dismissed,
    failing,
    green,
    make_pr,
    outsider,
    pending,
    request_changes,
    user,
    writer,
)

from shadowbot import checks as c
from shadowbot.snapshot import CIResult, FileChange

ALICE, CAROL = writer("alice"), writer("carol")
OWNED = PACKAGE_FILE
ALSO_OWNED = "pkgs/by-name/he/hello/fix.patch"


def result(check, pr):
    outcome = check(pr)
    return outcome.passed, outcome.detail


# -- globs -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "path", "matches"),
    [
        ("pkgs/*/default.nix", "pkgs/hello/default.nix", True),
        ("pkgs/*/default.nix", "pkgs/by-name/hello/default.nix", False),  # * stays in a segment
        ("pkgs/**/default.nix", "pkgs/by-name/hello/default.nix", True),  # ** crosses them
        ("pkgs/**/default.nix", "pkgs/default.nix", True),  # ...including none
        ("doc/**", "doc/manual/release-notes.md", True),
        ("doc/", "doc/manual/release-notes.md", True),  # trailing / means everything below
        ("doc/", "doc/index.md", True),
        ("doc/", "docs/index.md", False),
        ("doc/", "nixos/doc/index.md", True),  # as in CODEOWNERS: no inner / → any depth
        ("/doc/", "nixos/doc/index.md", False),  # a leading / anchors at the root
        ("/doc/", "doc/index.md", True),
        ("nixos/doc/", "x/nixos/doc/index.md", False),  # an inner / anchors too
        ("**/*.md", "README.md", True),
        ("**/*.md", "pkgs/by-name/he/hello/README.md", True),
        ("**/*.md", "README.mdx", False),
        ("*.md", "doc/index.md", True),
        ("/*.md", "doc/index.md", False),
        ("?.nix", "a.nix", True),
        ("?.nix", "ab.nix", False),
        ("a.b", "axb", False),  # regex metacharacters are literal
        ("c++/*", "c++/main.cc", True),
    ],
)
def test_glob_semantics(pattern, path, matches):
    assert (c.compile_glob(pattern).match(path) is not None) is matches


def test_only_touches_names_the_first_file_outside_and_counts_the_rest():
    check = c.only_touches("doc/", "**/*.md")
    assert result(check, make_pr(files=["doc/a.md", "README.md"])) == (
        True,
        "2 file(s) within doc/, **/*.md",
    )
    outside = make_pr(files=["doc/a.md", "lib/x.nix", "lib/y.nix"])
    assert result(check, outside) == (False, "lib/x.nix and 1 more outside doc/, **/*.md")
    assert result(check, make_pr(files=[])) == (False, "no changed files")


def test_touches_any_passes_on_one_hit():
    check = c.touches_any("nixos/")
    assert result(check, make_pr(files=["lib/x.nix", "nixos/a.nix"])) == (True, "nixos/a.nix")
    assert result(check, make_pr(files=["lib/x.nix"])) == (False, "nothing under nixos/")


# -- confined_to_one -------------------------------------------------------------------

PACKAGE = "pkgs/by-name/*/*"


def test_confined_to_one_names_the_single_directory():
    pr = make_pr(files=[OWNED, "pkgs/by-name/he/hello/tests/basic.nix"])
    assert result(c.confined_to_one(PACKAGE), pr) == (True, "pkgs/by-name/he/hello")


@pytest.mark.parametrize(
    ("files", "detail"),
    [
        ([OWNED, "pkgs/by-name/he/hexdump/package.nix"], "2 directories touched"),
        ([OWNED, "lib/x.nix"], f"lib/x.nix is not under {PACKAGE}"),
        (["pkgs/by-name/he/hello"], f"pkgs/by-name/he/hello is not under {PACKAGE}"),
        ([], "no changed files"),
    ],
    ids=["two packages", "a file elsewhere", "a file at directory depth", "no files"],
)
def test_confined_to_one_fails(files, detail):
    assert result(c.confined_to_one(PACKAGE), make_pr(files=files)) == (False, detail)


# -- size ------------------------------------------------------------------------------


def test_size_limits_are_inclusive():
    pr = make_pr(files=[changed("a", 12, 3), changed("b", 5, 0)])
    assert result(c.max_changed_lines(20), pr) == (True, "20 line(s) changed")
    assert result(c.max_changed_lines(19), pr) == (False, "20 line(s) changed")
    assert result(c.max_changed_files(2), pr) == (True, "2 file(s) changed")
    assert result(c.max_changed_files(1), pr) == (False, "2 file(s) changed")


# -- authors ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "passes"),
    [
        (writer(), True),
        (writer(permission="maintain"), True),
        (writer(permission="admin"), True),
        (user(permission="triage"), False),
        (outsider(), False),
        (bot(permission="write"), False),  # a bot never counts as a writer
    ],
)
def test_author_can_write(author, passes):
    assert c.author_can_write()(make_pr(author=author)).passed is passes


def test_author_is_bot_by_type_or_login():
    assert c.author_is_bot()(make_pr(author=bot())).passed
    assert c.author_is_bot()(make_pr(author=user("helper[bot]"))).passed
    assert not c.author_is_bot()(make_pr(author=user())).passed


def test_author_in():
    check = c.author_in("erin", "frank")
    assert check.label == "author is one of erin, frank"
    assert check(make_pr(author=user("erin"))).passed
    assert not check(make_pr(author=user("mallory"))).passed


# -- reviews ---------------------------------------------------------------------------


def test_latest_review_per_reviewer_a_comment_keeps_the_approval():
    pr = make_pr(reviews=[approve(ALICE), comment(ALICE)])
    assert pr.latest_reviews["alice"].state == "APPROVED"
    assert pr.approvers_on_head == (ALICE,)


def test_a_comment_alone_is_no_standing_review():
    assert make_pr(reviews=[comment(ALICE)]).latest_reviews == {}


def test_a_later_change_request_replaces_the_approval_and_vice_versa():
    objected = make_pr(reviews=[approve(ALICE), request_changes(ALICE)])
    assert objected.approvers_on_head == ()
    assert objected.changes_requested_by == (ALICE,)
    resolved = make_pr(reviews=[request_changes(ALICE), approve(ALICE)])
    assert resolved.approvers_on_head == (ALICE,)
    assert resolved.changes_requested_by == ()


def test_a_dismissal_removes_the_approval():
    pr = make_pr(reviews=[approve(ALICE), dismissed(ALICE)])
    assert pr.latest_reviews["alice"].state == "DISMISSED"
    assert pr.approvers_on_head == ()
    assert not c.approved_by_anyone(1)(pr).passed


def test_a_dismissal_removes_the_change_request():
    pr = make_pr(reviews=[request_changes(ALICE), dismissed(ALICE)])
    assert result(c.no_changes_requested(), pr) == (True, "none")


def test_reviewers_are_counted_independently():
    pr = make_pr(reviews=[approve(ALICE), request_changes(CAROL), comment(ALICE)])
    assert pr.approvers_on_head == (ALICE,)
    assert pr.changes_requested_by == (CAROL,)


def test_approved_by_writers_counts_humans_with_write_permission_on_the_head():
    pr = make_pr(
        reviews=[
            approve(ALICE),
            approve(CAROL, commit=OLD),  # stale
            approve(outsider("dave")),  # cannot write
            approve(bot("ci[bot]", permission="write")),  # a bot
        ]
    )
    assert result(c.approved_by_writers(1), pr) == (True, "approved on c0ffee0 by alice")
    assert not c.approved_by_writers(2)(pr).passed


def test_the_authors_own_approval_never_counts():
    author = writer("erin")
    pr = make_pr(author=author, reviews=[approve(author)])
    assert result(c.approved_by_writers(1), pr) == (False, "approved on c0ffee0 by nobody")
    assert not c.approved_by_anyone(1)(pr).passed


def test_approved_by_anyone_counts_outsiders_and_bots():
    pr = make_pr(reviews=[approve(outsider("dave")), approve(bot())])
    assert result(c.approved_by_anyone(2), pr) == (
        True,
        "approved on c0ffee0 by dave, update-bot[bot]",
    )
    assert not c.approved_by_anyone(3)(pr).passed


def test_a_change_request_on_an_older_commit_still_blocks():
    pr = make_pr(reviews=[request_changes(CAROL, commit=OLD), approve(ALICE)])
    assert result(c.no_changes_requested(), pr) == (False, "changes requested by carol")


# -- code owners -----------------------------------------------------------------------


def owned_pr(reviews, **kwargs):
    kwargs.setdefault("code_owners", {OWNED: ["alice", "carol"], ALSO_OWNED: ["carol"]})
    return make_pr(files=[OWNED, ALSO_OWNED], reviews=reviews, **kwargs)


def test_one_code_owner_of_every_file_suffices():
    assert result(c.approved_by_code_owners(), owned_pr([approve(CAROL)])) == (
        True,
        "approved by carol",
    )


def test_a_file_whose_owners_did_not_approve_blocks():
    pr = owned_pr([approve(ALICE)])
    assert result(c.approved_by_code_owners(), pr) == (
        False,
        f"{ALSO_OWNED}: no approval from carol",
    )


def test_a_file_without_code_owner_blocks():
    pr = owned_pr([approve(CAROL)], code_owners={OWNED: ["carol"]})
    assert result(c.approved_by_code_owners(), pr) == (False, f"{ALSO_OWNED} has no code owner")


def test_a_stale_code_owner_approval_does_not_count():
    pr = owned_pr([approve(CAROL, commit=OLD)])
    assert not c.approved_by_code_owners()(pr).passed


def test_a_code_owner_cannot_approve_their_own_change():
    pr = owned_pr([approve(CAROL)], author=CAROL)
    assert not c.approved_by_code_owners()(pr).passed


def test_code_owners_with_no_files():
    assert result(c.approved_by_code_owners(), make_pr(files=[])) == (False, "no changed files")


# -- CI --------------------------------------------------------------------------------


def test_checks_green_with_no_checks_at_all():
    assert result(c.checks_green(), make_pr(ci=[])) == (False, "no checks on c0ffee0")


@pytest.mark.parametrize(
    ("ci", "detail"),
    [
        ([green(), pending("eval")], "eval: pending"),
        ([failing("build")], "build: failure"),
        ([green(), ci_result("lint", "cancelled", "status")], "lint: cancelled"),
        ([ci_result("lint", "error", "status")], "lint: error"),
    ],
)
def test_checks_green_blocks_on_anything_not_green(ci, detail):
    assert result(c.checks_green(), make_pr(ci=ci)) == (False, detail)


def test_neutral_and_skipped_count_as_green():
    pr = make_pr(ci=[green(), ci_result("docs", "neutral"), ci_result("darwin", "skipped")])
    assert result(c.checks_green(), pr) == (True, "3 check(s) green on c0ffee0")


def test_checks_green_requires_the_named_checks_to_have_run():
    pr = make_pr(ci=[green("build")])
    assert result(c.checks_green("build", "eval"), pr) == (False, "eval not reported")
    assert c.checks_green("build")(pr).passed


# -- state, branch, labels, title ------------------------------------------------------


def test_not_draft():
    assert result(c.not_draft(), make_pr()) == (True, "ready for review")
    assert result(c.not_draft(), make_pr(draft=True)) == (False, "draft")


def test_targets():
    check = c.targets("staging", "master")
    assert check.label == "targets master, staging"
    assert result(check, make_pr(base="staging")) == (True, "staging")
    assert result(check, make_pr(base="release-24.05")) == (False, "release-24.05")


def test_has_labels_needs_all_of_them():
    check = c.has_labels("backport", "trivial")
    assert result(check, make_pr(labels=["trivial", "backport", "x"])) == (True, "present")
    assert result(check, make_pr(labels=["trivial"])) == (False, "missing backport")


def test_lacks_labels_refuses_any_of_them():
    check = c.lacks_labels("do not merge", "wip")
    assert result(check, make_pr(labels=["x"])) == (True, "none present")
    assert result(check, make_pr(labels=["wip"])) == (False, "labelled wip")


def test_title_matches_searches_anywhere_unless_anchored():
    assert c.title_matches(r"\d+ -> \d+")(make_pr(title="hello: 1 -> 2")).passed
    anchored = c.title_matches(r"\Ahello:", "a hello change")
    assert anchored.label == "a hello change"
    assert anchored(make_pr(title="hello: 1 -> 2")).passed
    assert not anchored(make_pr(title="Revert hello: 1 -> 2")).passed


def test_title_detail_is_truncated():
    assert c.title_matches("x")(make_pr(title="x" * 200)).detail == "x" * 80


def test_a_bot_code_owner_approval_does_not_count():
    robot = bot("owner-bot[bot]")
    pr = make_pr(owners=[robot.login, "alice"], reviews=[approve(robot)])
    assert not c.approved_by_code_owners()(pr).passed


def test_a_file_owned_by_teams_only_says_so():
    pr = make_pr(owners=["@example/release"], reviews=[approve(ALICE)])
    assert result(c.approved_by_code_owners(), pr) == (
        False,
        f"{OWNED} is owned by teams only (@example/release)",
    )


def test_checks_on_another_commit_never_count_as_green():
    stale = CIResult("build", "check_run", "success", "0ldc0mmit")
    assert result(c.checks_green(), make_pr(ci=[stale])) == (False, f"no checks on {HEAD[:7]}")


def test_author_is_human():
    assert c.author_is_human()(make_pr()).passed
    assert not c.author_is_human()(make_pr(author=bot())).passed


# -- renames ---------------------------------------------------------------------------


def renamed(old, new):
    return FileChange(new, "renamed", 0, 0, previous_path=old)


def test_a_file_moved_into_the_docs_is_not_a_docs_only_change():
    check = c.only_touches("doc/", "**/*.md")
    moved_out_of_lib = make_pr(files=[renamed("lib/strings.nix", "doc/strings.md")])
    assert result(check, moved_out_of_lib) == (
        False,
        "lib/strings.nix (renamed to doc/strings.md) outside doc/, **/*.md",
    )
    assert check.passes(make_pr(files=[renamed("doc/old.md", "doc/new.md")]))


def test_a_copy_leaves_its_source_untouched():
    copied = FileChange("doc/strings.md", "copied", 10, 0, previous_path="lib/strings.nix")
    assert c.only_touches("doc/")(make_pr(files=[copied])).passed


def test_a_rename_touches_and_leaves_the_directory_it_came_from():
    moved = make_pr(files=[renamed("nixos/modules/a.nix", "lib/a.nix")])
    assert result(c.touches_any("nixos/"), moved) == (
        True,
        "nixos/modules/a.nix (renamed to lib/a.nix)",
    )
    across = make_pr(
        files=[renamed("pkgs/by-name/he/hello/x.nix", OWNED.replace("he/hello", "he/hexdump"))]
    )
    assert not c.confined_to_one(PACKAGE)(across).passed


def test_a_rename_needs_an_owner_of_the_old_path_too():
    old = "pkgs/by-name/he/hello/old.patch"
    pr = make_pr(
        files=[renamed(old, ALSO_OWNED)],
        code_owners={ALSO_OWNED: ["carol"], old: ["alice"]},
        reviews=[approve(CAROL)],
    )
    check = c.approved_by_code_owners()
    assert result(check, pr) == (
        False,
        f"{old} (renamed to {ALSO_OWNED}): no approval from alice",
    )
    both = make_pr(
        files=[renamed(old, ALSO_OWNED)],
        code_owners={ALSO_OWNED: ["carol"], old: ["alice"]},
        reviews=[approve(CAROL), approve(ALICE)],
    )
    assert check(both).passed


# -- files GitHub does not list --------------------------------------------------------


def test_checks_on_the_changed_files_fail_while_some_are_not_listed():
    # GitHub lists at most 3000 files; the ones it leaves out could be anything.
    listed = make_pr(
        files=["doc/a.md"], code_owners={"doc/a.md": ["carol"]}, reviews=[approve(CAROL)]
    )
    partial = dataclasses.replace(listed, files_missing=2999)
    missing = "2999 more changed file(s) that GitHub does not list"
    assert c.only_touches("doc/")(listed).passed and c.approved_by_code_owners()(listed).passed
    assert result(c.only_touches("doc/"), partial) == (False, missing)
    assert result(c.confined_to_one("doc"), partial) == (False, missing)
    assert result(c.max_changed_files(10), partial) == (False, "3000 file(s) changed")
    assert result(c.max_changed_lines(100), partial) == (
        False,
        f"2 line(s) changed in the listed files, and {missing}",
    )
    assert result(c.approved_by_code_owners(), partial) == (False, missing)
    # A file that is listed is known: touching it is a fact, not touching it is not.
    assert c.touches_any("doc/")(partial).passed
    assert result(c.touches_any("lib/"), partial) == (False, f"nothing under lib/, and {missing}")
