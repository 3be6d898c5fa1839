"""``collect`` end to end over real HTTP against the simulator: a repository whose pull
requests exercise every timeline event is read back as the history it was seeded from, and
the backtest reads it; a spent rate limit is waited out until its reset; a 502 halves the
page; a run killed between pages resumes to the same file; a rerun fetches only what was
updated since and replaces it."""

import json
from datetime import UTC, datetime

import pytest
from collect_history import CODEOWNERS, REPO, expected, generate, normalized, seeded
from collect_sim import client_fixture, sim_fixture, time_fixture  # noqa: F401

from shadowbot.core.engine import Engine
from shadowbot.github import history_queries as queries
from shadowbot.github.history_fetch import Spending
from shadowbot.offline.collect import (
    CollectError,
    Progress,
    collect,
    partial_path,
    state_path,
)
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.run import judge_history, new_backtest
from shadowbot.resources import bundled_path
from shadowbot.rules import load_rules
from shadowbot.settings import load_settings
from shadowbot.simulator.graphql_seed import seed_history


def seed(sim, records, phase_from=None):
    """Seed the records into the repository, with the first CODEOWNERS and from
    ``phase_from`` on the second."""
    sim.set_codeowners(REPO, CODEOWNERS[0])
    first = [r for r in records if phase_from is None or r["number"] < phase_from]
    seed_history(sim.state, REPO, seeded(first))
    if phase_from is not None:
        sim.set_codeowners(REPO, CODEOWNERS[1])
        seed_history(sim.state, REPO, seeded(records[len(first) :]))


def written(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return json.loads(lines[0]), [json.loads(line) for line in lines[1:]]


def graphql_requests(sim):
    return [r for r in sim.requests if r.path == "/graphql"]


async def run(client, out, fake_time, **options):
    return await collect(REPO, out, client, clock=fake_time, sleep=fake_time.sleep, **options)


async def test_the_history_written_is_what_github_holds_and_the_backtest_reads_it(
    sim, client, fake_time, tmp_path
):
    records = generate(120, phase_from=61)
    seed(sim, records, phase_from=61)
    kinds = {e["type"] for r in records for e in r["events"]}
    assert kinds >= {
        "opened", "push", "review", "check", "labeled", "unlabeled", "ready_for_review",
        "converted_to_draft", "comment", "merged", "closed", "reopened", "reverted", "edited",
    }  # fmt: skip
    out = tmp_path / "widgets.jsonl"
    lines = []

    summary = await run(client, out, fake_time, page_size=40, progress=lambda p: lines.append(p))

    assert summary.permissions == "collaborators"
    header, got = written(out)
    assert header["shadowbot_history"] == 1 and header["repository"] == REPO
    assert [normalized(r) for r in got] == expected(records)
    mergers = [e["by"] for r in got for e in r["events"] if e["type"] == "merged"]
    assert {m["permission"] for m in mergers} == {"write"}
    assert summary.written == summary.total_records == 120 and summary.reverts > 0
    assert not partial_path(out).exists()
    # A progress line per page: PRs done, points spent, time left.
    assert [p.done for p in lines] == [40, 80, 120]
    assert "120 PRs of at most 120" in lines[-1].line() and "points spent" in lines[-1].line()
    assert summary.spending.points == sim.graphql_points

    errors = []
    reader = HistoryReader(out, on_error=errors.append)
    settings = load_settings({})
    rules = load_rules(bundled_path("rules"))
    claims = []
    with Engine(rules, settings.rule_timeout) as engine:
        backtest = new_backtest(
            engine,
            settings,
            observers=[
                lambda rec, results: claims.extend(r for r in results if r.claim is not None)
            ],
        )
        judge_history(reader, engine, [backtest])
    assert errors == [] and backtest.records == 120
    assert claims


async def test_timelines_files_and_checks_over_a_page_are_fetched_in_full(
    sim, client, fake_time, tmp_path
):
    [record] = generate(1)
    record["events"] = [e for e in record["events"] if e["type"] in ("opened", "check")][:1]
    opened = record["events"][0]
    opened["files"] = [
        {"path": f"f{i:03d}.txt", "status": "added", "additions": 1, "deletions": 0, "owners": []}
        for i in range(230)
    ]
    minute = 10
    for i in range(130):
        record["events"].append(
            {
                "type": "check",
                "at": f"2024-01-01T0{minute // 60}:{minute % 60:02d}:00Z",
                "name": f"job-{i:03d}",
                "source": "check_run",
                "state": "success",
                "commit": opened["head"],
            }
        )
        minute += 1
    for i in range(150):
        record["events"].append(
            {
                "type": "comment",
                "at": f"2024-01-0{2 + i // 60}T00:{i % 60:02d}:00Z",
                "by": {"login": "dave", "type": "User", "association": "CONTRIBUTOR",
                       "permission": "none"},
                "body": f"comment {i}",
            }
        )  # fmt: skip
    seed(sim, [record])
    out = tmp_path / "h.jsonl"

    await run(client, out, fake_time)

    _, [got] = written(out)
    assert normalized(got) == expected([record])[0]
    assert len(got["events"][0]["files"]) == 230


async def test_a_spent_rate_limit_is_waited_out_until_its_reset(sim, client, fake_time, tmp_path):
    records = generate(30)
    seed(sim, records)
    sim.exhaust_graphql_rate_limit()
    window = sim.backend.graphql_rates.window(sim.installation_id, fake_time())
    reset = window.reset
    waits = []
    out = tmp_path / "h.jsonl"

    await run(client, out, fake_time, on_wait=lambda s, why: waits.append(why))

    assert waits == ["the rate limit is spent"]
    assert fake_time.now >= reset  # it slept until the reset, and not much longer
    assert fake_time.slept[0] <= reset - 1_700_000_000.0 + 2
    _, got = written(out)
    assert [normalized(r) for r in got] == expected(records)


async def test_the_collector_waits_before_a_query_it_cannot_afford(
    sim, client, fake_time, tmp_path
):
    seed(sim, generate(30))
    window = sim.backend.graphql_rates.window(sim.installation_id, fake_time())
    window.used = window.limit - 2  # two points: the first page (2) and no more
    out = tmp_path / "h.jsonl"

    await run(client, out, fake_time)

    # Nothing was refused: the collector saw `remaining` run out and slept first.
    refused = [r for r in graphql_requests(sim) if r.status != 200]
    assert refused == [] and len(fake_time.slept) == 1
    bodies = [json.loads(line) for line in out.read_text().splitlines()[1:]]
    assert len(bodies) == 30


async def test_a_502_halves_the_page_and_the_collection_goes_on(sim, client, fake_time, tmp_path):
    records = generate(30)
    seed(sim, records)
    sim.fail_next(2, status=502, path="/graphql")
    out = tmp_path / "h.jsonl"

    await run(client, out, fake_time, page_size=20)

    firsts = [
        r.body["variables"]["first"]
        for r in graphql_requests(sim)
        if "CollectPulls" in r.body["query"]
    ]
    assert firsts[:3] == [20, 10, 5]
    assert [r.status for r in graphql_requests(sim)][:3] == [502, 502, 200]
    _, got = written(out)
    assert [normalized(r) for r in got] == expected(records)


class Interrupted(Exception):
    pass


async def test_a_run_interrupted_between_pages_resumes_to_the_same_file(
    sim, client, fake_time, tmp_path
):
    records = generate(50)
    seed(sim, records)
    whole = tmp_path / "whole.jsonl"
    await run(client, whole, fake_time, page_size=10)

    out = tmp_path / "resumed.jsonl"

    def stop_after(pages):
        if pages == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        await run(client, out, fake_time, page_size=10, after_page=stop_after)
    assert not out.exists() and partial_path(out).exists()
    # Killed after writing records the state does not count yet: they are cut off.
    with partial_path(out).open("ab") as handle:
        handle.write(b'{"number": 99999, "half a line')
    before = len(graphql_requests(sim))

    await run(client, out, fake_time, page_size=10)

    assert out.read_bytes() == whole.read_bytes()
    resumed = [r for r in graphql_requests(sim)[before:] if "CollectPulls" in r.body["query"]]
    assert len(resumed) == 3  # pages 3, 4 and 5 only


async def test_a_rerun_fetches_only_what_was_updated_since_and_replaces_it(
    sim, client, fake_time, tmp_path
):
    records = generate(40)
    seed(sim, records)
    out = tmp_path / "h.jsonl"
    await run(client, out, fake_time, page_size=10)
    open_prs = [r["number"] for r in records if r["events"][-1]["type"] not in ("merged", "closed")]
    target = open_prs[0]
    now = datetime(2025, 1, 1, tzinfo=UTC)
    sim.state.clock = lambda: now
    await sim.comment(REPO, target, "dave", "Any news?")
    new = await sim.open_pr(REPO, "erin", "A new one", files=["src/new.py"])
    before = len(graphql_requests(sim))

    summary = await run(client, out, fake_time, page_size=10)

    # The commented one, the new one, and the one updated last before the first run (its
    # second is the watermark: an update within that second could not be told apart).
    assert summary.fetched == 3
    pulls = [r for r in graphql_requests(sim)[before:] if "CollectPulls" in r.body["query"]]
    assert len(pulls) == 1
    _, got = written(out)
    assert [r["number"] for r in got].count(target) == 1 and len(got) == 41
    updated = next(r for r in got if r["number"] == target)
    assert updated["events"][-1]["type"] == "comment"
    assert updated["events"][-1]["body"] == "Any news?"
    assert got[-1]["number"] in (target, new)


async def test_a_file_not_written_by_collect_or_other_filters_are_refused(
    sim, client, fake_time, tmp_path
):
    seed(sim, generate(5))
    other = tmp_path / "mine.jsonl"
    other.write_text("{}\n")
    with pytest.raises(CollectError, match="was not written by collect"):
        await run(client, other, fake_time)
    out = tmp_path / "h.jsonl"
    await run(client, out, fake_time, base="main")
    with pytest.raises(CollectError, match="other filters"):
        await run(client, out, fake_time)
    assert state_path(out).exists()
    with pytest.raises(CollectError, match="no such repository"):
        await collect("acme/nothing", tmp_path / "n.jsonl", client, clock=fake_time)


async def test_since_until_and_limit_select_by_opening_time(sim, client, fake_time, tmp_path):
    records = generate(30)
    seed(sim, records)
    since = datetime(2024, 1, 1, 5, tzinfo=UTC)
    until = datetime(2024, 1, 1, 20, tzinfo=UTC)
    out = tmp_path / "h.jsonl"

    await run(client, out, fake_time, since=since, until=until, page_size=7)

    _, got = written(out)
    wanted = [r for r in records if since <= datetime.fromisoformat(r["created_at"]) < until]
    assert sorted(r["number"] for r in got) == [r["number"] for r in wanted] != []

    limited = tmp_path / "l.jsonl"
    await run(client, limited, fake_time, limit=4, page_size=3)
    _, got = written(limited)
    assert len(got) == 4
    # The next run does not take the limited one for complete: it reads the older ones too.
    await run(client, limited, fake_time, page_size=3)
    _, got = written(limited)
    assert [normalized(r) for r in got] == expected(records)


async def test_a_failure_mid_run_says_to_run_again_and_the_rerun_completes(
    sim, client, fake_time, tmp_path
):
    records = generate(30)
    seed(sim, records)
    out = tmp_path / "h.jsonl"

    def fail_soon(pages):
        if pages == 1:
            sim.fail_next(1, status=500, path="/graphql")

    with pytest.raises(CollectError, match="run the same command again to resume"):
        await run(client, out, fake_time, page_size=10, after_page=fail_soon)
    summary = await run(client, out, fake_time, page_size=10)

    assert summary.written == 20
    _, got = written(out)
    assert [normalized(r) for r in got] == expected(records)


async def test_without_the_collaborators_permissions_come_from_associations(
    sim, client, fake_time, tmp_path, monkeypatch
):
    records = generate(40)
    seed(sim, records)
    # GitHub answers the collaborators query with an error without push access.
    monkeypatch.setattr(queries, "COLLABORATORS", "query { rateLimit { nope } }")
    out = tmp_path / "h.jsonl"

    summary = await run(client, out, fake_time)

    assert summary.permissions == "associations"
    _, got = written(out)
    seen = {
        e["by"]["login"]: e["by"]["permission"]
        for r in got
        for e in r["events"]
        if e["type"] == "review"
    }
    # mallory, a MEMBER who may only read, now reads as write: what associations can say.
    assert seen["mallory"] == "write" and seen["dave"] == "none"


async def test_base_takes_only_the_pull_requests_into_that_branch(sim, client, fake_time, tmp_path):
    records = generate(12)
    for record in records[::4]:
        record["base"] = "release-24.05"
    seed(sim, records)
    out = tmp_path / "release.jsonl"

    await run(client, out, fake_time, base="release-24.05", page_size=2)

    header, got = written(out)
    assert [normalized(r) for r in got] == expected(records[::4])
    assert header["base"] == "release-24.05"


def test_the_time_left_goes_by_the_updates_to_the_stop_time_or_by_githubs_count():
    spending = Spending(points=20, queries=10, remaining=4000, reset_at=5000.0)
    by_count = Progress("o/r", 900, 10_000, spending, 60.0, 1000.0, 1000, 1000)
    assert by_count.seconds_left() == pytest.approx(60.0 * 9)  # 9,000 to go at 1,000 a minute
    line = by_count.line()
    assert line == (
        "collect o/r: 900 PRs of at most 10,000, 20 points spent (4,000 left until the reset),"
        " about 9 min left"
    )
    # An incremental run stops at the last run's newest update: a quarter of the way there in
    # a minute, since this process began at a tenth, is 0.75 / 0.15 minutes to go.
    by_time = Progress("o/r", 50, 10_000, spending, 60.0, 1000.0, 50, 50, 0.25, 0.10)
    assert by_time.seconds_left() == pytest.approx(60.0 * 0.75 / 0.15)
    # Points that will not last until the end add the wait for the reset.
    short = Spending(points=2000, queries=100, remaining=100, reset_at=4600.0)
    waiting = Progress("o/r", 1000, 2000, short, 60.0, 1000.0, 1000, 1000)
    assert waiting.seconds_left() == pytest.approx(60.0 + 3600.0)
