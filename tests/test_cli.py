"""The `shadowbot` command as a user runs it: output, exit codes, error messages."""

import json
import textwrap
from pathlib import Path

import pytest
from histories import losses_and_a_win

from shadowbot.cli import main

BUNDLED = {
    "any-approval",
    "bot-version-bump",
    "docs-only",
    "package-owner",
    "small-two-approvals",
    "writer-pair",
}


@pytest.fixture(autouse=True)
def database(tmp_path, monkeypatch):
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_rules_lists_the_bundled_rules_with_version_and_description(capsys):
    code, out, _ = run(capsys, "rules")
    assert code == 0
    lines = out.splitlines()
    assert {line.split()[0] for line in lines} == BUNDLED
    assert all(line.split()[1] == "v1" for line in lines)
    assert "Deliberately loose" in out


def test_rules_as_json(capsys):
    code, out, _ = run(capsys, "rules", "--format", "json")
    rules = json.loads(out)
    assert code == 0
    assert {r["name"] for r in rules} == BUNDLED
    assert all(
        r["version"] == 1 and r["description"] and len(r["source_hash"]) == 64 for r in rules
    )


def write_rule(directory, version, check="not_draft"):
    directory.mkdir(exist_ok=True)
    (directory / "mine.py").write_text(
        textwrap.dedent(f"""
        from shadowbot import checks
        from shadowbot.rules import Rule

        rule = Rule.from_checks(
            name="mine", version={version}, description="my rule",
            requires=[checks.{check}()],
        )
        """)
    )


def test_a_changed_rule_under_an_unchanged_version_is_refused(tmp_path, capsys):
    mine = tmp_path / "my-rules"
    judged = str(history(tmp_path))
    write_rule(mine, 1)
    assert run(capsys, "backtest", judged, "--rules", str(mine))[0] == 0
    write_rule(mine, 1, check="checks_green")
    code, out, err = run(capsys, "backtest", judged, "--rules", str(mine))
    assert code == 2 and out == ""
    assert "mine" in err and "bump its version" in err and "--scratch" in err
    write_rule(mine, 2, check="checks_green")
    code, out, _ = run(capsys, "backtest", judged, "--rules", str(mine))
    assert code == 0 and out.split("\n")[1].split()[:2] == ["mine", "2"]


def test_a_broken_rule_file_is_named(tmp_path, capsys):
    mine = tmp_path / "my-rules"
    mine.mkdir()
    (mine / "oops.py").write_text("import nothing_like_this\n")
    code, _, err = run(capsys, "rules", "--rules", str(mine))
    assert code == 2
    assert "oops.py" in err and "ModuleNotFoundError" in err


def history(tmp_path, *extra):
    return losses_and_a_win(tmp_path / "h.jsonl", 5, *extra)


def test_backtest_prints_a_table_and_when_a_rule_would_have_been_disabled(tmp_path, capsys):
    code, out, err = run(capsys, "backtest", str(history(tmp_path)))
    assert code == 0
    table = out.split("\n\n")[0].splitlines()
    header, *rows = (line.split() for line in table)
    loose = dict(zip(header, next(r for r in rows if r[0] == "any-approval"), strict=True))
    assert [loose[k] for k in ("claims", "wins", "losses", "state")] == ["6", "1", "5", "disabled"]
    assert "any-approval would have been disabled at PR #4 on 2024-03-01" in out
    assert "6 pull requests backtested" in out and "0 malformed line(s) skipped" in out


def test_backtest_as_json(tmp_path, capsys):
    code, out, _ = run(capsys, "backtest", str(history(tmp_path)), "--format", "json")
    report = json.loads(out)
    assert code == 0 and report["records"] == 6 and report["repository"] == "example/pkgs"
    loose = next(r for r in report["rules"] if r["rule"] == "any-approval")
    assert loose["losses"] == 5 and loose["precision"] == pytest.approx(1 / 6)
    assert loose["changes"] == [
        {"from": "active", "to": "disabled", "pr": 4, "at": "2024-03-01T07:00:00+00:00"}
    ]


def test_backtest_reports_malformed_lines_and_goes_on(tmp_path, capsys):
    path = history(tmp_path, "{broken", json.dumps({"number": 0}))
    code, out, err = run(capsys, "backtest", str(path))
    assert code == 0
    assert "line 8: not valid JSON" in err
    assert "line 9: number: must be positive" in err
    assert "6 pull requests backtested" in out and "2 malformed line(s) skipped" in out


def test_strict_backtest_stops_at_the_first_malformed_line(tmp_path, capsys):
    path = history(tmp_path, "{broken")
    code, out, err = run(capsys, "backtest", str(path), "--strict")
    assert code == 2 and out == ""
    assert "line 8: not valid JSON" in err


def test_backtest_of_a_missing_file_is_one_clear_error(tmp_path, capsys):
    code, _, err = run(capsys, "backtest", str(tmp_path / "nope.jsonl"))
    assert code == 2
    assert (
        err.strip()
        == f"shadowbot: error: cannot read {tmp_path / 'nope.jsonl'}: No such file or directory"
    )


def test_a_wrong_setting_stops_the_command_naming_it(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHADOWBOT_MAX_LOSSES", "many")
    code, _, err = run(capsys, "rules")
    assert code == 2 and "SHADOWBOT_MAX_LOSSES" in err


def test_thresholds_come_from_the_settings(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SHADOWBOT_MAX_LOSSES", "10")
    code, out, _ = run(capsys, "backtest", str(history(tmp_path)))
    assert code == 0 and "would have been disabled" not in out


def test_migrate_reports_the_revision(capsys):
    code, out, _ = run(capsys, "migrate")
    assert code == 0 and out.startswith("database at revision ")


def broken_rules(tmp_path):
    """A rules directory whose one rule, broken, raises AttributeError on every PR."""
    mine = tmp_path / "my-rules"
    mine.mkdir()
    (mine / "broken.py").write_text(
        "from shadowbot.rules import Rule\n\n"
        '@Rule.define(name="broken", version=1, description="d")\n'
        "def broken(pr):\n"
        "    return pr.no_such_field\n"
    )
    return mine


def test_backtest_names_a_failing_rules_first_error(tmp_path, capsys):
    mine = broken_rules(tmp_path)
    code, out, err = run(capsys, "backtest", str(history(tmp_path)), "--rules", str(mine))
    assert code == 0 and err == ""
    assert "broken: errors on 3 PRs (6 evaluations), the first on PR #1: AttributeError:" in out
    assert "broken: quarantined at PR #3 (failed on 3 PRs): its record covers 3 of 6 PRs" in out


def test_backtest_can_show_a_progress_bar(tmp_path, capsys):
    code, out, err = run(capsys, "backtest", str(history(tmp_path)), "--progress")
    assert code == 0 and "6 pull requests backtested" in out
    # The bar is redrawn in place on stderr, never mixed into the report on stdout.
    assert "[" not in out
    assert err.startswith("\r[##############################] 100%  6 PRs")


def test_the_bundled_history_proves_the_loose_rule_unsafe_and_careful_rules_clean(capsys):
    bundled = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"
    code, out, _ = run(capsys, "backtest", str(bundled), "--format", "json")
    report = {r["rule"]: r for r in json.loads(out)["rules"]}
    assert code == 0 and json.loads(out)["records"] == 10_000
    loose = report["any-approval"]
    assert loose["losses"] > 3 and loose["state"] == "disabled"
    (disabled,) = [c for c in loose["changes"] if c["to"] == "disabled"]
    assert disabled["pr"] > 0 and disabled["at"]
    clean = [r for r in report.values() if r["wins"] >= 100 and r["losses"] == 0]
    assert {r["rule"] for r in clean} >= {"bot-version-bump", "docs-only", "package-owner"}
    assert all(r["state"] == "promoted" for r in clean)
