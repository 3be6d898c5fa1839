"""The bundled history generator: deterministic, streaming, valid, and the mix it promises.

The committed ``examples/history.jsonl.gz`` must be what the generator makes today, and the
outcome model must give the backtest demo its shape: the loose rule loses, the careful
rules on bot bumps, single packages and documentation never do.
"""

import gzip
import importlib.util
import itertools
import json
import re
import sys
from collections import Counter
from datetime import datetime
from pathlib import Path

import pytest

from shadowbot import checks as c
from shadowbot.core.engine import Engine
from shadowbot.core.ledger import RuleState
from shadowbot.offline.backtest import Backtest
from shadowbot.offline.history import HistoryReader
from shadowbot.rules import Rule
from shadowbot.settings import load_settings

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "examples" / "generate_history.py"
COMMITTED = ROOT / "examples" / "history.jsonl.gz"


def _load_generator():
    # As `python examples/generate_history.py` would: its folder first on the path, where
    # the script finds the history_generator package.
    if str(SCRIPT.parent) not in sys.path:
        sys.path.insert(0, str(SCRIPT.parent))
    spec = importlib.util.spec_from_file_location("generate_history", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while building
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def _lines(path: Path) -> list[str]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as f:
        return f.read().splitlines()


@pytest.fixture(scope="module")
def committed() -> list[dict]:
    return [json.loads(line) for line in _lines(COMMITTED)]


# -- a structural checker for docs/history-format.md ----------------------------------

STAMP = re.compile(r"\A\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ\Z")
PERMISSIONS = {"admin", "maintain", "write", "triage", "read", "none"}
ASSOCIATIONS = {
    "OWNER", "MEMBER", "COLLABORATOR", "CONTRIBUTOR", "FIRST_TIME_CONTRIBUTOR", "FIRST_TIMER",
    "NONE",
}  # fmt: skip
FILE_STATUSES = {"added", "removed", "modified", "renamed", "copied", "changed", "unchanged"}
CI_STATES = {"success", "failure", "pending", "neutral", "skipped", "cancelled", "error"}
REVIEW_STATES = {"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"}
REQUIRED = {
    "opened": {"head": str, "draft": bool, "labels": list, "files": list},
    "push": {"head": str},
    "review": {"by": dict, "state": str, "commit": str},
    "check": {"name": str, "source": str, "state": str, "commit": str},
    "labeled": {"label": str},
    "unlabeled": {"label": str},
    "ready_for_review": {},
    "converted_to_draft": {},
    "edited": {},
    "comment": {"by": dict, "body": str},
    "merged": {"by": dict, "commit": str},
    "closed": {"by": dict},
    "reopened": {"by": dict},
    "reverted": {"by": dict, "pr": int},
}


def when(text: str) -> datetime:
    assert STAMP.match(text), text
    return datetime.fromisoformat(text)


def check_actor(actor: dict) -> None:
    assert isinstance(actor["login"], str) and actor["login"]
    assert actor.get("type", "User") in {"User", "Bot", "Organization"}
    assert actor.get("association", "NONE") in ASSOCIATIONS
    assert actor.get("permission", "none") in PERMISSIONS


def check_files(files: list) -> None:
    assert files
    for f in files:
        assert isinstance(f["path"], str) and f["status"] in FILE_STATUSES
        assert f["additions"] >= 0 and f["deletions"] >= 0
        assert all(isinstance(owner, str) for owner in f["owners"])


def check_event(event: dict, head: str) -> None:
    kind = event["type"]
    for key, kind_of in REQUIRED[kind].items():
        assert isinstance(event[key], kind_of), (kind, key)
    if "by" in event:
        check_actor(event["by"])
    if kind in ("opened", "push") and "files" in event:
        check_files(event["files"])
    elif kind == "review":
        assert event["state"] in REVIEW_STATES
        # A review is on the head of its time; a dismissal names the review's old commit.
        assert event["state"] == "DISMISSED" or event["commit"] == head
    elif kind == "check":
        assert event["source"] in {"check_run", "status"} and event["state"] in CI_STATES
        assert event["commit"] == head
    elif kind == "merged":
        assert event["commit"] == head
        assert event["by"]["permission"] in {"write", "maintain", "admin"}


def check_record(record: dict) -> None:
    assert isinstance(record["number"], int) and record["number"] > 0
    assert isinstance(record["title"], str) and isinstance(record["body"], str)
    assert isinstance(record["base"], str)
    check_actor(record["author"])
    events = record["events"]
    assert events and events[0]["type"] == "opened"
    assert when(record["created_at"]) == when(events[0]["at"])
    head, previous, merged = "", None, False
    for event in events:
        at = when(event["at"])
        assert previous is None or at >= previous, "timestamps go back"
        previous = at
        if event["type"] in ("opened", "push"):
            head = event["head"]
        check_event(event, head)
        assert event["type"] != "opened" or event is events[0]
        if merged:
            assert event["type"] in {"comment", "reverted"}, event["type"]
        if event["type"] == "reverted":
            assert merged and event["pr"] > record["number"]
        merged = merged or event["type"] == "merged"


def check_history(lines: list[dict]) -> None:
    header, records = lines[0], lines[1:]
    assert header["shadowbot_history"] == 1 and isinstance(header["repository"], str)
    ends = [when(record["events"][-1]["at"]) for record in records]
    assert ends == sorted(ends), "records are not ordered by their last event"
    assert len({record["number"] for record in records}) == len(records)
    for record in records:
        check_record(record)


# -- determinism and streaming ----------------------------------------------------------


def test_same_seed_same_bytes_and_another_seed_other_bytes(tmp_path):
    paths = [tmp_path / name for name in ("a.jsonl.gz", "b.jsonl.gz", "c.jsonl.gz")]
    for path, seed in zip(paths, ("5", "5", "6"), strict=True):
        assert gen.main(["--count", "300", "--seed", seed, "--output", str(path)]) == 0
    a, b, other = (path.read_bytes() for path in paths)
    assert a == b
    assert gzip.decompress(a) != gzip.decompress(other)


def test_plain_output_is_the_generated_lines(tmp_path):
    path = tmp_path / "h.jsonl"
    gen.main(["--count", "40", "--seed", "3", "--output", str(path)])
    expected = [json.dumps(obj, separators=(",", ":")) for obj in gen.generate(40, 3)]
    assert path.read_text(encoding="utf-8").splitlines() == expected
    assert len(expected) == 41


def test_generation_streams():
    # A billion records would never fit: the first ones must come out right away.
    first = list(itertools.islice(gen.generate(10**9, seed=1), 200))
    assert first[0]["shadowbot_history"] == 1 and len(first) == 200


def test_generated_history_is_valid_and_readable(tmp_path):
    lines = list(gen.generate(2000, seed=11))
    check_history(lines)
    path = tmp_path / "h.jsonl"
    gen.main(["--count", "2000", "--seed", "11", "--output", str(path)])
    records = list(HistoryReader(path, strict=True))
    assert [r.number for r in records] == [line["number"] for line in lines[1:]]


def test_committed_history_is_a_fresh_generation(tmp_path):
    fresh = tmp_path / "history.jsonl.gz"
    gen.main(["--output", str(fresh)])
    # The uncompressed content is the contract; the .gz bytes also depend on zlib's build.
    assert gzip.decompress(fresh.read_bytes()) == gzip.decompress(COMMITTED.read_bytes())


def test_committed_history_is_valid(committed):
    assert len(committed) == 10_001
    check_history(committed)


# -- the mix ----------------------------------------------------------------------------

BUMP = re.compile(r"\A[\w.+-]+: (\S+) -> (?!\1\Z)\S+\Z")
PACKAGE_DIR = re.compile(r"\Apkgs/by-name/[^/]+/[^/]+/")
DOCS = re.compile(r"\A(doc/|nixos/doc/)|\.md\Z")


def kind(record: dict) -> str:
    files = record["events"][0]["files"]
    paths = [f["path"] for f in files]
    packages = {m.group(0) for m in map(PACKAGE_DIR.match, paths) if m}
    if record["author"]["type"] == "Bot":
        return "bot bump"
    if record["title"].startswith("Revert"):
        return "revert"
    if all(DOCS.search(p) for p in paths):
        return "docs"
    if any(p.startswith("nixos/modules/") for p in paths):
        return "module"
    if len(packages) > 1 or any(p.startswith(("lib/", "pkgs/stdenv/", "pkgs/top-")) for p in paths):
        return "wide"
    if any(f["status"] == "added" and f["path"].endswith("/package.nix") for f in files):
        return "new package"
    if len(packages) == 1 and len(packages) == len({p.rsplit("/", 1)[0] for p in paths}):
        return "single package"
    return "misc"


def shares(records: list[dict], key) -> Counter:
    counts = Counter(key(r) for r in records)
    return Counter({k: v / len(records) for k, v in counts.items()})


def test_mix_of_kinds_bases_and_outcomes(committed):
    records = committed[1:]
    kinds = shares(records, kind)
    expected = {
        "bot bump": (0.28, 0.42), "single package": (0.16, 0.28), "new package": (0.05, 0.11),
        "docs": (0.05, 0.11), "module": (0.08, 0.16), "wide": (0.07, 0.13), "misc": (0.02, 0.08),
        "revert": (0.0005, 0.02),
    }  # fmt: skip
    for name, (low, high) in expected.items():
        assert low <= kinds[name] <= high, (name, kinds[name])
    bumps = [r for r in records if r["author"]["login"] == "update-bot[bot]"]
    assert all(BUMP.match(r["title"]) for r in bumps)

    bases = shares(records, lambda r: r["base"].split("-")[0])
    assert 0.85 <= bases["master"] and 0.05 <= bases["staging"] <= 0.12
    assert 0.005 <= bases["release"] <= 0.04

    def end(record: dict) -> str:
        types = [e["type"] for e in record["events"]]
        if "merged" in types:
            return "reverted" if "reverted" in types else "merged"
        return "closed" if types[-1] == "closed" else "open"

    ends = shares(records, end)
    assert 0.65 <= ends["merged"] and 0.06 <= ends["closed"] <= 0.25
    assert 0.02 <= ends["open"] <= 0.15 and 0.001 <= ends["reverted"] <= 0.02
    assert 5 <= sum(len(r["events"]) for r in records) / len(records) <= 12.5


def test_people_and_timeline_features(committed):
    records = committed[1:]
    actors = {}
    events = Counter()
    for record in records:
        actors[record["author"]["login"]] = record["author"]
        for event in record["events"]:
            events[event["type"], event.get("state", "")] += 1
            if "by" in event:
                actors[event["by"]["login"]] = event["by"]
    permissions = Counter(a["permission"] for a in actors.values())
    assert 35 <= permissions["write"] <= 45 and 3 <= permissions["admin"] <= 5
    assert permissions["read"] + permissions["none"] >= 800
    assert {a["login"] for a in actors.values() if a["type"] == "Bot"} == {
        "update-bot[bot]",
        "dependency-bot[bot]",
    }
    for kind_, state in [
        ("review", "APPROVED"), ("review", "CHANGES_REQUESTED"), ("review", "COMMENTED"),
        ("review", "DISMISSED"), ("check", "pending"), ("check", "failure"),
        ("check", "skipped"), ("ready_for_review", ""), ("converted_to_draft", ""),
        ("edited", ""), ("comment", ""), ("reopened", ""), ("labeled", ""), ("push", ""),
    ]:  # fmt: skip
        assert events[kind_, state] >= 10, (kind_, state)
    first, last = when(records[0]["events"][-1]["at"]), when(records[-1]["events"][-1]["at"])
    assert first.year == 2023 and 650 <= (last - first).days <= 800
    owners = {o for r in records for f in r["events"][0]["files"] for o in f["owners"]}
    owned_by_outsiders = {o for o in owners if actors.get(o, {}).get("permission") == "read"}
    assert len(owned_by_outsiders) >= 100  # maintainers without commit rights own packages


# -- the outcome model, as the backtest sees it -----------------------------------------

LOOSE = Rule.from_checks(
    name="loose", version=1, description="any approval on the current head",
    applies_when=[c.not_draft()], requires=[c.approved_by_anyone(1)],
)  # fmt: skip
OWNED_PACKAGE = Rule.from_checks(
    name="owned-package", version=1, description="one package, its code owners approve",
    applies_when=[c.confined_to_one("pkgs/by-name/*/*")],
    requires=[c.approved_by_code_owners(), c.checks_green(), c.no_changes_requested(),
              c.not_draft()],
)  # fmt: skip
OWNED_BUMP = Rule.from_checks(
    name="owned-bump", version=1, description="a bot's bump, a code owner approves",
    applies_when=[c.author_is_bot(), c.confined_to_one("pkgs/by-name/*/*")],
    requires=[c.approved_by_code_owners(), c.checks_green(), c.no_changes_requested()],
)  # fmt: skip
DOCS_WRITER = Rule.from_checks(
    name="docs-writer", version=1, description="documentation, a writer approves",
    applies_when=[c.only_touches("doc/", "nixos/doc/", "**/*.md")],
    requires=[c.approved_by_writers(1), c.checks_green(), c.no_changes_requested(),
              c.not_draft()],
)  # fmt: skip
WRITER_PAIR = Rule.from_checks(
    name="writer-pair", version=1, description="a writer's change, another writer approves",
    applies_when=[c.author_can_write()],
    requires=[c.approved_by_writers(1), c.checks_green(), c.no_changes_requested()],
)  # fmt: skip


def test_outcome_model_gives_the_demo_its_shape():
    settings = load_settings({})
    rules = (LOOSE, OWNED_PACKAGE, OWNED_BUMP, DOCS_WRITER, WRITER_PAIR)
    with Engine(rules, timeout=5.0) as engine:
        backtest = Backtest(engine, settings.backtest_policy(), settings.thresholds_for)
        for record in HistoryReader(COMMITTED, strict=True):
            backtest.add(record)
    ledger = {report.rule.name: report.record for report in backtest.summary()}

    loose = ledger["loose"]
    assert 24 <= loose.losses <= 300 and loose.state is RuleState.DISABLED
    assert all(change.after is not RuleState.PROMOTED for change in loose.changes)
    for careful in ("owned-package", "owned-bump", "docs-writer"):
        assert ledger[careful].losses == 0, careful
        assert ledger[careful].wins >= 300, careful
        assert ledger[careful].missed > 0, careful  # merged without a fresh approval
    # Wide changes carry a hidden risk: writers' approvals of them are a medium risk.
    assert 4 <= ledger["writer-pair"].losses <= 60 and ledger["writer-pair"].wins >= 500
