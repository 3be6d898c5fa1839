"""docs/rules.md, the rule author's reference, is what scripts/rules_reference.py makes
from the code today, and what it says holds: every check and snapshot field is in it,
each check reads what its ``Reads:`` says, its example builds it, and every name a rule
file imports is there with the module it comes from."""

import ast
import dataclasses
import importlib.util
import inspect
import itertools
import re
import subprocess
import sys
from pathlib import Path

import pytest
from snapshots import approve, make_pr, request_changes, writer

from shadowbot import checks
from shadowbot.offline.backtest import snapshots
from shadowbot.offline.history import HistoryReader
from shadowbot.snapshot import FileChange

ROOT = Path(__file__).parent.parent
SCRIPT = ROOT / "scripts" / "rules_reference.py"
DOCUMENT = ROOT / "docs" / "rules.md"

_spec = importlib.util.spec_from_file_location("rules_reference", SCRIPT)
assert _spec is not None and _spec.loader is not None
reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(reference)

CHECKS = list(reference.public_checks())


def test_the_committed_reference_is_what_the_code_says():
    fresh = reference.render()
    assert DOCUMENT.read_text(encoding="utf-8") == fresh, (
        f"docs/rules.md disagrees with the code's docstrings; regenerate it: {reference.REGENERATE}"
    )


def test_check_mode_fails_on_a_stale_document_and_says_how_to_regenerate(tmp_path):
    stale = tmp_path / "rules.md"
    stale.write_text(DOCUMENT.read_text().replace("Every changed file", "Each file"))
    run = subprocess.run(
        [sys.executable, str(SCRIPT), "--check", str(stale)], capture_output=True, text=True
    )
    assert run.returncode == 1
    assert "-Each file matches one of `patterns`" in run.stderr
    assert run.stderr.rstrip().endswith(
        "regenerate it: .venv/bin/python scripts/rules_reference.py > docs/rules.md"
    )
    stale.write_text(reference.render())
    again = subprocess.run([sys.executable, str(SCRIPT), "--check", str(stale)])
    assert again.returncode == 0


def test_every_check_and_every_snapshot_field_is_in_the_reference():
    text = DOCUMENT.read_text()
    every_function = {
        name
        for name, value in vars(checks).items()
        if inspect.isfunction(value)
        and value.__module__ == checks.__name__
        and not name.startswith("_")
    }
    assert {name for name, _ in CHECKS} == every_function - {"compile_glob"}
    for name, _ in CHECKS:
        assert f"#### `{name}(" in text
    for cls in reference.SNAPSHOT_PARTS:
        section = text.split(f"### `{cls.__name__}`\n")[1].split("\n### ")[0]
        for field in dataclasses.fields(cls):
            assert f"- `{field.name}`: `{field.type}`" in section


class Recording:
    """A snapshot that notes which of its attributes a check reads."""

    def __init__(self, pr):
        self._pr = pr
        self.read = set()

    def __getattr__(self, name):
        self.read.add(name)
        return getattr(self._pr, name)


def varied_snapshots():
    """The bundled history's first pull requests, and the corners they may lack."""
    reader = HistoryReader(ROOT / "examples" / "history.jsonl.gz")
    for record in itertools.islice(reader, 300):
        for _, pr in snapshots(record, "example/pkgs"):
            yield pr
    yield make_pr(files=[])
    yield make_pr(files=["doc/index.md"], owners=["alice"], reviews=[approve(writer("alice"))])
    yield make_pr(reviews=[request_changes(writer("carol"))])
    yield make_pr(files=[FileChange("doc/a.md", "renamed", previous_path="src/a.py")])
    yield dataclasses.replace(make_pr(), files_missing=2)


@pytest.fixture(scope="module")
def varied():
    return list(varied_snapshots())


@pytest.mark.parametrize(("name", "function"), CHECKS, ids=[name for name, _ in CHECKS])
def test_a_check_reads_what_its_reference_says_and_its_example_builds_it(name, function, varied):
    doc = reference.check_doc(name, function)
    example = doc["example"].strip("`")
    assert example.startswith(f"{name}(")
    check = eval(example, vars(checks))  # the reference's own example
    assert isinstance(check, checks.Check)
    read = set()
    for pr in varied:
        recording = Recording(pr)
        check.passes(recording)
        check.explain(recording)
        read |= recording.read
    assert sorted(read) == sorted(reference.read_names(doc["reads"])), (
        f"{name}: the docstring's Reads: paragraph is wrong"
    )


def imported_names(source):
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("shadowbot"):
            for alias in node.names:
                yield node.module, alias.name


def test_every_name_a_rule_file_imports_is_in_the_reference_with_its_module():
    sources = [path.read_text() for path in sorted((ROOT / "rules").glob("*.py"))]
    readme = (ROOT / "README.md").read_text()
    sources += re.findall(r"```python\n(.*?)```", readme, re.DOTALL)
    wanted = {pair for source in sources for pair in imported_names(source)}
    assert ("shadowbot.rules", "Rule") in wanted
    text = DOCUMENT.read_text()
    imports = text.split("```python\n")[1].split("```")[0]
    offered = {
        (module, name.strip())
        for module, names in re.findall(r"^from (\S+) import (.*)$", imports, re.MULTILINE)
        for name in names.split("#")[0].split(",")
    }
    for module, name in sorted(wanted):
        in_checks = f"#### `{name}(" in text and module == "shadowbot.checks"
        assert (module, name) in offered or in_checks, f"{module}.{name} is not in docs/rules.md"


@dataclasses.dataclass
class HalfDocumented:
    #: Documented.
    kept: int
    lost: int


def test_a_hole_in_the_docstrings_stops_the_script_with_one_line(monkeypatch, capsys):
    with pytest.raises(reference.ReferenceError, match=r"HalfDocumented\.lost: no '#:'"):
        reference.fields_list(HalfDocumented)
    monkeypatch.setattr(checks.not_draft, "__doc__", "The pull request is not a draft.")
    assert reference.main([]) == 2
    err = capsys.readouterr().err
    assert err == (
        "rules_reference: shadowbot.checks.not_draft: the docstring lacks a 'Reads:' paragraph\n"
    )
