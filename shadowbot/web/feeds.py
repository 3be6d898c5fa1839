"""The audit log page, the Atom feed of state changes, the ledger as CSV and the evidence
report, as the pages serve them (a hidden repository's details left out of each)."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import Any, cast
from xml.etree import ElementTree

from sqlmodel import Session

from shadowbot.offline.evidence_report import Loss, gather_report, render_report
from shadowbot.offline.ledger_view import shown_state
from shadowbot.settings import Settings
from shadowbot.storage import AuditEventRow
from shadowbot.storage.evidence import rule_keys
from shadowbot.storage.pages_queries import audit_page as audit_rows
from shadowbot.storage.pages_queries import state_events
from shadowbot.storage.pages_records import every_entry
from shadowbot.web import links
from shadowbot.web.board import Board
from shadowbot.web.params import PageNotFound

AUDIT_PAGE_SIZE = 50
FEED_SIZE = 50
PRIVATE = "a private repository"
CSV_COLUMNS = (
    "entry_id",
    "rule",
    "name",
    "version",
    "repository",
    "number",
    "author_kind",
    "result",
    "reason",
    "at",
    "settled_at",
    "corrects_id",
    "current",
    "disputed",
    "saved_seconds",
    "evidence",
)
_ATOM = "http://www.w3.org/2005/Atom"


def event(row: AuditEventRow, keys: Mapping[int, str]) -> dict[str, Any]:
    key = keys.get(row.rule_id, "") if row.rule_id is not None else ""
    name, _, version = key.partition("@")
    return {
        "id": row.id,
        "at": row.at.isoformat(),
        "actor": row.actor,
        "action": row.action,
        "rule": key or None,
        "url": links.rule_url(name, int(version)) if version.isdigit() else None,
        "reason": row.reason,
        "detail": row.detail,
        "from": shown_state(str(row.detail.get("from"))) if "from" in row.detail else None,
        "to": shown_state(str(row.detail.get("to"))) if "to" in row.detail else None,
    }


def audit_page(session: Session, page: int) -> dict[str, Any]:
    """One page of every change of state and manual override, newest first."""
    rows, total = audit_rows(session, (page - 1) * AUDIT_PAGE_SIZE, AUDIT_PAGE_SIZE)
    pages = max(1, math.ceil(total / AUDIT_PAGE_SIZE))
    if page > pages:
        raise PageNotFound(f"no page {page}: the audit log has {pages} page(s)")
    keys = rule_keys(session)
    return {
        "total": total,
        "page": page,
        "pages": pages,
        "events": [event(row, keys) for row in rows],
        "links": {
            "newer": links.with_query(links.AUDIT, {"page": str(page - 1)}) if page > 1 else None,
            "older": links.with_query(links.AUDIT, {"page": str(page + 1)})
            if page < pages
            else None,
        },
    }


def atom_feed(session: Session, base_url: str) -> bytes:
    """The newest changes of state as an Atom feed (RFC 4287); ``base_url`` makes its
    links absolute."""
    keys = rule_keys(session)
    events = [event(row, keys) for row in state_events(session, FEED_SIZE)]
    ElementTree.register_namespace("", _ATOM)
    feed = ElementTree.Element(f"{{{_ATOM}}}feed")
    _add(feed, "title", "shadowbot: rule state changes")
    _add(feed, "id", f"{base_url}{links.FEED}")
    _add(feed, "updated", events[0]["at"] if events else "1970-01-01T00:00:00+00:00")
    _link(feed, f"{base_url}{links.FEED}", "self")
    _link(feed, f"{base_url}/", "alternate")
    author = ElementTree.SubElement(feed, f"{{{_ATOM}}}author")
    _add(author, "name", "shadowbot")
    for item in events:
        entry = ElementTree.SubElement(feed, f"{{{_ATOM}}}entry")
        _add(entry, "title", f"{item['rule']}: {item['from']} → {item['to']}")
        _add(entry, "id", f"{base_url}{links.AUDIT}#event-{item['id']}")
        _add(entry, "updated", item["at"])
        _link(entry, f"{base_url}{item['url'] or links.AUDIT}", "alternate")
        _add(entry, "summary", f"{item['reason']} ({item['actor']})")
    return cast(bytes, ElementTree.tostring(feed, encoding="utf-8", xml_declaration=True))


def _add(parent: ElementTree.Element, tag: str, text: str) -> None:
    ElementTree.SubElement(parent, f"{{{_ATOM}}}{tag}").text = text


def _link(parent: ElementTree.Element, href: str, rel: str) -> None:
    ElementTree.SubElement(parent, f"{{{_ATOM}}}link", href=href, rel=rel)


def ledger_csv(session: Session, board: Board) -> str:
    """Every ledger entry ever written, oldest first; ``current`` marks the newest of
    each (rule version, PR), which is its result."""
    keys = rule_keys(session)
    repos = board.repository_names()
    rows = every_entry(session)
    newest = {(row.rule_id, row.pull_request_id): row.id for row in rows}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        key = keys.get(row.rule_id, "?")
        repo = repos.get(row.repository_id)
        hidden = repo is None or repo.hidden
        writer.writerow(
            _cells(
                row.id,
                key,
                *key.split("@", 1),
                PRIVATE if hidden or repo is None else repo.full_name,
                "" if hidden else row.number,
                "bot" if row.author_type == "Bot" else "person",
                row.result,
                row.reason,
                row.at.isoformat() if row.at else "",
                row.settled_at.isoformat(),
                row.corrects_id or "",
                newest[row.rule_id, row.pull_request_id] == row.id,
                any(link.get("kind") == "disputed" for link in row.evidence),
                "" if row.saved_seconds is None else row.saved_seconds,
                "" if hidden else _evidence_text(row.evidence),
            )
        )
    return out.getvalue()


def _evidence_text(evidence: Iterable[Mapping[str, Any]]) -> str:
    parts = []
    for link in evidence:
        if link.get("kind") == "disputed":
            continue
        content = {"+1": " 👍", "-1": " 👎"}.get(str(link.get("content")), "")
        who = f" by {link['by']}" if link.get("by") else ""
        detail = f" ({link['detail']})" if link.get("detail") else ""
        parts.append(f"{link.get('kind')}{content}{who} at {link.get('at')}{detail}")
    return "; ".join(parts)


def _cells(*values: object) -> list[str]:
    """Text a spreadsheet would not run as a formula (OWASP: CSV injection)."""
    cells = []
    for value in values:
        text = str(value).lower() if isinstance(value, bool) else str(value)
        cells.append("'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text)
    return cells


def report_markdown(session: Session, settings: Settings, board: Board, now: datetime) -> str:
    """``shadowbot report``'s evidence, a hidden repository's losses shown without their
    pull request, title or people, and its notes left out."""
    data = gather_report(session, settings, None, now)
    hidden = {repo.full_name for repo in board.repositories if repo.hidden}

    def repository(reference: str) -> str:
        return reference.rpartition("#")[0]

    losses = {
        key: [
            Loss(PRIVATE, "", loss.reason, loss.at)
            if repository(loss.pull_request) in hidden
            else loss
            for loss in found
        ]
        for key, found in data.losses.items()
    }
    notes = {
        name: [note for note in found if repository(note.pull_request) not in hidden]
        for name, found in data.notes.items()
    }
    return render_report(replace(data, losses=losses, notes=notes))
