"""The bot and the GitHub simulator together, for the end-to-end tests of live mode.

A test module imports ``sim_fixture`` to have the ``sim`` fixture (a simulator with three
users), ``running_bot`` to start ``shadowbot serve``'s app on a free port against it, and
waits with ``Bot.quiet()`` until every delivery has been processed.
"""

import asyncio
import contextlib

import pytest
from aiohttp import web
from sqlmodel import Session, select

from shadowbot.live.service import create_live_app
from shadowbot.settings import load_settings
from shadowbot.simulator import Simulator
from shadowbot.storage import DeliveryRow
from shadowbot.web.app import DATABASE, WORKER

SECRET = "live-secret"
PACKAGE = "pkgs/by-name/he/hello/package.nix"


class Bot:
    def __init__(self, sim, runner):
        self.sim = sim
        self.runner = runner
        self.app = runner.app

    async def quiet(self):
        """Wait until the simulator has delivered everything and the bot processed it,
        including the webhooks its own writes cause."""
        for _ in range(20):
            await self.sim.settle()
            await asyncio.sleep(0.05)
            await asyncio.wait_for(self.app[WORKER].idle.wait(), 10)
            before = len(self.sim.deliveries)
            await self.sim.settle()
            if len(self.sim.deliveries) == before and self.app[WORKER].idle.is_set():
                return
        raise AssertionError("the bot never went quiet")

    def session(self):
        return Session(self.app[DATABASE])

    def bot_comments(self, number):
        return [
            c for c in self.sim.comments(self.sim.repo, number) if c.user.login == "shadowbot[bot]"
        ]

    def processed(self, event):
        """(action, error) of each stored delivery of ``event`` the worker finished."""
        with self.session() as session:
            rows = session.exec(select(DeliveryRow).where(DeliveryRow.event == event))
            return [(row.action, row.error) for row in rows if row.processed_at is not None]


@contextlib.asynccontextmanager
async def running_bot(sim, tmp_path, **env):
    settings = load_settings(
        {
            "SHADOWBOT_WEBHOOK_SECRET": SECRET,
            "SHADOWBOT_DATABASE_URL": f"sqlite:///{tmp_path / 'live.db'}",
            "SHADOWBOT_APP_ID": str(sim.app_id),
            "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
            "SHADOWBOT_GITHUB_API_URL": sim.url,
            **env,
        }
    )
    runner = web.AppRunner(create_live_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sim.webhook_url = f"http://{host}:{port}/webhook"
    try:
        yield Bot(sim, runner)
    finally:
        await runner.cleanup()


@pytest.fixture(name="sim")
async def sim_fixture():
    async with Simulator.running(webhook_secret=SECRET) as simulator:
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
