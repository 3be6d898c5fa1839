"""Webhook intake under a burst: `shadowbot serve` against Probot and a verify-only handler.

    python bench/ingest.py [--requests 3000] [--warmup 3000] [--concurrency 64] [--rounds 3]
    python bench/ingest.py --replicas 3 --database-url postgresql://postgres@127.0.0.1:5432/test

The same load against three servers, each in a fresh process pinned to core 0 while the
load generator runs on core 1:
- the floor, a minimal aiohttp handler that reads the body, checks its signature and
  answers 202;
- the peer, Probot (the Node framework most GitHub Apps are built on) running a no-op
  `pull_request` app (``bench/probot/``): it verifies the signature, parses the body,
  emits the event and stores nothing. The bench installs the pinned Probot from npm into
  ``bench/out/probot/`` once. It runs under `probot run`, as Probot's docs deploy an app,
  or with ``--probot-server middleware`` as its webhook middleware in a bare Node server;
- `shadowbot serve` on a fresh SQLite file in a temporary folder, talking to a simulated
  GitHub (in this process, on core 1), so that its worker processes the deliveries in
  the background during the load, as in production.
``--rounds`` rounds of all three, every other one in reverse order; the medians count, so
that a busy neighbour spoils a round, not the result, and shadowbot's ratios to Probot are
taken round by round.

The load: signed `pull_request` `opened` deliveries of one realistic pull request (the
simulator's delivery, completed with the fields GitHub sends that the simulator leaves
out), each with its own `X-GitHub-Delivery`, over ``--concurrency`` keep-alive
connections, ``--requests`` measured after ``--warmup``. The warm-up is long because Node
compiles Probot's hot code as it runs: its first few thousand deliveries cost it about
twice the CPU of later ones.

Printed: each server's deliveries per second, p50/p99 time to the answer and CPU per
delivery (which the load generator cannot cap); shadowbot's ratios to Probot
(deliveries per second, target >= 1; p99, target <= 1) and to the floor (target >= 0.5,
and p99 < 50 ms); the rows stored against shadowbot's 2xx answers and the events Probot's
app was handed against its 2xx answers; the GitHub requests one `pull_request` event
costs, with cold and with warm caches. Exits 1 when a target is missed.

``--replicas N --database-url URL`` measures processing instead: one `opened` delivery
for each of ``--prs`` pull requests, sent to one `shadowbot serve` and then to N of them
sharing a fresh schema of one PostgreSQL database (round-robin, as a load balancer
would), and the deliveries *processed* per second until every one is, with the
processings per delivery and the comments per pull request (above one: work done twice).
``--prs`` is 75 by default: each delivery posts a comment, and past 80 one replica would
be waiting for GitHub's content-creation limit (80 a minute), not processing.
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
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import aiohttp
import sqlalchemy as sa
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy.engine import Engine

from shadowbot.github import GitHubClient
from shadowbot.github.pacing import WRITE_LIMITS
from shadowbot.live.snapshot import LiveCache, RequestTally, fetch_snapshot
from shadowbot.metrics import Metrics
from shadowbot.simulator import FileChange, Simulator, signature_headers
from shadowbot.storage import create_db_engine
from shadowbot.web.signature import verify

TIME_LIMIT = 170.0  # seconds for the whole run: it must stop by itself, well under 3 min
#: The rounds stop early rather than run into the limit (start-up and the probes aside).
ROUNDS_BUDGET = TIME_LIMIT - 20.0
RATIO_TARGET = 0.5  # of the verify-only handler's deliveries per second
P99_TARGET_MS = 50.0
#: Issue 9: at or above Probot's deliveries per second, with a p99 no worse than Probot's.
PEER_RATIO_TARGET = 1.0
PEER_P99_TARGET = 1.0
#: The no-op Probot app and the pinned version of Probot (its package.json, its lock file),
#: and the folder npm installs it into, once, kept for the next run (ignored by git).
PROBOT_APP = Path(__file__).resolve().parent / "probot"
PROBOT_INSTALL = Path(__file__).resolve().parent / "out" / "probot"
#: Probot's own settings: inherited from the shell, they would change what is measured.
PROBOT_VARIABLES = (
    "APP_ID",
    "PRIVATE_KEY",
    "PRIVATE_KEY_PATH",
    "WEBHOOK_SECRET",
    "WEBHOOK_PATH",
    "WEBHOOK_PROXY_URL",
    "GHE_HOST",
    "GHE_PROTOCOL",
    "REDIS_URL",
    "SENTRY_DSN",
    "LOG_LEVEL",
    "LOG_FORMAT",
    "LOG_LEVEL_IN_STRING",
    "LOG_MESSAGE_KEY",
    "NODE_ENV",
    "NODE_OPTIONS",
    "HOST",
    "PORT",
)
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


def prepare_repository(sim: Simulator) -> None:
    sim.add_user("alice", "write")
    sim.add_user("bob", "write")
    sim.add_user("carol", "maintain")
    sim.set_codeowners(sim.repo, CODEOWNERS)


async def open_realistic_pr(sim: Simulator) -> int:
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


def realistic_delivery(
    sim: Simulator, secret: str, number: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The `opened` delivery of pull request ``number`` (the first one opened if None), its
    body as GitHub would send it, and its headers, re-signed; ``X-GitHub-Delivery`` is left
    for each request to set."""
    opened = next(
        d
        for d in sim.deliveries
        if (d.event, d.action) == ("pull_request", "opened")
        and number in (None, d.payload["number"])
    )
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


# -- the peer: Probot, installed from npm (a child process) ------------------------------


@dataclass(frozen=True)
class Probot:
    """Probot installed with the no-op app, and what it is started with."""

    folder: Path  # the app, its package.json and node_modules
    node: str
    version: str
    #: A throwaway key: Probot will not start without one, and never uses it here.
    private_key: str
    log_level: str | None  # None: Probot's own default (info for `run`, warn otherwise)
    #: ``run``: `probot run`, Probot's own server (a log line per request at level info);
    #: ``middleware``: its webhook middleware alone in a bare Node server (``server.js``).
    server: str

    @property
    def description(self) -> str:
        served = "`probot run`" if self.server == "run" else "its middleware in a bare server"
        return f"{served}, LOG_LEVEL {self.log_level or 'unset'}"

    @property
    def command(self) -> list[str]:
        if self.server == "middleware":
            return [self.node, "server.js"]
        return [self.node, "node_modules/probot/bin/probot.js", "run", "./index.js"]


def install_probot(log_level: str | None, server: str) -> Probot:
    """The no-op app and the pinned Probot, installed by npm into ``PROBOT_INSTALL`` unless
    it is there already (the first time takes about 10 s and needs the npm registry)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError("node and npm are needed to install and run Probot")
    manifest = json.loads((PROBOT_APP / "package.json").read_text())
    version: str = manifest["dependencies"]["probot"]
    folder = PROBOT_INSTALL / version
    folder.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "index.js", "server.js"):
        shutil.copyfile(PROBOT_APP / name, folder / name)
    installed = folder / "node_modules" / "probot" / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != version:
        print(f"installing probot@{version} from npm into {folder}", file=sys.stderr)
        command = [npm, "install", "--no-audit", "--no-fund", "--no-save", "--loglevel=error"]
        subprocess.run(
            [*command, f"probot@{version}"],
            cwd=folder,
            check=True,
            stdout=subprocess.DEVNULL,
            timeout=300,
        )
    return Probot(folder, node, version, throwaway_key(), log_level, server)


def throwaway_key() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,  # as GitHub hands them out
        serialization.NoEncryption(),
    )
    return pem.decode()


def probot_settings(probot: Probot, secret: str, port: int) -> dict[str, str]:
    """Probot's environment, as a deployed app has it."""
    settings = {
        "APP_ID": "1",
        "PRIVATE_KEY": probot.private_key,
        "WEBHOOK_SECRET": secret,
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "WEBHOOK_PATH": "/webhook",
        # As in production: JSON log lines (pretty ones are for a terminal).
        "NODE_ENV": "production",
        "LOG_FORMAT": "json",
        # GitHub's API at a closed port: a request Probot made would fail, and be logged.
        "GHE_HOST": f"127.0.0.1:{free_port()}",
        "GHE_PROTOCOL": "http",
    }
    if probot.log_level is not None:
        settings["LOG_LEVEL"] = probot.log_level
    return settings


def probot_outcome(log: Path) -> tuple[int, int]:
    """From Probot's output: the events the app counted (its last line, written when it was
    stopped), and the lines logged at level error or above (pino's 50 and 60)."""
    received, errors = 0, 0
    for line in log.read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict):
            continue
        if set(entry) == {"received"}:
            received = int(entry["received"])
        elif isinstance(entry.get("level"), int) and entry["level"] >= 50:
            errors += 1
    return received, errors


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
    """This process's environment less shadowbot's and Probot's settings, plus ``settings``."""
    kept = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("SHADOWBOT_") and key not in PROBOT_VARIABLES
    }
    return kept | dict(settings)


@contextlib.asynccontextmanager
async def serving(
    command: list[str],
    settings: Mapping[str, str],
    health_url: str,
    log_path: Path,
    core: int | None,
    cwd: Path | None = None,
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a server; yield once ``health_url`` answers 200; stop it."""
    log = log_path.open("wb")
    process = await asyncio.create_subprocess_exec(
        *pinned(core, command),
        env=child_environment(settings),
        cwd=cwd or log_path.parent,
        stdout=log,
        stderr=log,
    )
    try:
        await wait_healthy(health_url, process)
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
    probot: Probot

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


SHADOWBOT = [sys.executable, "-m", "shadowbot", "serve"]


def shadowbot_settings(sim: Simulator, secret: str, database_url: str) -> dict[str, str]:
    """``shadowbot serve``'s environment: talking to ``sim``, on a port of its own."""
    return {
        "SHADOWBOT_WEBHOOK_SECRET": secret,
        "SHADOWBOT_DATABASE_URL": database_url,
        "SHADOWBOT_APP_ID": str(sim.app_id),
        "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
        "SHADOWBOT_GITHUB_API_URL": sim.url,
        "SHADOWBOT_HOST": "127.0.0.1",
        "SHADOWBOT_PORT": str(free_port()),
    }


async def measure_baseline(setup: Setup, index: int) -> Run:
    settings = {"SHADOWBOT_WEBHOOK_SECRET": setup.secret, "SHADOWBOT_PORT": str(free_port())}
    command = [sys.executable, str(Path(__file__).resolve()), "--baseline"]
    log = setup.folder / f"baseline-{index}.log"
    health = f"http://127.0.0.1:{settings['SHADOWBOT_PORT']}/healthz"
    async with serving(command, settings, health, log, setup.core(SERVER_CORE)) as server:
        return await setup.load(settings["SHADOWBOT_PORT"], server.pid)


@dataclass(frozen=True)
class Peer:
    """One round of Probot under the load, and what its app was handed."""

    run: Run
    received: int  # `pull_request` events the no-op app counted
    errors: int  # lines Probot logged at level error or above


async def measure_probot(setup: Setup, index: int) -> Peer:
    port = free_port()
    settings = probot_settings(setup.probot, setup.secret, port)
    log = setup.folder / f"probot-{index}.log"
    health = f"http://127.0.0.1:{port}/ping"
    core, folder = setup.core(SERVER_CORE), setup.probot.folder
    async with serving(setup.probot.command, settings, health, log, core, folder) as server:
        run = await setup.load(str(port), server.pid)
    return Peer(run, *probot_outcome(log))


async def measure_shadowbot(setup: Setup, sim: Simulator, index: int) -> Intake:
    """A fresh ``shadowbot serve`` on a fresh SQLite file, talking to ``sim``."""
    database = setup.folder / f"shadowbot-{index}.db"
    settings = shadowbot_settings(sim, setup.secret, f"sqlite:///{database}")
    log = setup.folder / f"shadowbot-{index}.log"
    health = f"http://127.0.0.1:{settings['SHADOWBOT_PORT']}/healthz"
    async with serving(SHADOWBOT, settings, health, log, setup.core(SERVER_CORE)) as server:
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
    probot: list[Peer]
    shadowbot: list[Intake]
    snapshot: tuple[RequestTally, RequestTally]  # cold, warm


async def measure(args: argparse.Namespace, folder: Path, pin: bool, probot: Probot) -> Figures:
    """Rounds of the baseline, Probot and shadowbot, each server a fresh process: a noisy
    neighbour on the machine spoils one round, not the medians."""
    secret = secrets.token_hex(20)
    async with Simulator.running(webhook_secret=secret) as sim:
        prepare_repository(sim)
        number = await open_realistic_pr(sim)
        body, headers = realistic_delivery(sim, secret)
        setup = Setup(
            folder,
            secret,
            body,
            headers,
            args.requests,
            args.warmup,
            args.concurrency,
            pin,
            probot,
        )
        snapshot = await snapshot_cost(sim, number)
        baseline, peers, shadowbot = [], [], []
        started = time.monotonic()
        for index in range(args.rounds):
            elapsed = time.monotonic() - started
            if index > 0 and elapsed / index * (index + 1) > ROUNDS_BUDGET:
                print(
                    f"ingest: {index} rounds of {args.rounds}: another would take the run past"
                    f" {TIME_LIMIT:.0f} s (a busy machine; try fewer --requests)",
                    file=sys.stderr,
                )
                break
            # Every other round in reverse order, so that none always follows another.
            if index % 2 == 0:
                baseline.append(await measure_baseline(setup, index))
                peers.append(await measure_probot(setup, index))
                shadowbot.append(await measure_shadowbot(setup, sim, index))
            else:
                shadowbot.append(await measure_shadowbot(setup, sim, index))
                peers.append(await measure_probot(setup, index))
                baseline.append(await measure_baseline(setup, index))
    return Figures(len(body), baseline, peers, shadowbot, snapshot)


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


def report(figures: Figures, args: argparse.Namespace, pin: bool, probot: Probot) -> bool:
    """Print the figures; whether every target is met."""
    runs = [intake.run for intake in figures.shadowbot]
    peers = [peer.run for peer in figures.probot]
    base, peer, bot = Summary.of(figures.baseline), Summary.of(peers), Summary.of(runs)
    version = probot.version
    where = "servers on core 0, load and GitHub on core 1" if pin else "not pinned"
    print(
        f"payload: pull_request opened, {figures.body_bytes / 1024:.1f} KiB, signed;"
        f" {args.requests} requests after {args.warmup} warm-up, {args.concurrency}"
        f" keep-alive connections; {where}; {len(runs)} rounds, fresh processes each;"
        f" Probot {version}, {probot.description}"
    )
    print(f"{'':28}{'deliveries/s':>13}{'p50 ms':>9}{'p99 ms':>9}{'CPU µs/dlv':>12}  CPU used")
    rounds = zip(figures.baseline, peers, runs, strict=True)
    for index, (baseline, peer_run, intake) in enumerate(rounds):
        print(f"{f'round {index + 1}:':9}{'baseline':19}{_row(baseline)}")
        print(f"{'':9}{f'Probot {version}':19}{_row(peer_run)}")
        print(f"{'':9}{'shadowbot':19}{_row(intake)}")
    print(f"{'median:':9}{'baseline':19}{base.row()}")
    print(f"{'':9}{f'Probot {version}':19}{peer.row()}")
    print(f"{'':9}{'shadowbot':19}{bot.row()}")
    # Paired by round: the two ran a few seconds apart, beside the same neighbours.
    rate = [b.load.per_second / p.load.per_second for b, p in zip(runs, peers, strict=True)]
    p99 = [b.load.p99_ms / p.load.p99_ms for b, p in zip(runs, peers, strict=True)]
    cpu = [p.cpu_per_delivery_us / b.cpu_per_delivery_us for b, p in zip(runs, peers, strict=True)]
    peer_rate, peer_p99 = statistics.median(rate), statistics.median(p99)
    print(
        f"shadowbot / Probot, deliveries per second: {peer_rate:.2f}"
        f"  (rounds {_ratios(rate)}; target >= {PEER_RATIO_TARGET:.2f})"
    )
    print(
        f"shadowbot p99 / Probot p99: {peer_p99:.2f}"
        f"  (rounds {_ratios(p99)}; target <= {PEER_P99_TARGET:.2f})"
    )
    print(
        f"CPU per delivery, Probot / shadowbot: {statistics.median(cpu):.2f}"
        f"  (rounds {_ratios(cpu)}; above 1: shadowbot spends less per delivery)"
    )
    ratio = bot.per_second / base.per_second
    print(f"ratio shadowbot/baseline: {ratio:.2f}  (target >= {RATIO_TARGET})")
    print(f"shadowbot p99 acknowledgement: {bot.p99_ms:.1f} ms  (target < {P99_TARGET_MS:.0f} ms)")
    busy = max(run.others_cpu / run.seconds for run in figures.baseline + peers + runs)
    if busy > BUSY_NEIGHBOURS:
        print(f"note: the rest of the machine used up to {busy:.0%} of a core while measuring")
    stored_ok = report_storage(figures)
    report_requests(figures)
    return (
        ratio >= RATIO_TARGET
        and bot.p99_ms < P99_TARGET_MS
        and peer_rate >= PEER_RATIO_TARGET
        and peer_p99 <= PEER_P99_TARGET
        and stored_ok
    )


def _ratios(values: list[float]) -> str:
    return ", ".join(f"{value:.2f}" for value in values)


def _row(run: Run) -> str:
    load = run.load
    return (
        f"{load.per_second:13.0f}{load.p50_ms:9.1f}{load.p99_ms:9.1f}{run.cpu_per_delivery_us:12.0f}"
        f"  server {run.server_cpu / run.seconds:.0%}, load {load.cpu_seconds / load.seconds:.0%},"
        f" GitHub {run.github_cpu / run.seconds:.0%}, others {run.others_cpu / run.seconds:.0%}"
    )


def report_storage(figures: Figures) -> bool:
    """Every answer 2xx; as many rows stored as shadowbot's 2xx answers, and as many events
    handed to Probot's app as its 2xx answers, in every round."""
    runs = figures.baseline + [p.run for p in figures.probot] + [i.run for i in figures.shadowbot]
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
    received = sum(peer.received for peer in figures.probot)
    accepted = sum(peer.run.load.accepted for peer in figures.probot)
    errors = sum(peer.errors for peer in figures.probot)
    print(
        f"Probot's app was handed {received} pull_request events for {accepted} answers 2xx;"
        f" {errors} lines logged at level error"
    )
    if failed:
        print(f"answers not 2xx: {dict(failed)}")
    peers_ok = errors == 0 and all(p.received == p.run.load.accepted for p in figures.probot)
    return not failed and peers_ok and all(i.stored == i.answered for i in figures.shadowbot)


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


# -- processing: one replica against several on one PostgreSQL ---------------------------

#: Seconds the deliveries may take to be processed, after the last one was acknowledged.
PROCESSING_LIMIT = 300.0
#: Each delivery makes its replica post one comment, and a replica paces its comments
#: within GitHub's content-creation limit (80 a minute, ``github/pacing.py``): past that
#: many, one replica waits for the minute to pass, and its figure is that wait, not
#: processing (200 deliveries took one replica 123 s at 5% of a core, three 6 s).
PACED_AFTER = WRITE_LIMITS[0][0]
PROCESSING_PRS = PACED_AFTER - 5


@dataclass(frozen=True)
class Processed:
    """One burst of deliveries of different pull requests, each sent to one of ``replicas``
    ``shadowbot serve`` processes on one database, until every one is processed."""

    replicas: int
    deliveries: int
    accepted: int  # answered 2xx
    seconds: float  # from the first delivery sent to the last one processed
    errors: dict[str, int]  # deliveries processed with an error recorded, by error
    processings: list[int]  # deliveries each replica processed (its /metrics)
    replica_cpu: float  # CPU seconds of all the replicas meanwhile
    comments: int  # comments on the pull requests once all were processed
    github_requests: int  # made to the simulated GitHub meanwhile
    bench_cpu: float  # CPU seconds of this process meanwhile: the simulated GitHub, mostly

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds


@contextlib.contextmanager
def postgresql_schema(server: str) -> Iterator[str]:
    """A fresh schema, first on the search path of the URL yielded, dropped afterwards."""
    url = sa.make_url(server)
    name = f"shadowbot_ingest_{uuid.uuid4().hex[:12]}"
    engine = create_db_engine(server)
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        options = f"{url.query.get('options', '')} -csearch_path={name}".strip()
        yield url.update_query_dict({"options": options}).render_as_string(hide_password=False)
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        engine.dispose()


async def measure_processing(
    replicas: int, database_url: str, prs: int, concurrency: int, folder: Path
) -> Processed:
    """A fresh simulated GitHub with ``prs`` pull requests, a fresh schema, ``replicas``
    servers on it; one ``opened`` delivery per pull request, round-robin over them."""
    secret = secrets.token_hex(20)
    async with Simulator.running(webhook_secret=secret) as sim:
        prepare_repository(sim)
        numbers = [await open_realistic_pr(sim) for _ in range(prs)]
        deliveries = [realistic_delivery(sim, secret, number) for number in numbers]
        with postgresql_schema(database_url) as url, contextlib.ExitStack() as closing:
            engine = create_db_engine(url)
            closing.callback(engine.dispose)
            async with contextlib.AsyncExitStack() as stack:
                ports: list[str] = []
                pids: list[int] = []
                for index in range(replicas):  # one at a time: each migrates on start
                    settings = shadowbot_settings(sim, secret, url)
                    health = f"http://127.0.0.1:{settings['SHADOWBOT_PORT']}/healthz"
                    log = folder / f"replica-{replicas}-{index}.log"
                    server = serving(SHADOWBOT, settings, health, log, None)
                    pids.append((await stack.enter_async_context(server)).pid)
                    ports.append(settings["SHADOWBOT_PORT"])
                start = len(sim.requests)
                before = time.perf_counter(), time.process_time(), sum(map(cpu_seconds, pids))
                urls = [f"http://127.0.0.1:{port}/webhook" for port in ports]
                accepted = await send_each(deliveries, urls, concurrency)
                await wait_processed(engine, accepted)
                after = time.perf_counter(), time.process_time(), sum(map(cpu_seconds, pids))
                processings = [await processed_count(port) for port in ports]
            with engine.connect() as connection:
                sql = "SELECT error FROM delivery WHERE error IS NOT NULL"
                errors = Counter(row[0][:120] for row in connection.execute(sa.text(sql)))
        comments = sum(len(sim.comments(sim.repo, number)) for number in numbers)
        made = len(sim.requests) - start
    seconds, cpu, replica_cpu = (b - a for a, b in zip(before, after, strict=True))
    return Processed(
        replicas=replicas,
        deliveries=prs,
        accepted=accepted,
        seconds=seconds,
        errors=dict(errors),
        processings=processings,
        replica_cpu=replica_cpu,
        comments=comments,
        github_requests=made,
        bench_cpu=cpu,
    )


async def send_each(
    deliveries: list[tuple[bytes, dict[str, str]]], urls: list[str], concurrency: int
) -> int:
    """Send every delivery once, the n-th to ``urls[n % len(urls)]``; the 2xx answers."""
    queue = list(enumerate(deliveries))
    accepted = 0

    async def connection(session: aiohttp.ClientSession) -> None:
        nonlocal accepted
        while queue:
            index, (body, headers) = queue.pop(0)
            sent = {**headers, "X-GitHub-Delivery": str(uuid.uuid4())}
            url = urls[index % len(urls)]
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):  # not acknowledged
                async with session.post(url, data=body, headers=sent) as answer:
                    await answer.read()
                    accepted += 200 <= answer.status < 300

    timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
    async with aiohttp.ClientSession(timeout=timeout) as session:
        await asyncio.gather(*(connection(session) for _ in range(concurrency)))
    return accepted


async def wait_processed(engine: Engine, count: int) -> None:
    sql = "SELECT count(processed_at) FROM delivery"
    async with asyncio.timeout(PROCESSING_LIMIT):
        while await asyncio.to_thread(query_url, engine, sql) < count:
            await asyncio.sleep(0.05)


def query_url(engine: Engine, sql: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.text(sql)).scalar_one())


async def processed_count(port: str) -> int:
    """The deliveries a replica processed, from its ``/metrics``."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as answer:
            text = await answer.text()
    name = "shadowbot_deliveries_processed_total"
    return sum(
        int(float(line.rsplit(" ", 1)[1]))
        for line in text.splitlines()
        if line.startswith(name + "{") or line.startswith(name + " ")
    )


async def measure_replicas(args: argparse.Namespace, folder: Path) -> list[Processed]:
    one = await measure_processing(1, args.database_url, args.prs, args.concurrency, folder)
    many = await measure_processing(
        args.replicas, args.database_url, args.prs, args.concurrency, folder
    )
    return [one, many]


def report_replicas(runs: list[Processed]) -> None:
    print(
        f"processing: {runs[0].deliveries} pull_request opened deliveries, each of a pull"
        " request of its own, sent round-robin to the replicas on one PostgreSQL (a fresh"
        " schema each); not pinned"
    )
    print(
        f"{'replicas':>9}{'processed/s':>13}{'seconds':>9}{'CPU ms/dlv':>12}"
        "  processed by each   comments/PR"
    )
    for run in runs:
        each = ", ".join(map(str, run.processings))
        print(
            f"{run.replicas:9}{run.per_second:13.1f}{run.seconds:9.2f}"
            f"{run.replica_cpu / run.deliveries * 1000:12.1f}  {each:18}"
            f"{run.comments / run.deliveries:12.2f}"
            f"   ({run.accepted} answered 2xx, {sum(run.errors.values())} failed,"
            f" {run.github_requests / run.deliveries:.1f} GitHub requests a delivery,"
            f" replicas {run.replica_cpu / run.seconds:.0%} of a core,"
            f" bench and GitHub {run.bench_cpu / run.seconds:.0%})"
        )
        for error, count in run.errors.items():
            print(f"{'':11}failed {count}x: {error}")
    one, many = runs
    print(f"{many.replicas} replicas / 1: {many.per_second / one.per_second:.2f}x processed/s")
    if one.deliveries > PACED_AFTER:
        print(
            f"note: {one.deliveries} deliveries make one replica post more than {PACED_AFTER}"
            " comments in a minute, which it paces to GitHub's limit: the ratio measures that"
            f" pacing, not processing (--prs {PROCESSING_PRS} stays within it)"
        )
    twice = sum(many.processings) - many.deliveries
    if twice > 0:
        print(
            f"note: {twice} processings beyond one per delivery: some deliveries were processed"
            " by more than one replica (each is leased to one: a lease ran out mid-processing,"
            " or the leases do not hold), so this is work done twice"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000, help="measured, per round")
    parser.add_argument("--warmup", type=int, default=3000, help="sent first, not measured")
    parser.add_argument("--concurrency", type=int, default=64, help="connections")
    parser.add_argument("--rounds", type=int, default=3, help="of each server")
    parser.add_argument(
        "--probot-server",
        default="run",
        choices=("run", "middleware"),
        help="`probot run`, or Probot's webhook middleware alone in a bare Node server",
    )
    parser.add_argument(
        "--probot-log-level",
        choices=("trace", "debug", "info", "warn", "error", "fatal"),
        help="Probot's LOG_LEVEL (unset: info for `probot run`, a line per request; warn for"
        " the middleware)",
    )
    parser.add_argument(
        "--replicas",
        type=int,
        help="measure processing instead: this many replicas against one (needs --database-url)",
    )
    parser.add_argument("--database-url", help="PostgreSQL, for --replicas: a fresh schema")
    parser.add_argument(
        "--prs",
        type=int,
        default=PROCESSING_PRS,
        help=f"for --replicas: one delivery each (above {PACED_AFTER}, one replica's comments"
        " are paced to GitHub's limit and the figure measures that)",
    )
    parser.add_argument("--load", metavar="SPEC", help=argparse.SUPPRESS)
    parser.add_argument("--baseline", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        asyncio.run(generate_load(LoadSpec(**json.loads(Path(args.load).read_text()))))
        return 0
    if args.baseline:
        serve_baseline(os.environ["SHADOWBOT_WEBHOOK_SECRET"], int(os.environ["SHADOWBOT_PORT"]))
        return 0
    if args.replicas is not None:
        if args.database_url is None:
            parser.error("--replicas needs --database-url postgresql://...")
        if not args.database_url.startswith(("postgresql://", "postgresql+psycopg://")):
            parser.error("--database-url must be a postgresql:// URL (replicas share one)")
        if args.replicas < 2 or args.prs < 1:
            parser.error("--replicas must be 2 or more, and --prs 1 or more")
        with tempfile.TemporaryDirectory(prefix="shadowbot-replicas-") as folder:
            report_replicas(asyncio.run(measure_replicas(args, Path(folder))))
        return 0
    try:
        probot = install_probot(args.probot_log_level, args.probot_server)  # before the clock
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"ingest: cannot install Probot: {error}", file=sys.stderr)
        return 2
    pin = can_pin()
    if pin:
        os.sched_setaffinity(0, {LOAD_CORE})  # the simulated GitHub is not the bot's machine
    with tempfile.TemporaryDirectory(prefix="shadowbot-ingest-") as folder:
        run = measure(args, Path(folder), pin, probot)
        try:
            figures = asyncio.run(asyncio.wait_for(run, TIME_LIMIT))
        except TimeoutError:
            print(
                f"ingest: stopped after {TIME_LIMIT:.0f} s; try fewer --requests", file=sys.stderr
            )
            return 2
    return 0 if report(figures, args, pin, probot) else 1


if __name__ == "__main__":
    raise SystemExit(main())
