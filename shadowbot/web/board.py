"""The records every page shows, read once per change of the data and then kept.

A :class:`Board` holds what ``shadowbot ledger show`` prints (:func:`load_views`, so the
pages' figures are that command's figures) and what the pages add to it: each rule's
wins and losses in time order (the trend), its manual overrides (hypothetical states),
and the repositories. It is keyed by :func:`data_version`: a request costs one query
over primary keys until something is recorded, then the board is read again.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session

from shadowbot.core.figures import Entry, Figures, Override, figures
from shadowbot.live.settling import overrides_of
from shadowbot.offline.ledger_view import RuleView, count_unsettled, load_views, with_pending
from shadowbot.settings import Settings
from shadowbot.storage.evidence import rule_keys
from shadowbot.storage.pages_queries import DataVersion, data_version, repositories
from shadowbot.storage.pages_records import (
    CurrentResult,
    claims_by_repository,
    current_results,
    errors_by_repository,
)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Repo:
    id: int
    full_name: str
    #: Private and not named as shown: it counts in the figures, without its details.
    hidden: bool


@dataclass(slots=True)
class Board:
    version: DataVersion
    views: tuple[RuleView, ...]
    #: Rule id by ``name@version``.
    ids: Mapping[str, int]
    overrides: Mapping[int, Sequence[Override]]
    #: (settled_at, result) of each current entry, by rule id: for :func:`state_of`.
    settled: Mapping[int, Sequence[tuple[datetime, str]]]
    #: (at, result) of each current win and loss in time order, by rule id: the trend.
    decided: Mapping[int, Sequence[tuple[datetime, str]]]
    #: The newest evidence behind any of the rule's results, by rule id.
    last_activity: Mapping[int, datetime]
    #: (repository id, entry) of each current entry, by rule id: figures per repository.
    entries: Mapping[int, Sequence[tuple[int, Entry]]]
    #: (rule id, PR id) pairs with a ledger entry.
    pairs: frozenset[tuple[int, int]]
    repositories: tuple[Repo, ...]
    #: Figures per repository id, then per rule id; filled when asked for.
    scoped: dict[int, dict[int, Figures]] = field(default_factory=dict)

    def view(self, key: str) -> RuleView | None:
        return next((v for v in self.views if v.key == key), None)

    def rule_id(self, view: RuleView) -> int:
        return self.ids[view.key]

    def current_views(self) -> list[RuleView]:
        """The newest version of each rule (``views`` is by name, then version)."""
        newest: dict[str, RuleView] = {}
        for view in self.views:
            newest[view.name] = view
        return list(newest.values())

    def repository(self, full_name: str) -> Repo | None:
        """A repository by ``owner/name`` in any case (GitHub ignores it)."""
        wanted = full_name.lower()
        return next((r for r in self.repositories if r.full_name.lower() == wanted), None)

    def repository_names(self) -> dict[int, Repo]:
        return {repo.id: repo for repo in self.repositories}


def load_board(session: Session, settings: Settings) -> Board:
    """Everything the leaderboard shows, in one read transaction."""
    version = data_version(session)
    ids = {key: rule_id for rule_id, key in rule_keys(session).items()}
    settled: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    decided: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    last: dict[int, datetime] = {}
    entries: dict[int, list[tuple[int, Entry]]] = defaultdict(list)
    pairs = set()
    for current in current_results(session):
        rule_id = current.rule_id
        settled[rule_id].append((current.settled_at, current.result))
        if current.result in ("win", "loss") and current.at is not None:
            decided[rule_id].append((current.at, current.result))
        when = current.at or current.settled_at
        last[rule_id] = max(last.get(rule_id, when), when)
        entries[rule_id].append((current.repository_id, entry_of(current)))
        pairs.add((rule_id, current.pr_id))
    repos = tuple(
        Repo(cast(int, row.id), row.full_name, settings.details_hidden(row.full_name))
        for row in repositories(session)
    )
    return Board(
        version=version,
        views=tuple(load_views(session, settings)),
        ids=ids,
        overrides=overrides_of(session),
        settled=settled,
        decided={rule_id: sorted(found) for rule_id, found in decided.items()},
        last_activity=last,
        entries=entries,
        pairs=frozenset(pairs),
        repositories=repos,
    )


def entry_of(current: CurrentResult) -> Entry:
    """A result as :func:`shadowbot.live.settling.record_figures` counts it."""
    return Entry(
        result=current.result,
        reason=current.reason,
        saved_seconds=current.saved_seconds,
        author_type=current.author_type,
        disputed=any(link.get("kind") == "disputed" for link in current.evidence),
        at=current.at,
    )


def figures_by_repository(session: Session, board: Board) -> dict[int, dict[int, Figures]]:
    """Each rule version's record on each repository's pull requests only, counted as
    ``ledger show`` counts the whole record (the ledger's entries, the claims it has no
    entry for yet, the pull requests with an ``error`` verdict); by repository id, then
    rule id."""
    claims: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for rule_id, pr_id, author_type, repo_id in claims_by_repository(session):
        claims[repo_id].append((rule_id, pr_id, author_type))
    errors = errors_by_repository(session)
    found: dict[int, dict[int, Figures]] = {}
    for repo in board.repositories:
        unsettled = count_unsettled(claims.get(repo.id, ()), board.pairs)
        scoped = found[repo.id] = {}
        for rule_id in board.ids.values():
            mine = [entry for r, entry in board.entries.get(rule_id, ()) if r == repo.id]
            record = figures(mine, errors.get((repo.id, rule_id), 0))
            scoped[rule_id] = with_pending(record, unsettled.get(rule_id, Counter()))
    return found


def covers(have: tuple[object, ...], wanted: tuple[object, ...]) -> bool:
    """Whether data read at ``have`` is at least as new as ``wanted``: rows are only
    ever added, so each newest id only grows (a request that read the version just
    before the board was read again needs no third read)."""
    return all(
        b is None or (a is not None and cast(int, a) >= cast(int, b))
        for a, b in zip(have, wanted, strict=True)
    )


@dataclass(frozen=True, slots=True)
class Seen:
    """When this process first saw the data at some version: its ``Last-Modified``."""

    marks: tuple[object, ...]
    at: datetime
    #: No other version was first seen in the same second: a client whose copy is
    #: dated that second has this version.
    alone: bool


class Boards:
    """The board of the data as it stands, read again when the records change; and the
    one way the pages read the database (in a thread: the event loop keeps serving)."""

    def __init__(self, engine: Engine, settings: Settings) -> None:
        self.engine = engine
        self.settings = settings
        self._board: Board | None = None
        self._lock = asyncio.Lock()
        self._seen: dict[str, Seen] = {}
        #: What else shapes a page (the settings): in every ETag.
        self._token = hashlib.sha256(repr(settings).encode()).hexdigest()

    async def read(self, work: Callable[[Session], T]) -> T:
        def run() -> T:
            with Session(self.engine) as session:
                return work(session)

        return await asyncio.to_thread(run)

    async def version(self) -> DataVersion:
        return await self.read(data_version)

    def etag(self, marks: tuple[object, ...]) -> str:
        digest = hashlib.sha256(f"{self._token}{marks!r}".encode()).hexdigest()
        return f'"{digest[:32]}"'

    def seen(self, level: str, marks: tuple[object, ...]) -> Seen:
        """When the data at ``marks`` was first seen here, to the second."""
        before = self._seen.get(level)
        if before is not None and before.marks == marks:
            return before
        now = datetime.now(UTC).replace(microsecond=0)
        alone = before is None or before.at < now
        seen = self._seen[level] = Seen(marks, now, alone)
        return seen

    async def board(self, version: DataVersion) -> Board:
        """The board of ``version``'s records, or of newer ones."""
        board = self._board
        if board is not None and covers(board.version.records, version.records):
            return board
        async with self._lock:
            board = self._board
            if board is None or not covers(board.version.records, version.records):
                board = self._board = await self.read(
                    lambda session: load_board(session, self.settings)
                )
        return board

    async def figures_in(self, board: Board, repository_id: int) -> dict[int, Figures]:
        """The records on one repository (all read at the first one asked for)."""
        if not board.scoped:
            async with self._lock:
                if not board.scoped:
                    found = await self.read(lambda s: figures_by_repository(s, board))
                    board.scoped.update(found)
        return board.scoped.get(repository_id, {})
