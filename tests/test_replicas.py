"""Several replicas on one PostgreSQL database (PostgreSQL only: on SQLite there is one
process by design): a PR's lock is held by one replica at a time, a repository both see
first is recorded once, two replicas evaluating one PR at once post one verdict comment,
and three ``shadowbot serve`` processes under a burst of webhooks, the leader killed in
the middle, process every acknowledged delivery once."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import sqlalchemy as sa
from livebot import PACKAGE, SECRET, running_bot, sim_fixture, writer_pair_claim  # noqa: F401
from sqlmodel import Session, select

from shadowbot.live.posting import comment_lock
from shadowbot.live.service import pipeline_of
from shadowbot.storage import RepositoryRow, create_db_engine, migrated, records


async def test_a_pull_requests_lock_is_held_by_one_replica_at_a_time(postgresql_url):
    with migrated(postgresql_url) as one, migrated(postgresql_url) as two:
        seen = []

        async def hold(database, name, number=7, seconds=0.0):
            async with comment_lock(database, "o/r", number):
                seen.append(f"{name} in")
                await asyncio.sleep(seconds)
                seen.append(f"{name} out")

        first = asyncio.create_task(hold(one, "one", seconds=0.3))
        await asyncio.sleep(0.1)
        await hold(two, "other PR", number=8)  # not held: another PR's
        await hold(two, "two")  # waits for the first to let go
        await first
        assert seen == ["one in", "other PR in", "other PR out", "one out", "two in", "two out"]

        # One that stops waiting (cancelled at shutdown) gives its connection back.
        holder = asyncio.create_task(hold(one, "one", seconds=0.5))
        await asyncio.sleep(0.1)
        waiter = asyncio.create_task(hold(two, "two"))
        await asyncio.sleep(0.1)
        waiter.cancel()
        await asyncio.gather(holder, waiter, return_exceptions=True)
        assert (one.pool.checkedout(), two.pool.checkedout()) == (0, 0)


async def test_two_replicas_seeing_a_new_repository_at_once_record_it_once(postgresql_url):
    with migrated(postgresql_url) as database:
        with Session(database) as first, Session(database) as second:
            records.repository(first, "o/r", 1)  # inserted, not committed yet
            # The second finds no row (not committed) and inserts one, which waits for
            # the first transaction on the unique index, then breaks it.
            seeing = asyncio.create_task(asyncio.to_thread(records.repository, second, "o/r", 1))
            await asyncio.sleep(0.3)
            first.commit()
            found = await seeing
            second.commit()
            rows = second.exec(select(RepositoryRow)).all()
        assert [row.full_name for row in rows] == ["o/r"] and found.id == rows[0].id


async def test_two_replicas_evaluating_one_pr_at_once_post_one_comment(postgresql_url, sim):
    async with (
        running_bot(sim, postgresql_url) as one,
        running_bot(sim, postgresql_url) as two,
    ):
        sim.webhook_url = None  # the PR's webhooks reach neither: both evaluate it below
        number = await writer_pair_claim(sim)
        # Both replicas list the PR's comments slowly, so that without the lock both
        # would find none and both would create one.
        comments = f"/repos/{sim.repo}/issues/{number}/comments"
        sim.hang_next(2, delay=0.5, method="GET", path=comments)
        failures = await asyncio.gather(
            pipeline_of(one.app).reevaluate(sim.installation_id, sim.repo, number),
            pipeline_of(two.app).reevaluate(sim.installation_id, sim.repo, number),
            return_exceptions=True,
        )
        assert len(one.bot_comments(number)) == 1
        created = [w for w in sim.writes if w.method == "POST" and w.path == comments]
        assert len(created) == 1
        assert failures == [None, None]


# -- three `shadowbot serve` processes under a burst, one killed in the middle ----------

PULL_REQUESTS = 40
#: Webhooks in flight at once, as GitHub sends them (to whichever replica).
IN_FLIGHT = 8
#: How long the replicas may take to process everything after the burst, in seconds: the
#: dead replica's claims are taken over once their lease runs out.
#: A dead replica's claims are taken over after this (SHADOWBOT_DELIVERY_LEASE).
LEASE_SECONDS = 5
PROCESSING = LEASE_SECONDS + 30


@dataclass
class Replica:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, lines: int = 40) -> str:
        text = self.log.read_text(errors="replace").splitlines()[-lines:]
        return f"--- replica on port {self.port} (pid {self.process.pid}) ---\n" + "\n".join(text)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def replica_environment(sim, database_url: str, port: int | None) -> dict[str, str]:
    """What ``shadowbot serve`` needs: GitHub (the simulator), the webhook secret, the
    database, a port; the jobs kept out of the way (they run on the leader only)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("SHADOWBOT_")}
    if port is not None:
        inherited["SHADOWBOT_PORT"] = str(port)
    return {
        **inherited,
        "SHADOWBOT_APP_ID": str(sim.app_id),
        "SHADOWBOT_PRIVATE_KEY": sim.private_key_pem,
        "SHADOWBOT_WEBHOOK_SECRET": SECRET,
        "SHADOWBOT_GITHUB_API_URL": sim.url,
        "SHADOWBOT_DATABASE_URL": database_url,
        "SHADOWBOT_HOST": "127.0.0.1",
        "SHADOWBOT_HARVEST_INTERVAL": "1h",
        "SHADOWBOT_SETTLE_INTERVAL": "1h",
        "SHADOWBOT_RECONCILE_INTERVAL": "1h",
        "SHADOWBOT_LOG_LEVEL": "INFO",
        "SHADOWBOT_DELIVERY_LEASE": f"{LEASE_SECONDS}s",
    }


def start_replica(sim, database_url: str, folder: Path) -> Replica:
    port = free_port()
    log = folder / f"replica-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "shadowbot", "serve"],
            env=replica_environment(sim, database_url, port),
            cwd=folder,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Replica(process, port, log)


def stop(replicas: list[Replica]) -> None:
    for replica in replicas:
        if replica.process.poll() is None:
            replica.process.terminate()
    for replica in replicas:
        try:
            replica.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            replica.process.kill()
            replica.process.wait()


async def until(condition, timeout: float, what: str, interval: float = 0.1, details=None):
    """``await condition()`` until it is truthy (its value), or fail naming ``what`` (and
    what ``details()`` says then)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await condition()
        if value:
            return value
        if time.monotonic() > deadline:
            said = f": {await asyncio.to_thread(details)}" if details else ""
            raise AssertionError(f"timed out waiting for {what}{said}")
        await asyncio.sleep(interval)


async def gauge(http: aiohttp.ClientSession, replica: Replica, name: str) -> float | None:
    try:
        async with http.get(f"{replica.url}/metrics") as response:
            text = await response.text()
    except aiohttp.ClientError:
        return None
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return None


async def answers(http: aiohttp.ClientSession, replica: Replica) -> bool:
    try:
        async with http.get(f"{replica.url}/healthz") as response:
            return response.status == 200
    except aiohttp.ClientError:
        return False


async def open_pull_requests(sim) -> dict[str, int]:
    """The PRs of the burst, each claimed on its final head (so each gets one verdict
    comment); every other one pushed to before its check and review. The PR number of
    each webhook GitHub would send, by delivery GUID."""
    numbers: dict[str, int] = {}
    for i in range(PULL_REQUESTS):
        before = len(sim.deliveries)
        title = f"hello: fix the build ({i})"
        number = await sim.open_pr(sim.repo, "alice", title, files=[PACKAGE])
        if i % 2:
            await sim.push(sim.repo, number, files=[PACKAGE])
        await sim.add_check(sim.repo, number, "build")
        await sim.review(sim.repo, number, "carol", "APPROVED")
        numbers.update({d.guid: number for d in sim.deliveries[before:]})
    return numbers


class Burst:
    """Sends the deliveries, ``IN_FLIGHT`` at a time, spread over the replicas alive; one
    refused by a replica that died is sent again to another (as an operator would
    redeliver it). What each replica acknowledged, by GUID."""

    def __init__(self, http: aiohttp.ClientSession, replicas: list[Replica]) -> None:
        self.http = http
        self.alive = list(replicas)
        self.acknowledged: dict[str, int] = {}
        self._slots = asyncio.Semaphore(IN_FLIGHT)

    async def send(self, turn: int, delivery) -> None:
        async with self._slots:
            for attempt in range(turn, turn + 10):
                replica = self.alive[attempt % len(self.alive)]
                try:
                    async with self.http.post(
                        f"{replica.url}/webhook", data=delivery.body, headers=delivery.headers
                    ) as response:
                        body = await response.text()
                except aiohttp.ClientError:
                    continue  # that replica died meanwhile
                # Stored (or already stored, through a replica that died before answering).
                assert (response.status, body[:10]) == (202, '{"stored":'), (delivery.event, body)
                self.acknowledged[delivery.guid] = replica.port
                return
            raise AssertionError(f"no replica took delivery {delivery.guid}")

    def kill(self, replica: Replica) -> None:
        self.alive.remove(replica)
        replica.process.send_signal(signal.SIGKILL)
        replica.process.wait()


def held_by(database, pid: int) -> dict[str, int]:
    """The deliveries the process ``pid`` holds a claim on, unprocessed: their attempts."""
    with database.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT delivery_id, attempts FROM delivery"
                " WHERE processed_at IS NULL AND claimed_by LIKE :owner"
            ),
            {"owner": f"%:{pid}:%"},
        )
        return {row.delivery_id: row.attempts for row in rows}


def unprocessed(database) -> list[tuple]:
    """(delivery, event, attempts, claimed by, until, last error) of those not processed."""
    with database.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT delivery_id, event, attempts, claimed_by, claimed_until, last_error"
                " FROM delivery WHERE processed_at IS NULL ORDER BY id"
            )
        )
        return [tuple(row) for row in rows]


def deliveries_stored(database) -> dict[str, sa.Row]:
    with database.connect() as connection:
        rows = connection.execute(
            sa.text("SELECT delivery_id, processed_at, error, attempts FROM delivery")
        )
        return {row.delivery_id: row for row in rows}


def evaluations_per_pull_request(database) -> dict[int, int]:
    """How many times each PR was evaluated: one verdict row per rule each time."""
    with database.connect() as connection:
        rows = connection.execute(
            sa.text(
                "SELECT p.number, count(*) FROM verdict v"
                " JOIN pull_request p ON p.id = v.pull_request_id"
                " WHERE v.rule_id = (SELECT min(rule_id) FROM verdict) GROUP BY p.number"
            )
        )
        return {number: count for number, count in rows}


async def test_three_replicas_process_a_burst_once_though_one_is_killed_in_the_middle(
    postgresql_url, sim, tmp_path
):
    sim.webhook_url = None  # recorded, signed, and sent below by the test
    pull_request_of = await open_pull_requests(sim)
    deliveries = list(sim.deliveries)
    replicas = [start_replica(sim, postgresql_url, tmp_path) for _ in range(3)]
    database = create_db_engine(postgresql_url)
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            for replica in replicas:
                await until(lambda r=replica: answers(http, r), 30, f"{replica.url} to answer")

            async def leaders():
                flags = [await gauge(http, r, "shadowbot_leader") for r in replicas]
                return flags if None not in flags and sum(flags) == 1 else None

            flags = await until(leaders, 15, "one replica to lead")
            victim = replicas[flags.index(1)]  # the leader dies: its jobs must move

            burst = Burst(http, replicas)
            sending = [asyncio.create_task(burst.send(i, d)) for i, d in enumerate(deliveries)]
            # Mid-burst, once the victim is at work on deliveries it claimed.
            await until(
                lambda: asyncio.to_thread(
                    lambda: (
                        len(burst.acknowledged) > len(deliveries) // 3
                        and held_by(database, victim.process.pid)
                    )
                ),
                20,
                "the victim to hold claims mid-burst",
                interval=0.01,
            )
            burst.kill(victim)
            held_at_death = await asyncio.to_thread(held_by, database, victim.process.pid)
            print(f"killed the leader holding {len(held_at_death)} claims")
            await asyncio.gather(*sending)
            survivors = burst.alive

            async def all_processed():
                stored = await asyncio.to_thread(deliveries_stored, database)
                done = all(
                    guid in stored and stored[guid].processed_at is not None
                    for guid in burst.acknowledged
                )
                return stored if done else None

            stored = await until(
                all_processed,
                PROCESSING,
                "every delivery to be processed",
                details=lambda: unprocessed(database),
            )

            async def one_leader():
                flags = [await gauge(http, r, "shadowbot_leader") for r in survivors]
                return None not in flags and sum(flags) == 1

            await until(one_leader, 15, "a surviving replica to lead")

        # Every acknowledged delivery processed once: claimed once, or twice if the dead
        # replica held it (then it was taken over), and never failed.
        assert set(burst.acknowledged) == {d.guid for d in deliveries}
        for guid in burst.acknowledged:
            row = stored[guid]
            assert row.error is None, (guid, row.error)
            assert row.attempts <= (2 if guid in held_at_death else 1), (guid, row.attempts)
        # No PR evaluated more often than its deliveries were claimed.
        claimed: dict[int, int] = {}
        for guid, number in pull_request_of.items():
            claimed[number] = claimed.get(number, 0) + stored[guid].attempts
        evaluations = await asyncio.to_thread(evaluations_per_pull_request, database)
        numbers = sorted(set(pull_request_of.values()))
        assert sorted(evaluations) == numbers
        assert all(evaluations[n] <= claimed[n] for n in numbers), (evaluations, claimed)
        # One verdict comment per PR, created once.
        for number in numbers:
            path = f"/repos/{sim.repo}/issues/{number}/comments"
            bots = [c for c in sim.comments(sim.repo, number) if c.user.login == "shadowbot[bot]"]
            created = [w for w in sim.writes if w.method == "POST" and w.path == path]
            assert (len(bots), len(created)) == (1, 1), number
        verify = await asyncio.to_thread(
            subprocess.run,
            [sys.executable, "-m", "shadowbot", "ledger", "verify"],
            env=replica_environment(sim, postgresql_url, port=None),
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stdout + verify.stderr
    finally:
        stop(replicas)
        database.dispose()
        for replica in replicas:
            print(replica.tail())
