"""Reading the reactions on the bot's verdict comments (``shadowbot.live.harvest``) against the
simulated GitHub, on SQLite and PostgreSQL: what a sweep records, what it costs, what it does
with a reaction or a comment that is gone, and that its GraphQL query is one GitHub accepts
and the write guard lets through.

The verdict comments are made in the simulator's state as the app's bot user (no webhook, no
bot run) and recorded in the database as the bot records them; targets come from
``open_targets``, as the scheduled sweep gets them.
"""

import asyncio
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest
from graphql import build_schema, parse, validate
from sqlmodel import Session, select

from shadowbot.github import GitHubApp, WriteRefused, check_request
from shadowbot.live.cache import LiveCache
from shadowbot.live.comments import Marker, format_marker
from shadowbot.live.harvest import REACTIONS_QUERY, Harvester, open_targets
from shadowbot.metrics import Metrics
from shadowbot.simulator import Simulator, actions, activity, nodeids
from shadowbot.storage import (
    PullRequestRow,
    ReactionRow,
    RepositoryRow,
    VerdictCommentRow,
    migrated,
)

START = datetime(2024, 3, 1, 9, 0, tzinfo=UTC)


class Clock:
    """The simulated GitHub's clock: GitHub's times differ from the bot's own."""

    def __init__(self):
        self.now = START

    def __call__(self):
        return self.now

    def tick(self, minutes=1):
        self.now += timedelta(minutes=minutes)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def sim(app_key_pem, clock):
    async with Simulator.running(private_key_pem=app_key_pem, clock=clock) as simulator:
        simulator.add_user("alice", "write")
        simulator.add_user("carol", "admin")
        simulator.add_user("dave", "read")
        simulator.add_user("renovate[bot]", type="Bot")
        yield simulator


@pytest.fixture
def database(database_url):
    with migrated(database_url) as engine:
        yield engine


@pytest.fixture
async def harvester(sim, database):
    async with aiohttp.ClientSession() as session:
        github = GitHubApp(
            session,
            base_url=sim.url,
            app_id=sim.app_id,
            private_key=sim.private_key_pem,
            metrics=Metrics(),
        )
        yield Harvester(database, github, LiveCache(), Metrics())


def post_verdicts(sim, database, count):
    """``count`` open PRs on GitHub, each with a verdict comment by the app's bot, recorded in
    the database as the bot records them; the comment ids, in order."""
    state, repo = sim.state, sim.state.repo(sim.repo)
    author = state.user("alice")
    comment_ids = []
    with Session(database) as session:
        repository = session.exec(
            select(RepositoryRow).where(RepositoryRow.full_name == sim.repo)
        ).first() or RepositoryRow(full_name=sim.repo, installation_id=sim.installation_id)
        session.add(repository)
        session.flush()
        for _ in range(count):
            pr, _ = actions.open_pull(state, repo, author, "Fix the frobnicator")
            marker = Marker("combined", sim.repo, pr.number, pr.head_sha, ())
            body = f"{format_marker(marker)}\n\nNo rule claims this pull request."
            comment, _ = activity.add_comment(state, repo, pr, state.bot, body)
            pr_row = PullRequestRow(
                repository_id=repository.id,
                number=pr.number,
                author_login=author.login,
                head_sha=pr.head_sha,
                state="open",
                title=pr.title,
                created_at=pr.created_at,
                updated_at=pr.updated_at,
            )
            session.add(pr_row)
            session.flush()
            session.add(
                VerdictCommentRow(
                    pull_request_id=pr_row.id,
                    comment_id=comment.id,
                    node_id=nodeids.node_id(nodeids.COMMENT, comment.id),
                    created_at=comment.created_at,
                )
            )
            comment_ids.append(comment.id)
        session.commit()
    return comment_ids


def targets(database):
    """What the scheduled sweep reads: the verdict comments of the PRs, deleted ones left out."""
    with Session(database) as session:
        return open_targets(session, session.exec(select(PullRequestRow.id)).all())


def reactions(database):
    """Every reaction row, by GitHub id, as plain tuples (so a later read can be compared)."""
    with Session(database) as session:
        rows = session.exec(select(ReactionRow).order_by(ReactionRow.github_id)).all()
        return {
            row.github_id: (
                row.comment_id,
                row.user_login,
                row.user_type,
                row.content,
                row.permission,
                row.created_at,
                row.first_seen_at,
                row.gone_at,
            )
            for row in rows
        }


def verdict_comments(database):
    with Session(database) as session:
        rows = session.exec(select(VerdictCommentRow)).all()
        return {row.comment_id: row for row in rows}


def graphql_ids(sim, since=0):
    """The node ids each `POST /graphql` after request number ``since`` asked for."""
    posts = [r for r in sim.requests[since:] if r.path == "/graphql"]
    return [r.body["variables"]["ids"] for r in posts]


def rest_points(sim):
    """REST points the installation has used in this rate-limit window."""
    return sim.backend.rates.window(sim.installation_id, sim.backend.clock()).used


async def test_a_sweep_records_who_reacted_how_when_and_with_what_permission(
    sim, database, harvester, clock
):
    first, second = post_verdicts(sim, database, 2)
    clock.tick()
    up = await sim.react(first, "alice", "+1")
    clock.tick()
    down = await sim.react(first, "dave", "-1")
    clock.tick()
    heart = await sim.react(second, "carol", "heart")
    before = datetime.now(UTC)

    stats = await harvester.sweep(targets(database))

    assert (stats.comments, stats.new, stats.gone) == (2, 3, 0)
    rows = reactions(database)
    minute = timedelta(minutes=1)
    assert {key: row[:6] for key, row in rows.items()} == {
        up: (first, "alice", "User", "+1", "write", START + minute),
        down: (first, "dave", "User", "-1", "read", START + 2 * minute),
        heart: (second, "carol", "User", "heart", "admin", START + 3 * minute),
    }
    # first seen by the bot's clock, not GitHub's; none is gone
    assert all(row[6] >= before and row[7] is None for row in rows.values())
    swept = verdict_comments(database)
    assert all(c.swept_at is not None and c.deleted_at is None for c in swept.values())


async def test_a_reaction_removed_on_github_is_recorded_gone_and_nothing_else_changes(
    sim, database, harvester
):
    first, second = post_verdicts(sim, database, 2)
    kept = await sim.react(first, "alice", "+1")
    removed = await sim.react(first, "dave", "-1")
    other = await sim.react(second, "carol", "+1")
    await harvester.sweep(targets(database))
    seen = reactions(database)
    with Session(database) as session:
        evidence = {row.number: row.evidence_at for row in session.exec(select(PullRequestRow))}

    assert await sim.unreact(first, "dave", "-1")
    stats = await harvester.sweep(targets(database))

    assert (stats.comments, stats.new, stats.gone) == (2, 0, 1)
    after = reactions(database)
    gone_at = after[removed][7]
    assert gone_at is not None and gone_at > seen[removed][6]
    assert after[removed][:7] == seen[removed][:7]
    assert after[kept] == seen[kept] and after[other] == seen[other]
    with Session(database) as session:
        now = {row.number: row.evidence_at for row in session.exec(select(PullRequestRow))}
    # the PR whose comment lost a reaction has news; the other one has not
    assert now[1] > evidence[1] and now[2] == evidence[2]

    stats = await harvester.sweep(targets(database))  # gone once: not gone again
    assert (stats.new, stats.gone) == (0, 0)
    assert reactions(database) == after


async def test_a_sweep_of_250_comments_costs_3_queries_and_at_most_3_points(
    sim, database, harvester
):
    comments = post_verdicts(sim, database, 250)
    for comment in comments[::50]:
        await sim.react(comment, "alice", "+1")
    points, since = sim.graphql_points, len(sim.requests)

    stats = await harvester.sweep(targets(database))

    asked = graphql_ids(sim, since)
    assert [len(ids) for ids in asked] == [100, 100, 50]
    assert sim.graphql_points - points <= 3
    assert stats.points == sim.graphql_points - points and stats.requests == 3
    assert (stats.comments, stats.new) == (250, 5)
    reads = [r for r in sim.requests[since:] if r.path.endswith("/reactions")]
    assert reads == []  # no comment needed a REST read


async def test_a_comment_deleted_on_github_is_marked_deleted_and_not_swept_again(
    sim, database, harvester
):
    first, deleted, last = post_verdicts(sim, database, 3)
    await sim.react(last, "alice", "+1")
    await sim.delete_comment(deleted)

    stats = await harvester.sweep(targets(database))

    rows = verdict_comments(database)
    assert rows[deleted].deleted_at is not None
    assert rows[first].deleted_at is None and rows[last].deleted_at is None
    assert rows[first].swept_at is not None and rows[last].swept_at is not None
    assert stats.new == 1 and [r[1] for r in reactions(database).values()] == ["alice"]

    since = len(sim.requests)
    await harvester.sweep(targets(database))
    await harvester.sweep_pull_request(sim.repo, 2)
    gone = nodeids.node_id(nodeids.COMMENT, deleted)
    assert [gone in ids for ids in graphql_ids(sim, since)] == [False]
    assert not [r for r in sim.requests[since:] if f"/comments/{deleted}/" in r.path]


async def test_a_comment_deleted_on_github_is_marked_deleted_by_a_pull_requests_sweep(
    sim, database, harvester
):
    (deleted,) = post_verdicts(sim, database, 1)
    await sim.delete_comment(deleted)

    await harvester.sweep_pull_request(sim.repo, 1)

    assert verdict_comments(database)[deleted].deleted_at is not None
    assert targets(database) == []


async def test_a_pull_requests_unchanged_comment_answers_304_the_second_time(
    sim, database, harvester
):
    (comment,) = post_verdicts(sim, database, 1)
    await sim.react(comment, "alice", "+1")
    path = f"/repos/{sim.repo}/issues/comments/{comment}/reactions"

    first = await harvester.sweep_pull_request(sim.repo, 1)
    seen, used = reactions(database), rest_points(sim)
    second = await harvester.sweep_pull_request(sim.repo, 1)

    assert [r.status for r in sim.requests if r.path == path] == [200, 304]
    assert rest_points(sim) == used  # a 304 costs no rate-limit point
    assert (first.new, second.new, second.gone) == (1, 0, 0)
    assert reactions(database) == seen


async def test_a_sweep_and_a_pull_requests_sweep_at_once_record_a_new_reaction_once(
    sim, database, harvester
):
    """The scheduled sweep and an event's sweep of the same PR can run at the same time."""
    (comment,) = post_verdicts(sim, database, 1)
    up = await sim.react(comment, "alice", "+1")

    both = await asyncio.gather(
        harvester.sweep(targets(database)),
        harvester.sweep_pull_request(sim.repo, 1),
        return_exceptions=True,
    )

    assert [type(stats).__name__ for stats in both] == ["HarvestStats", "HarvestStats"]
    assert sorted(stats.new for stats in both) == [0, 1]
    assert list(reactions(database)) == [up]


@pytest.mark.parametrize("strategy", ["graphql", "rest"])
async def test_a_bots_reaction_is_not_recorded(sim, database, harvester, strategy):
    (comment,) = post_verdicts(sim, database, 1)
    human = await sim.react(comment, "alice", "+1")
    await sim.react(comment, "renovate[bot]", "+1")
    await sim.react(comment, sim.state.bot.login, "eyes")  # the app's own

    if strategy == "graphql":
        stats = await harvester.sweep(targets(database))
    else:
        stats = await harvester.sweep_pull_request(sim.repo, 1)

    assert stats.new == 1 and list(reactions(database)) == [human]
    again = await harvester.sweep(targets(database))
    assert (again.new, again.gone) == (0, 0)


def test_the_reactions_query_validates_against_githubs_published_schema(github_graphql_schema):
    path = github_graphql_schema
    # GitHub's published schema defines a few fields twice, which strict SDL validation
    # refuses, and deprecates a few fields of types but not of the interfaces they implement,
    # which graphql-core 3.3's schema validation (run by `validate` first) refuses: both are
    # GitHub's to fix, and neither changes what a query may ask.
    github = build_schema(Path(path).read_text(), assume_valid_sdl=True, assume_valid=True)

    assert validate(github, parse(REACTIONS_QUERY)) == []
    # the check can fail: a field GitHub does not have is an error
    wrong = REACTIONS_QUERY.replace("createdAt", "reactedAt")
    [error] = validate(github, parse(wrong))
    assert error.message.startswith("Cannot query field 'reactedAt' on type 'Reaction'.")


def test_the_write_guard_sends_the_reactions_query_and_refuses_it_as_a_mutation():
    base = "https://api.github.com"
    ids = [nodeids.node_id(nodeids.COMMENT, 1001)]
    payload = {"query": REACTIONS_QUERY, "variables": {"ids": ids}}
    mutation = re.sub(r"^\s*query\b", "mutation", REACTIONS_QUERY)
    assert mutation != REACTIONS_QUERY

    check_request("POST", base + "/graphql", base, body=payload)
    check_request("POST", base + "/graphql", base, body=json.dumps(payload).encode())
    with pytest.raises(WriteRefused, match="mutation"):
        check_request("POST", base + "/graphql", base, body={**payload, "query": mutation})
