"""The aiohttp application: one factory, resources opened and closed in one place."""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from aiohttp import web
from sqlalchemy.engine import Engine

from shadowbot.errors import ConfigError
from shadowbot.health import Health
from shadowbot.live.worker import Processing, Worker
from shadowbot.metrics import Metrics
from shadowbot.settings import Settings
from shadowbot.storage import migrated
from shadowbot.web.intake import (
    Delivery,
    DeliveryStore,
    is_delivery_id,
    is_handled,
    read_delivery,
)
from shadowbot.web.signature import verify
from shadowbot.web.site import add_pages

log = logging.getLogger(__name__)

#: GitHub caps webhook payloads at 25 MB; anything larger is not GitHub.
#: https://docs.github.com/en/webhooks/webhook-events-and-payloads#payload-cap
MAX_BODY = 25 * 1024 * 1024

JSON = "application/json"
STORED, DUPLICATE = b'{"stored": true}', b'{"stored": false}'

SETTINGS = web.AppKey("settings", Settings)
METRICS = web.AppKey("metrics", Metrics)
DATABASE = web.AppKey("database", Engine)
STORE = web.AppKey("store", DeliveryStore)
WORKER = web.AppKey("worker", Worker)
HEALTH = web.AppKey("health", Health)

#: Opens what processes stored deliveries once the app's resources exist, and closes it.
HandlerFactory = Callable[[web.Application], AbstractAsyncContextManager[Processing]]


async def webhook(request: web.Request) -> web.Response:
    app = request.app
    metrics = app[METRICS]
    secret = app[SETTINGS].webhook_secret
    body = await request.read()  # over MAX_BODY: aiohttp answers 413 itself
    if secret is None or not verify(
        secret.reveal(), body, request.headers.get("X-Hub-Signature-256")
    ):
        metrics.inc("shadowbot_deliveries_total", outcome="bad_signature")
        return web.json_response({"error": "bad signature"}, status=401)
    event = request.headers.get("X-GitHub-Event", "")
    delivery_id = request.headers.get("X-GitHub-Delivery", "")
    if not event or not is_delivery_id(delivery_id):
        return _malformed(metrics)
    try:
        action, subject = read_delivery(body)
    except ValueError:  # not JSON, or not an object
        return _malformed(metrics)
    if not is_handled(event, action):
        metrics.inc("shadowbot_deliveries_total", outcome="ignored")
        return web.json_response({"ignored": f"{event}.{action}"}, status=202)
    stored = await app[STORE].add(Delivery(delivery_id, event, action, body, subject))
    metrics.inc("shadowbot_deliveries_total", outcome="stored" if stored else "duplicate")
    # Built from bytes: json_response's encoding is a visible share of a burst's time.
    return web.Response(body=STORED if stored else DUPLICATE, status=202, content_type=JSON)


def _malformed(metrics: Metrics) -> web.Response:
    metrics.inc("shadowbot_deliveries_total", outcome="malformed")
    return web.json_response({"error": "not a GitHub delivery"}, status=400)


async def healthz(request: web.Request) -> web.Response:
    """Whether the service is up, and what keeps it from its work (:mod:`shadowbot.health`)."""
    return web.json_response(request.app[HEALTH].as_dict())


async def metrics_view(request: web.Request) -> web.Response:
    text = request.app[METRICS].render()
    return web.Response(text=text, content_type="text/plain", charset="utf-8")


def create_app(settings: Settings, handler_factory: HandlerFactory) -> web.Application:
    """The bot's web app; ``handler_factory`` builds what processes stored deliveries."""
    if settings.webhook_secret is None:
        raise ConfigError("SHADOWBOT_WEBHOOK_SECRET: required to receive webhooks")
    app = web.Application(client_max_size=MAX_BODY)
    app[SETTINGS] = settings
    app[METRICS] = Metrics(
        help={
            "shadowbot_deliveries_total": "webhook deliveries received, by outcome",
            "shadowbot_github_requests_total": "requests sent to GitHub",
            "shadowbot_github_rate_limit_remaining": "GitHub's remaining rate limit",
            "shadowbot_evaluations_total": "rule evaluations, by decision",
            "shadowbot_errors_total": "errors, by where they happened",
            "shadowbot_deliveries_processed_total": "stored deliveries processed, by event",
            "shadowbot_deliveries_coalesced_total": "deliveries a later one made redundant",
            "shadowbot_delivery_retries_total": "deliveries tried again after GitHub failed",
            "shadowbot_github_errors_total": "requests that reached no answer, by error",
            "shadowbot_github_retries_total": "requests to GitHub sent again, by status",
            "shadowbot_github_tokens_total": "installation tokens obtained",
            "shadowbot_github_rate_limited_total": "requests refused by a rate limit, by kind",
            "shadowbot_deliveries_waiting": "deliveries stored and not processed yet",
            "shadowbot_deliveries_given_up": "deliveries given up, not reconciled yet",
            "shadowbot_deliveries_given_up_total": "deliveries given up or failed for good",
            "shadowbot_degraded": "1 while this keeps the bot from its work, by reason",
        }
    )
    app[HEALTH] = Health(app[METRICS])
    app.router.add_post("/webhook", webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        # Opened in order, closed in reverse: the worker, the handler, the store, the database.
        async with contextlib.AsyncExitStack() as stack:
            engine = app[DATABASE] = stack.enter_context(migrated(settings.database_url))
            store = app[STORE] = DeliveryStore(engine)
            store.start()
            stack.push_async_callback(store.close)
            processing = await stack.enter_async_context(handler_factory(app))
            # What start-up built (ORM mappings, templates, the app) lives as long as the
            # process: keep the collector from walking it again under every burst.
            # https://docs.python.org/3/library/gc.html#gc.freeze
            gc.freeze()
            worker = app[WORKER] = Worker(
                engine,
                processing.handle,
                store.stored,
                app[METRICS],
                coalesce_key=processing.coalesce_key,
                last_received=lambda: store.last_received,
                health=app[HEALTH],
                ready=processing.ready,
                slots=settings.workers,
                lease=timedelta(seconds=settings.delivery_lease),
            )
            worker.start()
            stack.push_async_callback(worker.close)
            yield

    app.cleanup_ctx.append(resources)
    # The public pages (docs/pages.md), opened after the database they read.
    add_pages(app, settings, DATABASE)
    return app
