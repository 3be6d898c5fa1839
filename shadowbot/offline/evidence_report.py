"""``shadowbot report``: the evidence for a policy proposal, in Markdown.

A summary table of every rule version, then each rule's record with its loss-rate bound,
coverage, time saved, every loss with its PR and who objected when, and the notes about
the rule; last, whether enough rules are promoted for a proposal (DESIGN.md,
``rfc_ready_rules``). Reading the database is :func:`gather_report`; the rest is pure.

PR titles, notes and logins are untrusted: each goes through
:func:`shadowbot.live.comments.escape_text`, so the report can be pasted anywhere
Markdown is rendered without running HTML, pinging anyone or breaking a table.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlmodel import Session, col, select

from shadowbot.core.confidence import CONFIDENCE
from shadowbot.core.figures import wins_needed
from shadowbot.core.ledger import Thresholds
from shadowbot.live.comments import clip, code, escape_text
from shadowbot.offline.ledger_view import (
    RuleView,
    human_duration,
    load_views,
    percent,
    saved_total,
    select_views,
)
from shadowbot.settings import Settings
from shadowbot.storage import NoteVersionRow, PullRequestRow, RepositoryRow
from shadowbot.storage.evidence import rule_keys
from shadowbot.storage.ledger_store import current_results, last_settlement
from shadowbot.storage.pages_records import rule_results

#: ``owner/repo#N`` shown as is (GitHub links it); anything else is escaped.
_PR_REFERENCE = re.compile(r"[A-Za-z0-9_.-]{1,100}/[A-Za-z0-9_.-]{1,100}#[0-9]{1,10}\Z")
_TITLE_LIMIT = 120
_NO_BACKTEST = "no backtest stored for this version"


@dataclass(frozen=True, slots=True)
class Loss:
    """A loss in the ledger, with the links that make it checkable."""

    pull_request: str  # owner/repo#N
    title: str
    reason: str
    at: datetime | None
    evidence: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True, slots=True)
class Note:
    pull_request: str
    author: str
    body: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ReportData:
    #: Every rule version (the promoted set counts them all) and those to describe.
    views: Sequence[RuleView]
    chosen: Sequence[RuleView]
    losses: Mapping[str, Sequence[Loss]]  # by rule key
    notes: Mapping[str, Sequence[Note]]  # by rule name
    thresholds: Thresholds
    settled_at: datetime | None
    generated_at: datetime
    promote_max_loss_rate: float | None = None
    rule_thresholds: Mapping[str, Thresholds] = field(default_factory=dict)


# -- reading the database --------------------------------------------------------------


def gather_report(
    session: Session, settings: Settings, rule: str | None, now: datetime
) -> ReportData:
    views = load_views(session, settings)
    chosen = select_views(views, rule)
    repos = {r.id: r.full_name for r in session.exec(select(RepositoryRow))}
    keys = {f"{v.name}@{v.version}" for v in chosen}
    losses: dict[str, list[Loss]] = defaultdict(list)
    by_id = rule_keys(session)
    # Every current entry as columns, then the details of the losses alone (a ledger has
    # tens of thousands of entries, and few losses).
    lost = {
        current.id: by_id.get(current.rule_id, "")
        for current in current_results(session)
        if current.result == "loss" and by_id.get(current.rule_id, "") in keys
    }
    for loss in rule_results(session, lost):
        reference = f"{repos.get(loss.repository_id, '?')}#{loss.number}"
        losses[lost[loss.id]].append(
            Loss(reference, loss.title, loss.reason, loss.at, loss.evidence)
        )
    last = last_settlement(session)
    return ReportData(
        views=views,
        chosen=chosen,
        losses=losses,
        notes=_notes(session, {v.name for v in chosen}, repos),
        thresholds=settings.thresholds,
        settled_at=last.at if last else None,
        generated_at=now,
        promote_max_loss_rate=settings.promote_max_loss_rate,
        rule_thresholds=settings.rule_thresholds,
    )


def _notes(
    session: Session, names: set[str], repos: Mapping[int | None, str]
) -> dict[str, list[Note]]:
    """The notes about each rule as they stand: the newest version of each comment (an
    edit may drop or change the rule it names), unless that version deleted it."""
    rows = session.exec(
        select(NoteVersionRow, PullRequestRow)
        .join(PullRequestRow, col(PullRequestRow.id) == col(NoteVersionRow.pull_request_id))
        .order_by(col(NoteVersionRow.id))
    )
    newest = {note.comment_id: (note, pr) for note, pr in rows}
    found: dict[str, list[Note]] = defaultdict(list)
    for note, pr in sorted(newest.values(), key=lambda pair: (pair[0].at, pair[0].comment_id)):
        if note.deleted or note.rule_name not in names:
            continue
        reference = f"{repos.get(pr.repository_id, '?')}#{pr.number}"
        found[note.rule_name].append(Note(reference, note.author_login, note.body, note.at))
    return found


# -- rendering -------------------------------------------------------------------------


def render_report(data: ReportData) -> str:
    lines = [
        "# shadowbot evidence report",
        "",
        f"Generated {_when(data.generated_at)} from the live ledger"
        + (
            f", as settled at {_when(data.settled_at)}."
            if data.settled_at
            else " (no settlement has run yet)."
        ),
        "Every rule ran in shadow mode: it said what it would do and never merged.",
        "",
        *_thresholds(data),
        "",
        "## Summary",
        "",
        *_summary(data.chosen),
        "",
        *_promoted(data),
    ]
    for view in data.chosen:
        lines += ["", *_rule_section(view, data)]
    return "\n".join(lines) + "\n"


def _when(at: datetime | None) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC") if at else "an unknown time"


def _thresholds(data: ReportData) -> list[str]:
    t, rate = data.thresholds, data.promote_max_loss_rate
    promote = f"{wins_needed(t, rate)} wins"
    if rate is not None:
        promote += f" (the clean wins that bound the loss rate at {percent(rate)})"
    lines = [
        f"Thresholds: a rule with more than {t.max_losses} losses is disabled; one with"
        f" {promote} and no loss is promoted; {t.rfc_ready_rules} promoted rules make a"
        " policy proposal."
    ]
    for name, own in sorted(data.rule_thresholds.items()):
        lines.append(
            f"- {code(name)}: disabled after more than {own.max_losses} losses,"
            f" promoted at {wins_needed(own, rate)} wins."
        )
    return lines


_SUMMARY_HEADINGS = (
    "rule",
    "state",
    "wins",
    "losses",
    "neutral",
    "closed unmerged",
    "missed",
    "pending",
    "errors",
    "loss-rate bound",
    "coverage",
    "time saved",
)


def _summary(views: Sequence[RuleView]) -> list[str]:
    if not views:
        return ["No rule version is recorded yet."]
    lines = [
        "| " + " | ".join(_SUMMARY_HEADINGS) + " |",
        "|" + "|".join(["---", "---"] + ["--:"] * (len(_SUMMARY_HEADINGS) - 2)) + "|",
    ]
    for v in views:
        f = v.figures
        cells = [
            code(v.key),
            _state(v),
            *(str(n) for n in (f.wins, f.losses, f.neutral, f.closed_unmerged, f.missed)),
            str(f.pending),
            str(f.errors),
            percent(f.loss_bound),
            percent(f.coverage),
            saved_total(f),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def _state(view: RuleView) -> str:
    return f"{view.state} (manual override)" if view.manual else view.state


def _promoted(data: ReportData) -> list[str]:
    promoted = [v for v in data.views if v.state == "promoted"]
    needed = data.thresholds.rfc_ready_rules
    head = f"{len(promoted)} of {needed} promoted rules"
    if len(promoted) >= needed:
        verdict = f"{head}: ready for a policy proposal."
    else:
        more = needed - len(promoted)
        verdict = f"{head}: {more} more needed for a policy proposal."
    lines = ["## Promoted rules", "", verdict]
    if promoted:
        lines += ["", *(f"- {code(v.key)}: {escape_text(v.why or 'promoted')}" for v in promoted)]
    return lines


def _rule_section(view: RuleView, data: ReportData) -> list[str]:
    f = view.figures
    lines = [f"## {code(view.key)}", ""]
    if view.description:
        lines += [f"> {escape_text(view.description)}", ""]
    state = _state(view) + (f": {escape_text(view.why)}" if view.why else "")
    lines += [
        f"- **State:** {state}",
        f"- **Record:** {_record(view)}",
        f"- **Loss rate:** {bound_sentence(f.wins, f.losses, f.loss_bound)}",
        f"- **Coverage:** {_coverage(view)}",
        f"- **Time saved:** {_saved(view)}",
        f"- **By author kind:** {_by_author(view)}",
        f"- **Time span:** {_span(view)}",
        f"- **Backtest:** {_NO_BACKTEST}.",
    ]
    losses = data.losses.get(view.key, ())
    lines += ["", "### Losses", ""]
    lines += [loss_line(loss) for loss in losses] or ["None."]
    notes = data.notes.get(view.name, ())
    lines += ["", f"### Notes about {code(view.name)} (every version)", ""]
    lines += [note_line(note) for note in notes] or ["None."]
    return lines


def _record(view: RuleView) -> str:
    f = view.figures
    wins = f"{f.wins} wins" + (f" ({f.endorsed} endorsed by a 👍)" if f.endorsed else "")
    kinds = ((f.reverted, "reverted"), (f.disputed, "disputed"))
    details = [f"{n} {what}" for n, what in kinds if n]
    losses = f"{f.losses} losses" + (f" ({', '.join(details)})" if details else "")
    return (
        f"{wins}, {losses}, {f.neutral} neutral, {f.closed_unmerged} closed unmerged,"
        f" {f.missed} missed, {f.pending} pending, {f.errors} with errors."
    )


def bound_sentence(wins: int, losses: int, bound: float | None) -> str:
    """DESIGN.md's loss-rate bound in words."""
    if bound is None:
        return "no win or loss yet, so no bound on the loss rate."
    confidence = percent(CONFIDENCE)
    if losses == 0:
        return (
            f"with {wins} clean wins the loss rate is below {percent(bound)}"
            f" with {confidence} confidence."
        )
    if bound >= 1:
        return f"{wins} wins and {losses} losses: too few wins to bound the loss rate at all."
    return (
        f"with {wins} wins and {losses} losses the loss rate is below {percent(bound)}"
        f" with {confidence} confidence."
    )


def _coverage(view: RuleView) -> str:
    f = view.figures
    if f.coverage is None:
        return "no win or missed merge yet."
    return f"{percent(f.coverage)} ({f.wins} wins of {f.wins + f.missed} clean merges it saw)."


def _saved(view: RuleView) -> str:
    f = view.figures
    if f.saved_median is None:
        return "no timed win yet."
    return (
        f"{human_duration(f.saved_total)} in total, {human_duration(f.saved_median)}"
        " per win (median)."
    )


def _by_author(view: RuleView) -> str:
    parts = []
    for kind, label in (("bot", "bot PRs"), ("person", "people's PRs")):
        t = view.figures.by_author.get(kind)
        if t is None:
            continue
        parts.append(
            f"{label}: {t.wins} wins, {t.losses} losses, {t.missed} missed,"
            f" {t.pending} pending (loss-rate bound {percent(t.loss_bound)})"
        )
    return "; ".join(parts) + "."


def _span(view: RuleView) -> str:
    f = view.figures
    seen = f"first seen {_when(view.first_seen_at)}" if view.first_seen_at else ""
    if f.first_at is None or f.last_at is None:
        return f"no win or loss yet ({seen})." if seen else "no win or loss yet."
    span = f"wins and losses from {_when(f.first_at)} to {_when(f.last_at)}"
    return f"{span} ({seen})." if seen else f"{span}."


def pr_reference(text: str) -> str:
    """``owner/repo#N`` as is when it is one, else escaped."""
    return text if _PR_REFERENCE.match(text) else str(escape_text(text))


def _title(title: str) -> str:
    return f"“{escape_text(clip(title, _TITLE_LIMIT))}”" if title else ""


def loss_line(loss: Loss) -> str:
    """One loss: its PR and title, its reason, and who did what when."""
    head = f"- {pr_reference(loss.pull_request)} {_title(loss.title)}".rstrip()
    links = [_link(link) for link in loss.evidence if link.get("kind") != "disputed"]
    if not links:
        links = [f"on {_when(loss.at)}"]
    if any(link.get("kind") == "disputed" for link in loss.evidence):
        links.append("disputed: a merger also gave it 👍")
    return f"{head} — {escape_text(loss.reason)}: {'; '.join(links)}"


def _link(link: Mapping[str, Any]) -> str:
    kind = str(link.get("kind", ""))
    who = escape_text(link.get("by") or "someone")
    when = _iso_when(link.get("at"))
    if kind == "reaction":
        emoji = {"-1": "👎", "+1": "👍"}.get(str(link.get("content")), "a reaction")
        return f"{emoji} by {who} on {when}"
    if kind == "reverted":
        by_pr = str(link.get("detail") or "")
        reverting = f" by {pr_reference(by_pr)}" if by_pr else ""
        return f"reverted{reverting} ({who}) on {when}"
    return f"{escape_text(kind)} by {who} on {when}"


def _iso_when(value: object) -> str:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            parsed = None
        if parsed is not None and parsed.tzinfo is not None:
            return _when(parsed)
        return str(escape_text(value))
    return "an unknown time"


def note_line(note: Note) -> str:
    return (
        f"- {escape_text(note.author)} on {pr_reference(note.pull_request)},"
        f" {_when(note.at)}: {escape_text(note.body)}"
    )
