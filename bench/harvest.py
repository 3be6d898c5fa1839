"""Reading the reactions on 1,000 verdict comments: a GraphQL sweep against REST with ETags.

    .venv/bin/python bench/harvest.py            # --comments 1000 --changed 0.01 --rounds 2

A simulated GitHub (in this process) holds ``--comments`` open pull requests, each with a
verdict comment by the app's bot, a tenth of them with a reaction by one of five
maintainers; two fresh SQLite databases hold them as the bot records them. Each sweep reads
every comment's reactions and records them, by one of two strategies, each with its own
database, GitHub client (ETag cache) and permission cache:

- **GraphQL**: ``Harvester.sweep`` — ``nodes(ids:)``, 100 comments a query;
- **REST**: the same sweep with the targets' node ids left out, so that each comment's
  reactions list is read through the installation client as ``sweep_pull_request`` reads
  it (``GET .../issues/comments/{id}/reactions``, conditional once its ETag is known).

Measured per sweep: the requests, the rate-limit points (GraphQL: the simulator's points
charged; REST: the installation's ``core`` window, which a 304 leaves alone) and the wall
time from the targets' query to the last record: (a) when nothing changed, (b) when
``--changed`` of the comments got a new reaction (by a maintainer whose permission is
cached), each ``--rounds`` times; and the first sweep (empty database, no ETag), once.
The simulated GitHub serves from this process's event loop, so the wall time includes its
work too, and none of a real network's latency; the CPU the rest of the machine used
meanwhile is shown, as a busy neighbour slows the sweeps down.

The baseline, in the same run: the same number of requests of the cheapest kind over the
same kind of client, ``POST /graphql`` ``{ rateLimit { remaining } }`` for the GraphQL
sweep and bare ``GET /rate_limit`` (uncounted by GitHub, no ETag) for REST: what each
strategy's requests cost with nothing to find, read or record.
Targets: at most 1 point per 100 comments per sweep, a sweep of 1,000 comments under 5 s
(every round's). Exits 1 when the GraphQL sweep, the scheduled one, misses a target.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import aiohttp
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shadowbot.github import GitHubApp, GitHubClient
from shadowbot.live.cache import LiveCache
from shadowbot.live.comments import Marker, format_marker
from shadowbot.live.harvest import Harvester, HarvestStats, Target, open_targets
from shadowbot.metrics import Metrics
from shadowbot.simulator import Simulator, actions, activity, nodeids
from shadowbot.storage import PullRequestRow, RepositoryRow, VerdictCommentRow, migrated

TIME_LIMIT = 115.0  # seconds for the whole run: it must stop by itself, under 2 minutes
POINTS_PER_100 = 1.0
SWEEP_SECONDS = 5.0
SEED = 2024
#: GitHub's largest primary limit for an installation (not what is measured here).
REST_LIMIT = 12_500
MAINTAINERS = ("alice", "carol", "erin", "frank", "grace")
STRATEGIES = ("GraphQL", "REST")
CHEAPEST_QUERY = "query { rateLimit { remaining } }"


@dataclass(frozen=True)
class Posted:
    """A verdict comment as GitHub has it, for the database rows the bot would write."""

    number: int
    head_sha: str
    comment_id: int
    created_at: datetime


@dataclass(frozen=True)
class Sweep:
    strategy: str
    case: str
    graphql_requests: int
    rest_requests: int
    not_modified: int
    graphql_points: int
    rest_points: int
    seconds: float
    new: int
    #: CPU seconds this process used (the bot and the simulated GitHub, all threads) and
    #: the rest of the machine used (other processes, the kernel) during the sweep.
    cpu: float
    others: float

    @property
    def points(self) -> int:
        return self.graphql_points + self.rest_points


@dataclass
class Side:
    """One strategy's own bot: database, harvester, and a client for its baseline."""

    name: str
    database: Engine
    harvester: Harvester
    client: GitHubClient


# -- the simulated GitHub and the databases -----------------------------------------------


def post_verdicts(sim: Simulator, count: int) -> list[Posted]:
    """``count`` open PRs with a verdict comment by the app's bot, made in the simulator's
    state directly: no webhook, no bot run."""
    state, repo = sim.state, sim.state.repo(sim.repo)
    author = state.user("dana")
    posted = []
    for _ in range(count):
        pr, _ = actions.open_pull(state, repo, author, "Fix the frobnicator")
        marker = Marker("combined", sim.repo, pr.number, pr.head_sha, ())
        body = f"{format_marker(marker)}\n\nNo rule claims this pull request."
        comment, _ = activity.add_comment(state, repo, pr, state.bot, body)
        posted.append(Posted(pr.number, pr.head_sha, comment.id, comment.created_at))
    return posted


def record_verdicts(database: Engine, sim: Simulator, posted: Sequence[Posted]) -> None:
    """The rows the bot writes for its comments: repository, pull requests, comments."""
    with Session(database) as session:
        repository = RepositoryRow(full_name=sim.repo, installation_id=sim.installation_id)
        session.add(repository)
        session.flush()
        assert repository.id is not None
        prs = [
            PullRequestRow(
                repository_id=repository.id,
                number=item.number,
                author_login="dana",
                head_sha=item.head_sha,
                state="open",
                title="Fix the frobnicator",
                created_at=item.created_at,
                updated_at=item.created_at,
            )
            for item in posted
        ]
        session.add_all(prs)
        session.flush()
        for pr, item in zip(prs, posted, strict=True):
            assert pr.id is not None
            node_id = nodeids.node_id(nodeids.COMMENT, item.comment_id)
            session.add(
                VerdictCommentRow(
                    pull_request_id=pr.id,
                    comment_id=item.comment_id,
                    node_id=node_id,
                    created_at=item.created_at,
                )
            )
        session.commit()


def react(sim: Simulator, comments: Sequence[int], rng: random.Random, content: str) -> None:
    """A maintainer reacts ``content`` to each comment (a reaction GitHub sends no webhook
    for)."""
    for comment_id in comments:
        _, comment = sim.state.find_comment(comment_id)
        user = sim.state.user(rng.choice(MAINTAINERS))
        _, created = activity.add_reaction(sim.state, comment, user, content)
        assert created, f"{user.login} had already reacted {content} on {comment_id}"


def targets_of(database: Engine) -> list[Target]:
    """What the scheduled sweep reads: the verdict comments of the open PRs."""
    with Session(database) as session:
        ids = session.exec(select(PullRequestRow.id).where(col(PullRequestRow.closed_at).is_(None)))
        return open_targets(session, [i for i in ids if i is not None])


# -- one sweep, measured ------------------------------------------------------------------


def rest_used(sim: Simulator) -> int:
    return sim.backend.rates.window(sim.installation_id, sim.backend.clock()).used


async def measure(sim: Simulator, side: Side, case: str) -> Sweep:
    """One sweep by ``side``'s strategy, from the targets' query to the last record."""
    since, points, used = len(sim.requests), sim.graphql_points, rest_used(sim)
    busy, own = busy_cpu_seconds(), time.process_time()
    started = time.perf_counter()
    targets = await asyncio.to_thread(targets_of, side.database)
    if side.name == "REST":
        targets = [replace(target, node_id=None) for target in targets]
    stats: HarvestStats = await side.harvester.sweep(targets)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - own
    others = max(busy_cpu_seconds() - busy - cpu, 0.0)
    made = sim.requests[since:]
    rest = [r for r in made if r.path != "/graphql"]
    return Sweep(
        side.name,
        case,
        graphql_requests=len(made) - len(rest),
        rest_requests=len(rest),
        not_modified=sum(r.status == 304 for r in rest),
        graphql_points=sim.graphql_points - points,
        rest_points=rest_used(sim) - used,
        seconds=seconds,
        new=stats.new,
        cpu=cpu,
        others=others,
    )


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``), every process."""
    try:
        line = Path("/proc/stat").read_text().split("\n", 1)[0]
    except OSError:
        return 0.0
    ticks = [int(n) for n in line.split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait; guest time is already in user
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


async def baseline(side: Side, requests: int) -> float:
    """Seconds for ``requests`` of the cheapest kind that ``side``'s strategy sends."""
    started = time.perf_counter()
    for _ in range(requests):
        if side.name == "GraphQL":
            await side.client.graphql(CHEAPEST_QUERY)
        else:
            await side.client.getitem("/rate_limit")
    return time.perf_counter() - started


@asynccontextmanager
async def sides(
    sim: Simulator, folder: Path, posted: Sequence[Posted]
) -> AsyncIterator[list[Side]]:
    async with AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        made = []
        for name in STRATEGIES:
            database = stack.enter_context(migrated(f"sqlite:///{folder / name}.db"))
            record_verdicts(database, sim, posted)
            app = GitHubApp(
                session,
                base_url=sim.url,
                app_id=sim.app_id,
                private_key=sim.private_key_pem,
                metrics=Metrics(),
            )
            harvester = Harvester(database, app, LiveCache(), Metrics())
            # The baseline's client: the installation's token, no ETag cache (bare requests).
            client = GitHubClient(
                session,
                base_url=sim.url,
                metrics=Metrics(),
                oauth_token=sim.create_token(),
            )
            made.append(Side(name, database, harvester, client))
        yield made


# -- the run ------------------------------------------------------------------------------


@dataclass
class Figures:
    comments: int
    changed: int
    sweeps: list[Sweep]
    baselines: dict[str, list[float]]


async def run(args: argparse.Namespace, folder: Path) -> Figures:
    rng = random.Random(SEED)
    changed = max(1, round(args.comments * args.changed))
    async with Simulator.running(rate_limit=REST_LIMIT) as sim:
        for login in MAINTAINERS:
            sim.add_user(login, "write")
        posted = post_verdicts(sim, args.comments)
        ids = [item.comment_id for item in posted]
        react(sim, rng.sample(ids, len(ids) // 10), rng, "+1")
        figures = Figures(args.comments, changed, [], {name: [] for name in STRATEGIES})
        async with sides(sim, folder, posted) as both:
            for side in both:
                figures.sweeps.append(await measure(sim, side, "first"))
            fresh = rng.sample(ids, changed * args.rounds)  # new reactions, never repeated
            for round_ in range(args.rounds):
                order = both if round_ % 2 == 0 else both[::-1]
                for side in order:
                    figures.sweeps.append(await measure(sim, side, "unchanged"))
                react(sim, fresh[round_ * changed : (round_ + 1) * changed], rng, "hooray")
                for side in order:
                    figures.sweeps.append(await measure(sim, side, "changed"))
                for side in order:
                    count = -(-args.comments // 100) if side.name == "GraphQL" else args.comments
                    figures.baselines[side.name].append(await baseline(side, count))
    return figures


# -- the report ---------------------------------------------------------------------------

CASES = {
    "first": "first sweep (empty database, no ETag)",
    "unchanged": "(a) nothing changed",
    "changed": "(b) {changed} comments with a new reaction",
}


def pick(figures: Figures, strategy: str, case: str) -> list[Sweep]:
    return [s for s in figures.sweeps if s.strategy == strategy and s.case == case]


def spread(values: Sequence[int]) -> str:
    """One figure if every round gave the same, else the range."""
    low, high = min(values), max(values)
    return f"{low}" if low == high else f"{low}–{high}"


def counts(sweeps: Sequence[Sweep]) -> tuple[str, str]:
    """The sweeps' requests (with the 304s among them) and points: GraphQL + REST."""
    requests = (
        f"{spread([s.graphql_requests for s in sweeps])}"
        f" + {spread([s.rest_requests for s in sweeps])}"
        f" ({spread([s.not_modified for s in sweeps])})"
    )
    points = (
        f"{spread([s.graphql_points for s in sweeps])} + {spread([s.rest_points for s in sweeps])}"
    )
    return requests, points


def report(figures: Figures, rounds: int) -> bool:
    """Print the table; whether the GraphQL sweep met both targets."""
    base = {name: statistics.median(times) for name, times in figures.baselines.items()}
    per_100 = figures.comments / 100
    limit = SWEEP_SECONDS * figures.comments / 1000
    met = True
    print(
        f"{figures.comments} open verdict comments, {figures.comments // 10} with a reaction;"
        f" {rounds} rounds of (a) and (b): wall time is the median (the range); requests"
        " and points are GraphQL + REST"
    )
    print(
        "\n| strategy | case | requests (304s) | points | points / 100 comments"
        " | reactions recorded | wall time | ratio to baseline | CPU | others |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for strategy in STRATEGIES:
        for case, label in CASES.items():
            sweeps = pick(figures, strategy, case)
            times = [s.seconds for s in sweeps]
            seconds = statistics.median(times)
            shown = f"{seconds:.2f} s"
            if len(times) > 1:
                shown += f" ({min(times):.2f}–{max(times):.2f})"
            points = max(s.points for s in sweeps)
            busy = max(s.others / s.seconds for s in sweeps)
            requests, charged = counts(sweeps)
            print(
                f"| {strategy} | {label.format(changed=figures.changed)} | {requests} | {charged}"
                f" | {points / per_100:.2f} | {spread([s.new for s in sweeps])} | {shown}"
                f" | {seconds / base[strategy]:.0f}x"
                f" | {statistics.median(s.cpu for s in sweeps):.2f} s | {busy:.0%} |"
            )
            if strategy == "GraphQL" and case != "first":
                met = met and points <= POINTS_PER_100 * per_100 and max(times) < limit
    graphql_requests = -(-figures.comments // 100)
    print(
        f"\nbaselines (medians): {graphql_requests} × POST /graphql {CHEAPEST_QUERY!r}"
        f" {base['GraphQL']:.3f} s; {figures.comments} × bare GET /rate_limit"
        f" {base['REST']:.3f} s"
    )
    print(
        "CPU: this process's, the bot's and the simulated GitHub's together (median); others:"
        " the share of a core the rest of the machine used during the sweep (at most)"
    )
    print(
        f"targets (GraphQL sweep, every (a) and (b)): ≤ {POINTS_PER_100:g} point per 100"
        f" comments, under {limit:g} s for {figures.comments} comments ({SWEEP_SECONDS:g} s"
        f" per 1,000): {'met' if met else 'MISSED'}"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1000, help="open verdict comments")
    parser.add_argument("--changed", type=float, default=0.01, help="share with a new reaction")
    parser.add_argument("--rounds", type=int, default=2, help="of (a) and (b)")
    args = parser.parse_args()
    if args.comments < 10 or not 0 < args.changed <= 0.1 or args.rounds < 1:
        parser.error("use at least 10 comments, a changed share in (0, 0.1], 1 round or more")
    with tempfile.TemporaryDirectory(prefix="shadowbot-harvest-") as folder:
        try:
            figures = asyncio.run(asyncio.wait_for(run(args, Path(folder)), TIME_LIMIT))
        except TimeoutError:
            print(
                f"harvest: stopped after {TIME_LIMIT:.0f} s; try fewer --comments", file=sys.stderr
            )
            return 2
    return 0 if report(figures, args.rounds) else 1


if __name__ == "__main__":
    raise SystemExit(main())
