"""``shadowbot export``: what the live bot recorded, written as a history
(docs/history-format.md, schema 1), so that a new rule version can be backtested on
exactly what the live version saw.

A pull request's timeline is rebuilt from the snapshots the bot stored when their facts
changed (:mod:`shadowbot.storage.snapshots_seen`) and from its outcomes:

- ``opened`` at the pull request's creation, with the head, draft state, labels and files
  of the first snapshot the bot took;
- then, from one snapshot to the next, at the time the bot took the later one: ``push``
  (a new head, with its files), ``labeled``/``unlabeled``, ``ready_for_review``/
  ``converted_to_draft``, ``edited`` and ``check`` (a result new or changed on the head);
- each review at the time GitHub recorded it (its ``submitted_at``);
- ``merged``, ``closed``, ``reopened`` and ``reverted`` at GitHub's times.

What the bot never saw is not there: a push and a push back between two evaluations, a
check that came and went. Actors of outcomes are known by login only. Records are written
in the order of their last event, as the format asks, one repository per file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any, cast

import sqlalchemy as sa
from sqlmodel import Session, col, select

from shadowbot.errors import ShadowbotError
from shadowbot.offline.collect_records import show_time
from shadowbot.offline.collect_state import record_line
from shadowbot.offline.history import SCHEMA_VERSION
from shadowbot.storage import OutcomeRow, PullRequestRow, RepositoryRow, SnapshotSeenRow
from shadowbot.storage.snapshots_seen import Seen, seen

Json = dict[str, Any]
#: A revert's ``detail`` names the reverting pull request: ``owner/repo#N``.
_REVERTING = re.compile(r"#(\d+)$")
#: What may follow ``merged`` in a timeline (docs/history-format.md).
_AFTER_MERGE = frozenset({"comment", "reverted"})


class ExportError(ShadowbotError):
    """Nothing to export, or the repository is not named when it must be."""


@dataclass(frozen=True, slots=True)
class Exported:
    repository: str
    records: int
    events: int


def export_history(session: Session, out: IO[bytes], repository: str | None = None) -> Exported:
    """Write ``repository``'s history as the bot saw it to ``out`` (the only repository
    with recorded snapshots when None)."""
    repo = _repository(session, repository)
    out.write(
        record_line(
            {
                "shadowbot_history": SCHEMA_VERSION,
                "repository": repo.full_name,
                "description": "exported from shadowbot's live records",
            }
        )
    )
    records = events = 0
    for pr in _in_order_of_last_event(session, cast(int, repo.id)):
        snapshots = list(seen(session, cast(int, pr.id)))
        outcomes = session.exec(
            select(OutcomeRow)
            .where(OutcomeRow.pull_request_id == pr.id)
            .order_by(col(OutcomeRow.at), col(OutcomeRow.id))
        ).all()
        record = record_of(pr, snapshots, outcomes)
        out.write(record_line(record))
        records += 1
        events += len(record["events"])
    return Exported(repo.full_name, records, events)


def _repository(session: Session, wanted: str | None) -> RepositoryRow:
    with_snapshots = session.exec(
        select(RepositoryRow)
        .where(
            col(RepositoryRow.id).in_(
                select(PullRequestRow.repository_id).where(
                    col(PullRequestRow.id).in_(select(SnapshotSeenRow.pull_request_id))
                )
            )
        )
        .order_by(col(RepositoryRow.full_name))
    ).all()
    names = [r.full_name for r in with_snapshots]
    if wanted is not None:
        found = next((r for r in with_snapshots if r.full_name.lower() == wanted.lower()), None)
        if found is None:
            known = ", ".join(names) or "none"
            raise ExportError(f"no pull request of {wanted} was seen (repositories seen: {known})")
        return found
    if not with_snapshots:
        raise ExportError("the bot has seen no pull request yet: nothing to export")
    if len(with_snapshots) > 1:
        raise ExportError(
            f"the bot saw {len(names)} repositories ({', '.join(names)}):"
            " name one with --repository OWNER/REPO"
        )
    return with_snapshots[0]


def _in_order_of_last_event(session: Session, repository_id: int) -> Iterable[PullRequestRow]:
    """The repository's pull requests with a snapshot, by the time of their last event
    (the last snapshot or outcome), read one at a time."""
    seen = _newest(col(SnapshotSeenRow.pull_request_id), col(SnapshotSeenRow.taken_at))
    ended = _newest(col(OutcomeRow.pull_request_id), col(OutcomeRow.at))
    rows = session.exec(
        select(PullRequestRow.id, seen.c.at, ended.c.at)
        .join(seen, seen.c.pr_id == PullRequestRow.id)
        .outerjoin(ended, ended.c.pr_id == PullRequestRow.id)
        .where(PullRequestRow.repository_id == repository_id)
    ).all()
    for pr_id, _, _ in sorted(rows, key=lambda r: (max(r[1], r[2] or r[1]), r[0])):
        yield cast(PullRequestRow, session.get(PullRequestRow, pr_id))


def _newest(pr_id: Any, at: Any) -> Any:
    """Each pull request's newest ``at``, as a subquery of ``pr_id`` and ``at``."""
    return select(pr_id.label("pr_id"), sa.func.max(at).label("at")).group_by(pr_id).subquery()


def record_of(pr: PullRequestRow, snapshots: list[Seen], outcomes: Iterable[OutcomeRow]) -> Json:
    """One history record: ``pr`` as its snapshots and outcomes tell it."""
    first, last = snapshots[0].facts, snapshots[-1].facts
    created = datetime.fromisoformat(first["created_at"])
    timed: list[tuple[datetime, Json]] = []
    before: Json = {
        "labels": first["labels"],
        "draft": first["draft"],
        "head": first["head"],
        "title": first["title"],
        "body": first["body"],
        "reviews": [],
        "checks": [],
    }
    for index, snapshot in enumerate(snapshots):
        # To the second, as GitHub's times are: a snapshot the bot took in the second of a
        # merge came before it (outcomes are sorted after changes at the same time).
        at = max(snapshot.at.replace(microsecond=0), created)
        timed += _changes(before, snapshot.facts, at, opened=index == 0)
        before = snapshot.facts
    timed += [_outcome(o, last["head"]) for o in outcomes if o.kind != "reverted" or _reverting(o)]
    timed.sort(key=lambda item: item[0])  # stable: a snapshot's changes keep their order
    events = [
        {
            "type": "opened",
            "at": show_time(created),
            "head": first["head"],
            "draft": first["draft"],
            "labels": first["labels"],
            "files": first["files"],
        }
    ]
    merged = False
    for at, event in timed:
        if merged and event["type"] not in _AFTER_MERGE:
            continue  # the bot's last look came after the merge it had not heard of yet
        merged = merged or event["type"] == "merged"
        events.append({"type": event["type"], "at": show_time(max(at, created)), **event["facts"]})
    return {
        "number": pr.number,
        "title": last["title"],
        "body": last["body"],
        "author": first["author"],
        "base": last["base"],
        "created_at": show_time(created),
        "events": events,
    }


def _event(kind: str, **facts: Any) -> Json:
    return {"type": kind, "facts": facts}


def _changes(before: Json, now: Json, at: datetime, *, opened: bool) -> list[tuple[datetime, Json]]:
    """The events that take a pull request from the facts ``before`` to ``now``."""
    found: list[tuple[datetime, Json]] = []
    if not opened and now["head"] != before["head"]:
        found.append((at, _event("push", head=now["head"], files=now["files"])))
    for label in sorted(set(now["labels"]) - set(before["labels"])):
        found.append((at, _event("labeled", label=label)))
    for label in sorted(set(before["labels"]) - set(now["labels"])):
        found.append((at, _event("unlabeled", label=label)))
    if now["draft"] != before["draft"]:
        found.append((at, _event("converted_to_draft" if now["draft"] else "ready_for_review")))
    edited = {key: now[key] for key in ("title", "body") if now[key] != before[key]}
    if edited and not opened:
        found.append((at, _event("edited", **edited)))
    known = {_review_key(review) for review in before["reviews"]}
    for review in now["reviews"]:
        if _review_key(review) not in known:
            submitted = datetime.fromisoformat(review["at"])
            facts = {"by": review["by"], "state": review["state"], "commit": review["commit"]}
            found.append((submitted, _event("review", **facts)))
    results = {_check_key(check): check["state"] for check in before["checks"]}
    for check in now["checks"]:
        if results.get(_check_key(check)) != check["state"]:
            found.append((at, _event("check", **check)))
    return found


def _review_key(review: Json) -> tuple[str, str, str, str]:
    return (review["by"]["login"], review["state"], review["commit"], review["at"])


def _check_key(check: Json) -> tuple[str, str, str]:
    return (check["name"], check["source"], check["commit"])


def _reverting(outcome: OutcomeRow) -> int | None:
    found = _REVERTING.search(outcome.detail or "")
    return int(found.group(1)) if found else None


def _outcome(outcome: OutcomeRow, head: str) -> tuple[datetime, Json]:
    """An outcome as an event; a merge without its SHA merged the last head seen."""
    by = {"login": outcome.actor_login or "ghost"}
    if outcome.kind == "merged":
        return outcome.at, _event("merged", by=by, commit=outcome.sha or head)
    if outcome.kind == "reverted":
        return outcome.at, _event("reverted", by=by, pr=_reverting(outcome))
    return outcome.at, _event(outcome.kind, by=by)
