"""Injectable faults: requests that fail, hang, or hit the secondary rate limit.

A fault applies to the next `count` requests that match its method and path pattern (a glob,
`*` spanning slashes, e.g. ``/repos/*/issues/*/comments``); faults are tried in the order
they were added.
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from typing import Literal

FaultKind = Literal["error", "hang", "secondary_rate_limit"]
# The body GitHub sends when a secondary rate limit is hit:
# https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#exceeding-the-rate-limit
SECONDARY_RATE_LIMIT_MESSAGE = (
    "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
)


@dataclass
class Fault:
    kind: FaultKind
    remaining: int
    method: str | None = None
    path: str | None = None
    status: int = 502
    delay: float = 0.0
    retry_after: int = 60

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path is None or fnmatch.fnmatchcase(path, self.path)


class Faults:
    """The pending faults of one simulator."""

    def __init__(self) -> None:
        self.pending: list[Fault] = []

    def add(self, fault: Fault) -> Fault:
        if fault.remaining < 1:
            raise ValueError("a fault needs a count of at least 1")
        self.pending.append(fault)
        return fault

    def take(self, method: str, path: str) -> Fault | None:
        """The first pending fault matching this request, used up by one."""
        for fault in self.pending:
            if fault.matches(method, path):
                fault.remaining -= 1
                if fault.remaining == 0:
                    self.pending.remove(fault)
                return fault
        return None
