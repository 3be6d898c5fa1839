"""A path pattern without its trailing slash that names a directory of the history is
warned about (shadowbot.offline.paths): ``only_touches("pkgs/development/python-modules")``
matches that exact path only, and the rule would silently never apply."""

import pickle
import shutil
from pathlib import Path

from histories import opened, record, write_history
from snapshots import make_pr

from shadowbot import checks as c
from shadowbot.core.engine import Engine
from shadowbot.offline.backtest import snapshots
from shadowbot.offline.history import HistoryReader
from shadowbot.offline.paths import DirectoryPatterns, checks_of, directory_warnings
from shadowbot.offline.run import judge_history, new_backtest
from shadowbot.resources import bundled_path
from shadowbot.rules import Rule, load_rules
from shadowbot.settings import load_settings
from shadowbot.snapshot import FileChange

BUNDLED_HISTORY = Path(__file__).parent.parent / "examples" / "history.jsonl.gz"
SETTINGS = load_settings({})
PYTHON_MODULES = "pkgs/development/python-modules"
REQUESTS = f"{PYTHON_MODULES}/requests/default.nix"


def scoped(name, *scope):
    return Rule.from_checks(
        name=name, version=1, description="test", applies_when=scope, requires=[c.not_draft()]
    )


def warnings_on(tmp_path, rules, *paths):
    history = write_history(tmp_path / "h.jsonl", record(1, opened(paths=list(paths))))
    patterns = DirectoryPatterns(rules)
    for pr in HistoryReader(history):
        patterns.see_record(pr)
    return patterns.warnings()


def test_a_directory_without_its_slash_is_warned_about_naming_rule_check_and_fix(tmp_path):
    rules = [scoped("python", c.only_touches(PYTHON_MODULES))]
    [warning] = warnings_on(tmp_path, rules, REQUESTS, "doc/index.md")
    assert warning.startswith(f"rule python@1: check 'only touches {PYTHON_MODULES}': ")
    assert f"'{PYTHON_MODULES}' names a directory in this history ({REQUESTS})" in warning
    assert f"write '{PYTHON_MODULES}/'" in warning


def test_the_trailing_slash_a_file_and_an_unseen_directory_are_not_warned_about(tmp_path):
    rules = [
        scoped("slash", c.only_touches(f"{PYTHON_MODULES}/")),
        scoped("file", c.touches_any("flake.nix", "*.md")),
        scoped("unseen", c.only_touches("nixos/modules")),
    ]
    assert warnings_on(tmp_path, rules, REQUESTS, "flake.nix", "doc/index.md") == []


def test_globs_unanchored_names_and_every_path_argument_are_looked_at(tmp_path):
    rules = [
        scoped("glob", c.only_touches("doc/", "pkgs/*/python-modules")),
        scoped("anywhere", c.max_changed_files(3), c.touches_any("flake.nix", "doc")),
    ]
    found = warnings_on(tmp_path, rules, REQUESTS, "nixos/doc/manual.md")
    assert [w.split(": check")[0] for w in found] == ["rule glob@1", "rule anywhere@1"]
    assert "'pkgs/*/python-modules/'" in found[0]
    assert "'doc' names a directory in this history (nixos/doc/manual.md)" in found[1]


def test_a_renamed_files_old_path_counts(tmp_path):
    event = opened(paths=["pkgs/by-name/re/requests/package.nix"])
    event["files"][0].update(status="renamed", previous_path=REQUESTS)
    history = write_history(tmp_path / "h.jsonl", record(1, event))
    found = directory_warnings(
        [scoped("python", c.only_touches(PYTHON_MODULES))],
        (path for pr in HistoryReader(history) for f in pr.events[0].files for path in f.paths),
    )
    assert len(found) == 1


def test_what_shards_of_a_history_saw_is_merged(tmp_path):
    rules = [scoped("python", c.only_touches(PYTHON_MODULES)), scoped("doc", c.touches_any("doc"))]
    first, second = DirectoryPatterns(rules), DirectoryPatterns(rules)
    first.see("doc/index.md")
    second.see(REQUESTS)
    first.merge(pickle.loads(pickle.dumps(second)))  # as it comes back from a process
    assert [w.split(": check")[0] for w in first.warnings()] == ["rule python@1", "rule doc@1"]


def test_checks_of_a_defined_rule_are_read_from_its_module(tmp_path):
    (tmp_path / "python.py").write_text(
        "from shadowbot.checks import only_touches\n"
        "from shadowbot.rules import Rule\n"
        "from shadowbot.verdict import Verdict\n"
        f"SCOPE = [only_touches({PYTHON_MODULES!r})]\n"
        "@Rule.define(name='python', version=2, description='d')\n"
        "def rule(pr):\n"
        "    return Verdict.from_checks(tuple(check(pr) for check in SCOPE))\n"
    )
    [rule] = load_rules(tmp_path)
    [warning] = directory_warnings([rule], [REQUESTS])
    assert warning.startswith("rule python@2: check 'only touches ")


def test_checks_of_a_rule_from_checks_are_all_its_checks():
    scope, required = c.only_touches("doc/"), c.checks_green()
    rule = Rule.from_checks(
        name="r", version=1, description="d", applies_when=[scope], requires=[required]
    )
    assert set(map(id, checks_of(rule))) == {id(scope), id(required)}


def test_only_path_checks_record_their_patterns():
    assert c.only_touches("doc/", "*.md").file_patterns == ("doc/", "*.md")
    assert c.touches_any("flake.nix").file_patterns == ("flake.nix",)
    assert c.confined_to_one("pkgs/by-name/*/*").file_patterns == ()
    assert c.checks_green("build").file_patterns == ()


def test_confined_to_one_reads_a_trailing_slash_as_the_same_directory():
    package = make_pr(
        files=[
            FileChange("pkgs/by-name/he/hello/package.nix"),
            FileChange("pkgs/by-name/he/hello/tests/run.nix"),
        ]
    )
    for pattern in ("pkgs/by-name/*/*", "pkgs/by-name/*/*/"):
        outcome = c.confined_to_one(pattern)(package)
        assert (outcome.passed, outcome.detail) == (True, "pkgs/by-name/he/hello")


# -- the bundled history -------------------------------------------------------------


def bundled_warnings(rules):
    patterns = DirectoryPatterns(rules)
    for pr in HistoryReader(BUNDLED_HISTORY):
        patterns.see_record(pr)
    return patterns.warnings()


def test_a_rule_without_the_slash_is_caught_on_the_bundled_history(tmp_path):
    rules_dir = tmp_path / "rules"
    shutil.copytree(bundled_path("rules"), rules_dir)
    (rules_dir / "python_modules.py").write_text(
        "from shadowbot.checks import approved_by_writers, only_touches\n"
        "from shadowbot.rules import Rule\n"
        "rule = Rule.from_checks(name='python-modules', version=1, description='d',\n"
        f"    applies_when=[only_touches({PYTHON_MODULES!r})],\n"
        "    requires=[approved_by_writers(1)])\n"
    )
    [warning] = bundled_warnings(load_rules(rules_dir))
    assert warning.startswith(f"rule python-modules@1: check 'only touches {PYTHON_MODULES}'")
    assert f"write '{PYTHON_MODULES}/'" in warning


def test_as_a_backtest_observer_it_warns_on_the_bundled_history_of_no_bundled_rule():
    rules = [*load_rules(bundled_path("rules")), scoped("python", c.only_touches(PYTHON_MODULES))]
    patterns = DirectoryPatterns(rules)
    with Engine(rules, SETTINGS.rule_timeout) as engine:
        backtest = new_backtest(engine, SETTINGS, observers=[patterns])
        judge_history(HistoryReader(BUNDLED_HISTORY), engine, [backtest])
    assert backtest.records == 10_000
    [warning] = patterns.warnings()
    assert warning.startswith("rule python@1: ")


def test_the_trap_is_real_on_the_bundled_history():
    """Without the slash the scope never holds; with it, it does on some pull requests."""
    without, with_slash = c.only_touches(PYTHON_MODULES), c.only_touches(f"{PYTHON_MODULES}/")
    reader = HistoryReader(BUNDLED_HISTORY)
    firsts = [next(snapshots(pr, "example"), (0, None))[1] for pr in reader]
    opened_prs = [pr for pr in firsts if pr is not None]
    assert not any(without.passes(pr) for pr in opened_prs)
    assert sum(with_slash.passes(pr) for pr in opened_prs) > 10
