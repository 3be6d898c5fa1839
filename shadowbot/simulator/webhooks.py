"""Webhook deliveries signed and headed as GitHub's, a log of them with each one's outcome,
redelivery, and deliveries dropped on purpose (the bot's endpoint unreachable).

Headers: https://docs.github.com/en/webhooks/webhook-events-and-payloads#delivery-headers
(for an app's hook the installation target is `integration` and its id the app id).
Signatures: HMAC hex digests of the raw body keyed by the secret, SHA-256 in
`X-Hub-Signature-256` and SHA-1 in the legacy `X-Hub-Signature`, both sent only when a
secret is configured: https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import itertools
import json
import logging
import time
import uuid
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import aiohttp

from shadowbot.simulator.payloads import Event
from shadowbot.simulator.render import Json

log = logging.getLogger(__name__)
# GitHub gives up on a delivery after 10 seconds:
# https://docs.github.com/en/webhooks/using-webhooks/best-practices-for-using-webhooks
DELIVERY_TIMEOUT = 10.0
HOOKSHOT_VERSION = "5f1e3b9"
# Why a dropped delivery failed: as if the receiver could not be reached.
DROPPED = "failed to connect to host (dropped by the scenario)"


@dataclass
class Delivery:
    """One delivery attempt: what was sent and how the receiver answered (`status`), or why
    nothing answered (`error`). Every attempt has its own `id`; a redelivery keeps the `guid`."""

    guid: str
    event: str
    payload: Json
    body: bytes
    headers: dict[str, str]
    redelivery: bool = False
    forged: bool = False
    status: int | None = None
    error: str | None = None
    delivered_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    duration: float = 0.0
    id: int = 0
    url: str | None = None
    timed_out: bool = False
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: str | None = None

    @property
    def action(self) -> str | None:
        action = self.payload.get("action")
        return action if isinstance(action, str) else None


def signature_headers(secret: str, body: bytes) -> dict[str, str]:
    key = secret.encode()
    return {
        "X-Hub-Signature": "sha1=" + hmac.new(key, body, hashlib.sha1).hexdigest(),
        "X-Hub-Signature-256": "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest(),
    }


class WebhookSender:
    """Posts deliveries to `url`, one at a time and in order, and remembers each."""

    def __init__(self, *, url: str | None, secret: str | None, hook_id: int, app_id: int) -> None:
        self.url = url
        self.secret = secret
        self.hook_id = hook_id
        self.app_id = app_id
        self.deliveries: list[Delivery] = []
        # How many of the next deliveries fail as if the receiver were unreachable.
        self.dropping = 0
        self._ids = itertools.count(1)
        self._session: aiohttp.ClientSession | None = None
        self._lock = asyncio.Lock()
        self._queue: asyncio.Queue[Event | Delivery] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None

    async def start(self) -> None:
        timeout = aiohttp.ClientTimeout(total=DELIVERY_TIMEOUT)
        self._session = aiohttp.ClientSession(timeout=timeout)
        self._worker = asyncio.create_task(self._drain(), name="simulator-webhooks")

    async def close(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
        if self._session is not None:
            await self._session.close()

    def prepare(self, event: Event) -> Delivery:
        """A delivery with a fresh GUID, signed with the configured secret."""
        body = json.dumps(event.payload).encode()
        guid = str(uuid.uuid4())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"GitHub-Hookshot/{HOOKSHOT_VERSION}",
            "X-GitHub-Event": event.name,
            "X-GitHub-Delivery": guid,
            "X-GitHub-Hook-ID": str(self.hook_id),
            "X-GitHub-Hook-Installation-Target-Type": "integration",
            "X-GitHub-Hook-Installation-Target-ID": str(self.app_id),
        }
        if self.secret is not None:
            headers.update(signature_headers(self.secret, body))
        return Delivery(guid, event.name, event.payload, body, headers)

    async def deliver(self, event: Event) -> Delivery:
        return await self.send(self.prepare(event))

    async def redeliver(self, guid: str) -> Delivery:
        """Send a past delivery again with the same GUID and body, as "Redeliver" does."""
        original = next((d for d in self.deliveries if d.guid == guid), None)
        if original is None:
            raise KeyError(f"no delivery {guid}")
        return await self.send(_again(original))

    def redeliver_later(self, original: Delivery) -> None:
        """Queue a redelivery of `original`, sent in the background after what is queued (as
        GitHub does after accepting a redelivery request)."""
        self._queue.put_nowait(_again(original))

    def find(self, delivery_id: int) -> Delivery:
        found = next((d for d in self.deliveries if d.id == delivery_id), None)
        if found is None:
            raise KeyError(f"no delivery {delivery_id}")
        return found

    async def deliver_forged(self, event: Event, *, signature: str | None) -> Delivery:
        """A delivery whose `X-Hub-Signature-256` is `signature` (left out when None)."""
        delivery = self.prepare(event)
        delivery.forged = True
        delivery.headers.pop("X-Hub-Signature", None)
        delivery.headers.pop("X-Hub-Signature-256", None)
        if signature is not None:
            delivery.headers["X-Hub-Signature-256"] = signature
        return await self.send(delivery)

    def deliver_later(self, events: list[Event]) -> None:
        """Queue deliveries to be sent in the background, in order (as GitHub sends the
        events a REST write causes, after answering the write)."""
        for event in events:
            self._queue.put_nowait(event)

    async def settle(self) -> None:
        """Wait until every queued delivery has been sent."""
        await self._queue.join()

    async def send(self, delivery: Delivery) -> Delivery:
        async with self._lock:
            delivery.id, delivery.url = next(self._ids), self.url
            self.deliveries.append(delivery)
            if self.dropping > 0:
                self.dropping -= 1
                delivery.error = DROPPED
            elif self.url is None or self._session is None:
                delivery.error = "no webhook URL configured"
            else:
                await self._post(self._session, self.url, delivery)
            return delivery

    async def _post(self, session: aiohttp.ClientSession, url: str, delivery: Delivery) -> None:
        started = time.monotonic()
        try:
            async with session.post(url, data=delivery.body, headers=delivery.headers) as response:
                delivery.response_body = (await response.read()).decode(errors="replace")
                delivery.response_headers = dict(response.headers)
                delivery.status = response.status
        except (aiohttp.ClientError, TimeoutError) as error:
            delivery.error = f"{type(error).__name__}: {error}"
            delivery.timed_out = isinstance(error, TimeoutError)
            log.warning("webhook delivery %s failed: %s", delivery.guid, delivery.error)
        delivery.duration = time.monotonic() - started

    async def _drain(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                if isinstance(item, Delivery):
                    await self.send(item)
                else:
                    await self.deliver(item)
            except Exception:
                # One broken delivery must not stop the ones queued behind it.
                name = item.event if isinstance(item, Delivery) else item.name
                log.exception("webhook delivery of %s failed", name)
            finally:
                self._queue.task_done()


def _again(original: Delivery) -> Delivery:
    """A new attempt at `original`: same GUID, headers and body, `redelivery` set."""
    return replace(
        original,
        headers=dict(original.headers),
        redelivery=True,
        status=None,
        error=None,
        delivered_at=datetime.now(UTC),
        duration=0.0,
        timed_out=False,
        response_headers={},
        response_body=None,
    )
