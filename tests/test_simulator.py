"""The GitHub simulator, over real HTTP: App authentication, GitHub's REST conventions
(pagination, ETags, rate limits), faults, comments and reactions, signed webhooks, the
write log and the scenario driver."""

import asyncio
import base64
import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

import aiohttp
import jwt
import pytest
from aiohttp import web
from gidgethub import BadRequest, RateLimitExceeded
from gidgethub.aiohttp import GitHubAPI
from gidgethub.apps import get_installation_access_token

from shadowbot.simulator import (
    SECONDARY_RATE_LIMIT_MESSAGE,
    FileChange,
    Simulator,
    SimulatorError,
    load_script,
)
from shadowbot.simulator.auth import generate_private_key

SECRET = "It's a Secret to Everybody"
REPO = "acme/widgets"


@dataclass
class Receiver:
    """A stand-in bot: records deliveries, answers 401 when the signature does not verify."""

    url: str = ""
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)

    def events(self):
        return [(h["X-GitHub-Event"], json.loads(b).get("action")) for h, b in self.received]

    def payloads(self, event):
        return [json.loads(b) for h, b in self.received if h["X-GitHub-Event"] == event]


def verifies(secret: str, body: bytes, header: str | None) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return header is not None and hmac.compare_digest(expected, header)


@pytest.fixture
async def receiver(aiohttp_server):
    found = Receiver()

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        found.received.append((dict(request.headers), body))
        ok = verifies(SECRET, body, request.headers.get("X-Hub-Signature-256"))
        return web.Response(status=202 if ok else 401)

    app = web.Application()
    app.router.add_post("/webhook", webhook)
    server = await aiohttp_server(app)
    found.url = str(server.make_url("/webhook"))
    return found


@pytest.fixture
async def sim(receiver, app_key_pem):
    async with Simulator.running(
        webhook_url=receiver.url, webhook_secret=SECRET, private_key_pem=app_key_pem
    ) as simulator:
        yield simulator


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def auth(sim):
    return {"Authorization": f"token {sim.create_token()}"}


def app_jwt(sim, *, key=None, iss=None, iat=None, exp=None):
    now = int(time.time())
    claims = {
        "iat": now - 60 if iat is None else iat,
        "exp": now + 540 if exp is None else exp,
        "iss": str(sim.app_id if iss is None else iss),
    }
    return jwt.encode(claims, key or sim.private_key_pem, algorithm="RS256")


def links(response):
    return {link.get("rel"): str(link["url"]) for link in response.links.values()}


# --- App authentication ---


async def test_gidgethub_exchanges_a_real_jwt_for_a_token_that_works(sim, session):
    gh = GitHubAPI(session, "shadowbot-tests", base_url=sim.url)
    before = datetime.now(UTC)
    token = await get_installation_access_token(
        gh,
        installation_id=str(sim.installation_id),
        app_id=str(sim.app_id),
        private_key=sim.private_key_pem,
    )
    expires = datetime.fromisoformat(token["expires_at"].replace("Z", "+00:00"))
    assert 3590 <= (expires - before).total_seconds() <= 3610
    client = GitHubAPI(session, "shadowbot-tests", oauth_token=token["token"], base_url=sim.url)
    repo = await client.getitem("/repos/{owner}/{repo}", {"owner": "acme", "repo": "widgets"})
    assert repo["full_name"] == REPO
    number = await sim.open_pr(REPO, "alice", "Many files", files=[f"f{i}" for i in range(70)])
    files = [f async for f in client.getiter(f"/repos/{REPO}/pulls/{number}/files")]
    assert [f["filename"] for f in files] == [f"f{i}" for i in range(70)]


async def test_token_lifetime_is_configurable(sim, session):
    sim.token_ttl = 120
    url = f"{sim.url}/app/installations/{sim.installation_id}/access_tokens"
    async with session.post(url, headers={"Authorization": f"Bearer {app_jwt(sim)}"}) as r:
        assert r.status == 201
        expires = datetime.fromisoformat((await r.json())["expires_at"].replace("Z", "+00:00"))
    assert 110 <= (expires - datetime.now(UTC)).total_seconds() <= 121


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda sim: app_jwt(sim, key=generate_private_key()[1]), "could not be decoded"),
        (lambda sim: app_jwt(sim, iss=1), "Integration not found"),
        (lambda sim: app_jwt(sim, exp=int(time.time()) - 10), "'Expiration time'"),
        (lambda sim: app_jwt(sim, exp=int(time.time()) + 3600), "too far in the future"),
        (lambda sim: "not.a.jwt", "could not be decoded"),
    ],
    ids=["other-key", "other-app", "expired", "too-long", "garbage"],
)
async def test_a_bad_jwt_gets_401(sim, session, make, message):
    url = f"{sim.url}/app/installations/{sim.installation_id}/access_tokens"
    async with session.post(url, headers={"Authorization": f"Bearer {make(sim)}"}) as r:
        assert r.status == 401
        assert message in (await r.json())["message"]


async def test_unknown_missing_and_expired_tokens_get_401(sim, session, auth):
    url = f"{sim.url}/repos/{REPO}"
    for headers in ({"Authorization": "token ghs_nope"}, {}, {"Authorization": "Basic x"}):
        async with session.get(url, headers=headers) as r:
            assert r.status == 401
    async with session.get(url, headers=auth) as r:
        assert r.status == 200
    assert sim.expire_tokens() == 1
    async with session.get(url, headers=auth) as r:
        assert r.status == 401
        assert (await r.json())["message"] == "Bad credentials"


async def test_installations_and_their_repositories(sim, session, auth):
    jwt_auth = {"Authorization": f"Bearer {app_jwt(sim)}"}
    async with session.get(f"{sim.url}/app/installations", headers=jwt_auth) as r:
        assert [i["id"] for i in await r.json()] == [sim.installation_id]
    async with session.get(f"{sim.url}/installation/repositories", headers=auth) as r:
        body = await r.json()
        assert body["total_count"] == 1
        assert body["repositories"][0]["full_name"] == REPO


# --- pagination, ETags, rate limits ---


async def test_250_files_paginate_to_the_end_through_link_headers(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Big", files=[f"src/{i:03}.py" for i in range(250)])
    url, pages, names = f"{sim.url}/repos/{REPO}/pulls/{number}/files?per_page=100", [], []
    while url:
        async with session.get(url, headers=auth) as r:
            names += [f["filename"] for f in await r.json()]
            pages.append(links(r))
            url = links(r).get("next")
    assert names == [f"src/{i:03}.py" for i in range(250)]
    assert len(pages) == 3
    assert set(pages[0]) == {"next", "last"}
    assert set(pages[1]) == {"prev", "next", "last", "first"}
    assert set(pages[2]) == {"prev", "first"}
    assert pages[0]["last"].startswith(sim.url) and "per_page=100" in pages[0]["last"]
    assert "page=3" in pages[0]["last"]


async def test_per_page_defaults_to_30_and_is_capped_at_100(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Big", files=[f"f{i}" for i in range(250)])
    base = f"{sim.url}/repos/{REPO}/pulls/{number}/files"
    async with session.get(base, headers=auth) as r:
        assert len(await r.json()) == 30
        assert "page=9" in links(r)["last"]
    async with session.get(f"{base}?per_page=500&page=3", headers=auth) as r:
        assert len(await r.json()) == 50
    async with session.get(f"{base}?per_page=100&page=4", headers=auth) as r:
        assert await r.json() == []


async def test_a_matching_etag_gets_an_empty_304_that_costs_no_rate_limit(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Cache me")
    url = f"{sim.url}/repos/{REPO}/pulls/{number}"
    async with session.get(url, headers=auth) as r:
        etag, remaining = r.headers["ETag"], int(r.headers["x-ratelimit-remaining"])
        assert etag.startswith('W/"')
    async with session.get(url, headers={**auth, "If-None-Match": etag}) as r:
        assert r.status == 304
        assert await r.read() == b""
        assert int(r.headers["x-ratelimit-remaining"]) == remaining
    await sim.push(REPO, number)
    async with session.get(url, headers={**auth, "If-None-Match": etag}) as r:
        assert r.status == 200
        assert r.headers["ETag"] != etag
        assert int(r.headers["x-ratelimit-remaining"]) == remaining - 1


async def test_rate_limit_headers_count_down_and_run_out(sim, session, auth):
    url = f"{sim.url}/repos/{REPO}"
    seen = []
    for _ in range(3):
        async with session.get(url, headers=auth) as r:
            headers = r.headers
            seen.append((int(headers["x-ratelimit-remaining"]), int(headers["x-ratelimit-used"])))
            assert r.headers["x-ratelimit-limit"] == "5000"
            assert r.headers["x-ratelimit-resource"] == "core"
            assert int(r.headers["x-ratelimit-reset"]) > time.time()
    assert seen == [(4999, 1), (4998, 2), (4997, 3)]
    async with session.get(f"{sim.url}/rate_limit", headers=auth) as r:
        assert (await r.json())["resources"]["core"]["remaining"] == 4997
        assert r.headers["x-ratelimit-remaining"] == "4997"
    sim.exhaust_rate_limit()
    async with session.get(url, headers=auth) as r:
        assert r.status == 403
        assert r.headers["x-ratelimit-remaining"] == "0"
        assert "rate limit exceeded" in (await r.json())["message"]
    client = GitHubAPI(session, "t", oauth_token=auth["Authorization"][6:], base_url=sim.url)
    with pytest.raises(RateLimitExceeded):
        await client.getitem(f"/repos/{REPO}")


# --- faults ---


async def test_fail_next_answers_5xx_to_matching_requests_only(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Flaky")
    sim.fail_next(2, status=503, method="GET", path="/repos/*/pulls/*/files")
    files = f"{sim.url}/repos/{REPO}/pulls/{number}/files"
    async with session.get(f"{sim.url}/repos/{REPO}/pulls/{number}", headers=auth) as r:
        assert r.status == 200
    statuses = []
    for _ in range(3):
        async with session.get(files, headers=auth) as r:
            statuses.append(r.status)
    assert statuses == [503, 503, 200]


async def test_hang_next_makes_a_client_time_out(sim, session, auth):
    sim.hang_next(delay=5.0, path=f"/repos/{REPO}")
    with pytest.raises(asyncio.TimeoutError):
        timeout = aiohttp.ClientTimeout(total=0.2)
        async with session.get(f"{sim.url}/repos/{REPO}", headers=auth, timeout=timeout):
            pass
    async with session.get(f"{sim.url}/repos/{REPO}", headers=auth) as r:
        assert r.status == 200


async def test_secondary_rate_limit_is_403_with_retry_after(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Busy")
    sim.secondary_rate_limit_next(retry_after=7, method="POST")
    url = f"{sim.url}/repos/{REPO}/issues/{number}/comments"
    async with session.post(url, json={"body": "hi"}, headers=auth) as r:
        assert r.status == 403
        assert r.headers["Retry-After"] == "7"
        assert (await r.json())["message"] == SECONDARY_RATE_LIMIT_MESSAGE
    client = GitHubAPI(session, "t", oauth_token=auth["Authorization"][6:], base_url=sim.url)
    sim.secondary_rate_limit_next()
    with pytest.raises(BadRequest) as raised:
        await client.post(f"/repos/{REPO}/issues/{number}/comments", data={"body": "hi"})
    assert raised.value.status_code == 403
    assert sim.comments(REPO, number) == []


# --- comments and reactions ---


async def test_comment_create_edit_delete_and_reactions(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Talk")
    base = f"{sim.url}/repos/{REPO}/issues"
    async with session.post(f"{base}/{number}/comments", json={"body": "v1"}, headers=auth) as r:
        assert r.status == 201
        created = await r.json()
        assert created["user"] == {**created["user"], "login": "shadowbot[bot]", "type": "Bot"}
    comment = f"{base}/comments/{created['id']}"
    async with session.patch(comment, json={"body": "v2"}, headers=auth) as r:
        assert (await r.json())["body"] == "v2"
    reactions = f"{comment}/reactions"
    async with session.post(reactions, json={"content": "eyes"}, headers=auth) as r:
        assert r.status == 201
        first = await r.json()
    async with session.post(reactions, json={"content": "eyes"}, headers=auth) as r:
        assert r.status == 200
        assert (await r.json())["id"] == first["id"]
    async with session.post(reactions, json={"content": "nope"}, headers=auth) as r:
        assert r.status == 422
    await sim.react(created["id"], "bob", "-1")
    async with session.get(reactions, headers=auth) as r:
        assert [(x["user"]["login"], x["content"]) for x in await r.json()] == [
            ("shadowbot[bot]", "eyes"),
            ("bob", "-1"),
        ]
    async with session.get(comment, headers=auth) as r:
        rollup = (await r.json())["reactions"]
        assert (rollup["total_count"], rollup["-1"], rollup["eyes"]) == (2, 1, 1)
    async with session.delete(f"{reactions}/{first['id']}", headers=auth) as r:
        assert r.status == 204
    assert await sim.unreact(created["id"], "bob", "-1")
    async with session.get(reactions, headers=auth) as r:
        assert await r.json() == []
    async with session.delete(comment, headers=auth) as r:
        assert r.status == 204
    async with session.get(comment, headers=auth) as r:
        assert r.status == 404
    await sim.settle()
    assert [e for e in sim.events() if e[0] == "issue_comment"] == [
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
    ]


# --- webhooks ---


async def test_deliveries_are_signed_and_headed_like_githubs(sim, receiver):
    number = await sim.open_pr(REPO, "alice", "Hello", files=["README.md"])
    [(headers, body)] = receiver.received
    assert verifies(SECRET, body, headers["X-Hub-Signature-256"])
    sha1 = "sha1=" + hmac.new(SECRET.encode(), body, hashlib.sha1).hexdigest()
    assert hmac.compare_digest(sha1, headers["X-Hub-Signature"])
    assert headers["X-GitHub-Event"] == "pull_request"
    assert uuid.UUID(headers["X-GitHub-Delivery"])
    assert headers["User-Agent"].startswith("GitHub-Hookshot/")
    assert headers["Content-Type"] == "application/json"
    assert headers["X-GitHub-Hook-ID"].isdigit()
    assert headers["X-GitHub-Hook-Installation-Target-Type"] == "integration"
    assert headers["X-GitHub-Hook-Installation-Target-ID"] == str(sim.app_id)
    payload = json.loads(body)
    assert payload["action"] == "opened"
    assert payload["number"] == number
    assert payload["installation"] == {"id": sim.installation_id}
    assert payload["repository"]["full_name"] == REPO
    assert payload["sender"]["login"] == "alice"
    assert payload["pull_request"]["head"]["sha"] == sim.pull(REPO, number).head_sha
    assert sim.deliveries[0].status == 202


async def test_redelivery_keeps_the_delivery_id_and_body(sim, receiver):
    await sim.open_pr(REPO, "alice", "Again")
    original = sim.deliveries[0]
    again = await sim.redeliver(original.guid)
    assert again.redelivery and again.status == 202
    (h1, b1), (h2, b2) = receiver.received
    assert h1["X-GitHub-Delivery"] == h2["X-GitHub-Delivery"] == original.guid
    assert b1 == b2


async def test_a_forged_signature_is_sent_and_refused(sim, receiver):
    forged = await sim.send_forged()
    unsigned = await sim.send_forged("ping", {"zen": "x"}, signature=None)
    assert (forged.status, unsigned.status) == (401, 401)
    assert "X-Hub-Signature-256" not in receiver.received[1][0]


async def test_every_write_is_logged_including_a_merge(sim, session, auth, receiver):
    number = await sim.open_pr(REPO, "alice", "Merge me")
    url = f"{sim.url}/repos/{REPO}/pulls/{number}/merge"
    async with session.put(url, json={"merge_method": "squash"}, headers=auth) as r:
        assert r.status == 200
        assert (await r.json())["merged"] is True
    async with session.put(url, json={}, headers=auth) as r:
        assert r.status == 405
    async with session.post(f"{sim.url}/repos/{REPO}/no-such-thing", headers=auth) as r:
        assert r.status == 404
    async with session.get(f"{sim.url}/repos/{REPO}", headers=auth):
        pass
    assert [(w.method, w.path, w.status) for w in sim.writes] == [
        ("PUT", f"/repos/{REPO}/pulls/{number}/merge", 200),
        ("PUT", f"/repos/{REPO}/pulls/{number}/merge", 405),
        ("POST", f"/repos/{REPO}/no-such-thing", 404),
    ]
    assert sim.writes[0].body == {"merge_method": "squash"}
    assert sim.writes[0].installation_id == sim.installation_id
    assert sim.pull(REPO, number).merged
    await sim.settle()
    [closed] = [p for p in receiver.payloads("pull_request") if p["action"] == "closed"]
    assert closed["pull_request"]["merged"] is True
    assert closed["sender"]["login"] == "shadowbot[bot]"


# --- the scenario driver ---


async def test_open_review_push_merge_sends_the_expected_events(sim, receiver):
    sim.add_user("bob", "write")
    number = await sim.open_pr(REPO, "alice", "Feature", files=["a.py"])
    first = sim.pull(REPO, number).head_sha
    await sim.review(REPO, number, "bob", "APPROVED")
    second = await sim.push(REPO, number, files=[FileChange("b.py", "added", 10)])
    await sim.merge(REPO, number, merger="bob")
    expected = [
        ("pull_request", "opened"),
        ("pull_request_review", "submitted"),
        ("pull_request", "synchronize"),
        ("pull_request", "closed"),
    ]
    assert sim.events() == expected
    assert receiver.events() == expected
    review = receiver.payloads("pull_request_review")[0]["review"]
    assert (review["state"], review["commit_id"], review["user"]["login"]) == (
        "approved",
        first,
        "bob",
    )
    assert review["author_association"] == "MEMBER"
    sync = receiver.payloads("pull_request")[1]
    assert (sync["before"], sync["after"]) == (first, second)
    closed = receiver.payloads("pull_request")[2]["pull_request"]
    assert closed["merged"] and closed["merged_by"]["login"] == "bob" and closed["merged_at"]


async def test_every_event_the_bot_handles_is_sent_with_common_fields(sim, receiver):
    sim.add_user("bob", "maintain")
    n = await sim.open_pr(REPO, "alice", "All", draft=True, labels=["docs"])
    await sim.ready_for_review(REPO, n)
    await sim.convert_to_draft(REPO, n)
    await sim.edit_pr(REPO, n, title="All events")
    await sim.unlabel(REPO, n, "docs")
    review = await sim.review(REPO, n, "bob", "CHANGES_REQUESTED", body="no")
    await sim.edit_review(REPO, n, review, "no, sorry")
    await sim.dismiss_review(REPO, n, review, sender="bob")
    await sim.add_check(REPO, n, "tests")
    await sim.set_status(REPO, n, "ci/lint", "failure")
    comment = await sim.comment(REPO, n, "carol", "@shadowbot note hi")
    await sim.edit_comment(comment, "@shadowbot note hello")
    await sim.delete_comment(comment)
    await sim.close(REPO, n)
    await sim.reopen(REPO, n)
    await sim.add_repo("acme/gadgets")
    await sim.send_installation("created")
    await sim.ping()
    assert receiver.events() == [
        ("pull_request", "opened"),
        ("pull_request", "labeled"),
        ("pull_request", "ready_for_review"),
        ("pull_request", "converted_to_draft"),
        ("pull_request", "edited"),
        ("pull_request", "unlabeled"),
        ("pull_request_review", "submitted"),
        ("pull_request_review", "edited"),
        ("pull_request_review", "dismissed"),
        ("check_run", "completed"),
        ("check_suite", "completed"),
        ("status", None),
        ("issue_comment", "created"),
        ("issue_comment", "edited"),
        ("issue_comment", "deleted"),
        ("pull_request", "closed"),
        ("pull_request", "reopened"),
        ("installation_repositories", "added"),
        ("installation", "created"),
        ("ping", None),
    ]
    for headers, body in receiver.received:
        payload = json.loads(body)
        assert "sender" in payload
        if headers["X-GitHub-Event"] != "ping":
            assert payload["installation"]["id"] == sim.installation_id
    edited = receiver.payloads("pull_request")[4]
    assert edited["changes"] == {"title": {"from": "All"}}
    comment_edit = receiver.payloads("issue_comment")[1]
    assert comment_edit["changes"] == {"body": {"from": "@shadowbot note hi"}}
    assert comment_edit["issue"]["pull_request"]["url"].endswith(f"/pulls/{n}")
    run = receiver.payloads("check_run")[0]["check_run"]
    assert run["pull_requests"][0]["number"] == n and run["conclusion"] == "success"
    assert receiver.payloads("status")[0]["sha"] == sim.pull(REPO, n).head_sha


async def test_rest_shapes_of_reviews_checks_statuses_permissions_and_codeowners(
    sim, session, auth
):
    sim.add_user("bob", "maintain")
    sim.add_user("dependabot[bot]", type="Bot")
    sim.set_codeowners(REPO, "* @acme/core\n/docs/ @bob\n")
    n = await sim.open_pr(REPO, "alice", "Shapes")
    await sim.review(REPO, n, "bob", "APPROVED")
    await sim.add_check(REPO, n, "build", "failure")
    await sim.add_check(REPO, n, "build", "success")
    await sim.set_status(REPO, n, "ci", "pending")
    await sim.set_status(REPO, n, "ci", "success")
    head, api = sim.pull(REPO, n).head_sha, f"{sim.url}/repos/{REPO}"

    async def get(path):
        async with session.get(api + path, headers=auth) as r:
            return r.status, await r.json()

    _, [review] = await get(f"/pulls/{n}/reviews")
    assert (review["state"], review["commit_id"], review["author_association"]) == (
        "APPROVED",
        head,
        "MEMBER",
    )
    assert review["submitted_at"].endswith("Z") and review["user"]["login"] == "bob"
    _, checks = await get(f"/commits/{head}/check-runs")
    assert checks["total_count"] == 1 and checks["check_runs"][0]["conclusion"] == "success"
    _, everything = await get(f"/commits/{head}/check-runs?filter=all")
    assert everything["total_count"] == 2
    _, combined = await get(f"/commits/{head}/status")
    assert (combined["state"], combined["total_count"]) == ("success", 1)
    _, statuses = await get(f"/commits/{head}/statuses")
    assert [s["state"] for s in statuses] == ["success", "pending"]
    _, bob = await get("/collaborators/bob/permission")
    assert (bob["permission"], bob["role_name"]) == ("write", "maintain")
    assert bob["user"]["permissions"]["maintain"] and not bob["user"]["permissions"]["admin"]
    _, bot = await get("/collaborators/dependabot[bot]/permission")
    assert (bot["permission"], bot["user"]["type"]) == ("read", "Bot")
    _, owners = await get("/contents/.github/CODEOWNERS")
    assert base64.b64decode(owners["content"]) == b"* @acme/core\n/docs/ @bob\n"
    status, _ = await get("/contents/.github/CODEOWNERS?ref=" + "0" * 40)
    assert status == 404
    base = sim.pull(REPO, n)
    status, at_base = await get(f"/contents/.github/CODEOWNERS?ref={base.base_ref}")
    assert (status, at_base["sha"]) == (200, owners["sha"])
    status, _ = await get("/contents/MISSING")
    assert status == 404


async def test_repositories_outside_the_installation_are_not_found(sim, session, auth):
    sim.state.create_repo("other/private")
    async with session.get(f"{sim.url}/repos/other/private", headers=auth) as r:
        assert r.status == 404


async def test_a_script_of_steps_plays_with_references_and_narration(sim, receiver):
    said = []
    await sim.play(
        [
            {"do": "add_user", "login": "bob", "permission": "write"},
            {"say": "Alice opens", "do": "open_pr", "author": "alice", "title": "T", "as": "pr"},
            {"do": "comment", "number": "$pr", "author": "bob", "body": "ok", "as": "c"},
            {"do": "react", "comment_id": "$c", "user": "alice", "content": "+1"},
            {"do": "sleep", "seconds": 0},
            {"do": "merge", "number": "$pr", "merger": "bob"},
        ],
        narrate=said.append,
    )
    assert said == ["Alice opens"]
    assert receiver.events() == [
        ("pull_request", "opened"),
        ("issue_comment", "created"),
        ("pull_request", "closed"),
    ]

    with pytest.raises(SimulatorError, match=r"step 1 \(reopen\): .*cannot be reopened"):
        await sim.play([{"do": "reopen", "number": 1}])
    with pytest.raises(SimulatorError, match="unknown step 'explode'"):
        await sim.play([{"do": "explode"}])

    async def script(s):
        await s.open_pr(REPO, "carol", "From a coroutine")

    await sim.play(script)
    assert receiver.events()[-1] == ("pull_request", "opened")


async def test_pull_request_pages_show_the_conversation_escaped(sim, session):
    n = await sim.open_pr(REPO, "alice", "<script>alert(1)</script>", labels=["docs"])
    comment = await sim.comment(REPO, n, "bob", "looks <b>good</b>")
    await sim.react(comment, "carol", "-1")
    async with session.get(f"{sim.url}/{REPO}/pull/{n}") as r:
        assert r.status == 200
        page = await r.text()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "<script>" not in page
    assert "looks &lt;b&gt;good&lt;/b&gt;" in page and "\N{THUMBS DOWN SIGN} 1" in page
    async with session.get(f"{sim.url}/") as r:
        assert f'href="/{REPO}/pull/{n}"' in await r.text()
    async with session.get(f"{sim.url}/{REPO}/pull/99") as r:
        assert r.status == 404
    assert sim.requests == []


async def test_a_simulator_not_started_records_signed_deliveries_for_replay():
    sim = Simulator(webhook_secret=SECRET)
    await sim.open_pr(REPO, "alice", "Offline", files=["a.py"])
    [delivery] = sim.deliveries
    assert delivery.status is None and delivery.error == "no webhook URL configured"
    assert verifies(SECRET, delivery.body, delivery.headers["X-Hub-Signature-256"])
    assert json.loads(delivery.body)["pull_request"]["title"] == "Offline"


async def test_teams_commits_and_pull_listing(sim, session, auth):
    sim.add_team("acme/core", ["bob", "carol"])
    n = await sim.open_pr(REPO, "alice", "Two commits")
    await sim.push(REPO, n, message="second")

    async def get(path):
        async with session.get(sim.url + path, headers=auth) as r:
            return r.status, await r.json()

    _, members = await get("/orgs/acme/teams/core/members")
    assert [m["login"] for m in members] == ["bob", "carol"]
    assert (await get("/orgs/acme/teams/core/memberships/bob"))[1]["state"] == "active"
    assert (await get("/orgs/acme/teams/core/memberships/alice"))[0] == 404
    assert (await get("/orgs/acme/teams/nope/members"))[0] == 404
    _, commits = await get(f"/repos/{REPO}/pulls/{n}/commits")
    assert [c["commit"]["message"] for c in commits] == ["Two commits", "second"]
    assert commits[1]["parents"] == [{"sha": commits[0]["sha"]}]
    assert commits[1]["sha"] == sim.pull(REPO, n).head_sha
    _, pulls = await get(f"/repos/{REPO}/pulls")
    assert [p["number"] for p in pulls] == [n]
    _, issue = await get(f"/repos/{REPO}/issues/{n}")
    assert issue["pull_request"]["url"].endswith(f"/pulls/{n}")


async def test_the_other_pull_request_writes_work_and_echo_their_events(sim, session, auth):
    n = await sim.open_pr(REPO, "alice", "Writes")
    head, api = sim.pull(REPO, n).head_sha, f"{sim.url}/repos/{REPO}"
    writes = [
        ("POST", f"/pulls/{n}/reviews", {"event": "APPROVE", "body": "fine"}, 200),
        ("POST", f"/issues/{n}/labels", {"labels": ["a", "b"]}, 200),
        ("DELETE", f"/issues/{n}/labels/a", None, 200),
        ("POST", f"/statuses/{head}", {"state": "success", "context": "bot"}, 201),
        ("POST", "/check-runs", {"name": "bot", "head_sha": head, "status": "queued"}, 201),
        ("PATCH", f"/pulls/{n}", {"title": "Renamed", "state": "closed"}, 200),
    ]
    for method, path, body, expected in writes:
        async with session.request(method, api + path, json=body, headers=auth) as r:
            assert r.status == expected, (path, await r.text())
    await sim.settle()
    pr = sim.pull(REPO, n)
    assert (pr.title, pr.state, [label.name for label in pr.labels]) == ("Renamed", "closed", ["b"])
    assert pr.reviews[0].user.login == "shadowbot[bot]" and pr.reviews[0].state == "APPROVED"
    assert sim.events()[1:] == [
        ("pull_request_review", "submitted"),
        ("pull_request", "labeled"),
        ("pull_request", "labeled"),
        ("pull_request", "unlabeled"),
        ("status", None),
        ("check_run", "created"),
        ("pull_request", "edited"),
        ("pull_request", "closed"),
    ]
    assert len(sim.writes) == len(writes)


async def test_scripts_load_from_json(sim, receiver, tmp_path):
    path = tmp_path / "scenario.json"
    steps = [{"do": "open_pr", "author": "alice", "title": "From JSON", "as": "pr"}]
    path.write_text(json.dumps(steps + [{"do": "close", "number": "$pr"}]))
    await sim.play(load_script(path))
    assert receiver.events() == [("pull_request", "opened"), ("pull_request", "closed")]
    path.write_text('{"do": "ping"}')
    with pytest.raises(SimulatorError, match="JSON list of objects"):
        load_script(path)
