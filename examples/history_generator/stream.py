"""The stream: pull requests made in creation order, emitted in the order they end."""

from __future__ import annotations

import heapq
import json
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from .builders import Builder
from .model import KIND_WEIGHTS, KINDS, MEAN_GAP, REPOSITORY, WARM_UP, Json
from .timeline import RevertPlan
from .world import World


class Stream:
    """Makes pull requests in creation order and emits them in the order they end."""

    def __init__(self, rng: random.Random, world: World) -> None:
        self.rng = rng
        self.builder = Builder(rng, world)
        # (opened_at, target number, plan): reverting pull requests still to be created.
        self.scheduled: list[tuple[int, int, RevertPlan]] = []
        # (end time, number, record): the reorder buffer, bounded by the longest timeline.
        self.finished: list[tuple[int, int, Json]] = []
        self.kind_weights = list(_cumulative(KIND_WEIGHTS))

    def records(self, count: int) -> Iterator[Json]:
        """Yield ``count`` records, each once no later pull request can end before it."""
        rng = self.rng
        # Start early, and stop once enough have ended: the history is in a steady state
        # from its first record to its last, long-running pull requests ending among quick
        # ones, instead of quick ones first and long ones last.
        arrival = -WARM_UP
        emitted = 0
        while emitted < count:
            if self.scheduled and self.scheduled[0][0] <= arrival:
                pr = self.builder.revert(heapq.heappop(self.scheduled)[2])
            else:
                kind = rng.choices(KINDS, cum_weights=self.kind_weights)[0]
                pr = self.builder.by_kind[kind](arrival)
                pr.play()
                arrival += 1 + int(rng.expovariate(1 / MEAN_GAP))
            for plan in pr.reverts:
                heapq.heappush(self.scheduled, (plan.opened_at, plan.target, plan))
            end, record = pr.record()
            if end >= 0:  # what ended before START is not part of the history
                heapq.heappush(self.finished, (end, pr.number, record))
            # Every later pull request is created at or after this one and ends after it (so
            # the reverting pull request of an emitted record was made, and named, before).
            while self.finished and self.finished[0][0] <= pr.created and emitted < count:
                yield heapq.heappop(self.finished)[2]
                emitted += 1


def _cumulative(weights: Sequence[int]) -> Iterator[int]:
    total = 0
    for weight in weights:
        total += weight
        yield total


def header(count: int, seed: int) -> Json:
    return {
        "shadowbot_history": 1,
        "repository": REPOSITORY,
        "description": (
            f"synthetic nixpkgs-like history: {count} pull requests, seed {seed}, made by "
            "examples/generate_history.py (its docstring describes the model)"
        ),
    }


def generate(count: int, seed: int = 2024) -> Iterator[dict[str, Any]]:
    """Yield the header, then ``count`` records ordered by their last event's time."""
    if count < 0:
        raise ValueError("count cannot be negative")
    rng = random.Random(seed)
    yield header(count, seed)
    yield from Stream(rng, World(rng)).records(count)


def write(lines: Iterator[dict[str, Any]], out: Callable[[bytes], object]) -> None:
    """Write compact JSON lines through ``out`` (a binary stream's ``write``)."""
    dumps = json.JSONEncoder(separators=(",", ":")).encode
    batch: list[str] = []
    for obj in lines:
        batch.append(dumps(obj))
        if len(batch) >= 512:
            out(("\n".join(batch) + "\n").encode())
            batch.clear()
    if batch:
        out(("\n".join(batch) + "\n").encode())
