"""The write guard, by table: GraphQL reads only, the app's one redelivery write, and no
empty path segment on a write. (The REST paths it allows and refuses are tabled in
test_github_client.py, with the end-to-end checks that nothing refused is ever sent.)"""

import json

import pytest

from shadowbot.github import WriteRefused, check_request
from shadowbot.github.guard import ALLOWED_WRITES

API = "https://api.github.com"
GRAPHQL = f"{API}/graphql"

# What the bot asks GraphQL for: the reactions on its verdict comments.
REACTIONS = """
query Reactions($owner: String!, $name: String!, $number: Int!) {
  repository(owner: $owner, name: $name) {
    pullRequest(number: $number) {
      comments(first: 100) { nodes { databaseId reactions(first: 100) { nodes { content } } } }
    }
  }
}
"""
MERGE = 'mutation Merge { mergePullRequest(input: {pullRequestId: "PR_1"}) { clientMutationId } }'


def graphql_body(query, **extra):
    return json.dumps({"query": query, **extra}).encode()


@pytest.mark.parametrize(
    "body",
    [
        graphql_body(REACTIONS, variables={"owner": "o", "name": "r", "number": 1}),
        graphql_body("{ viewer { login } }"),  # the shorthand is a query
        graphql_body("query { rateLimit { remaining } }", variables=None),
        graphql_body("query A { a } query B { b }", operationName="B"),
        graphql_body("query A { ...F } fragment F on Query { a }"),
        {"query": REACTIONS, "variables": {"owner": "o"}},  # the object, before encoding
    ],
)
def test_a_graphql_query_is_let_through(body):
    check_request("POST", GRAPHQL, API, body)
    check_request("post", GRAPHQL, API, body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (graphql_body(MERGE), "mutation Merge"),
        (graphql_body("subscription S { x }"), "subscription S"),
        # A mutation hidden behind a query, with or without operationName selecting it:
        (graphql_body(f"query Read {{ viewer {{ login }} }}\n{MERGE}"), "mutation Merge"),
        (graphql_body(f"query Read {{ a }} {MERGE}", operationName="Read"), "mutation Merge"),
        (graphql_body(f"query Read {{ a }} {MERGE}", operationName="Merge"), "selects a mutation"),
        (graphql_body("query Read { a }", operationName="Merge"), "names no operation"),
        (graphql_body("query Read { a }", operationName=["Read"]), "names no operation"),
        ({"query": MERGE}, "mutation Merge"),
    ],
)
def test_a_graphql_mutation_anywhere_is_refused(body, why):
    with pytest.raises(WriteRefused, match=why) as refused:
        check_request("POST", GRAPHQL, API, body)
    assert "\n" not in str(refused.value)  # one line: it goes to the log as is


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (None, "not a JSON object"),  # nothing to show it is a query
        (b"", "not a JSON object"),
        (b"query { viewer { login } }", "not a JSON object"),  # not JSON
        (b'{"query": "{ a }"', "not a JSON object"),
        (b"\xff\xfe{}", "not a JSON object"),
        ('{"query": "{ a }"}'.encode("utf-16"), "not a JSON object"),
        (b"[" * 100_000, "not a JSON object"),
        (json.dumps([{"query": "{ a }"}]).encode(), "not a JSON object"),  # a batch
        (b'"{ a }"', "not a JSON object"),
        (b"{}", "no string `query`"),
        (graphql_body(None), "no string `query`"),
        (graphql_body(["{ a }"]), "no string `query`"),
        (b'{"query": "{ a }", "query": "mutation { m }"}', "not a JSON object"),
        (graphql_body("{ a }", extensions={"persistedQuery": {}}), "unexpected keys"),
        (graphql_body("mutation {"), "does not parse"),
        (graphql_body("{ a "), "does not parse"),
        (graphql_body(""), "does not parse"),
        (graphql_body("{" * 100_000), "does not parse"),
        (graphql_body("fragment F on Query { a }"), "no operation"),
    ],
)
def test_a_graphql_body_that_is_no_plain_query_is_refused(body, why):
    with pytest.raises(WriteRefused, match=why) as refused:
        check_request("POST", GRAPHQL, API, body)
    assert "\n" not in str(refused.value)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("PUT", GRAPHQL),
        ("PATCH", GRAPHQL),
        ("POST", f"{API}/graphql/"),
        ("POST", f"{API}/graphql/x"),
        ("POST", f"{API}/api/graphql"),
        ("POST", "https://evil.example/graphql"),
    ],
)
def test_a_graphql_query_is_let_through_only_as_a_post_to_the_apis_graphql(method, url):
    with pytest.raises(WriteRefused):
        check_request(method, url, API, graphql_body("{ viewer { login } }"))


def test_graphql_follows_the_api_base():
    base = "https://ghe.example/api/v3"
    check_request("POST", f"{base}/graphql", base, graphql_body("{ a }"))
    with pytest.raises(WriteRefused, match="mutation"):
        check_request("POST", f"{base}/graphql", base, graphql_body(MERGE))


# -- the app's own endpoints ----------------------------------------------------------


def test_redelivering_a_webhook_delivery_is_let_through():
    check_request("POST", f"{API}/app/hook/deliveries/12345678/attempts", API)
    check_request("GET", f"{API}/app/hook/deliveries?per_page=100&cursor=v1_1", API)
    check_request("GET", f"{API}/app/hook/deliveries/12345678", API)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/app/hook/deliveries"),
        ("POST", "/app/hook/deliveries/1"),
        ("POST", "/app/hook/deliveries/x/attempts"),
        ("POST", "/app/hook/deliveries/1/attempts/2"),
        ("PATCH", "/app/hook/deliveries/1/attempts"),
        ("PUT", "/app/hook/deliveries/1/attempts"),
        ("PATCH", "/app/hook/config"),
        ("POST", "/app/hook/config"),
        ("POST", "/app-manifests/abc/conversions"),
        ("POST", "/app/installations/9"),
        ("PUT", "/app/installations/9/suspended"),
        ("DELETE", "/app/installations/9"),
        ("DELETE", "/app/installations/9/suspended"),
        ("POST", "/app/installations/9/access_tokens/x"),
        ("POST", "/app"),
        ("POST", "/app/"),
        ("PATCH", "/app"),
        ("POST", "/app/hook/deliveries/1/attempts/../../../../installations/9/suspended"),
        ("POST", "/app/hook/deliveries/%31/attempts"),
    ],
)
def test_every_other_write_under_app_is_refused(method, path):
    with pytest.raises(WriteRefused):
        check_request(method, API + path, API)


# -- empty path segments ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/repos/o/r/issues/1//comments",
        "//repos/o/r/issues/1/comments",
        "/repos//o/r/issues/1/comments",
        "/repos/o/r/issues/1/comments/",
        "/repos/o/r/issues/comments/5//reactions",
        "/app/hook/deliveries//attempts",
        "/app/hook/deliveries/1//attempts",
        "//graphql",
    ],
)
def test_a_write_with_an_empty_path_segment_is_refused(path):
    with pytest.raises(WriteRefused, match="empty path segment"):
        check_request("POST", API + path, API, graphql_body("{ a }"))


def test_the_module_lists_every_allowed_write():
    from shadowbot.github import guard

    listed = guard.__doc__ or ""
    for method, pattern, _ in ALLOWED_WRITES:
        template = pattern.pattern.replace(guard._REPO, "/repos/{owner}/{repo}")
        first = template.split(r"\d+")[0]
        assert f"``{method} {first}" in listed, (method, pattern.pattern)
