"""Backtest speed and memory against the floor: parsing the same history.

    python bench/backtest.py [--count 100000]

In one run, on one core, each in a fresh process: the time to only read and parse a
generated history of ``--count`` pull requests (the floor: a backtest cannot avoid it),
the time to backtest it with every bundled rule, and the ratio of the two (target <= 5x,
stretch 2x). Memory: the peak resident size of a backtest of the first tenth of the
history against that of the whole; streaming means the ratio stays near 1.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def history(count: int, seed: int) -> Path:
    path = OUT / f"history-{count}-{seed}.jsonl.gz"
    if not path.exists():
        OUT.mkdir(parents=True, exist_ok=True)
        generator = ROOT / "examples" / "generate_history.py"
        args = [str(count), "--seed", str(seed), "--output", str(path)]
        subprocess.run([sys.executable, str(generator), "--count", *args], check=True)
    return path


def measure(mode: str, path: Path) -> None:
    """Run in a child process: print JSON with seconds, records and peak RSS."""
    from shadowbot.core.engine import Engine
    from shadowbot.offline.backtest import Backtest
    from shadowbot.offline.history import HistoryReader
    from shadowbot.resources import bundled_path
    from shadowbot.rules import load_rules
    from shadowbot.settings import load_settings

    settings = load_settings({})
    reader = HistoryReader(path)
    started = time.perf_counter()
    records = 0
    if mode == "parse":
        for _ in reader:
            records += 1
    else:
        rules = load_rules(bundled_path("rules"))
        with Engine(rules, settings.rule_timeout) as engine:
            backtest = Backtest(engine, settings.backtest_policy(), settings.thresholds_for)
            for record in reader:
                backtest.add(record)
            records = backtest.records
    seconds = time.perf_counter() - started
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"seconds": seconds, "records": records, "peak_mib": peak_kib / 1024}))


def child(mode: str, path: Path) -> dict[str, float]:
    # taskset pins the child to one core: the target is about single-core CPU work.
    command = [sys.executable, __file__, "--child", mode, str(path)]
    pinned = ["taskset", "-c", "0", *command]
    try:
        output = subprocess.run(pinned, check=True, capture_output=True, text=True).stdout
    except FileNotFoundError:
        output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    result: dict[str, float] = json.loads(output)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.child[0], Path(args.child[1]))
        return 0

    big = history(args.count, args.seed)
    small = history(args.count // 10, args.seed)
    parse = child("parse", big)
    backtest = child("backtest", big)
    backtest_small = child("backtest", small)
    ratio = backtest["seconds"] / parse["seconds"]
    per_pr_us = backtest["seconds"] / backtest["records"] * 1e6
    growth = backtest["peak_mib"] / backtest_small["peak_mib"]
    print(f"history: {int(parse['records'])} pull requests ({big.name})")
    print(f"parse only:          {parse['seconds']:7.2f} s")
    print(f"backtest, all rules: {backtest['seconds']:7.2f} s  ({per_pr_us:.0f} µs per PR)")
    print(f"ratio backtest/parse: {ratio:.2f}x  (target <= 5x, stretch 2x)")
    print(
        f"peak RSS: {backtest_small['peak_mib']:.0f} MiB for {int(backtest_small['records'])} PRs,"
        f" {backtest['peak_mib']:.0f} MiB for {int(backtest['records'])} PRs"
        f"  (growth {growth:.2f}x for 10x the history)"
    )
    return 0 if ratio <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
