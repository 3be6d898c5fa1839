"""The simulator's ``GET /repos/{owner}/{repo}/compare/{base}...{head}`` over real HTTP, in
GitHub's documented shape: each head of a seeded pull request against its base lists that
head's files (a rename with its ``previous_filename``); at most 300 files; with ``per_page``
the commits are paged and the files come on the first page only; an unknown ref is a 404.
``GET /pulls/{n}/files`` gives a rename's ``previous_filename`` too."""

import aiohttp
import pytest
from collect_history import CODEOWNERS, REPO

from shadowbot.simulator import Simulator
from shadowbot.simulator.graphql_seed import seed_history

ACTOR = {"login": "dave", "type": "User", "association": "CONTRIBUTOR", "permission": "none"}


def _file(path, status="modified", additions=1, deletions=0, previous=None):
    file = {"path": path, "status": status, "additions": additions, "deletions": deletions}
    if previous is not None:
        file["previous_path"] = previous
    return {**file, "owners": []}


RECORD = {
    "number": 1,
    "title": "Three heads",
    "body": "",
    "author": ACTOR,
    "base": "main",
    "created_at": "2024-01-01T00:00:00Z",
    "events": [
        {
            "type": "opened",
            "at": "2024-01-01T00:00:00Z",
            "head": "h1",
            "draft": False,
            "labels": [],
            "files": [_file("src/a.py", "added", 5), _file("src/b.py", "renamed", 1, 1, "b.py")],
        },
        {
            "type": "push",
            "at": "2024-01-01T01:00:00Z",
            "head": "h2",
            "files": [_file(f"gen/{i:03}.txt", "added", i) for i in range(320)],
        },
        {"type": "push", "at": "2024-01-01T02:00:00Z", "head": "h3"},
        {
            "type": "push",
            "at": "2024-01-01T03:00:00Z",
            "head": "h4",
            "files": [_file("src/c.py", "renamed", 0, 0, "src/a.py"), _file("README.md")],
        },
    ],
}


@pytest.fixture
async def sim(app_key_pem):
    async with Simulator.running(private_key_pem=app_key_pem) as simulator:
        simulator.set_codeowners(REPO, CODEOWNERS[0])
        seed_history(simulator.state, REPO, [RECORD])
        yield simulator


@pytest.fixture
async def get(sim):
    headers = {"Authorization": f"token {sim.create_token()}"}
    async with aiohttp.ClientSession() as session:

        async def fetch(path):
            async with session.get(f"{sim.url}/repos/{REPO}{path}", headers=headers) as r:
                return r.status, (await r.json()), r.headers.get("Link")

        yield fetch


def files_of(body):
    return [
        (f["filename"], f["status"], f["additions"], f["deletions"], f.get("previous_filename"))
        for f in body["files"]
    ]


async def test_each_head_against_the_base_lists_that_heads_files(sim, get):
    base = sim.state.repo(REPO).pulls[1].commits[0].parents[0]

    status, body, link = await get(f"/compare/{base}...h1")

    assert status == 200 and link is None
    assert files_of(body) == [
        ("src/a.py", "added", 5, 0, None),
        ("src/b.py", "renamed", 1, 1, "b.py"),
    ]
    assert body["status"] == "ahead" and body["ahead_by"] == body["total_commits"] == 1
    assert body["behind_by"] == 0
    assert body["base_commit"]["sha"] == body["merge_base_commit"]["sha"] == base
    assert [c["sha"] for c in body["commits"]] == ["h1"]
    assert body["files"][0]["changes"] == 5 and "h1" in body["files"][0]["contents_url"]
    assert body["url"].endswith(f"/repos/{REPO}/compare/{base}...h1")

    # A push that gives no files keeps the ones before; the last head lists the files now.
    _, third, _ = await get(f"/compare/{base}...h3")
    assert [f[0] for f in files_of(third)] == [f"gen/{i:03}.txt" for i in range(300)]
    assert [c["sha"] for c in third["commits"]] == ["h1", "h2", "h3"]
    _, last, _ = await get(f"/compare/{base}...h4")
    assert files_of(last) == [
        ("src/c.py", "renamed", 0, 0, "src/a.py"),
        ("README.md", "modified", 1, 0, None),
    ]


async def test_at_most_300_files_and_with_per_page_they_come_on_the_first_page_only(sim, get):
    base = sim.state.repo(REPO).pulls[1].commits[0].parents[0]

    _, whole, _ = await get(f"/compare/{base}...h2")
    status, first, link = await get(f"/compare/{base}...h2?per_page=1")
    _, second, _ = await get(f"/compare/{base}...h2?per_page=1&page=2")

    assert len(whole["files"]) == 300 and whole["total_commits"] == 2
    assert status == 200 and len(first["files"]) == 300 and second["files"] == []
    assert [c["sha"] for c in first["commits"]] == ["h1"]
    assert [c["sha"] for c in second["commits"]] == ["h2"]
    assert 'rel="next"' in link and "page=2" in link


async def test_between_two_heads_the_merge_base_is_the_earlier(sim, get):
    status, body, _ = await get("/compare/h1...h3")

    assert status == 200 and body["merge_base_commit"]["sha"] == "h1"
    assert body["ahead_by"] == 2 and body["behind_by"] == 0 and body["status"] == "ahead"
    assert [c["sha"] for c in body["commits"]] == ["h2", "h3"]
    assert (await get("/compare/h3...h3"))[1]["status"] == "identical"


async def test_an_unknown_ref_or_no_three_dots_is_a_404(sim, get):
    assert (await get("/compare/main...nothing"))[0] == 404
    assert (await get("/compare/main..h1"))[0] == 404


async def test_the_pull_requests_files_give_a_renames_previous_filename(sim, get):
    status, body, _ = await get("/pulls/1/files?per_page=100")

    assert status == 200
    assert [(f["filename"], f.get("previous_filename")) for f in body] == [
        ("src/c.py", "src/a.py"),
        ("README.md", None),
    ]
