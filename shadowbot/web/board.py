"""The records every page shows, read once and then kept up to date.

A :class:`Board` holds what ``shadowbot ledger show`` prints (each view is
:func:`rule_view` of the same figures :func:`load_views` counts, so the pages' figures
are that command's figures) and what the pages add to it: each rule's wins and losses
in time order (the trend), its manual overrides (hypothetical states), and the
repositories. It is keyed by :func:`data_version`: a request costs one query over
primary keys until something is recorded.

Then :class:`Records` reads only what was added since: every table the records come
from is append-only, so a ledger entry appended costs reading that entry and counting
its rule again, not reading the ledger (tens of thousands of entries) nor the verdicts
(millions). The full read happens once, at the first request.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from shadowbot.core.figures import Figures, Override
from shadowbot.live.settling import overrides_of
from shadowbot.offline.ledger_view import RuleView, rule_view
from shadowbot.settings import Settings
from shadowbot.storage import AuditEventRow, LedgerEntryRow, RuleRow, VerdictRow
from shadowbot.storage.ledger_store import CurrentResult, current_results, states, unsettled_claims
from shadowbot.storage.pages_queries import DataVersion, data_version, repositories
from shadowbot.storage.pages_records import (
    Judged,
    ReadUpTo,
    error_pairs,
    ids_since,
    read_up_to,
    results_since,
    verdicts_since,
)
from shadowbot.web.records import Current, Repo, RuleRecord, count_rule
from shadowbot.web.rows import RowCache

T = TypeVar("T")


@dataclass(slots=True)
class Board:
    version: DataVersion
    views: tuple[RuleView, ...]
    #: Rule id by ``name@version``.
    ids: Mapping[str, int]
    overrides: Mapping[int, Sequence[Override]]
    #: Each rule version's share, by rule id (every rule version has one).
    records: Mapping[int, RuleRecord]
    repositories: tuple[Repo, ...]
    #: By rule id, from :attr:`records`: what :func:`state_of` and the "last activity"
    #: column read (a rule without a result is not in them).
    settled: Mapping[int, Sequence[tuple[datetime, str]]] = field(init=False)
    last_activity: Mapping[int, datetime] = field(init=False)
    #: ``name@version`` by rule id (:attr:`ids` the other way round).
    keys: Mapping[int, str] = field(init=False)

    def __post_init__(self) -> None:
        self.keys = {rule_id: key for key, rule_id in self.ids.items()}
        self.settled = {r: rec.settled for r, rec in self.records.items() if rec.settled}
        self.last_activity = {
            r: rec.last_activity for r, rec in self.records.items() if rec.last_activity
        }

    def trend(self, rule_id: int) -> list[dict[str, Any]]:
        """The rule version's trend (:func:`trend_points`)."""
        record = self.records.get(rule_id)
        return [] if record is None else list(record.trend)

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

    def figures_in(self, repository_id: int) -> dict[int, Figures]:
        """Each rule version's record on one repository's pull requests, by rule id."""
        return {rule_id: rec.on(repository_id) for rule_id, rec in self.records.items()}


@dataclass(frozen=True, slots=True)
class News:
    """What was recorded since the records were last brought up to date."""

    rules: list[RuleRow] | None
    audit: tuple[dict[int, list[Override]], dict[int, tuple[str, str]]] | None
    results: list[CurrentResult]
    verdicts: list[Judged]
    read: dict[str, ReadUpTo]


class Records:
    """The records kept between requests, brought up to date from what was added."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.forget()

    def forget(self) -> None:
        """Start again: the next board reads everything."""
        self.read: dict[str, ReadUpTo] | None = None
        #: rule id -> PR id -> the newest entry.
        self.results: dict[int, dict[int, Current]] = defaultdict(dict)
        #: rule id -> PR id -> (repository id, author type) of claims not settled yet.
        self.claims: dict[int, dict[int, tuple[int, str]]] = defaultdict(dict)
        #: rule id -> PR id -> repository id of the pull requests it erred on.
        self.errors: dict[int, dict[int, int]] = defaultdict(dict)
        self.rules: list[RuleRow] = []
        self.overrides: dict[int, list[Override]] = {}
        self.states: dict[int, tuple[str, str]] = {}
        self.counted: dict[int, RuleRecord] = {}
        self.views: dict[int, RuleView] = {}

    def board(self, session: Session) -> Board:
        """The board of the data as it stands (one snapshot of it)."""
        if session.get_bind().dialect.name == "postgresql":  # one snapshot for every query
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        version = data_version(session)
        news = self._news(session) if self.read is not None else self._everything(session)
        repos = tuple(
            Repo(
                cast(int, row.id),
                row.full_name,
                self.settings.details_hidden(row.full_name, row.private),
            )
            for row in repositories(session)
        )
        try:
            return self._take(news, version, repos)
        except BaseException:
            self.forget()  # taken in by half: read everything next time
            raise

    def _take(self, news: News, version: DataVersion, repos: tuple[Repo, ...]) -> Board:
        """Take the news in, count the rule versions they change again, and the board."""
        changed = self._apply(news)
        for rule_id in changed:
            self.counted[rule_id] = count_rule(
                self.results[rule_id],
                self.claims[rule_id].values(),
                self.errors[rule_id].values(),
            )
        if news.rules is not None or news.audit is not None:  # every state may change
            changed = {cast(int, row.id) for row in self.rules}
        by_id = {cast(int, row.id): row for row in self.rules}
        for rule_id in changed:
            rec = self.counted[rule_id]
            self.views[rule_id] = rule_view(
                by_id[rule_id],
                rec.figures,
                rec.unsettled,
                self.overrides.get(rule_id, ()),
                self.states.get(rule_id),
                self.settings,
            )
        return Board(
            version=version,
            views=tuple(self.views[cast(int, row.id)] for row in self.rules),
            ids={f"{row.name}@{row.version}": cast(int, row.id) for row in self.rules},
            overrides=self.overrides,
            records=dict(self.counted),
            repositories=repos,
        )

    def _everything(self, session: Session) -> News:
        """The first read: the newest entry of each (rule version, PR), and the claims
        the ledger has no entry for and the errors, from the verdicts' index (never the
        table)."""
        read = {
            "rule": read_up_to(session, col(RuleRow.id)),
            "audit": read_up_to(session, col(AuditEventRow.id)),
            "ledger": read_up_to(session, col(LedgerEntryRow.id)),
            "verdict": read_up_to(session, col(VerdictRow.id)),
        }
        judged = [
            Judged(0, "merge", rule, pr, kind, repo)
            for rule, pr, kind, repo in unsettled_claims(session)
        ] + [Judged(0, "error", rule, pr, "", repo) for rule, pr, repo in error_pairs(session)]
        return News(_rules(session), _audit(session), current_results(session), judged, read)

    def _news(self, session: Session) -> News:
        """What was added since the last read: a range of each table's primary key."""
        read = cast(dict[str, ReadUpTo], self.read)
        found = {
            "rule": ids_since(session, col(RuleRow.id), read["rule"]),
            "audit": ids_since(session, col(AuditEventRow.id), read["audit"]),
        }
        results = results_since(session, read["ledger"])
        verdicts = verdicts_since(session, read["verdict"])
        return News(
            _rules(session) if found["rule"] else None,
            _audit(session) if found["audit"] else None,
            results,
            verdicts,
            {
                **{table: read[table].then(ids) for table, ids in found.items()},
                "ledger": read["ledger"].then(r.id for r in results),
                "verdict": read["verdict"].then(v.id for v in verdicts),
            },
        )

    def _apply(self, news: News) -> set[int]:
        """The ids of the rule versions whose records the news change."""
        changed: set[int] = set()
        if news.rules is not None:
            self.rules = news.rules
        if news.audit is not None:
            self.overrides, self.states = news.audit
        for result in news.results:  # oldest first: the newest entry of each pair stays
            mine = self.results[result.rule_id]
            before = mine.get(result.pr_id)
            if before is None or before.id < result.id:
                mine.pop(result.pr_id, None)  # kept in the order of the newest entries' ids
                mine[result.pr_id] = Current.of(result)
                self.claims[result.rule_id].pop(result.pr_id, None)  # settled now
                changed.add(result.rule_id)
        for verdict in news.verdicts:
            rule_id, pr_id, repo = verdict.rule_id, verdict.pr_id, verdict.repository_id
            if verdict.decision == "merge" and pr_id not in self.results[rule_id]:
                known = self.claims[rule_id]
                if pr_id not in known:
                    known[pr_id] = (repo, verdict.author_type)
                    changed.add(rule_id)
            elif verdict.decision == "error" and pr_id not in self.errors[rule_id]:
                self.errors[rule_id][pr_id] = repo
                changed.add(rule_id)
        self.read = news.read
        recorded = {cast(int, row.id) for row in self.rules}
        return (changed & recorded) | (recorded - set(self.counted))  # a new rule: counted once


def _rules(session: Session) -> list[RuleRow]:
    return list(session.exec(select(RuleRow).order_by(col(RuleRow.name), col(RuleRow.version))))


def _audit(session: Session) -> tuple[dict[int, list[Override]], dict[int, tuple[str, str]]]:
    return overrides_of(session), states(session)


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
        self._records = Records(settings)
        #: The leaderboard's rows, kept while their rules' records stay the same.
        self.rows = RowCache()
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
                board = self._board = await self.read(self._records.board)
        return board

    async def figures_in(self, board: Board, repository_id: int) -> dict[int, Figures]:
        """The records on one repository's pull requests, by rule id (counted when first
        asked for, and again only for a rule whose record changed)."""
        async with self._lock:
            return await asyncio.to_thread(board.figures_in, repository_id)
