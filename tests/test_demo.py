"""`shadowbot demo` tells its story from start to end on this machine: verdicts, a
merger's 👎 scored as a loss, a contributor's 👎 kept but not scored, a loose rule
disabled, merges won after the grace period, a rule promoted, the ledger verified. And
`run_demo(script=...)` plays a scenario script instead."""

import json
from pathlib import Path

import pytest

from shadowbot.cli import main
from shadowbot.errors import ShadowbotError
from shadowbot.live.demo import run_demo
from shadowbot.settings import Settings
from shadowbot.simulator import SimulatorError

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
COLUMNS = ("state", "wins", "losses", "neutral", "missed", "pending", "loss bound")


def ledger(out):
    """The ledger table the demo ends with: {rule: {column: cell}}."""
    lines = out.split("The ledger (one line per rule version):\n", 1)[1].splitlines()
    rows = {}
    for line in lines[1:]:
        cells = line.split()
        if not cells or "@" not in cells[0]:
            break
        rows[cells[0]] = dict(zip(COLUMNS, cells[1:], strict=True))
    return rows


def test_the_demo_plays_the_whole_feedback_loop_and_verifies_the_ledger(tmp_path, capsys):
    database = tmp_path / "demo.db"
    assert main(["demo", "--database", str(database)]) == 0
    out = capsys.readouterr().out
    assert "Thresholds are lowered for this demo" in out
    # Verdicts, as before.
    assert "shadowbot on #1: comment" in out and "bot-version-bump@1" in out
    assert "no rule claims merge any more  (the approval was on the old head)" in out
    assert "note by dave: 'the macOS steps are untested'" in out
    assert "outcome: merged" in out
    # A merger's 👎 is a loss for the rule that claimed; a non-merger's is not scored.
    assert "any-approval@1 on #2: loss (carol's 👎 on a verdict in which it claimed merge)" in out
    assert "dave's 👎 on #1: community feedback (read permission" in out
    assert "not scored" in out
    # Two losses disable the loose rule, and its open verdicts say so.
    assert "any-approval@1: shadow -> disabled (2 losses, more than the 1 allowed)" in out
    assert "now say: - `any-approval@1`: 2 losses, more than the 1 allowed" in out
    assert "shadowbot on #3: comment" in out and "no rule claims merge any more  (a disabled" in out
    # A merge is a win only after the grace period; two wins promote the careful rule.
    right_away = out.index("shadowbot settles right away:")
    win = out.index("bot-version-bump@1 on #1: win")
    assert right_away < out.index("nothing new settles", right_away) < win
    assert "bot-version-bump@1: shadow -> promoted (2 wins and no loss)" in out
    rows = ledger(out)
    loose, careful = rows["any-approval@1"], rows["bot-version-bump@1"]
    # any-approval's claim on #1 was superseded by a push: neutral.
    assert [loose[c] for c in ("state", "wins", "losses", "neutral")] == ["disabled", "0", "2", "1"]
    # dave's 👎 on #1 did not count against bot-version-bump.
    assert [careful[c] for c in ("state", "wins", "losses")] == ["promoted", "2", "0"]
    assert rows["small-two-approvals@1"]["missed"] == "2"  # it said hold on both merges
    assert "ledger verified: every result matches its evidence" in out
    assert "/acme/pkgs/pull/1" in out and str(database) in out
    assert database.exists()


async def test_the_example_scenario_disables_the_loose_rule(tmp_path):
    said = []
    script = EXAMPLES / "disable-a-rule.json"
    await run_demo(Settings(), tmp_path / "demo.db", 0, False, said.append, script=script)
    out = "\n".join(said)
    assert "any-approval@1 on #1: loss" in out and "any-approval@1 on #2: loss" in out
    assert "erin's 👎 on #1: community feedback" in out
    assert "any-approval@1: shadow -> disabled (2 losses, more than the 1 allowed)" in out
    assert "the verdict comments on #1, #2 now say: - `any-approval@1`: 2 losses" in out
    rows = ledger(out)
    assert (rows["any-approval@1"]["state"], rows["any-approval@1"]["losses"]) == ("disabled", "2")
    assert {row["state"] for rule, row in rows.items() if rule != "any-approval@1"} == {"shadow"}
    assert "ledger verified: every result matches its evidence" in out


async def test_a_script_step_that_fails_is_named(tmp_path):
    script = tmp_path / "early.json"
    steps = [
        {"do": "open_pr", "author": "dave", "title": "doc: typo", "files": ["README.md"]},
        {"do": "react_to_verdict", "number": 1, "user": "carol", "content": "-1"},
    ]
    script.write_text(json.dumps(steps))
    with pytest.raises(SimulatorError, match=r"step 2 \(react_to_verdict\): no verdict comment"):
        await run_demo(Settings(), tmp_path / "demo.db", 0, False, print, script=script)


async def test_a_script_that_is_not_json_is_refused_before_anything_starts(tmp_path):
    script = tmp_path / "broken.json"
    script.write_text('[{"do": "open_pr",}]')
    with pytest.raises(ShadowbotError, match="broken.json is not valid JSON"):
        await run_demo(Settings(), tmp_path / "demo.db", 0, False, print, script=script)
    assert not (tmp_path / "demo.db").exists()
