"""`--compare A B`: two sets of rules (or two versions of one rule) side by side, and the
PRs where they decided differently."""

import json
import shutil
import textwrap
from pathlib import Path

import pytest
from histories import OUTSIDER, WRITER, check, merged, opened, record, review, write_history

from shadowbot import checks as c
from shadowbot.errors import RuleLoadError
from shadowbot.offline.compare import (
    compare_command,
    compare_rules,
    comparison_as_text,
    load_rule_set,
)
from shadowbot.offline.explain import explain_rule
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.run import backtest_command
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings

BUNDLED_HISTORY = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"
SETTINGS = load_settings({})
V1 = Rule.from_checks(
    name="mine", version=1, description="anyone's approval", requires=[c.approved_by_anyone(1)]
)
V2 = Rule.from_checks(
    name="mine", version=2, description="a writer's approval", requires=[c.approved_by_writers(1)]
)
OTHER = Rule.from_checks(
    name="other", version=1, description="green checks", requires=[c.checks_green()]
)


def history(tmp_path):
    return write_history(
        tmp_path / "h.jsonl",
        # 1: an outsider's approval, merged: v1 wins it, v2 held it (a miss)
        record(
            1, opened(), check(5, "a1"), review(10, OUTSIDER, "APPROVED", "a1"), merged(20, "a1")
        ),
        # 2: a writer's approval, merged: both win it
        record(2, opened(100), review(110, WRITER, "APPROVED", "a1"), merged(120, "a1")),
        # 3: an outsider's approval, then a writer's change request: v1 loses, v2 held
        record(
            3,
            opened(200),
            review(210, OUTSIDER, "APPROVED", "a1"),
            review(230, WRITER, "CHANGES_REQUESTED", "a1"),
        ),
    )


def test_two_versions_of_a_rule_side_by_side_with_the_prs_they_decided_differently(tmp_path):
    comparison = compare_rules(HistoryReader(history(tmp_path)), [V1], [V2], SETTINGS)
    shown = [(d.rule, d.pr, str(d.a), str(d.b)) for d in comparison.differences]
    assert shown == [
        ("mine", 1, "win a1 (merged)", "missed"),
        ("mine", 3, "loss a1 (objection)", "no claim (hold)"),
    ]
    (a,), (b,) = comparison.a, comparison.b
    assert (a.rule.version, a.record.wins, a.record.losses) == (1, 2, 1)
    assert (b.rule.version, b.record.wins, b.record.missed) == (2, 1, 1)


def test_the_text_shows_both_records_and_the_differences(tmp_path):
    text = compare_command(
        HistoryReader(history(tmp_path)), [V1, OTHER], [V2], SETTINGS, labels=("old", "new")
    )
    lines = text.splitlines()
    assert lines[0] == "A: old  B: new  on example/pkgs (3 PRs)"
    rows = [line.split() for line in lines if line[:2] in ("A ", "B ")]
    assert [row[:5] for row in rows] == [
        ["A", "mine", "1", "3", "2"],
        ["B", "mine", "2", "1", "1"],
        ["A", "other", "1", "1", "1"],
    ]
    assert "on one side only, not compared: other" in text
    assert "PRs where A and B decided differently: 2 (mine: 2)" in text
    start = lines.index(next(line for line in lines if line.startswith("PRs where")))
    assert [line.split() for line in lines[start + 1 : start + 4]] == [
        ["rule", "PR", "A", "B"],
        ["mine", "#3", "loss", "a1", "(objection)", "no", "claim", "(hold)"],
        ["mine", "#1", "win", "a1", "(merged)", "missed"],
    ]


def test_the_json_gives_the_same(tmp_path):
    data = json.loads(
        compare_command(HistoryReader(history(tmp_path)), [V1], [V2], SETTINGS, "json")
    )
    assert data["records"] == 3 and data["pairs"] == [["mine", "mine"]]
    assert [r["version"] for r in data["a"]["rules"] + data["b"]["rules"]] == [1, 2]
    # Where either side lost comes first.
    assert [d["pr"] for d in data["differences"]] == [3, 1]
    assert data["differences"][0] == {
        "rule": "mine",
        "pr": 3,
        "title": "hello: fix #3",
        "a": {"outcome": "loss", "head": "a1", "reason": "objection"},
        "b": {"outcome": "no claim", "head": None, "reason": "hold"},
    }


def test_the_same_rules_decide_the_same(tmp_path):
    text = compare_command(HistoryReader(history(tmp_path)), [V1, OTHER], [V1, OTHER], SETTINGS)
    assert "A and B decided the same on every PR." in text
    assert "not compared" not in text


def test_single_rules_of_different_names_are_compared_with_each_other(tmp_path):
    comparison = compare_rules(HistoryReader(history(tmp_path)), [V1], [OTHER], SETTINGS)
    assert comparison.pairs == [("mine", "other")]
    assert {d.rule for d in comparison.differences} == {"mine / other"}


def write_versions(directory):
    directory.mkdir()
    (directory / "_scope.py").write_text(
        "from shadowbot import checks\nSCOPE = [checks.not_draft()]\n"
    )
    for version, count in ((1, 1), (2, 2)):
        (directory / f"mine_v{version}.py").write_text(
            textwrap.dedent(f"""
            from _scope import SCOPE
            from shadowbot import checks
            from shadowbot.rules import Rule

            rule = Rule.from_checks(
                name="mine", version={version}, description="approvals",
                applies_when=SCOPE, requires=[checks.approved_by_anyone({count})],
            )
            """)
        )
    return directory


def test_two_files_of_one_directory_are_two_versions_of_a_rule(tmp_path):
    versions = write_versions(tmp_path / "rules")
    first = load_rule_set(versions / "mine_v1.py")
    second = load_rule_set(versions / "mine_v2.py")
    assert [(r.name, r.version, r.source_path) for r in first + second] == [
        ("mine", 1, versions / "mine_v1.py"),
        ("mine", 2, versions / "mine_v2.py"),
    ]
    # Hashed with its helper, as its directory would: the registry sees the same source.
    alone = tmp_path / "alone"
    alone.mkdir()
    for name in ("_scope.py", "mine_v1.py"):
        shutil.copyfile(versions / name, alone / name)
    assert first[0].source_hash == load_rules(alone)[0].source_hash
    with pytest.raises(RuleLoadError, match="defined twice"):
        load_rule_set(versions)


@pytest.mark.parametrize(
    "name, message",
    [
        ("nowhere", "does not exist"),
        ("notes.txt", "neither a rules directory nor a rule file (.py)"),
        ("rules/_scope.py", "a helper file (its name starts with _), not a rule"),
    ],
)
def test_what_is_not_a_rule_set_is_one_clear_error(tmp_path, name, message):
    write_versions(tmp_path / "rules")
    (tmp_path / "notes.txt").write_text("")
    with pytest.raises(RuleLoadError) as caught:
        load_rule_set(tmp_path / name)
    assert str(caught.value) == f"{tmp_path / name}: {message}"


def test_a_new_version_of_a_bundled_rule_compared_on_the_bundled_history(tmp_path):
    bundled = bundled_path("rules")
    changed = tmp_path / "changed"
    shutil.copytree(bundled, changed, ignore=shutil.ignore_patterns("__pycache__"))
    source = (changed / "any_approval.py").read_text()
    (changed / "any_approval.py").write_text(
        source.replace("version=1", "version=2").replace(
            "approved_by_anyone(1)", "approved_by_anyone(2)"
        )
    )
    rules_a, rules_b = load_rule_set(bundled), load_rule_set(changed)
    comparison = compare_rules(HistoryReader(BUNDLED_HISTORY), rules_a, rules_b, SETTINGS)
    assert comparison.records == 10_000
    # Only the changed rule decided differently, on many PRs; the others are untouched.
    assert {d.rule for d in comparison.differences} == {"any-approval"}
    assert len(comparison.differences) > 100
    a = {r.rule.name: r.record for r in comparison.a}
    b = {r.rule.name: r.record for r in comparison.b}
    assert b["any-approval"].claims < a["any-approval"].claims
    assert b["any-approval"].losses < a["any-approval"].losses
    for name in a.keys() - {"any-approval"}:
        assert (a[name].claims, a[name].wins, a[name].losses) == (
            b[name].claims,
            b[name].wins,
            b[name].losses,
        )
    # A's side is the plain backtest of the bundled rules.
    text = comparison_as_text(comparison)
    plain = backtest_command(HistoryReader(BUNDLED_HISTORY), rules_a, SETTINGS).split("\n\n")[0]
    side_a = [line[5:].rstrip() for line in text.splitlines() if line.startswith("A    ")]
    assert [" ".join(line.split()) for line in side_a] == [
        " ".join(line.split()) for line in plain.splitlines()[1:]
    ]
    # Each difference agrees with --explain of the old version on that PR.
    cases = {
        case.pr: case
        for case in explain_rule(
            HistoryReader(BUNDLED_HISTORY), rules_a, "any-approval", SETTINGS
        ).cases
    }
    for difference in comparison.differences[:200]:
        case = cases.get(difference.pr)
        if difference.a.label == "no claim":
            assert case is None
        else:
            assert case is not None and case.head == difference.a.head
            assert difference.a.label == case.result
