"""A repository's past, written straight into the simulator's state from history records
(docs/history-format.md), so a collector can read it back over GraphQL.

Each record becomes a pull request as GitHub would hold it afterwards: a commit per head
(opened, then each push) at its time, reviews bound to their commits, check runs and statuses
on their commits, comments, and the timeline events GitHub keeps (labels, drafts, close,
reopen, merge with a merge commit, a new title, a dismissal: a DISMISSED review after the
reviewer's approval or change request on the same commit dismisses that one). Nothing is
sent: no webhook, no rate limit.

What GitHub itself would not keep is not kept either: a status's earlier states on the same
commit (the rollup shows the latest of each context), a check run's earlier results under the
same name on the same commit, an edit of the body (a pull request has its body now). The
files of each head (the opening's, or a push's that gives them; a push that gives none keeps
the ones before) are kept by commit, for `GET /compare` from the base to that head
(:mod:`shadowbot.simulator.routes_commits`); the pull request lists its last head's.
A `reverted` event is the reverting pull request's business: the record that says
"Reverts owner/repo#N" in its body and is merged. Actors' associations and permissions
become the repository's (one per login: the last seen).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, cast

from shadowbot.simulator.models import (
    CheckConclusion,
    CheckRun,
    Comment,
    Commit,
    FileChange,
    Label,
    Permission,
    PullRequest,
    Repo,
    Review,
    ReviewState,
    Status,
    StatusState,
    TimelineEvent,
    User,
    UserType,
)
from shadowbot.simulator.state import State

_ROLES = frozenset({"admin", "maintain", "write", "triage", "read"})
_CONCLUSIONS = frozenset({"success", "failure", "neutral", "cancelled", "skipped"})
_DRAFT_EVENTS = {"ready_for_review": "ready_for_review", "converted_to_draft": "convert_to_draft"}


def seed_history(state: State, repo_name: str, records: Iterable[Mapping[str, Any]]) -> int:
    """Write each record into `repo_name` as a pull request; how many. Seed records in the
    order they were opened: each new one branches from its base as it is by then (so a
    CODEOWNERS changed in between applies to the later ones)."""
    repo = state.repo(repo_name)
    count = 0
    for record in records:
        seed_pull(state, repo, record)
        count += 1
    return count


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _actor(state: State, repo: Repo, actor: Mapping[str, Any]) -> User:
    kind = actor.get("type", "User")
    user = state.user(actor["login"], type=cast(UserType, kind))
    login = user.login.lower()
    repo.associations[login] = actor.get("association", "NONE")
    permission = actor.get("permission", "none")
    if permission in _ROLES and login != repo.owner.login.lower():
        repo.roles[login] = cast(Permission, permission)
    return user


def seed_pull(state: State, repo: Repo, record: Mapping[str, Any]) -> PullRequest:
    number = int(record["number"])
    if number in repo.pulls:
        raise ValueError(f"pull request #{number} already exists in {repo.full_name}")
    author = _actor(state, repo, record["author"])
    base = record.get("base") or repo.default_branch
    if base not in repo.branches:
        repo.branches[base] = repo.branches[repo.default_branch]
    created = _time(record["created_at"])
    pr = PullRequest(
        number,
        state.next_id(),
        state.next_id(),
        record["title"],
        record.get("body", ""),
        author,
        f"{author.login}-patch-{number}",
        base,
        created,
        created,
    )
    repo.pulls[number] = pr
    repo.next_number = max(repo.next_number, number + 1)
    for event in record["events"]:
        _apply(state, repo, pr, event)
    repo.branches[pr.head_ref] = pr.head_sha
    return pr


def _apply(state: State, repo: Repo, pr: PullRequest, event: Mapping[str, Any]) -> None:
    kind, at = event["type"], _time(event["at"])
    by = _actor(state, repo, event["by"]) if "by" in event else None
    if kind not in ("check", "reverted"):
        pr.updated_at = max(pr.updated_at, at)
    if kind == "opened":
        pr.draft = bool(event.get("draft", False))
        _commit(state, repo, pr, event["head"], at, repo.branches[pr.base_ref])
        _files(repo, pr, event.get("files", ()))
        for name in event.get("labels", ()):
            _label(state, repo, pr, "labeled", pr.user, at, name)
    elif kind == "push":
        _commit(state, repo, pr, event["head"], at, pr.head_sha)
        _files(repo, pr, event.get("files"))
    elif kind == "review" and by is not None:
        dismissed = _dismissed(pr, by, event) if event["state"] == "DISMISSED" else None
        if dismissed is not None:
            dismissal = TimelineEvent(state.next_id(), "review_dismissed", by, at)
            dismissal.previous, dismissal.review = dismissed.state, dismissed
            dismissed.state = "DISMISSED"
            pr.timeline.append(dismissal)
        else:
            review_state = cast(ReviewState, event["state"])
            review = Review(state.next_id(), by, review_state, event["commit"], "", at)
            pr.reviews.append(review)
    elif kind == "check":
        _check(state, repo, event, at)
    elif kind in ("labeled", "unlabeled"):
        _label(state, repo, pr, kind, by or pr.user, at, event["label"])
    elif kind in _DRAFT_EVENTS:
        pr.draft = kind == "converted_to_draft"
        _event(state, pr, _DRAFT_EVENTS[kind], by or pr.user, at)
    elif kind == "edited":
        title = event.get("title", pr.title)
        if title != pr.title:
            renamed = TimelineEvent(state.next_id(), "renamed", by or pr.user, at)
            renamed.previous, renamed.current = pr.title, title
            pr.timeline.append(renamed)
            pr.title = title
        pr.body = event.get("body", pr.body)
    elif kind == "comment" and by is not None:
        comment = Comment(state.next_id(), pr.number, by, event["body"], at, at)
        repo.comments[comment.id] = comment
    elif kind == "merged" and by is not None:
        merge = state.new_sha()
        repo.trees[merge] = dict(repo.trees.get(pr.head_sha, {}))
        repo.branches[pr.base_ref] = merge
        pr.state, pr.closed_at, pr.merged_at = "closed", at, at
        pr.merged_by, pr.merge_commit_sha = by, merge
        _event(state, pr, "merged", by, at)
        _event(state, pr, "closed", by, at)
    elif kind == "closed":
        pr.state, pr.closed_at = "closed", at
        _event(state, pr, "closed", by or pr.user, at)
    elif kind == "reopened":
        pr.state, pr.closed_at = "open", None
        _event(state, pr, "reopened", by or pr.user, at)


def _dismissed(pr: PullRequest, by: User, event: Mapping[str, Any]) -> Review | None:
    """The review a DISMISSED one dismisses: the reviewer's latest approval or change request
    on the same commit, still standing; None for a review submitted as dismissed."""
    for review in reversed(pr.reviews):
        if review.user is by and review.state != "COMMENTED":
            standing = review.state in ("APPROVED", "CHANGES_REQUESTED")
            return review if standing and review.commit_id == event["commit"] else None
    return None


def _commit(state: State, repo: Repo, pr: PullRequest, sha: str, at: datetime, parent: str) -> None:
    repo.trees[sha] = dict(repo.trees.get(parent, {}))
    pr.commits.append(Commit(sha, f"Head {sha}", pr.user, at, [parent]))


def _files(repo: Repo, pr: PullRequest, files: Iterable[Mapping[str, Any]] | None) -> None:
    """The files at the new head: those given (all of them, as the format says), else the
    ones before; kept for the head's commit too."""
    if files is not None:
        pr.files = [
            FileChange(
                item["path"],
                item.get("status", "modified"),
                item.get("additions", 0),
                item.get("deletions", 0),
                item.get("previous_path"),
            )
            for item in files
        ]
    repo.commit_files[pr.head_sha] = list(pr.files)


def _label(
    state: State, repo: Repo, pr: PullRequest, kind: str, by: User, at: datetime, name: str
) -> None:
    label = repo.labels.get(name)
    if label is None:
        label = repo.labels[name] = Label(name, state.next_id())
    if kind == "labeled" and label not in pr.labels:
        pr.labels.append(label)
    elif kind == "unlabeled" and label in pr.labels:
        pr.labels.remove(label)
    _event(state, pr, kind, by, at, name)


def _event(
    state: State, pr: PullRequest, kind: str, by: User, at: datetime, label: str | None = None
) -> None:
    pr.timeline.append(TimelineEvent(state.next_id(), kind, by, at, label))  # type: ignore[arg-type]


def _check(state: State, repo: Repo, event: Mapping[str, Any], at: datetime) -> None:
    """A check run's pending result starts a run that its next result of the same name on
    the same commit completes; a status is one entry per result."""
    name, sha, result = event["name"], event["commit"], event["state"]
    if event.get("source") == "status":
        status_state = cast(StatusState, result if result != "neutral" else "success")
        status = Status(state.next_id(), sha, name, status_state, "", None, state.bot, at)
        repo.statuses.append(status)
        return
    running = next(
        (
            run
            for run in reversed(repo.check_runs)
            if run.head_sha == sha and run.name == name and run.status != "completed"
        ),
        None,
    )
    if result == "pending":
        if running is None:
            repo.check_runs.append(
                CheckRun(state.next_id(), name, sha, "in_progress", None, "ci", 0, at, None)
            )
        return
    conclusion = cast(CheckConclusion, result if result in _CONCLUSIONS else "failure")
    if running is not None:
        running.status, running.conclusion, running.completed_at = "completed", conclusion, at
        return
    repo.check_runs.append(
        CheckRun(state.next_id(), name, sha, "completed", conclusion, "ci", 0, at, at)
    )
