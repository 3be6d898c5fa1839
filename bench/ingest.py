"""Webhook intake under a burst: `shadowbot serve` against a handler that only verifies.

    python bench/ingest.py [--requests 3000] [--warmup 300] [--concurrency 64] [--rounds 3]

The same load against two servers, each in a fresh process pinned to core 0 while the load
generator runs on core 1: the floor, a minimal aiohttp handler that reads the body, checks
its signature and answers 202; and `shadowbot serve` on a fresh SQLite file in a temporary
folder, talking to a simulated GitHub (in this process, on core 1), so that its worker
processes the deliveries in the background during the load, as in production. ``--rounds``
rounds of both; the medians count, so that a busy neighbour spoils a round, not the result.

The load: signed `pull_request` `opened` deliveries of one realistic pull request (the
simulator's delivery, completed with the fields GitHub sends that the simulator leaves
out), each with its own `X-GitHub-Delivery`, over ``--concurrency`` keep-alive connections,
``--requests`` measured after ``--warmup``. Printed: deliveries per second of each server
and their ratio (target >= 0.5); the p50/p99 time to the answer (target p99 < 50 ms for
shadowbot); the server's CPU per delivery, which the load generator cannot cap; the rows
stored against the 2xx answers; and the GitHub requests one `pull_request` event costs,
with cold and with warm caches. Exits 1 when a target is missed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from shadowbot.github import GitHubClient
from shadowbot.live.snapshot import LiveCache, RequestTally, fetch_snapshot
from shadowbot.metrics import Metrics
from shadowbot.simulator import FileChange, Simulator, signature_headers
from shadowbot.web.signature import verify

TIME_LIMIT = 170.0  # seconds for the whole run: it must stop by itself, well under 3 min
RATIO_TARGET = 0.5
P99_TARGET_MS = 50.0
SERVER_CORE, LOAD_CORE = 0, 1
#: Above this share of a core used by other processes while measuring, the run says so.
BUSY_NEIGHBOURS = 0.2
#: GitHub gives up on a delivery after 10 seconds; so does the load generator.
DELIVERY_TIMEOUT = 10.0
Json = dict[str, Any]

# -- the pull request: a few files, CODEOWNERS, 3 checks, 2 reviews ---------------------

FILES = [
    FileChange("src/widgets/frobnicator.py", "modified", 48, 17),
    FileChange("src/widgets/gears.py", "modified", 12, 3),
    FileChange("tests/test_frobnicator.py", "modified", 64, 2),
    FileChange("docs/frobnicator.md", "modified", 9, 1),
    FileChange("CHANGELOG.md", "modified", 2, 0),
]
CODEOWNERS = "* @alice\n/src/widgets/ @alice @bob\n/docs/ @carol\n"
CHECKS = ("build", "test (3.11)", "lint")
BODY = (
    "## What\n\nThe frobnicator no longer spins when a gear is missing; it reports which.\n\n"
    "## Why\n\nFixes #412. Users saw a hang instead of an error.\n\n## Checklist\n\n"
    + "".join(f"- [x] {item}\n" for item in ("tests", "docs", "changelog", "no new deps"))
    + "\n<!-- Thanks for contributing! Please read CONTRIBUTING.md. -->\n" * 8
)


async def open_realistic_pr(sim: Simulator) -> int:
    sim.add_user("alice", "write")
    sim.add_user("bob", "write")
    sim.add_user("carol", "maintain")
    sim.set_codeowners(sim.repo, CODEOWNERS)
    number = await sim.open_pr(
        sim.repo, "alice", "Frobnicator: report a missing gear", body=BODY, files=FILES
    )
    for name in CHECKS:
        await sim.add_check(sim.repo, number, name)
    await sim.review(sim.repo, number, "bob", "APPROVED")
    await sim.review(sim.repo, number, "carol", "COMMENTED", body="Docs read well.")
    return number


# -- the delivery, as GitHub sends it ---------------------------------------------------

# The simulator renders the fields shadowbot reads; GitHub sends many more (mostly URL
# templates), which make a real `pull_request` payload tens of KB. They are added here.
# https://docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request
USER_URLS = {
    "followers_url": "/followers",
    "following_url": "/following{/other_user}",
    "gists_url": "/gists{/gist_id}",
    "starred_url": "/starred{/owner}{/repo}",
    "subscriptions_url": "/subscriptions",
    "organizations_url": "/orgs",
    "repos_url": "/repos",
    "events_url": "/events{/privacy}",
    "received_events_url": "/received_events",
}
REPO_URLS = {
    "forks_url": "/forks",
    "keys_url": "/keys{/key_id}",
    "collaborators_url": "/collaborators{/collaborator}",
    "teams_url": "/teams",
    "hooks_url": "/hooks",
    "issue_events_url": "/issues/events{/number}",
    "events_url": "/events",
    "assignees_url": "/assignees{/user}",
    "branches_url": "/branches{/branch}",
    "tags_url": "/tags",
    "blobs_url": "/git/blobs{/sha}",
    "git_tags_url": "/git/tags{/sha}",
    "git_refs_url": "/git/refs{/sha}",
    "trees_url": "/git/trees{/sha}",
    "statuses_url": "/statuses/{sha}",
    "languages_url": "/languages",
    "stargazers_url": "/stargazers",
    "contributors_url": "/contributors",
    "subscribers_url": "/subscribers",
    "subscription_url": "/subscription",
    "commits_url": "/commits{/sha}",
    "git_commits_url": "/git/commits{/sha}",
    "comments_url": "/comments{/number}",
    "issue_comment_url": "/issues/comments{/number}",
    "contents_url": "/contents/{+path}",
    "compare_url": "/compare/{base}...{head}",
    "merges_url": "/merges",
    "archive_url": "/{archive_format}{/ref}",
    "downloads_url": "/downloads",
    "issues_url": "/issues{/number}",
    "pulls_url": "/pulls{/number}",
    "milestones_url": "/milestones{/number}",
    "notifications_url": "/notifications{?since,all,participating}",
    "labels_url": "/labels{/name}",
    "releases_url": "/releases{/id}",
    "deployments_url": "/deployments",
}
REPO_FIELDS: Json = {
    "node_id": "R_kgDOJ7c2vQ",
    "description": "Widgets, gears and the frobnicator that turns them.",
    "homepage": "https://widgets.example.org",
    "created_at": "2019-03-02T10:11:12Z",
    "updated_at": "2026-11-20T08:00:00Z",
    "pushed_at": "2026-11-21T09:30:00Z",
    "size": 48213,
    "stargazers_count": 1804,
    "watchers_count": 1804,
    "language": "Python",
    "has_issues": True,
    "has_projects": True,
    "has_downloads": True,
    "has_wiki": False,
    "has_pages": False,
    "has_discussions": True,
    "forks_count": 312,
    "mirror_url": None,
    "disabled": False,
    "open_issues_count": 87,
    "license": {"key": "mit", "name": "MIT License", "spdx_id": "MIT", "node_id": "MDc6TGlj"},
    "allow_forking": True,
    "is_template": False,
    "web_commit_signoff_required": False,
    "topics": ["widgets", "gears", "python"],
    "forks": 312,
    "open_issues": 87,
    "watchers": 1804,
    "allow_squash_merge": True,
    "allow_merge_commit": True,
    "allow_rebase_merge": True,
    "allow_auto_merge": False,
    "delete_branch_on_merge": True,
    "allow_update_branch": False,
    "use_squash_pr_title_as_default": False,
    "squash_merge_commit_message": "COMMIT_MESSAGES",
    "squash_merge_commit_title": "COMMIT_OR_PR_TITLE",
    "merge_commit_message": "PR_TITLE",
    "merge_commit_title": "MERGE_MESSAGE",
}
PULL_FIELDS: Json = {
    "node_id": "PR_kwDOJ7c2vc5rN1xA",
    "assignee": None,
    "milestone": None,
    "requested_teams": [],
    "active_lock_reason": None,
    "mergeable_state": "clean",
    "rebaseable": True,
    "maintainer_can_modify": False,
}


def as_github_sends(value: Any) -> Any:
    """``value`` with the fields GitHub adds to each user, repository and pull request."""
    if isinstance(value, list):
        return [as_github_sends(item) for item in value]
    if not isinstance(value, dict):
        return value
    found = {key: as_github_sends(item) for key, item in value.items()}
    if "full_name" in found and "owner" in found:
        url, html = found["url"], found["html_url"]
        more = {key: url + path for key, path in REPO_URLS.items()}
        name = found["full_name"]
        more |= {"git_url": f"git://{name}.git", "ssh_url": f"git@{name}.git"}
        more |= {"clone_url": f"{html}.git", "svn_url": html}
        return {**more, **REPO_FIELDS, **found}
    if "login" in found and "type" in found:
        more = {key: found["url"] + path for key, path in USER_URLS.items()}
        extra = {
            "node_id": f"U_kgDO{found['id']:08}",
            "gravatar_id": "",
            "user_view_type": "public",
        }
        return {**more, **extra, **found}
    if "head" in found and "base" in found and "number" in found:
        return {**_pull_links(found), **PULL_FIELDS, **found}
    return found


def _pull_links(pull: Json) -> Json:
    url, html, issue = pull["url"], pull["html_url"], pull["issue_url"]
    statuses = f"{pull['base']['repo']['url']}/statuses/{pull['head']['sha']}"
    links = {
        "diff_url": f"{html}.diff",
        "patch_url": f"{html}.patch",
        "commits_url": f"{url}/commits",
        "review_comments_url": f"{url}/comments",
        "review_comment_url": url.rsplit("/", 1)[0] + "/comments{/number}",
        "comments_url": f"{issue}/comments",
        "statuses_url": statuses,
    }
    names = ("commits", "review_comments", "review_comment", "comments", "statuses")
    shown = {"self": url, "html": html, "issue": issue} | {n: links[f"{n}_url"] for n in names}
    return {**links, "_links": {key: {"href": href} for key, href in shown.items()}}


def realistic_delivery(sim: Simulator, secret: str) -> tuple[bytes, dict[str, str]]:
    """The `opened` delivery's body as GitHub would send it, and its headers, re-signed;
    ``X-GitHub-Delivery`` is left for each request to set."""
    opened = next(d for d in sim.deliveries if (d.event, d.action) == ("pull_request", "opened"))
    body = json.dumps(as_github_sends(opened.payload)).encode()
    headers = {k: v for k, v in opened.headers.items() if not k.startswith("X-Hub-Signature")}
    headers.pop("X-GitHub-Delivery")
    return body, headers | signature_headers(secret, body)


# -- the load generator (a child process on its own core) ------------------------------


@dataclass(frozen=True)
class LoadSpec:
    url: str
    body_path: str
    headers: dict[str, str]
    requests: int
    warmup: int
    concurrency: int


@dataclass(frozen=True)
class LoadResult:
    requests: int  # measured, after the warm-up
    seconds: float
    p50_ms: float
    p99_ms: float
    accepted: int  # 2xx answers, warm-up included
    statuses: dict[str, int]  # every answer (or error), warm-up included
    cpu_seconds: float  # the generator's own, while measuring

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


async def burst(
    session: aiohttp.ClientSession, spec: LoadSpec, body: bytes, count: int
) -> tuple[list[float], Counter[str]]:
    """``count`` deliveries over ``spec.concurrency`` connections: each one's seconds to
    its answer, and the answers by status."""
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    left = count

    async def connection() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            headers = {**spec.headers, "X-GitHub-Delivery": str(uuid.uuid4())}
            started = time.perf_counter()
            try:
                async with session.post(spec.url, data=body, headers=headers) as response:
                    await response.read()
                    status = str(response.status)
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
            latencies.append(time.perf_counter() - started)
            statuses[status] += 1

    await asyncio.gather(*(connection() for _ in range(spec.concurrency)))
    return latencies, statuses


def percentile(ordered: list[float], fraction: float) -> float:
    """Nearest rank: the smallest value with at least ``fraction`` of all at or below it."""
    return ordered[max(math.ceil(fraction * len(ordered)) - 1, 0)]


async def generate_load(spec: LoadSpec) -> None:
    """Warm up, say "measuring", measure, print the result as JSON."""
    body = Path(spec.body_path).read_bytes()
    connector = aiohttp.TCPConnector(limit=spec.concurrency)
    timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        _, statuses = await burst(session, spec, body, spec.warmup)
        print("measuring", flush=True)
        cpu, started = time.process_time(), time.perf_counter()
        latencies, measured = await burst(session, spec, body, spec.requests)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    statuses += measured
    ordered = sorted(latencies)
    result = LoadResult(
        requests=len(ordered),
        seconds=seconds,
        p50_ms=percentile(ordered, 0.50) * 1000,
        p99_ms=percentile(ordered, 0.99) * 1000,
        accepted=sum(n for status, n in statuses.items() if status.startswith("2")),
        statuses=dict(statuses),
        cpu_seconds=cpu,
    )
    print(json.dumps(asdict(result)), flush=True)


# -- the baseline server (a child process) ----------------------------------------------


def serve_baseline(secret: str, port: int) -> None:
    """Read the body, verify its signature, answer 202: what no intake can do without."""

    async def webhook(request: web.Request) -> web.Response:
        body = await request.read()
        if not verify(secret, body, request.headers.get("X-Hub-Signature-256")):
            return web.Response(status=401)
        return web.Response(status=202)

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok")

    app = web.Application(client_max_size=25 * 1024 * 1024)  # as shadowbot's
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# -- processes ---------------------------------------------------------------------------


def can_pin() -> bool:
    cores = os.sched_getaffinity(0)
    return shutil.which("taskset") is not None and {SERVER_CORE, LOAD_CORE} <= cores


def pinned(core: int | None, command: list[str]) -> list[str]:
    return command if core is None else ["taskset", "-c", str(core), *command]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float:
    """User plus system time of process ``pid``, all its threads (Linux ``/proc``)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def child_environment(settings: Mapping[str, str]) -> dict[str, str]:
    kept = {k: v for k, v in os.environ.items() if not k.startswith("SHADOWBOT_")}
    return kept | dict(settings)


@contextlib.asynccontextmanager
async def serving(
    command: list[str], settings: Mapping[str, str], log_path: Path, core: int | None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a server on ``SHADOWBOT_PORT``; yield once ``/healthz`` answers; stop it."""
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        *pinned(core, command),
        env=child_environment(settings),
        cwd=log_path.parent,
        stdout=log,
        stderr=log,
    )
    try:
        await wait_healthy(f"http://127.0.0.1:{settings['SHADOWBOT_PORT']}/healthz", process)
        yield process
    except BaseException:
        log.flush()
        sys.stderr.write(log_path.read_text()[-4000:])
        raise
    finally:
        await stop(process)
        log.close()


async def wait_healthy(url: str, process: asyncio.subprocess.Process) -> None:
    async with asyncio.timeout(60), aiohttp.ClientSession() as session:
        while process.returncode is None:
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(url) as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.05)
    raise RuntimeError(f"the server exited with {process.returncode} before it answered")


async def stop(process: asyncio.subprocess.Process) -> None:
    """SIGTERM: aiohttp shuts down cleanly; killed if it has not within 10 s."""
    if process.returncode is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        await asyncio.wait_for(process.wait(), 10)
    except TimeoutError:
        process.kill()
        await process.wait()


def busy_cpu_seconds() -> float:
    """CPU seconds the whole machine has been busy (Linux ``/proc/stat``), every process."""
    ticks = [int(n) for n in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = ticks[3] + ticks[4]  # idle, iowait; guest time is already in user
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Run:
    load: LoadResult
    seconds: float  # how long the measuring took, seen from here
    server_cpu: float  # CPU seconds the server used meanwhile, all its threads
    github_cpu: float  # the same for this process: the simulated GitHub
    others_cpu: float  # the same for the rest of the machine: other processes, the kernel

    @property
    def cpu_per_delivery_us(self) -> float:
        """Server CPU per measured delivery: what the load generator cannot cap."""
        return self.server_cpu / self.load.requests * 1e6


async def run_load(spec: LoadSpec, path: Path, server: int, core: int | None) -> Run:
    """Run the load generator on ``core``; CPU use is read around the measuring."""
    path.write_text(json.dumps(asdict(spec)))
    command = [sys.executable, str(Path(__file__).resolve()), "--load", str(path)]
    process = await asyncio.create_subprocess_exec(
        *pinned(core, command), stdout=asyncio.subprocess.PIPE
    )
    assert process.stdout is not None
    try:
        if (await process.stdout.readline()).strip() != b"measuring":
            raise RuntimeError("the load generator failed during the warm-up")
        before = time.perf_counter(), cpu_seconds(server), time.process_time(), busy_cpu_seconds()
        line = await process.stdout.readline()
        after = time.perf_counter(), cpu_seconds(server), time.process_time(), busy_cpu_seconds()
        if await process.wait() != 0 or not line:
            raise RuntimeError("the load generator failed")
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    load = LoadResult(**json.loads(line))
    seconds, server_cpu, own_cpu, busy = (b - a for a, b in zip(before, after, strict=True))
    others = max(busy - server_cpu - own_cpu - load.cpu_seconds, 0.0)
    return Run(load, seconds, server_cpu, own_cpu, others)


# -- what shadowbot stored, and what one event costs on GitHub --------------------------


def query(database: Path, sql: str, *params: str) -> tuple[Any, ...]:
    connection = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        row: tuple[Any, ...] = connection.execute(sql, params).fetchone()
        return row
    finally:
        connection.close()


@dataclass(frozen=True)
class EventCost:
    requests: int
    not_modified: int

    def __str__(self) -> str:
        return f"{self.requests} ({self.not_modified} of them 304)"


async def one_event(sim: Simulator, url: str, setup: Setup, database: Path) -> EventCost:
    """Deliver the event once and wait until shadowbot has processed it; the GitHub
    requests it made meanwhile."""
    guid = str(uuid.uuid4())
    start = len(sim.requests)
    async with aiohttp.ClientSession() as session:
        sent = {**setup.headers, "X-GitHub-Delivery": guid}
        async with session.post(url, data=setup.body, headers=sent) as response:
            if response.status != 202:
                raise RuntimeError(f"a probe delivery was answered {response.status}")
    sql = "SELECT processed_at, error FROM delivery WHERE delivery_id = ?"
    async with asyncio.timeout(30):
        while (done := query(database, sql, guid))[0] is None:
            await asyncio.sleep(0.02)
    if done[1] is not None:
        raise RuntimeError(f"shadowbot failed to process the event: {done[1]}")
    made = sim.requests[start:]
    return EventCost(len(made), sum(record.status == 304 for record in made))


async def snapshot_cost(sim: Simulator, number: int) -> tuple[RequestTally, RequestTally]:
    """Requests of ``fetch_snapshot`` alone, with cold and then warm caches."""
    cold, warm, cache = RequestTally(), RequestTally(), LiveCache()
    async with aiohttp.ClientSession() as session:
        gh = GitHubClient(
            session, base_url=sim.url, metrics=Metrics(), oauth_token=sim.create_token(), cache={}
        )
        await fetch_snapshot(gh, sim.repo, number, cache, tally=cold)
        await fetch_snapshot(gh, sim.repo, number, cache, tally=warm)
    return cold, warm


# -- the run -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Setup:
    """What every round shares: the delivery, the load, the folder, the cores."""

    folder: Path
    secret: str
    body: bytes
    headers: dict[str, str]
    requests: int
    warmup: int
    concurrency: int
    pin: bool

    def core(self, core: int) -> int | None:
        return core if self.pin else None

    async def load(self, port: str, server: int) -> Run:
        body = self.folder / "body.json"
        body.write_bytes(self.body)
        url = f"http://127.0.0.1:{port}/webhook"
        spec = LoadSpec(url, str(body), self.headers, self.requests, self.warmup, self.concurrency)
        return await run_load(spec, self.folder / "load.json", server, self.core(LOAD_CORE))


@dataclass(frozen=True)
class Intake:
    """One round of ``shadowbot serve`` under the load, and what its database holds."""

    run: Run
    events: list[EventCost]  # GitHub requests of probes sent one by one before the load
    stored: int  # rows in ``delivery`` once the server has stopped
    processed: int  # of them, processed by the worker when the load ended

    @property
    def answered(self) -> int:
        """Deliveries answered 2xx: the probes and the load's."""
        return len(self.events) + self.run.load.accepted


async def measure_baseline(setup: Setup, index: int) -> Run:
    settings = {"SHADOWBOT_WEBHOOK_SECRET": setup.secret, "SHADOWBOT_PORT": str(free_port())}
    command = [sys.executable, str(Path(__file__).resolve()), "--baseline"]
    log = setup.folder / f"baseline-{index}.log"
    async with serving(command, settings, log, setup.core(SERVER_CORE)) as server:
        return await setup.load(settings["SHADOWBOT_PORT"], server.pid)


async def measure_shadowbot(setup: Setup, sim: Simulator, index: int) -> Intake:
    """A fresh ``shadowbot serve`` on a fresh SQLite file, talking to ``sim``."""
    database = setup.folder / f"shadowbot-{index}.db"
    settings = {
        "SHADOWBOT_WEBHOOK_SECRET": setup.secret,
        "SHADOWBOT_DATABASE_URL": f"sqlite:///{database}",
        "SHADOWBOT_APP_ID": str(sim.app_id),
        "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
        "SHADOWBOT_GITHUB_API_URL": sim.url,
        "SHADOWBOT_HOST": "127.0.0.1",
        "SHADOWBOT_PORT": str(free_port()),
    }
    command = [sys.executable, "-m", "shadowbot", "serve"]
    log = setup.folder / f"shadowbot-{index}.log"
    async with serving(command, settings, log, setup.core(SERVER_CORE)) as server:
        url = f"http://127.0.0.1:{settings['SHADOWBOT_PORT']}/webhook"
        # Cold; then right after the bot's first comment; then warm, nothing changed.
        events = [await one_event(sim, url, setup, database) for _ in range(3)]
        run = await setup.load(settings["SHADOWBOT_PORT"], server.pid)
        processed = int(query(database, "SELECT count(processed_at) FROM delivery")[0])
    stored = int(query(database, "SELECT count(*) FROM delivery")[0])
    return Intake(run, events, stored, processed)


@dataclass(frozen=True)
class Figures:
    body_bytes: int
    baseline: list[Run]
    shadowbot: list[Intake]
    snapshot: tuple[RequestTally, RequestTally]  # cold, warm


async def measure(args: argparse.Namespace, folder: Path, pin: bool) -> Figures:
    """Rounds of baseline then shadowbot, each server a fresh process: a noisy neighbour
    on the machine spoils one round, not the medians."""
    secret = secrets.token_hex(20)
    async with Simulator.running(webhook_secret=secret) as sim:
        number = await open_realistic_pr(sim)
        body, headers = realistic_delivery(sim, secret)
        setup = Setup(
            folder, secret, body, headers, args.requests, args.warmup, args.concurrency, pin
        )
        snapshot = await snapshot_cost(sim, number)
        baseline, shadowbot = [], []
        for index in range(args.rounds):
            baseline.append(await measure_baseline(setup, index))
            shadowbot.append(await measure_shadowbot(setup, sim, index))
    return Figures(len(body), baseline, shadowbot, snapshot)


@dataclass(frozen=True)
class Summary:
    """The median of each figure over the rounds."""

    per_second: float
    p50_ms: float
    p99_ms: float
    cpu_per_delivery_us: float

    @classmethod
    def of(cls, runs: list[Run]) -> Summary:
        return cls(
            statistics.median(run.load.per_second for run in runs),
            statistics.median(run.load.p50_ms for run in runs),
            statistics.median(run.load.p99_ms for run in runs),
            statistics.median(run.cpu_per_delivery_us for run in runs),
        )

    def row(self) -> str:
        return (
            f"{self.per_second:13.0f}{self.p50_ms:9.1f}{self.p99_ms:9.1f}"
            f"{self.cpu_per_delivery_us:12.0f}"
        )


def report(figures: Figures, args: argparse.Namespace, pin: bool) -> bool:
    """Print the figures; whether every target is met."""
    runs = [intake.run for intake in figures.shadowbot]
    base, bot = Summary.of(figures.baseline), Summary.of(runs)
    ratio = bot.per_second / base.per_second
    where = "servers on core 0, load and GitHub on core 1" if pin else "not pinned"
    print(
        f"payload: pull_request opened, {figures.body_bytes / 1024:.1f} KiB, signed;"
        f" {args.requests} requests after {args.warmup} warm-up, {args.concurrency}"
        f" keep-alive connections; {where}; {args.rounds} rounds, fresh processes each"
    )
    print(f"{'':28}{'deliveries/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/dlv':>12}  CPU used")
    for index, (baseline, intake) in enumerate(zip(figures.baseline, runs, strict=True)):
        print(f"round {index + 1}: baseline{'':11}{_row(baseline)}")
        print(f"{'':9}shadowbot{'':10}{_row(intake)}")
    print(f"median:  baseline{'':11}{base.row()}")
    print(f"{'':9}shadowbot{'':10}{bot.row()}")
    print(f"ratio shadowbot/baseline: {ratio:.2f}  (target >= {RATIO_TARGET})")
    print(f"shadowbot p99 acknowledgement: {bot.p99_ms:.1f} ms  (target < {P99_TARGET_MS:.0f} ms)")
    busy = max(run.others_cpu / run.seconds for run in figures.baseline + runs)
    if busy > BUSY_NEIGHBOURS:
        print(f"note: the rest of the machine used up to {busy:.0%} of a core while measuring")
    stored_ok = report_storage(figures)
    report_requests(figures)
    return ratio >= RATIO_TARGET and bot.p99_ms < P99_TARGET_MS and stored_ok


def _row(run: Run) -> str:
    load = run.load
    return (
        f"{load.per_second:13.0f}{load.p50_ms:9.1f}{load.p99_ms:9.1f}{run.cpu_per_delivery_us:12.0f}"
        f"  server {run.server_cpu / run.seconds:.0%}, load {load.cpu_seconds / load.seconds:.0%},"
        f" GitHub {run.github_cpu / run.seconds:.0%}, others {run.others_cpu / run.seconds:.0%}"
    )


def report_storage(figures: Figures) -> bool:
    """Every answer 2xx, and as many rows stored as 2xx answers, in every round."""
    runs = figures.baseline + [intake.run for intake in figures.shadowbot]
    failed = Counter[str]()
    for run in runs:
        failed.update({s: n for s, n in run.load.statuses.items() if not s.startswith("2")})
    stored = sum(intake.stored for intake in figures.shadowbot)
    answered = sum(intake.answered for intake in figures.shadowbot)
    processed = [intake.processed for intake in figures.shadowbot]
    probes = len(figures.shadowbot[0].events)
    print(
        f"durably stored: {stored} rows in delivery for {answered} answers 2xx"
        f" ({probes} probes a round included); processed by the worker when the load"
        f" ended: {', '.join(map(str, processed))}"
    )
    if failed:
        print(f"answers not 2xx: {dict(failed)}")
    return not failed and all(i.stored == i.answered for i in figures.shadowbot)


def report_requests(figures: Figures) -> None:
    cold, after_comment, warm = figures.shadowbot[0].events
    print(
        f"GitHub requests per pull_request event: cold {cold}, warm {warm}"
        f" (right after the bot's own first comment: {after_comment})"
    )
    snap_cold, snap_warm = figures.snapshot
    print(
        f"  of which the snapshot (fetch_snapshot): cold {snap_cold.requests}"
        f" ({snap_cold.not_modified} of them 304), warm {snap_warm.requests}"
        f" ({snap_warm.not_modified} of them 304)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured, per round")
    parser.add_argument("--warmup", type=int, default=300, help="sent first, not measured")
    parser.add_argument("--concurrency", type=int, default=64, help="connections")
    parser.add_argument("--rounds", type=int, default=3, help="of each server")
    parser.add_argument("--load", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        asyncio.run(generate_load(LoadSpec(**json.loads(Path(args.load).read_text()))))
        return 0
    if args.baseline:
        serve_baseline(os.environ["SHADOWBOT_WEBHOOK_SECRET"], int(os.environ["SHADOWBOT_PORT"]))
        return 0
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})  # the simulated GitHub is not the bot's machine
    with tempfile.TemporaryDirectory(prefix="shadowbot-ingest-") as folder:
        try:
            figures = asyncio.run(asyncio.wait_for(measure(args, Path(folder), pin), TIME_LIMIT))
        except TimeoutError:
            print(
                f"ingest: stopped after {TIME_LIMIT:.0f} s; try fewer --requests", file=sys.stderr
            )
            return 2
    return 0 if report(figures, args, pin) else 1


if __name__ == "__main__":
    raise SystemExit(main())
