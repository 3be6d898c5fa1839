"""`backtest --explain`, `--compare` and `--max-errors` as a user runs them."""

import json
import textwrap
from pathlib import Path

import pytest
from test_cli import broken_rules, history, run


def write_rule(directory, version, count):
    directory.mkdir()
    (directory / "mine.py").write_text(
        textwrap.dedent(f"""
        from shadowbot import checks
        from shadowbot.rules import Rule

        rule = Rule.from_checks(
            name="mine", version={version}, description="approvals",
            requires=[checks.approved_by_anyone({count})],
        )
        """)
    )
    return directory


def test_explain_lists_the_rules_claims_losses_first(tmp_path, capsys):
    code, out, err = run(capsys, "backtest", str(history(tmp_path)), "--explain", "any-approval")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("any-approval@1 on example/pkgs (6 PRs): 6 claims: 1 wins, 5 losses")
    rows = [line.split()[:2] for line in lines if line.startswith(("loss ", "win "))]
    assert rows == [["loss", f"#{n}"] for n in range(1, 6)] + [["win", "#9"]]
    assert "closed unmerged by @alice" in out


def test_explain_as_json(tmp_path, capsys):
    code, out, _ = run(
        capsys, "backtest", str(history(tmp_path)), "--explain", "any-approval", "--format", "json"
    )
    data = json.loads(out)
    assert code == 0 and len(data["cases"]) == 6 and data["record"]["losses"] == 5


def test_explain_of_an_unknown_rule_is_one_line(tmp_path, capsys):
    code, out, err = run(capsys, "backtest", str(history(tmp_path)), "--explain", "nope")
    assert code == 2 and out == ""
    assert err.startswith("shadowbot: error: --explain: no rule 'nope' among any-approval@1,")


def test_compare_two_versions(tmp_path, capsys):
    a, b = write_rule(tmp_path / "a", 1, 1), write_rule(tmp_path / "b", 2, 2)
    code, out, _ = run(capsys, "backtest", str(history(tmp_path)), "--compare", str(a), str(b))
    assert code == 0
    assert "PRs where A and B decided differently: 6 (mine: 6)" in out


def test_compare_refuses_rules(tmp_path, capsys):
    a, b = write_rule(tmp_path / "a", 1, 1), write_rule(tmp_path / "b", 2, 2)
    code, _, err = run(
        capsys, "backtest", str(history(tmp_path)), "--compare", str(a), str(b), "--rules", str(a)
    )
    assert code == 2 and "drop --rules" in err


def test_max_errors(tmp_path, capsys):
    mine = broken_rules(tmp_path)
    code, out, _ = run(
        capsys, "backtest", str(history(tmp_path)), "--rules", str(mine), "--max-errors", "1"
    )
    assert (
        code == 0
        and "broken: quarantined at PR #1 (failed on 1 PR): its record covers 1 of 6 PRs" in out
    )
    with pytest.raises(SystemExit) as exit:
        run(capsys, "backtest", str(history(tmp_path)), "--max-errors", "0")
    assert exit.value.code == 2
    assert "argument --max-errors: not a whole number of at least 1: '0'" in capsys.readouterr().err


def test_a_directory_pattern_without_its_slash_is_warned_about(tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "python.py").write_text(
        textwrap.dedent("""
        from shadowbot import checks
        from shadowbot.rules import Rule

        rule = Rule.from_checks(
            name="python-modules", version=1, description="python modules only",
            applies_when=[checks.only_touches("pkgs/development/python-modules")],
            requires=[checks.approved_by_anyone(1)],
        )
        """)
    )
    bundled = str(Path(__file__).parent.parent / "examples" / "history.jsonl.gz")
    code, out, err = run(capsys, "backtest", bundled, "--rules", str(mine), "--scratch")
    assert code == 0
    assert "python-modules@1" in err
    assert "write 'pkgs/development/python-modules/'" in err
    assert "python-modules" in out  # the table is still printed, on standard output


def test_two_jobs_give_the_table_one_gives(tmp_path, capsys):
    bundled = str(Path(__file__).parent.parent / "examples" / "history.jsonl.gz")
    one = run(capsys, "backtest", bundled, "--scratch")
    two = run(capsys, "backtest", bundled, "--scratch", "--jobs", "2")
    assert one[0] == two[0] == 0
    drop_timing = [line for line in one[1].splitlines() if "backtested in" not in line]
    assert drop_timing == [line for line in two[1].splitlines() if "backtested in" not in line]
    with pytest.raises(SystemExit) as exited:
        run(capsys, "backtest", bundled, "--jobs", "0")
    err = capsys.readouterr().err
    assert exited.value.code == 2 and "--jobs" in err and "at least 1" in err


def test_compare_names_a_missing_rule_set_before_loading_the_other(tmp_path, capsys):
    first = tmp_path / "first"
    first.mkdir()
    ran = tmp_path / "ran"
    (first / "noisy.py").write_text(f"open({str(ran)!r}, 'w').close()\n")
    missing = tmp_path / "missing"
    code, _, err = run(
        capsys,
        "backtest",
        str(history(tmp_path)),
        "--compare",
        str(first),
        str(missing),
        "--scratch",
    )
    assert code == 2
    assert err.strip() == f"shadowbot: error: --compare: {missing} does not exist"
    assert not ran.exists()  # no rule file was run
