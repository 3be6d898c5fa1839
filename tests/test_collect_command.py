"""The collect command: its arguments, its credentials, and `shadowbot collect` as a process
killed with SIGKILL mid-run, which resumes to the very file an uninterrupted run writes."""

import argparse
import asyncio
import json
import os
import signal
import sys

import pytest
from collect_history import CODEOWNERS, REPO, generate, seeded

from shadowbot.offline.collect import CollectError, partial_path, state_path
from shadowbot.offline.collect_command import (
    add_collect_arguments,
    authenticated_client,
    run_collect,
)
from shadowbot.settings import load_settings
from shadowbot.simulator import Simulator
from shadowbot.simulator.graphql_seed import seed_history


def parser():
    built = argparse.ArgumentParser(prog="shadowbot collect")
    add_collect_arguments(built)
    return built


def test_arguments_dates_in_utc_and_bad_values_exit_2(capsys):
    args = parser().parse_args(
        [REPO, "--out", "h.jsonl", "--since", "2024-03-01", "--until", "2024-04-01T12:00:00Z"]
    )
    assert args.since.isoformat() == "2024-03-01T00:00:00+00:00"
    assert args.until.isoformat() == "2024-04-01T12:00:00+00:00"
    assert args.page_size == 100 and args.limit is None and args.base is None
    for bad in (["--since", "March"], ["--limit", "0"], ["--page-size", "x"]):
        with pytest.raises(SystemExit) as exit_:
            parser().parse_args([REPO, "--out", "h.jsonl", *bad])
        assert exit_.value.code == 2
    assert "not a date or time: 'March'" in capsys.readouterr().err


async def test_without_a_token_or_the_apps_key_it_says_what_to_set(monkeypatch):
    monkeypatch.delenv("GITHUB_TOKEN", raising=False)
    with pytest.raises(CollectError, match="no credentials: set GITHUB_TOKEN"):
        await authenticated_client(None, load_settings({}), REPO)


@pytest.mark.parametrize("token", ["t", ""])
def test_bad_repository_and_filters_are_one_line_errors(tmp_path, monkeypatch, token):
    monkeypatch.setenv("GITHUB_TOKEN", token)
    settings = load_settings({"SHADOWBOT_GITHUB_API_URL": "http://127.0.0.1:9"})
    for argv, message in (
        (["acme", "--out", str(tmp_path / "a")], "not an owner/name repository"),
        (
            [REPO, "--out", str(tmp_path / "b"), "--since", "2024-02-01", "--until", "2024-01-01"],
            "--since must be before --until",
        ),
        ([REPO, "--out", str(tmp_path)], "is a directory"),
    ):
        with pytest.raises(CollectError, match=message):
            run_collect(settings, parser().parse_args(argv))


@pytest.fixture
async def sim(app_key_pem):
    async with Simulator.running(private_key_pem=app_key_pem, token_ttl=10**6) as simulator:
        simulator.set_codeowners(REPO, CODEOWNERS[0])
        seed_history(simulator.state, REPO, seeded(generate(400)))
        yield simulator


async def collect_process(sim, out, *extra):
    env = {
        **os.environ,
        "GITHUB_TOKEN": sim.create_token(),
        "SHADOWBOT_GITHUB_API_URL": sim.url,
    }
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "shadowbot",
        "collect",
        REPO,
        "--out",
        str(out),
        "--page-size",
        "5",
        *extra,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )


async def until_pages_are_in(partial):
    """Until a few pages are in the partial file (the run is well under way)."""
    for _ in range(3000):
        if partial.exists() and partial.stat().st_size > 20_000:
            return
        await asyncio.sleep(0.01)


async def test_killed_mid_run_it_resumes_to_the_file_an_uninterrupted_run_writes(sim, tmp_path):
    whole = tmp_path / "whole.jsonl"
    process = await collect_process(sim, whole)
    stdout, stderr = await process.communicate()
    assert process.returncode == 0, stderr.decode()
    assert f"{whole}: 400 pull requests (400 written this run" in stdout.decode()
    assert "collect acme/widgets: 400 PRs of at most 400" in stderr.decode()

    out = tmp_path / "killed.jsonl"
    process = await collect_process(sim, out)
    await until_pages_are_in(partial_path(out))
    process.send_signal(signal.SIGKILL)
    await process.wait()
    assert process.returncode == -signal.SIGKILL
    assert not out.exists() and state_path(out).exists()

    process = await collect_process(sim, out)
    stdout, stderr = await process.communicate()

    assert process.returncode == 0, stderr.decode()
    assert out.read_bytes() == whole.read_bytes()
    written = int(stdout.decode().split("(")[1].split()[0])
    assert 0 < written < 400  # the rerun went on from where the killed one stopped

    # Ctrl-C: exit 130, saying how to go on; going on gives the same file again.
    out = tmp_path / "interrupted.jsonl"
    process = await collect_process(sim, out)
    await until_pages_are_in(partial_path(out))
    process.send_signal(signal.SIGINT)
    stdout, stderr = await process.communicate()
    assert process.returncode == 130
    assert f"interrupted: run the same command again to resume {out}" in stderr.decode()
    process = await collect_process(sim, out)
    await process.communicate()
    assert out.read_bytes() == whole.read_bytes()


async def test_files_per_head_says_its_rest_requests(sim, tmp_path):
    out = tmp_path / "widgets.jsonl"
    process = await collect_process(sim, out, "--files-per-head")
    stdout, stderr = await process.communicate()

    assert process.returncode == 0, stderr.decode()
    compares = [r for r in sim.requests if "/compare/" in r.path]
    assert compares and len(compares) == len([r for r in sim.requests if r.path != "/graphql"])
    assert stdout.decode().rstrip().endswith(f", {len(compares)} REST requests")
    assert f"{len(compares)} REST requests" in stderr.decode().splitlines()[-1]
    pushes = [e for line in out.read_text().splitlines()[1:] for e in json.loads(line)["events"]]
    assert sum("files" in e for e in pushes if e["type"] == "push") > 0


async def test_without_a_token_it_collects_as_the_apps_installation(app_key_pem, tmp_path):
    """No GITHUB_TOKEN: the app's id and key (its settings) sign a JWT, GitHub names the
    installation on the repository, and its token reads the history. A repository the app
    is not installed on is a one-line error, exit 2."""
    records = generate(30)
    async with Simulator.running(private_key_pem=app_key_pem) as sim:
        sim.set_codeowners(REPO, CODEOWNERS[0])
        seed_history(sim.state, REPO, seeded(records))
        env = {
            key: value
            for key, value in os.environ.items()
            if key != "GITHUB_TOKEN" and not key.startswith("SHADOWBOT_")
        }
        env.update(
            SHADOWBOT_GITHUB_API_URL=sim.url,
            SHADOWBOT_APP_ID=str(sim.app_id),
            SHADOWBOT_PRIVATE_KEY=app_key_pem,
        )

        async def shadowbot_collect(repository, out):
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "shadowbot", "collect", repository, "--out", str(out),
                env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )  # fmt: skip
            stdout, stderr = await process.communicate()
            return process.returncode, stdout.decode(), stderr.decode()

        out = tmp_path / "widgets.jsonl"
        code, stdout, stderr = await shadowbot_collect(REPO, out)

        assert code == 0, stderr
        assert f"{out}: 30 pull requests (30 written this run" in stdout
        header, *lines = out.read_text(encoding="utf-8").splitlines()
        assert len(lines) == 30 and f'"repository":"{REPO}"' in header.replace(" ", "")
        calls = [(r.method, r.path, r.installation_id, r.status) for r in sim.requests]
        assert calls[:2] == [
            ("GET", f"/repos/{REPO}/installation", None, 200),
            ("POST", f"/app/installations/{sim.installation_id}/access_tokens", None, 201),
        ]
        graphql = [call for call in calls if call[1] == "/graphql"]
        assert graphql and {call[2:] for call in graphql} == {(sim.installation_id, 200)}

        code, stdout, stderr = await shadowbot_collect("acme/gadgets", tmp_path / "g.jsonl")
        assert code == 2 and stdout == ""
        assert stderr.strip() == (
            "shadowbot: error: the app is not installed on acme/gadgets, or cannot see it"
            " (GitHub answered 404); or set GITHUB_TOKEN"
        )
