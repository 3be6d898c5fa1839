"""A pull request made through the scenario driver (the same actions the REST endpoints
take), not seeded from a history, is collected with its whole timeline: its labels added
and removed, its draft changes, its close and reopen, its merge."""

import json
from datetime import UTC, datetime, timedelta

import aiohttp
import pytest

from shadowbot.github.client import GitHubClient
from shadowbot.metrics import Metrics
from shadowbot.offline.collect import collect
from shadowbot.offline.history import HistoryReader
from shadowbot.simulator import Simulator

REPO = "acme/widgets"


class Clock:
    """The simulator's clock, moved on a minute between steps so each event has its own."""

    def __init__(self) -> None:
        self.now = datetime(2024, 5, 1, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> None:
        self.now += timedelta(minutes=1)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
async def sim(app_key_pem, clock):
    async with Simulator.running(
        private_key_pem=app_key_pem, token_ttl=10**8, repos=[REPO], clock=clock
    ) as simulator:
        yield simulator


async def test_a_pull_request_driven_through_the_scenario_is_collected_with_its_events(
    sim, clock, tmp_path
):
    sim.add_user("alice", "write", association="MEMBER")
    sim.add_user("dave", association="CONTRIBUTOR")
    number = await sim.open_pr(REPO, "dave", "gear: faster", files=["src/gear.py"], draft=True)
    opened = sim.pull(REPO, number).head_sha
    steps = [
        lambda: sim.label(REPO, number, "bug", sender="alice"),
        lambda: sim.label(REPO, number, "needs-review", sender="alice"),
        lambda: sim.unlabel(REPO, number, "needs-review", sender="alice"),
        lambda: sim.ready_for_review(REPO, number),
        lambda: sim.convert_to_draft(REPO, number),
        lambda: sim.ready_for_review(REPO, number),
        lambda: sim.edit_pr(REPO, number, title="gear: faster by half"),
        lambda: sim.close(REPO, number),
        lambda: sim.reopen(REPO, number),
        lambda: sim.merge(REPO, number, merger="alice"),
    ]
    for step in steps:
        clock.tick()
        await step()
    out = tmp_path / "h.jsonl"

    async with aiohttp.ClientSession() as session:
        client = GitHubClient(
            session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token()
        )
        summary = await collect(REPO, out, client)

    errors = []
    assert len(list(HistoryReader(out, on_error=errors.append))) == 1 and errors == []
    [record] = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert summary.written == 1 and record["title"] == "gear: faster"
    got = [
        (e["type"], e["at"][11:16], e.get("label"), (e.get("by") or {}).get("login"))
        for e in record["events"]
    ]
    assert got == [
        ("opened", "09:00", None, None),
        ("labeled", "09:01", "bug", None),
        ("labeled", "09:02", "needs-review", None),
        ("unlabeled", "09:03", "needs-review", None),
        ("ready_for_review", "09:04", None, None),
        ("converted_to_draft", "09:05", None, None),
        ("ready_for_review", "09:06", None, None),
        ("edited", "09:07", None, None),
        ("closed", "09:08", None, "dave"),
        ("reopened", "09:09", None, "dave"),
        ("merged", "09:10", None, "alice"),
    ]
    assert record["events"][0]["draft"] is True and record["events"][0]["head"] == opened
    assert record["events"][7]["title"] == "gear: faster by half"
    merged = record["events"][-1]
    assert merged["commit"] == opened and merged["by"]["permission"] == "write"
