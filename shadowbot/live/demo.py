"""``shadowbot demo``: the bot and a simulated GitHub on this machine, and a story played
on them, so a newcomer watches the whole feedback loop in well under a minute: verdicts
on pull requests, mergers' and others' reactions, merges, the ledger settling claims into
wins and losses, a loose rule disabled and a careful one promoted.

Everything is real but GitHub: the bot is ``shadowbot serve`` on a SQLite file, it gets
signed webhooks and talks REST to the simulator over HTTP on 127.0.0.1. Only the clock of
the feedback loop is the demo's: its jobs (the reaction sweep, the settlement) run when
the story says so rather than on their schedule, and the thresholds are lowered so that
seconds do what days and dozens of pull requests do in production. ``--script FILE``
plays a scenario of your own instead (docs/scenarios.md).
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
import re
import secrets
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any, TypeVar, cast

from aiohttp import web
from sqlmodel import Session, col, func, select

from shadowbot.core.ledger import Thresholds
from shadowbot.errors import ShadowbotError
from shadowbot.live.comments import parse_marker
from shadowbot.live.service import READY, create_live_app, jobs_of
from shadowbot.live.settling import SettleReport, verify
from shadowbot.offline.ledger_view import load_views, percent, shown_state, table
from shadowbot.settings import Secret, Settings
from shadowbot.simulator import Simulator, SimulatorError, load_script
from shadowbot.simulator.scenario_verdicts import VerdictDriver
from shadowbot.simulator.script import play as play_steps
from shadowbot.snapshot import Actor, Permission, UserType, counts_as_merger
from shadowbot.storage import (
    LedgerEntryRow,
    NoteVersionRow,
    OutcomeRow,
    PullRequestRow,
    ReactionRow,
    RuleRow,
    VerdictCommentRow,
    create_db_engine,
    utcnow,
)
from shadowbot.web.app import DATABASE, SETTINGS, WORKER

REPO = "acme/pkgs"
PACKAGE = "pkgs/by-name/he/hello/package.nix"
WORLD = "pkgs/by-name/wo/world/package.nix"
DOCS = "doc/manual/installing.md"
BASE = "master"  # as in nixpkgs, which the bundled rules are written for
CODEOWNERS = "/pkgs/by-name/he/hello/ @alice\n/pkgs/by-name/wo/world/ @carol\n/doc/ @carol\n"
CI = "build (x86_64-linux)"
Say = Callable[[str], None]
T = TypeVar("T")

# -- the demo's lowered thresholds: the loop in seconds, said plainly ---------------------

GRACE = timedelta(seconds=3)
REVERT_WINDOW = timedelta(seconds=3)
LIMITS = Thresholds(max_losses=1, promote_wins=2)
#: The jobs run when the story says so (FeedbackLoop.settle), not on their own midway.
JOB_INTERVAL = 3600.0
LOWERED = (
    "Thresholds are lowered for this demo, to play in seconds what takes days and dozens of"
    " PRs in production:\n"
    f"  grace period {GRACE.seconds}s (default 24h), revert window {REVERT_WINDOW.seconds}s"
    f" (default 7d); a rule is disabled after more than {LIMITS.max_losses} loss (default:"
    f" more than 3), promoted after {LIMITS.promote_wins} wins without a loss (default 100)."
)
BOUND = (
    "  loss bound: the one-sided 95% upper bound on losses / (wins + losses); it narrows as"
    " results add up (100 clean wins: 3.0%)"
)
NO_VERDICT = "no verdict comment (no rule would merge)"
EMOJI = {"+1": "👍", "-1": "👎"}
#: How a ledger entry's reason reads in the story.
REASONS = {
    "objection": "{who} on a verdict in which it claimed merge",
    "merged": "merged on a head it claimed, and the grace period is over",
    "endorsed": "{who} on its claim, and the PR is closed",
    "reverted": "its merge was reverted",
    "superseded": "merged at a head it did not claim",
    "closed_unmerged": "closed unmerged",
    "missed": "merged while it said hold: a recall figure, never a loss",
    "open": "back to pending",
    "grace": "back to pending",
}


def demo_settings(base: Settings, sim: Simulator, database: Path, secret: str) -> Settings:
    return replace(
        base,
        database_url=f"sqlite:///{database}",
        app_id=sim.app_id,
        private_key=Secret(sim.private_key_pem),
        webhook_secret=Secret(secret),
        github_api_url=sim.url,
        # The pages link each PR to where it lives: here, the simulator's PR pages.
        github_web_url=sim.url,
        grace_period=GRACE,
        revert_window=REVERT_WINDOW,
        thresholds=LIMITS,
        rule_thresholds={},
        promote_max_loss_rate=None,
        harvest_interval=JOB_INTERVAL,
        settle_interval=JOB_INTERVAL,
        reconcile_interval=JOB_INTERVAL,
        mergers=frozenset(),
        posting_mode="combined",
        repository_modes={},
        post_when="merge",
    )


#: SQLite's ``application_id`` (https://www.sqlite.org/pragma.html#pragma_application_id)
#: of the demo's database, "shdm": how the demo tells its own earlier database, which it
#: replaces, from any other file at ``--database``, which it must not.
DEMO_APPLICATION_ID = 0x7368646D
_SQLITE_MAGIC = b"SQLite format 3\x00"


def prepare_database(path: Path) -> None:
    """Make ``path`` a new, empty database marked as the demo's; refuse to replace any file
    but an earlier demo's (an empty file has nothing to lose)."""
    if path.is_dir():
        raise ShadowbotError(f"--database: {path} is a directory; give a file for the database")
    if path.exists() and not _is_demo_database(path):
        raise ShadowbotError(
            f"--database: {path} is not a shadowbot demo database; not overwriting it"
            " (give another path, or remove it yourself)"
        )
    for leftover in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        leftover.unlink(missing_ok=True)
    # Created as the bot creates its databases, then marked; closing checkpoints the mark
    # into the file's header, where the next demo reads it.
    engine = create_db_engine(f"sqlite:///{path}")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(f"PRAGMA application_id = {DEMO_APPLICATION_ID}")
    finally:
        engine.dispose()


def _is_demo_database(path: Path) -> bool:
    try:
        with path.open("rb") as handle:
            header = handle.read(72)
    except OSError:
        return False
    if not header:
        return True
    mark = int.from_bytes(header[68:72], "big")
    return header.startswith(_SQLITE_MAGIC) and mark == DEMO_APPLICATION_ID


# -- the bot and the simulator, together --------------------------------------------------


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
        await asyncio.wait_for(runner.app[READY].wait(), 30)  # the app's identity learned
        yield runner.app
    finally:
        await runner.cleanup()


def verdict_line(sim: Simulator, number: int, repo: str = REPO) -> str:
    """What the bot's comment on the PR says now, in one line."""
    for comment in sim.comments(repo, number):
        marker = parse_marker(comment.body)
        if marker is not None and comment.user.login.endswith("[bot]"):
            claims = ", ".join(marker.claims) or "no rule claims merge any more"
            return f"comment #{comment.id} on head {marker.head_sha[:7]}: {claims}"
    return NO_VERDICT


@dataclass
class FeedbackLoop:
    """The bot's feedback loop, run when the story says so: harvest the reactions on its
    verdicts, settle the claims, and tell what changed."""

    sim: Simulator
    app: web.Application
    say: Say
    ledger_seen: int = 0
    reactions_seen: int = 0

    async def quiet(self) -> None:
        await wait_quiet(self.sim, self.app)

    async def settle(self) -> SettleReport:
        await self.quiet()
        jobs = jobs_of(self.app)
        await jobs.sweep()
        report = await jobs.settle()
        await self.quiet()  # the verdicts edited to show a rule just disabled
        with Session(self.app[DATABASE]) as session:
            lines = self._new_results(session) + self._new_community_feedback(session)
        lines += [
            f"  {c.rule}: {shown_state(c.before)} -> {c.after} ({c.reason})" for c in report.changes
        ]
        lines += self._disabled_lines(report)
        for line in lines or ["  nothing new settles"]:
            self.say(line)
        return report

    async def wait_out_grace(self) -> float:
        """Sleep until the grace period of every closed PR is over; the seconds slept."""
        with Session(self.app[DATABASE]) as session:
            closed = session.exec(select(func.max(PullRequestRow.closed_at))).one()
        grace = self.app[SETTINGS].grace_period
        seconds = 0.0 if closed is None else (closed + grace - utcnow()).total_seconds() + 0.3
        await asyncio.sleep(max(seconds, 0.0))
        return max(seconds, 0.0)

    def _new_results(self, session: Session) -> list[str]:
        rows = session.exec(
            select(LedgerEntryRow, RuleRow, PullRequestRow)
            .join(RuleRow, col(RuleRow.id) == col(LedgerEntryRow.rule_id))
            .join(PullRequestRow, col(PullRequestRow.id) == col(LedgerEntryRow.pull_request_id))
            .where(col(LedgerEntryRow.id) > self.ledger_seen)
            .order_by(col(PullRequestRow.number), col(RuleRow.name))
        ).all()
        self.ledger_seen = max([self.ledger_seen, *(cast(int, e.id) for e, _, _ in rows)])
        return [
            f"  {rule.name}@{rule.version} on #{pr.number}: {entry.result} ({_reason(entry)})"
            for entry, rule, pr in rows
        ]

    def _new_community_feedback(self, session: Session) -> list[str]:
        """Reactions by people who are not mergers: kept and shown, never scored."""
        rows = session.exec(
            select(ReactionRow, PullRequestRow)
            .join(
                VerdictCommentRow, col(VerdictCommentRow.comment_id) == col(ReactionRow.comment_id)
            )
            .join(PullRequestRow, col(PullRequestRow.id) == col(VerdictCommentRow.pull_request_id))
            .where(col(ReactionRow.id) > self.reactions_seen)
            .order_by(col(ReactionRow.id))
        ).all()
        self.reactions_seen = max([self.reactions_seen, *(cast(int, r.id) for r, _ in rows)])
        mergers = self.app[SETTINGS].mergers
        return [
            f"  {r.user_login}'s {EMOJI.get(r.content, r.content)} on #{pr.number}: community"
            f" feedback ({r.permission} permission, not a merger here): kept and shown, not scored"
            for r, pr in rows
            if not counts_as_merger(_actor(r), Actor(pr.author_login), mergers)
        ]

    def _disabled_lines(self, report: SettleReport) -> list[str]:
        """The line the open verdict comments now have about each rule just disabled."""
        lines = []
        for change in (c for c in report.changes if c.after == "disabled"):
            said: dict[str, list[str]] = defaultdict(list)
            for repo, _, number in report.refresh:
                for line in bot_lines(self.sim, repo, number):
                    if line.startswith(f"- `{change.rule}`"):
                        said[line].append(f"#{number}")
            lines += [
                f"  the verdict comments on {', '.join(n)} now say: {x}" for x, n in said.items()
            ]
        return lines


def bot_lines(sim: Simulator, repo: str, number: int) -> list[str]:
    """Every line of the bot's comments on a pull request."""
    comments = [c for c in sim.comments(repo, number) if c.user.login.endswith("[bot]")]
    return [line for comment in comments for line in comment.body.splitlines()]


def _actor(reaction: ReactionRow) -> Actor:
    kind, permission = cast(UserType, reaction.user_type), cast(Permission, reaction.permission)
    return Actor(reaction.user_login, kind, permission=permission)


def _reason(entry: LedgerEntryRow) -> str:
    who = [
        f"{link.get('by')}'s {EMOJI.get(str(link.get('content')), link.get('content'))}"
        for link in entry.evidence
        if link.get("kind") == "reaction"
    ]
    text = REASONS.get(entry.reason, entry.reason)
    return text.format(who=", ".join(who) or "a merger's reaction")


# -- the story ----------------------------------------------------------------------------


@dataclass
class Story:
    """The built-in story, in four acts: rules claim; a merger's and a contributor's 👎;
    a second loss disables the loose rule; two version bumps merge, win after the grace
    period, and promote the careful rule."""

    sim: Simulator
    loop: FeedbackLoop
    say: Say

    async def play(self) -> list[int]:
        bump, docs = await self.claims()
        await self.feedback(bump, docs)
        patch = await self.disabling()
        world = await self.merges(bump)
        return [bump, docs, patch, world]

    async def step(self, text: str, action: Awaitable[T]) -> T:
        result = await action
        await self.loop.quiet()
        self.say(f"- {text}")
        return result

    def show(self, number: int, why: str = "") -> None:
        self.say(f"  shadowbot on #{number}: {verdict_line(self.sim, number)}{why}")

    async def claims(self) -> tuple[int, int]:
        sim, step = self.sim, self.step
        self.say("Rules claim merge on pull requests (in shadow mode: nothing is merged):")
        bump = await step(
            'update-bot[bot] opens #1 "hello: 2.12 -> 2.12.1"',
            sim.open_pr(
                REPO, "update-bot[bot]", "hello: 2.12 -> 2.12.1", files=[PACKAGE], base=BASE
            ),
        )
        await step("CI passes on #1", sim.add_check(REPO, bump, CI))
        await step("alice, the package's code owner, approves #1", sim.review(REPO, bump, "alice"))
        self.show(bump)
        docs = await step(
            "dave, a new contributor, opens #2 touching the manual",
            sim.open_pr(REPO, "dave", "doc: explain installing on macOS", files=[DOCS], base=BASE),
        )
        await step("CI passes on #2", sim.add_check(REPO, docs, CI))
        await step("erin, another contributor, approves #2", sim.review(REPO, docs, "erin"))
        self.show(docs)
        note = "@shadowbot note the macOS steps are untested"
        await step(f'dave comments "{note}" on #2', sim.comment(REPO, docs, "dave", note))
        return bump, docs

    async def feedback(self, bump: int, docs: int) -> None:
        sim, step = self.sim, self.step
        self.say("\nFeedback: reactions on the bot's verdict comments.")
        await step(
            "carol, a merger, reacts 👎 on the verdict of #2: any-approval was wrong to claim it",
            sim.react_to_verdict(REPO, docs, "carol", "-1"),
        )
        await step(
            "dave, who cannot merge, reacts 👎 on the verdict of #1",
            sim.react_to_verdict(REPO, bump, "dave", "-1"),
        )
        await step(
            "carol requests changes on #2", sim.review(REPO, docs, "carol", "CHANGES_REQUESTED")
        )
        self.show(docs, "  (any-approval ignores change requests)")
        self.say("- shadowbot harvests the reactions and settles the claims:")
        await self.loop.settle()

    async def disabling(self) -> int:
        sim, step = self.sim, self.step
        self.say("\nA second loss disables the loose rule:")
        patch = await step(
            'dave opens #3 "hello: enable the test suite"',
            sim.open_pr(REPO, "dave", "hello: enable the test suite", files=[PACKAGE], base=BASE),
        )
        await step("CI fails on #3", sim.add_check(REPO, patch, CI, "failure"))
        await step("erin approves #3", sim.review(REPO, patch, "erin"))
        self.show(patch, "  (failing CI, no code owner: only the loose rule claims)")
        await step(
            "carol reacts 👎 on the verdict of #3", sim.react_to_verdict(REPO, patch, "carol", "-1")
        )
        self.say("- shadowbot settles:")
        await self.loop.settle()
        self.show(patch, "  (a disabled rule no longer evaluates)")
        return patch

    async def merges(self, bump: int) -> int:
        sim, step = self.sim, self.step
        self.say("\nMerges: a claim on the merged head wins once the grace period is over.")
        await step(
            "update-bot[bot] pushes a new commit to #1", sim.push(REPO, bump, files=[PACKAGE])
        )
        self.show(bump, "  (the approval was on the old head)")
        await step(
            "CI passes again and alice re-approves #1",
            _all(sim.add_check(REPO, bump, CI), sim.review(REPO, bump, "alice")),
        )
        self.show(bump)
        world = await step(
            'update-bot[bot] opens #4 "world: 1.0 -> 1.1"; CI passes; carol (code owner) approves',
            _bump(sim, "world: 1.0 -> 1.1", WORLD, "carol"),
        )
        self.show(world)
        await step(
            "alice merges #1 and carol merges #4, by hand (shadowbot never merges)",
            _all(sim.merge(REPO, bump, merger="alice"), sim.merge(REPO, world, merger="carol")),
        )
        self.say("- shadowbot settles right away:")
        await self.loop.settle()
        self.say(
            f"  (#1 and #4 are inside their {GRACE.seconds}s grace period: a 👎 could still come)"
        )
        slept = await self.loop.wait_out_grace()
        self.say(f"- {slept:.0f}s later the grace period is over; shadowbot settles:")
        await self.loop.settle()
        self.say("  (dave's 👎 on #1 did not count against it: he cannot merge)")
        return world


async def _all(*actions: Awaitable[object]) -> None:
    for action in actions:
        await action


async def _bump(sim: Simulator, title: str, path: str, owner: str) -> int:
    number = await sim.open_pr(REPO, "update-bot[bot]", title, files=[path], base=BASE)
    await sim.add_check(REPO, number, CI)
    await sim.review(REPO, number, owner)
    return number


# -- a scenario script instead ------------------------------------------------------------


class PacedDriver:
    """The simulator as ``--script`` plays on it: each step returns once the bot has
    answered it (so a step can react to the verdict the previous one caused), the bot's
    verdict is told when it changed, and ``settle`` runs the feedback loop too."""

    def __init__(self, sim: Simulator, loop: FeedbackLoop) -> None:
        self.repo = sim.repo
        self._sim = sim
        self._loop = loop
        self._shown: dict[tuple[str, int], str] = {}

    def __getattr__(self, name: str) -> Callable[..., Awaitable[Any]]:
        action = getattr(self._sim, name)

        def paced(*args: Any, **kwargs: Any) -> Awaitable[Any]:
            # Called here, so a wrong argument raises TypeError where the script player
            # expects it and reports the step.
            result = action(*args, **kwargs)
            pull = (kwargs.get("repo", self.repo), kwargs.get("number"))
            return self._answered(result, pull, name == "open_pr")

        return paced

    async def _answered(self, result: Any, pull: tuple[str, object], opened: bool) -> Any:
        if inspect.isawaitable(result):
            result = await result
        await self._loop.quiet()
        repo, number = pull[0], result if opened else pull[1]
        if isinstance(number, int) and not isinstance(number, bool):
            self._show(repo, number)
        return result

    def _show(self, repo: str, number: int) -> None:
        """Tell the bot's verdict on the PR if it changed since last told."""
        line = verdict_line(self._sim, number, repo)
        if self._shown.get((repo, number), NO_VERDICT) != line:
            self._shown[repo, number] = line
            where = "" if repo == self.repo else repo
            self._loop.say(f"  shadowbot on {where}#{number}: {line}")

    async def settle(self, after: str | float | None = None) -> None:
        """Wait until the bot is idle; wait ``after`` more ("4s", "1m", a number of seconds,
        or "grace": until every closed PR's grace period is over); harvest and settle."""
        if after == "grace":
            await self._loop.quiet()
            await self._loop.wait_out_grace()
        elif after is not None:
            await asyncio.sleep(_seconds(after))
        self._loop.say("- shadowbot harvests the reactions and settles the claims:")
        await self._loop.settle()


_DURATION = re.compile(r"\s*([0-9]*\.?[0-9]+)\s*([sm]?)\s*\Z")


def _seconds(value: str | float) -> float:
    """``4``, ``"4s"``, ``"1.5m"`` in seconds; a SimulatorError otherwise."""
    found = _DURATION.match(str(value)) if not isinstance(value, bool) else None
    if found is None:
        raise SimulatorError(
            f'after: expected seconds such as 4, "4s", "1m" or "grace", got {value!r}'
        )
    return float(found.group(1)) * (60 if found.group(2) == "m" else 1)


def read_script(path: Path) -> list[dict[str, Any]]:
    try:
        return load_script(path)
    except OSError as exc:
        raise ShadowbotError(f"--script: cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ShadowbotError(f"--script: {path} is not valid JSON: {exc}") from None


async def play_script(sim: Simulator, loop: FeedbackLoop, steps: list[dict[str, Any]]) -> None:
    # The script player takes any driver; this one is the simulator, paced by the bot.
    await play_steps(cast(VerdictDriver, PacedDriver(sim, loop)), steps, narrate=loop.say)


# -- what is recorded: notes, outcomes, the ledger ------------------------------------------


def summary(app: web.Application) -> list[str]:
    with Session(app[DATABASE]) as session:
        notes = session.exec(select(NoteVersionRow).order_by(col(NoteVersionRow.id))).all()
        outcomes = session.exec(select(OutcomeRow).order_by(col(OutcomeRow.id))).all()
        lines = [f"  note by {n.author_login}: {n.body!r}" for n in notes]
        lines += [
            f"  outcome: {o.kind} at {o.sha and o.sha[:7]} by {o.actor_login}" for o in outcomes
        ]
    return lines


def ledger_lines(app: web.Application) -> list[str]:
    """One line per rule version: its state and record, as ``shadowbot ledger show``."""
    with Session(app[DATABASE]) as session:
        views = load_views(session, app[SETTINGS])
    headings = ("rule", "state", "wins", "losses", "neutral", "missed", "pending", "loss bound")
    rows = [
        (
            v.key,
            v.state,
            *(str(n) for n in (v.figures.wins, v.figures.losses, v.figures.neutral)),
            *(str(n) for n in (v.figures.missed, v.figures.pending)),
            percent(v.figures.loss_bound),
        )
        for v in views
    ]
    return [f"  {line}" for line in table(headings, rows, left=2)]


def verify_lines(app: web.Application) -> list[str]:
    """``shadowbot ledger verify``: every result settled again from its evidence."""
    differences = verify(app[DATABASE], app[SETTINGS])
    if not differences:
        return ["ledger verified: every result matches its evidence"]
    return [
        f"ledger verify: {d.rule} {d.repository}#{d.number}: ledger says {d.stored},"
        f" the evidence says {d.computed}"
        + (" (evidence newer than the last settlement: not settled yet)" if d.stale else "")
        for d in differences
    ]


async def run_demo(
    base: Settings,
    database: Path,
    port: int,
    keep_running: bool,
    say: Say,
    *,
    script: Path | None = None,
) -> None:
    """Play the story (or ``script``), settle what is due, show the ledger and verify it."""
    steps = read_script(script) if script is not None else None
    secret = secrets.token_hex(16)
    async with Simulator.running(port=port, webhook_secret=secret, repos=(REPO,)) as sim:
        sim.add_user("alice", "write")
        sim.add_user("carol", "write")
        sim.add_user("dave", "read")
        sim.add_user("erin", "read")
        sim.add_user("update-bot[bot]", type="Bot")
        sim.set_codeowners(REPO, CODEOWNERS, branch=BASE)
        async with running_bot(demo_settings(base, sim, database, secret), sim) as app:
            say(f"shadowbot is serving; GitHub is simulated at {sim.url} ({REPO}).")
            say(f"{LOWERED}\n")
            loop = FeedbackLoop(sim, app, say)
            if steps is None:
                numbers = await Story(sim, loop, say).play()
            else:
                await play_script(sim, loop, steps)
                say("- at the end of the script, shadowbot settles what is due:")
                await loop.settle()
                numbers = sorted(sim.state.repo(REPO).pulls)
            say("\nRecorded by shadowbot:")
            for line in summary(app) or ["  no notes, no merges or closes"]:
                say(line)
            say("\nThe ledger (one line per rule version):")
            for line in [*ledger_lines(app), BOUND, *verify_lines(app)]:
                say(line)
            say("\nWhere to look:")
            board = (sim.webhook_url or "").removesuffix("/webhook")
            say(f"  {board}/   (the leaderboard: every rule's record, its evidence, its PRs)")
            for number in numbers:
                say(f"  {sim.url}/{REPO}/pull/{number}   (the PR page, with the bot's comment)")
            say(f"  {database}   (the bot's SQLite database: verdicts, reactions, the ledger)")
            if keep_running:
                say("\nServing until you press Ctrl-C.")
                await asyncio.Event().wait()
            else:
                say("\nRun `shadowbot demo --keep-running` in a terminal to browse the pages.")
