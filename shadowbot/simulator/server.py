"""The simulator's lifecycle, shared by tests and the demo, and its test-facing controls.

    async with Simulator.running(webhook_url=bot_url, webhook_secret=secret) as sim:
        number = await sim.open_pr(sim.repo, "alice", "Fix the frobnicator", files=["a.py"])

`sim.url` is the API base URL to give a GitHub client (GraphQL at `sim.url + "/graphql"`);
`sim.app_id`, `sim.private_key_pem` and `sim.installation_id` are what a GitHub App needs to
authenticate.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

from aiohttp import web

from shadowbot.simulator import auth
from shadowbot.simulator.api import create_app
from shadowbot.simulator.backend import Backend, RequestRecord
from shadowbot.simulator.faults import Fault, Faults
from shadowbot.simulator.models import Comment, Installation, PullRequest
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.protocol import RateLimits
from shadowbot.simulator.scenario_verdicts import VerdictDriver
from shadowbot.simulator.script import Script, play
from shadowbot.simulator.state import State, utc_now
from shadowbot.simulator.webhooks import Delivery, WebhookSender

DEFAULT_REPOS = ("acme/widgets",)


class Simulator(VerdictDriver):
    """A simulated GitHub: REST and GraphQL APIs, webhook sender, scenario driver and fault
    injector."""

    def __init__(
        self,
        *,
        webhook_url: str | None = None,
        webhook_secret: str | None = None,
        repos: Iterable[str] = DEFAULT_REPOS,
        app_id: int = 424242,
        app_slug: str = "shadowbot",
        token_ttl: float = 3600.0,
        rate_limit: int = 5000,
        graphql_rate_limit: int = 5000,
        echo_writes: bool = True,
        clock: Callable[[], datetime] = utc_now,
        private_key_pem: str | None = None,
    ) -> None:
        state = State(app_id=app_id, app_slug=app_slug, clock=clock)
        installation = _install(state, repos)
        # Without a secret GitHub would sign nothing; a random one keeps deliveries signed.
        secret = webhook_secret if webhook_secret is not None else secrets.token_hex(20)
        sender = WebhookSender(
            url=webhook_url, secret=secret, hook_id=state.next_id(), app_id=app_id
        )
        super().__init__(state, sender, installation.id, installation.repos[0])
        if private_key_pem is None:
            key, private_key_pem = auth.generate_private_key()
        else:
            key = auth.load_private_key(private_key_pem)
        self.private_key_pem = private_key_pem
        self.faults = Faults()
        self.echo_writes = echo_writes
        self.backend = Backend(
            state,
            self.faults,
            RateLimits(rate_limit),
            key.public_key(),
            self._emit_later,
            token_ttl=token_ttl,
            graphql_rates=RateLimits(graphql_rate_limit, resource="graphql"),
            hooks=sender,
        )
        self.url = ""
        self._runner: web.AppRunner | None = None

    @classmethod
    @asynccontextmanager
    async def running(
        cls, *, host: str = "127.0.0.1", port: int = 0, **options: Any
    ) -> AsyncIterator[Simulator]:
        """Start on `host:port` (0 picks a free port), yield, then shut down cleanly.
        `options` are the constructor's keyword arguments."""
        sim = cls(**options)
        await sim.start(host, port)
        try:
            yield sim
        finally:
            await sim.stop()

    async def start(self, host: str = "127.0.0.1", port: int = 0) -> None:
        await self.sender.start()
        self._runner = web.AppRunner(create_app(self.backend), shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound_host, bound_port = self._runner.addresses[0][:2]
        self.url = f"http://{bound_host}:{bound_port}"
        self.state.api_url = self.url

    async def stop(self) -> None:
        """Send what is queued (2 s at most), stop serving, close the webhook session."""
        self.backend.closing.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.sender.settle(), timeout=2.0)
        if self._runner is not None:
            await self._runner.cleanup()
        await self.sender.close()

    def _emit_later(self, events: list[Event]) -> None:
        if self.echo_writes:
            self.sender.deliver_later(events)

    # --- what an app needs to know ---

    @property
    def app_id(self) -> int:
        return self.state.app_id

    @property
    def webhook_url(self) -> str | None:
        return self.sender.url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.sender.url = url

    @property
    def webhook_secret(self) -> str | None:
        return self.sender.secret

    @property
    def token_ttl(self) -> float:
        return self.backend.token_ttl

    @token_ttl.setter
    def token_ttl(self, seconds: float) -> None:
        self.backend.token_ttl = seconds

    def create_token(self) -> str:
        """An installation token issued directly, for tests that skip the JWT exchange."""
        now = self.backend.clock()
        return auth.issue_token(self.state, self.installation_id, self.token_ttl, now).value

    # --- logs ---

    @property
    def requests(self) -> list[RequestRecord]:
        """Every request received, in order, with its answer's status."""
        return self.backend.requests

    @property
    def writes(self) -> list[RequestRecord]:
        """Every POST, PUT, PATCH and DELETE received, whatever its answer; of the GraphQL
        requests, only mutations (which are refused)."""
        return [record for record in self.backend.requests if record.is_write]

    @property
    def graphql_points(self) -> int:
        """GraphQL rate-limit points charged so far, over all installations."""
        return self.backend.graphql_points

    @property
    def deliveries(self) -> list[Delivery]:
        return self.sender.deliveries

    def events(self) -> list[tuple[str, str | None]]:
        """(event, action) of every delivery, in order."""
        return [(d.event, d.action) for d in self.sender.deliveries]

    def pull(self, repo: str, number: int) -> PullRequest:
        return self._pull(repo, number)[1]

    def comments(self, repo: str, number: int) -> list[Comment]:
        target = self.state.repo(repo)
        found = [c for c in target.comments.values() if c.issue_number == number]
        return sorted(found, key=lambda c: c.id)

    # --- faults ---

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 502,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """The next `count` matching requests answer `status` (a 5xx)."""
        return self.faults.add(Fault("error", count, method, path, status=status))

    def hang_next(
        self,
        count: int = 1,
        *,
        delay: float = 30.0,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """The next `count` matching requests wait `delay` seconds before answering."""
        return self.faults.add(Fault("hang", count, method, path, delay=delay))

    def secondary_rate_limit_next(
        self,
        count: int = 1,
        *,
        retry_after: int = 60,
        method: str | None = None,
        path: str | None = None,
    ) -> Fault:
        """The next `count` matching requests hit the secondary rate limit: 403, `retry-after`."""
        return self.faults.add(
            Fault("secondary_rate_limit", count, method, path, retry_after=retry_after)
        )

    def expire_tokens(self) -> int:
        """Every installation token expires now (the next use answers 401); how many."""
        now = self.backend.clock()
        for token in self.state.tokens.values():
            token.expires_at = min(token.expires_at, now - 1)
        return len(self.state.tokens)

    def exhaust_rate_limit(self) -> None:
        """Spend the installation's primary rate limit: requests answer 403 until reset."""
        window = self.backend.rates.window(self.installation_id, self.backend.clock())
        window.used = window.limit

    def exhaust_graphql_rate_limit(self) -> None:
        """Spend the installation's GraphQL points: queries get a RATE_LIMITED error until
        reset; REST is not affected."""
        window = self.backend.graphql_rates.window(self.installation_id, self.backend.clock())
        window.used = window.limit

    # --- scripts ---

    async def play(self, script: Script, *, narrate: Callable[[str], None] | None = None) -> None:
        """Play a scenario script: a list of step dicts or an `async def (sim)` coroutine."""
        await play(self, script, narrate=narrate)


def _install(state: State, repos: Iterable[str]) -> Installation:
    """Create the repositories and one installation of the app on all of them, owned by the
    first one's owner."""
    created = [state.create_repo(name) for name in repos]
    if not created:
        raise ValueError("a simulator needs at least one repository")
    installation = Installation(state.next_id(), created[0].owner, created_at=state.now())
    installation.repos = [repo.full_name for repo in created]
    state.installations[installation.id] = installation
    return installation
