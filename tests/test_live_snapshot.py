"""Snapshots of live pull requests, read over real HTTP from the GitHub simulator: what a
rule would see (every file and review, CI on the head only, code owners at the base,
permissions) and what it costs (pages, conditional requests, caches, retries)."""

import itertools
import math
from datetime import timedelta

import aiohttp
import pytest

import shadowbot.live.cache as live_cache
from shadowbot.checks import (
    approved_by_code_owners,
    approved_by_writers,
    checks_green,
    only_touches,
)
from shadowbot.github import GitHubClient
from shadowbot.live.snapshot import LiveCache, RequestTally, fetch_snapshot
from shadowbot.metrics import Metrics
from shadowbot.simulator import FileChange, Simulator

REPO = "acme/widgets"
PULLS = f"/repos/{REPO}/pulls"


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Client(GitHubClient):
    """The real client; only its waits are recorded instead of slept."""

    waits: list[float]

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
async def sim(app_key_pem):
    async with Simulator.running(port=0, private_key_pem=app_key_pem) as sim:
        sim.add_user("alice", "write")
        sim.add_user("bob", "write")
        sim.add_user("carol", "maintain")
        sim.add_user("dave", "triage")
        sim.add_user("erin", "read")
        yield sim


@pytest.fixture
async def gh(sim):
    async with aiohttp.ClientSession() as session:
        client = Client(
            session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token(), cache={}
        )
        client.waits = []
        yield client


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def cache(clock):
    return LiveCache(clock=clock)


def requests_since(sim, start):
    return [(r.method, r.path, r.status) for r in sim.requests[start:]]


async def test_pull_request_fields_as_a_rule_reads_them(sim, gh, cache):
    sim.add_user("renovate[bot]", type="Bot")
    number = await sim.open_pr(
        REPO,
        "renovate[bot]",
        "Update hello to 2.12",
        body="Bumps *hello*.",
        files=[FileChange("pkgs/hello.nix", "modified", 3, 1)],
        draft=True,
        labels=["dependencies", "automerge"],
    )
    snap = await fetch_snapshot(gh, REPO, number, cache)
    pr = sim.pull(REPO, number)
    assert (snap.repository, snap.number, snap.title, snap.body) == (
        REPO,
        number,
        "Update hello to 2.12",
        "Bumps *hello*.",
    )
    assert snap.author.login == "renovate[bot]" and snap.author.is_bot
    assert (snap.base, snap.head_sha, snap.draft) == ("main", pr.head_sha, True)
    assert snap.labels == {"dependencies", "automerge"}
    assert [(f.path, f.status, f.additions, f.deletions) for f in snap.files] == [
        ("pkgs/hello.nix", "modified", 3, 1)
    ]
    assert snap.created_at == pr.created_at and snap.created_at.utcoffset() == timedelta(0)
    assert snap.state == "open"
    await sim.ready_for_review(REPO, number)
    await sim.merge(REPO, number)
    merged = await fetch_snapshot(gh, REPO, number, cache)
    assert (merged.state, merged.draft) == ("merged", False)
    assert sim.writes == []  # reading a snapshot never writes


async def test_every_file_and_review_is_read_to_the_last_page(sim, gh, cache):
    paths = [f"pkgs/p{i:03}/default.nix" for i in range(250)]
    number = await sim.open_pr(REPO, "alice", "Mass rebuild", files=paths)
    reviewers = ["bob", "carol", "dave", "erin"]
    for i in range(120):
        state = "APPROVED" if i % 3 == 0 else "COMMENTED"
        await sim.review(REPO, number, reviewers[i % 4], state, body=f"review {i}")
    start = len(sim.requests)

    snap = await fetch_snapshot(gh, REPO, number, cache)

    assert [f.path for f in snap.files] == paths
    assert [r.author.login for r in snap.reviews] == [reviewers[i % 4] for i in range(120)]
    assert all(a.submitted_at <= b.submitted_at for a, b in itertools.pairwise(snap.reviews))
    pages = [(path, status) for _, path, status in requests_since(sim, start)]
    assert pages.count((f"{PULLS}/{number}/files", 200)) == 3
    assert pages.count((f"{PULLS}/{number}/reviews", 200)) == 2


async def test_pending_reviews_are_skipped_and_a_stale_approval_keeps_its_commit(sim, gh, cache):
    number = await sim.open_pr(REPO, "alice", "Fix", files=["a.py"])
    first = sim.pull(REPO, number).head_sha
    await sim.review(REPO, number, "bob", "APPROVED")
    await sim.review(REPO, number, "erin", "PENDING")
    second = await sim.push(REPO, number, files=["b.py"])
    await sim.review(REPO, number, "carol", "APPROVED")

    snap = await fetch_snapshot(gh, REPO, number, cache)

    assert [(r.author.login, r.state, r.commit) for r in snap.reviews] == [
        ("bob", "APPROVED", first),
        ("carol", "APPROVED", second),
    ]
    assert [a.login for a in snap.approvers_on_head] == ["carol"]


async def test_checks_and_statuses_on_the_head_only_the_latest_of_each(sim, gh, cache):
    number = await sim.open_pr(REPO, "alice", "Fix", files=["a.py"])
    await sim.add_check(REPO, number, "build", "success")
    await sim.set_status(REPO, number, "ci/legacy", "success")
    head = await sim.push(REPO, number, files=["b.py"])
    assert {r.name for r in (await fetch_snapshot(gh, REPO, number, cache)).ci} == set()

    await sim.add_check(REPO, number, "build", "failure")
    await sim.add_check(REPO, number, "build", "success")  # a re-run: the latest counts
    await sim.add_check(REPO, number, "lint", None, status="in_progress")
    await sim.add_check(REPO, number, "deploy", "action_required")
    await sim.add_check(REPO, number, "e2e", "timed_out")
    await sim.add_check(REPO, number, "docs", "skipped")
    await sim.set_status(REPO, number, "ci/legacy", "pending")
    await sim.set_status(REPO, number, "ci/legacy", "error")
    await sim.set_status(REPO, number, "coverage", "success")
    snap = await fetch_snapshot(gh, REPO, number, cache)

    assert {(r.name, r.source, r.state) for r in snap.ci} == {
        ("build", "check_run", "success"),
        ("lint", "check_run", "pending"),
        ("deploy", "check_run", "failure"),
        ("e2e", "check_run", "failure"),
        ("docs", "check_run", "skipped"),
        ("ci/legacy", "status", "error"),
        ("coverage", "status", "success"),
    }
    assert {r.commit for r in snap.ci} == {head}
    assert checks_green().explain(snap) == "deploy: failure"


CODEOWNERS = """\
# Everything else belongs to alice.
*               @alice
*.md            @Erin
/pkgs/          @acme/pkg-team
/pkgs/legacy/
/vendor/        @elsewhere/vendors
"""


async def test_code_owners_of_each_file_from_the_base_with_teams_expanded(sim, gh, cache):
    sim.set_codeowners(REPO, "* @nobody\n")  # main's file; the pull request targets release
    sim.set_codeowners(REPO, CODEOWNERS, branch="release")
    sim.add_team("acme/pkg-team", ["bob", "carol"])
    sim.add_team("elsewhere/vendors", ["dave"])  # another organization: not readable
    files = ["src/x.py", "README.md", "pkgs/a/default.nix", "pkgs/legacy/old.nix", "vendor/z.c"]
    number = await sim.open_pr(REPO, "alice", "Fix", files=files, base="release")
    await sim.review(REPO, number, "erin", "APPROVED")

    snap = await fetch_snapshot(gh, REPO, number, cache)
    plain = await fetch_snapshot(gh, REPO, number, LiveCache(expand_teams=False))

    assert dict(snap.code_owners) == {
        "src/x.py": ("alice",),
        "README.md": ("erin",),  # GitHub ignores the case of a login; the snapshot too
        "pkgs/a/default.nix": ("acme/pkg-team", "bob", "carol"),
        "pkgs/legacy/old.nix": (),  # the last matching line names nobody
        "vendor/z.c": ("elsewhere/vendors",),  # its members cannot be read: the team alone
    }
    assert plain.owners_of("pkgs/a/default.nix") == ("acme/pkg-team",)
    owners = approved_by_code_owners()
    assert owners.explain(snap) == "src/x.py: no approval from alice"
    await sim.review(REPO, number, "bob", "APPROVED")
    sim.set_codeowners(REPO, "* @bob\n", branch="release")  # only bob owns it from now on
    again = await fetch_snapshot(gh, REPO, number, cache)
    assert owners.passes(again)
    assert set(again.code_owners.values()) == {("bob",)}


async def test_codeowners_found_where_github_looks_first(sim, gh, cache):
    sim.set_file(REPO, "docs/CODEOWNERS", "* @carol\n")
    number = await sim.open_pr(REPO, "alice", "Fix", files=["a.py"])
    assert (await fetch_snapshot(gh, REPO, number, LiveCache())).owners_of("a.py") == ("carol",)
    sim.set_file(REPO, "CODEOWNERS", "* @bob\n")
    assert (await fetch_snapshot(gh, REPO, number, LiveCache())).owners_of("a.py") == ("bob",)
    sim.set_file(REPO, ".github/CODEOWNERS", "* @dave\n")
    assert (await fetch_snapshot(gh, REPO, number, LiveCache())).owners_of("a.py") == ("dave",)


async def test_permissions_of_the_author_and_every_reviewer(sim, gh, cache):
    sim.add_user("ci-helper[bot]", type="Bot")
    sim.add_user("zed")  # no role: anyone reads a public repository
    number = await sim.open_pr(REPO, "erin", "Fix", files=["a.py"])
    for login in ["alice", "carol", "dave", "zed", "ci-helper[bot]", "gone"]:
        await sim.review(REPO, number, login, "APPROVED")
    del sim.state.users["gone"]  # a deleted account: the permission endpoint answers 404

    snap = await fetch_snapshot(gh, REPO, number, cache, mergers=frozenset({"Dave"}))

    by_login = {r.author.login: r.author for r in snap.reviews}
    assert {login: a.permission for login, a in by_login.items()} == {
        "alice": "write",
        "carol": "maintain",
        "dave": "write",  # triage on GitHub, but on the configured list of mergers
        "zed": "read",
        "ci-helper[bot]": "read",
        "gone": "none",
    }
    assert (snap.author.permission, snap.author.association) == ("read", "COLLABORATOR")
    assert by_login["ci-helper[bot]"].type == "Bot" and by_login["alice"].type == "User"
    assert by_login["alice"].association == "MEMBER"
    assert approved_by_writers(3).passes(snap)  # alice, carol and dave; not the bot


async def test_an_unchanged_pull_request_costs_304s_and_no_permission_reads(
    sim, gh, cache, clock, monkeypatch
):
    sim.set_codeowners(REPO, CODEOWNERS)
    number = await sim.open_pr(REPO, "alice", "Fix", files=["a.py", "pkgs/b.nix"])
    await sim.review(REPO, number, "bob", "APPROVED")
    await sim.add_check(REPO, number, "build")
    parses = []
    parse = live_cache.parse_codeowners

    def counted_parse(text):
        parses.append(text)
        return parse(text)

    monkeypatch.setattr(live_cache, "parse_codeowners", counted_parse)
    await fetch_snapshot(gh, REPO, number, cache)

    start = len(sim.requests)
    await fetch_snapshot(gh, REPO, number, cache)
    warm = requests_since(sim, start)
    assert warm and all(status == 304 for _, _, status in warm)
    assert not any("/collaborators/" in path or "/teams/" in path for _, path, _ in warm)
    assert len(parses) == 1  # CODEOWNERS parsed once while its blob is unchanged

    clock.now += 601  # past the permission TTL: asked again (conditionally)
    start = len(sim.requests)
    await fetch_snapshot(gh, REPO, number, cache)
    asked = [path for _, path, _ in requests_since(sim, start) if "/collaborators/" in path]
    assert sorted(asked) == [
        f"/repos/{REPO}/collaborators/{login}/permission" for login in ("alice", "bob")
    ]


async def test_requests_per_snapshot_cold_and_warm(sim, gh, cache):
    sim.set_codeowners(REPO, CODEOWNERS)
    sim.add_team("acme/pkg-team", ["bob", "carol"])
    number = await sim.open_pr(REPO, "alice", "Big", files=[f"pkgs/{i}.nix" for i in range(250)])
    people = ["bob", "carol", "dave", "erin"]
    for i in range(120):
        await sim.review(REPO, number, people[i % 4], "COMMENTED")
    await sim.add_check(REPO, number, "build")
    await sim.set_status(REPO, number, "coverage")

    cold, warm = RequestTally(), RequestTally()
    start = len(sim.requests)
    await fetch_snapshot(gh, REPO, number, cache, tally=cold)
    middle = len(sim.requests)
    await fetch_snapshot(gh, REPO, number, cache, tally=warm)

    # The pull request, every page of files and of reviews, check runs, the combined
    # status, CODEOWNERS; cold only: one team, the author's and each reviewer's permission.
    per_snapshot = 1 + math.ceil(250 / 100) + math.ceil(120 / 100) + 1 + 1 + 1
    assert (cold.requests, cold.not_modified, cold.errors) == (per_snapshot + 1 + 5, 0, 0)
    assert (warm.requests, warm.not_modified) == (per_snapshot, per_snapshot)
    assert cold.requests == middle - start and warm.requests == len(sim.requests) - middle


async def test_a_502_on_a_read_is_retried(sim, gh, cache):
    number = await sim.open_pr(REPO, "alice", "Fix", files=["a.py", "b.py"])
    sim.fail_next(status=502, method="GET", path=f"{PULLS}/{number}/files")
    tally = RequestTally()

    snap = await fetch_snapshot(gh, REPO, number, cache, tally=tally)

    assert [f.path for f in snap.files] == ["a.py", "b.py"]
    files = [status for _, path, status in requests_since(sim, 0) if path.endswith("/files")]
    assert files == [502, 200]
    (wait,) = gh.waits  # the client's backoff before its first retry, with jitter
    assert 1.0 <= wait <= 1.5
    # The 502 and the three CODEOWNERS locations (none exists here) answered errors.
    assert (tally.requests, tally.errors) == (len(sim.requests), 4)


async def test_a_renamed_file_keeps_its_old_path_and_the_old_paths_owners(sim, gh, cache):
    sim.set_codeowners(REPO, "/src/ @alice\n/docs/ @carol\n")
    moved = FileChange("docs/cli.md", "renamed", 0, 0, previous_filename="src/cli.py")
    number = await sim.open_pr(REPO, "erin", "Move the CLI's help into the docs", files=[moved])

    snap = await fetch_snapshot(gh, REPO, number, cache)

    [change] = snap.files
    assert (change.path, change.status, change.previous_path) == (
        "docs/cli.md",
        "renamed",
        "src/cli.py",
    )
    assert dict(snap.code_owners) == {"docs/cli.md": ("carol",), "src/cli.py": ("alice",)}
    assert only_touches("docs/")(snap).detail == "src/cli.py (renamed to docs/cli.md) outside docs/"


async def test_a_pull_request_with_more_files_than_github_lists_is_never_docs_only(sim, gh, cache):
    files = [FileChange(f"docs/page-{i:04}.md", "added", 1, 0) for i in range(3001)]
    number = await sim.open_pr(REPO, "erin", "A very large docs change", files=files)

    snap = await fetch_snapshot(gh, REPO, number, cache)

    assert (len(snap.files), snap.files_missing) == (3000, 1)
    check = only_touches("docs/")
    assert check(snap).detail == "1 more changed file(s) that GitHub does not list"
    assert not check(snap).passed


def test_only_a_full_list_of_files_can_be_short():
    from shadowbot.live.snapshot import _files_missing
    from shadowbot.snapshot import FileChange as SnapshotFile

    listed = tuple(SnapshotFile(f"f{i}", "added") for i in range(3000))
    assert _files_missing({"changed_files": 3500}, listed) == 500
    # A shorter list than changed_files says: a push came in between, nothing is missing.
    assert _files_missing({"changed_files": 12}, listed[:10]) == 0
