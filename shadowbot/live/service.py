"""Live mode's resources, opened once per process and closed in reverse order."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from shadowbot.core.engine import Engine
from shadowbot.errors import ConfigError
from shadowbot.github import GitHubApp
from shadowbot.live.cache import LiveCache
from shadowbot.live.harvest import Harvester
from shadowbot.live.jobs import Jobs
from shadowbot.live.pipeline import Pipeline
from shadowbot.live.reconcile import Reconciler
from shadowbot.live.worker import Processing
from shadowbot.rules import load_rules
from shadowbot.settings import Settings
from shadowbot.storage import register_rules
from shadowbot.web.app import DATABASE, METRICS, SETTINGS, create_app

log = logging.getLogger(__name__)

PIPELINE = web.AppKey("pipeline", Pipeline)
JOBS = web.AppKey("jobs", Jobs)


def check_live_settings(settings: Settings) -> tuple[int, str]:
    """The app id and private key, or one error naming what is missing."""
    if settings.app_id is None:
        raise ConfigError("SHADOWBOT_APP_ID: required to talk to GitHub")
    if settings.private_key is None:
        raise ConfigError("SHADOWBOT_PRIVATE_KEY: required to talk to GitHub")
    return settings.app_id, settings.private_key.reveal()


@contextlib.asynccontextmanager
async def live_handler(app: web.Application) -> AsyncIterator[Processing]:
    settings = app[SETTINGS]
    app_id, private_key = check_live_settings(settings)
    rules = load_rules(settings.rules_path())
    register_rules(app[DATABASE], rules)
    async with aiohttp.ClientSession() as session:
        github = GitHubApp(
            session,
            base_url=settings.github_api_url,
            app_id=app_id,
            private_key=private_key,
            metrics=app[METRICS],
        )
        slug = await github.slug()
        cache = LiveCache()
        harvester = Harvester(app[DATABASE], github, cache, app[METRICS])
        reconciler = Reconciler(app[DATABASE], github, app[METRICS])
        with Engine(rules, settings.rule_timeout) as engine:
            pipeline = Pipeline(
                settings=settings,
                database=app[DATABASE],
                github=github,
                engine=engine,
                cache=cache,
                metrics=app[METRICS],
                bot_login=f"{slug}[bot]",
                harvester=harvester,
            )
            app[PIPELINE] = pipeline
            jobs = app[JOBS] = Jobs(
                settings,
                app[DATABASE],
                harvester,
                app[METRICS],
                refresh=pipeline.reevaluate,
                reconcile=reconciler.reconcile,
            )
            scheduler = jobs.start()
            log.info("serving as %s[bot] with %d rules", slug, len(rules))
            try:
                yield Processing(pipeline.handle, pipeline.coalesce_key)
            finally:
                scheduler.shutdown(wait=False)


def create_live_app(settings: Settings) -> web.Application:
    check_live_settings(settings)
    return create_app(settings, live_handler)
