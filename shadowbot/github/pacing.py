"""Keeping GitHub's rate limits: writes paced within the content-creation limits, and every
request held back while GitHub has said to wait.

GitHub's secondary rate limits cap requests that create content at 80 a minute and 500 an
hour, and ask an integration that was limited to wait for ``retry-after`` and then go
slower: https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
A primary limit spent is waited out until its reset, however long: the deliveries are
kept meanwhile (:mod:`shadowbot.live.worker`).

A wait longer than :data:`IN_PLACE` is not waited inside the request: :class:`RateLimited`
is raised with the time it lifts, and the delivery being processed is tried again then,
without holding a worker.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from shadowbot.errors import ShadowbotError

#: Content-creation limits: (requests, seconds).
WRITE_LIMITS: tuple[tuple[int, float], ...] = ((80, 60.0), (500, 3600.0))
#: After a secondary rate limit, writes are spaced this much for :data:`SLOW_FOR`.
SLOW_INTERVAL = 3.0
SLOW_FOR = 1800.0
#: The longest wait done inside a request; a longer one is the delivery's to wait.
IN_PLACE = 10.0


class RateLimited(ShadowbotError):
    """GitHub's rate limit holds until ``until`` (a Unix time)."""

    def __init__(self, until: float, message: str, secondary: bool = False) -> None:
        super().__init__(message)
        self.until = until
        self.secondary = secondary


class Pacer:
    """One per app, shared by its clients (a process's view of its own requests)."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self._writes: deque[float] = deque()
        #: Nothing is sent before this (GitHub said to wait), and why.
        self.blocked_until = 0.0
        self.blocked_because = ""
        self._slow_until = 0.0

    def wait_before(self, write: bool) -> float:
        """Seconds to wait before sending a request (a write if ``write``), counting it as
        sent once the wait is over."""
        now = self.clock()
        start = max(now, self.blocked_until)
        if write:
            start = max(start, self._next_write(start))
            self._writes.append(start)
        return start - now

    def _next_write(self, at: float) -> float:
        """The earliest time from ``at`` a write keeps every limit."""
        writes = self._writes
        longest = max(seconds for _, seconds in WRITE_LIMITS)
        while writes and writes[0] <= at - longest:
            writes.popleft()
        earliest = at
        for count, seconds in WRITE_LIMITS:
            recent = [t for t in writes if t > at - seconds]
            if len(recent) >= count:
                earliest = max(earliest, recent[-count] + seconds)
        if writes and at < self._slow_until:
            earliest = max(earliest, writes[-1] + SLOW_INTERVAL)
        return earliest

    def forget_last_write(self) -> None:
        """A write counted but not sent (its wait was too long to take)."""
        if self._writes:
            self._writes.pop()

    def block(self, until: float, because: str, secondary: bool) -> None:
        """GitHub said to wait until ``until``; after a secondary limit, go slower."""
        if until > self.blocked_until:
            self.blocked_until, self.blocked_because = until, because
        if secondary:
            self._slow_until = max(self._slow_until, until + SLOW_FOR)
