"""The write guard cannot be walked around: no redirect is followed, no path game passes,
and an edit reaches GitHub only for a comment the bot wrote.

Redirects are answered by a tiny server (the simulator sends none); the rest runs against
the GitHub simulator, which records every request that reaches it.
"""

import logging

import aiohttp
import pytest
from aiohttp import web
from gidgethub import BadRequest
from livebot import github_fixture, sim_fixture  # noqa: F401

from shadowbot.github import GitHubApp, GitHubClient, WriteRefused, check_request
from shadowbot.github.client import RedirectRefused
from shadowbot.live import posting
from shadowbot.metrics import Metrics

COMMENTS = "/repos/o/r/issues/1/comments"
MERGE = "/repos/o/r/pulls/1/merge"

# -- redirects ------------------------------------------------------------------------


class Redirecting:
    """Answers ``status`` to everything under /repos/o/r/issues (and to /repos/o/r),
    pointing ``to``; records every request that reaches it, on any path."""

    def __init__(self):
        self.received = []
        self.status = 307
        self.to = MERGE
        self.url = ""

    async def redirect(self, request):
        self.received.append((request.method, request.path, request.headers.get("Authorization")))
        return web.Response(status=self.status, headers={"Location": self.to})

    async def target(self, request):
        self.received.append((request.method, request.path, request.headers.get("Authorization")))
        return web.json_response({"merged": True})


@pytest.fixture
async def redirecting(aiohttp_server):
    fake = Redirecting()
    app = web.Application()
    app.router.add_route("*", "/repos/o/r/issues/{tail:.*}", fake.redirect)
    app.router.add_route("*", "/repos/o/r", fake.redirect)
    app.router.add_route("*", "/{tail:.*}", fake.target)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
async def test_a_redirected_write_is_an_error_and_goes_nowhere_else(
    redirecting, session, caplog, status
):
    redirecting.status = status
    gh = GitHubClient(session, base_url=redirecting.url, metrics=Metrics(), oauth_token="ghs_x")
    with caplog.at_level(logging.WARNING, logger="shadowbot.github.client"):
        with pytest.raises(RedirectRefused, match=f"with {status}, a redirect to {MERGE}"):
            await gh.post(COMMENTS, data={"body": "a verdict"})
    assert redirecting.received == [("POST", COMMENTS, "token ghs_x")]  # the merge: nothing
    assert any("not followed" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("status", [301, 302, 307])
async def test_a_redirected_read_is_an_error_too(redirecting, session, status):
    redirecting.status = status
    redirecting.to = "/repos/o/elsewhere"
    gh = GitHubClient(session, base_url=redirecting.url, metrics=Metrics(), oauth_token="ghs_x")
    with pytest.raises(RedirectRefused, match=f"GET {redirecting.url}/repos/o/r with {status}"):
        await gh.getitem("/repos/o/r")
    assert [path for _, path, _ in redirecting.received] == ["/repos/o/r"]


async def test_a_redirect_to_another_host_never_carries_the_token_there(
    redirecting, session, aiohttp_server
):
    elsewhere = Redirecting()
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", elsewhere.target)
    other = await aiohttp_server(app)
    redirecting.to = str(other.make_url(MERGE))
    gh = GitHubClient(session, base_url=redirecting.url, metrics=Metrics(), oauth_token="ghs_x")
    with pytest.raises(RedirectRefused, match="redirects are not followed"):
        await gh.post(COMMENTS, data={"body": "a verdict"})
    assert elsewhere.received == []


async def test_not_modified_is_no_redirect_the_etag_cache_still_works(aiohttp_server, session):
    answers = []

    async def repo(request):
        if request.headers.get("If-None-Match") == '"v1"':
            answers.append(304)
            return web.Response(status=304, headers={"ETag": '"v1"'})
        answers.append(200)
        return web.json_response({"full_name": "o/r"}, headers={"ETag": '"v1"'})

    app = web.Application()
    app.router.add_get("/repos/o/r", repo)
    server = await aiohttp_server(app)
    url = str(server.make_url("")).rstrip("/")
    gh = GitHubClient(session, base_url=url, metrics=Metrics(), oauth_token="t", cache={})
    assert (await gh.getitem("/repos/o/r"))["full_name"] == "o/r"
    assert (await gh.getitem("/repos/o/r"))["full_name"] == "o/r"
    assert answers == [200, 304]


# -- path games -------------------------------------------------------------------------

API = "https://api.github.com"


@pytest.mark.parametrize(
    ("method", "path", "why"),
    [
        ("POST", "/repos/o//r/issues/1/comments", "empty path segment"),
        ("POST", "/repos/o/r/issues//1/comments", "empty path segment"),
        ("POST", "/repos/o/r/issues/1/comments/", "empty path segment"),
        ("POST", "/repos/o/r/issues/1/comments//", "empty path segment"),
        ("PATCH", "/repos/o/r/issues/comments/5/", "empty path segment"),
        ("PATCH", "/repos/o/r//issues/comments/5", "empty path segment"),
        ("POST", "/repos/o/r/issues/comments/5/reactions/", "empty path segment"),
        ("POST", "/app/installations/9/access_tokens/", "empty path segment"),
        ("POST", "/repos/o/r/issues/1/comments/..", "not below the API"),
        ("POST", "/repos/o/r/issues/1/../1/comments", "not below the API"),
        ("POST", "/repos/o/r/issues/./1/comments", "not below the API"),
        ("PATCH", "/repos/o/r/issues/comments/5/../../../pulls/1", "not below the API"),
        ("POST", "/repos/o%2Fr/issues/1/comments", "percent escape"),
        ("POST", "/repos/o/r/issues/1/comments%2F..%2F..%2Fpulls%2F1%2Fmerge", "percent escape"),
        ("POST", "/repos/o/r/issues/1%2fcomments", "percent escape"),
        ("POST", "/repos/o/r/issues/%31/comments", "percent escape"),
        ("PATCH", "/repos/o/r/issues/comments/5%2F..%2F..%2F..%2Fpulls%2F1", "percent escape"),
        ("POST", "/repos/o/r/issues/1/comments%3B", "percent escape"),
        ("POST", "/repos/o\\..\\x/r/issues/1/comments", "only writes its own comments"),
        ("POST", "/repos/o;x=1/r/issues/1/comments", "only writes its own comments"),
    ],
)
def test_a_write_playing_with_its_path_is_refused(method, path, why):
    with pytest.raises(WriteRefused, match=why):
        check_request(method, API + path, API)


@pytest.mark.parametrize(
    "path",
    [
        "/repos/{repo}/issues/{number}/comments/",
        "/repos/{owner}//{name}/issues/{number}/comments",
        "/repos/{repo}/issues//{number}/comments",
        "/repos/{repo}/issues/{number}/comments/../../{number}/comments",
        "/repos/{owner}%2F{name}/issues/{number}/comments",
        "/repos/{repo}/issues/{number}%2Fcomments",
        "/repos/{repo}/issues/{number}/comments%2F..%2F..%2Fpulls%2F{number}%2Fmerge",
    ],
)
async def test_a_path_game_never_reaches_github(sim, github, path):
    """Absolute URLs, as a ``Link`` header or a payload's ``url`` would give them: a
    relative path is resolved by gidgethub (``//`` collapsed, ``..`` removed) before the
    guard sees it, and the guard checks what is sent."""
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    owner, name = sim.repo.split("/")
    gh = await github.installation(sim.installation_id)
    before = len(sim.requests)
    url = sim.url + path.format(repo=sim.repo, owner=owner, name=name, number=number)
    with pytest.raises(WriteRefused):
        await gh.post(url, data={"body": "a verdict"})
    assert len(sim.requests) == before
    assert sim.comments(sim.repo, number) == []


# -- editing only the bot's own comments --------------------------------------------------


def edits(sim):
    return [r for r in sim.requests if r.method == "PATCH"]


def comment_reads(sim, comment_id):
    path = f"/repos/{sim.repo}/issues/comments/{comment_id}"
    return [r for r in sim.requests if r.method == "GET" and r.path == path]


async def test_editing_someone_elses_comment_is_refused_and_never_sent(sim, github, caplog):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    quote = "<!-- shadowbot --> quoting the bot"
    theirs = await sim.comment(sim.repo, number, "alice", quote)
    gh = await github.installation(sim.installation_id)
    with caplog.at_level(logging.WARNING, logger="shadowbot.github.client"):
        with pytest.raises(WriteRefused, match="written by 'alice', not by shadowbot\\[bot\\]"):
            await gh.patch(f"/repos/{sim.repo}/issues/comments/{theirs}", data={"body": "x"})
    assert edits(sim) == []
    assert [c.body for c in sim.comments(sim.repo, number)] == [quote]
    assert any("did not write" in r.getMessage() for r in caplog.records)
    # Asked again, GitHub is asked again: a refusal is never remembered as a pass.
    with pytest.raises(WriteRefused):
        await gh.patch(f"/repos/{sim.repo}/issues/comments/{theirs}", data={"body": "x"})
    assert edits(sim) == [] and len(comment_reads(sim, theirs)) == 2


async def test_posting_refuses_to_edit_a_comment_it_was_handed_by_mistake(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    theirs = await sim.comment(sim.repo, number, "carol", "lgtm")
    (listed,) = [
        posting._own(c)
        async for c in (await github.installation(sim.installation_id)).getiter(
            f"/repos/{sim.repo}/issues/{number}/comments"
        )
    ]
    assert listed.id == theirs
    gh = await github.installation(sim.installation_id)
    lock = github.write_lock(sim.installation_id)
    with pytest.raises(WriteRefused):
        await posting.upsert_comment(gh, lock, sim.repo, number, "a verdict", listed)
    assert edits(sim) == []
    assert [c.body for c in sim.comments(sim.repo, number)] == ["lgtm"]


async def test_the_bots_own_comment_is_edited_its_author_asked_once(sim, github, app_key_pem):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    gh = await github.installation(sim.installation_id)
    created = await gh.post(f"/repos/{sim.repo}/issues/{number}/comments", data={"body": "v1"})
    url = f"/repos/{sim.repo}/issues/comments/{created['id']}"
    await gh.patch(url, data={"body": "v2"})
    assert comment_reads(sim, created["id"]) == []  # it created the comment: no need to ask
    # Another process (a restart, another replica) asks GitHub once, then remembers.
    async with aiohttp.ClientSession() as session:
        again = GitHubApp(
            session, base_url=sim.url, app_id=sim.app_id, private_key=app_key_pem, metrics=Metrics()
        )
        other = await again.installation(sim.installation_id)
        await other.patch(url, data={"body": "v3"})
        await (await again.installation(sim.installation_id)).patch(url, data={"body": "v4"})
    assert len(comment_reads(sim, created["id"])) == 1
    assert len(edits(sim)) == 3
    assert [c.body for c in sim.comments(sim.repo, number)] == ["v4"]


async def test_editing_a_deleted_comment_answers_githubs_404_and_sends_no_edit(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    theirs = await sim.comment(sim.repo, number, "alice", "soon gone")
    await sim.delete_comment(theirs)
    gh = await github.installation(sim.installation_id)
    with pytest.raises(BadRequest) as answered:
        await gh.patch(f"/repos/{sim.repo}/issues/comments/{theirs}", data={"body": "x"})
    assert answered.value.status_code == 404
    assert edits(sim) == []


async def test_a_client_that_does_not_know_the_bots_login_sends_no_edit(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    theirs = await sim.comment(sim.repo, number, "alice", "hi")
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient(
            session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token()
        )
        before = len(sim.requests)
        with pytest.raises(WriteRefused, match="login is not known"):
            await gh.patch(f"/repos/{sim.repo}/issues/comments/{theirs}", data={"body": "x"})
    assert len(sim.requests) == before
