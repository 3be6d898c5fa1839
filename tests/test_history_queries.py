"""Every document the history collector sends is valid against GitHub's published schema, and
costs what its docstring says by GitHub's rules (the simulator's cost model)."""

from pathlib import Path

import pytest
from graphql import build_schema, get_operation_ast, parse, validate

from shadowbot.github.history_queries import (
    CHECKS,
    CODEOWNERS_BATCH,
    COLLABORATORS,
    MORE_BATCH,
    PULLS,
    More,
    blobs_document,
    checks_document,
    codeowners_document,
    more_document,
)
from shadowbot.simulator.graphql_cost import estimate

KINDS = ("timeline", "files", "checks")


def documents():
    yield "pulls", PULLS, {"owner": "o", "name": "r", "first": 50, "after": None, "base": None}
    yield "checks", CHECKS, {"ids": ["C_x"] * 100}
    yield "collaborators", COLLABORATORS, {"owner": "o", "name": "r", "after": None}
    for kind in KINDS:
        yield f"more {kind}", *more_document([More(kind, "PR_x", "cursor")])
    mixed = [More(KINDS[i % 3], f"id{i}", f"c{i}") for i in range(MORE_BATCH)]
    yield "more mixed", *more_document(mixed)
    yield "codeowners 1", *codeowners_document(["abc"])
    document, variables = blobs_document(["b" * 40] * CODEOWNERS_BATCH)
    yield "blobs", document, {**variables, "owner": "o", "name": "r"}
    document, variables = checks_document(["C_x"] * 100, ["a" * 40] * CODEOWNERS_BATCH)
    yield "checks with codeowners", document, {**variables, "owner": "o", "name": "r"}
    document, variables = codeowners_document(["a" * 40] * CODEOWNERS_BATCH)
    yield "codeowners full", document, {**variables, "owner": "o", "name": "r"}


@pytest.fixture(scope="module")
def github(github_graphql_schema):
    # GitHub's published schema defines a few fields twice, which strict SDL validation refuses,
    # and deprecates some interface fields only on their implementations, which graphql-core's
    # schema check refuses before validating any document: the schema is taken as valid.
    github = build_schema(Path(github_graphql_schema).read_text(), assume_valid_sdl=True)
    github._validation_errors = []  # graphql-core's record of the schema check, done
    return github


@pytest.mark.parametrize(("name", "document", "variables"), list(documents()))
def test_every_collector_query_is_valid_against_githubs_schema(github, name, document, variables):
    parsed = parse(document)
    assert validate(github, parsed) == []
    assert "rateLimit { cost remaining resetAt }" in document


def cost(github, document, variables):
    parsed = parse(document)
    return estimate(github, parsed, get_operation_ast(parsed), variables)


def test_a_page_of_prs_with_timelines_costs_one_point_per_49_and_two_per_100(github):
    base = {"owner": "o", "name": "r", "after": None, "base": None}
    # root 1 + pullRequests 1 + files n + timelineItems n
    assert cost(github, PULLS, {**base, "first": 49}).requests == 1 + 1 + 2 * 49
    assert cost(github, PULLS, {**base, "first": 49}).points == 1
    assert cost(github, PULLS, {**base, "first": 100}).points == 2


def test_checks_of_100_commits_and_a_full_batch_of_overflow_pages_cost_one_point(github):
    assert cost(github, CHECKS, {"ids": ["C_x"] * 100}).points == 1
    document, variables = checks_document(["C_x"] * 100, ["a" * 40] * CODEOWNERS_BATCH)
    assert cost(github, document, {**variables, "owner": "o", "name": "r"}).points == 1
    wanted = [More(KINDS[i % 3], f"id{i}", f"c{i}") for i in range(MORE_BATCH)]
    assert cost(github, *more_document(wanted)).points == 1
    document, variables = codeowners_document(["a" * 40] * CODEOWNERS_BATCH)
    assert cost(github, document, {**variables, "owner": "o", "name": "r"}).points == 1


def test_batches_are_bounded():
    with pytest.raises(ValueError, match="between 1 and 50"):
        more_document([])
    with pytest.raises(ValueError, match="between 1 and 100"):
        codeowners_document(["a"] * (CODEOWNERS_BATCH + 1))
