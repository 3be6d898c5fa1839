"""A rule that hangs or keeps failing is quarantined: it costs the backtest little, and the
report names the PRs where it failed."""

import io
import json
import time
from pathlib import Path

import pytest
from histories import WRITER, check, merged, opened, record, review, write_history

from shadowbot import checks as c
from shadowbot.core.engine import Engine
from shadowbot.errors import HistoryError
from shadowbot.offline.backtest import Backtest
from shadowbot.offline.compare import compare_command
from shadowbot.offline.explain import explain_command
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.report import Progress
from shadowbot.offline.run import backtest_command
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import Verdict

BUNDLED_HISTORY = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"
SETTINGS = load_settings({})
LOOSE = Rule.from_checks(
    name="loose", version=1, description="any approval", requires=[c.approved_by_anyone(1)]
)


@Rule.define(name="hang", version=1, description="never returns")
def HANG(pr: Snapshot) -> Verdict:
    while True:
        pass


@Rule.define(name="broken", version=1, description="always raises")
def BROKEN(pr: Snapshot) -> Verdict:
    raise KeyError("maintainers")


@Rule.define(name="odd", version=1, description="raises on odd PRs, else merges")
def ODD(pr: Snapshot) -> Verdict:
    if pr.number % 2:
        raise ValueError(f"odd PR {pr.number}")
    return Verdict.merge(())


@Rule.define(name="hangs-on-two", version=1, description="hangs on PR #2 only")
def HANGS_ON_TWO(pr: Snapshot) -> Verdict:
    while pr.number == 2:
        pass
    return Verdict.merge(())


@Rule.define(name="slow", version=1, description="thinks 30 ms, then merges")
def SLOW(pr: Snapshot) -> Verdict:
    until = time.perf_counter() + 0.03
    while time.perf_counter() < until:
        pass
    return Verdict.merge(())


def clean_merge(n):
    """A PR replayed in three snapshots (opened, check, review), then merged."""
    at = n * 100
    return record(
        n,
        opened(at),
        check(at + 5, "a1"),
        review(at + 10, WRITER, "APPROVED", "a1"),
        merged(at + 20, "a1"),
    )


def run(tmp_path, rules, prs=6, timeout=1.0, **options):
    path = write_history(tmp_path / "h.jsonl", *(clean_merge(n) for n in range(1, prs + 1)))
    with Engine(rules, timeout=timeout) as engine:
        backtest = Backtest(engine, SETTINGS.backtest_policy(), SETTINGS.thresholds_for, **options)
        for r in HistoryReader(path):
            backtest.add(r)
    return {report.rule.name: report for report in backtest.summary()}


def test_a_rule_raising_on_every_pr_is_quarantined_after_max_errors_prs(tmp_path):
    reports = run(tmp_path, [BROKEN, LOOSE], max_errors=3)
    broken = reports["broken"]
    # Errors count PRs: three snapshots of one PR are one failed PR.
    assert broken.error_prs == 3 and broken.record.errors == 9
    assert broken.failed == [(n, "KeyError: 'maintainers'") for n in (1, 2, 3)]
    assert broken.quarantined is not None and broken.quarantined.pr == 3
    assert broken.quarantined.reason == "failed on 3 PRs"
    assert broken.judged == 3
    # The other rule is judged on every PR.
    assert reports["loose"].judged == 6 and reports["loose"].record.wins == 6


@pytest.mark.parametrize("max_errors, judged", [(1, 1), (5, 5), (None, 6)])
def test_max_errors_is_configurable_and_none_never_quarantines(tmp_path, max_errors, judged):
    broken = run(tmp_path, [BROKEN], max_errors=max_errors)["broken"]
    assert broken.judged == judged and broken.error_prs == judged
    assert (broken.quarantined is None) == (max_errors is None)


def test_a_rule_failing_now_and_then_keeps_its_claims_until_quarantined(tmp_path):
    odd = run(tmp_path, [ODD], max_errors=3)["odd"]
    # It failed on #1, #3 and #5 and won #2 and #4; quarantined at #5, #6 is not judged.
    assert [pr for pr, _ in odd.failed] == [1, 3, 5]
    assert odd.record.wins == 2 and odd.judged == 5
    assert odd.quarantined is not None and odd.quarantined.pr == 5


def test_a_rule_that_runs_out_of_time_is_quarantined_at_once_and_not_retried(tmp_path):
    started = time.monotonic()
    reports = run(tmp_path, [HANGS_ON_TWO, LOOSE], timeout=0.3)
    elapsed = time.monotonic() - started
    hangs = reports["hangs-on-two"]
    # One evaluation on PR #2 ran out of time: not its two later snapshots, nor any PR after.
    assert hangs.record.errors == 1 and hangs.timeout_prs == 1
    assert hangs.failed == [(2, "ran out of time (0.3 s)")]
    assert hangs.quarantined is not None and hangs.quarantined.pr == 2
    assert hangs.quarantined.reason == "ran out of time on 1 PR"
    assert hangs.record.wins == 1 and hangs.judged == 2
    assert reports["loose"].record.wins == 6
    assert elapsed < 0.3 * 3


def test_more_timeouts_can_be_allowed_and_each_costs_one_evaluation(tmp_path):
    hang = run(tmp_path, [HANG], timeout=0.1, max_timeouts=2, max_errors=None)["hang"]
    assert hang.record.errors == 2 and hang.timeout_prs == 2 and hang.judged == 2


def bundled_backtest(rules, progress=None):
    """The CPU time of a backtest of the bundled history, and its output. CPU time, not
    the clock: other processes on a shared machine do not count, and the hanging rule
    spins (it costs its time budget in CPU as much as on the clock)."""
    started = time.process_time()
    out = backtest_command(HistoryReader(BUNDLED_HISTORY), rules, SETTINGS, progress=progress)
    return time.process_time() - started, out


def test_the_bundled_history_with_a_hanging_rule_takes_under_twice_as_long():
    rules = load_rules(bundled_path("rules"))
    normal, alone = bundled_backtest(rules, Progress(io.StringIO(), True))
    bar = io.StringIO()
    slowed, together = bundled_backtest([*rules, HANG], Progress(bar, True))
    # Each of its evaluations would cost the 1 s budget; quarantined, it costs one.
    assert normal + 0.5 < slowed < 2 * normal, (normal, slowed)
    # The bar named it while it hung, and says it is quarantined.
    drawn = bar.getvalue().split("\r")
    assert any("slowed by hang@1" in line for line in drawn)
    assert "quarantined: hang@1" in drawn[-1]
    table = together.split("\n\n")[0].splitlines()
    hang = next(line.split() for line in table if line.startswith("hang "))
    assert hang[-2:] == ["-", "quarantined"] and hang[-3] == "1"  # one error-PR
    # The other rules' rows are those of the run without it.
    assert [row for row in table if not row.startswith("hang ")] == alone.split("\n\n")[
        0
    ].splitlines()
    assert "hang: quarantined at PR #" in together
    assert "(ran out of time on 1 PR): its record covers 1 of 10000 PRs" in together


def test_the_json_report_lists_failed_prs_and_the_quarantine(tmp_path):
    path = write_history(tmp_path / "h.jsonl", *(clean_merge(n) for n in range(1, 5)))
    out = backtest_command(HistoryReader(path), [BROKEN, LOOSE], SETTINGS, fmt="json", max_errors=2)
    report = {r["rule"]: r for r in json.loads(out)["rules"]}
    broken = report["broken"]
    assert broken["errors"] == 2 and broken["error_evaluations"] == 6
    assert broken["failed"] == [
        {"pr": 1, "reason": "KeyError: 'maintainers'"},
        {"pr": 2, "reason": "KeyError: 'maintainers'"},
    ]
    assert broken["quarantined"] == {"pr": 2, "reason": "failed on 2 PRs"}
    assert broken["judged"] == 2 and report["loose"]["judged"] == 4
    assert report["loose"]["errors"] == 0 and report["loose"]["quarantined"] is None


def test_the_progress_bar_names_a_slow_rule_and_a_quarantined_one(tmp_path):
    path = write_history(tmp_path / "h.jsonl", *(clean_merge(n) for n in range(1, 4)))
    stream = io.StringIO()
    backtest_command(
        HistoryReader(path),
        [SLOW, BROKEN, LOOSE],
        SETTINGS,
        progress=Progress(stream, True),
        max_errors=1,
    )
    last = stream.getvalue().rsplit("\r", 1)[-1]
    assert last.startswith("[##############################] 100%  3 PRs")
    assert "slowed by slow@1" in last and "quarantined: broken@1" in last


def test_the_progress_bar_names_no_rule_when_none_stands_out(tmp_path):
    path = write_history(tmp_path / "h.jsonl", *(clean_merge(n) for n in range(1, 4)))
    stream = io.StringIO()
    backtest_command(HistoryReader(path), [LOOSE], SETTINGS, progress=Progress(stream, True))
    assert "slowed by" not in stream.getvalue() and "quarantined" not in stream.getvalue()


@pytest.mark.parametrize("command", ["backtest", "explain", "compare"])
def test_a_history_without_records_is_one_clear_error(tmp_path, command):
    reader = HistoryReader(write_history(tmp_path / "empty.jsonl"))
    run_it = {
        "backtest": lambda: backtest_command(reader, [LOOSE], SETTINGS),
        "explain": lambda: explain_command(reader, [LOOSE], "loose", SETTINGS),
        "compare": lambda: compare_command(reader, [LOOSE], [LOOSE], SETTINGS),
    }[command]
    with pytest.raises(HistoryError) as caught:
        run_it()
    expected = (
        f"{tmp_path / 'empty.jsonl'}: no pull request record after the header: nothing to judge"
    )
    assert str(caught.value) == expected
