"""Loading rules from a directory: one rule a file, helpers, source hashes, clear errors."""

import sys
import textwrap

import pytest

from shadowbot.errors import RuleLoadError
from shadowbot.rules import load_rules

RULE = """
from shadowbot.checks import not_draft
from shadowbot.rules import Rule
{imports}
rule = Rule.from_checks(name="{name}", version={version}, description="d", requires=[{check}])
"""


def write(directory, filename, name="mine", version=1, check="not_draft()", imports=""):
    directory.mkdir(exist_ok=True)
    text = RULE.format(name=name, version=version, check=check, imports=imports)
    (directory / filename).write_text(textwrap.dedent(text))


def test_rules_load_sorted_by_name_with_the_hash_of_their_source(tmp_path):
    write(tmp_path, "b.py", name="zebra")
    write(tmp_path, "a.py", name="antelope")
    first = load_rules(tmp_path)
    assert [r.name for r in first] == ["antelope", "zebra"]
    assert first[0].source_hash != first[1].source_hash
    assert [r.source_hash for r in load_rules(tmp_path)] == [r.source_hash for r in first]
    write(tmp_path, "a.py", name="antelope", check="not_draft(), not_draft()")
    assert load_rules(tmp_path)[0].source_hash != first[0].source_hash


def test_a_helper_file_is_importable_and_part_of_every_rules_source(tmp_path):
    (tmp_path / "_shared.py").write_text(
        "from shadowbot.checks import not_draft\nREADY = not_draft()\n"
    )
    write(tmp_path, "a.py", check="READY", imports="from _shared import READY")
    before = load_rules(tmp_path)[0]
    (tmp_path / "_shared.py").write_text(
        "from shadowbot.checks import not_draft\nREADY = not_draft()  # edited\n"
    )
    after = load_rules(tmp_path)[0]
    assert after.source_hash != before.source_hash


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"a.py": RULE, "b.py": RULE}, "rule mine is defined twice"),
        ({"a.py": "x = 1\n"}, "defines 0 rules; a rule file defines exactly one"),
        ({"a.py": "raise RuntimeError('boom')\n"}, "a.py: RuntimeError: boom"),
        ({"a.py": RULE.replace('"{name}"', '"Bad Name"')}, "must be lowercase letters"),
        ({"a.py": RULE.replace("version={version}", "version=0")}, "version must be at least 1"),
        ({"a.py": RULE.replace('description="d"', 'description=" "')}, "a description is required"),
        ({}, "no rule files"),
    ],
)
def test_bad_rule_directories_are_refused_with_a_clear_message(tmp_path, files, message):
    for filename, text in files.items():
        (tmp_path / filename).write_text(
            textwrap.dedent(text.format(name="mine", version=1, check="not_draft()", imports=""))
        )
    with pytest.raises(RuleLoadError, match=message):
        load_rules(tmp_path)


def test_a_missing_directory_is_named(tmp_path):
    with pytest.raises(RuleLoadError, match="does not exist"):
        load_rules(tmp_path / "nowhere")


def test_only_the_rules_own_helpers_are_unloaded_afterwards(tmp_path, monkeypatch):
    # A library module whose name starts with "_" (like the stdlib's _decimal) stays
    # imported; the directory's own helper is dropped, so another directory gets its own.
    library = tmp_path / "site"
    library.mkdir()
    (library / "_accelerated.py").write_text("FAST = True\n")
    monkeypatch.syspath_prepend(str(library))
    monkeypatch.delitem(sys.modules, "_accelerated", raising=False)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "_shared.py").write_text(
        "from shadowbot.checks import not_draft\nREADY = not_draft()\n"
    )
    write(rules, "a.py", check="READY", imports="from _shared import READY\nimport _accelerated")
    load_rules(rules)
    assert "_accelerated" in sys.modules and "_shared" not in sys.modules
