"""What a stored delivery makes the bot do: fetch, evaluate, store, post.

One class, one method per event. Events that cannot change a verdict (a review's text
edited, a check on a commit that is no open PR's head) trigger no evaluation. Rules run
from one loop in name order (:class:`shadowbot.core.engine.Engine`), each failure contained.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import logging
import re
from collections.abc import Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from gidgethub.abc import GitHubAPI
from sqlalchemy.engine import Engine as Database
from sqlmodel import Session

from shadowbot.core.engine import Engine
from shadowbot.github import GitHubApp
from shadowbot.live import posting
from shadowbot.live.api import installation_of
from shadowbot.live.cache import LiveCache
from shadowbot.live.commands_handler import CommandHandler
from shadowbot.live.comments import (
    claimed_keys,
    combined_action,
    per_rule_targets,
    render_combined,
    render_rule_comment,
    render_rule_disabled,
)
from shadowbot.live.harvest import Harvester
from shadowbot.live.snapshot import fetch_snapshot
from shadowbot.logs import delivery_fields, log_context
from shadowbot.metrics import Metrics
from shadowbot.rules import Rule
from shadowbot.settings import Settings
from shadowbot.snapshot import Snapshot
from shadowbot.storage import DeliveryRow, ledger_store, records, snapshots_seen, utcnow
from shadowbot.verdict import Verdict

log = logging.getLogger(__name__)

Evaluations = list[tuple[Rule, Verdict]]
#: Events whose only effect is a re-evaluation (see :func:`coalesce_key`).
_REEVALUATING = frozenset(
    {"pull_request", "pull_request_review", "check_run", "check_suite", "status"}
)
#: Events about one pull request, whose subject names it (``o/r#7``) whenever the intake
#: could read one: the body says nothing more of what they re-evaluate.
_OF_ONE_PULL_REQUEST = frozenset({"pull_request", "pull_request_review"})


@dataclass
class Pipeline:
    settings: Settings
    database: Database
    github: GitHubApp
    engine: Engine
    cache: LiveCache
    metrics: Metrics
    bot_login: str
    harvester: Harvester | None = None

    def __post_init__(self) -> None:
        self.commands = CommandHandler(self)
        self._privacy: dict[str, bool] = {}
        #: Rules run in this one thread, off the event loop (a slow rule must not delay
        #: the webhook acknowledgements), one evaluation at a time (the engine's budget
        #: watches one at a time).
        self._rules_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rules")

    def coalesce_key(self, delivery: DeliveryRow) -> str | None:
        """The PR (or head commit) a delivery only re-evaluates (:func:`coalesce_key`)."""
        return coalesce_key(delivery)

    async def handle(self, delivery: DeliveryRow) -> None:
        payload = orjson.loads(delivery.body())
        with log_context(**delivery_fields(delivery, payload)):
            await self._handle(delivery, payload)

    async def _handle(self, delivery: DeliveryRow, payload: dict[str, Any]) -> None:
        if _ignored(delivery.event, delivery.action, payload):
            return
        handlers = {
            "pull_request": self.on_pull_request,
            "pull_request_review": self.on_review,
            "check_run": self.on_check,
            "check_suite": self.on_check,
            "status": self.on_status,
            "issue_comment": self.commands.on_comment,
            "installation": self.on_installation,
            "installation_repositories": self.on_installation,
        }
        handler = handlers.get(delivery.event)
        if handler is not None:
            await handler(delivery.action, payload)
            await self._note_privacy(payload)
            await self._sweep(payload)

    async def _note_privacy(self, payload: dict[str, Any]) -> None:
        """Record whether each repository the payload names is private, as GitHub says
        (every webhook carries ``repository.private``): the pages show a private
        repository's details only when configured to (DESIGN.md, "Pages and privacy")."""
        repositories = [
            payload.get("repository") or {},
            *(payload.get("repositories") or []),
            *(payload.get("repositories_added") or []),
        ]
        changed = {
            str(r["full_name"]): r["private"]
            for r in repositories
            if r.get("full_name")
            and isinstance(r.get("private"), bool)
            and self._privacy.get(str(r["full_name"])) is not r["private"]
        }
        if changed:
            await asyncio.to_thread(self._record_privacy, changed)
            self._privacy.update(changed)

    async def _sweep(self, payload: dict[str, Any]) -> None:
        """Read the reactions on the PR's verdict comments: any event for a PR is a
        moment when people look at it (GitHub sends no webhook for reactions)."""
        number = (payload.get("pull_request") or payload.get("issue") or {}).get("number")
        repo = (payload.get("repository") or {}).get("full_name")
        if self.harvester is None or number is None or repo is None:
            return
        try:
            await self.harvester.sweep_pull_request(repo, int(number))
        except Exception:  # the scheduled sweep reads them later; the event is done
            log.warning("could not read reactions on %s#%s", repo, number, exc_info=True)

    # -- events ----------------------------------------------------------------------

    async def on_pull_request(self, action: str | None, payload: dict[str, Any]) -> None:
        repo, pr = payload["repository"]["full_name"], payload["pull_request"]
        if action in ("closed", "reopened"):
            kind = "merged" if pr.get("merged") else "closed" if action == "closed" else "reopened"
            actor = (payload.get("sender") or {}).get("login", "")
            await asyncio.to_thread(self._record_outcome, repo, pr, kind, actor)
            if action == "closed":
                return
        await self.reevaluate(installation_of(payload), repo, int(pr["number"]))

    async def on_review(self, action: str | None, payload: dict[str, Any]) -> None:
        repo = payload["repository"]["full_name"]
        await self.reevaluate(
            installation_of(payload), repo, int(payload["pull_request"]["number"])
        )

    async def on_check(self, action: str | None, payload: dict[str, Any]) -> None:
        item = payload.get("check_run") or payload.get("check_suite") or {}
        repo, sha = payload["repository"]["full_name"], str(item.get("head_sha", ""))
        # GitHub lists the PRs of a check only when they come from the same repository,
        # and matches them by head branch too: a late check on a commit the branch has
        # moved past still names the PR, whose verdicts it cannot change.
        # https://docs.github.com/en/rest/checks/runs#get-a-check-run
        numbers = [
            int(p["number"])
            for p in item.get("pull_requests") or []
            if (p.get("head") or {}).get("sha", sha) == sha
        ]
        await self._reevaluate_head(payload, repo, sha, numbers)

    async def on_status(self, action: str | None, payload: dict[str, Any]) -> None:
        repo = payload["repository"]["full_name"]
        await self._reevaluate_head(payload, repo, str(payload.get("sha", "")), [])

    async def on_installation(self, action: str | None, payload: dict[str, Any]) -> None:
        installation = installation_of(payload)
        gone = action in ("deleted", "suspend")
        names = [r["full_name"] for r in payload.get("repositories") or []]
        added = [r["full_name"] for r in payload.get("repositories_added") or []]
        removed = [r["full_name"] for r in payload.get("repositories_removed") or []]
        # A repository the app left keeps its records (the evidence), without installation.
        await asyncio.to_thread(
            self._record_repositories, [] if gone else names + added, installation
        )
        await asyncio.to_thread(self._record_repositories, names if gone else removed, None)

    async def _reevaluate_head(
        self, payload: dict[str, Any], repo: str, sha: str, numbers: list[int]
    ) -> None:
        known = await asyncio.to_thread(self._open_pull_requests_at, repo, sha)
        for number in sorted(set(numbers) | set(known)):
            await self.reevaluate(installation_of(payload), repo, number, only_head=sha)

    def close(self) -> None:
        """Let the rules' thread go (an evaluation running finishes first)."""
        self._rules_thread.shutdown(wait=False, cancel_futures=True)

    # -- the work --------------------------------------------------------------------

    async def _evaluate(self, pr: Snapshot, skip: Collection[str]) -> Evaluations:
        """Every rule's verdict on ``pr``, in the rules' thread (the log context goes along)."""
        run = functools.partial(contextvars.copy_context().run, self.engine.evaluate, pr, skip)
        return await asyncio.get_running_loop().run_in_executor(self._rules_thread, run)

    async def reevaluate(
        self, installation_id: int, repo: str, number: int, only_head: str = ""
    ) -> None:
        with log_context(installation=installation_id, repo=repo, pr=number):
            await self._reevaluate(installation_id, repo, number, only_head)

    async def _reevaluate(
        self, installation_id: int, repo: str, number: int, only_head: str
    ) -> None:
        gh = await self.github.installation(installation_id)
        pr = await fetch_snapshot(gh, repo, number, self.cache, mergers=self.settings.mergers)
        if pr.state != "open" or (only_head and pr.head_sha != only_head):
            return  # nothing on screen can change: closed, or a check on an old head
        disabled = await asyncio.to_thread(self._disabled_rules)
        # DESIGN.md: a disabled rule stops evaluating live and stops posting.
        evaluations = await self._evaluate(pr, disabled.keys())
        for _, verdict in evaluations:
            self.metrics.inc("shadowbot_evaluations_total", decision=verdict.decision.value)
        shown = await self._post(gh, installation_id, pr, evaluations, disabled)
        await asyncio.to_thread(self._record_evaluation, installation_id, pr, evaluations, shown)

    async def _post(
        self,
        gh: GitHubAPI,
        installation_id: int,
        pr: Snapshot,
        evaluations: Evaluations,
        disabled: Mapping[str, str],
    ) -> list[Shown]:
        """Post or edit the verdict comment(s); what each comment now shows."""
        mode = self.settings.posting_mode_for(pr.repository)
        if mode == "silent":
            # DESIGN.md: no writes to GitHub at all; the pages show it from the bot's clock.
            return [Shown(None, None, _summary(evaluations), utcnow())]
        async with posting.comment_lock(self.database, pr.repository, pr.number):
            return await self._write(gh, installation_id, pr, evaluations, disabled, mode)

    async def _write(
        self,
        gh: GitHubAPI,
        installation_id: int,
        pr: Snapshot,
        evaluations: Evaluations,
        disabled: Mapping[str, str],
        mode: str,
    ) -> list[Shown]:
        lock = self.github.write_lock(installation_id)
        mine = await posting.find_comments(gh, pr.repository, pr.number, self.bot_login)
        if mode == "per-rule":
            return await self._post_per_rule(gh, lock, pr, evaluations, disabled, mine)
        existing = posting.pick(mine, lambda m: m.kind == "combined")
        action = combined_action(
            evaluations, self.settings.post_when, existing=existing is not None
        )
        retired = await self._retire(gh, lock, pr, mine, (), disabled)
        if action == "none":
            return retired
        body = render_combined(
            pr.repository,
            pr.number,
            pr.head_sha,
            evaluations,
            handle=self.settings.handle,
            dashboard_url=self._page_of(pr),
            disabled=disabled,
        )
        written = await posting.upsert_comment(gh, lock, pr.repository, pr.number, body, existing)
        return [*retired, Shown(written, None, _summary(evaluations), written.shown_at)]

    async def _post_per_rule(
        self,
        gh: GitHubAPI,
        lock: asyncio.Lock,
        pr: Snapshot,
        evaluations: Evaluations,
        disabled: Mapping[str, str],
        mine: list[posting.OwnComment],
    ) -> list[Shown]:
        """One comment per claiming rule; each names its rule in its hidden marker, and a
        reaction on it counts for that rule only (DESIGN.md, "per-rule")."""
        shown: list[Shown] = []
        existing_keys = {
            c.marker.rule for c in mine if c.marker and c.marker.kind == "rule" and c.marker.rule
        }
        for rule, verdict in per_rule_targets(evaluations, existing_keys):
            body = render_rule_comment(
                pr.repository,
                pr.number,
                pr.head_sha,
                rule,
                verdict,
                handle=self.settings.handle,
                dashboard_url=self._page_of(pr),
            )
            existing = posting.pick_rule(mine, rule.key)
            written = await posting.upsert_comment(
                gh, lock, pr.repository, pr.number, body, existing
            )
            summary = _summary([(rule, verdict)])
            shown.append(Shown(written, rule.key, summary, written.shown_at))
        evaluated = {rule.key for rule, _ in evaluations}
        shown += await self._retire(gh, lock, pr, mine, evaluated, disabled)
        return shown

    def _page_of(self, pr: Snapshot) -> str | None:
        """The PR's page on the public pages, when they have a public address."""
        base = self.settings.public_url
        return f"{base.rstrip('/')}/prs/{pr.repository}/{pr.number}" if base else None

    async def _retire(
        self,
        gh: GitHubAPI,
        lock: asyncio.Lock,
        pr: Snapshot,
        mine: list[posting.OwnComment],
        current: Collection[str],
        disabled: Mapping[str, str],
    ) -> list[Shown]:
        """Edit the bot's per-rule comments of rules that no longer evaluate here (disabled,
        replaced by a new version, or removed) to say so: a claim left on screen would
        still collect reactions."""
        shown = []
        for comment in mine:
            key = comment.marker.rule if comment.marker and comment.marker.kind == "rule" else None
            if key is None or key in current:
                continue
            reason = disabled.get(key, "this rule version no longer runs on this repository")
            body = render_rule_disabled(
                pr.repository, pr.number, comment.marker.head_sha if comment.marker else "",
                key, reason, handle=self.settings.handle,
            )  # fmt: skip
            written = await posting.upsert_comment(
                gh, lock, pr.repository, pr.number, body, comment
            )
            gone: dict[str, object] = {"claims": [], "decisions": {}, "disabled": [key]}
            shown.append(Shown(written, key, gone, written.shown_at))
        return shown

    # -- database (run in a thread) ---------------------------------------------------

    def _disabled_rules(self) -> dict[str, str]:
        with Session(self.database) as session:
            return ledger_store.disabled_rules(session)

    def _record_evaluation(
        self, installation_id: int, pr: Snapshot, evaluations: Evaluations, shown: list[Shown]
    ) -> None:
        with Session(self.database) as session:
            repo = records.repository(session, pr.repository, installation_id)
            row = records.pull_request(session, repo, pr)
            if row.closed_at is not None and row.merged_at is None:
                # GitHub shows it open again: its reopen webhook was lost (GitHub's time of
                # the reopen is at latest the PR's updated_at).
                records.outcome(session, row, "reopened", pr.head_sha, "", pr.updated_at)
            records.verdicts(session, row, pr.head_sha, evaluations)
            # What the rules saw, when it changed: `shadowbot export` writes it as a history.
            snapshots_seen.remember(session, row, pr, utcnow())
            for item in shown:
                comment_id = None
                if item.comment is not None:
                    comment_id = item.comment.id
                    records.verdict_comment(
                        session,
                        row,
                        comment_id,
                        item.comment.node_id,
                        item.comment.created_at,
                        item.rule,
                    )
                records.show_revision(
                    session, row, pr.head_sha, comment_id, item.summary, item.shown_at
                )
            session.commit()

    def _open_pull_requests_at(self, repo: str, sha: str) -> list[int]:
        with Session(self.database) as session:
            return records.open_pull_requests_at(session, repo, sha)

    def _record_outcome(self, repo: str, pr: dict[str, Any], kind: str, actor: str) -> None:
        with Session(self.database) as session:
            record_outcome(session, repo, pr, kind, actor)
            session.commit()

    def _record_privacy(self, privacy: dict[str, bool]) -> None:
        with Session(self.database) as session:
            for name, private in privacy.items():
                records.privacy(session, name, private)
            session.commit()

    def _record_repositories(self, names: list[str], installation_id: int | None) -> None:
        with Session(self.database) as session:
            for name in names:
                records.repository(session, name, installation_id)
            session.commit()


@dataclass(frozen=True, slots=True)
class Shown:
    """What one write put on screen: its comment (None in silent mode), the rule of a
    per-rule comment, the revision's summary, and GitHub's time of the write."""

    comment: posting.Written | None
    rule: str | None
    summary: dict[str, object]
    shown_at: datetime


def _summary(evaluations: Evaluations) -> dict[str, object]:
    return {
        "claims": list(claimed_keys(evaluations)),
        "decisions": {rule.key: verdict.decision.value for rule, verdict in evaluations},
    }


_REVERTS = re.compile(r"^Reverts ([\w.-]+/[\w.-]+)#(\d+)\b", re.MULTILINE)


def reverted_numbers(repo: str, body: str) -> list[int]:
    """The PRs of ``repo`` that a PR reverts: GitHub's revert PRs say "Reverts
    owner/repo#N" in their body (DESIGN.md, "Reverts")."""
    return [int(n) for name, n in _REVERTS.findall(body) if name.lower() == repo.lower()]


def outcome_time(pr: dict[str, Any], kind: str) -> datetime | None:
    """GitHub's time of a merge or close (the payload's ``merged_at``/``closed_at``); a
    reopen has none of its own, so the PR's ``updated_at`` stands for it."""
    field = {"merged": "merged_at", "closed": "closed_at"}.get(kind, "updated_at")
    value = pr.get(field)
    return datetime.fromisoformat(str(value)) if value else None


def record_outcome(session: Session, repo: str, pr: dict[str, Any], kind: str, actor: str) -> int:
    """Record a merge or close as the ``pull_request`` webhook's handler does
    (and the reconciler, for one it missed): at GitHub's time, with the revert a merged revert PR
    makes of the PRs it names. How many outcomes were new."""
    added = 0
    row = records.find_pull_request(session, repo, int(pr["number"]))
    at = outcome_time(pr, kind)
    if row is not None and at is not None:
        sha = str((pr.get("head") or {}).get("sha") or "")
        added += records.outcome(session, row, kind, sha, actor, at)
    if kind == "merged" and at is not None:
        for number in reverted_numbers(repo, str(pr.get("body") or "")):
            reverted = records.find_pull_request(session, repo, number)
            if reverted is not None:
                detail = f"{repo}#{pr['number']}"
                sha = str(pr.get("merge_commit_sha") or "")
                added += records.outcome(session, reverted, "reverted", sha, actor, at, detail)
    return added


def coalesce_key(delivery: DeliveryRow) -> str | None:
    """The PR (or head commit) a delivery only re-evaluates, if that is all it does.

    A pull request's own events and its reviews are keyed by the subject the intake read
    (``o/r#7``, the same key), without their bodies: under a burst the worker asks this
    of hundreds of queued deliveries, and decompressing and parsing each body held the
    event loop's GIL from the acknowledgements (docs/performance.md, "Webhook intake").
    """
    event, action = delivery.event, delivery.action
    if event not in _REEVALUATING or action in ("closed", "reopened"):
        return None
    if event in _OF_ONE_PULL_REQUEST and delivery.subject is not None:
        return None if _ignored(event, action, {}) else delivery.subject
    payload = orjson.loads(delivery.body())
    if _ignored(event, action, payload):
        return None  # re-evaluates nothing, so it must not stand in for one that does
    repo = payload.get("repository", {}).get("full_name")
    number = (payload.get("pull_request") or {}).get("number")
    if number is not None:
        return f"{repo}#{number}"
    item = payload.get("check_run") or payload.get("check_suite") or payload
    return f"{repo}@{item.get('head_sha') or item.get('sha')}"


def _ignored(event: str, action: str | None, payload: dict[str, Any]) -> bool:
    """Deliveries that cannot change a verdict, though of an event that usually does."""
    if (event, action) == ("pull_request_review", "edited"):
        return True  # an edit changes a review's text, never its state
    # A check suite with check runs: each of them sent its own completed event already.
    return event == "check_suite" and bool(
        (payload.get("check_suite") or {}).get("latest_check_runs_count")
    )
