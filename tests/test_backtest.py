"""Backtest semantics (DESIGN.md, "Backtest") on hand-written timelines."""

import pytest
from histories import (
    OTHER_WRITER,
    OUTSIDER,
    WRITER,
    check,
    closed,
    merged,
    opened,
    push,
    record,
    reverted,
    review,
    write_history,
)

from shadowbot import checks as c
from shadowbot.core.engine import Engine
from shadowbot.core.ledger import RuleState, Thresholds
from shadowbot.offline.backtest import Backtest
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.report import backtest_as_text
from shadowbot.rules import Rule
from shadowbot.settings import load_settings

LOOSE = Rule.from_checks(
    name="loose", version=1, description="any approval", requires=[c.approved_by_anyone(1)]
)
CAREFUL = Rule.from_checks(
    name="careful",
    version=1,
    description="a writer's approval and green checks",
    applies_when=[c.only_touches("pkgs/")],
    requires=[c.approved_by_writers(1), c.checks_green(), c.no_changes_requested()],
)


@Rule.define(name="broken", version=1, description="always raises")
def BROKEN(pr):
    raise RuntimeError("bug in the rule")


DEFAULTS = Thresholds()


def run(tmp_path, *records, rules=(LOOSE, CAREFUL), thresholds=DEFAULTS):
    path = write_history(tmp_path / "h.jsonl", *records)
    settings = load_settings({})
    with Engine(rules, timeout=1.0) as engine:
        backtest = Backtest(engine, settings.backtest_policy(), lambda name: thresholds)
        for r in HistoryReader(path):
            backtest.add(r)
    return {report.rule.name: report.record for report in backtest.summary()}


def counts(record):
    return {
        k: getattr(record, k)
        for k in ("claims", "wins", "losses", "neutral", "closed_unmerged", "pending", "missed")
        if getattr(record, k)
    }


def test_a_claim_merged_at_its_head_is_a_win(tmp_path):
    result = run(
        tmp_path,
        record(1, opened(), check(5, "a1"), review(10, WRITER, "APPROVED", "a1"), merged(11, "a1")),
    )
    assert counts(result["careful"]) == {"claims": 1, "wins": 1}
    assert counts(result["loose"]) == {"claims": 1, "wins": 1}


def test_a_change_request_by_a_merger_after_the_claim_is_a_loss(tmp_path):
    result = run(
        tmp_path,
        record(
            1,
            opened(),
            check(5, "a1"),
            review(10, OUTSIDER, "APPROVED", "a1"),
            review(20, WRITER, "CHANGES_REQUESTED", "a1"),
            push(30, "b2"),
            check(35, "b2"),
            review(40, WRITER, "APPROVED", "b2"),
            merged(41, "b2"),
        ),
    )
    assert counts(result["loose"]) == {"claims": 1, "losses": 1}
    # The careful rule waited for the writer, whose approval on b2 was merged.
    assert counts(result["careful"]) == {"claims": 1, "wins": 1}


def test_an_outsiders_change_request_is_not_counted(tmp_path):
    result = run(
        tmp_path,
        record(
            1,
            opened(),
            review(10, WRITER, "APPROVED", "a1"),
            review(20, OUTSIDER, "CHANGES_REQUESTED", "a1"),
            merged(30, "a1"),
        ),
    )
    assert counts(result["loose"]) == {"claims": 1, "wins": 1}


def test_a_reverted_merge_is_a_loss(tmp_path):
    result = run(
        tmp_path,
        record(
            1,
            opened(),
            check(5, "a1"),
            review(10, WRITER, "APPROVED", "a1"),
            merged(11, "a1"),
            reverted(5000),
        ),
    )
    assert counts(result["careful"]) == {"claims": 1, "losses": 1}


def test_closed_unmerged_after_a_claim_is_a_loss_in_backtests(tmp_path):
    result = run(tmp_path, record(1, opened(), review(10, OUTSIDER, "APPROVED", "a1"), closed(20)))
    assert counts(result["loose"]) == {"claims": 1, "losses": 1, "closed_unmerged": 1}
    assert counts(result["careful"]) == {}


def test_more_commits_then_a_merge_is_neutral(tmp_path):
    result = run(
        tmp_path,
        record(
            1,
            opened(),
            review(10, OTHER_WRITER, "APPROVED", "a1"),
            push(20, "b2"),
            review(30, OTHER_WRITER, "APPROVED", "b2"),
            merged(31, "b2"),
        ),
    )
    assert counts(result["loose"]) == {"claims": 1, "neutral": 1}


def test_an_open_pull_request_leaves_the_claim_pending(tmp_path):
    result = run(tmp_path, record(1, opened(), review(10, OUTSIDER, "APPROVED", "a1")))
    assert counts(result["loose"]) == {"claims": 1, "pending": 1}


def test_a_clean_merge_the_rule_held_is_missed_and_a_skip_is_not(tmp_path):
    result = run(
        tmp_path,
        record(1, opened(), check(5, "a1"), merged(11, "a1")),
        record(2, opened(paths=["doc/manual.md"]), check(5, "a1"), merged(11, "a1")),
    )
    assert counts(result["careful"]) == {"missed": 1}
    assert counts(result["loose"]) == {"missed": 2}


def test_a_rule_is_shown_disabled_at_the_pr_of_its_loss_too_many(tmp_path):
    losing = [
        record(
            n,
            opened(n * 100),
            review(n * 100 + 10, OUTSIDER, "APPROVED", "a1"),
            closed(n * 100 + 20),
        )
        for n in range(1, 6)
    ]
    result = run(tmp_path, *losing, thresholds=Thresholds(max_losses=3))
    loose = result["loose"]
    assert loose.losses == 5 and loose.state is RuleState.DISABLED
    disabled = loose.first_change_to(RuleState.DISABLED)
    assert disabled is not None and disabled.pr == 4
    assert disabled.at is not None and disabled.at.isoformat() == "2024-03-01T07:00:00+00:00"


def test_a_rule_that_raises_yields_errors_and_leaves_the_others_alone(tmp_path):
    timeline = record(
        1, opened(), check(5, "a1"), review(10, WRITER, "APPROVED", "a1"), merged(11, "a1")
    )
    alone = run(tmp_path, timeline, rules=(LOOSE, CAREFUL))
    together = run(tmp_path, timeline, rules=(LOOSE, CAREFUL, BROKEN))
    assert together["broken"].errors == 3 and together["broken"].claims == 0
    assert counts(together["loose"]) == counts(alone["loose"])
    assert counts(together["careful"]) == counts(alone["careful"])


@pytest.mark.parametrize("wins", [2, 3])
def test_a_rule_is_promoted_after_enough_clean_wins(tmp_path, wins):
    winning = [
        record(
            n,
            opened(n * 100),
            check(n * 100 + 5, "a1"),
            review(n * 100 + 10, WRITER, "APPROVED", "a1"),
            merged(n * 100 + 20, "a1"),
        )
        for n in range(1, wins + 1)
    ]
    result = run(tmp_path, *winning, thresholds=Thresholds(promote_wins=3))
    promoted = result["careful"].first_change_to(RuleState.PROMOTED)
    assert (promoted.pr if promoted else None) == (3 if wins == 3 else None)


def table(tmp_path, *records, rules=(LOOSE, BROKEN), closed_unmerged="loss"):
    path = write_history(tmp_path / "h.jsonl", *records)
    settings = load_settings({"SHADOWBOT_BACKTEST_CLOSED_UNMERGED": closed_unmerged})
    with Engine(rules, timeout=1.0) as engine:
        backtest = Backtest(engine, settings.backtest_policy(), settings.thresholds_for)
        for r in HistoryReader(path):
            backtest.add(r)
    text = backtest_as_text(backtest.summary(), backtest.policy, backtest.records)
    header, *rows = (line.split() for line in text.split("\n\n")[0].splitlines())
    return text, {row[0]: dict(zip(header, row, strict=True)) for row in rows}


CLOSED_AFTER_A_CLAIM = [
    record(
        n, opened(n * 100), review(n * 100 + 10, OUTSIDER, "APPROVED", "a1"), closed(n * 100 + 20)
    )
    for n in (1, 2)
]


def test_the_table_shows_closed_unmerged_on_its_own_and_says_whether_they_are_losses(tmp_path):
    text, rows = table(tmp_path, *CLOSED_AFTER_A_CLAIM)
    assert {k: rows["loose"][k] for k in ("claims", "losses", "closed-unmerged", "neutral")} == {
        "claims": "2",
        "losses": "2",
        "closed-unmerged": "2",
        "neutral": "0",
    }
    # The legend under the table, wrapped to the terminal's usual width.
    assert (
        "closed-unmerged: claims on PRs closed without merging, counted in losses too"
        " (backtest_closed_unmerged = loss)." in " ".join(text.split())
    )
    assert all(len(line) <= 88 for line in text.split("\n\n")[1].splitlines())
    text, rows = table(tmp_path, *CLOSED_AFTER_A_CLAIM, closed_unmerged="neutral")
    assert (rows["loose"]["losses"], rows["loose"]["closed-unmerged"]) == ("0", "2")
    assert "neither wins nor losses (backtest_closed_unmerged = neutral)" in " ".join(text.split())


def test_errors_are_counted_in_pull_requests_affected(tmp_path):
    text, rows = table(tmp_path, *CLOSED_AFTER_A_CLAIM)
    # Two PRs replayed in two snapshots each: four failed evaluations, two PRs.
    assert rows["broken"]["error-PRs"] == "2" and rows["loose"]["error-PRs"] == "0"
    assert "error-PRs: PRs where the rule raised or ran out of time." in text
    assert "broken: errors on 2 PRs (4 evaluations), the first on PR #1: RuntimeError:" in text
    assert "broken: failed on #1, #2" in text
    assert "quarantined" not in text  # under the default 3 PRs
