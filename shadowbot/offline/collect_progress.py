"""The progress line of ``shadowbot collect``: pull requests done, points spent and left,
and an estimate of the time left."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from shadowbot.github.history_fetch import Spending


@dataclass
class Progress:
    """Where a collection is, for a progress line."""

    repository: str
    #: Pull requests written in this run (since it began, resumptions included).
    done: int
    #: Pull requests GitHub lists (into the base branch), an upper bound.
    total: int | None
    spending: Spending
    #: Seconds since this process began collecting, and the clock now.
    elapsed: float
    now: float
    #: Pull requests read in this run, and by this process.
    scanned: int = 0
    scanned_here: int = 0
    #: When the run stops at a time (--since, or the last run's watermark): how far from the
    #: newest update to that time the pages have come, now and when this process began.
    fraction: float | None = None
    first_fraction: float = 0.0

    def seconds_left(self) -> float | None:
        """Time to go at this process's pace so far, plus a wait for the reset if the points
        left will not last. Through the updates down to the stop time when there is one,
        else through GitHub's count of pull requests."""
        if not self.scanned_here or not self.elapsed:
            return None
        if self.fraction is not None:
            covered = self.fraction - self.first_fraction
            if covered <= 0:
                return None
            share = (1.0 - self.fraction) / covered
        elif self.total is not None:
            share = max(self.total - self.scanned, 0) / self.scanned_here
        else:
            return None
        seconds = self.elapsed * share
        spending = self.spending
        if spending.remaining is not None and spending.points * share > spending.remaining:
            if spending.reset_at is not None:
                seconds += max(spending.reset_at - self.now, 0.0)
        return seconds

    def line(self) -> str:
        total = f" of at most {self.total:,}" if self.total is not None else ""
        left = self.seconds_left()
        eta = f", about {_duration(left)} left" if left is not None else ""
        remaining = self.spending.remaining
        budget = f" ({remaining:,} left until the reset)" if remaining is not None else ""
        rest = self.spending.rest_requests
        rest_part = f", {rest:,} REST requests" if rest else ""
        return (
            f"collect {self.repository}: {self.done:,} PRs{total},"
            f" {self.spending.points:,} points spent{budget}{rest_part}{eta}"
        )


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def progress_printer(stream: IO[str] | None = None) -> Callable[[Progress], None]:
    """Progress on one line rewritten in place on a terminal, a line per page otherwise."""
    out = stream or sys.stderr

    def show(progress: Progress) -> None:
        if out.isatty():
            out.write("\r\x1b[2K" + progress.line())
        else:
            out.write(progress.line() + "\n")
        out.flush()

    return show
