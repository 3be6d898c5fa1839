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
    """Raise :class:`WriteRefused` unless ``method url`` is a read or an allowed write."""
    method = method.upper()
    if method in READ_METHODS:
        return
    path = _path_below(url, base_url)
    for allowed_method, pattern, _ in ALLOWED_WRITES:
        if method == allowed_method and pattern.fullmatch(path):
            return
    raise WriteRefused(f"refused {method} {path}: shadowbot only writes its own comments")


def _path_below(url: str, base_url: str) -> str:
    """The API path of ``url``; a URL outside the API base is never a known write."""
    base = urlsplit(base_url)
    target = urlsplit(url)
    prefix = base.path.rstrip("/")
    if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not (
        target.path == prefix or target.path.startswith(prefix + "/")
    ):
        return url
    segments = [p for p in target.path[len(prefix) :].split("/") if p]
    if any(p in (".", "..") or "%" in p for p in segments):
        return url  # dot segments or escapes could dress up another endpoint: never allowed
    return "/" + "/".join(segments)
