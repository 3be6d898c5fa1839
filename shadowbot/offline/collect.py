"""``shadowbot collect``: a repository's pull requests, read from GitHub's GraphQL API, written
as a history (docs/history-format.md) for the backtest.

Pull requests are read newest-updated first, a page at a time (:mod:`shadowbot.github.
history_queries`); for each page the collector fetches what overflowed (timelines over 100
items, over 100 files, over 100 checks on a commit), the checks of every head and the
CODEOWNERS at each base commit (which blob, and each blob's text once), then appends the
page's records to ``FILE.partial`` and saves its place in ``FILE.collect.json`` (the cursor,
the partial file's length). Killed at any moment, a rerun cuts the partial file back to
the length saved and goes on from the cursor saved: no pull request is written twice or
lost (:mod:`~shadowbot.offline.collect_state`). When the pages are done, the records so far
(``FILE`` from an earlier run) and the new ones are merged, a record fetched again replacing
the old one (:mod:`~shadowbot.offline.collect_merge`). The state file then keeps the newest
``updatedAt`` seen: the next run stops at the first pull request not updated since.

Filters: ``since``/``until`` on when a pull request was opened (``until`` excluded),
``base`` on its base branch (GitHub filters), ``limit`` on how many are written in this run
(the newest updated; the next run then reads again from the newest down to where the last
complete run began, so the older ones are not skipped).
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from shadowbot.github import history_queries as queries
from shadowbot.github.client import GitHubClient, GitHubUnavailable
from shadowbot.github.history_fetch import (
    NotFound,
    Overloaded,
    QueryFailed,
    QueryRunner,
    Spending,
)
from shadowbot.offline.collect_merge import merge_history
from shadowbot.offline.collect_pages import PageReader, PageSize
from shadowbot.offline.collect_progress import Progress, progress_printer
from shadowbot.offline.collect_records import Json, parse_time
from shadowbot.offline.collect_state import (
    CollectError,
    CollectState,
    Filters,
    RunState,
    check_arguments,
    cut_partial,
    load_state,
    partial_path,
    record_line,
    save_state,
    state_path,
    unreadable,
)

__all__ = [
    "PAGE_SIZE",
    "CollectError",
    "Progress",
    "Summary",
    "check_arguments",
    "collect",
    "partial_path",
    "progress_printer",
    "state_path",
]

#: Pull requests asked for in one page at first; halved on each 502/504. A page of 100
#: costs 2 points as one of 50 costs 1, but fills the checks and CODEOWNERS queries better.
PAGE_SIZE = 100


@dataclass
class Summary:
    written: int
    fetched: int
    total_records: int
    reverts: int
    spending: Spending
    #: Where this run's permissions came from: "collaborators" or "associations".
    permissions: str = "collaborators"


async def collect(
    repository: str,
    out: Path,
    client: GitHubClient,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    base: str | None = None,
    limit: int | None = None,
    page_size: int = PAGE_SIZE,
    progress: Callable[[Progress], None] | None = None,
    clock: Callable[[], float] = time.time,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    on_wait: Callable[[float, str], None] | None = None,
    after_page: Callable[[int], None] | None = None,
    files_per_head: bool = False,
) -> Summary:
    """Collect ``repository`` (``owner/name``) into the history ``out``, resuming an
    interrupted run and adding to an earlier one. ``client`` is an authenticated GitHub
    client; ``after_page`` is called with the pages done after each is saved;
    ``files_per_head`` reads each head's files and renames' previous paths from the REST API
    (:mod:`~shadowbot.offline.collect_pages`)."""
    check_arguments(repository, out, since, until, limit)
    filters = Filters(since, until, base)
    state = load_state(out, repository, filters)
    runner = QueryRunner(client, clock=clock, sleep=sleep, on_wait=on_wait)
    collector = _Collector(repository, out, state, filters, runner, page_size, files_per_head)
    started = clock()

    def report(total: int | None) -> None:
        if progress is not None and state.run is not None:
            now = clock()
            progress(
                Progress(
                    repository,
                    state.run.done,
                    total,
                    runner.spending,
                    now - started,
                    now,
                    state.run.scanned,
                    collector.scanned_here,
                    collector.fraction,
                    collector.first_fraction or 0.0,
                )
            )

    try:
        fetched = await collector.pages(limit, report, after_page)
    except (GitHubUnavailable, QueryFailed) as exc:
        raise CollectError(
            f"{exc}; what was collected is kept: run the same command again to resume"
        ) from exc
    total, reverts = merge_history(out, state, repository)
    source = "collaborators" if collector.reader.permissions is not None else "associations"
    return Summary(collector.written, fetched, total, reverts, runner.spending, source)


class _Collector:
    """Pages of pull requests, newest updated first, appended to the partial file."""

    def __init__(
        self,
        repository: str,
        out: Path,
        state: CollectState,
        filters: Filters,
        runner: QueryRunner,
        page_size: int,
        files_per_head: bool = False,
    ) -> None:
        self.repository = repository
        self.owner, _, self.name = repository.partition("/")
        self.out = out
        self.state = state
        self.filters = filters
        self.runner = runner
        self.sizes = PageSize(page_size)
        self.reader = PageReader(repository, runner, self.sizes, files_per_head=files_per_head)
        self.written = 0
        #: Progress: pull requests read by this process; how far through the updates.
        self.scanned_here = 0
        self.fraction: float | None = None
        self.first_fraction: float | None = None

    async def pages(
        self,
        limit: int | None,
        report: Callable[[int | None], None],
        after_page: Callable[[int], None] | None,
    ) -> int:
        """Fetch and append pages until done; how many pull requests were fetched."""
        state = self.state
        run = state.run = state.run or RunState()
        cut_partial(partial_path(self.out), run.offset)
        fetched = pages = 0
        while not run.finished:
            connection = (await self._pulls(run.cursor))["pullRequests"]
            if not run.asked_collaborators:  # once the repository is known to be there
                run.permissions = await self.reader.read_permissions()
                run.asked_collaborators = True
            self.reader.permissions = run.permissions
            wanted = self._wanted(run, connection, limit)
            records = await self.reader.records(wanted)
            self._append(run, records)
            fetched += len(records)
            info = connection["pageInfo"]
            run.cursor = info["endCursor"] or run.cursor
            run.finished = run.finished or not info["hasNextPage"]
            save_state(self.out, state)
            pages += 1
            report(connection.get("totalCount"))
            if after_page is not None:
                after_page(pages)
        return fetched

    def _wanted(self, run: RunState, connection: Json, limit: int | None) -> list[Json]:
        """The page's pull requests to write: down to the stop time (the last run's newest
        update, or --since), opened within the filters, up to the limit."""
        nodes = [node for node in connection["nodes"] or () if node]
        if run.top is None and nodes:
            run.top = max(node["updatedAt"] for node in nodes)
        watermark = parse_time(self.state.watermark) if self.state.watermark else None
        stop = max(filter(None, (watermark, self.filters.since)), default=None)
        wanted: list[Json] = []
        for node in nodes:
            updated = parse_time(node["updatedAt"])
            self._track(run, updated, stop)
            if stop is not None and updated < stop:
                run.finished = True  # newest-updated first: the rest are older still
                break
            if self.filters.wants(parse_time(node["createdAt"])):
                wanted.append(node)
        if limit is not None and run.done + len(wanted) >= limit:
            more = len(wanted) > limit - run.done or connection["pageInfo"]["hasNextPage"]
            run.limited = run.limited or (more and not run.finished)
            wanted = wanted[: limit - run.done]
            run.finished = True
        return wanted

    def _append(self, run: RunState, records: list[Json]) -> None:
        """Append ``records`` to the partial file, on disk before the state counts them."""
        with partial_path(self.out).open("ab") as handle:
            handle.seek(0, os.SEEK_END)
            for record in records:
                handle.write(record_line(record))
            handle.flush()
            os.fsync(handle.fileno())
            run.offset = handle.tell()
        run.done += len(records)
        self.written += len(records)

    def _track(self, run: RunState, updated: datetime, stop: datetime | None) -> None:
        run.scanned += 1
        self.scanned_here += 1
        if stop is None or run.top is None:
            return
        span = (parse_time(run.top) - stop).total_seconds()
        gone = (parse_time(run.top) - updated).total_seconds()
        self.fraction = min(max(gone / span, 0.0), 1.0) if span > 0 else 1.0
        if self.first_fraction is None:
            self.first_fraction = self.fraction

    async def _pulls(self, cursor: str | None) -> Json:
        while True:
            variables = {
                "owner": self.owner,
                "name": self.name,
                "first": self.sizes.size,
                "after": cursor,
                "base": self.filters.base,
            }
            try:
                data = await self.runner.run("pulls", queries.PULLS, variables)
            except NotFound as exc:
                raise unreadable(self.repository, exc) from exc
            except Overloaded as exc:
                self.sizes.overloaded(exc)
                continue
            self.sizes.succeeded()
            repository = data.get("repository")
            if not isinstance(repository, dict):
                raise CollectError(f"{self.repository}: no such repository")
            result: Json = repository
            return result
