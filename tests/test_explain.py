"""`--explain RULE`: every claim of one rule with its result and why, losses and misses
first, on hand-built timelines and on the bundled history."""

import json
from pathlib import Path

import pytest
from histories import (
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
from shadowbot.errors import ShadowbotError
from shadowbot.offline.explain import explain_command, explain_rule
from shadowbot.offline.history import HistoryReader
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import Snapshot
from shadowbot.verdict import Verdict

BUNDLED_HISTORY = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"
SETTINGS = load_settings({})
LOOSE = Rule.from_checks(
    name="loose",
    version=1,
    description="any approval and green checks",
    applies_when=[c.not_draft()],
    requires=[c.approved_by_anyone(1), c.checks_green()],
)


@Rule.define(name="picky", version=1, description="fails on PR #7")
def PICKY(pr: Snapshot) -> Verdict:
    if pr.number == 7:
        raise LookupError("no maintainers for #7")
    return Verdict.hold(())


def timelines(tmp_path):
    return write_history(
        tmp_path / "h.jsonl",
        # 1: won (merged at the claimed head)
        record(
            1, opened(), check(5, "a1"), review(10, OUTSIDER, "APPROVED", "a1"), merged(20, "a1")
        ),
        # 2: lost: a writer requested changes after the claim
        record(
            2,
            opened(100),
            check(105, "a1"),
            review(110, OUTSIDER, "APPROVED", "a1"),
            review(130, WRITER, "CHANGES_REQUESTED", "a1"),
            closed(140),
        ),
        # 3: lost: merged, then reverted
        record(
            3,
            opened(200),
            check(205, "a1"),
            review(210, OUTSIDER, "APPROVED", "a1"),
            merged(220, "a1"),
            reverted(900, pr=77),
        ),
        # 4: missed: merged at a head the rule held (its checks failed)
        record(
            4,
            opened(300),
            check(305, "a1", state="failure"),
            review(310, WRITER, "APPROVED", "a1"),
            merged(320, "a1"),
        ),
        # 5: closed unmerged after the claim
        record(
            5,
            opened(400),
            push(401, "b2"),
            check(405, "b2"),
            review(410, OUTSIDER, "APPROVED", "b2"),
            closed(420),
        ),
        # 6: still open
        record(6, opened(500), check(505, "a1"), review(510, OUTSIDER, "APPROVED", "a1")),
        # 7: out of the rule's scope (a draft): neither a claim nor a miss
        record(7, opened(600, draft=True), merged(620, "a1")),
    )


def explain(tmp_path, name="loose", rules=(LOOSE,), settings=SETTINGS):
    return explain_rule(HistoryReader(timelines(tmp_path)), rules, name, settings)


def test_every_claim_and_miss_is_listed_losses_and_misses_first(tmp_path):
    explanation = explain(tmp_path)
    shown = [(case.result, case.pr, case.reason) for case in explanation.ordered()]
    assert shown == [
        ("loss", 2, "objection"),
        ("loss", 3, "reverted"),
        ("loss", 5, "closed_unmerged"),
        ("missed", 4, "missed"),
        ("pending", 6, "open"),
        ("win", 1, "merged"),
    ]
    assert explanation.report.record.claims == 5


def test_each_case_says_who_and_what_decided_it(tmp_path):
    cases = {case.pr: case for case in explain(tmp_path).cases}
    assert cases[2].head == "a1"
    assert cases[2].why == "changes requested by @alice on a1 at 2024-03-01 02:10"
    assert cases[2].evidence[0] == {
        "kind": "changes_requested",
        "by": "alice",
        "at": "2024-03-01T02:10:00+00:00",
        "detail": "a1",
    }
    assert "merged at a1 by @alice at 2024-03-01 03:40, reverted by @alice in #77" in cases[3].why
    assert cases[5].head == "b2" and cases[5].why == "closed unmerged by @alice at 2024-03-01 07:00"
    assert cases[1].why == "merged at the claimed head by @alice at 2024-03-01 00:20"
    assert cases[6].why == "still open at the end of the history"


def test_a_missed_pr_names_the_checks_that_held_it(tmp_path):
    missed = next(case for case in explain(tmp_path).cases if case.result == "missed")
    assert missed.pr == 4 and missed.head == "a1"
    assert [held["check"] for held in missed.held_by] == ["all checks green"]
    assert "build" in missed.held_by[0]["detail"]
    assert missed.why.startswith('merged cleanly at a1 by @alice; held by "all checks green"')


def test_closed_unmerged_is_its_own_result_when_the_policy_does_not_count_it_a_loss(tmp_path):
    lenient = load_settings({"SHADOWBOT_BACKTEST_CLOSED_UNMERGED": "neutral"})
    cases = {case.pr: case for case in explain(tmp_path, settings=lenient).cases}
    assert cases[5].result == "closed_unmerged" and cases[2].result == "loss"
    text = explain_command(HistoryReader(timelines(tmp_path)), [LOOSE], "loose", lenient)
    assert "neither wins nor losses (backtest_closed_unmerged = neutral)" in " ".join(text.split())


def test_the_text_and_the_json_say_the_same(tmp_path):
    text = explain_command(HistoryReader(timelines(tmp_path)), [LOOSE], "loose@1", SETTINGS)
    data = json.loads(
        explain_command(HistoryReader(timelines(tmp_path)), [LOOSE], "loose", SETTINGS, "json")
    )
    lines = text.splitlines()
    assert lines[0] == (
        "loose@1 on example/pkgs (7 PRs): 5 claims: 1 wins, 3 losses (1 of them closed"
        " unmerged), 0 neutral, 1 pending; 1 missed; errors on 0 PRs"
    )
    start = next(i for i, line in enumerate(lines) if line.startswith("result"))
    rows = [line.split()[:2] for line in lines[start + 1 : start + 7]]
    assert rows == [[case["result"], f"#{case['pr']}"] for case in data["cases"]]
    assert data["record"]["claims"] == 5 and data["record"]["closed_unmerged"] == 1
    assert data["cases"][3]["held_by"][0]["check"] == "all checks green"


def test_failures_are_listed_with_their_error(tmp_path):
    cases = explain(tmp_path, name="picky", rules=(LOOSE, PICKY)).ordered()
    own_hold = "merged cleanly at a1 by @alice; held by the rule's own hold (no checklist)"
    assert [(case.result, case.pr, case.why) for case in cases] == [
        ("missed", 1, own_hold),
        ("missed", 4, own_hold),
        ("error", 7, "LookupError: no maintainers for #7"),
    ]


def test_an_unknown_rule_is_one_clear_error(tmp_path):
    with pytest.raises(ShadowbotError, match=r"^--explain: no rule 'lose' among loose@1, picky@1$"):
        explain(tmp_path, name="lose", rules=(LOOSE, PICKY))


def test_the_loose_bundled_rule_explained_on_the_bundled_history():
    rules = load_rules(bundled_path("rules"))
    text = explain_command(HistoryReader(BUNDLED_HISTORY), rules, "any-approval", SETTINGS)
    data = json.loads(
        explain_command(HistoryReader(BUNDLED_HISTORY), rules, "any-approval", SETTINGS, "json")
    )
    record, cases = data["record"], data["cases"]
    claims = [case for case in cases if case["result"] not in ("missed", "error")]
    assert len(claims) == record["claims"] > 1000
    losses = [case for case in cases if case["result"] == "loss"]
    assert len(losses) == record["losses"] and cases[: len(losses)] == losses
    missed = [case for case in cases if case["result"] == "missed"]
    assert len(missed) == record["missed"] and all(case["held_by"] for case in missed)
    assert cases[len(losses) : len(losses) + len(missed)] == missed
    # Each loss names its evidence; the PR where the rule would have been disabled is one.
    assert all(case["evidence"] and case["why"] for case in losses)
    (disabled,) = [change["pr"] for change in record["changes"] if change["to"] == "disabled"]
    assert disabled in {case["pr"] for case in losses}
    assert f"would have been disabled at PR #{disabled}" in text
    closed = [case for case in losses if case["reason"] == "closed_unmerged"]
    assert len(closed) == record["closed_unmerged"] and all(
        "closed unmerged by @" in c["why"] for c in closed
    )
    assert text.count("\nloss ") == len(losses) and text.count("\nmissed ") == len(missed)


@Rule.define(name="broken", version=1, description="always raises")
def BROKEN(pr: Snapshot) -> Verdict:
    raise ValueError("no such package")


def test_a_quarantined_rule_is_explained_up_to_its_quarantine(tmp_path):
    text = explain_command(
        HistoryReader(timelines(tmp_path)), [BROKEN], "broken", SETTINGS, max_errors=2
    )
    assert text.splitlines()[0].endswith("errors on 2 PRs; quarantined at PR #2 (failed on 2 PRs)")
    rows = [line.split()[:2] for line in text.splitlines() if line.startswith("error ")]
    assert rows == [["error", "#1"], ["error", "#2"]]
