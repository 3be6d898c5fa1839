"""A backtest on several processes gives exactly what one process gives.

The history is cut in shards judged by forked processes and folded back in the order of
its lines (shadowbot.offline.shards): the table, the JSON (tallies, the PR at which a
rule would have been disabled, errors, quarantine, skipped lines, path warnings) and the
warnings about malformed lines must be those of a single process.
"""

from __future__ import annotations

import gzip
import io
import json
import time
from pathlib import Path

import pytest

from shadowbot import checks as c
from shadowbot.errors import HistoryError
from shadowbot.offline import shards
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.report import Progress
from shadowbot.offline.run import backtest_command
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import Verdict

BUNDLED_HISTORY = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"


@Rule.define(name="flaky", version=1, description="raises on some second reviews")
def FLAKY(pr: Snapshot) -> Verdict:
    if len(pr.reviews) == 2 and pr.number % 11 == 0:
        raise ValueError(f"second review on {pr.number}")
    return Verdict.merge(()) if pr.approvers_on_head else Verdict.hold(())


@Rule.define(name="hang-late", version=1, description="hangs on PRs after the 6000th line")
def HANG_LATE(pr: Snapshot) -> Verdict:
    while pr.number % 997 == 0:
        pass
    return Verdict.skip("not hanging")


# A directory named without its trailing slash: warned about, with the first path below it.
NO_SLASH = Rule.from_checks(
    name="no-slash",
    version=1,
    description="scoped to a directory without its slash",
    applies_when=[c.only_touches("pkgs/by-name")],
    requires=[c.approved_by_anyone(1)],
)


@pytest.fixture(scope="module")
def history(tmp_path_factory) -> Path:
    """The bundled history with malformed and blank lines among its records."""
    lines = gzip.decompress(BUNDLED_HISTORY.read_bytes()).splitlines(keepends=True)
    out = [lines[0]]
    for i, line in enumerate(lines[1:]):
        if i in (5, 1700, 5555):
            out.append(b'{"number": "not a number"}\n')
        if i == 3000:
            out.append(b"\n")
        out.append(line)
    path = tmp_path_factory.mktemp("h") / "history.jsonl"
    path.write_bytes(b"".join(out))
    return path


def run(history: Path, jobs: int, fmt: str = "json", max_errors: int | None = 3, **settings):
    rules = [*load_rules(bundled_path("rules")), FLAKY, HANG_LATE, NO_SLASH]
    warnings: list[str] = []
    reader = HistoryReader(history, on_error=lambda error: warnings.append(str(error)))
    text = backtest_command(
        reader,
        rules,
        load_settings({"rule_timeout": 0.05, **settings}),
        fmt,  # type: ignore[arg-type]
        max_errors=max_errors,
        jobs=jobs,
    )
    return text, warnings


def without_time(text: str, fmt: str) -> object:
    if fmt == "json":
        data = json.loads(text)
        data.pop("seconds")
        return data
    return text.rsplit(" backtested in ", 1)[0]


@pytest.mark.parametrize("fmt", ["json", "table"])
def test_two_and_three_processes_give_what_one_gives(history, fmt):
    one, warned_one = run(history, 1, fmt)
    for jobs in (2, 3):
        many, warned_many = run(history, jobs, fmt)
        assert without_time(many, fmt) == without_time(one, fmt)
        assert warned_many == warned_one
    if fmt == "json":
        data = json.loads(one)
        rules = {r["rule"].split("@")[0]: r for r in data["rules"]}
        assert data["skipped_lines"] == 3 and len(warned_one) == 3
        assert rules["flaky"]["quarantined"] and rules["hang-late"]["quarantined"]
        assert data["path_warnings"]


def test_without_a_quarantine_the_shards_agree_too(history):
    # Every error counted, none stopping a rule: the fold adds up every shard's errors.
    one, _ = run(history, 1, max_errors=None, rule_timeout=5.0)
    two, _ = run(history, 2, max_errors=None, rule_timeout=5.0)
    assert without_time(two, "json") == without_time(one, "json")


def test_a_hanging_rule_costs_the_shards_one_budget_each(history):
    started = time.monotonic()
    run(history, 2)
    # Each shard quarantines the hanging rule at its own first timeout (0.05 s).
    assert time.monotonic() - started < 30


def test_strict_stops_at_the_same_line(history):
    errors = []
    for jobs in (1, 2):
        reader = HistoryReader(history, strict=True)
        rules = load_rules(bundled_path("rules"))
        with pytest.raises(HistoryError) as caught:
            backtest_command(reader, rules, load_settings({}), jobs=jobs)
        errors.append(str(caught.value))
    assert errors[0] == errors[1] and "line 7" in errors[0]


def test_a_history_with_no_valid_record_is_refused_alike(tmp_path):
    path = tmp_path / "bad.jsonl"
    header = b'{"shadowbot_history": 1, "repository": "o/r"}\n'
    path.write_bytes(header + b"[]\n" * 3)
    messages = []
    for jobs in (1, 2):
        with pytest.raises(HistoryError) as caught:
            backtest_command(
                HistoryReader(path), load_rules(bundled_path("rules")), load_settings({}), jobs=jobs
            )
        messages.append(str(caught.value))
    assert messages[0] == messages[1] and "no line is a pull request record" in messages[0]


def test_small_batches_interleave_every_shard(history, monkeypatch):
    # Batches of 7 lines: every shard's results are folded in between the others' many
    # times, and the result is still the single process's.
    monkeypatch.setattr(shards, "BATCH", 7)
    one, _ = run(history, 1)
    two, _ = run(history, 2)
    assert without_time(two, "json") == without_time(one, "json")


def test_the_progress_bar_never_goes_back(history):
    stream = io.StringIO()
    progress = Progress(stream=stream, enabled=True)
    reader = HistoryReader(history)
    backtest_command(
        reader, load_rules(bundled_path("rules")), load_settings({}), "table", progress, jobs=2
    )
    shown = [
        int(part.split("%")[0].split()[-1]) for part in stream.getvalue().split("\r") if "%" in part
    ]
    assert shown == sorted(shown) and shown[-1] == 100
