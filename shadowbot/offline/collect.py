"""``shadowbot collect``: a repository's pull requests, read from GitHub's GraphQL API, written
as a history (docs/history-format.md) for the backtest.

Pull requests are read newest-updated first, a page at a time (:mod:`shadowbot.github.
history_queries`); for each page the collector fetches what overflowed (timelines over 100
items, over 100 files, over 100 checks on a commit), the checks of every head and the
CODEOWNERS at each base commit (which blob, and each blob's text once), then appends the
page's records to ``FILE.partial`` and saves its place in ``FILE.collect.json`` (the cursor,
the partial file's length). Killed at any moment, a rerun cuts the partial file back to
the length saved and goes on from the cursor saved: no pull request is written twice or
lost. When the pages are done, the
records so far (``FILE`` from an earlier run) and the new ones are merged, a record
fetched again replacing the old one; reverts are worked out over all of them; and ``FILE``
is replaced at once (a temporary file renamed), records ordered by the time their timeline
ends. The state file then keeps the newest ``updatedAt`` seen: the next run stops at the
first pull request not updated since.

Filters: ``since``/``until`` on when a pull request was opened (``until`` excluded),
``base`` on its base branch (GitHub filters), ``limit`` on how many are written in this run
(the newest updated; the next run then reads again from the newest down to where the last
complete run began, so the older ones are not skipped).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from shadowbot.errors import ShadowbotError
from shadowbot.github import history_queries as queries
from shadowbot.github.client import GitHubClient, GitHubUnavailable
from shadowbot.github.history_fetch import (
    NotFound,
    Overloaded,
    QueryFailed,
    QueryRunner,
    Spending,
)
from shadowbot.live.codeowners import parse_codeowners
from shadowbot.offline.collect_records import (
    Json,
    Outline,
    build_record,
    heads,
    outline,
    parse_time,
    revert_events,
    show_time,
    with_revert,
)
from shadowbot.offline.history import SCHEMA_VERSION

#: Pull requests asked for in one page at first; halved on each 502/504. A page of 100
#: costs 2 points as one of 50 costs 1, but fills the checks and CODEOWNERS queries better.
PAGE_SIZE = 100
#: Commits whose checks are asked for in one query (GitHub's most ids per `nodes`).
CHECKS_BATCH = 100
#: Consecutive 502/504/timeouts at the smallest page before giving up (a rerun resumes).
MAX_OVERLOADS = 6
#: Successful queries at a reduced page size before trying double again.
GROW_AFTER = 10
STATE_VERSION = 1


class CollectError(ShadowbotError):
    """The collection cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class Filters:
    since: datetime | None = None
    until: datetime | None = None
    base: str | None = None

    def as_json(self) -> Json:
        return {
            "since": show_time(self.since) if self.since else None,
            "until": show_time(self.until) if self.until else None,
            "base": self.base,
        }

    def wants(self, created: datetime) -> bool:
        return (self.since is None or created >= self.since) and (
            self.until is None or created < self.until
        )


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
        return (
            f"collect {self.repository}: {self.done:,} PRs{total},"
            f" {self.spending.points:,} points spent{budget}{eta}"
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


@dataclass
class Summary:
    written: int
    fetched: int
    total_records: int
    reverts: int
    spending: Spending
    #: Where this run's permissions came from: "collaborators" or "associations".
    permissions: str = "collaborators"


@dataclass
class _Run:
    cursor: str | None = None
    offset: int = 0
    top: str | None = None
    done: int = 0
    finished: bool = False
    #: Whether the collaborators were asked for, and their permissions by lowered login
    #: (None when the credentials may not read them), kept so that a resumed run writes
    #: what the interrupted one would have.
    asked_collaborators: bool = False
    permissions: dict[str, str] | None = None
    #: Stopped by --limit before the older pull requests.
    limited: bool = False
    #: Pull requests read (written or not).
    scanned: int = 0

    def as_json(self) -> Json:
        return {
            "cursor": self.cursor,
            "offset": self.offset,
            "top": self.top,
            "done": self.done,
            "finished": self.finished,
            "asked_collaborators": self.asked_collaborators,
            "permissions": self.permissions,
            "limited": self.limited,
            "scanned": self.scanned,
        }


@dataclass
class _State:
    repository: str
    filters: Json
    watermark: str | None = None
    run: _Run | None = None

    def as_json(self) -> Json:
        return {
            "shadowbot_collect": STATE_VERSION,
            "repository": self.repository,
            "filters": self.filters,
            "watermark": self.watermark,
            "run": self.run.as_json() if self.run else None,
        }


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".collect.json")


def partial_path(out: Path) -> Path:
    return out.with_name(out.name + ".partial")


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
) -> Summary:
    """Collect ``repository`` (``owner/name``) into the history ``out``, resuming an
    interrupted run and adding to an earlier one. ``client`` is an authenticated GitHub
    client; ``after_page`` is called with the pages done after each is saved."""
    owner, name = check_arguments(repository, out, since, until, limit)
    filters = Filters(since, until, base)
    state = _load_state(out, repository, filters)
    runner = QueryRunner(client, clock=clock, sleep=sleep, on_wait=on_wait)
    collector = _Collector(repository, owner, name, out, state, filters, runner, page_size)
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
    total, reverts = collector.finish()
    source = "collaborators" if collector.permissions is not None else "associations"
    return Summary(collector.written, fetched, total, reverts, runner.spending, source)


def check_arguments(
    repository: str,
    out: Path,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int | None = None,
) -> tuple[str, str]:
    """(owner, name) of ``owner/name``; a :class:`CollectError` for a wrong argument."""
    owner, _, name = repository.partition("/")
    if not owner or not name or "/" in name or repository != repository.strip():
        raise CollectError(f"not an owner/name repository: {repository!r}")
    if out.is_dir():
        raise CollectError(f"{out} is a directory: give the history file to write")
    if limit is not None and limit < 1:
        raise CollectError("--limit must be at least 1")
    if since and until and since >= until:
        raise CollectError("--since must be before --until")
    return owner, name


def _load_state(out: Path, repository: str, filters: Filters) -> _State:
    path = state_path(out)
    if not path.exists():
        if out.exists():
            raise CollectError(
                f"{out} exists and was not written by collect (no {path.name} beside it):"
                " give another --out, or remove it"
            )
        return _State(repository, filters.as_json())
    try:
        saved = json.loads(path.read_text(encoding="utf-8"))
        if saved.get("shadowbot_collect") != STATE_VERSION:
            raise ValueError("unknown version")
        run = saved.get("run")
        state = _State(
            saved["repository"],
            saved["filters"],
            saved.get("watermark"),
            _Run(**run) if isinstance(run, dict) else None,
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CollectError(
            f"{path}: unreadable collect state ({exc}); remove it to start over"
        ) from None
    if state.repository.lower() != repository.lower():
        raise CollectError(f"{out} holds {state.repository}, not {repository}: give another --out")
    if state.filters != filters.as_json():
        raise CollectError(
            f"{out} was collected with other filters ({_show_filters(state.filters)}):"
            " give the same ones, or another --out"
        )
    return state


def _show_filters(filters: Json) -> str:
    shown = [f"--{key} {value}" for key, value in filters.items() if value is not None]
    return " ".join(shown) or "none"


def _save_state(out: Path, state: _State) -> None:
    path = state_path(out)
    temporary = path.with_name(path.name + ".tmp")
    with temporary.open("w", encoding="utf-8") as handle:
        json.dump(state.as_json(), handle)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)


class _Collector:
    def __init__(
        self,
        repository: str,
        owner: str,
        name: str,
        out: Path,
        state: _State,
        filters: Filters,
        runner: QueryRunner,
        page_size: int,
    ) -> None:
        self.repository = repository
        self.owner, self.name = owner, name
        self.out = out
        self.state = state
        self.filters = filters
        self.runner = runner
        self.page_size = self.full_page = max(1, min(page_size, queries.MAX_PAGE))
        #: The CODEOWNERS blob at each base commit (None: no CODEOWNERS), each blob's text,
        #: and a lookup of owners by path for each blob.
        self.codeowners: dict[str, str | None] = {}
        self._texts: dict[str, str | None] = {}
        self._owners_by_text: dict[str, Callable[[str], list[str]]] = {}
        self.permissions: dict[str, str] | None = None
        self.written = 0
        #: Progress: pull requests read by this process; how far through the updates.
        self.scanned_here = 0
        self.fraction: float | None = None
        self.first_fraction: float | None = None
        self._overloads = 0
        self._successes = 0

    # --- paging ---

    async def pages(
        self,
        limit: int | None,
        report: Callable[[int | None], None],
        after_page: Callable[[int], None] | None,
    ) -> int:
        """Fetch and append pages until done; how many pull requests were fetched."""
        state = self.state
        if state.run is None:
            state.run = _Run()
        run = state.run
        partial = partial_path(self.out)
        _cut(partial, run.offset)
        stop_before = parse_time(state.watermark) if state.watermark else None
        fetched = pages = 0
        while not run.finished:
            page = await self._pulls(run.cursor)
            if not run.asked_collaborators:  # once the repository is known to be there
                run.permissions = await self._collaborators()
                run.asked_collaborators = True
            self.permissions = run.permissions
            connection = page["pullRequests"]
            nodes = [node for node in connection["nodes"] or () if node]
            if run.top is None and nodes:
                run.top = max(node["updatedAt"] for node in nodes)
            wanted: list[Json] = []
            stop = max(filter(None, (stop_before, self.filters.since)), default=None)
            for node in nodes:
                updated = parse_time(node["updatedAt"])
                self._track(run, updated, stop)
                if (stop_before and updated < stop_before) or (
                    self.filters.since and updated < self.filters.since
                ):
                    run.finished = True  # newest-updated first: the rest are older still
                    break
                if self.filters.wants(parse_time(node["createdAt"])):
                    wanted.append(node)
            if limit is not None and run.done + len(wanted) >= limit:
                more = len(wanted) > limit - run.done or connection["pageInfo"]["hasNextPage"]
                run.limited = run.limited or (more and not run.finished)
                wanted = wanted[: limit - run.done]
                run.finished = True
            records = await self._records(wanted)
            fetched += len(records)
            with partial.open("ab") as handle:
                handle.seek(0, os.SEEK_END)
                for record in records:
                    handle.write(_line(record))
                handle.flush()
                os.fsync(handle.fileno())
                run.offset = handle.tell()
            run.done += len(records)
            self.written += len(records)
            info = connection["pageInfo"]
            run.cursor = info["endCursor"] or run.cursor
            if not info["hasNextPage"]:
                run.finished = True
            _save_state(self.out, state)
            pages += 1
            report(connection.get("totalCount"))
            if after_page is not None:
                after_page(pages)
        return fetched

    def _track(self, run: _Run, updated: datetime, stop: datetime | None) -> None:
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
                "first": self.page_size,
                "after": cursor,
                "base": self.filters.base,
            }
            try:
                data = await self.runner.run("pulls", queries.PULLS, variables)
            except NotFound as exc:
                raise CollectError(
                    f"{self.repository}: no such repository, or these credentials cannot"
                    f" read it ({exc})"
                ) from exc
            except Overloaded as exc:
                self._overloaded(exc)
                continue
            self._succeeded()
            repository = data.get("repository")
            if not isinstance(repository, dict):
                raise CollectError(f"{self.repository}: no such repository")
            result: Json = repository
            return result

    def _overloaded(self, exc: Overloaded) -> None:
        self._successes = 0
        if self.page_size == 1:
            self._overloads += 1
            if self._overloads >= MAX_OVERLOADS:
                raise CollectError(
                    f"GitHub keeps failing even one pull request at a time ({exc});"
                    " run the same command later to resume"
                ) from exc
        self.page_size = max(1, self.page_size // 2)

    def _succeeded(self) -> None:
        self._overloads = 0
        self._successes += 1
        if self.page_size < self.full_page and self._successes >= GROW_AFTER:
            self.page_size = min(self.full_page, self.page_size * 2)
            self._successes = 0

    # --- one page's records ---

    async def _records(self, nodes: list[Json]) -> list[Json]:
        if not nodes:
            return []
        items = {node["id"]: list(node["timelineItems"]["nodes"] or ()) for node in nodes}
        files = {node["id"]: list((node.get("files") or {}).get("nodes") or ()) for node in nodes}
        pending = []
        for node in nodes:
            for kind, key in (("timeline", "timelineItems"), ("files", "files")):
                info = (node.get(key) or {}).get("pageInfo") or {}
                if info.get("hasNextPage"):
                    pending.append(queries.More(kind, node["id"], info["endCursor"]))
        for (kind, node_id), extra in (await self._more(pending)).items():
            (items if kind == "timeline" else files)[node_id].extend(extra)
        commits = {cid: oid for node in nodes for cid, oid in heads(items[node["id"]])}
        bases = {node["baseRefOid"] for node in nodes}
        checks = await self._checks(commits, bases)
        await self._load_codeowners(bases)
        await self._load_blobs()
        return [
            build_record(
                node,
                items[node["id"]],
                files[node["id"]],
                checks,
                self._owners(node["baseRefOid"]),
                self.permissions,
            )
            for node in nodes
        ]

    async def _collaborators(self) -> dict[str, str] | None:
        """Every collaborator's permission by lowered login; None when GitHub will not say
        (it shows them only to credentials with push access)."""
        found: dict[str, str] = {}
        cursor = None
        overloads = 0
        while True:
            variables = {"owner": self.owner, "name": self.name, "after": cursor}
            try:
                data = await self.runner.run("collaborators", queries.COLLABORATORS, variables)
            except NotFound as exc:
                raise CollectError(
                    f"{self.repository}: no such repository, or these credentials cannot"
                    f" read it ({exc})"
                ) from exc
            except Overloaded:
                overloads += 1
                if overloads < MAX_OVERLOADS:
                    continue
                return None
            except QueryFailed:
                return None
            connection = (data.get("repository") or {}).get("collaborators")
            if not isinstance(connection, dict):
                return None
            for edge in connection.get("edges") or ():
                if edge and edge.get("node"):
                    found[edge["node"]["login"].lower()] = str(edge["permission"]).lower()
            info = connection["pageInfo"]
            if not info["hasNextPage"]:
                return found
            cursor = info["endCursor"]

    async def _more(self, pending: list[queries.More]) -> dict[tuple[str, str], list[Json]]:
        """Every further page of the overflowing connections, by kind and node id."""
        found: dict[tuple[str, str], list[Json]] = {}
        batch = queries.MORE_BATCH
        while pending:
            wanted, rest = pending[:batch], pending[batch:]
            document, variables = queries.more_document(wanted)
            try:
                data = await self.runner.run("more", document, variables)
            except Overloaded as exc:
                if batch == 1:
                    self._overloaded(exc)
                batch = max(1, batch // 2)
                continue
            pending = rest
            for i, item in enumerate(wanted):
                node = data.get(f"m{i}") or {}
                if item.kind == "checks":
                    connection = (node.get("statusCheckRollup") or {}).get("contexts") or {}
                else:
                    connection = node.get("timelineItems" if item.kind == "timeline" else "files")
                    connection = connection or {}
                entry = found.setdefault((item.kind, item.node_id), [])
                entry.extend(n for n in connection.get("nodes") or () if n)
                info = connection.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    pending.append(queries.More(item.kind, item.node_id, info["endCursor"]))
        return found

    async def _checks(self, commits: dict[str, str], bases: set[str]) -> dict[str, list[Json]]:
        """The check contexts of each commit, by oid; CODEOWNERS at the ``bases`` not known
        yet come with the first query."""
        found: dict[str, list[Json]] = {}
        ids = list(commits)
        batch = CHECKS_BATCH
        overflow: list[queries.More] = []
        while ids:
            wanted, rest = ids[:batch], ids[batch:]
            oids = self._unknown_codeowners(bases)[: queries.CODEOWNERS_BATCH]
            document, variables = queries.checks_document(wanted, oids)
            if oids:
                variables.update(owner=self.owner, name=self.name)
            try:
                data = await self.runner.run("checks", document, variables)
            except Overloaded as exc:
                if batch == 1:
                    self._overloaded(exc)
                batch = max(1, batch // 2)
                continue
            ids = rest
            self._take_codeowners(data, oids)
            for node in data.get("nodes") or ():
                if not node:
                    continue
                contexts = (node.get("statusCheckRollup") or {}).get("contexts") or {}
                found[node["oid"]] = [n for n in contexts.get("nodes") or () if n]
                info = contexts.get("pageInfo") or {}
                if info.get("hasNextPage"):
                    overflow.append(queries.More("checks", node["id"], info["endCursor"]))
        for (_, commit_id), extra in (await self._more(overflow)).items():
            found.setdefault(commits[commit_id], []).extend(extra)
        return found

    def _unknown_codeowners(self, oids: set[str]) -> list[str]:
        return sorted(oid for oid in oids if oid and oid not in self.codeowners)

    def _take_codeowners(self, data: Json, oids: list[str]) -> None:
        """The CODEOWNERS blob at each of ``oids`` (the first location GitHub reads)."""
        repository = data.get("repository") or {}
        for i, oid in enumerate(oids):
            blobs = (
                (repository.get(f"c{i}_{j}") or {}).get("oid")
                for j in range(len(queries.CODEOWNERS_PATHS))
            )
            self.codeowners[oid] = next((b for b in blobs if b is not None), None)

    async def _load_blobs(self) -> None:
        """The text of every CODEOWNERS blob not read yet."""
        known = self._texts
        missing = sorted({b for b in self.codeowners.values() if b and b not in known})
        batch = queries.CODEOWNERS_BATCH
        while missing:
            wanted, rest = missing[:batch], missing[batch:]
            document, variables = queries.blobs_document(wanted)
            variables = {**variables, "owner": self.owner, "name": self.name}
            try:
                data = await self.runner.run("blobs", document, variables)
            except Overloaded as exc:
                if batch == 1:
                    self._overloaded(exc)
                batch = max(1, batch // 2)
                continue
            missing = rest
            repository = data.get("repository") or {}
            for i, blob in enumerate(wanted):
                known[blob] = (repository.get(f"b{i}") or {}).get("text")

    async def _load_codeowners(self, oids: set[str]) -> None:
        """CODEOWNERS at the commits ``oids`` not known yet."""
        missing = self._unknown_codeowners(oids)
        batch = queries.CODEOWNERS_BATCH
        while missing:
            wanted, rest = missing[:batch], missing[batch:]
            document, variables = queries.codeowners_document(wanted)
            variables = {**variables, "owner": self.owner, "name": self.name}
            try:
                data = await self.runner.run("codeowners", document, variables)
            except Overloaded as exc:
                if batch == 1:
                    self._overloaded(exc)
                batch = max(1, batch // 2)
                continue
            missing = rest
            self._take_codeowners(data, wanted)

    def _owners(self, oid: str) -> Callable[[str], list[str]] | None:
        """The owners of a path by the CODEOWNERS at ``oid``. Each text is parsed once and
        each path looked up once in it: every pull request has a base of its own, but the
        file changes seldom, and a large one has thousands of patterns to try."""
        blob = self.codeowners.get(oid)
        text = self._texts.get(blob) if blob else None
        if blob is None or text is None:
            return None
        found = self._owners_by_text.get(blob)
        if found is None:
            parsed = parse_codeowners(text)
            cache: dict[str, list[str]] = {}

            def owners(path: str) -> list[str]:
                if path not in cache:
                    cache[path] = [f"@{o}" if "/" in o else o for o in parsed.owners_of(path)]
                return list(cache[path])

            found = self._owners_by_text[blob] = owners
        return found

    # --- the end ---

    def finish(self) -> tuple[int, int]:
        """Merge the records of this run into ``out``; (records in it, reverts). Two passes
        over the files, holding only an outline of each record: the first finds every
        record's latest copy, its end and what it reverts; the second writes them in
        order."""
        state = self.state
        run = state.run or _Run()
        partial = partial_path(self.out)
        where: dict[int, tuple[Path, int, int]] = {}
        outlines: dict[int, Outline] = {}
        for path, has_header in ((self.out, True), (partial, False)):
            for offset, length, record in _scan(path, header=has_header):
                where[record["number"]] = (path, offset, length)
                outlines[record["number"]] = outline(record, self.repository)
        reverts = revert_events(outlines)

        def ends(number: int) -> tuple[datetime, int]:
            revert = reverts.get(number)
            end = outlines[number].ends
            return (max(end, parse_time(revert["at"])) if revert else end), number

        # A run cut short by --limit leaves older pull requests unread: the next run reads
        # from the newest down to where the last complete one began, again.
        watermark = state.watermark if run.limited else (run.top or state.watermark)
        header = {
            "shadowbot_history": SCHEMA_VERSION,
            "repository": self.repository,
            "description": "collected from GitHub's GraphQL API by shadowbot collect",
            "updated_through": watermark,
            **{k: v for k, v in state.filters.items() if v is not None},
        }
        temporary = self.out.with_name(self.out.name + ".tmp")
        with contextlib.ExitStack() as stack:
            handle = stack.enter_context(temporary.open("wb"))
            sources = {
                path: stack.enter_context(path.open("rb"))
                for path in {path for path, _, _ in where.values()}
            }
            handle.write(_line(header))
            for number in sorted(where, key=ends):
                path, offset, length = where[number]
                source = sources[path]
                source.seek(offset)
                record = json.loads(source.read(length))
                handle.write(_line(with_revert(record, reverts.get(number))))
            handle.flush()
            os.fsync(handle.fileno())
        temporary.replace(self.out)
        state.watermark = watermark
        state.run = None
        _save_state(self.out, state)
        with contextlib.suppress(FileNotFoundError):
            partial.unlink()
        return len(where), len(reverts)


def _line(value: Json) -> bytes:
    return (json.dumps(value, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def _cut(path: Path, length: int) -> None:
    """Cut the partial file back to what the saved state counts."""
    if not path.exists():
        if length:
            raise CollectError(
                f"{path} is missing but the collect state counts {length} bytes in it:"
                " remove the state file beside it to start over"
            )
        return
    with path.open("r+b") as handle:
        handle.truncate(length)


def _scan(path: Path, *, header: bool) -> Iterator[tuple[int, int, Json]]:
    """(offset, length, record) of each record line of ``path`` (none if it is missing)."""
    if not path.exists():
        return
    with path.open("rb") as handle:
        if header:
            handle.readline()
        while True:
            offset = handle.tell()
            line = handle.readline()
            if not line:
                return
            if line.strip():
                yield offset, len(line), json.loads(line)
