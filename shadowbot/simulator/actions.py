"""Changes to a pull request's life, each returning the webhook events GitHub would send.

The scenario driver and the REST write endpoints both go through these functions, so a
merge made by a scenario and a merge made over the API leave the same trace, on the pull
request's timeline too (GraphQL's `timelineItems`: labels, drafts, titles, close, reopen,
merge). Refusals follow GitHub's answers (405/409/422) for the same request.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from shadowbot.simulator import payloads
from shadowbot.simulator.errors import Conflict, NotAllowed, NotFound, ValidationFailed
from shadowbot.simulator.models import (
    Commit,
    FileChange,
    Label,
    PullRequest,
    Repo,
    TimelineEvent,
    TimelineKind,
    User,
)
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.state import State

FileSpec = str | FileChange | Mapping[str, Any]


def as_file_change(spec: FileSpec) -> FileChange:
    """A path, a :class:`FileChange`, or a mapping of its fields (as scripts write them)."""
    if isinstance(spec, FileChange):
        return spec
    if isinstance(spec, str):
        return FileChange(spec)
    return FileChange(**spec)


def _merge_files(pr: PullRequest, files: Iterable[FileSpec]) -> None:
    by_name = {change.filename: change for change in pr.files}
    for spec in files:
        change = as_file_change(spec)
        by_name[change.filename] = change
    pr.files = list(by_name.values())


def _commit(state: State, repo: Repo, author: User, message: str, parent: str) -> Commit:
    sha = state.new_sha()
    repo.trees[sha] = dict(repo.trees.get(parent, {}))
    return Commit(sha, message, author, state.now(), [parent])


def _record(
    state: State, pr: PullRequest, kind: TimelineKind, actor: User, label: str | None = None
) -> TimelineEvent:
    """Note on the pull request's timeline (GraphQL's `timelineItems`) what just happened."""
    event = TimelineEvent(state.next_id(), kind, actor, state.now(), label)
    pr.timeline.append(event)
    return event


def open_pull(
    state: State,
    repo: Repo,
    author: User,
    title: str,
    *,
    body: str = "",
    files: Iterable[FileSpec] = (),
    draft: bool = False,
    base: str | None = None,
    head: str | None = None,
) -> tuple[PullRequest, list[Event]]:
    base = base or repo.default_branch
    if base not in repo.branches:
        raise ValidationFailed(resource="PullRequest", field="base", code="invalid")
    number = repo.next_number
    repo.next_number += 1
    head = head or f"{author.login}-patch-{number}"
    first = _commit(state, repo, author, title, repo.branches[base])
    now = state.now()
    ids = state.next_id(), state.next_id()
    pr = PullRequest(number, *ids, title, body, author, head, base, now, now, draft=draft)
    pr.commits.append(first)
    _merge_files(pr, files)
    repo.branches[head] = first.sha
    repo.pulls[number] = pr
    return pr, [payloads.pull_request(state, repo, pr, "opened", author)]


def push(
    state: State,
    repo: Repo,
    pr: PullRequest,
    pusher: User,
    *,
    files: Iterable[FileSpec] = (),
    message: str = "Update",
) -> tuple[str, list[Event]]:
    """A new commit on the head branch: `synchronize` with `before` and `after`."""
    before = pr.head_sha
    pr.commits.append(_commit(state, repo, pusher, message, before))
    _merge_files(pr, files)
    pr.updated_at = state.now()
    repo.branches[pr.head_ref] = pr.head_sha
    extra = {"before": before, "after": pr.head_sha}
    return pr.head_sha, [payloads.pull_request(state, repo, pr, "synchronize", pusher, **extra)]


def edit_pull(
    state: State,
    repo: Repo,
    pr: PullRequest,
    sender: User,
    *,
    title: str | None = None,
    body: str | None = None,
    base: str | None = None,
) -> list[Event]:
    """`edited`, whose `changes` hold the previous values of what changed."""
    changes: dict[str, Any] = {}
    if title is not None and title != pr.title:
        changes["title"] = {"from": pr.title}
        renamed = _record(state, pr, "renamed", sender)
        renamed.previous, renamed.current = pr.title, title
        pr.title = title
    if body is not None and body != pr.body:
        changes["body"] = {"from": pr.body}
        pr.body = body
    if base is not None and base != pr.base_ref:
        if base not in repo.branches:
            raise ValidationFailed(resource="PullRequest", field="base", code="invalid")
        old_sha = repo.branches[pr.base_ref]
        changes["base"] = {"ref": {"from": pr.base_ref}, "sha": {"from": old_sha}}
        pr.base_ref = base
    if not changes:
        return []
    pr.updated_at = state.now()
    return [payloads.pull_request(state, repo, pr, "edited", sender, changes=changes)]


def set_draft(state: State, repo: Repo, pr: PullRequest, sender: User, draft: bool) -> list[Event]:
    if pr.draft == draft:
        return []
    pr.draft = draft
    pr.updated_at = state.now()
    action = "converted_to_draft" if draft else "ready_for_review"
    _record(state, pr, "convert_to_draft" if draft else "ready_for_review", sender)
    return [payloads.pull_request(state, repo, pr, action, sender)]


def _label_shape(item: Label) -> dict[str, Any]:
    """The short `label` a labeled/unlabeled payload carries."""
    return {"id": item.id, "name": item.name, "color": item.color}


def add_label(state: State, repo: Repo, pr: PullRequest, sender: User, name: str) -> list[Event]:
    if any(item.name == name for item in pr.labels):
        return []
    item = repo.labels.get(name)
    if item is None:
        item = repo.labels[name] = Label(name, state.next_id())
    pr.labels.append(item)
    pr.updated_at = state.now()
    _record(state, pr, "labeled", sender, name)
    return [payloads.pull_request(state, repo, pr, "labeled", sender, label=_label_shape(item))]


def remove_label(state: State, repo: Repo, pr: PullRequest, sender: User, name: str) -> list[Event]:
    item = next((label for label in pr.labels if label.name == name), None)
    if item is None:
        raise NotFound("Label does not exist")
    pr.labels.remove(item)
    pr.updated_at = state.now()
    _record(state, pr, "unlabeled", sender, item.name)
    return [payloads.pull_request(state, repo, pr, "unlabeled", sender, label=_label_shape(item))]


def merge(
    state: State,
    repo: Repo,
    pr: PullRequest,
    merger: User,
    *,
    sha: str | None = None,
) -> tuple[str, list[Event]]:
    """Merge as `PUT /pulls/{n}/merge` does:
    https://docs.github.com/en/rest/pulls/pulls#merge-a-pull-request"""
    if pr.state != "open" or pr.draft:
        raise NotAllowed("Pull Request is not mergeable")
    if sha is not None and sha != pr.head_sha:
        raise Conflict("Head branch was modified. Review and try the merge again.")
    merged = _commit(state, repo, merger, f"Merge pull request #{pr.number}", pr.head_sha)
    repo.branches[pr.base_ref] = merged.sha
    now = state.now()
    pr.state, pr.closed_at, pr.merged_at, pr.updated_at = "closed", now, now, now
    pr.merged_by, pr.merge_commit_sha = merger, merged.sha
    # GitHub's timeline shows a merge as a MergedEvent followed by a ClosedEvent.
    _record(state, pr, "merged", merger)
    _record(state, pr, "closed", merger)
    return merged.sha, [payloads.pull_request(state, repo, pr, "closed", merger)]


def close(state: State, repo: Repo, pr: PullRequest, sender: User) -> list[Event]:
    if pr.state == "closed":
        return []
    pr.state, pr.closed_at, pr.updated_at = "closed", state.now(), state.now()
    _record(state, pr, "closed", sender)
    return [payloads.pull_request(state, repo, pr, "closed", sender)]


def reopen(state: State, repo: Repo, pr: PullRequest, sender: User) -> list[Event]:
    if pr.merged:
        raise ValidationFailed("state cannot be changed. The pull request cannot be reopened.")
    if pr.state == "open":
        return []
    pr.state, pr.closed_at, pr.updated_at = "open", None, state.now()
    _record(state, pr, "reopened", sender)
    return [payloads.pull_request(state, repo, pr, "reopened", sender)]
