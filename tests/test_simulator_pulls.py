"""The simulator's GraphQL over pull requests, over real HTTP: pages of a repository's pull
requests newest-updated first, each timeline with every kind of item the collector reads,
checks of commits by id, files at a revision, GitHub's costs and its NOT_FOUND."""

import aiohttp
import pytest
from collect_history import CODEOWNERS, REPO, generate, seeded

from shadowbot.github.history_queries import CHECKS, PULLS, blobs_document, codeowners_document
from shadowbot.simulator import Simulator
from shadowbot.simulator.graphql_seed import seed_history
from shadowbot.simulator.state import git_blob_sha


@pytest.fixture
async def sim(app_key_pem):
    async with Simulator.running(private_key_pem=app_key_pem) as simulator:
        simulator.set_codeowners(REPO, CODEOWNERS[0])
        yield simulator


@pytest.fixture
async def gql(sim):
    headers = {"Authorization": f"token {sim.create_token()}"}
    async with aiohttp.ClientSession() as session:

        async def post(query, **variables):
            body = {"query": query, "variables": variables}
            async with session.post(f"{sim.url}/graphql", json=body, headers=headers) as r:
                assert r.status == 200
                return await r.json()

        yield post


def page(**variables):
    return {"owner": "acme", "name": "widgets", "after": None, "base": None, **variables}


async def test_pull_requests_page_newest_updated_first_at_githubs_cost(sim, gql):
    records = generate(30)
    seed_history(sim.state, REPO, seeded(records))

    def updated(record):
        times = [e["at"] for e in record["events"] if e["type"] not in ("check", "reverted")]
        return max(times), record["number"]

    by_update = sorted(records, key=updated, reverse=True)

    first = await gql(PULLS, **page(first=20))
    cursor = first["data"]["repository"]["pullRequests"]["pageInfo"]["endCursor"]
    second = await gql(PULLS, **page(first=20, after=cursor))

    pulls = [
        first["data"]["repository"]["pullRequests"],
        second["data"]["repository"]["pullRequests"],
    ]
    numbers = [n["number"] for p in pulls for n in p["nodes"]]
    assert numbers == [r["number"] for r in by_update]
    assert [p["pageInfo"]["hasNextPage"] for p in pulls] == [True, False]
    assert pulls[0]["totalCount"] == 30
    # 1 + pullRequests 1 + files 20 + timelineItems 20 = 42 requests: 0.42, at least 1 point.
    assert first["data"]["rateLimit"]["cost"] == 1
    assert sim.graphql_points == 2


async def test_a_timeline_holds_every_item_the_collector_reads(sim, gql):
    records = generate(60)
    seed_history(sim.state, REPO, seeded(records))

    answer = await gql(PULLS, **page(first=60))

    assert "errors" not in answer
    nodes = answer["data"]["repository"]["pullRequests"]["nodes"]
    kinds = {i["__typename"] for n in nodes for i in n["timelineItems"]["nodes"]}
    assert kinds == {
        "PullRequestCommit", "PullRequestReview", "IssueComment", "LabeledEvent",
        "UnlabeledEvent", "ReadyForReviewEvent", "ConvertToDraftEvent", "ClosedEvent",
        "ReopenedEvent", "MergedEvent", "RenamedTitleEvent", "ReviewDismissedEvent",
    }  # fmt: skip
    merged = next(n for n in nodes if n["merged"])
    last = merged["timelineItems"]["nodes"][-2:]
    # GitHub lists the merge's ClosedEvent after its MergedEvent.
    assert [i["__typename"] for i in last] in (
        ["MergedEvent", "ClosedEvent"],
        ["ClosedEvent", "IssueComment"],
    )


async def test_checks_of_commits_by_id_and_codeowners_at_a_commit(sim, gql):
    [record] = generate(1)
    seed_history(sim.state, REPO, seeded([record]))
    answer = await gql(PULLS, **page(first=1))
    [pr] = answer["data"]["repository"]["pullRequests"]["nodes"]
    ids = [i["pushed"]["id"] for i in pr["timelineItems"]["nodes"] if "pushed" in i]

    checks = await gql(CHECKS, ids=ids)

    names = {
        c.get("name") or c.get("context")
        for n in checks["data"]["nodes"]
        for c in n["statusCheckRollup"]["contexts"]["nodes"]
    }
    wanted = {e["name"] for e in record["events"] if e["type"] == "check"}
    assert names == wanted
    document, variables = codeowners_document([pr["baseRefOid"]])
    owners = await gql(document, owner="acme", name="widgets", **variables)
    repository = owners["data"]["repository"]
    assert repository["c0_0"] == {"oid": git_blob_sha(CODEOWNERS[0])}
    assert repository["c0_1"] is None
    document, variables = blobs_document([repository["c0_0"]["oid"]])
    blobs = await gql(document, owner="acme", name="widgets", **variables)
    assert blobs["data"]["repository"] == {"b0": {"text": CODEOWNERS[0]}}


async def test_an_unknown_repository_is_not_found(sim, gql):
    answer = await gql(PULLS, **page(first=1, name="nothing"))
    assert answer["data"] == {"repository": None, "rateLimit": answer["data"]["rateLimit"]}
    [error] = answer["errors"]
    assert error["type"] == "NOT_FOUND"
    assert error["message"] == "Could not resolve to a Repository with the name 'acme/nothing'."
