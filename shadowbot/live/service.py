"""Live mode's resources, opened once per process and closed in reverse order.

The intake never waits for GitHub: the app starts, and stores deliveries, whether or not
GitHub answers. What needs GitHub — the app's identity (its comments are written by
``<slug>[bot]``), then the pipeline and the scheduled jobs built on it — is set up by a
task that asks GitHub until it answers, backing off; the worker starts processing once
it is done (``Processing.ready``). GitHub refusing the app's credentials is no fault to
wait out but a setting to fix: it is reported as one line naming the setting
(:data:`FATAL`), and ``shadowbot serve`` stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from gidgethub import BadRequest

from shadowbot.core.engine import Engine
from shadowbot.errors import ConfigError
from shadowbot.github import GitHubApp
from shadowbot.health import IDENTITY
from shadowbot.live.cache import LiveCache
from shadowbot.live.harvest import Harvester
from shadowbot.live.jobs import Jobs
from shadowbot.live.pipeline import Pipeline
from shadowbot.live.reconcile import Reconciler
from shadowbot.live.worker import Processing
from shadowbot.rules import load_rules
from shadowbot.settings import Settings
from shadowbot.storage import DeliveryRow, register_rules
from shadowbot.web.app import DATABASE, HEALTH, METRICS, SETTINGS, create_app

log = logging.getLogger(__name__)


@dataclass
class Live:
    """What live mode builds once GitHub told the app's identity."""

    pipeline: Pipeline | None = None
    jobs: Jobs | None = None


LIVE = web.AppKey("live", Live)
#: Set once the app's identity is known and the pipeline and the jobs are running.
READY = web.AppKey("ready", asyncio.Event)
#: A setting GitHub refused, as one line; ``serve`` stops with it.
FATAL = web.AppKey("fatal", asyncio.Future[str])
#: Asking GitHub for the app's identity: backoff from the first to the last, in seconds.
IDENTITY_BACKOFF = (1.0, 300.0)


def check_live_settings(settings: Settings) -> tuple[int, str]:
    """The app id and private key, or one error naming what is missing or wrong."""
    if settings.app_id is None:
        raise ConfigError("SHADOWBOT_APP_ID: required to talk to GitHub")
    if settings.private_key is None:
        raise ConfigError("SHADOWBOT_PRIVATE_KEY: required to talk to GitHub")
    pem = settings.private_key.reveal()
    if "PUBLIC KEY" in pem and "PRIVATE KEY" not in pem:
        raise ConfigError(
            "SHADOWBOT_PRIVATE_KEY: this is a public key; give the private key GitHub"
            " generated for the app (a .pem file)"
        )
    try:
        key = load_pem_private_key(pem.encode(), password=None)
    except (ValueError, TypeError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"SHADOWBOT_PRIVATE_KEY: not a usable PEM private key ({reason})"
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError("SHADOWBOT_PRIVATE_KEY: GitHub App keys are RSA keys; this one is not")
    return settings.app_id, pem


def refused_setting(exc: BadRequest, app_id: int) -> str | None:
    """The one-line error for GitHub refusing the app's credentials, or None when the
    answer is no such refusal (then it is waited out like any fault)."""
    if exc.status_code not in (401, 404):
        return None
    said = " ".join(str(arg) for arg in exc.args if isinstance(arg, str)) or "refused"
    if exc.status_code == 404 or "integration not found" in said.lower():
        return f"SHADOWBOT_APP_ID: GitHub knows no app {app_id} ({said})"
    return f"SHADOWBOT_PRIVATE_KEY: GitHub rejects the key of app {app_id} ({said})"


async def learn_identity(github: GitHubApp, app: web.Application, app_id: int) -> str | None:
    """The app's slug, asked of GitHub until it answers (backing off, with jitter); None
    when GitHub refuses the credentials (then :data:`FATAL` has the reason)."""
    health = app[HEALTH]
    # Degraded from the start, not from the first failure: one ask may take long (the
    # client retries a 5xx for ~20 s, a hanging request lasts until its timeout), and
    # nothing is processed meanwhile.
    health.report(IDENTITY, "the app's identity is not known yet: asking GitHub")
    delay = IDENTITY_BACKOFF[0]
    while True:
        try:
            slug = await github.slug()
        except BadRequest as exc:
            refused = refused_setting(exc, app_id)
            if refused is None:
                reason = f"GitHub answered {exc.status_code}"
            else:
                log.error("%s", refused)
                if not app[FATAL].done():
                    app[FATAL].set_result(refused)
                return None
        except Exception as exc:  # unreachable, 5xx, rate limited: wait and ask again
            reason = f"{type(exc).__name__}: {exc}"
        else:
            health.clear(IDENTITY)
            return slug
        health.report(IDENTITY, f"the app's identity is not known yet: GitHub: {reason}"[:300])
        log.warning("could not ask GitHub who the app is (%s); again in %.0f s", reason, delay)
        await asyncio.sleep(delay * random.uniform(0.8, 1.2))
        delay = min(delay * 2, IDENTITY_BACKOFF[1])


@contextlib.asynccontextmanager
async def live_handler(app: web.Application) -> AsyncIterator[Processing]:
    settings = app[SETTINGS]
    app_id, private_key = check_live_settings(settings)
    rules = load_rules(settings.rules_path())
    register_rules(app[DATABASE], rules)
    ready = app[READY] = asyncio.Event()
    app[FATAL] = asyncio.get_running_loop().create_future()
    live = app[LIVE] = Live()
    async with contextlib.AsyncExitStack() as stack:
        session = await stack.enter_async_context(aiohttp.ClientSession())
        github = GitHubApp(
            session,
            base_url=settings.github_api_url,
            app_id=app_id,
            private_key=private_key,
            metrics=app[METRICS],
        )
        engine = stack.enter_context(Engine(rules, settings.rule_timeout))

        async def start() -> None:
            slug = await learn_identity(github, app, app_id)
            if slug is None:
                return
            cache = LiveCache()
            harvester = Harvester(app[DATABASE], github, cache, app[METRICS])
            pipeline = live.pipeline = Pipeline(
                settings=settings,
                database=app[DATABASE],
                github=github,
                engine=engine,
                cache=cache,
                metrics=app[METRICS],
                bot_login=f"{slug}[bot]",
                harvester=harvester,
            )
            stack.callback(pipeline.close)
            reconciler = Reconciler(
                app[DATABASE], github, app[METRICS], refresh=pipeline.reevaluate
            )
            jobs = live.jobs = Jobs(
                settings,
                app[DATABASE],
                harvester,
                app[METRICS],
                refresh=pipeline.reevaluate,
                reconcile=reconciler.reconcile,
            )
            scheduler = jobs.start()
            stack.callback(scheduler.shutdown, wait=False)
            log.info("serving as %s[bot] with %d rules", slug, len(rules))
            ready.set()

        starting = asyncio.create_task(start(), name="app-identity")
        starting.add_done_callback(_log_failure)
        stack.push_async_callback(_cancelled, starting)

        async def handle(delivery: DeliveryRow) -> None:
            await pipeline_of(app).handle(delivery)

        def coalesce_key(delivery: DeliveryRow) -> str | None:
            return pipeline_of(app).coalesce_key(delivery)

        yield Processing(handle, coalesce_key, ready)


def pipeline_of(app: web.Application) -> Pipeline:
    """The app's pipeline (there once :data:`READY` is set)."""
    pipeline = app[LIVE].pipeline
    if pipeline is None:
        raise RuntimeError("the live pipeline is not running yet")
    return pipeline


def jobs_of(app: web.Application) -> Jobs:
    """The app's scheduled jobs (there once :data:`READY` is set)."""
    jobs = app[LIVE].jobs
    if jobs is None:
        raise RuntimeError("the scheduled jobs are not running yet")
    return jobs


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("setting up the live pipeline failed", exc_info=task.exception())


async def _cancelled(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def create_live_app(settings: Settings) -> web.Application:
    check_live_settings(settings)
    return create_app(settings, live_handler)


async def serve(settings: Settings) -> None:
    """``shadowbot serve``: listen, and store and process deliveries until SIGINT or
    SIGTERM; :class:`ConfigError` (one line naming the setting) when the port cannot be
    opened or GitHub refuses the app's credentials."""
    app = create_live_app(settings)
    # No access-log line per delivery (a tenth of the intake's time): /metrics counts them.
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    try:
        site = web.TCPSite(runner, settings.host, settings.port)
        try:
            await site.start()
        except OSError as exc:
            raise ConfigError(
                f"SHADOWBOT_PORT: cannot listen on {settings.host}:{settings.port}:"
                f" {exc.strerror or exc}"
            ) from None
        log.info("listening on http://%s:%d/webhook", settings.host, settings.port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        stopping = asyncio.ensure_future(stop.wait())
        refused: asyncio.Future[Any] = app[FATAL]
        await asyncio.wait({stopping, refused}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if app[FATAL].done():
            raise ConfigError(app[FATAL].result())
        log.info("stopping")
    finally:
        await runner.cleanup()
