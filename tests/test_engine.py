"""Rule isolation: a rule that raises or hangs yields `error` for itself only."""

import threading
import time

import pytest
from snapshots import make_pr

from shadowbot import checks as c
from shadowbot.core.engine import Engine
from shadowbot.rules import Rule
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import Decision, Verdict

PR = make_pr(number=7, title="hello: 1 -> 2", files=[], ci=[])
STEADY = Rule.from_checks(
    name="steady", version=1, description="not a draft", requires=[c.not_draft()]
)


@Rule.define(name="raises", version=1, description="always raises")
def RAISES(pr: Snapshot) -> Verdict:
    raise ValueError("no such package")


@Rule.define(name="spins", version=1, description="never returns")
def SPINS(pr: Snapshot) -> Verdict:
    while True:
        try:
            pass
        except Exception:  # a rule cannot swallow its own timeout
            pass


@Rule.define(name="sleeps", version=1, description="blocks in a sleep")
def SLEEPS(pr: Snapshot) -> Verdict:
    time.sleep(60)
    return Verdict.hold(())


@Rule.define(name="wrong-type", version=1, description="returns no verdict")
def WRONG_TYPE(pr: Snapshot) -> Verdict:
    return "merge"  # type: ignore[return-value]


def decisions(results):
    return {rule.name: verdict for rule, verdict in results}


def test_a_raising_rule_is_an_error_with_the_exception_summary():
    with Engine([RAISES, STEADY, WRONG_TYPE]) as engine:
        verdicts = decisions(engine.evaluate(PR))
    assert verdicts["raises"].decision is Decision.ERROR
    assert verdicts["raises"].reason == "ValueError: no such package"
    assert verdicts["wrong-type"].reason == "TypeError: returned str, not a Verdict"
    assert verdicts["steady"].decision is Decision.MERGE


@pytest.mark.parametrize("hanging", [SPINS, SLEEPS], ids=["busy loop", "blocking sleep"])
def test_a_hanging_rule_times_out_without_stalling_the_others(hanging):
    started = time.monotonic()
    with Engine([hanging, STEADY], timeout=0.2) as engine:
        verdicts = decisions(engine.evaluate(PR))
        again = decisions(engine.evaluate(PR))
    elapsed = time.monotonic() - started
    assert verdicts[hanging.name].decision is Decision.ERROR
    assert verdicts[hanging.name].reason == "ran out of time (0.2 s)"
    assert verdicts["steady"].decision is Decision.MERGE
    assert again == verdicts  # the engine stays usable after an interruption
    assert elapsed < 5


def test_a_busy_rule_in_a_worker_thread_times_out_too():
    results = {}

    def work():
        with Engine([SPINS, STEADY], timeout=0.2) as engine:
            results.update(decisions(engine.evaluate(PR)))

    worker = threading.Thread(target=work)
    worker.start()
    worker.join(timeout=10)
    assert not worker.is_alive()
    assert results["spins"].decision is Decision.ERROR
    assert results["steady"].decision is Decision.MERGE


def test_rules_run_in_name_order_whatever_order_they_came_in():
    with Engine([STEADY, RAISES, SPINS], timeout=0.1) as engine:
        assert [rule.name for rule in engine.rules] == ["raises", "spins", "steady"]
