"""The one GitHub client: its retries, its installation tokens, its write lock and its
write guard, by table and against the GitHub simulator over real HTTP.

GitHub's rules for retrying, which :func:`retry_delay` must follow:
https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
- ``retry-after`` present: do not retry until that many seconds have elapsed;
- ``x-ratelimit-remaining: 0``: do not retry until the time in ``x-ratelimit-reset``;
- otherwise (a secondary rate limit): wait at least one minute, longer on each retry, and
  give up after a number of retries.
"""

import asyncio
import time
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest
from aiohttp import web
from gidgethub import BadRequest, GitHubBroken, QueryError, abc, apps
from livebot import github_fixture, sim_fixture  # noqa: F401

from shadowbot.github import GitHubApp, GitHubClient, WriteRefused, check_request
from shadowbot.github.client import MAX_RETRIES, TOKEN_MARGIN, retry_delay
from shadowbot.github.pacing import SLOW_INTERVAL, RateLimited
from shadowbot.live import posting
from shadowbot.metrics import Metrics
from shadowbot.simulator import SECONDARY_RATE_LIMIT_MESSAGE, auth

NOW = 1_750_000_000.0
PRIMARY_MESSAGE = "API rate limit exceeded for installation ID 1."


def spent(reset_in: float) -> dict[str, str]:
    """The headers of a response once the primary rate limit is spent."""
    return {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + reset_in))}


# -- retry_delay, by table ------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "status", "seconds"),
    [
        ("GET", 403, "30"),
        ("POST", 403, "1"),  # a rate-limited write was not processed: it may be sent again
        ("PATCH", 429, "7"),
        ("GET", 429, "0"),
    ],
)
def test_retry_after_is_waited_exactly(method, status, seconds):
    headers = {"retry-after": seconds, "x-ratelimit-remaining": "4000"}
    for attempt in range(1, MAX_RETRIES + 1):
        wait = retry_delay(method, status, headers, attempt, SECONDARY_RATE_LIMIT_MESSAGE, NOW)
        assert wait == float(seconds)


@pytest.mark.parametrize("status", [403, 429])
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_spent_primary_limit_waits_until_its_reset(method, status):
    assert retry_delay(method, status, spent(42), 1, PRIMARY_MESSAGE, NOW) == 42.0
    # A reset already past (clocks differ): a short wait, never a negative one.
    assert 0 < retry_delay(method, status, spent(-5), 1, PRIMARY_MESSAGE, NOW) <= 5


@pytest.mark.parametrize(
    ("status", "headers", "message"),
    [
        (403, {}, SECONDARY_RATE_LIMIT_MESSAGE),
        (403, {"x-ratelimit-remaining": "4000"}, SECONDARY_RATE_LIMIT_MESSAGE),
        (429, {}, ""),
    ],
)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_secondary_limit_without_headers_waits_at_least_a_minute(
    method, status, headers, message
):
    waits = [retry_delay(method, status, headers, a, message, NOW) for a in range(1, 3)]
    assert waits[0] >= 60
    assert waits[1] > waits[0]  # longer on the next retry


@pytest.mark.parametrize(
    ("method", "status", "headers", "message"),
    [
        ("GET", 403, {"x-ratelimit-remaining": "4999"}, "Resource not accessible by integration"),
        ("POST", 403, {}, "Must have admin rights to Repository."),
        ("GET", 401, {}, "Bad credentials"),
        ("GET", 404, {}, "Not Found"),
        ("POST", 422, {}, "Validation Failed"),
    ],
)
def test_a_refusal_that_is_no_rate_limit_is_final(method, status, headers, message):
    assert retry_delay(method, status, headers, 1, message, NOW) is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_retried_for_reads_only(status):
    waits = [retry_delay("GET", status, {}, a, "", NOW) for a in range(1, MAX_RETRIES + 1)]
    assert all(w is not None and w > 0 for w in waits)
    assert waits == sorted(waits)  # backing off, never hurrying
    assert retry_delay("HEAD", status, {}, 1, "", NOW) is not None
    # A write that may have landed is not repeated: a duplicate comment is worse than none.
    for method in ("POST", "PATCH", "PUT", "DELETE"):
        assert retry_delay(method, status, {}, 1, "", NOW) is None


@pytest.mark.parametrize(
    ("method", "status", "headers", "message"),
    [
        ("GET", 502, {}, ""),
        ("POST", 403, {"retry-after": "1"}, SECONDARY_RATE_LIMIT_MESSAGE),
        ("GET", 403, spent(10), PRIMARY_MESSAGE),
        ("GET", 403, {}, SECONDARY_RATE_LIMIT_MESSAGE),
        ("GET", 429, {}, ""),
    ],
)
def test_retrying_gives_up_after_max_retries(method, status, headers, message):
    assert retry_delay(method, status, headers, MAX_RETRIES, message, NOW) is not None
    assert retry_delay(method, status, headers, MAX_RETRIES + 1, message, NOW) is None


@pytest.mark.parametrize(
    ("headers", "earliest"),
    [({"retry-after": "300"}, 300.0), (spent(3600), 3600.0)],
    ids=["retry-after", "x-ratelimit-reset"],
)
def test_never_retries_before_github_allows_it(headers, earliest):
    for attempt in range(1, MAX_RETRIES + 2):
        wait = retry_delay("GET", 403, headers, attempt, PRIMARY_MESSAGE, NOW)
        assert wait is None or wait >= earliest


# -- retries against the simulator -----------------------------------------------------


def recording_sleep(gh, *, really=False):
    """Record the waits ``gh`` asks for; wait them only when ``really``."""
    slept = []
    real_sleep = gh.sleep

    async def sleep(seconds):
        slept.append(seconds)
        if really:
            await real_sleep(seconds)

    gh.sleep = sleep
    return slept


def token_exchanges(sim):
    return [w for w in sim.writes if w.path.endswith("/access_tokens")]


async def test_a_secondary_rate_limit_is_waited_out_and_the_write_lands_once(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    gh = await github.installation(sim.installation_id)
    path = f"/repos/{sim.repo}/issues/{number}/comments"
    sim.secondary_rate_limit_next(retry_after=1, method="POST", path=path)
    slept = recording_sleep(gh, really=True)
    created = await gh.post(path, data={"body": "a verdict"})
    posts = [r for r in sim.requests if r.method == "POST" and r.path == path]
    assert [p.status for p in posts] == [403, 201]
    assert slept[0] == 1.0  # the retry-after GitHub sent, then writes go slower
    assert sum(slept) <= 1.0 + SLOW_INTERVAL
    assert posts[1].at - posts[0].at >= 1.0  # and really waited before trying again
    assert [c.id for c in sim.comments(sim.repo, number)] == [created["id"]]


async def test_a_server_error_on_a_read_is_retried_with_backoff(sim, github):
    gh = await github.installation(sim.installation_id)
    path = f"/repos/{sim.repo}"
    sim.fail_next(2, status=502, method="GET", path=path)
    slept = recording_sleep(gh)
    assert (await gh.getitem(path))["full_name"] == sim.repo
    assert [r.status for r in sim.requests if r.path == path] == [502, 502, 200]
    assert len(slept) == 2 and 0 < slept[0] <= slept[1]


async def test_a_server_error_on_a_write_is_not_repeated(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    gh = await github.installation(sim.installation_id)
    path = f"/repos/{sim.repo}/issues/{number}/comments"
    sim.fail_next(1, status=502, method="POST", path=path)
    slept = recording_sleep(gh)
    with pytest.raises(GitHubBroken):
        await gh.post(path, data={"body": "a verdict"})
    assert [r.status for r in sim.requests if r.path == path] == [502]
    assert slept == [] and sim.comments(sim.repo, number) == []


async def test_a_read_that_keeps_failing_is_given_up(sim, github):
    gh = await github.installation(sim.installation_id)
    path = f"/repos/{sim.repo}"
    sim.fail_next(MAX_RETRIES + 5, status=503, method="GET", path=path)
    slept = recording_sleep(gh)
    with pytest.raises(GitHubBroken):
        await gh.getitem(path)
    assert len([r for r in sim.requests if r.path == path]) == MAX_RETRIES + 1
    assert len(slept) == MAX_RETRIES


async def test_a_spent_primary_limit_is_not_retried_before_it_resets(sim, github):
    gh = await github.installation(sim.installation_id)
    sim.exhaust_rate_limit()
    reset = sim.backend.rates.window(sim.installation_id, time.time()).reset
    slept = recording_sleep(gh)
    with pytest.raises(RateLimited) as limited:  # the delivery waits for it, not the client
        await gh.getitem(f"/repos/{sim.repo}")
    assert slept == [] and limited.value.until >= reset
    asked = len(sim.requests)
    with pytest.raises(RateLimited):  # and nothing is sent before the reset
        await gh.getitem(f"/repos/{sim.repo}/pulls")
    assert len(sim.requests) == asked


# -- installation tokens ----------------------------------------------------------------


async def test_an_installation_token_is_reused_across_calls(sim, github):
    clients = await asyncio.gather(*(github.installation(sim.installation_id) for _ in range(5)))
    for gh in clients:
        await gh.getitem(f"/repos/{sim.repo}")
    again = await github.installation(sim.installation_id)
    await again.getitem(f"/repos/{sim.repo}/pulls")
    assert len(token_exchanges(sim)) == 1
    assert len({gh.oauth_token for gh in [*clients, again]}) == 1


async def test_a_token_about_to_expire_is_renewed_before_use(sim, github):
    sim.token_ttl = TOKEN_MARGIN - 60  # GitHub's answer: it expires within the margin
    first = await github.installation(sim.installation_id)
    second = await github.installation(sim.installation_id)
    assert len(token_exchanges(sim)) == 2 and first.oauth_token != second.oauth_token
    assert (await second.getitem(f"/repos/{sim.repo}"))["full_name"] == sim.repo


async def test_a_token_github_expired_early_is_renewed_and_the_call_succeeds(sim, github):
    gh = await github.installation(sim.installation_id)
    await gh.getitem(f"/repos/{sim.repo}")
    assert sim.expire_tokens() == 1
    fresh = await github.installation(sim.installation_id)  # the cache still trusts it
    assert (await fresh.getitem(f"/repos/{sim.repo}/pulls")) == []
    assert len(token_exchanges(sim)) == 2
    statuses = [r.status for r in sim.requests if r.path == f"/repos/{sim.repo}/pulls"]
    assert statuses == [401, 200]
    later = await github.installation(sim.installation_id)  # the renewed token is kept
    await later.getitem(f"/repos/{sim.repo}")
    assert len(token_exchanges(sim)) == 2


async def test_a_token_refused_again_after_renewal_is_the_callers_error(sim, github):
    gh = await github.installation(sim.installation_id)
    path = f"/repos/{sim.repo}"
    sim.fail_next(5, status=401, method="GET", path=path)
    with pytest.raises(BadRequest) as refused:
        await gh.getitem(path)
    assert refused.value.status_code == 401
    assert len([r for r in sim.requests if r.path == path]) == 2  # one renewal, no loop
    assert len(token_exchanges(sim)) == 2


# -- the write lock ---------------------------------------------------------------------


async def test_writes_of_one_installation_are_sent_one_at_a_time(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    gh = await github.installation(sim.installation_id)
    lock = github.write_lock(sim.installation_id)
    assert lock is github.write_lock(sim.installation_id)
    assert lock is not github.write_lock(sim.installation_id + 1)
    path = f"/repos/{sim.repo}/issues/{number}/comments"
    sim.hang_next(delay=0.3, method="POST", path=path)
    await asyncio.gather(
        posting.upsert_comment(gh, lock, sim.repo, number, "one", None),
        posting.upsert_comment(gh, lock, sim.repo, number, "two", None),
    )
    first, second = [r for r in sim.requests if r.method == "POST" and r.path == path]
    assert second.at - first.at >= 0.3  # the second waited for the first to be answered
    assert sorted(c.body for c in sim.comments(sim.repo, number)) == ["one", "two"]


# -- the write guard --------------------------------------------------------------------

API = "https://api.github.com"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/repos/o/r/issues/1/comments"),
        ("PATCH", "/repos/o/r/issues/comments/5"),
        ("POST", "/repos/o/r/issues/comments/5/reactions"),
        ("POST", "/app/installations/9/access_tokens"),
        ("post", "/repos/o/r/issues/1/comments"),
        ("GET", "/repos/o/r/pulls/1"),
        ("GET", "/repos/o/r/pulls/1/merge"),  # a read: "has it been merged?"
        ("HEAD", "/repos/o/r"),
    ],
)
def test_the_guard_lets_reads_and_shadow_modes_writes_through(method, path):
    check_request(method, API + path, API)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("PUT", "/repos/o/r/pulls/1/merge"),
        ("put", "/repos/o/r/pulls/1/merge"),
        ("POST", "/repos/o/r/pulls/1/reviews"),
        ("PATCH", "/repos/o/r/pulls/1"),
        ("PATCH", "/repos/o/r/issues/1"),
        ("POST", "/repos/o/r/issues/1/labels"),
        ("PUT", "/repos/o/r/contents/README.md"),
        ("DELETE", "/repos/o/r/issues/comments/5"),
        ("DELETE", "/repos/o/r/issues/comments/5/reactions/7"),
        ("POST", "/repos/o/r/pulls/1/comments"),
        ("POST", "/repos/o/r/merges"),
        ("PUT", "/repos/o/r/pulls/1/update-branch"),
        ("PATCH", "/repos/o/r/git/refs/heads/main"),
        ("POST", "/repos/o/r/statuses/abc123"),
        ("POST", "/graphql"),  # no body to show it is a query: mergePullRequest is a mutation
        ("PUT", "/repos/o/r/issues/1/comments/../../pulls/1/merge"),
        ("POST", "/repos/o/r/issues/1/comments/../../pulls/1/merge"),
        ("PATCH", "/repos/o/r/issues/comments/5/../../../pulls/1"),
        ("POST", "/repos/o/r/issues/1/comments/./../../../pulls/1/reviews"),
        ("POST", "/repos/o/r/issues/1/comments/%2e%2e/%2e%2e/%2e%2e/pulls/1/reviews"),
        ("POST", "/repos/o/r/issues/1/comments;/../../../pulls/1/reviews"),
    ],
)
def test_the_guard_refuses_every_other_write(method, path):
    with pytest.raises(WriteRefused):
        check_request(method, API + path, API)


@pytest.mark.parametrize(
    ("url", "base"),
    [
        ("https://evil.example/repos/o/r/issues/1/comments", API),
        ("http://api.github.com/repos/o/r/issues/1/comments", API),
        ("https://api.github.com.evil.example/repos/o/r/issues/1/comments", API),
        ("https://api.github.com@evil.example/repos/o/r/issues/1/comments", API),
        ("https://ghe.example/repos/o/r/issues/1/comments", "https://ghe.example/api/v3"),
        ("https://ghe.example/api/v3x/repos/o/r/issues/1/comments", "https://ghe.example/api/v3"),
    ],
)
def test_the_guard_refuses_writes_outside_the_api(url, base):
    with pytest.raises(WriteRefused):
        check_request("POST", url, base)


def test_the_guard_follows_an_enterprise_api_path():
    base = "https://ghe.example/api/v3"
    check_request("POST", f"{base}/repos/o/r/issues/1/comments", base)
    with pytest.raises(WriteRefused):
        check_request("PUT", f"{base}/repos/o/r/pulls/1/merge", base)


async def test_refused_writes_never_reach_github_a_merge_first(sim, github):
    number = await sim.open_pr(sim.repo, "alice", "hello", files=["a.txt"])
    gh = await github.installation(sim.installation_id)
    before = len(sim.writes)
    repo = f"/repos/{sim.repo}"
    with pytest.raises(WriteRefused, match="refused PUT"):
        await gh.put(f"{repo}/pulls/{number}/merge", data={})
    attempts = [
        lambda: gh.post(f"{repo}/pulls/{number}/reviews", data={"event": "APPROVE"}),
        lambda: gh.patch(f"{repo}/pulls/{number}", data={"state": "closed"}),
        lambda: gh.post(f"{repo}/issues/{number}/labels", data={"labels": ["merge-me"]}),
        lambda: gh.put(f"{repo}/contents/README.md", data={"message": "x", "content": ""}),
        lambda: gh.delete(f"{repo}/issues/comments/1"),
        lambda: gh.post(f"{repo}/issues/{number}/comments/../../pulls/{number}/reviews", data={}),
        lambda: gh.put(f"{repo}/issues/{number}/comments/../../pulls/{number}/merge", data={}),
        # Another host: refused before sending (nothing listens there, so a send would fail
        # with GitHubUnavailable instead).
        lambda: gh.post("http://127.0.0.1:1/repos/o/r/issues/1/comments", data={"body": "x"}),
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused):
            await attempt()
    assert len(sim.writes) == before
    assert sim.pull(sim.repo, number).labels == [] and not sim.pull(sim.repo, number).merged


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/repos/o/r/pulls/1",
        "https://api.github.com.evil.example/repos/o/r",
        "https://api.github.com/../repos/o/r",
    ],
)
def test_a_read_outside_the_api_is_refused_so_the_token_stays_home(url):
    with pytest.raises(WriteRefused, match="not below the API"):
        check_request("GET", url, "https://api.github.com")


def test_reads_below_the_api_pass():
    check_request(
        "GET", "https://api.github.com/repos/o/r/pulls/1/files?page=2", "https://api.github.com"
    )


# -- GraphQL reads ------------------------------------------------------------------------
# The simulator answers no GraphQL yet: `graphql_server` is GitHub's /graphql and token
# exchange, and nothing else. Refusals are checked against the simulator, which records
# every request that reaches it.

REACTIONS = """
query Reactions($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      comments(first: 100) { nodes { databaseId reactions(first: 100) { nodes { content } } } }
    }
  }
}
"""
ANSWER = {"repository": {"pullRequest": {"comments": {"nodes": []}}}}
MERGE = 'mutation Merge { mergePullRequest(input: {pullRequestId: "PR_1"}) { clientMutationId } }'
GRAPHQL_LIMIT = {"x-ratelimit-resource": "graphql", "x-ratelimit-remaining": "4990"}


class GraphQLServer:
    """Records what reached it; answers ``answers`` in turn, then ``ANSWER``."""

    def __init__(self):
        self.received = []
        self.answers = []
        self.url = ""

    async def graphql(self, request):
        self.received.append((request.headers.get("Authorization"), await request.json()))
        if self.answers:
            status, body, headers = self.answers.pop(0)
            return web.json_response(body, status=status, headers=headers)
        return web.json_response({"data": ANSWER}, headers=GRAPHQL_LIMIT)

    async def access_token(self, request):
        expires = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        token = f"ghs_{request.match_info['id']}"
        return web.json_response({"token": token, "expires_at": expires}, status=201)


@pytest.fixture
async def graphql_server(aiohttp_server):
    fake = GraphQLServer()
    app = web.Application()
    app.router.add_post("/graphql", fake.graphql)
    app.router.add_post("/app/installations/{id}/access_tokens", fake.access_token)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as session:
        yield session


async def test_a_graphql_query_is_sent_as_the_installation_and_answered(
    graphql_server, session, app_key_pem
):
    metrics = Metrics()
    github = GitHubApp(
        session, base_url=graphql_server.url, app_id=1, private_key=app_key_pem, metrics=metrics
    )
    variables = {"owner": "o", "name": "r", "number": 7}
    assert await github.graphql(42, REACTIONS, variables) == ANSWER
    ((authorization, body),) = graphql_server.received
    assert authorization == "token ghs_42"
    assert body == {"query": REACTIONS, "variables": variables}
    # GraphQL has its own budget, in its own series.
    assert metrics.value("shadowbot_github_rate_limit_remaining", resource="graphql") == 4990


async def test_graphql_variables_that_would_shadow_arguments_are_refused(
    graphql_server, session, app_key_pem
):
    github = GitHubApp(
        session, base_url=graphql_server.url, app_id=1, private_key=app_key_pem, metrics=Metrics()
    )
    with pytest.raises(ValueError, match="endpoint"):
        await github.graphql(42, "query($endpoint: String) { a }", {"endpoint": "x"})
    assert graphql_server.received == []


async def test_graphql_errors_are_raised(graphql_server, session):
    gh = GitHubClient(session, base_url=graphql_server.url, metrics=Metrics(), oauth_token="t")
    errors = {"errors": [{"type": "NOT_FOUND", "message": "Could not resolve to a Repository"}]}
    graphql_server.answers.append((200, {"data": None, **errors}, GRAPHQL_LIMIT))
    with pytest.raises(QueryError, match="Could not resolve"):
        await gh.graphql(REACTIONS, owner="o", name="nope", number=1)


async def test_a_graphql_query_hitting_a_secondary_rate_limit_is_retried(graphql_server, session):
    gh = GitHubClient(session, base_url=graphql_server.url, metrics=Metrics(), oauth_token="t")
    limited = {"message": SECONDARY_RATE_LIMIT_MESSAGE}
    graphql_server.answers.append((403, limited, {"retry-after": "3"}))
    slept = recording_sleep(gh)
    assert await gh.graphql("{ viewer { login } }") == ANSWER
    assert slept == [3.0] and len(graphql_server.received) == 2


async def test_a_graphql_mutation_never_reaches_github(sim, github):
    gh = await github.installation(sim.installation_id)
    before = len(sim.requests)
    attempts = [
        lambda: gh.graphql(MERGE),
        lambda: github.graphql(sim.installation_id, MERGE, {}),
        lambda: gh.graphql("subscription { x }"),
        # Hidden behind a query, selected by name or not:
        lambda: gh.graphql(f"query Read {{ viewer {{ login }} }}\n{MERGE}"),
        lambda: gh.post("/graphql", data={"query": f"query R {{ a }} {MERGE}"}),
        lambda: gh.post(
            "/graphql", data={"query": f"query R {{ a }} {MERGE}", "operationName": "Merge"}
        ),
        # gidgethub's own graphql(), to its endpoint or the simulator's:
        lambda: abc.GitHubAPI.graphql(gh, MERGE, endpoint=f"{sim.url}/graphql"),
        lambda: abc.GitHubAPI.graphql(gh, "{ a }"),  # github.com, not the API
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused):
            await attempt()
    assert len(sim.requests) == before


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("mutation { m }", "application/json"),  # a JSON string, not an object
        ([{"query": "{ a }"}], "application/json"),  # a batch
        ({"query": None}, "application/json"),
        ({"query": "{ a "}, "application/json"),
        (b"query { viewer { login } }", "application/graphql"),
        (b"query=%7B+a+%7D", "application/x-www-form-urlencoded"),
    ],
)
async def test_a_graphql_body_that_is_no_plain_query_never_reaches_github(
    sim, github, data, content_type
):
    gh = await github.installation(sim.installation_id)
    before = len(sim.requests)
    with pytest.raises(WriteRefused, match="refused POST /graphql"):
        await gh.post("/graphql", data=data, content_type=content_type)
    assert len(sim.requests) == before


# -- the app's webhook deliveries ---------------------------------------------------------
# The simulator lists no deliveries yet: `deliveries_server` is GitHub's two endpoints, a
# JWT checked on each request, 250 deliveries newest first, pages linked by a cursor.

T0 = datetime(2025, 6, 1, tzinfo=UTC)


def delivery(number):
    return {
        "id": number,
        "guid": f"guid-{number}",
        "delivered_at": (T0 + timedelta(minutes=number)).isoformat().replace("+00:00", "Z"),
        "redelivery": False,
        "duration": 0.1,
        "status": "OK" if number % 10 else "Invalid HTTP Response: 503",
        "status_code": 200 if number % 10 else 503,
        "event": "pull_request",
        "action": "opened",
        "installation_id": 9,
        "repository_id": 5,
    }


class DeliveriesServer:
    def __init__(self, app_key_pem):
        self.public_key = auth.load_private_key(app_key_pem).public_key()
        self.deliveries = [delivery(n) for n in range(250, 0, -1)]
        self.requests = []
        self.url = ""

    def authenticate(self, request):
        self.requests.append((request.method, request.path_qs))
        token = auth.credential(request.headers.get("Authorization"))
        auth.verify_app_jwt(token, self.public_key, 1, time.time())

    async def list(self, request):
        self.authenticate(request)
        per_page = int(request.query["per_page"])
        start = int(request.query.get("cursor", "0"))
        page = self.deliveries[start : start + per_page]
        headers = {}
        if start + per_page < len(self.deliveries):
            link = f"{self.url}/app/hook/deliveries?per_page={per_page}&cursor={start + per_page}"
            headers["Link"] = f'<{link}>; rel="next"'
        return web.json_response(page, headers=headers)

    async def redeliver(self, request):
        self.authenticate(request)
        assert await request.read() == b""
        return web.json_response({}, status=202)


@pytest.fixture
async def deliveries_server(aiohttp_server, app_key_pem):
    fake = DeliveriesServer(app_key_pem)
    app = web.Application()
    app.router.add_get("/app/hook/deliveries", fake.list)
    app.router.add_post("/app/hook/deliveries/{id}/attempts", fake.redeliver)
    server = await aiohttp_server(app)
    fake.url = str(server.make_url("")).rstrip("/")
    return fake


@pytest.fixture
def app_on(session, app_key_pem):
    def app_on(server):
        return GitHubApp(
            session, base_url=server.url, app_id=1, private_key=app_key_pem, metrics=Metrics()
        )

    return app_on


async def test_hook_deliveries_are_listed_page_by_page_as_the_app(deliveries_server, app_on):
    listed = await app_on(deliveries_server).list_hook_deliveries()
    assert [d.id for d in listed] == list(range(250, 0, -1))
    assert listed[0].delivered_at == T0 + timedelta(minutes=250)
    assert (listed[0].guid, listed[0].event, listed[0].action) == (
        "guid-250",
        "pull_request",
        "opened",
    )
    assert (listed[-10].status_code, listed[-10].status) == (503, "Invalid HTTP Response: 503")
    assert deliveries_server.requests == [
        ("GET", "/app/hook/deliveries?per_page=100"),
        ("GET", "/app/hook/deliveries?per_page=100&cursor=100"),
        ("GET", "/app/hook/deliveries?per_page=100&cursor=200"),
    ]


async def test_listing_hook_deliveries_stops_at_since_or_the_limit(deliveries_server, app_on):
    github = app_on(deliveries_server)
    since = T0 + timedelta(minutes=120)
    assert [d.id for d in await github.list_hook_deliveries(since=since)] == list(
        range(250, 119, -1)
    )
    assert len(deliveries_server.requests) == 2  # the third page is older than `since`
    deliveries_server.requests.clear()
    assert [d.id for d in await github.list_hook_deliveries(limit=3)] == [250, 249, 248]
    assert len(deliveries_server.requests) == 1
    assert await github.list_hook_deliveries(limit=0) == []


async def test_a_delivery_is_redelivered_as_the_app(deliveries_server, app_on):
    await app_on(deliveries_server).redeliver(12345)
    assert deliveries_server.requests == [("POST", "/app/hook/deliveries/12345/attempts")]


async def test_no_other_write_under_app_reaches_github(sim, github):
    jwt = apps.get_jwt(app_id=str(sim.app_id), private_key=sim.private_key_pem)
    as_app = github.client()
    before = len(sim.requests)
    attempts = [
        lambda: as_app.post("/app/hook/deliveries", data={}, jwt=jwt),
        lambda: as_app.post("/app/hook/deliveries/1", data=b"", jwt=jwt),
        lambda: as_app.patch("/app/hook/config", data={"url": "https://evil.example"}, jwt=jwt),
        lambda: as_app.put(f"/app/installations/{sim.installation_id}/suspended", jwt=jwt),
        lambda: as_app.delete(f"/app/installations/{sim.installation_id}", jwt=jwt),
        lambda: as_app.post("/app/hook/deliveries//attempts", data=b"", jwt=jwt),
    ]
    for attempt in attempts:
        with pytest.raises(WriteRefused):
            await attempt()
    assert len(sim.requests) == before
