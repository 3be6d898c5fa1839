"""The collector's query runner on GitHub's answers the simulator does not give: a query that
timed out inside GitHub (a 200 with an error), a secondary rate limit raised by the client, a
connection that drops."""

import pytest
from gidgethub import QueryError

from shadowbot.github.client import GitHubUnavailable
from shadowbot.github.history_fetch import Overloaded, QueryFailed, QueryRunner
from shadowbot.github.pacing import RateLimited

TIMED_OUT = {
    "data": None,
    "errors": [
        {
            "message": "Something went wrong while executing your query. This may be the result"
            " of a timeout, or it could be a GitHub bug."
        }
    ],
}
DATA = {"rateLimit": {"cost": 2, "remaining": 4990, "resetAt": "2024-01-01T01:00:00Z"}}


class Client:
    """Answers with each of ``answers`` in turn: an exception is raised, data returned."""

    rate_limit = None

    def __init__(self, *answers):
        self.answers = list(answers)
        self.sent = 0

    async def graphql(self, query, **variables):
        self.sent += 1
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


class Time:
    def __init__(self):
        self.now = 1_704_067_200.0  # 2024-01-01T00:00:00Z
        self.slept = []

    def __call__(self):
        return self.now

    async def sleep(self, seconds):
        self.slept.append(seconds)
        self.now += seconds


async def test_a_query_github_gave_up_on_is_overloaded_for_a_smaller_page():
    runner = QueryRunner(Client(QueryError(TIMED_OUT)), clock=Time())
    with pytest.raises(Overloaded, match="Something went wrong"):
        await runner.run("pulls", "query { x }", {})


async def test_another_error_is_a_failure_with_githubs_message():
    client = Client(QueryError({"errors": [{"type": "FORBIDDEN", "message": "Resource not ok"}]}))
    with pytest.raises(QueryFailed, match="Resource not ok"):
        await QueryRunner(client, clock=Time()).run("pulls", "query { x }", {})


async def test_a_secondary_limit_is_waited_out_then_the_points_are_counted():
    time = Time()
    client = Client(RateLimited(time.now + 90, "secondary", True), DATA)
    runner = QueryRunner(client, clock=time, sleep=time.sleep)

    assert await runner.run("pulls", "query { x }", {}) == DATA

    assert time.slept == [91.0] and client.sent == 2
    assert (runner.spending.points, runner.spending.remaining) == (2, 4990)


async def test_a_dropped_connection_is_retried_with_backoff_then_given_up():
    def drops(count):
        return [GitHubUnavailable("POST /graphql: ClientConnectorError") for _ in range(count)]

    time = Time()
    runner = QueryRunner(Client(*drops(5), DATA), clock=time, sleep=time.sleep)
    assert await runner.run("pulls", "query { x }", {}) == DATA
    assert time.slept == [2.0, 4.0, 8.0, 16.0, 32.0]

    runner = QueryRunner(Client(*drops(6), DATA), clock=time, sleep=time.sleep)
    with pytest.raises(GitHubUnavailable):
        await runner.run("pulls", "query { x }", {})


async def test_no_more_than_2000_points_in_a_minute():
    time = Time()
    big = {"rateLimit": {"cost": 700, "remaining": 4000, "resetAt": "2024-01-01T01:00:00Z"}}
    client = Client(big, big, big, big)
    waits = []
    runner = QueryRunner(
        client, clock=time, sleep=time.sleep, on_wait=lambda s, why: waits.append(why)
    )

    for _ in range(4):
        await runner.run("pulls", "query { x }", {})
        time.now += 5

    # 700 at 0 s, 700 at 5 s; a third at 10 s would make 2,100 in a minute: it waits until
    # the first is a minute old (and a second more). By then the second one has gone too.
    assert waits == ["GitHub's 2,000 points a minute"]
    assert time.slept == [pytest.approx(51.0)]
