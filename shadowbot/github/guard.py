"""The write guard: the only writes shadowbot may send to GitHub, checked before sending.

Shadow mode needs three kinds of write, and nothing else: creating and editing its own
issue comments, and adding a reaction to acknowledge a command. Exchanging the app's JWT
for an installation token is a POST too. Every other method and path — merging, reviews,
labels, contents, refs — is refused here, so no code path of the bot can merge.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from shadowbot.errors import ShadowbotError

_REPO = r"/repos/[^/]+/[^/]+"
ALLOWED_WRITES: tuple[tuple[str, re.Pattern[str], str], ...] = (
    ("POST", re.compile(rf"{_REPO}/issues/\d+/comments"), "create a comment"),
    ("PATCH", re.compile(rf"{_REPO}/issues/comments/\d+"), "edit its own comment"),
    ("POST", re.compile(rf"{_REPO}/issues/comments/\d+/reactions"), "acknowledge a command"),
    ("POST", re.compile(r"/app/installations/\d+/access_tokens"), "get an installation token"),
)
READ_METHODS = frozenset({"GET", "HEAD"})


class WriteRefused(ShadowbotError):
    """A write outside what shadow mode needs was attempted; nothing was sent."""


def check_request(method: str, url: str, base_url: str) -> None:
    """Raise :class:`WriteRefused` unless ``method url`` is a read or an allowed write,
    below the API base: the installation token never goes to another host, even when a
    ``Link`` header points there."""
    method = method.upper()
    segments = _segments_below(url, base_url)
    if segments is None or any(p in (".", "..") for p in segments):
        raise WriteRefused(f"refused {method} {url}: not below the API at {base_url}")
    if method in READ_METHODS:
        return
    path = "/" + "/".join(segments)
    # The allowed writes name plain numbers and names: an escape could dress up another
    # endpoint once the server decodes it.
    if "%" not in path:
        for allowed_method, pattern, _ in ALLOWED_WRITES:
            if method == allowed_method and pattern.fullmatch(path):
                return
    raise WriteRefused(f"refused {method} {path}: shadowbot only writes its own comments")


def _segments_below(url: str, base_url: str) -> list[str] | None:
    """The path segments of ``url`` below the API base, or None if it is elsewhere."""
    base, target = urlsplit(base_url), urlsplit(url)
    prefix = base.path.rstrip("/")
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
        target.path == prefix or target.path.startswith(prefix + "/")
    ):
        return None
    return [p for p in target.path[len(prefix) :].split("/") if p]
