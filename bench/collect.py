"""Collecting a repository's history: rate-limit points, queries, wall time and CPU per PR.

    .venv/bin/python bench/collect.py            # --prs 10000; --files-per-head

The simulated GitHub runs in a child process, holding the first ``--prs`` pull requests of
the bundled history (``examples/history.jsonl.gz``: nixpkgs-like, 10,000 PRs) seeded in the
order they were opened (``shadowbot.simulator.graphql_seed.seed_history``, as the tests do),
with a CODEOWNERS on the default branch. This process runs the collector
(``shadowbot.offline.collect.collect``) against it over HTTP with an installation token,
the command's default page size, into a fresh file, and measures:

- the rate-limit points (what the simulator charged, GitHub's formula) and the queries,
  per 1,000 PRs, and per query kind;
- where the points go: each query's cost shared out among the connections it opens, in
  proportion to the requests each connection adds (GitHub's formula, worked out after the
  run from the documents sent, so it does not count as the collector's CPU);
- the wall time, the CPU of this process (the collector and its HTTP client) during the
  collection, and the simulator's CPU in the same time (its own process, reported apart);
- the projected time for 400,000 PRs at 5,000 points an hour (one installation's primary
  limit), from the points per PR;
- with ``--files-per-head``, the REST requests per 1,000 PRs (compares of the heads but the
  last, pages of a pull request's files for its renames), from GitHub's 5,000 an hour.

Targets: at most 60 points per 1,000 PRs and the collector's CPU under 2 ms per PR; exit 1
when either is missed. The load average before and after says how busy the machine was.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HISTORY = ROOT / "examples" / "history.jsonl.gz"
#: A CODEOWNERS of the shape nixpkgs has: a few broad patterns and teams.
CODEOWNERS = """\
/pkgs/by-name/ @example/pkgs-maintainers
/pkgs/top-level/ @example/core
*.nix @example/nix-reviewers
/lib/ @example/lib
/nixos/ @example/nixos
/doc/ @example/docs
"""
TARGET_POINTS = 60.0  # per 1,000 PRs
TARGET_CPU_MS = 2.0  # per PR
NIXPKGS_PRS = 400_000
POINTS_PER_HOUR = 5000


def load_records(count: int) -> tuple[str, list[dict[str, Any]]]:
    with gzip.open(HISTORY, "rt", encoding="utf-8") as handle:
        header = json.loads(handle.readline())
        records = [json.loads(line) for line in handle if line.strip()]
    records.sort(key=lambda record: (record["created_at"], record["number"]))
    if count > len(records):
        raise SystemExit(f"--prs: the bundled history holds {len(records)} pull requests")
    return header["repository"], records[:count]


# --- the simulator's process ----------------------------------------------------------------


def serve(count: int) -> None:
    """Seed and serve; print {url, token, repository} as a line; on a line from stdin, print
    {cpu, points} (this process's CPU since the seeding ended) and stop."""
    from shadowbot.simulator import Simulator
    from shadowbot.simulator.graphql_seed import seed_history

    repository, records = load_records(count)

    async def main() -> None:
        async with Simulator.running(repos=[repository], token_ttl=10**7) as sim:
            sim.set_codeowners(repository, CODEOWNERS)
            seed_history(sim.state, repository, records)
            token = sim.create_token()
            started = time.process_time()
            print(json.dumps({"url": sim.url, "token": token, "repository": repository}))
            sys.stdout.flush()
            loop = asyncio.get_running_loop()
            await loop.run_in_executor(None, sys.stdin.readline)
            cpu = time.process_time() - started
            print(json.dumps({"cpu": cpu, "points": sim.graphql_points}))
            sys.stdout.flush()

    asyncio.run(main())


# --- the collector's process ----------------------------------------------------------------


class Recorder:
    """Each query the collector sends, with its kind and what it cost (a wrapper around
    ``QueryRunner.run``: a list append per query); the REST requests by kind (around
    ``QueryRunner.rest``)."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any], int]] = []
        #: REST requests by kind ("compare", "files").
        self.rest: Counter[str] = Counter()

    def install(self) -> None:
        from shadowbot.github.history_fetch import QueryRunner

        original = QueryRunner.run
        original_rest = QueryRunner.rest
        sent = self.sent
        rest_sent = self.rest

        async def rest(runner: QueryRunner, url: str) -> tuple[Any, str | None]:
            rest_sent["compare" if "/compare/" in url else "files"] += 1
            return await original_rest(runner, url)

        setattr(QueryRunner, "rest", rest)  # noqa: B010 (a method replaced for the run)

        async def run(
            runner: QueryRunner, kind: str, document: str, variables: dict[str, Any]
        ) -> dict[str, Any]:
            data = await original(runner, kind, document, variables)
            rate = data.get("rateLimit") or {}
            sent.append((kind, document, dict(variables), int(rate.get("cost") or 0)))
            return data

        setattr(QueryRunner, "run", run)  # noqa: B010 (a method replaced for the run)


def by_connection(sent: list[tuple[str, str, dict[str, Any], int]]) -> dict[str, float]:
    """Each query's points shared out among its connections (and the query's own root
    request), by the requests each adds: GitHub's formula, the simulator's schema."""
    from graphql import (
        GraphQLInterfaceType,
        GraphQLObjectType,
        OperationDefinitionNode,
        get_named_type,
        parse,
    )

    from shadowbot.simulator import graphql_cost
    from shadowbot.simulator.graphql_schema import schema

    class Walk(graphql_cost._Walk):
        def __init__(self, *args: Any) -> None:
            super().__init__(*args)
            self.by: Counter[str] = Counter()

        def field(self, node: Any, parent: Any, parents: int) -> None:
            if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                definition = parent.fields.get(node.name.value)
                if definition is not None and get_named_type(definition.type).name.endswith(
                    "Connection"
                ):
                    self.by[f"{parent.name}.{node.name.value}"] += parents
            super().field(node, parent, parents)

    github = schema()
    shares: dict[str, float] = defaultdict(float)
    parsed: dict[str, Any] = {}
    for kind, document, variables, cost in sent:
        tree = parsed.get(document) or parsed.setdefault(document, parse(document))
        operation = next(d for d in tree.definitions if isinstance(d, OperationDefinitionNode))
        walk = Walk(github, tree, dict(variables))
        root = github.query_type
        assert root is not None
        walk.selections(operation.selection_set, root, 1)
        requests = 1 + sum(walk.by.values())
        shares[f"{kind}: the query itself"] += cost / requests
        for connection, count in walk.by.items():
            shares[f"{kind}: {connection}"] += cost * count / requests
    return dict(shares)


async def measure(count: int, page_size: int | None, files_per_head: bool) -> dict[str, Any]:
    import aiohttp

    from shadowbot.github.client import GitHubClient
    from shadowbot.metrics import Metrics
    from shadowbot.offline.collect import PAGE_SIZE, collect
    from shadowbot.offline.history import HistoryReader

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(count)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert server.stdin is not None and server.stdout is not None
    try:
        line = server.stdout.readline()
        if not line:
            raise SystemExit("bench/collect.py: the simulator's process did not start")
        hello = json.loads(line)
        recorder = Recorder()
        recorder.install()
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory) / "collected.jsonl"
            async with aiohttp.ClientSession() as session:
                client = GitHubClient(
                    session, base_url=hello["url"], metrics=Metrics(), oauth_token=hello["token"]
                )
                load_before = os.getloadavg()
                wall, cpu = time.perf_counter(), time.process_time()
                summary = await collect(
                    hello["repository"],
                    out,
                    client,
                    page_size=page_size or PAGE_SIZE,
                    files_per_head=files_per_head,
                )
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                load_after = os.getloadavg()
            errors: list[object] = []
            read = sum(1 for _ in HistoryReader(out, on_error=errors.append))
        server.stdin.write("stop\n")
        server.stdin.flush()
        bye = json.loads(server.stdout.readline())
    finally:
        server.stdin.close()
        server.wait(timeout=30)
    kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for kind, _, _, cost in recorder.sent:
        kinds[kind][0] += 1
        kinds[kind][1] += cost
    return {
        "prs": count,
        "written": summary.total_records,
        "read_back": read,
        "malformed": len(errors),
        "points": summary.spending.points,
        "simulator_points": bye["points"],
        "queries": summary.spending.queries,
        "rest_requests": summary.spending.rest_requests,
        "rest": dict(recorder.rest),
        "files_per_head": files_per_head,
        "kinds": dict(kinds),
        "connections": by_connection(recorder.sent),
        "wall": wall,
        "cpu": cpu,
        "simulator_cpu": bye["cpu"],
        "load": (load_before, load_after),
        "cores": os.cpu_count(),
    }


def report(result: dict[str, Any]) -> bool:
    prs = result["prs"]
    per_k = 1000 / prs
    points_k = result["points"] * per_k
    cpu_ms = result["cpu"] * 1000 / prs
    hours = result["points"] / prs * NIXPKGS_PRS / POINTS_PER_HOUR
    queries_400k = result["queries"] / prs * NIXPKGS_PRS
    before, after = result["load"]
    print(f"history: {prs:,} PRs of the bundled history; {result['written']:,} written,")
    read, malformed = result["read_back"], result["malformed"]
    print(f"  {read:,} read back by the backtest's reader, {malformed} malformed")
    print(f"points: {result['points']:,} ({result['simulator_points']:,} charged by the simulator)")
    print(f"  {points_k:.1f} per 1,000 PRs (target at most {TARGET_POINTS:.0f})")
    print(f"queries: {result['queries']:,}, {result['queries'] * per_k:.1f} per 1,000 PRs")
    if result["files_per_head"]:
        rest = result["rest_requests"]
        kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(result["rest"].items()))
        print(f"REST requests (--files-per-head): {rest:,} ({kinds or 'none'}),")
        print(
            f"  {rest * per_k:.1f} per 1,000 PRs; {rest / prs * NIXPKGS_PRS:,.0f} for"
            f" {NIXPKGS_PRS:,} PRs, {rest / prs * NIXPKGS_PRS / 5000:.1f} h at 5,000 an hour"
        )
    print("per query kind (queries, points, points per 1,000 PRs):")
    for kind, (queries, points) in sorted(result["kinds"].items(), key=lambda kv: -kv[1][1]):
        print(f"  {kind:14} {queries:6,} {points:7,} {points * per_k:8.1f}")
    print("per connection (points shared by requests, per 1,000 PRs):")
    for name, points in sorted(result["connections"].items(), key=lambda kv: -kv[1]):
        print(f"  {name:52} {points * per_k:6.1f}")
    print(f"wall: {result['wall']:.1f} s ({result['wall'] * 1000 / prs:.2f} ms per PR)")
    print(
        f"collector CPU: {result['cpu']:.2f} s, {cpu_ms:.2f} ms per PR"
        f" (target under {TARGET_CPU_MS:.0f} ms)"
    )
    print(
        f"simulator CPU (its own process): {result['simulator_cpu']:.2f} s,"
        f" {result['simulator_cpu'] * 1000 / prs:.2f} ms per PR"
    )
    print(
        f"projected for {NIXPKGS_PRS:,} PRs at {POINTS_PER_HOUR:,} points an hour:"
        f" {hours:.2f} h of rate limit ({points_k * NIXPKGS_PRS / 1000:,.0f} points,"
        f" {queries_400k:,.0f} queries)"
    )
    print(f"load average {before[0]:.2f} before, {after[0]:.2f} after, on {result['cores']} cores")
    ok: bool = points_k <= TARGET_POINTS and cpu_ms < TARGET_CPU_MS and malformed == 0
    ok = ok and result["written"] == prs == read
    print("targets met" if ok else "TARGET MISSED")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--prs", type=int, default=10_000, help="pull requests (default 10000)")
    parser.add_argument("--page-size", type=int, help="pull requests per query at first")
    parser.add_argument(
        "--files-per-head",
        action="store_true",
        help="collect with --files-per-head and count its REST requests",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON too")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return 0
    with gzip.open(HISTORY, "rt", encoding="utf-8") as handle:
        available = sum(1 for line in handle if line.strip()) - 1
    if not 1 <= args.prs <= available:
        parser.error(f"--prs must be from 1 to {available} (the bundled history's PRs)")
    result = asyncio.run(measure(args.prs, args.page_size, args.files_per_head))
    if args.json:
        print(json.dumps(result, default=list))
    return 0 if report(result) else 1


if __name__ == "__main__":
    sys.exit(main())
