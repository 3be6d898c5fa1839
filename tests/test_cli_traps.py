"""The traps a new rule author fell into with the `shadowbot` command (issue 10), each
tried as they would: state kept where they expect it, and a command line that behaves."""

import gzip
import json
import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from histories import losses_and_a_win, write_history

from shadowbot.cli import main

SHADOWBOT = str(Path(sys.executable).with_name("shadowbot"))


@pytest.fixture(autouse=True)
def elsewhere(tmp_path, monkeypatch):
    """Commands run in an empty directory of their own, with no database configured: the
    default one is used, in the test's data directory (tests/conftest.py)."""
    monkeypatch.delenv("SHADOWBOT_DATABASE_URL", raising=False)
    monkeypatch.delenv("SHADOWBOT_RULES_DIR", raising=False)
    here = tmp_path / "cwd"
    here.mkdir()
    monkeypatch.chdir(here)
    return here


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shadowbot(*argv, stdin=b""):
    """The installed command in a process of its own, as a shell runs it."""
    return subprocess.run(
        [SHADOWBOT, *argv], input=stdin, capture_output=True, timeout=120, env=os.environ
    )


def history(folder):
    return losses_and_a_win(folder / "h.jsonl", 3)


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
    return directory


def registered(database):
    connection = sqlite3.connect(database)
    try:
        return connection.execute("SELECT name, version FROM rule ORDER BY name").fetchall()
    finally:
        connection.close()


# -- state where the user expects it -------------------------------------------------------


def test_rules_only_lists_and_touches_no_database(capsys, elsewhere, data_home):
    code, out, _ = run(capsys, "rules")
    assert code == 0 and "any-approval" in out
    assert list(elsewhere.iterdir()) == []
    assert list(data_home.rglob("*")) == []


def test_the_backtest_records_rule_versions_in_the_data_directory_not_where_it_runs(
    capsys, tmp_path, elsewhere, data_home
):
    code, out, _ = run(capsys, "backtest", str(history(tmp_path)))
    assert code == 0 and "4 pull requests backtested" in out
    assert list(elsewhere.iterdir()) == []
    database = data_home / "shadowbot" / "shadowbot.db"
    assert ("any-approval", 1) in registered(database)


def test_the_changed_rule_guard_does_not_depend_on_the_current_directory(
    capsys, tmp_path, monkeypatch
):
    mine = write_rule(tmp_path / "my-rules", 1)
    judged = str(history(tmp_path))
    assert run(capsys, "backtest", judged, "--rules", str(mine))[0] == 0
    write_rule(mine, 1, check="checks_green")
    other = tmp_path / "another-directory"
    other.mkdir()
    monkeypatch.chdir(other)
    code, out, err = run(capsys, "backtest", judged, "--rules", str(mine))
    assert (code, out) == (2, "")
    assert "rule mine version 1 changed since it was recorded" in err


def test_the_database_setting_and_config_file_still_choose_the_database(
    capsys, tmp_path, data_home, monkeypatch
):
    judged = str(history(tmp_path))
    from_config = tmp_path / "from-config.db"
    config = tmp_path / "shadowbot.toml"
    config.write_text(f'database_url = "sqlite:///{from_config}"\n')
    assert run(capsys, "--config", str(config), "backtest", judged)[0] == 0
    assert ("any-approval", 1) in registered(from_config)
    from_environment = tmp_path / "from-environment.db"
    monkeypatch.setenv("SHADOWBOT_DATABASE_URL", f"sqlite:///{from_environment}")
    assert run(capsys, "backtest", judged)[0] == 0
    assert ("any-approval", 1) in registered(from_environment)
    assert list(data_home.rglob("*.db")) == []


def test_a_changed_rule_error_says_what_to_do_and_scratch_judges_it_without_recording(
    capsys, tmp_path, data_home
):
    mine = write_rule(tmp_path / "my-rules", 1)
    judged = str(history(tmp_path))
    assert run(capsys, "backtest", judged, "--rules", str(mine))[0] == 0
    write_rule(mine, 1, check="checks_green")
    code, _, err = run(capsys, "backtest", judged, "--rules", str(mine))
    assert code == 2 and len(err.splitlines()) == 1
    assert "bump its version" in err
    assert "pass --scratch to backtest a work in progress without recording it" in err
    code, out, err = run(capsys, "backtest", judged, "--rules", str(mine), "--scratch")
    assert code == 0 and err == ""
    assert out.splitlines()[1].split()[:2] == ["mine", "1"]
    # Nothing was recorded: the version on record is still the first one's source.
    assert run(capsys, "backtest", judged, "--rules", str(mine))[0] == 2


def test_scratch_creates_no_database(capsys, tmp_path, elsewhere, data_home):
    code, out, _ = run(capsys, "backtest", str(history(tmp_path)), "--scratch")
    assert code == 0 and "4 pull requests backtested" in out
    assert list(elsewhere.iterdir()) == [] and list(data_home.rglob("*")) == []


def another_apps_database(path):
    connection = sqlite3.connect(path)
    try:
        with connection:
            connection.execute("CREATE TABLE mine (x)")
    finally:
        connection.close()


@pytest.mark.parametrize(
    "existing",
    [lambda path: path.write_text("my notes\n"), another_apps_database],
    ids=["text", "another-sqlite-database"],
)
def test_the_demo_refuses_to_overwrite_a_file_that_is_not_its_database(capsys, tmp_path, existing):
    path = tmp_path / "precious.db"
    existing(path)
    before = path.read_bytes()
    code, out, err = run(capsys, "demo", "--database", str(path))
    assert (code, out) == (2, "")
    assert err == (
        f"shadowbot: error: --database: {path} is not a shadowbot demo database; not"
        " overwriting it (give another path, or remove it yourself)\n"
    )
    assert path.read_bytes() == before


def test_the_demo_replaces_its_own_earlier_database(capsys, tmp_path):
    path = tmp_path / "demo.db"
    script = tmp_path / "short.json"
    script.write_text(json.dumps([{"say": "nothing happens"}]))
    for _ in range(2):
        code, out, err = run(capsys, "demo", "--database", str(path), "--script", str(script))
        assert code == 0, err
        assert "nothing happens" in out and str(path) in out


# -- a command line that behaves -------------------------------------------------------------


def test_a_history_of_malformed_lines_warns_twenty_times_then_counts_and_exits_2(capsys, tmp_path):
    path = write_history(tmp_path / "bad.jsonl", *["{not json"] * 10_000)
    code, out, err = run(capsys, "backtest", str(path), "--scratch")
    lines = err.splitlines()
    assert (code, out) == (2, "")
    assert len(lines) == 22
    assert all(line.startswith(f"{path}: skipped line ") for line in lines[:20])
    assert lines[20] == f"{path}: … and 9980 more malformed line(s) skipped"
    assert lines[21] == (
        f"shadowbot: error: {path}: no line is a pull request record"
        " (10000 malformed line(s) skipped)"
    )


def test_a_history_with_no_record_at_all_exits_2(capsys, tmp_path):
    path = write_history(tmp_path / "empty.jsonl")
    code, out, err = run(capsys, "backtest", str(path), "--scratch")
    assert (code, out) == (2, "")
    assert err == (
        f"shadowbot: error: {path}: no pull request record after the header: nothing to judge\n"
    )


@pytest.mark.parametrize("compress", [False, True], ids=["plain", "gzip"])
def test_dash_reads_the_history_from_standard_input(tmp_path, compress):
    data = history(tmp_path).read_bytes()
    # --scratch: no database, so none in the user's data directory on any platform.
    done = shadowbot(
        "backtest",
        "-",
        "--scratch",
        "--format",
        "json",
        stdin=gzip.compress(data) if compress else data,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["records"] == 4 and report["repository"] == "example/pkgs"


def test_malformed_lines_on_standard_input_are_named_as_such(tmp_path):
    data = history(tmp_path).read_bytes() + b"{broken\n"
    done = shadowbot("backtest", "-", "--scratch", stdin=data)
    assert done.returncode == 0
    assert done.stderr.decode().startswith("standard input: skipped line 6: not valid JSON")


def test_global_options_are_accepted_after_the_command(capsys, tmp_path):
    mine = write_rule(tmp_path / "my-rules", 3)
    config = tmp_path / "shadowbot.toml"
    config.write_text(f'rules_dir = "{mine}"\n')
    code, out, err = run(capsys, "rules", "--config", str(config))
    assert (code, err) == (0, "")
    assert out.split()[:2] == ["mine", "v3"]
    code, out, _ = run(capsys, "ledger", "show", "--config", str(config))
    assert code == 0
    # Given before the command too, and the later one wins.
    code, out, _ = run(
        capsys, "--config", str(tmp_path / "nowhere.toml"), "rules", "--config", str(config)
    )
    assert code == 0 and out.split()[0] == "mine"


def test_a_closed_pipe_ends_the_command_quietly():
    # As `shadowbot rules --format json | head -1`: the reader is gone before the output.
    process = subprocess.Popen(
        [SHADOWBOT, "rules", "--format", "json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    process.stdout.close()
    err = process.stderr.read()
    process.stderr.close()
    assert process.wait(timeout=120) != 0
    assert err == b""


def test_rules_given_a_file_asks_for_its_directory(capsys, tmp_path):
    mine = write_rule(tmp_path / "my-rules", 1)
    code, out, err = run(capsys, "rules", "--rules", str(mine / "mine.py"))
    assert (code, out) == (2, "")
    assert err == (
        f"shadowbot: error: --rules: {mine / 'mine.py'} is a file; give the directory that"
        f" holds the rule files ({mine})\n"
    )
    code, _, err = run(
        capsys, "backtest", str(history(tmp_path)), "--rules", str(tmp_path / "nope")
    )
    assert code == 2
    assert err == f"shadowbot: error: --rules: {tmp_path / 'nope'} does not exist\n"


def test_options_wanting_a_file_say_when_given_a_directory(capsys, tmp_path):
    code, _, err = run(capsys, "--config", str(tmp_path), "rules")
    assert code == 2
    assert err == f"shadowbot: error: --config: {tmp_path} is a directory; give a file\n"
    code, _, err = run(capsys, "backtest", str(tmp_path), "--scratch")
    assert code == 2
    assert err == (
        f"shadowbot: error: {tmp_path} is a directory: give a history file (.jsonl or"
        " .jsonl.gz), or - for standard input\n"
    )
    code, _, err = run(capsys, "demo", "--script", str(tmp_path))
    assert code == 2
    assert err == f"shadowbot: error: --script: {tmp_path} is a directory; give a file\n"
    code, _, err = run(capsys, "demo", "--database", str(tmp_path))
    assert code == 2
    assert err == (
        f"shadowbot: error: --database: {tmp_path} is a directory; give a file for the database\n"
    )
    code, _, err = run(capsys, "report", "--out", str(tmp_path))
    assert code == 2
    assert err == f"shadowbot: error: --out: {tmp_path} is a directory; give a file\n"
