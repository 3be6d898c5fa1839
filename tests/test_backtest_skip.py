"""Skipping an evaluation when nothing the rule read changed gives the same backtest.

The backtest re-evaluates a rule only after an event that changed a snapshot field its
last evaluation read (shadowbot.offline.reads). Whatever it skips, every tally, every
report field and every rule's result on every PR must be those of evaluating after every
event, on the bundled history, with the bundled rules and rules that read what they do
not (labels, the description, the time, code owners) or fail now and then.
"""

from __future__ import annotations

import copy
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import pytest

from shadowbot.core.engine import Engine
from shadowbot.offline.backtest import Backtest, RuleReport, RuleResult, snapshots
from shadowbot.offline.history import HistoryReader, HistoryRecord
from shadowbot.offline.reads import ALL, BITS, FIELDS, VIEW_READS, read_of, traced
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import Snapshot, memo
from shadowbot.verdict import Verdict

HISTORY = Path(__file__).resolve().parent.parent / "examples" / "history.jsonl.gz"


@Rule.define(name="labelled-ready", version=1, description="reads labels")
def LABELLED(pr: Snapshot) -> Verdict:
    if "ready" in " ".join(sorted(pr.labels)) or len(pr.labels) >= 3:
        return Verdict.merge(()) if pr.approvers_on_head else Verdict.hold(())
    return Verdict.skip("not labelled")


@Rule.define(name="stale", version=1, description="reads the time")
def STALE(pr: Snapshot) -> Verdict:
    if pr.updated_at - pr.created_at > timedelta(days=20):
        return Verdict.merge(())
    return Verdict.hold(())


@Rule.define(name="described", version=1, description="reads the description and owners")
def DESCRIBED(pr: Snapshot) -> Verdict:
    if "update" not in pr.body.lower() and "fix" not in pr.title.lower():
        return Verdict.skip("undescribed")
    owners = {o for f in pr.files for o in pr.owners_of(f.path)}
    approvers = {a.login for a in pr.approvers_on_head}
    if owners & approvers and not pr.draft:
        return Verdict.merge(())
    return Verdict.hold(()) if pr.ci else Verdict.skip("no checks yet")


@Rule.define(name="flaky", version=1, description="raises on a second review")
def FLAKY(pr: Snapshot) -> Verdict:
    if len(pr.reviews) == 2 and pr.number % 7 == 0:
        raise ValueError("second review")
    return Verdict.hold(()) if pr.changed_lines > 3 else Verdict.skip("tiny")


def backtest(skip: bool, max_errors: int | None) -> tuple[list[RuleReport], list[tuple]]:
    settings = load_settings({})
    rules = [*load_rules(bundled_path("rules")), LABELLED, STALE, DESCRIBED, FLAKY]
    seen: list[tuple] = []

    def observe(record: HistoryRecord, results: list[RuleResult]) -> None:
        seen.append((record.number, [(r.rule.name, *asdict_result(r)) for r in results]))

    with Engine(rules, settings.rule_timeout) as engine:
        run = Backtest(
            engine,
            settings.backtest_policy(),
            settings.thresholds_for,
            mergers=frozenset({"alice"}),
            max_errors=max_errors,
            observers=[observe],
            skip_unchanged=skip,
        )
        for record in HistoryReader(HISTORY):
            run.add(record)
    return run.summary(), seen


def asdict_result(result: RuleResult) -> tuple:
    settlement = None if result.settlement is None else asdict(result.settlement)
    return (
        settlement,
        result.missed,
        result.errors,
        result.first_error,
        result.claim,
        result.last,
        result.timed_out,
    )


def report_fields(report: RuleReport) -> dict:
    record = asdict(report.record)
    return {
        "rule": report.rule.key,
        "record": record,
        "judged": report.judged,
        "error_prs": report.error_prs,
        "timeout_prs": report.timeout_prs,
        "failed": report.failed,
        "quarantined": report.quarantined,
    }


@pytest.mark.parametrize("max_errors", [None, 3])
def test_skipping_unchanged_evaluations_changes_nothing_on_the_bundled_history(max_errors):
    skipped_reports, skipped = backtest(True, max_errors)
    full_reports, full = backtest(False, max_errors)
    assert [report_fields(r) for r in skipped_reports] == [report_fields(r) for r in full_reports]
    assert skipped == full
    by_name = {r.rule.name: r for r in full_reports}
    # The extra rules did what they are there for: claim, fail, and (with a threshold)
    # get quarantined.
    assert all(by_name[name].record.claims for name in ("labelled-ready", "stale", "described"))
    assert by_name["flaky"].error_prs >= 3
    assert (by_name["flaky"].quarantined is not None) == (max_errors is not None)


def test_skipping_evaluates_far_fewer_times():
    counted = {"calls": 0}

    @Rule.define(name="counted", version=1, description="counts its evaluations")
    def counting(pr: Snapshot) -> Verdict:
        counted["calls"] += 1
        return Verdict.hold(()) if pr.approvers_on_head else Verdict.skip("no approval")

    calls = {}
    settings = load_settings({})
    for skip in (True, False):
        counted["calls"] = 0
        with Engine([counting], settings.rule_timeout) as engine:
            run = Backtest(engine, settings.backtest_policy(), settings.thresholds_for)
            run.skip_unchanged = skip
            for record in HistoryReader(HISTORY):
                run.add(record)
        calls[skip] = counted["calls"]
    # Checks and labels make up most events; this rule reads neither.
    assert calls[True] < calls[False] / 3


def test_a_traced_snapshot_notes_fields_and_the_fields_behind_views():
    record = next(iter(HistoryReader(HISTORY)))
    _, snapshot = next(snapshots(record, "example/pkgs"))
    view = traced(snapshot)
    assert view.title == snapshot.title and view.approvers_on_head == snapshot.approvers_on_head
    assert read_of(view) == BITS["title"] | BITS["reviews"] | BITS["head_sha"] | BITS["author"]
    view = traced(snapshot)
    assert view.owners_of(snapshot.files[0].path) == snapshot.owners_of(snapshot.files[0].path)
    assert read_of(view) == BITS["code_owners"]
    assert repr(view).partition("(")[2] == repr(snapshot).partition("(")[2]
    assert read_of(view) == ALL  # showing it reads every field


def test_every_derived_view_of_a_snapshot_says_what_it_reads():
    # A view missing from VIEW_READS is taken to read everything: correct, but never
    # skipped. Its fields must be the snapshot's.
    views = {name for name, value in vars(Snapshot).items() if isinstance(value, memo)}
    assert views == set(VIEW_READS)
    assert {field for reads in VIEW_READS.values() for field in reads} <= set(FIELDS)


def test_the_replay_builds_snapshots_equal_to_constructed_ones():
    reader = HistoryReader(HISTORY)
    for record, _ in zip(reader, range(200), strict=False):
        for _, snapshot in snapshots(record, "example/pkgs"):
            values = {name: getattr(snapshot, name) for name in FIELDS}
            assert snapshot == Snapshot(**values)
            assert set(vars(snapshot)) >= set(FIELDS)


def test_replacing_or_copying_a_traced_snapshot_reads_everything():
    record = next(iter(HistoryReader(HISTORY)))
    _, snapshot = next(snapshots(record, "example/pkgs"))
    view = traced(snapshot)
    changed = replace(view, title="other")
    assert changed.title == "other" and changed.files == snapshot.files
    assert changed.approvers_on_head == snapshot.approvers_on_head
    assert read_of(view) == ALL & ~BITS["title"]  # every field but the one replaced
    for duplicate in (copy.copy, copy.deepcopy):
        view = traced(snapshot)
        assert type(duplicate(view)) is Snapshot and duplicate(view) == snapshot
        assert read_of(view) == ALL
