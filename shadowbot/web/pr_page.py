"""A pull request's page as plain data, for ``/prs/<owner>/<repo>/<number>`` and its
JSON: every revision the bot showed, per head SHA, each rule's checklist there, the
reactions (mergers' apart from the community's), the notes, the outcome and each rule's
result. Read from this pull request's rows only (indexed slices)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from sqlmodel import Session

from shadowbot.core.figures import author_kind
from shadowbot.settings import Settings
from shadowbot.snapshot import Actor, Permission, UserType, counts_as_merger
from shadowbot.storage import PullRequestRow, ReactionRow, RevisionRow, VerdictRow
from shadowbot.storage.ledger_store import latest_entries
from shadowbot.storage.pages_queries import (
    entries_by_id,
    notes_on,
    outcomes_on,
    pull_request,
    reactions_on,
    revisions_on,
    verdicts_on,
)
from shadowbot.storage.pages_records import RuleResult
from shadowbot.web import links
from shadowbot.web.board import Board
from shadowbot.web.params import PageNotFound
from shadowbot.web.rule_page import ledger_entry

#: A claim the ledger has no entry for yet, shown as :func:`ledger_entry` shows one.
_UNSETTLED: dict[str, Any] = {
    "result": "pending",
    "reason": "not settled yet",
    "at": None,
    "settled_at": None,
    "disputed": False,
    "saved_seconds": None,
    "corrects": None,
    "evidence": [],
}


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at else None


def pr_page(
    session: Session, board: Board, settings: Settings, owner: str, name: str, number: int
) -> dict[str, Any]:
    repo = board.repository(f"{owner}/{name}")
    if repo is None or repo.hidden:  # a hidden repository is not named either
        raise PageNotFound(f"no repository {owner}/{name} is recorded")
    pr = pull_request(session, repo.id, number)
    if pr is None:
        raise PageNotFound(f"no pull request {repo.full_name}#{number} is recorded")
    pr_id = cast(int, pr.id)
    keys = board.keys
    verdicts = verdicts_on(session, pr_id)
    revisions = revisions_on(session, pr_id)
    reactions = [_reaction(r, pr, revisions, settings) for r in reactions_on(session, pr_id)]
    return {
        "pull_request": {
            "repository": repo.full_name,
            "number": pr.number,
            "title": pr.title,
            "author": pr.author_login,
            "author_kind": author_kind(pr.author_type),
            "state": pr.state,
            "head_sha": pr.head_sha,
            "created_at": _iso(pr.created_at),
            "url": links.pr_url(repo.full_name, pr.number),
            "github_url": links.github_pr_url(settings.github_web_url, repo.full_name, pr.number),
        },
        "heads": _heads(verdicts, revisions, keys),
        "reactions": {
            "mergers": [r for r in reactions if r["merger"]],
            "community": [r for r in reactions if not r["merger"]],
        },
        "notes": [
            {"author": n.author_login, "rule": n.rule_name, "body": n.body, "at": _iso(n.at)}
            for n in notes_on(session, pr_id)
        ],
        "outcome": {
            "state": pr.state,
            "merged_at": _iso(pr.merged_at),
            "closed_at": _iso(pr.closed_at),
            "merged_sha": pr.merged_sha,
            "events": [
                {
                    "kind": o.kind,
                    "at": _iso(o.at),
                    "sha": o.sha,
                    "by": o.actor_login,
                    "detail": o.detail,
                }
                for o in outcomes_on(session, pr_id)
            ],
        },
        "results": _results(session, verdicts, keys, pr, board, settings),
    }


def _heads(
    verdicts: Sequence[VerdictRow], revisions: Sequence[RevisionRow], keys: Mapping[int, str]
) -> list[dict[str, Any]]:
    """Each head SHA in the order first seen, with what the bot showed on it and each
    rule's newest verdict there (with how many times it was evaluated)."""
    firsts: dict[str, datetime] = {}
    for sha, at in [(v.head_sha, v.evaluated_at) for v in verdicts] + [
        (r.head_sha, r.shown_at) for r in revisions
    ]:
        firsts[sha] = min(firsts.get(sha, at), at)
    newest: dict[tuple[str, int], VerdictRow] = {}
    counts: dict[tuple[str, int], int] = defaultdict(int)
    for verdict in verdicts:  # in the order evaluated
        newest[verdict.head_sha, verdict.rule_id] = verdict
        counts[verdict.head_sha, verdict.rule_id] += 1
    until = _until(revisions)
    heads = []
    for sha in sorted(firsts, key=lambda s: (firsts[s], s)):
        rules = sorted((keys.get(rid, "?"), v) for (head, rid), v in newest.items() if head == sha)
        heads.append(
            {
                "head_sha": sha,
                "revisions": [
                    {
                        "id": r.id,
                        "shown_at": _iso(r.shown_at),
                        "until": _iso(until.get(cast(int, r.id))),
                        "comment_id": r.comment_id,
                        "claims": list(r.summary.get("claims") or []),
                        "decisions": dict(r.summary.get("decisions") or {}),
                    }
                    for r in revisions
                    if r.head_sha == sha
                ],
                "verdicts": [
                    {
                        "rule": key,
                        "url": _rule_url(key),
                        "decision": v.decision,
                        "reason": v.reason,
                        "evaluated_at": _iso(v.evaluated_at),
                        "evaluations": counts[sha, v.rule_id],
                        "checklist": [
                            {
                                "check": str(c.get("check", "")),
                                "passed": bool(c.get("passed")),
                                "detail": str(c.get("detail") or ""),
                            }
                            for c in v.checklist
                        ],
                    }
                    for key, v in rules
                ],
            }
        )
    return heads


def _until(revisions: Sequence[RevisionRow]) -> dict[int, datetime]:
    """When each revision left the screen: the next revision in the same comment."""
    by_comment: dict[int | None, list[RevisionRow]] = defaultdict(list)
    for revision in revisions:  # by shown_at
        by_comment[revision.comment_id].append(revision)
    found = {}
    for shown in by_comment.values():
        for before, after in zip(shown, shown[1:], strict=False):
            found[cast(int, before.id)] = after.shown_at
    return found


def _rule_url(key: str) -> str:
    name, _, version = key.partition("@")
    return links.rule_url(name, int(version)) if version.isdigit() else links.rule_url(name)


def _reaction(
    row: ReactionRow, pr: PullRequestRow, revisions: Sequence[RevisionRow], settings: Settings
) -> dict[str, Any]:
    actor = Actor(
        row.user_login,
        cast(UserType, row.user_type),
        permission=cast(Permission, row.permission),
    )
    on_screen = [
        r for r in revisions if r.comment_id == row.comment_id and r.shown_at <= row.created_at
    ]
    return {
        "login": row.user_login,
        "content": row.content,
        "permission": row.permission,
        "bot": actor.is_bot,
        "merger": counts_as_merger(actor, Actor(pr.author_login), settings.mergers),
        "created_at": _iso(row.created_at),
        "gone_at": _iso(row.gone_at),
        "comment_id": row.comment_id,
        "revision": on_screen[-1].id if on_screen else None,
    }


def _results(
    session: Session,
    verdicts: Sequence[VerdictRow],
    keys: Mapping[int, str],
    pr: PullRequestRow,
    board: Board,
    settings: Settings,
) -> list[dict[str, Any]]:
    """Each rule's result on this pull request: its newest ledger entry, or ``pending``
    for a claim the ledger has no entry for yet (as ``ledger show`` counts it)."""
    entries = latest_entries(session, cast(int, pr.id))
    corrected = entries_by_id(session, {e.corrects_id for e in entries.values() if e.corrects_id})
    repo = board.repository_names().get(pr.repository_id)
    found = {
        keys.get(rule_id, "?"): ledger_entry(RuleResult.of(entry, pr), repo, corrected, settings)
        for rule_id, entry in entries.items()
    }
    for verdict in verdicts:
        key = keys.get(verdict.rule_id, "?")
        if verdict.decision == "merge" and key not in found:
            found[key] = {**_UNSETTLED, "private": repo is None or repo.hidden}
    return [
        {
            "rule": key,
            "url": _rule_url(key),
            **{k: v for k, v in result.items() if k != "pull_request"},
        }
        for key, result in sorted(found.items())
    ]
