"""``collect --files-per-head`` end to end against the simulator: each head's files, read with
GitHub's REST compare from the base commit, are written on its ``opened`` or ``push`` event,
and a rename's previous path (from ``GET /pulls/{n}/files``) on the files now; the records
are the ones seeded, the backtest reads them, and the REST requests are one per head but
the last plus a page of files per pull request with a rename. Without the option the history
is as before and no REST request is sent."""

import argparse
import copy
import json
import random
from collections import Counter

import aiohttp
import pytest
from collect_history import (
    CODEOWNERS,
    PATHS,
    REPO,
    expected,
    generate,
    normalized,
    owners_of,
    seeded,
)
from collect_sim import FakeTime, client_fixture, sim_fixture, time_fixture  # noqa: F401

from shadowbot.core.engine import Engine
from shadowbot.github.client import GitHubClient
from shadowbot.metrics import Metrics
from shadowbot.offline.collect import collect
from shadowbot.offline.collect_command import add_collect_arguments
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.run import judge_history, new_backtest
from shadowbot.resources import bundled_path
from shadowbot.rules import load_rules
from shadowbot.settings import load_settings
from shadowbot.simulator import Simulator
from shadowbot.simulator.graphql_seed import seed_history


def _file(rng, path, status=None):
    file = {
        "path": path,
        "status": status or rng.choice(["modified", "added", "removed"]),
        "additions": rng.randint(0, 40),
        "deletions": rng.randint(0, 9),
        "owners": owners_of(path, 0),
    }
    return file


def _renamed(rng, old, new):
    file = _file(rng, new, "renamed")
    file["previous_path"] = old
    file["previous_owners"] = owners_of(old, 0)
    return file


def with_files_per_head(records, seed=11):
    """The records with files of their own on every push, and renames: at an earlier head,
    at the last head, or both; one pull request's last head has 230 files, a rename among
    the last of them (three pages of ``GET /pulls/{n}/files``)."""
    rng = random.Random(seed)
    out = copy.deepcopy(records)
    for record in out:
        n = record["number"]
        for event in record["events"]:
            if event["type"] != "push":
                continue
            paths = rng.sample(PATHS, rng.randint(1, 3))
            files = [_file(rng, path) for path in paths]
            if rng.random() < 0.3:
                files.append(_renamed(rng, f"lib/old{n}.py", f"src/moved{n}.py"))
            event["files"] = files
        if rng.random() < 0.25:  # the files now: a rename on the last head
            heads = [e for e in record["events"] if e["type"] in ("opened", "push")]
            last = heads[-1]
            last["files"] = [
                *last["files"],
                _renamed(rng, f"docs/old{n}.md", f"docs/new{n}.md"),
            ]
    big = next(r for r in out if sum(e["type"] == "push" for e in r["events"]) >= 1)
    last = [e for e in big["events"] if e["type"] in ("opened", "push")][-1]
    last["files"] = [_file(rng, f"src/many/{i}.py", "added") for i in range(228)]
    last["files"] += [_renamed(rng, "src/gear.py", "src/cog.py"), _file(rng, "README.md")]
    return out


def heads_of(record):
    found = []
    for event in record["events"]:
        if event["type"] in ("opened", "push") and event["head"] not in found:
            found.append(event["head"])
    return found


def has_rename(record):
    last = [e for e in record["events"] if e["type"] in ("opened", "push")][-1]
    return any(f["status"] == "renamed" for f in last["files"])


def files_now_only(record):
    """A record as collect writes it without --files-per-head: the last head's files on
    ``opened``, none on a push, no previous paths."""
    out = copy.deepcopy(record)
    heads = [e for e in out["events"] if e["type"] in ("opened", "push")]
    now = [
        {k: v for k, v in f.items() if k not in ("previous_path", "previous_owners")}
        for f in heads[-1]["files"]
    ]
    for event in heads:
        event.pop("files", None)
    heads[0]["files"] = now
    return out


def seed(sim, records):
    sim.set_codeowners(REPO, CODEOWNERS[0])
    seed_history(sim.state, REPO, seeded(records))


def written(path):
    lines = path.read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines[1:]]


def rest_requests(sim, part):
    return [r for r in sim.requests if r.path != "/graphql" and part in r.path]


async def run(client, out, fake_time, **options):
    return await collect(REPO, out, client, clock=fake_time, sleep=fake_time.sleep, **options)


async def test_each_heads_files_and_the_renames_previous_paths_are_what_github_holds(
    sim, client, fake_time, tmp_path
):
    records = with_files_per_head(generate(60))
    assert sum(len(heads_of(r)) > 2 for r in records) > 3
    seed(sim, records)
    out = tmp_path / "widgets.jsonl"

    summary = await run(client, out, fake_time, page_size=25, files_per_head=True)

    got = written(out)
    assert [normalized(r) for r in got] == expected(records)
    # And as the simulator holds them: each head's files, the files now on the last head.
    repo = sim.state.repo(REPO)
    for record in got:
        pr = repo.pulls[record["number"]]
        for event in record["events"]:
            if event["type"] not in ("opened", "push"):
                continue
            held = pr.files if event["head"] == pr.head_sha else repo.commit_files[event["head"]]
            assert [
                (f["path"], f["status"], f["additions"], f["deletions"], f.get("previous_path"))
                for f in event["files"]
            ] == [
                (c.filename, c.status, c.additions, c.deletions, c.previous_filename) for c in held
            ]
    renames = [
        f for r in got for e in r["events"] for f in e.get("files", ()) if f["status"] == "renamed"
    ]
    assert len(renames) > 10 and all(f["previous_path"] for f in renames)
    assert {"path": "src/cog.py", "previous_path": "src/gear.py"}.items() <= next(
        f for f in renames if f["path"] == "src/cog.py"
    ).items()

    # The REST requests: a compare per head but the last, a page of files per 100 files
    # of a pull request with a rename now; counted in the summary too.
    compares = rest_requests(sim, "/compare/")
    pages = rest_requests(sim, "/files")
    per_pr = Counter(int(r.path.rsplit("...", 1)[1][:4]) for r in compares)
    assert per_pr == {r["number"]: len(heads_of(r)) - 1 for r in records if len(heads_of(r)) > 1}
    assert all(r.query == {"per_page": "1"} for r in compares)
    with_rename = [r for r in records if has_rename(r)]
    assert len(pages) == len(with_rename) + 2  # the one of 230 files takes three pages
    assert summary.spending.rest_requests == len(compares) + len(pages)
    assert all(r.status == 200 for r in compares + pages)

    errors = []
    settings = load_settings({})
    with Engine(load_rules(bundled_path("rules")), settings.rule_timeout) as engine:
        backtest = new_backtest(engine, settings)
        judge_history(HistoryReader(out, on_error=errors.append), engine, [backtest])
    assert errors == [] and backtest.records == 60


async def test_without_the_option_the_history_is_as_before_and_no_rest_request_is_sent(
    sim, client, fake_time, tmp_path
):
    records = with_files_per_head(generate(30))
    seed(sim, records)
    out = tmp_path / "widgets.jsonl"

    summary = await run(client, out, fake_time)

    assert [normalized(r) for r in written(out)] == expected([files_now_only(r) for r in records])
    assert [r for r in sim.requests if r.path != "/graphql"] == []
    assert summary.spending.rest_requests == 0


async def test_an_interrupted_run_with_the_option_resumes_to_the_same_file(
    sim, client, fake_time, tmp_path
):
    records = with_files_per_head(generate(50))
    seed(sim, records)
    whole, cut = tmp_path / "whole.jsonl", tmp_path / "cut.jsonl"
    await run(client, whole, fake_time, page_size=20, files_per_head=True)

    class Stop(Exception):
        pass

    def stop(pages):
        raise Stop

    with pytest.raises(Stop):
        await run(client, cut, fake_time, page_size=20, files_per_head=True, after_page=stop)
    # A compare answered 502 is read again (the client retries a read).
    fault = sim.fail_next(1, status=502, method="GET", path="/repos/*/compare/*")
    await run(client, cut, fake_time, page_size=20, files_per_head=True)

    assert fault.remaining == 0
    assert cut.read_bytes() == whole.read_bytes()


async def test_a_head_github_no_longer_has_gives_no_files_and_the_run_goes_on(
    sim, client, fake_time, tmp_path
):
    records = with_files_per_head(generate(12))
    seed(sim, records)
    sim.fail_next(1, status=404, method="GET", path="/repos/*/compare/*")
    out = tmp_path / "widgets.jsonl"

    await run(client, out, fake_time, files_per_head=True)

    gone = rest_requests(sim, "/compare/")[0].path.rsplit("...", 1)[1]
    got = {r["number"]: r for r in written(out)}
    assert len(got) == 12
    record = next(r for r in got.values() if gone in heads_of(r))
    event = next(e for e in record["events"] if e.get("head") == gone)
    heads = [e for e in record["events"] if e["type"] in ("opened", "push")]
    if event["type"] == "push":
        assert "files" not in event  # the files before it stand
    else:  # the opening keeps the files now
        assert event["files"] == heads[-1]["files"]


async def test_a_spent_rest_budget_is_waited_out_until_its_reset(app_key_pem, tmp_path):
    fake_time = FakeTime()
    async with Simulator.running(private_key_pem=app_key_pem, token_ttl=10**8, rate_limit=5) as sim:
        sim.backend.clock = fake_time
        records = with_files_per_head(generate(30))
        seed(sim, records)
        waits = []
        async with aiohttp.ClientSession() as session:
            client = GitHubClient(
                session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token()
            )
            summary = await run(
                client,
                tmp_path / "widgets.jsonl",
                fake_time,
                files_per_head=True,
                on_wait=lambda seconds, why: waits.append(why),
            )
        rest = [r for r in sim.requests if r.path != "/graphql"]
    assert summary.spending.rest_requests == len(rest) > 10
    assert all(r.status == 200 for r in rest)  # never refused: it waited before
    assert waits.count("the REST rate limit is spent") == (len(rest) - 1) // 5
    assert summary.spending.waited >= 3600 * ((len(rest) - 1) // 5)


def test_the_option_is_off_by_default_and_its_help_says_the_rest_cost(capsys):
    parser = argparse.ArgumentParser(prog="shadowbot collect")
    add_collect_arguments(parser)
    assert parser.parse_args([REPO, "--out", "h.jsonl"]).files_per_head is False
    assert parser.parse_args([REPO, "--out", "h.jsonl", "--files-per-head"]).files_per_head
    parser.print_help()
    text = " ".join(capsys.readouterr().out.split())
    assert "--files-per-head" in text and "REST" in text and "default off" in text
