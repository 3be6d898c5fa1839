"""The bot and the GitHub simulator together, for the end-to-end tests of live mode.

A test module imports ``sim_fixture`` to have the ``sim`` fixture (a simulator with three
users), ``running_bot`` to start ``shadowbot serve``'s app on a free port against it, and
waits with ``Bot.quiet()`` until every delivery has been processed.
"""

import contextlib

import aiohttp
import pytest
from sqlmodel import Session, select

from shadowbot.github import GitHubApp
from shadowbot.live.demo import running_bot as serving
from shadowbot.live.demo import wait_quiet
from shadowbot.metrics import Metrics
from shadowbot.settings import load_settings
from shadowbot.simulator import Simulator
from shadowbot.storage import DeliveryRow, NoteVersionRow, VerdictRow
from shadowbot.web.app import DATABASE

SECRET = "live-secret"
PACKAGE = "pkgs/by-name/he/hello/package.nix"


class Bot:
    def __init__(self, sim, app):
        self.sim = sim
        self.app = app

    async def quiet(self):
        """Wait until the simulator has delivered everything and the bot processed it,
        including the webhooks its own writes cause."""
        await wait_quiet(self.sim, self.app, timeout=20)

    def session(self):
        return Session(self.app[DATABASE])

    def bot_comments(self, number):
        return [
            c for c in self.sim.comments(self.sim.repo, number) if c.user.login == "shadowbot[bot]"
        ]

    def evaluation_times(self):
        """When each rule last evaluated each head, by (rule id, PR id, head SHA)."""
        times = {}
        with self.session() as session:
            for row in session.exec(select(VerdictRow)):
                key = (row.rule_id, row.pull_request_id, row.head_sha)
                times[key] = max(times.get(key, row.evaluated_at), row.evaluated_at)
        return times

    def notes(self):
        """Every note version, oldest first: (body, author, rule, deleted)."""
        with self.session() as session:
            rows = session.exec(select(NoteVersionRow).order_by(NoteVersionRow.id))
            return [(n.body, n.author_login, n.rule_name, n.deleted) for n in rows]

    def processed(self, event):
        """(action, error) of each stored delivery of ``event`` the worker finished."""
        with self.session() as session:
            rows = session.exec(select(DeliveryRow).where(DeliveryRow.event == event))
            return [(row.action, row.error) for row in rows if row.processed_at is not None]


@contextlib.asynccontextmanager
async def running_bot(sim, database, **env):
    """The bot serving ``sim``; ``database`` is a folder for a new SQLite file, or a URL."""
    url = database if isinstance(database, str) else f"sqlite:///{database / 'live.db'}"
    settings = load_settings(
        {
            "SHADOWBOT_WEBHOOK_SECRET": SECRET,
            "SHADOWBOT_DATABASE_URL": url,
            "SHADOWBOT_APP_ID": str(sim.app_id),
            "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
            "SHADOWBOT_GITHUB_API_URL": sim.url,
            **env,
        }
    )
    async with serving(settings, sim) as app:
        yield Bot(sim, app)


@pytest.fixture(name="sim")
async def sim_fixture(app_key_pem):
    async with Simulator.running(webhook_secret=SECRET, private_key_pem=app_key_pem) as simulator:
        simulator.add_user("alice", "write")
        simulator.add_user("carol", "write")
        simulator.add_user("dave", "read")
        simulator.set_codeowners(simulator.repo, f"/{PACKAGE} @alice\n")
        yield simulator


async def writer_pair_claim(sim):
    """A writer's PR, green, approved by another writer: `writer-pair` claims merge."""
    number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=[PACKAGE])
    await sim.add_check(sim.repo, number, "build")
    await sim.review(sim.repo, number, "carol", "APPROVED")
    return number


def pr_reads(sim, number, since=0):
    """Requests for the pull request or its parts (files, reviews) made after request
    number ``since``: building a snapshot, the start of every evaluation, makes them."""
    path = f"/repos/{sim.repo}/pulls/{number}"
    return [
        r
        for r in sim.requests[since:]
        if r.method == "GET" and (r.path == path or r.path.startswith(path + "/"))
    ]


def reactions_on(sim, number, comment_id):
    """(login, content) of the reactions on one comment of the PR."""
    (comment,) = [c for c in sim.comments(sim.repo, number) if c.id == comment_id]
    return [(r.user.login, r.content) for r in comment.reactions]


@pytest.fixture(name="github")
async def github_fixture(sim):
    """The app's identity against the simulator, as ``shadowbot serve`` builds it."""
    async with aiohttp.ClientSession() as session:
        yield GitHubApp(
            session,
            base_url=sim.url,
            app_id=sim.app_id,
            private_key=sim.private_key_pem,
            metrics=Metrics(),
        )
