"""Reading the reactions on the bot's verdict comments: GitHub sends no webhook for them.

Two ways, each the cheaper for its case (figures in docs/performance.md, "Harvest"):

- a **sweep** of many comments asks GraphQL for up to 100 comments at a time with
  ``nodes(ids:)``: about one rate-limit point per 100 comments, whatever changed;
- the comments of **one PR** (when an event for it arrives) are read over REST with
  ETags: an unchanged list answers 304, which costs no rate-limit point.

Every reaction is judged from what GitHub shows now: one no longer listed is recorded as
gone (DESIGN.md: "removing a reaction removes its effect"), and who reacted is recorded
with their permission when first seen.
https://docs.github.com/en/graphql/overview/rate-limits-and-query-limits-for-the-graphql-api
https://docs.github.com/en/rest/reactions/reactions#list-reactions-for-an-issue-comment
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from gidgethub import BadRequest, QueryError
from gidgethub.abc import GitHubAPI
from sqlalchemy import update as sa_update
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session, col, select

from shadowbot.github import GitHubApp
from shadowbot.live.api import PAGE
from shadowbot.live.cache import LiveCache
from shadowbot.live.owners import permission_of
from shadowbot.metrics import Metrics
from shadowbot.storage import (
    PullRequestRow,
    ReactionRow,
    RepositoryRow,
    VerdictCommentRow,
    utcnow,
)

log = logging.getLogger(__name__)

#: GitHub's largest ``nodes(ids:)`` list and connection page.
BATCH = 100
REACTIONS_QUERY = """
query($ids: [ID!]!) {
  rateLimit { cost remaining resetAt }
  nodes(ids: $ids) {
    ... on IssueComment {
      databaseId
      reactions(first: 100) {
        totalCount
        nodes { databaseId content createdAt user { login } }
      }
    }
  }
}
"""
#: GraphQL's reaction names, as REST (and the database) spell them.
CONTENT = {
    "THUMBS_UP": "+1",
    "THUMBS_DOWN": "-1",
    "LAUGH": "laugh",
    "HOORAY": "hooray",
    "CONFUSED": "confused",
    "HEART": "heart",
    "ROCKET": "rocket",
    "EYES": "eyes",
}


@dataclass(frozen=True, slots=True)
class Target:
    """A verdict comment to read, with what reading it needs."""

    comment_id: int
    node_id: str | None
    repository: str
    installation_id: int


@dataclass(frozen=True, slots=True)
class Seen:
    """A reaction as GitHub lists it now."""

    github_id: int
    login: str
    user_type: str
    content: str
    created_at: datetime


@dataclass
class HarvestStats:
    comments: int = 0
    requests: int = 0
    points: int = 0
    new: int = 0
    gone: int = 0
    #: Installations whose reactions could not be read (logged; read at the next sweep).
    failed: int = 0


class Harvester:
    def __init__(
        self, database: Database, github: GitHubApp, cache: LiveCache, metrics: Metrics
    ) -> None:
        self.database = database
        self.github = github
        self.cache = cache
        self.metrics = metrics
        self._recording = asyncio.Lock()

    async def sweep(self, targets: Sequence[Target]) -> HarvestStats:
        """Read every target's reactions (GraphQL, 100 comments a query) and record them."""
        stats = HarvestStats()
        by_installation: dict[int, list[Target]] = defaultdict(list)
        for target in targets:
            by_installation[target.installation_id].append(target)
        for installation, group in by_installation.items():
            try:
                await self._sweep_installation(installation, group, stats)
            except Exception:  # one installation's failure must not keep the others unread
                stats.failed += 1
                log.warning("could not read reactions of installation %d", installation,
                            exc_info=True)  # fmt: skip
        self.metrics.inc("shadowbot_reactions_seen_total", stats.new)
        return stats

    async def _sweep_installation(
        self, installation: int, group: Sequence[Target], stats: HarvestStats
    ) -> None:
        gh = await self.github.installation(installation)
        with_node = [t for t in group if t.node_id]
        for start in range(0, len(with_node), BATCH):
            await self._query(gh, with_node[start : start + BATCH], stats)
        for target in (t for t in group if not t.node_id):
            await self._read_rest(gh, target, stats)

    async def sweep_pull_request(self, repository: str, number: int) -> HarvestStats:
        """Read the reactions on one PR's verdict comments over REST (with ETags)."""
        targets = await asyncio.to_thread(self._targets_of, repository, number)
        stats = HarvestStats()
        for target in targets:
            gh = await self.github.installation(target.installation_id)
            await self._read_rest(gh, target, stats)
        return stats

    async def _query(self, gh: GitHubAPI, batch: Sequence[Target], stats: HarvestStats) -> None:
        try:
            data = await gh.graphql(REACTIONS_QUERY, ids=[t.node_id for t in batch])
        except QueryError as exc:
            data = _despite_missing(exc)
        stats.requests += 1
        stats.points += int((data.get("rateLimit") or {}).get("cost") or 0)
        found: list[tuple[Target, list[Seen]]] = []
        for target, node in zip(batch, data.get("nodes") or [], strict=False):
            if node is None:
                await asyncio.to_thread(self._record_deleted, target.comment_id)
                continue
            connection = node.get("reactions") or {}
            items = [_from_graphql(item) for item in connection.get("nodes") or [] if item]
            if int(connection.get("totalCount") or 0) > len(items):
                await self._read_rest(gh, target, stats)  # more than one page: rare
                continue
            found.append((target, [s for s in items if s is not None]))
        await self._record(gh, found, stats)

    async def _record(
        self, gh: GitHubAPI, found: list[tuple[Target, list[Seen]]], stats: HarvestStats
    ) -> None:
        """Record what was listed on these comments, with one read and one write
        transaction. The scheduled sweep and an event's sweep of one PR may list the same
        comment at once: the two must not both find a reaction new and insert it twice."""
        if not found:
            return
        stats.comments += len(found)
        async with self._recording:
            ids = [target.comment_id for target, _ in found]
            known = await asyncio.to_thread(self._known, ids)
            permissions: dict[tuple[str, str], str] = {}
            for target, seen in found:
                for item in seen:
                    if item.github_id not in known.get(target.comment_id, set()):
                        permissions[(target.repository, item.login)] = await permission_of(
                            gh, target.repository, item.login, self.cache
                        )
            new, gone = await asyncio.to_thread(self._store, found, known, permissions)
        stats.new += new
        stats.gone += gone

    async def _read_rest(self, gh: GitHubAPI, target: Target, stats: HarvestStats) -> None:
        url = f"/repos/{target.repository}/issues/comments/{target.comment_id}/reactions?{PAGE}"
        try:
            listed = [_from_rest(item) async for item in gh.getiter(url)]
        except BadRequest as exc:
            if exc.status_code.value != 404:
                raise
            await asyncio.to_thread(self._record_deleted, target.comment_id)
            return
        stats.requests += 1
        await self._record(gh, [(target, [s for s in listed if s is not None])], stats)

    # -- database (run in a thread) ---------------------------------------------------

    def _known(self, comment_ids: list[int]) -> dict[int, set[int]]:
        known: dict[int, set[int]] = defaultdict(set)
        with Session(self.database) as session:
            rows = session.exec(
                select(ReactionRow.comment_id, ReactionRow.github_id).where(
                    col(ReactionRow.comment_id).in_(comment_ids),
                    col(ReactionRow.gone_at).is_(None),
                )
            )
            for comment_id, github_id in rows:
                known[comment_id].add(github_id)
        return known

    def _store(
        self,
        found: list[tuple[Target, list[Seen]]],
        known: Mapping[int, set[int]],
        permissions: Mapping[tuple[str, str], str],
    ) -> tuple[int, int]:
        now = utcnow()
        new = gone = 0
        changed: set[int] = set()
        with Session(self.database) as session:
            fresh = [
                (target, item)
                for target, seen in found
                for item in seen
                if item.github_id not in known.get(target.comment_id, set())
            ]
            existing = set()
            if fresh:
                existing = set(
                    session.exec(
                        select(ReactionRow.github_id).where(
                            col(ReactionRow.github_id).in_([i.github_id for _, i in fresh])
                        )
                    )
                )
            for target, item in fresh:
                if item.github_id in existing:
                    continue
                session.add(
                    ReactionRow(
                        comment_id=target.comment_id,
                        github_id=item.github_id,
                        user_login=item.login,
                        user_type=item.user_type,
                        content=item.content,
                        permission=permissions.get((target.repository, item.login), "none"),
                        created_at=item.created_at,
                        first_seen_at=now,
                    )
                )
                new += 1
                changed.add(target.comment_id)
            for target, seen in found:
                listed = {item.github_id for item in seen}
                missing = known.get(target.comment_id, set()) - listed
                if missing:
                    rows = session.exec(
                        select(ReactionRow).where(
                            col(ReactionRow.github_id).in_(missing),
                            col(ReactionRow.gone_at).is_(None),
                        )
                    ).all()
                    for row in rows:
                        row.gone_at = now
                        session.add(row)
                    gone += len(rows)
                    changed.add(target.comment_id)
            ids = [target.comment_id for target, _ in found]
            session.exec(
                sa_update(VerdictCommentRow)
                .where(col(VerdictCommentRow.comment_id).in_(ids))
                .values(swept_at=now)
            )
            if changed:
                prs = select(VerdictCommentRow.pull_request_id).where(
                    col(VerdictCommentRow.comment_id).in_(changed)
                )
                session.exec(
                    sa_update(PullRequestRow)
                    .where(col(PullRequestRow.id).in_(prs))
                    .values(evidence_at=now)
                )
            session.commit()
        return new, gone

    def _record_deleted(self, comment_id: int) -> None:
        with Session(self.database) as session:
            comment = session.exec(
                select(VerdictCommentRow).where(VerdictCommentRow.comment_id == comment_id)
            ).first()
            if comment is not None and comment.deleted_at is None:
                comment.deleted_at = utcnow()
                session.add(comment)
                session.commit()

    def _targets_of(self, repository: str, number: int) -> list[Target]:
        with Session(self.database) as session:
            query = (
                _targets_query()
                .where(RepositoryRow.full_name == repository)
                .where(PullRequestRow.number == number)
            )
            return [_target(*row) for row in session.exec(query)]


def _targets_query() -> Any:
    return (
        select(VerdictCommentRow, RepositoryRow.full_name, RepositoryRow.installation_id)
        .join(PullRequestRow, col(PullRequestRow.id) == col(VerdictCommentRow.pull_request_id))
        .join(RepositoryRow, col(RepositoryRow.id) == col(PullRequestRow.repository_id))
        .where(col(VerdictCommentRow.deleted_at).is_(None))
        .where(col(RepositoryRow.installation_id).is_not(None))
    )


def _target(comment: VerdictCommentRow, repository: str, installation: int) -> Target:
    return Target(comment.comment_id, comment.node_id, repository, installation)


def open_targets(session: Session, pr_ids: Iterable[int]) -> list[Target]:
    """The verdict comments of these PRs that still exist."""
    ids = list(pr_ids)
    if not ids:
        return []
    query = _targets_query().where(col(PullRequestRow.id).in_(ids))
    return [_target(*row) for row in session.exec(query)]


def _from_graphql(item: dict[str, Any]) -> Seen | None:
    user = item.get("user")
    if user is None or item.get("databaseId") is None:
        return None  # a bot's reaction (GraphQL's ``user`` is a User): never counted
    return Seen(
        github_id=int(item["databaseId"]),
        login=str(user.get("login", "")),
        user_type="User",
        content=CONTENT.get(str(item.get("content")), str(item.get("content")).lower()),
        created_at=datetime.fromisoformat(str(item["createdAt"])),
    )


def _from_rest(item: dict[str, Any]) -> Seen | None:
    user = item.get("user") or {}
    if user.get("type") == "Bot":
        return None  # as GraphQL shows them: a bot never counts, nor is it community
    return Seen(
        github_id=int(item["id"]),
        login=str(user.get("login", "")),
        user_type="User",
        content=str(item.get("content")),
        created_at=datetime.fromisoformat(str(item["created_at"])),
    )


def _despite_missing(exc: QueryError) -> dict[str, Any]:
    """The data of an answer whose only errors are ids that resolve to nothing (a deleted
    comment): GitHub nulls those entries of ``nodes`` and answers the others beside a
    NOT_FOUND error each. Any other error is raised again."""
    response = exc.response if isinstance(exc.response, dict) else {}
    data, errors = response.get("data"), response.get("errors") or []
    for error in errors:
        path = error.get("path") or []
        if error.get("type") != "NOT_FOUND" or path[:1] != ["nodes"]:
            raise exc
    if not isinstance(data, dict) or not errors:
        raise exc
    return data
