"""The backtest's fast path decides exactly as the full, explained evaluation does."""

import itertools
from pathlib import Path

from shadowbot.offline.backtest import snapshots
from shadowbot.offline.history import HistoryReader
from shadowbot.resources import bundled_path
from shadowbot.rules import load_rules


def test_every_bundled_rule_decides_as_it_explains_on_the_bundled_history():
    rules = load_rules(bundled_path("rules"))
    reader = HistoryReader(Path(__file__).parent.parent / "examples" / "history.jsonl.gz")
    compared = 0
    for record in itertools.islice(reader, 2000):
        for _, snapshot in snapshots(record, "example/pkgs"):
            for rule in rules:
                explained = rule.evaluate(snapshot)
                assert rule.decide(snapshot).decision is explained.decision, (
                    rule.name,
                    record.number,
                    explained.checklist,
                )
                compared += 1
    assert compared > 50_000
