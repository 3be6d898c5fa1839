"""Backtest speed and memory against the floor: parsing the same history.

    python bench/backtest.py [--count 100000] [--repeat 2]

In one run, each in a fresh process: the time to only read and parse a generated history
of ``--count`` pull requests on one core (the floor: a backtest cannot avoid it); the
time to backtest it with every bundled rule on one core, as shipped and with every rule
evaluated after every event (``skip_unchanged=False``, the baseline before the skip);
and on two processes (``jobs=2``, two cores). Each ratio is to the parse (target 2x).
Every figure is the best of ``--repeat`` runs, as the machine may be shared: the load
average before and after, and each run's CPU seconds, say how busy it was. Memory: the
peak resident size of a backtest of a tenth of the history against that of the whole;
streaming means the ratio stays near 1.
"""

from __future__ import annotations

import argparse
import json
import os
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
    from shadowbot.offline.shards import judge_sharded
    from shadowbot.resources import bundled_path
    from shadowbot.rules import load_rules
    from shadowbot.settings import load_settings

    settings = load_settings({})
    reader = HistoryReader(path)
    rules = load_rules(bundled_path("rules"))

    def new_backtest(engine: Engine) -> Backtest:
        return Backtest(engine, settings.backtest_policy(), settings.thresholds_for)

    started, started_cpu = time.perf_counter(), time.process_time()
    records = 0
    if mode == "parse":
        for _ in reader:
            records += 1
    elif mode == "jobs2":
        backtest, _ = judge_sharded(reader, rules, settings, new_backtest, 2)
        records = backtest.records
    else:
        with Engine(rules, settings.rule_timeout) as engine:
            backtest = new_backtest(engine)
            backtest.skip_unchanged = mode == "backtest"
            for record in reader:
                backtest.add(record)
            records = backtest.records
    seconds = time.perf_counter() - started
    own_cpu = time.process_time() - started_cpu  # the shards were forked after the start
    own = resource.getrusage(resource.RUSAGE_SELF)
    shards = resource.getrusage(resource.RUSAGE_CHILDREN)
    shard_cpu = shards.ru_utime + shards.ru_stime
    peak_kib = max(own.ru_maxrss, shards.ru_maxrss)
    result = {
        "seconds": seconds,
        "cpu": own_cpu + shard_cpu,
        # The busier process's CPU seconds: the wall time on two otherwise idle cores.
        "busiest_cpu": max(own_cpu, shard_cpu),
        "records": records,
        "peak_mib": peak_kib / 1024,
    }
    print(json.dumps(result))


def child(mode: str, path: Path, repeat: int) -> dict[str, float]:
    """The best of ``repeat`` fresh processes. taskset pins single-process modes to one
    core (the figure is about one core's CPU work) and jobs2 to two."""
    command = [sys.executable, __file__, "--child", mode, str(path)]
    cores = "0,1" if mode == "jobs2" else "0"
    best: dict[str, float] | None = None
    for _ in range(repeat):
        try:
            run = subprocess.run(["taskset", "-c", cores, *command], capture_output=True, text=True)
        except FileNotFoundError:
            run = subprocess.run(command, capture_output=True, text=True)
        run.check_returncode()
        result: dict[str, float] = json.loads(run.stdout)
        if best is None or result["seconds"] < best["seconds"]:
            best = result
    assert best is not None
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs=2, metavar=("MODE", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        measure(args.child[0], Path(args.child[1]))
        return 0

    big = history(args.count, args.seed)
    small = history(args.count // 10, args.seed)
    load_before = os.getloadavg()
    parse = child("parse", big, args.repeat)
    full = child("backtest-full", big, 1)
    single = child("backtest", big, args.repeat)
    double = child("jobs2", big, args.repeat)
    single_small = child("backtest", small, 1)
    double_small = child("jobs2", small, 1)
    load_after = os.getloadavg()
    print(f"history: {int(parse['records'])} pull requests ({big.name})")
    print(f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f} (2 cores)")
    floor = parse["seconds"]
    print(f"parse only, 1 core:             {floor:7.2f} s  (cpu {parse['cpu']:.2f} s)")
    for name, result in (
        ("backtest, no skip, 1 core:", full),
        ("backtest, 1 core:", single),
        ("backtest, jobs=2, 2 cores:", double),
    ):
        per_pr_us = result["seconds"] / result["records"] * 1e6
        print(
            f"{name:32}{result['seconds']:7.2f} s  (cpu {result['cpu']:.2f} s,"
            f" {per_pr_us:.0f} µs per PR)  ratio {result['seconds'] / floor:.2f}x"
        )
    print(
        f"  jobs=2, CPU of the busier process: {double['busiest_cpu']:.2f} s, ratio"
        f" {double['busiest_cpu'] / parse['cpu']:.2f}x to the parse's CPU (the wall-clock ratio"
        " on two cores nobody else uses)"
    )
    for name, small_run, big_run in (
        ("1 core", single_small, single),
        ("jobs=2", double_small, double),
    ):
        print(
            f"peak RSS, {name}: {small_run['peak_mib']:.0f} MiB for"
            f" {int(small_run['records'])} PRs, {big_run['peak_mib']:.0f} MiB for"
            f" {int(big_run['records'])} PRs"
            f"  (growth {big_run['peak_mib'] / small_run['peak_mib']:.2f}x for 10x the history)"
        )
    return 0 if single["seconds"] / floor <= 5 else 1


if __name__ == "__main__":
    raise SystemExit(main())
