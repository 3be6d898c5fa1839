"""A rule version's page as plain data, for ``/rules/<name>[/v<version>]`` and its JSON:
its description and checks, its versions, its record (``ledger show``'s figures, and the
report's sentences about them), its ledger with losses first, the notes about it and the
history of its state."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, cast

from sqlmodel import Session

from shadowbot.core.figures import AUTHOR_KINDS
from shadowbot.offline.evidence_report import bound_sentence
from shadowbot.offline.ledger_view import human_duration, percent, tally_as_dict, view_as_dict
from shadowbot.settings import Settings
from shadowbot.storage import LedgerEntryRow, RuleRow
from shadowbot.storage.ledger_store import audit_events
from shadowbot.storage.pages_queries import (
    checklist_of,
    entries_by_id,
    notes_about,
    rule_versions,
)
from shadowbot.storage.pages_records import RuleResult, rule_results
from shadowbot.web import links
from shadowbot.web.board import Board
from shadowbot.web.leaderboard import progress
from shadowbot.web.params import PageNotFound
from shadowbot.web.records import Repo

#: Ledger entries per page of a rule's page (losses first, so its first page has them).
LEDGER_PAGE_SIZE = 50
#: What an evidence link may show (its ids are internal).
_EVIDENCE_KEYS = ("kind", "content", "by", "at", "head", "sha", "detail")
NO_BACKTEST = "no backtest stored for this version"


def find_version(session: Session, board: Board, name: str, version: int | None) -> RuleRow:
    rows = rule_versions(session, name)
    if not rows:
        known = ", ".join(sorted({v.name for v in board.views})) or "none yet"
        raise PageNotFound(f"no rule named {name!r} is recorded; known rules: {known}")
    if version is None:
        return rows[-1]
    found = next((row for row in rows if row.version == version), None)
    if found is None:
        shown = ", ".join(f"v{row.version}" for row in rows)
        raise PageNotFound(f"rule {name} has no version {version}; recorded versions: {shown}")
    return found


def rule_page(
    session: Session, board: Board, settings: Settings, name: str, version: int | None, page: int
) -> dict[str, Any]:
    row = find_version(session, board, name, version)
    view = board.view(f"{row.name}@{row.version}")
    if view is None:  # recorded after the board was read: the next request has it
        raise PageNotFound(f"rule {row.name}@{row.version} was just recorded; reload the page")
    rule_id = board.rule_id(view)
    record = view.figures
    ledger = _ledger(session, board, settings, rule_id, page)
    thresholds = settings.thresholds_for(view.name)
    rate = settings.promote_max_loss_rate
    newest_prs = list(board.records[rule_id].newest_prs)
    keys = board.keys
    return {
        "rule": {
            **view_as_dict(view),
            "description": view.description,
            "first_seen_at": view.first_seen_at.isoformat() if view.first_seen_at else None,
            "badge_url": links.badge_url(view.name),
        },
        "current": row.version == max(v.version for v in board.views if v.name == view.name),
        "checks": [
            {"check": str(item.get("check", ""))}
            for item in checklist_of(session, rule_id, newest_prs)
        ],
        "versions": [
            {
                "version": v.version,
                "state": v.state,
                "wins": v.figures.wins,
                "losses": v.figures.losses,
                "url": links.rule_url(v.name, v.version),
                "shown": v.version == view.version,
            }
            for v in board.views
            if v.name == view.name
        ],
        "summary": {
            "loss_rate": bound_sentence(record.wins, record.losses, record.loss_bound),
            "coverage": _coverage(record.wins, record.missed, record.coverage),
            "time_saved": _saved(record.saved_total.total_seconds(), record.saved_median),
            "backtest": NO_BACKTEST,
        },
        "by_author": {kind: tally_as_dict(record.by_author[kind]) for kind in AUTHOR_KINDS},
        "progress": progress(
            record,
            thresholds,
            rate,
            board.overrides.get(rule_id, ()),
            board.settled.get(rule_id, ()),
        ),
        "trend": board.trend(rule_id),
        "ledger": ledger,
        "notes": _notes(session, board, view.name),
        "history": [
            {
                "at": e.at.isoformat(),
                "actor": e.actor,
                "action": e.action,
                "reason": e.reason,
                "detail": e.detail,
                "rule": keys.get(cast(int, e.rule_id), ""),
            }
            for e in reversed(audit_events(session, rule_id))
        ],
    }


def _coverage(wins: int, missed: int, coverage: float | None) -> str:
    if coverage is None:
        return "no win or missed merge yet."
    return f"{percent(coverage)} ({wins} wins of {wins + missed} clean merges it saw)."


def _saved(total: float, median: timedelta | None) -> str:
    if median is None:
        return "no timed win yet."
    return (
        f"{human_duration(timedelta(seconds=total))} in total,"
        f" {human_duration(median)} per win (median)."
    )


def _ledger(
    session: Session,
    board: Board,
    settings: Settings,
    rule_id: int,
    page: int,
) -> dict[str, Any]:
    """One page of the rule's ledger, losses first: the order is the board's
    (:attr:`RuleRecord.ledger_order`), the details are read for the page's entries only."""
    ordered = board.records[rule_id].ledger_order
    pages = max(1, math.ceil(len(ordered) / LEDGER_PAGE_SIZE))
    if page > pages:
        raise PageNotFound(f"no page {page}: this rule's ledger has {pages} page(s)")
    wanted = ordered[(page - 1) * LEDGER_PAGE_SIZE : page * LEDGER_PAGE_SIZE]
    found = {result.id: result for result in rule_results(session, wanted)}
    shown = [found[entry_id] for entry_id in wanted if entry_id in found]
    corrected = entries_by_id(session, {c.corrects_id for c in shown if c.corrects_id})
    repos = board.repository_names()
    return {
        "total": len(ordered),
        "page": page,
        "pages": pages,
        "entries": [
            ledger_entry(c, repos.get(c.repository_id), corrected, settings) for c in shown
        ],
    }


def ledger_entry(
    entry: RuleResult,
    repo: Repo | None,
    corrected: Mapping[int, LedgerEntryRow],
    settings: Settings,
) -> dict[str, Any]:
    """One result with its evidence; a hidden repository's without its details."""
    hidden = repo is None or repo.hidden
    before = corrected.get(entry.corrects_id) if entry.corrects_id else None
    return {
        "result": entry.result,
        "reason": entry.reason,
        "at": entry.at.isoformat() if entry.at else None,
        "settled_at": entry.settled_at.isoformat(),
        "disputed": any(link.get("kind") == "disputed" for link in entry.evidence),
        "saved_seconds": entry.saved_seconds,
        "corrects": None if before is None else {"result": before.result, "reason": before.reason},
        "private": hidden,
        "pull_request": None if hidden or repo is None else pr_reference(repo, entry, settings),
        "evidence": []
        if hidden
        else [
            {key: link.get(key) for key in _EVIDENCE_KEYS}
            for link in entry.evidence
            if link.get("kind") != "disputed"
        ],
    }


def pr_reference(repo: Repo, entry: RuleResult, settings: Settings) -> dict[str, Any]:
    return {
        "repository": repo.full_name,
        "number": entry.number,
        "title": entry.title,
        "author": entry.author_login,
        "url": links.pr_url(repo.full_name, entry.number),
        "github_url": links.github_pr_url(settings.github_web_url, repo.full_name, entry.number),
    }


def _notes(session: Session, board: Board, name: str) -> list[dict[str, Any]]:
    repos = board.repository_names()
    found = []
    for note, pr in notes_about(session, name):
        repo = repos.get(pr.repository_id)
        if repo is None or repo.hidden:
            continue
        found.append(
            {
                "author": note.author_login,
                "body": note.body,
                "at": note.at.isoformat(),
                "pull_request": f"{repo.full_name}#{pr.number}",
                "url": links.pr_url(repo.full_name, pr.number),
            }
        )
    return found
