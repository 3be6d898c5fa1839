"""``shadowbot demo``: the bot and a simulated GitHub on this machine, and a story played
on them, so a newcomer watches verdicts appear on pull requests and feedback arrive.

Everything is real but GitHub: the bot is ``shadowbot serve`` on a SQLite file, it gets
signed webhooks and talks REST to the simulator over HTTP on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from aiohttp import web
from sqlmodel import Session, col, select

from shadowbot.live.comments import parse_marker
from shadowbot.live.service import create_live_app
from shadowbot.settings import Secret, Settings
from shadowbot.simulator import Simulator
from shadowbot.storage import NoteRow, OutcomeRow
from shadowbot.web.app import DATABASE, WORKER

REPO = "acme/pkgs"
PACKAGE = "pkgs/by-name/he/hello/package.nix"
DOCS = "doc/manual/installing.md"
BASE = "master"  # as in nixpkgs, which the bundled rules are written for
Say = Callable[[str], None]
T = TypeVar("T")


async def wait_quiet(sim: Simulator, app: web.Application, timeout: float = 30) -> None:
    """Until every webhook is delivered and processed, those the bot's writes cause too."""
    async with asyncio.timeout(timeout):
        while True:
            await sim.settle()
            await asyncio.sleep(0.05)
            await app[WORKER].idle.wait()
            delivered = len(sim.deliveries)
            await sim.settle()
            if len(sim.deliveries) == delivered and app[WORKER].idle.is_set():
                return


@contextlib.asynccontextmanager
async def running_bot(settings: Settings, sim: Simulator) -> AsyncIterator[web.Application]:
    runner = web.AppRunner(create_live_app(settings))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    sim.webhook_url = f"http://{host}:{port}/webhook"
    try:
        yield runner.app
    finally:
        await runner.cleanup()


def verdict_line(sim: Simulator, number: int) -> str:
    """What the bot's comment on the PR says now, in one line."""
    for comment in sim.comments(REPO, number):
        marker = parse_marker(comment.body)
        if marker is not None and comment.user.login.endswith("[bot]"):
            claims = ", ".join(marker.claims) or "no rule claims merge any more"
            return f"comment #{comment.id} on head {marker.head_sha[:7]}: {claims}"
    return "no verdict comment (no rule would merge)"


async def play(sim: Simulator, app: web.Application, say: Say) -> list[int]:
    """The story: a bot's version bump, a contributor's docs change, feedback, a merge."""

    async def step(text: str, action: Awaitable[T]) -> T:
        result = await action
        await wait_quiet(sim, app)
        say(f"- {text}")
        return result

    bump = await step(
        'update-bot[bot] opens #1 "hello: 2.12 -> 2.12.1"',
        sim.open_pr(REPO, "update-bot[bot]", "hello: 2.12 -> 2.12.1", files=[PACKAGE], base=BASE),
    )
    await step("CI passes on #1", sim.add_check(REPO, bump, "build (x86_64-linux)"))
    await step("alice, the package's code owner, approves #1", sim.review(REPO, bump, "alice"))
    say(f"  shadowbot on #1: {verdict_line(sim, bump)}")
    docs = await step(
        "dave, a new contributor, opens #2 touching the manual",
        sim.open_pr(REPO, "dave", "doc: explain installing on macOS", files=[DOCS], base=BASE),
    )
    await step("CI passes on #2", sim.add_check(REPO, docs, "build (x86_64-linux)"))
    await step("erin, another contributor, approves #2", sim.review(REPO, docs, "erin"))
    say(f"  shadowbot on #2: {verdict_line(sim, docs)}")
    note = "@shadowbot note the macOS steps are untested"
    await step(f'dave comments "{note}" on #2', sim.comment(REPO, docs, "dave", note))
    mine = [c for c in sim.comments(REPO, docs) if c.user.login.endswith("[bot]")]
    if mine:
        await sim.react(mine[0].id, "carol", "-1")
        say("- carol, a merger, reacts 👎 on the verdict of #2: any-approval was wrong to claim it")
    await step("carol requests changes on #2", sim.review(REPO, docs, "carol", "CHANGES_REQUESTED"))
    say(f"  shadowbot on #2: {verdict_line(sim, docs)}  (any-approval ignores change requests)")
    await step("update-bot[bot] pushes a new commit to #1", sim.push(REPO, bump, files=[PACKAGE]))
    say(f"  shadowbot on #1: {verdict_line(sim, bump)}  (the approval was on the old head)")
    await step(
        "CI passes again and alice re-approves #1",
        _all(sim.add_check(REPO, bump, "build (x86_64-linux)"), sim.review(REPO, bump, "alice")),
    )
    say(f"  shadowbot on #1: {verdict_line(sim, bump)}")
    await step(
        "alice merges #1 by hand (shadowbot never merges)", sim.merge(REPO, bump, merger="alice")
    )
    return [bump, docs]


async def _all(*actions: Awaitable[object]) -> None:
    for action in actions:
        await action


def summary(app: web.Application) -> list[str]:
    with Session(app[DATABASE]) as session:
        notes = session.exec(select(NoteRow).order_by(col(NoteRow.id))).all()
        outcomes = session.exec(select(OutcomeRow).order_by(col(OutcomeRow.id))).all()
        lines = [f"  note by {n.author_login}: {n.body!r}" for n in notes]
        lines += [
            f"  outcome: {o.kind} at {o.sha and o.sha[:7]} by {o.actor_login}" for o in outcomes
        ]
    return lines


def demo_settings(base: Settings, sim: Simulator, database: Path, secret: str) -> Settings:
    return replace(
        base,
        database_url=f"sqlite:///{database}",
        app_id=sim.app_id,
        private_key=Secret(sim.private_key_pem),
        webhook_secret=Secret(secret),
        github_api_url=sim.url,
    )


async def run_demo(base: Settings, database: Path, port: int, keep_running: bool, say: Say) -> None:
    secret = secrets.token_hex(16)
    async with Simulator.running(port=port, webhook_secret=secret, repos=(REPO,)) as sim:
        sim.add_user("alice", "write")
        sim.add_user("carol", "write")
        sim.add_user("dave", "read")
        sim.add_user("erin", "read")
        sim.add_user("update-bot[bot]", type="Bot")
        owners = "/pkgs/by-name/he/hello/ @alice\n/doc/ @carol\n"
        sim.set_codeowners(REPO, owners, branch=BASE)
        async with running_bot(demo_settings(base, sim, database, secret), sim) as app:
            say(f"shadowbot is serving; GitHub is simulated at {sim.url} ({REPO}).\n")
            numbers = await play(sim, app, say)
            say("\nRecorded by shadowbot:")
            for line in summary(app):
                say(line)
            say("\nWhere to look:")
            for number in numbers:
                say(f"  {sim.url}/{REPO}/pull/{number}   (the PR page, with the bot's comment)")
            say(f"  {database}   (the bot's SQLite database: verdicts, revisions, notes)")
            if keep_running:
                say("\nServing until you press Ctrl-C.")
                await asyncio.Event().wait()
            else:
                say("\nRun `shadowbot demo --keep-running` to keep the pages up and browse them.")
