"""Per-process caches of what changes slowly: permissions, teams, parsed CODEOWNERS."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Generic, TypeVar

from shadowbot.github.codeowners import CodeOwners, parse_codeowners
from shadowbot.snapshot import (
    Permission,
)

log = logging.getLogger(__name__)
K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """A dict whose entries are forgotten ``ttl`` seconds after they were stored."""

    def __init__(self, ttl: float, clock: Callable[[], float]) -> None:
        self.ttl, self.clock = ttl, clock
        self._items: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        found = self._items.get(key)
        return found[1] if found is not None and found[0] > self.clock() else None

    def put(self, key: K, value: V) -> None:
        now = self.clock()
        if len(self._items) >= 4096:  # forget what expired before growing further
            self._items = {k: item for k, item in self._items.items() if item[0] > now}
        self._items[key] = (now + self.ttl, value)


class LiveCache:
    """What one process remembers between snapshots.

    - parsed CODEOWNERS per (repository, blob SHA of the file at the base): the file is
      still read each time, conditionally (a ``304`` while unchanged), never parsed twice;
    - which CODEOWNERS locations are absent, for ``ttl`` (a 404 carries no ETag);
    - permissions per (repository, login) and team members per team, for ``ttl`` seconds:
      a permission granted or revoked is seen within that time.
    ``expand_teams`` turns off reading team members (it needs the organization ``members``
    read permission and a request per team).
    """

    def __init__(
        self,
        *,
        ttl: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
        expand_teams: bool = True,
    ) -> None:
        self.expand_teams = expand_teams
        self.permissions: _Expiring[tuple[str, str], Permission] = _Expiring(ttl, clock)
        self.teams: _Expiring[str, tuple[str, ...]] = _Expiring(ttl, clock)
        self.absent: _Expiring[tuple[str, str, str], bool] = _Expiring(ttl, clock)
        self._codeowners: dict[tuple[str, str], CodeOwners] = {}

    def codeowners(self, repo: str, blob_sha: str, text: Callable[[], str]) -> CodeOwners:
        key = (repo.lower(), blob_sha)
        found = self._codeowners.get(key)
        if found is None:
            if len(self._codeowners) >= 256:
                del self._codeowners[next(iter(self._codeowners))]  # the oldest parse
            found = self._codeowners[key] = parse_codeowners(text())
            for error in found.errors:
                log.warning(
                    "CODEOWNERS line %d skipped: %s",
                    error.line,
                    error.reason,
                    extra={"repo": repo, "blob": blob_sha},
                )
        return found
