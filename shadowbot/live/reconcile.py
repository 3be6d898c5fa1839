"""The reconciler: what the webhooks should have told the bot, found out by asking GitHub.

GitHub does not redeliver a failed webhook delivery on its own; an app that was down, or
whose answer was lost, misses the event for good unless it looks:
https://docs.github.com/en/webhooks/using-webhooks/handling-failed-webhook-deliveries
A scheduled run does two things:

- **outcomes**: every open PR the bot judged (it has verdicts) is read again; one GitHub
  shows merged or closed gets its outcome recorded at GitHub's ``merged_at``/``closed_at``,
  as the webhook would have. Outcomes are recorded once per (PR, kind, time), so a webhook
  that arrives after all adds nothing. An unchanged PR answers 304 to the ETag the client
  keeps, which costs no rate-limit point:
  https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
- **deliveries**: the app's deliveries since the last run (3 days at most: GitHub keeps
  them that long for redelivery) are listed; a delivery whose newest attempt failed, and
  that the bot never stored, is redelivered once per run, a few times at most per process.
  https://docs.github.com/en/webhooks/testing-and-troubleshooting-webhooks/redelivering-webhooks
- **given up**: a delivery the worker gave up on (GitHub failed for hours) or that failed
  for good is not processed again, stale as it is; its pull request is evaluated again
  as it stands now, once, and the delivery marked reconciled.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from gidgethub import HTTPException
from gidgethub.abc import GitHubAPI
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session, col, select

from shadowbot.github import GitHubApp, HookDelivery
from shadowbot.github.client import GitHubUnavailable
from shadowbot.live.pipeline import record_outcome
from shadowbot.metrics import Metrics
from shadowbot.storage import (
    DeliveryRow,
    PullRequestRow,
    RepositoryRow,
    VerdictRow,
    claims,
    utcnow,
)

log = logging.getLogger(__name__)

#: Evaluates one pull request again: (installation id, ``owner/name``, number).
Refresh = Callable[[int, str, int], Awaitable[None]]

#: How far back GitHub lets an app redeliver.
RETENTION = timedelta(days=3)
#: Looked at again from the previous run's newest delivery: an attempt still in flight
#: then (GitHub waits 10 s for an answer) is listed by the next run.
OVERLAP = timedelta(minutes=2)
#: The most deliveries one run lists (100 a page): a first run after a long outage.
DELIVERIES_LIMIT = 5000
#: Redeliveries of one delivery this process asks for: one the bot keeps refusing (a
#: wrong secret, a body too large) is not asked for again every run for three days.
MAX_REDELIVERIES = 3
#: Guids asked about at once in the ``delivery`` table.
GUID_BATCH = 500


@dataclass
class ReconcileReport:
    """What one run did: PRs read, outcomes recorded, deliveries redelivered, and the
    requests that failed (each logged; the next run tries again)."""

    checked: int = 0
    recorded: int = 0
    redelivered: int = 0
    failed: int = 0
    #: Pull requests of given-up deliveries evaluated again.
    retaken: int = 0


@dataclass(frozen=True, slots=True)
class OpenPull:
    """An open PR the bot judged, with what reading it needs."""

    repository: str
    number: int
    installation_id: int


@dataclass(frozen=True, slots=True)
class Asked:
    """A redelivery this process asked for: how many so far, and the newest attempt of the
    delivery when it last asked (a newer failed one means the redelivery failed too)."""

    times: int
    attempt_id: int
    at: datetime


class Reconciler:
    def __init__(
        self,
        database: Database,
        github: GitHubApp,
        metrics: Metrics,
        clock: Callable[[], datetime] = utcnow,
        refresh: Refresh | None = None,
    ) -> None:
        self.database = database
        self.github = github
        self.metrics = metrics
        self.clock = clock
        #: Evaluates one pull request again (installation, repository, number).
        self.refresh = refresh
        #: GitHub's time of the newest delivery the previous run listed.
        self._cursor: datetime | None = None
        self._asked: dict[str, Asked] = {}

    async def reconcile(self) -> ReconcileReport:
        """Record the missed merges and closes, and redeliver the failed deliveries."""
        report = ReconcileReport()
        await self.check_open_pulls(report)
        await self.redeliver_failed(report)
        await self.retake_given_up(report)
        self.metrics.inc("shadowbot_reconcile_runs_total")
        self.metrics.inc("shadowbot_reconcile_outcomes_total", report.recorded)
        self.metrics.inc("shadowbot_reconcile_redeliveries_total", report.redelivered)
        log.info(
            "reconciled: %d PRs read, %d outcomes recorded, %d deliveries redelivered, %d failures",
            report.checked,
            report.recorded,
            report.redelivered,
            report.failed,
        )
        return report

    # -- outcomes --------------------------------------------------------------------

    async def check_open_pulls(self, report: ReconcileReport) -> None:
        """Read every open PR with verdicts; record the merge or close GitHub shows."""
        pulls = await asyncio.to_thread(self._open_pulls)
        by_installation: dict[int, list[OpenPull]] = defaultdict(list)
        for pull in pulls:
            by_installation[pull.installation_id].append(pull)
        for installation, group in by_installation.items():
            try:
                gh = await self.github.installation(installation)
            except (HTTPException, GitHubUnavailable):
                log.warning("no client for installation %d", installation, exc_info=True)
                report.failed += len(group)
                continue
            for pull in group:
                try:
                    report.recorded += await self._check(gh, pull)
                except (HTTPException, GitHubUnavailable):
                    log.warning("could not read %s#%d", pull.repository, pull.number, exc_info=True)
                    report.failed += 1
                    continue
                report.checked += 1

    async def _check(self, gh: GitHubAPI, pull: OpenPull) -> int:
        """How many outcomes reading one PR recorded.
        https://docs.github.com/en/rest/pulls/pulls#get-a-pull-request"""
        pr = await gh.getitem(f"/repos/{pull.repository}/pulls/{pull.number}")
        kind = final_kind(pr)
        if kind is None:
            return 0
        actor = await _actor(gh, pull, pr, kind)
        return await asyncio.to_thread(self._record_outcome, pull.repository, pr, kind, actor)

    # -- given up ----------------------------------------------------------------------

    async def retake_given_up(self, report: ReconcileReport) -> None:
        """Evaluate again the pull request of each delivery given up; mark it reconciled
        (one GitHub still fails stays for the next run)."""
        done = []
        for delivery in await asyncio.to_thread(claims.given_up, self.database):
            assert delivery.id is not None
            target = pull_request_of(delivery)
            if target is not None and self.refresh is not None:
                try:
                    await self.refresh(*target)
                except Exception:  # GitHub still failing, or the PR is gone: logged
                    log.warning("could not evaluate %s#%d again", *target[1:], exc_info=True)
                    report.failed += 1
                    continue
                report.retaken += 1
            done.append(delivery.id)
        await asyncio.to_thread(claims.reconciled, self.database, done, self.clock())

    # -- deliveries ------------------------------------------------------------------

    async def redeliver_failed(self, report: ReconcileReport) -> None:
        """Ask GitHub to redeliver each delivery since the last run whose newest attempt
        failed and which the bot never stored."""
        now = self.clock()
        since = window_start(now, self._cursor)
        listed = await self.github.list_hook_deliveries(since=since, limit=DELIVERIES_LIMIT)
        if len(listed) >= DELIVERIES_LIMIT:
            log.warning(
                "%d deliveries since %s, the limit: older ones not looked at", len(listed), since
            )
        attempts = by_guid(listed)
        stored = await asyncio.to_thread(self._stored, list(attempts))
        self._forget_before(now - RETENTION)
        retry_from: datetime | None = None
        for guid, tried in attempts.items():
            chosen = to_redeliver(tried, guid in stored, self._asked.get(guid))
            if chosen is None:
                continue
            if await self._ask(chosen, now):
                report.redelivered += 1
            else:
                report.failed += 1
                retry_from = min(retry_from or chosen.delivered_at, chosen.delivered_at)
        # The next run starts where this one ended, or at a redelivery it could not ask for.
        newest = max((d.delivered_at for d in listed), default=self._cursor)
        self._cursor = retry_from if retry_from is not None else newest

    async def _ask(self, attempt: HookDelivery, now: datetime) -> bool:
        """Ask for one redelivery; False if GitHub could not be asked."""
        try:
            await self.github.redeliver(attempt.id)
        except (HTTPException, GitHubUnavailable):
            log.warning("could not redeliver %s (%s)", attempt.guid, attempt.event, exc_info=True)
            return False
        before = self._asked.get(attempt.guid)
        times = 1 if before is None else before.times + 1
        self._asked[attempt.guid] = Asked(times, attempt.id, now)
        log.info("redelivering %s (%s %s)", attempt.guid, attempt.event, attempt.action or "")
        return True

    def _forget_before(self, cutoff: datetime) -> None:
        """Drop what was asked before GitHub's retention: those deliveries are gone."""
        self._asked = {guid: a for guid, a in self._asked.items() if a.at >= cutoff}

    # -- database (run in a thread) ---------------------------------------------------

    def _open_pulls(self) -> list[OpenPull]:
        judged = select(VerdictRow.id).where(VerdictRow.pull_request_id == PullRequestRow.id)
        query = (
            select(RepositoryRow.full_name, PullRequestRow.number, RepositoryRow.installation_id)
            .join(RepositoryRow, col(RepositoryRow.id) == col(PullRequestRow.repository_id))
            .where(PullRequestRow.state == "open")
            .where(col(RepositoryRow.installation_id).is_not(None))
            .where(judged.exists())
            .order_by(col(RepositoryRow.full_name), col(PullRequestRow.number))
        )
        with Session(self.database) as session:
            return [
                OpenPull(name, number, installation)
                for name, number, installation in session.exec(query)
                if installation is not None
            ]

    def _record_outcome(self, repo: str, pr: dict[str, Any], kind: str, actor: str) -> int:
        with Session(self.database) as session:
            added = record_outcome(session, repo, pr, kind, actor)
            session.commit()
            return added

    def _stored(self, guids: Sequence[str]) -> set[str]:
        found: set[str] = set()
        with Session(self.database) as session:
            for start in range(0, len(guids), GUID_BATCH):
                chunk = guids[start : start + GUID_BATCH]
                query = select(DeliveryRow.delivery_id).where(
                    col(DeliveryRow.delivery_id).in_(chunk)
                )
                found.update(session.exec(query))
        return found


# -- deciding (pure) ---------------------------------------------------------------------


def final_kind(pr: dict[str, Any]) -> str | None:
    """``merged`` or ``closed`` as GitHub shows the PR now; None while it is open."""
    if pr.get("merged") or pr.get("merged_at"):
        return "merged"
    if pr.get("state") == "closed":
        return "closed"
    return None


async def _actor(gh: GitHubAPI, pull: OpenPull, pr: dict[str, Any], kind: str) -> str:
    """Who merged (the PR's ``merged_by``) or closed it (the issue's ``closed_by``: a pull
    request does not say): the webhook's ``sender`` for that action.
    https://docs.github.com/en/rest/issues/issues#get-an-issue"""
    if kind == "merged":
        return str((pr.get("merged_by") or {}).get("login") or "")
    issue = await gh.getitem(f"/repos/{pull.repository}/issues/{pull.number}")
    return str((issue.get("closed_by") or {}).get("login") or "")


def window_start(now: datetime, cursor: datetime | None) -> datetime:
    """Where a run's listing starts: a little before the newest delivery the previous run
    saw, never before GitHub's retention."""
    oldest = now - RETENTION
    return oldest if cursor is None else max(oldest, cursor - OVERLAP)


def by_guid(listed: Iterable[HookDelivery]) -> dict[str, list[HookDelivery]]:
    """The attempts of each delivery, newest first."""
    grouped: dict[str, list[HookDelivery]] = defaultdict(list)
    for attempt in listed:
        grouped[attempt.guid].append(attempt)
    return {
        guid: sorted(tried, key=lambda a: (a.delivered_at, a.id), reverse=True)
        for guid, tried in grouped.items()
    }


def succeeded(attempt: HookDelivery) -> bool:
    return 200 <= attempt.status_code < 300


def to_redeliver(
    attempts: Sequence[HookDelivery], stored: bool, asked: Asked | None
) -> HookDelivery | None:
    """The attempt to redeliver (the newest), or None: when the bot stored the delivery
    (its answer may have been lost, the event was not), when the newest attempt succeeded,
    when the redelivery asked for has not been attempted yet, or when it was asked for
    ``MAX_REDELIVERIES`` times already. ``attempts`` are newest first."""
    if stored or not attempts or succeeded(attempts[0]):
        return None
    newest = attempts[0]
    if asked is not None and (newest.id <= asked.attempt_id or asked.times >= MAX_REDELIVERIES):
        return None
    return newest


def pull_request_of(delivery: DeliveryRow) -> tuple[int, str, int] | None:
    """(installation id, repository, number) of the pull request a delivery is about, or
    None (not about one pull request, or not readable)."""
    try:
        payload = orjson.loads(delivery.body())
    except ValueError:  # not a stored body, or not JSON
        return None
    if not isinstance(payload, dict):
        return None
    installation = (payload.get("installation") or {}).get("id")
    repository = (payload.get("repository") or {}).get("full_name")
    item = payload.get("pull_request") or payload.get("issue") or {}
    number = item.get("number")
    if number is None:
        check = payload.get("check_run") or payload.get("check_suite") or {}
        pulls = check.get("pull_requests") or []
        number = pulls[0].get("number") if len(pulls) == 1 else None
    if payload.get("issue") and not payload["issue"].get("pull_request"):
        return None  # an issue's comment: no pull request to evaluate
    if not (isinstance(installation, int) and isinstance(repository, str)):
        return None
    return (installation, repository, number) if isinstance(number, int) else None
