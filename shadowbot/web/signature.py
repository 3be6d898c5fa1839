"""Webhook signatures, as GitHub computes them: HMAC-SHA256 of the raw body.

https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
"""

from __future__ import annotations

import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` header value GitHub sends for ``body``."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """Whether ``header`` signs ``body``, compared in constant time."""
    if not header or not header.startswith("sha256="):
        return False
    # As bytes: compare_digest refuses a str holding anything but ASCII, and a garbled
    # header arrives as one (aiohttp decodes header bytes with surrogateescape).
    expected = sign(secret, body).encode()
    return hmac.compare_digest(expected, header.encode("utf-8", "surrogateescape"))
