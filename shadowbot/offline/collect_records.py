"""A pull request as GitHub's GraphQL API gives it, turned into a history record
(docs/history-format.md, schema 1). Pure: no I/O.

What GitHub's API gives and how it is read:

- **Heads.** Each `PullRequestCommit` is a push of that commit, at its commit time; a
  `HeadRefForcePushedEvent` a push of its new commit at the time of the push (a commit
  listed both ways is pushed once, where it shows first). Commits
  made before the pull request was opened are its opening head (the last of them). A push of
  several commits at once therefore shows as several pushes; only the last is a head that
  checks ran on, and an earlier one has no checks of its own, which no rule can claim on.
- **Times.** The timeline comes in GitHub's order; a time earlier than the one before it (a
  rebased commit keeps its old date) is taken as the time before it, so events never go
  back in time. Checks are placed by their own times, never before their commit's push.
- **Files** are the pull request's files now, given on `opened` (GraphQL has no files per
  head, nor a renamed file's previous path). With ``--files-per-head`` the collector reads
  those from GitHub's REST API and :func:`add_files_per_head` puts each head's files on its
  `opened` or `push` event (the last head's are the files now) and a rename's previous path
  on the files now.
- **Checks.** A check run not completed is `pending` at its start; a completed one is its
  conclusion at its completion, after a `pending` at its start if it started earlier. A
  status is its latest state for that context on that commit.
- **Actors.** `association` is GitHub's `authorAssociation` where the item carries one (the
  author, reviews, comments), else the association the same login has elsewhere on the pull
  request, else `NONE`. `permission` is the login's permission among the repository's
  collaborators now (none if not one), when the credentials may read them (push access);
  else it is read from the association (`OWNER` admin, `MEMBER` and `COLLABORATOR` write,
  others none). A merger has at least write.
- **Dismissals.** GitHub shows a dismissed review as DISMISSED; its `ReviewDismissedEvent`
  says what it was. The review is written as it was submitted, and the dismissal as a
  DISMISSED review by the same reviewer on the same commit, when it happened (so an approval
  counted, and a change request was made, until then).
- **Titles.** A `RenamedTitleEvent` is an `edited` event with the new title, and the first
  one's previous title is the title the record opens with. A body's edits are not in the
  timeline: the body is the current one.
- **Merge and close.** A merge's own `ClosedEvent` is dropped; after `merged` only comments
  are kept (checks finishing later, labels added later are dropped).
- **Reverts** (:mod:`~shadowbot.offline.collect_reverts`): a merged pull request whose body says
  ``Reverts OWNER/REPO#N`` reverts #N, if #N was merged before it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

Json = dict[str, Any]

ACTOR_TYPES = frozenset({"User", "Bot", "Organization"})
PERMISSION_OF = {"OWNER": "admin", "MEMBER": "write", "COLLABORATOR": "write"}
MERGING = frozenset({"admin", "maintain", "write"})
FILE_STATUS = {
    "ADDED": "added",
    "DELETED": "removed",
    "MODIFIED": "modified",
    "RENAMED": "renamed",
    "COPIED": "copied",
    "CHANGED": "changed",
}
CONCLUSION = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "NEUTRAL": "neutral",
    "SKIPPED": "skipped",
    "CANCELLED": "cancelled",
    "TIMED_OUT": "failure",
    "ACTION_REQUIRED": "failure",
    "STARTUP_FAILURE": "error",
    "STALE": "cancelled",
}
STATUS_STATE = {
    "SUCCESS": "success",
    "FAILURE": "failure",
    "ERROR": "error",
    "PENDING": "pending",
    "EXPECTED": "pending",
}
#: The file statuses GitHub's REST API gives, all of them the format's.
REST_FILE_STATUSES = frozenset(
    {"added", "removed", "modified", "renamed", "copied", "changed", "unchanged"}
)
REVIEW_STATES = frozenset({"APPROVED", "CHANGES_REQUESTED", "COMMENTED", "DISMISSED"})
GHOST = {"__typename": "User", "login": "ghost"}
#: A merge's own ClosedEvent comes within this many seconds of its MergedEvent.
MERGE_CLOSE_SECONDS = 60.0


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def show_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _pushed(item: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The commit a timeline item puts at the head: a commit's, or a force-push's."""
    kind = item.get("__typename")
    if kind == "PullRequestCommit":
        commit: Mapping[str, Any] | None = item.get("pushed")
        return commit
    if kind == "HeadRefForcePushedEvent":
        after: Mapping[str, Any] | None = item.get("afterCommit")
        return after
    return None


def heads(items: Iterable[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(commit id, oid) of every commit the timeline puts at the head, in its order."""
    return [(commit["id"], commit["oid"]) for item in items if (commit := _pushed(item))]


class _Actors:
    """Actors as the format writes them, with the associations seen on the pull request."""

    def __init__(
        self,
        pr: Mapping[str, Any],
        items: Iterable[Mapping[str, Any]],
        permissions: Mapping[str, str] | None,
    ) -> None:
        self.permissions = permissions
        self.known: dict[str, str] = {}
        author = pr.get("author") or GHOST
        self.known[author["login"]] = pr.get("authorAssociation") or "NONE"
        for item in items:
            who, association = item.get("author"), item.get("authorAssociation")
            if who and association:
                self.known.setdefault(who["login"], association)

    def __call__(
        self,
        node: Mapping[str, Any] | None,
        association: str | None = None,
        *,
        merger: bool = False,
    ) -> Json:
        node = node or GHOST
        login = node["login"]
        association = association or self.known.get(login) or "NONE"
        if self.permissions is not None:
            permission = self.permissions.get(login.lower(), "none")
        else:
            permission = PERMISSION_OF.get(association, "none")
        if merger and permission not in MERGING:
            permission = "write"
        kind = node.get("__typename")
        return {
            "login": login,
            "type": kind if kind in ACTOR_TYPES else "User",
            "association": association,
            "permission": permission,
        }


def build_record(
    pr: Mapping[str, Any],
    items: list[Mapping[str, Any]],
    files: list[Mapping[str, Any]],
    checks: Mapping[str, list[Json]],
    owners: Callable[[str], list[str]] | None = None,
    permissions: Mapping[str, str] | None = None,
) -> Json:
    """The history record of ``pr`` (a node of the PULLS query) given all its timeline
    ``items``, all its ``files`` and the check contexts of each commit by oid;
    ``permissions`` by lowered login, when the repository's collaborators could be read."""
    actors = _Actors(pr, items, permissions)
    reviews = {
        i["id"]: i for i in items if i.get("__typename") == "PullRequestReview" and "id" in i
    }
    dismissed = {
        i["review"]["id"]: i["previousReviewState"]
        for i in items
        if i.get("__typename") == "ReviewDismissedEvent" and i.get("review")
    }
    created = parse_time(pr["createdAt"])
    merged_at = next(
        (parse_time(i["createdAt"]) for i in items if i.get("__typename") == "MergedEvent"), None
    )
    draft_events = [
        i["__typename"]
        for i in items
        if i.get("__typename") in ("ReadyForReviewEvent", "ConvertToDraftEvent")
    ]
    opened: Json = {
        "type": "opened",
        "at": show_time(created),
        "head": "",
        "draft": draft_events[0] == "ReadyForReviewEvent" if draft_events else pr["isDraft"],
        "labels": [],
        "files": [_file(f, owners) for f in files],
    }
    timeline: list[tuple[datetime, Json]] = [(created, opened)]
    pushes: list[tuple[str, datetime]] = []
    merged = False
    clock = created
    for item in items:
        kind = item.get("__typename")
        at = _item_time(item)
        if at is None:
            continue
        at = max(at, clock)
        pushed = _pushed(item)
        if pushed is not None:
            oid = pushed["oid"]
            if merged or any(oid == head for head, _ in pushes):
                continue  # a force-push's commit is listed as a commit too
            if at <= created and len(timeline) == 1:
                opened["head"] = oid
                pushes[:] = [(oid, created)]
                continue
            if not opened["head"]:
                opened["head"] = oid
                pushes.append((oid, created))
                continue
            pushes.append((oid, at))
            clock = at
            timeline.append((at, {"type": "push", "at": show_time(at), "head": oid}))
            continue
        event = _event(item, kind, actors, pushes, pr, reviews, dismissed)
        if event is None:
            continue
        if kind == "LabeledEvent" and at <= created and len(timeline) == 1:
            opened["labels"].append(event["label"])
            continue
        if kind == "ClosedEvent" and merged_at is not None:
            if (parse_time(item["createdAt"]) - merged_at).total_seconds() > -MERGE_CLOSE_SECONDS:
                continue
        if merged and event["type"] != "comment":
            continue
        merged = merged or event["type"] == "merged"
        clock = at
        event["at"] = show_time(at)
        timeline.append((at, event))
    if not opened["head"]:
        opened["head"] = pr.get("headRefOid") or ""
        pushes.append((opened["head"], created))
    events = _with_checks(timeline, pushes, checks)
    renamed = next((i for i in items if i.get("__typename") == "RenamedTitleEvent"), None)
    return {
        "number": pr["number"],
        "title": renamed["previousTitle"] if renamed else pr["title"],
        "body": pr.get("body") or "",
        "author": actors(pr.get("author"), pr.get("authorAssociation")),
        "base": pr["baseRefName"],
        "created_at": show_time(created),
        "events": events,
    }


def _item_time(item: Mapping[str, Any]) -> datetime | None:
    if item.get("__typename") == "PullRequestCommit":
        return parse_time(item["pushed"]["committedDate"])
    if item.get("__typename") == "HeadRefForcePushedEvent":
        return parse_time(item["createdAt"]) if item.get("afterCommit") else None
    value = item.get("submittedAt") or item.get("createdAt")
    return parse_time(value) if isinstance(value, str) else None


def _event(
    item: Mapping[str, Any],
    kind: object,
    actors: _Actors,
    pushes: list[tuple[str, datetime]],
    pr: Mapping[str, Any],
    reviews: Mapping[str, Mapping[str, Any]],
    dismissed: Mapping[str, str],
) -> Json | None:
    head = pushes[-1][0] if pushes else pr.get("headRefOid", "")
    if kind in ("PullRequestReview", "ReviewDismissedEvent"):
        review = item if kind == "PullRequestReview" else reviews.get(item["review"]["id"])
        if review is None:
            return None
        state = review["state"]
        if kind == "PullRequestReview":  # as it was submitted, before any dismissal
            state = dismissed.get(review.get("id", ""), state)
        if state not in REVIEW_STATES:
            return None
        commit = (review.get("commit") or {}).get("oid") or head
        by = actors(review.get("author"), review.get("authorAssociation"))
        return {"type": "review", "by": by, "state": state, "commit": commit}
    if kind == "IssueComment":
        by = actors(item.get("author"), item.get("authorAssociation"))
        return {"type": "comment", "by": by, "body": item.get("body") or ""}
    if kind in ("LabeledEvent", "UnlabeledEvent"):
        name = "labeled" if kind == "LabeledEvent" else "unlabeled"
        return {"type": name, "label": item["label"]["name"]}
    if kind == "ReadyForReviewEvent":
        return {"type": "ready_for_review"}
    if kind == "ConvertToDraftEvent":
        return {"type": "converted_to_draft"}
    if kind in ("ClosedEvent", "ReopenedEvent"):
        name = "closed" if kind == "ClosedEvent" else "reopened"
        return {"type": name, "by": actors(item.get("actor"))}
    if kind == "MergedEvent":
        return {"type": "merged", "by": actors(item.get("actor"), merger=True), "commit": head}
    if kind == "RenamedTitleEvent":
        return {"type": "edited", "title": item["currentTitle"]}
    return None


def _file(node: Mapping[str, Any], owners: Callable[[str], list[str]] | None) -> Json:
    return {
        "path": node["path"],
        "status": FILE_STATUS.get(node.get("changeType", ""), "modified"),
        "additions": int(node.get("additions") or 0),
        "deletions": int(node.get("deletions") or 0),
        "owners": owners(node["path"]) if owners is not None else [],
    }


def rest_file(node: Mapping[str, Any], owners: Callable[[str], list[str]] | None) -> Json:
    """A file as GitHub's REST API lists it (``GET /compare``, ``GET /pulls/{n}/files``)."""
    status = node.get("status")
    file: Json = {
        "path": node["filename"],
        "status": status if status in REST_FILE_STATUSES else "modified",
        "additions": int(node.get("additions") or 0),
        "deletions": int(node.get("deletions") or 0),
        "owners": owners(node["filename"]) if owners is not None else [],
    }
    _previous(file, node.get("previous_filename"), owners)
    return file


def _previous(file: Json, previous: object, owners: Callable[[str], list[str]] | None) -> None:
    """A renamed or copied file's previous path, and a rename's previous owners."""
    if not isinstance(previous, str) or file["status"] not in ("renamed", "copied"):
        return
    file["previous_path"] = previous
    if file["status"] == "renamed":
        file["previous_owners"] = owners(previous) if owners is not None else []


def add_files_per_head(
    record: Json,
    last_head: str,
    head_files: Mapping[str, Sequence[Mapping[str, Any]]],
    previous_paths: Mapping[str, str],
    owners: Callable[[str], list[str]] | None = None,
) -> None:
    """Put on each `opened` and `push` event of ``record`` (built by :func:`build_record`)
    the files of its head: ``head_files`` by oid, as GitHub's REST API lists them, and for
    ``last_head`` the files now, with the previous path of each renamed or copied one from
    ``previous_paths`` (by path). A head whose files could not be read keeps the files now
    on `opened` and gives none on a push (the files before it stand)."""
    events = record["events"]
    current = events[0]["files"]
    for file in current:
        _previous(file, previous_paths.get(file["path"]), owners)
    for event in events:
        if event["type"] not in ("opened", "push"):
            continue
        head = event["head"]
        if head == last_head:
            event["files"] = [dict(file) for file in current]
        elif head in head_files:
            event["files"] = [rest_file(node, owners) for node in head_files[head]]


def check_events(oid: str, contexts: Iterable[Mapping[str, Any]]) -> list[tuple[datetime, Json]]:
    """The check results of one commit, with their times."""
    found: list[tuple[datetime, Json]] = []
    for context in contexts:
        if context.get("__typename") == "CheckRun":
            name, started = context["name"], context.get("startedAt")
            completed = context.get("completedAt")
            conclusion = context.get("conclusion")
            if context.get("status") == "COMPLETED" and completed and conclusion:
                if started and parse_time(started) < parse_time(completed):
                    found.append(_check(parse_time(started), name, "check_run", "pending", oid))
                state = CONCLUSION.get(conclusion, "neutral")
                found.append(_check(parse_time(completed), name, "check_run", state, oid))
            elif started:
                found.append(_check(parse_time(started), name, "check_run", "pending", oid))
        elif context.get("__typename") == "StatusContext":
            state = STATUS_STATE.get(context.get("state", ""), "pending")
            at = parse_time(context["createdAt"])
            found.append(_check(at, context["context"], "status", state, oid))
    return found


def _check(at: datetime, name: str, source: str, state: str, oid: str) -> tuple[datetime, Json]:
    event = {"type": "check", "at": "", "name": name, "source": source, "state": state}
    return at, {**event, "commit": oid}


def _with_checks(
    timeline: list[tuple[datetime, Json]],
    pushes: list[tuple[str, datetime]],
    checks: Mapping[str, list[Json]],
) -> list[Json]:
    """The timeline with the checks of each head placed by time (never before their head's
    push), checks after a merge dropped. At the same moment the timeline's event comes
    first."""
    merge = next((at for at, e in timeline if e["type"] == "merged"), None)
    placed: list[tuple[datetime, int, int, Json]] = [
        (at, 0, index, event) for index, (at, event) in enumerate(timeline)
    ]
    seen: set[str] = set()
    for oid, pushed in pushes:
        if oid in seen:
            continue
        seen.add(oid)
        for at, event in check_events(oid, checks.get(oid, ())):
            at = max(at, pushed)
            if merge is not None and at > merge:
                continue
            event["at"] = show_time(at)
            placed.append((at, 1, len(placed), event))
    placed.sort(key=lambda entry: entry[:3])
    return [event for _, _, _, event in placed]
