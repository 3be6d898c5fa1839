"""``shadowbot serve`` as an operator runs it: a real process, its stderr, its exit code.

Intake never depends on GitHub: with GitHub unreachable the port opens ("listening" is
logged once it accepts connections), deliveries are stored, ``/healthz`` says why nothing
is processed yet, and what was stored is processed after a restart with GitHub answering;
with GitHub failing ``GET /app`` (in this process: the client's own retries would make a
subprocess slow) it is processed as soon as GitHub answers. A setting that keeps serve
from starting is one line naming it, exit code 2, no traceback. SIGTERM stops serve
cleanly and loses nothing stored.
"""

import asyncio
import contextlib
import os
import signal
import socket
import sys
import time

import aiohttp
import pytest
from aiohttp import web
from cryptography.hazmat.primitives import serialization
from livebot import SECRET, sim_fixture, writer_pair_claim  # noqa: F401
from sqlmodel import Session, select

from shadowbot.live.service import create_live_app
from shadowbot.settings import load_settings
from shadowbot.simulator.auth import generate_private_key
from shadowbot.storage import DeliveryRow, create_db_engine

IDENTITY_UNKNOWN = "the app's identity is not known yet"
DEGRADED_METRIC = 'shadowbot_degraded{reason="app_identity_unknown"} 1'
#: A Python process importing the whole bot takes seconds on a busy machine.
STARTUP = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def environment(sim, database_url, port, api_url=None, **settings) -> dict[str, str]:
    """What ``shadowbot serve`` reads: the simulator's app, key and (unless ``api_url``)
    URL, the database, the port; the scheduled jobs kept out of the way."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SHADOWBOT_")}
    return {
        **inherited,
        "SHADOWBOT_APP_ID": str(sim.app_id),
        "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
        "SHADOWBOT_WEBHOOK_SECRET": SECRET,
        "SHADOWBOT_GITHUB_API_URL": api_url or sim.url,
        "SHADOWBOT_DATABASE_URL": database_url,
        "SHADOWBOT_HOST": "127.0.0.1",
        "SHADOWBOT_PORT": str(port),
        "SHADOWBOT_HARVEST_INTERVAL": "1h",
        "SHADOWBOT_SETTLE_INTERVAL": "1h",
        "SHADOWBOT_RECONCILE_INTERVAL": "1h",
        **settings,
    }


async def accepts(port: int) -> bool:
    try:
        _, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), 2)
    except (OSError, TimeoutError):
        return False
    writer.close()
    await writer.wait_closed()
    return True


class Serve:
    """A ``shadowbot serve`` process: its stderr, line by line as it comes, and whether
    its port accepted a connection at the moment it logged "listening on"."""

    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self.lines: list[str] = []
        self.listening: asyncio.Future[bool | None] = asyncio.get_running_loop().create_future()
        self._reading = asyncio.create_task(self._read())

    @classmethod
    async def start(cls, env: dict[str, str], cwd) -> "Serve":
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "shadowbot",
            "serve",
            env=env,
            cwd=cwd,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        return cls(process, int(env["SHADOWBOT_PORT"]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def stderr(self) -> str:
        return "\n".join(self.lines)

    async def _read(self) -> None:
        assert self.process.stderr is not None
        async for raw in self.process.stderr:
            line = raw.decode(errors="replace").rstrip("\n")
            if "listening on" in line and not self.listening.done():
                self.listening.set_result(await accepts(self.port))
            self.lines.append(line)
        if not self.listening.done():
            self.listening.set_result(None)  # it ended without saying it listens

    async def until_listening(self) -> None:
        accepted = await asyncio.wait_for(asyncio.shield(self.listening), STARTUP)
        assert accepted is not None, f"serve ended before listening:\n{self.stderr}"
        assert accepted, f"'listening on' logged before port {self.port} accepted:\n{self.stderr}"

    async def ended(self, timeout: float = STARTUP) -> int:
        code = await asyncio.wait_for(self.process.wait(), timeout)
        await self._reading
        return code

    async def terminate(self, timeout: float = 15.0) -> int:
        """SIGTERM, and how it ended (within ``timeout`` seconds)."""
        self.process.send_signal(signal.SIGTERM)
        return await self.ended(timeout)


@pytest.fixture(name="serve")
async def serve_fixture(tmp_path):
    """Starts ``shadowbot serve`` processes; each is killed at the end if still running,
    and its stderr shown (pytest prints it when the test fails)."""
    started: list[Serve] = []

    async def start(env: dict[str, str]) -> Serve:
        started.append(await Serve.start(env, tmp_path))
        return started[-1]

    yield start
    for process in started:
        if process.process.returncode is None:
            process.process.kill()
        await process.ended()
        print(f"--- shadowbot serve on port {process.port} ---\n{process.stderr}")


async def until(condition, what: str, timeout: float = 30.0, details=None):
    """``condition()`` (maybe awaited) until it is truthy; its value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if time.monotonic() > deadline:
            said = f": {details()}" if details else ""
            raise AssertionError(f"timed out waiting for {what}{said}")
        await asyncio.sleep(0.1)


async def health(url: str) -> dict:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/healthz") as response:
        assert response.status == 200  # degraded or not: the intake goes on
        return await response.json()


async def metrics(url: str) -> str:
    async with aiohttp.ClientSession() as http, http.get(f"{url}/metrics") as response:
        return await response.text()


def stored(database_url: str) -> dict[str, DeliveryRow]:
    """The stored deliveries, by delivery id."""
    database = create_db_engine(database_url)
    try:
        with Session(database) as session:
            return {row.delivery_id: row for row in session.exec(select(DeliveryRow))}
    finally:
        database.dispose()


def acknowledged(sim) -> list[str]:
    """The deliveries the bot answered 202 and said it stored."""
    return [
        d.guid for d in sim.deliveries if d.status == 202 and d.response_body == '{"stored": true}'
    ]


def bot_comments(sim, number: int) -> list:
    return [c for c in sim.comments(sim.repo, number) if c.user.login == "shadowbot[bot]"]


def all_processed(database_url: str):
    rows = stored(database_url)
    return rows if rows and all(row.processed_at is not None for row in rows.values()) else None


def no_traceback(serve: Serve) -> None:
    assert "Traceback" not in serve.stderr, serve.stderr


# -- intake never depends on GitHub ---------------------------------------------------


async def test_serve_listens_and_stores_while_github_is_unreachable_and_processes_it_later(
    database_url, sim, serve
):
    nowhere = f"http://127.0.0.1:{free_port()}"  # GitHub's API: nothing listens there
    first = await serve(environment(sim, database_url, free_port(), api_url=nowhere))
    await first.until_listening()

    state = await health(first.url)
    assert state["status"] == "degraded"
    assert [r for r in state["reasons"] if r.startswith(IDENTITY_UNKNOWN)], state
    assert DEGRADED_METRIC in await metrics(first.url)

    sim.webhook_url = f"{first.url}/webhook"
    number = await writer_pair_claim(sim)
    guids = acknowledged(sim)
    assert len(guids) == len(sim.deliveries) >= 3, [(d.status, d.error) for d in sim.deliveries]
    rows = stored(database_url)
    assert set(guids) <= set(rows)
    assert all(rows[g].processed_at is None and rows[g].attempts == 0 for g in guids)

    # A clean stop keeps what was stored...
    assert await first.terminate() == 0
    no_traceback(first)
    assert set(guids) <= set(stored(database_url))

    # ...and the next start, GitHub answering, processes it: the verdict is posted once.
    second = await serve(environment(sim, database_url, free_port()))
    await second.until_listening()
    sim.webhook_url = f"{second.url}/webhook"
    await until(
        lambda: bot_comments(sim, number), "the verdict comment", details=lambda: second.stderr
    )
    rows = await until(
        lambda: all_processed(database_url),
        "every delivery processed",
        details=lambda: second.stderr,
    )
    assert set(guids) <= set(rows)
    assert all(rows[g].error is None for g in guids), [rows[g].error for g in guids]
    assert len(bot_comments(sim, number)) == 1
    assert (await health(second.url))["status"] == "ok"
    assert await second.terminate() == 0
    no_traceback(second)


@contextlib.asynccontextmanager
async def in_process(settings):
    """``shadowbot serve``'s app in this process, as ``serve`` runs it: its URL."""
    runner = web.AppRunner(create_live_app(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}"
    finally:
        await runner.cleanup()


async def test_what_was_stored_is_processed_once_github_answers_get_app(database_url, sim):
    # In this process: GitHub answers each ask with 502 and the client retries it for
    # ~20 s before the ask fails, which a subprocess would add to every run.
    failing = sim.fail_next(10_000, status=502, method="GET", path="/app")
    settings = load_settings(environment(sim, database_url, free_port()))
    async with in_process(settings) as url:
        # Degraded from the start, not from the first ask that gives up.
        state = await health(url)
        assert state["status"] == "degraded"
        assert [r for r in state["reasons"] if r.startswith(IDENTITY_UNKNOWN)], state
        assert DEGRADED_METRIC in await metrics(url)

        sim.webhook_url = f"{url}/webhook"
        number = await writer_pair_claim(sim)
        guids = acknowledged(sim)
        assert len(guids) == len(sim.deliveries) >= 3, [(d.status, d.error) for d in sim.deliveries]
        rows = stored(database_url)
        assert all(rows[g].processed_at is None and rows[g].attempts == 0 for g in guids)
        assert not bot_comments(sim, number)
        asked = [r for r in sim.requests if r.path == "/app"]
        assert asked and {r.status for r in asked} == {502}

        sim.faults.pending.remove(failing)  # GitHub answers again
        await until(lambda: bot_comments(sim, number), "the verdict comment")
        rows = await until(lambda: all_processed(database_url), "every delivery processed")
        assert all(rows[g].error is None for g in guids), [rows[g].error for g in guids]
        assert await health(url) == {"ok": True, "status": "ok", "reasons": []}
        assert DEGRADED_METRIC.replace("} 1", "} 0") in await metrics(url)


async def _status_is(serve: Serve, status: str) -> bool:
    return (await health(serve.url))["status"] == status


async def test_sigterm_stops_serve_cleanly_and_keeps_the_delivery_it_was_processing(
    database_url, sim, serve
):
    bot = await serve(environment(sim, database_url, free_port()))
    await bot.until_listening()
    await until(lambda: _status_is(bot, "ok"), "the app's identity", details=lambda: bot.stderr)
    sim.webhook_url = f"{bot.url}/webhook"
    # GitHub hangs on the first read of the pull request: its delivery is mid-processing.
    sim.hang_next(1, delay=120, method="GET", path=f"/repos/{sim.repo}/pulls/*")
    number = await sim.open_pr(sim.repo, "alice", "hello: fix the build", files=["a.nix"])
    guids = acknowledged(sim)
    assert guids

    def in_flight():
        rows = stored(database_url)
        return [
            g for g in guids if rows[g].claimed_until is not None and rows[g].processed_at is None
        ]

    busy = await until(in_flight, "the delivery to be claimed", details=lambda: bot.stderr)
    started = time.monotonic()
    assert await bot.terminate() == 0
    assert time.monotonic() - started < 10  # it does not wait for GitHub's answer
    no_traceback(bot)
    assert "stopping" in bot.stderr

    rows = stored(database_url)
    assert set(guids) <= set(rows)  # every acknowledged delivery is still there
    for guid in busy:  # and the one cut short is not taken for done: it will be again
        assert (rows[guid].processed_at, rows[guid].error) == (None, None)
    assert not bot_comments(sim, number)


# -- a setting that keeps serve from starting: one line naming it, exit code 2 ---------


def public_key_of(private_key_pem: str) -> str:
    key = serialization.load_pem_private_key(private_key_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def refusal(bot: Serve) -> str:
    """The one error line of a serve that did not start, without its prefix."""
    errors = [line for line in bot.lines if line.startswith("shadowbot: error:")]
    assert (bot.process.returncode, len(errors)) == (2, 1), bot.stderr
    assert bot.lines[-1] == errors[0], bot.stderr  # its last word
    no_traceback(bot)
    return errors[0].removeprefix("shadowbot: error: ")


async def test_each_setting_that_keeps_serve_from_starting_is_one_line_naming_it(
    sim, serve, tmp_path, subtests
):
    no_key = tmp_path / "app.pem"
    no_key.write_text("this is not a key\n")
    other = sim.app_id + 1
    port_taken = socket.socket()
    port_taken.bind(("127.0.0.1", 0))
    port_taken.listen()  # until every serve below ended
    taken = port_taken.getsockname()[1]
    # (what is wrong, the settings that say it, how serve's one line begins)
    cases = [
        (
            "a public key",
            {"SHADOWBOT_PRIVATE_KEY": public_key_of(sim.private_key_pem)},
            "SHADOWBOT_PRIVATE_KEY: this is a public key; give the private key GitHub generated"
            " for the app (a .pem file)",
        ),
        (
            "a file that is no key",
            {"SHADOWBOT_PRIVATE_KEY": str(no_key)},
            "SHADOWBOT_PRIVATE_KEY: not a usable PEM private key (",
        ),
        (
            "a port in use",
            {"SHADOWBOT_PORT": str(taken)},
            f"SHADOWBOT_PORT: cannot listen on 127.0.0.1:{taken}: ",
        ),
        (
            "a port out of range",
            {"SHADOWBOT_PORT": "70000"},
            "SHADOWBOT_PORT: must be at most 65535, got 70000",
        ),
        (
            "an app id GitHub does not know",
            {"SHADOWBOT_APP_ID": str(other)},
            f"SHADOWBOT_APP_ID: GitHub knows no app {other} (Integration not found)",
        ),
        (
            "a key GitHub rejects",
            {"SHADOWBOT_PRIVATE_KEY": generate_private_key()[1]},  # not the app's
            f"SHADOWBOT_PRIVATE_KEY: GitHub rejects the key of app {sim.app_id}"
            " (A JSON web token could not be decoded)",
        ),
    ]
    # All at once: each start imports the whole bot, seconds on a busy machine.
    with port_taken:
        bots = []
        for i, (_, wrong, _) in enumerate(cases):
            database = f"sqlite:///{tmp_path / f'{i}.db'}"
            bots.append(await serve({**environment(sim, database, free_port()), **wrong}))
        await asyncio.gather(*(bot.ended() for bot in bots))
    for (what, _, expected), bot in zip(cases, bots, strict=True):
        with subtests.test(msg=what):
            said = refusal(bot)
            assert said.startswith(expected), said
