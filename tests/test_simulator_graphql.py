"""The simulator's GraphQL endpoint over real HTTP: `nodes(ids:)` over comments and their
reactions, GitHub's cost formula and its own points bucket, GitHub's refusals (mutations, invalid
documents, over 100 ids, missing or excessive `first`), reactions by bots, the verdict-reaction
driver steps, the REST reactions list with its ETags, and the schema checked against GitHub's."""

import json
import math
from pathlib import Path

import aiohttp
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    build_schema,
    is_required_argument,
    print_ast,
)

from shadowbot.simulator import Simulator, SimulatorError
from shadowbot.simulator.graphql_schema import SDL, schema

REPO = "acme/widgets"

# What the bot asks of the comments it has posted: every reaction, who made it and when.
REACTIONS_QUERY = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on IssueComment {
      databaseId
      reactions(first: 100) {
        totalCount
        nodes { databaseId content createdAt user { login } }
      }
    }
  }
  rateLimit { cost remaining used nodeCount }
}
"""
# The same comments, their reactions read three ways at once.
ALIASED_QUERY = """
query($ids: [ID!]!) {
  nodes(ids: $ids) {
    ... on IssueComment {
      all: reactions(first: 100) { totalCount }
      latest: reactions(last: 50) { totalCount }
      down: reactions(first: 10, content: THUMBS_DOWN) { totalCount }
    }
  }
  rateLimit { cost nodeCount }
}
"""


def points(requests):
    """GitHub's formula: requests / 100, rounded to the nearest whole number, at least 1."""
    return max(1, math.floor(requests / 100 + 0.5))


@pytest.fixture
async def sim(app_key_pem):
    async with Simulator.running(private_key_pem=app_key_pem) as simulator:
        yield simulator


@pytest.fixture
async def session():
    async with aiohttp.ClientSession() as client:
        yield client


@pytest.fixture
def auth(sim):
    return {"Authorization": f"token {sim.create_token()}"}


@pytest.fixture
def gql(sim, session, auth):
    async def post(query, **variables):
        body = {"query": query, "variables": variables}
        async with session.post(f"{sim.url}/graphql", json=body, headers=auth) as response:
            return response.status, response.headers, await response.json()

    return post


async def node_ids(sim, session, auth, number):
    """The `node_id` of each comment on the pull request, from the REST list."""
    url = f"{sim.url}/repos/{REPO}/issues/{number}/comments?per_page=100"
    async with session.get(url, headers=auth) as response:
        return {c["id"]: c["node_id"] for c in await response.json()}


def marker(sim, number, *, rule=None):
    """The hidden marker shadowbot starts its comments with (shadowbot.live.comments)."""
    data = {"v": 1, "kind": "rule" if rule else "combined", "repo": REPO, "pr": number}
    data.update(head=sim.pull(REPO, number).head_sha, claims=[rule or "docs-only@1"])
    if rule:
        data["rule"] = rule
    return f"<!-- shadowbot-marker {json.dumps(data, separators=(',', ':'))} -->"


async def verdict(session, sim, auth, number, *, rule=None):
    """A comment posted by the app, as the bot posts its verdicts; its id."""
    url = f"{sim.url}/repos/{REPO}/issues/{number}/comments"
    body = {"body": f"{marker(sim, number, rule=rule)}\nDry run: nothing will be merged."}
    async with session.post(url, json=body, headers=auth) as response:
        assert response.status == 201
        return (await response.json())["id"]


# --- nodes(ids:) over comments, and what it costs ---


async def test_nodes_over_100_comments_return_their_reactions_at_the_documented_cost(
    sim, session, auth, gql
):
    number = await sim.open_pr(REPO, "alice", "Busy thread")
    people = ["bob", "carol", "dave"]
    contents = ["+1", "-1", "eyes"]
    expected = {}
    for i in range(100):
        comment = await sim.comment(REPO, number, "bob", f"comment {i}")
        expected[comment] = []
        for person, content in list(zip(people, contents, strict=True))[: i % 4]:
            reaction = await sim.react(comment, person, content)
            expected[comment].append((reaction, content, person))
    ids = await node_ids(sim, session, auth, number)
    assert len(set(ids.values())) == 100

    status, headers, body = await gql(REACTIONS_QUERY, ids=list(ids.values()))

    assert status == 200 and "errors" not in body
    graphql_names = {"+1": "THUMBS_UP", "-1": "THUMBS_DOWN", "eyes": "EYES"}
    for node in body["data"]["nodes"]:
        reactions = node["reactions"]
        wanted = expected[node["databaseId"]]
        assert reactions["totalCount"] == len(wanted)
        seen = [(r["databaseId"], r["content"], r["user"]["login"]) for r in reactions["nodes"]]
        assert seen == [(i, graphql_names[c], who) for i, c, who in wanted]
        assert all(r["createdAt"].endswith("Z") for r in reactions["nodes"])
    # The root fields are one request; `reactions` is fetched once on each of the 100 comments:
    # 1 + 100 = 101 requests, / 100 = 1.01, so 1 point. It may return 100 comments plus
    # 100 x 100 reactions: 10,100 nodes.
    cost = points(1 + 100)
    assert cost == 1
    assert body["data"]["rateLimit"] == {
        "cost": cost,
        "remaining": 5000 - cost,
        "used": cost,
        "nodeCount": 100 + 100 * 100,
    }
    assert headers["x-ratelimit-resource"] == "graphql"
    assert headers["x-ratelimit-used"] == str(cost)
    assert headers["x-ratelimit-remaining"] == str(5000 - cost)
    assert sim.graphql_points == cost

    # Three connections on each of the 100 comments: 1 + 300 = 301 requests, 3 points, and up to
    # 100 + 100 x (100 + 50 + 10) nodes.
    _, headers, body = await gql(ALIASED_QUERY, ids=list(ids.values()))
    aliased = points(1 + 3 * 100)
    assert aliased == 3
    assert body["data"]["rateLimit"] == {"cost": aliased, "nodeCount": 100 + 100 * 160}
    assert sim.graphql_points == cost + aliased
    assert headers["x-ratelimit-remaining"] == str(5000 - cost - aliased)

    # A dry run reports the cost and charges nothing.
    _, _, body = await gql("{ rateLimit(dryRun: true) { cost remaining } }")
    assert body["data"]["rateLimit"] == {"cost": 1, "remaining": 5000 - cost - aliased}
    assert sim.graphql_points == cost + aliased

    # GraphQL points are a bucket of their own: REST's `core` counted only the REST list.
    async with session.get(f"{sim.url}/rate_limit", headers=auth) as response:
        resources = (await response.json())["resources"]
    assert resources["core"]["used"] == 1
    assert resources["graphql"]["used"] == cost + aliased
    graphql_posts = [r for r in sim.requests if r.path == "/graphql"]
    assert len(graphql_posts) == 3 and graphql_posts[0].body["query"] == REACTIONS_QUERY
    assert all(r.status == 200 and r.installation_id == sim.installation_id for r in graphql_posts)
    assert sim.writes == []  # queries are not writes


async def test_an_unknown_id_is_null_in_the_list_with_a_not_found_error(sim, session, auth, gql):
    number = await sim.open_pr(REPO, "alice", "T")
    comment = await sim.comment(REPO, number, "bob", "hi")
    [known] = (await node_ids(sim, session, auth, number)).values()

    _, _, body = await gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id ... on IssueComment { databaseId } } }",
        ids=[known, "IC_bogus"],
    )

    assert body["data"]["nodes"] == [{"id": known, "databaseId": comment}, None]
    [error] = body["errors"]
    assert error["type"] == "NOT_FOUND" and error["path"] == ["nodes", 1]
    assert error["message"] == "Could not resolve to a node with the global id of 'IC_bogus'."


async def test_more_than_100_ids_are_refused(sim, session, auth, gql):
    number = await sim.open_pr(REPO, "alice", "T")
    await sim.comment(REPO, number, "bob", "hi")
    [known] = (await node_ids(sim, session, auth, number)).values()

    status, _, body = await gql(
        "query($ids: [ID!]!) { nodes(ids: $ids) { id } }", ids=[known] * 101
    )

    assert status == 200 and body["data"] is None
    [error] = body["errors"]
    assert error["type"] == "ARGUMENT_LIMIT" and error["path"] == ["nodes"]
    assert error["message"] == "You may not provide more than 100 node ids; you provided 101."


@pytest.mark.parametrize(
    ("arguments", "kind", "message"),
    [
        (
            "",
            "MISSING_PAGINATION_BOUNDARIES",
            "You must provide a `first` or `last` value to properly paginate the `reactions`"
            " connection.",
        ),
        (
            "(first: 101)",
            "EXCESSIVE_PAGINATION",
            "Requesting 101 records on the `reactions` connection exceeds the `first` limit of"
            " 100 records.",
        ),
        (
            "(last: 500)",
            "EXCESSIVE_PAGINATION",
            "Requesting 500 records on the `reactions` connection exceeds the `last` limit of"
            " 100 records.",
        ),
    ],
)
async def test_a_connection_without_first_or_over_100_is_refused(
    sim, session, auth, gql, arguments, kind, message
):
    number = await sim.open_pr(REPO, "alice", "T")
    await sim.comment(REPO, number, "bob", "hi")
    [known] = (await node_ids(sim, session, auth, number)).values()

    query = (
        "query($ids: [ID!]!) { nodes(ids: $ids) { ... on IssueComment {"
        f" reactions{arguments} {{ totalCount }} }} }} }}"
    )
    status, _, body = await gql(query, ids=[known])

    # `reactions` is non-null, so its error nulls the comment, as GitHub answers.
    assert status == 200 and body["data"] == {"nodes": [None]}
    [error] = body["errors"]
    assert (error["type"], error["message"]) == (kind, message)
    assert error["path"] == ["nodes", 0, "reactions"]


@pytest.mark.parametrize(
    ("document", "is_write"),
    [
        (
            'mutation { addReaction(input: {subjectId: "x", content: HEART}) { subject { id } } }',
            True,
        ),
        ("{ viewer { login } }", False),
        ("{ nodes(ids: []) { id }", False),
        ("query { nodes { id } }", False),
    ],
)
async def test_a_mutation_or_an_invalid_document_gets_errors_and_no_data(
    sim, gql, document, is_write
):
    status, headers, body = await gql(document)

    assert status == 200
    assert "data" not in body and body["errors"] and all(e["message"] for e in body["errors"])
    assert sim.graphql_points == 0 and headers["x-ratelimit-used"] == "0"
    assert [w.path for w in sim.writes] == (["/graphql"] if is_write else [])


async def test_a_bots_reaction_has_no_user_and_a_bots_comment_a_bot_author(sim, session, auth, gql):
    sim.add_user("dependabot[bot]", type="Bot")
    number = await sim.open_pr(REPO, "alice", "T")
    comment = await sim.comment(REPO, number, "dependabot[bot]", "Bumped")
    await sim.react(comment, "dependabot[bot]", "rocket")
    await sim.react(comment, "carol", "heart")
    [known] = (await node_ids(sim, session, auth, number)).values()

    _, _, body = await gql(
        """query($id: ID!) { node(id: $id) { ... on IssueComment {
             author { __typename login }
             reactions(first: 10) { nodes { content user { login } } } } } }""",
        id=known,
    )

    node = body["data"]["node"]
    assert node["author"] == {"__typename": "Bot", "login": "dependabot[bot]"}
    assert node["reactions"]["nodes"] == [
        {"content": "ROCKET", "user": None},
        {"content": "HEART", "user": {"login": "carol"}},
    ]


async def test_reactions_page_by_cursor_and_filter_by_content(sim, session, auth, gql):
    number = await sim.open_pr(REPO, "alice", "T")
    comment = await sim.comment(REPO, number, "bob", "hi")
    made = [await sim.react(comment, f"user{i}", "-1" if i % 2 else "+1") for i in range(5)]
    [known] = (await node_ids(sim, session, auth, number)).values()
    page_query = """query($id: ID!, $after: String) { node(id: $id) { ... on IssueComment {
        reactions(first: 2, after: $after) {
          totalCount
          nodes { databaseId }
          pageInfo { hasNextPage hasPreviousPage endCursor } } } } }"""

    seen, after, pages = [], None, []
    while True:
        _, _, body = await gql(page_query, id=known, after=after)
        reactions = body["data"]["node"]["reactions"]
        assert reactions["totalCount"] == 5
        seen += [r["databaseId"] for r in reactions["nodes"]]
        pages.append(
            (reactions["pageInfo"]["hasNextPage"], reactions["pageInfo"]["hasPreviousPage"])
        )
        if not reactions["pageInfo"]["hasNextPage"]:
            break
        after = reactions["pageInfo"]["endCursor"]
    assert seen == made
    assert pages == [(True, False), (True, True), (False, True)]

    _, _, body = await gql(
        """query($id: ID!) { node(id: $id) { ... on IssueComment {
             last: reactions(last: 2) { nodes { databaseId } pageInfo { hasPreviousPage } }
             down: reactions(first: 10, content: THUMBS_DOWN) { totalCount nodes { databaseId } }
           } } }""",
        id=known,
    )
    node = body["data"]["node"]
    assert node["last"] == {
        "nodes": [{"databaseId": i} for i in made[-2:]],
        "pageInfo": {"hasPreviousPage": True},
    }
    assert node["down"] == {
        "totalCount": 2,
        "nodes": [{"databaseId": made[1]}, {"databaseId": made[3]}],
    }

    _, _, body = await gql(
        "query($id: ID!) { node(id: $id) { ... on IssueComment {"
        ' reactions(first: 1, after: "nope") { totalCount } } } }',
        id=known,
    )
    assert body["errors"][0]["type"] == "INVALID_CURSOR_ARGUMENTS"


async def test_a_spent_graphql_bucket_answers_200_rate_limited_and_rest_still_works(
    sim, session, auth, gql
):
    sim.exhaust_graphql_rate_limit()

    status, headers, body = await gql("{ rateLimit { remaining } }")

    assert status == 200 and "data" not in body
    assert body["errors"] == [
        {
            "type": "RATE_LIMITED",
            "message": f"API rate limit exceeded for installation ID {sim.installation_id}.",
        }
    ]
    assert headers["x-ratelimit-remaining"] == "0"
    assert headers["x-ratelimit-resource"] == "graphql"
    async with session.get(f"{sim.url}/repos/{REPO}", headers=auth) as response:
        assert response.status == 200 and response.headers["x-ratelimit-resource"] == "core"


async def test_a_query_costing_more_than_is_left_is_refused_and_charges_nothing(
    app_key_pem, session
):
    async with Simulator.running(private_key_pem=app_key_pem, graphql_rate_limit=2) as sim:
        number = await sim.open_pr(REPO, "alice", "T")
        auth = {"Authorization": f"token {sim.create_token()}"}
        for i in range(100):
            await sim.comment(REPO, number, "bob", f"c{i}")
        ids = list((await node_ids(sim, session, auth, number)).values())
        body = {"query": ALIASED_QUERY, "variables": {"ids": ids}}  # 3 points

        async with session.post(f"{sim.url}/graphql", json=body, headers=auth) as response:
            answer = await response.json()
            assert response.headers["x-ratelimit-remaining"] == "2"

        assert answer["errors"][0]["type"] == "RATE_LIMITED"
        assert sim.graphql_points == 0


# --- the verdict-reaction driver steps ---


async def test_reacting_and_unreacting_to_the_verdict_shows_in_the_next_query(
    sim, session, auth, gql
):
    number = await sim.open_pr(REPO, "alice", "Docs")
    older = await verdict(session, sim, auth, number)
    newest = await verdict(session, sim, auth, number)
    # A marker typed by someone else is not the bot's verdict, newer or not.
    await sim.comment(REPO, number, "mallory", marker(sim, number))
    ids = await node_ids(sim, session, auth, number)
    query = """query($id: ID!) { node(id: $id) { ... on IssueComment {
                 reactions(first: 10) {
                   totalCount nodes { databaseId content user { login } } } } } }"""

    reaction = await sim.react_to_verdict(REPO, number, "bob", "-1")

    _, _, body = await gql(query, id=ids[newest])
    assert body["data"]["node"]["reactions"] == {
        "totalCount": 1,
        "nodes": [{"databaseId": reaction, "content": "THUMBS_DOWN", "user": {"login": "bob"}}],
    }
    _, _, body = await gql(query, id=ids[older])
    assert body["data"]["node"]["reactions"]["totalCount"] == 0

    assert await sim.unreact_to_verdict(REPO, number, "bob", "-1") is True
    assert await sim.unreact_to_verdict(REPO, number, "bob", "-1") is False
    _, _, body = await gql(query, id=ids[newest])
    assert body["data"]["node"]["reactions"] == {"totalCount": 0, "nodes": []}


async def test_per_rule_verdicts_are_found_by_rule_and_scripts_can_react(sim, session, auth, gql):
    number = await sim.open_pr(REPO, "alice", "Docs")
    docs = await verdict(session, sim, auth, number, rule="docs-only@1")
    await verdict(session, sim, auth, number, rule="bump@2")

    await sim.play(
        [
            {"do": "react_to_verdict", "number": number, "user": "bob", "content": "+1",
             "rule": "docs-only@1", "as": "r"},
            {"do": "react_to_verdict", "number": number, "user": "carol", "content": "-1"},
            {"do": "unreact_to_verdict", "number": number, "user": "carol", "content": "-1"},
        ]
    )  # fmt: skip

    _, item = sim.state.find_comment(docs)
    assert [(r.user.login, r.content) for r in item.reactions] == [("bob", "+1")]
    with pytest.raises(SimulatorError, match="no verdict comment of the bot for rule gone@1"):
        await sim.react_to_verdict(REPO, number, "bob", "+1", rule="gone@1")
    other = await sim.open_pr(REPO, "alice", "Nothing posted")
    with pytest.raises(SimulatorError, match=f"no verdict comment of the bot on {REPO}#{other}"):
        await sim.react_to_verdict(REPO, other, "bob", "+1")


# --- the REST reactions list ---


async def test_rest_reactions_page_with_links_and_a_304_costs_no_rate_limit(sim, session, auth):
    number = await sim.open_pr(REPO, "alice", "Popular")
    comment = await sim.comment(REPO, number, "bob", "Vote")
    for i in range(150):
        await sim.react(comment, f"voter{i}", "+1" if i % 3 else "-1")
    url = f"{sim.url}/repos/{REPO}/issues/comments/{comment}/reactions"

    async with session.get(f"{url}?per_page=500", headers=auth) as response:
        first = await response.json()
        etag = response.headers["ETag"]
        remaining = int(response.headers["x-ratelimit-remaining"])
        next_page = {
            link["url"].query.get("page") for rel, link in response.links.items() if rel == "next"
        }
    assert len(first) == 100 and next_page == {"2"}
    assert first[0]["node_id"].startswith("REA_") and first[0]["user"]["login"] == "voter0"
    async with session.get(f"{url}?per_page=500&page=2", headers=auth) as response:
        assert len(await response.json()) == 50
    async with session.get(f"{url}?content=-1&per_page=100", headers=auth) as response:
        assert len(await response.json()) == 50

    async with session.get(f"{url}?per_page=500", headers={**auth, "If-None-Match": etag}) as r:
        assert r.status == 304 and await r.read() == b""
        assert int(r.headers["x-ratelimit-remaining"]) == remaining - 2  # the two GETs above

    await sim.react(comment, "latecomer", "heart")  # on page 2: page 1 is still the same
    async with session.get(f"{url}?per_page=500", headers={**auth, "If-None-Match": etag}) as r:
        assert r.status == 304
    await sim.unreact(comment, "voter0", "-1")
    async with session.get(f"{url}?per_page=500", headers={**auth, "If-None-Match": etag}) as r:
        assert r.status == 200 and r.headers["ETag"] != etag
        assert int(r.headers["x-ratelimit-remaining"]) == remaining - 3


# --- the schema, against GitHub's ---


def differences(ours: GraphQLSchema, github: GraphQLSchema):
    """Whatever in `ours` is not in `github` as it is here."""
    for name, kind in ours.type_map.items():
        other = github.type_map.get(name)
        if name.startswith("__"):
            continue
        if other is None or type(other) is not type(kind):
            yield f"type {name}: missing or of another kind on GitHub"
        elif isinstance(kind, GraphQLEnumType):
            yield from (f"{name}.{v}: no such value" for v in set(kind.values) - set(other.values))
        elif isinstance(kind, GraphQLObjectType | GraphQLInterfaceType):
            theirs = {i.name for i in other.interfaces}
            yield from (
                f"{name}: GitHub's does not implement {i.name}"
                for i in kind.interfaces
                if i.name not in theirs
            )
            for field_name, field in kind.fields.items():
                yield from field_differences(
                    f"{name}.{field_name}", field, other.fields.get(field_name)
                )


def field_differences(where, field, github_field):
    if github_field is None:
        yield f"{where}: no such field"
        return
    if str(field.type) != str(github_field.type):
        yield f"{where}: {field.type} here, {github_field.type} on GitHub"
    for name, argument in field.args.items():
        other = github_field.args.get(name)
        if other is None:
            yield f"{where}({name}): no such argument"
        elif str(argument.type) != str(other.type) or default(argument) != default(other):
            ours, theirs = (
                f"{argument.type} = {default(argument)}",
                f"{other.type} = {default(other)}",
            )
            yield f"{where}({name}): {ours} here, {theirs} on GitHub"
    for name, other in github_field.args.items():
        if name not in field.args and is_required_argument(other):
            yield f"{where}({name}): required on GitHub, missing here"


def default(argument):
    node = argument.ast_node
    return print_ast(node.default_value) if node and node.default_value else None


def test_the_schema_is_a_faithful_subset_of_githubs(github_graphql_schema):
    path = github_graphql_schema
    # GitHub's published schema defines a few fields twice, which strict SDL validation refuses.
    github = build_schema(Path(path).read_text(), assume_valid_sdl=True)

    assert list(differences(schema(), github)) == []


def test_the_subset_check_finds_a_changed_type_a_new_field_and_a_dropped_required_argument():
    changed = SDL.replace("body: String!", "body: String", 1).replace(
        "databaseId: Int\n  content", "databaseId: Int\n  emoji: String\n  content"
    )
    github = build_schema(SDL.replace("node(id: ID!)", "node(id: ID!, hint: String!)"))

    assert sorted(differences(build_schema(changed), github)) == [
        "IssueComment.body: String here, String! on GitHub",
        "Query.node(hint): required on GitHub, missing here",
        "Reaction.emoji: no such field",
    ]
    assert list(differences(schema(), github)) == [
        "Query.node(hint): required on GitHub, missing here"
    ]
