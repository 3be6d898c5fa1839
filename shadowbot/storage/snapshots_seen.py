"""What the live bot saw of a pull request, kept for ``shadowbot export``.

Each evaluation's :class:`~shadowbot.snapshot.Snapshot` is reduced to its facts in the
history format's terms (docs/history-format.md: actors, files with their owners, reviews,
checks) and stored when they differ from the pull request's previous ones: evaluating the
same pull request again after a webhook that changed nothing the rules read stores
nothing. The facts are JSON compressed with zstd (a pull request's file list repeats its
folders), the same frames as the webhook bodies.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import orjson
from sqlmodel import Session, col, select

from shadowbot.snapshot import Actor, FileChange, Snapshot
from shadowbot.storage.bodies import compress_body, decompress_body
from shadowbot.storage.models import PullRequestRow, SnapshotSeenRow

Json = dict[str, Any]


def actor_facts(actor: Actor) -> Json:
    """An actor as a history record gives one."""
    return {
        "login": actor.login,
        "type": actor.type,
        "association": actor.association,
        "permission": actor.permission,
    }


def file_facts(change: FileChange, owners: Any) -> Json:
    """A changed file with its code owners (``owners``: the snapshot's map by path)."""
    found: Json = {
        "path": change.path,
        "status": change.status,
        "additions": change.additions,
        "deletions": change.deletions,
        "owners": list(owners.get(change.path, ())),
    }
    if change.previous_path is not None:
        found["previous_path"] = change.previous_path
        if change.status == "renamed":
            found["previous_owners"] = list(owners.get(change.previous_path, ()))
    return found


def facts_of(pr: Snapshot) -> Json:
    """The facts of ``pr`` a history record can give (all but the snapshot's times)."""
    return {
        "title": pr.title,
        "body": pr.body,
        "author": actor_facts(pr.author),
        "base": pr.base,
        "created_at": pr.created_at.isoformat(),
        "head": pr.head_sha,
        "draft": pr.draft,
        "labels": sorted(pr.labels),
        "files": [file_facts(change, pr.code_owners) for change in pr.files],
        "reviews": [
            {
                "by": actor_facts(review.author),
                "state": review.state,
                "commit": review.commit,
                "at": review.submitted_at.isoformat(),
            }
            for review in pr.reviews
        ],
        "checks": sorted(
            (
                {"name": ci.name, "source": ci.source, "state": ci.state, "commit": ci.commit}
                for ci in pr.ci
            ),
            key=lambda check: (check["name"], check["source"], check["commit"]),
        ),
    }


def remember(session: Session, row: PullRequestRow, pr: Snapshot, at: datetime) -> bool:
    """Store ``pr``'s facts as seen at ``at`` unless they are the pull request's newest
    stored facts already; whether they were stored (the caller commits)."""
    facts = orjson.dumps(facts_of(pr), option=orjson.OPT_SORT_KEYS)
    digest = hashlib.sha256(facts).hexdigest()
    newest = session.exec(
        select(SnapshotSeenRow.digest)
        .where(SnapshotSeenRow.pull_request_id == row.id)
        .order_by(col(SnapshotSeenRow.id).desc())
        .limit(1)
    ).first()
    if newest == digest:
        return False
    session.add(
        SnapshotSeenRow(
            pull_request_id=cast(int, row.id),
            head_sha=pr.head_sha,
            taken_at=at,
            digest=digest,
            facts_zstd=compress_body(facts),
        )
    )
    return True


@dataclass(frozen=True, slots=True)
class Seen:
    """One stored snapshot: when the bot took it, and its facts (:func:`facts_of`)."""

    at: datetime
    facts: Json


def seen(session: Session, pull_request_id: int) -> Iterator[Seen]:
    """The pull request's stored snapshots, oldest first."""
    rows = session.exec(
        select(SnapshotSeenRow.taken_at, SnapshotSeenRow.facts_zstd)
        .where(SnapshotSeenRow.pull_request_id == pull_request_id)
        .order_by(col(SnapshotSeenRow.id))
    )
    for taken_at, stored in rows:
        yield Seen(taken_at, orjson.loads(decompress_body(stored)))
