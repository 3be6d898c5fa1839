"""A pull request's timeline over GraphQL (`timelineItems`), put together from what the
simulator's state keeps: a `PullRequestCommit` for each commit, each submitted review, each
comment, and the recorded :class:`~shadowbot.simulator.models.TimelineEvent` s (labels,
drafts, titles, close, reopen, merge, a review's dismissal). A merge or close the state knows
of without a recorded event (made through the REST API or the scenario driver) still shows,
with the merger and without the closer. GitHub lists a `ClosedEvent` after the `MergedEvent`
of a merged pull request; so does the simulator.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from graphql import GraphQLResolveInfo

from shadowbot.simulator.graphql_common import connection
from shadowbot.simulator.graphql_nodes import (
    CommitNode,
    Item,
    PullNode,
    association,
    comments_by_issue,
    commit_of,
)
from shadowbot.simulator.models import Comment, Commit, PullRequest, Repo, Review, TimelineEvent
from shadowbot.simulator.nodeids import node_id
from shadowbot.simulator.render import iso

if TYPE_CHECKING:
    from shadowbot.simulator.graphql_common import Context

EVENT_TYPE = {
    "labeled": "LabeledEvent",
    "unlabeled": "UnlabeledEvent",
    "ready_for_review": "ReadyForReviewEvent",
    "convert_to_draft": "ConvertToDraftEvent",
    "closed": "ClosedEvent",
    "reopened": "ReopenedEvent",
    "merged": "MergedEvent",
    "renamed": "RenamedTitleEvent",
    "review_dismissed": "ReviewDismissedEvent",
}
# The `itemTypes` filter's name of each item type the simulator holds.

# The `itemTypes` filter's name of each item type the simulator holds.
ITEM_TYPE = {
    "PullRequestCommit": "PULL_REQUEST_COMMIT",
    "PullRequestReview": "PULL_REQUEST_REVIEW",
    "IssueComment": "ISSUE_COMMENT",
    "LabeledEvent": "LABELED_EVENT",
    "UnlabeledEvent": "UNLABELED_EVENT",
    "ReadyForReviewEvent": "READY_FOR_REVIEW_EVENT",
    "ConvertToDraftEvent": "CONVERT_TO_DRAFT_EVENT",
    "ClosedEvent": "CLOSED_EVENT",
    "ReopenedEvent": "REOPENED_EVENT",
    "MergedEvent": "MERGED_EVENT",
    "RenamedTitleEvent": "RENAMED_TITLE_EVENT",
    "ReviewDismissedEvent": "REVIEW_DISMISSED_EVENT",
}


def timeline_items(
    node: PullNode,
    info: GraphQLResolveInfo[Context],
    itemTypes: list[str] | None = None,
    since: str | None = None,
    **page: Any,
) -> dict[str, Any]:
    items = timeline(info.context, node.repo, node.pr)
    if itemTypes is not None:
        wanted = set(itemTypes)
        items = [(at, item) for at, item in items if ITEM_TYPE[_typename(item)] in wanted]
    if since is not None:
        start = datetime.fromisoformat(since)
        items = [(at, item) for at, item in items if at >= start]
    nodes = [item for _, item in items]
    return connection(info.field_name, nodes, **page)


def _typename(item: object) -> str:
    return "IssueComment" if isinstance(item, Comment) else item.typename  # type: ignore[attr-defined]


def timeline(context: Context, repo: Repo, pr: PullRequest) -> list[tuple[datetime, object]]:
    """The pull request's timeline items, oldest first, with their times. At the same
    moment a commit comes first, and a merge's close last."""
    entries: list[tuple[datetime, int, int, object]] = []

    def add(at: datetime, rank: int, item: object) -> None:
        entries.append((at, rank, len(entries), item))

    for commit in pr.commits:
        add(commit.at, 0, Item("PullRequestCommit", repo, pr, commit))
    for review in pr.reviews:
        if review.submitted_at is not None:
            add(review.submitted_at, 1, Item("PullRequestReview", repo, pr, review, review.user))
    for comment in comments_by_issue(context, repo).get(pr.number, ()):
        add(comment.created_at, 1, comment)
    kinds = set()
    for event in pr.timeline:
        kinds.add(event.kind)
        rank = 2 if event.kind == "closed" else 1
        add(event.at, rank, Item(EVENT_TYPE[event.kind], repo, pr, event, event.actor))
    if pr.merged_at is not None and "merged" not in kinds:
        merge = TimelineEvent(0, "merged", pr.merged_by or pr.user, pr.merged_at)
        add(pr.merged_at, 1, Item("MergedEvent", repo, pr, merge, pr.merged_by))
    if pr.closed_at is not None and "closed" not in kinds:
        close = TimelineEvent(0, "closed", pr.user, pr.closed_at)
        add(pr.closed_at, 2, Item("ClosedEvent", repo, pr, close, pr.merged_by))
    entries.sort(key=lambda entry: entry[:3])
    return [(at, item) for at, _, _, item in entries]


def item_id(item: Item) -> str:
    value = item.value
    if isinstance(value, Commit):
        return node_id("PURC", f"{item.pr.id}:{value.sha}")
    if isinstance(value, Review):
        return node_id("PRR", value.id)
    return node_id("EV", f"{item.pr.id}:{value.kind}:{value.id}:{iso(value.at)}")


def _comment_association(comment: Comment, info: GraphQLResolveInfo[Context]) -> str:
    repo, _ = info.context.state.find_comment(comment.id)
    return association(info, repo, comment.user)


def _event_label(item: Item, _: object) -> dict[str, str]:
    name = item.value.label or ""
    return {"id": node_id("LA", f"{item.repo.id}:{name}"), "name": name}


def _event_commit(item: Item, info: GraphQLResolveInfo[Context]) -> CommitNode | None:
    return commit_of(info.context, item.repo, item.pr.merge_commit_sha, item.value.at)


_EVENT_FIELDS: dict[str, Callable[..., Any]] = {
    "id": lambda item, _: item_id(item),
    "actor": lambda item, _: item.actor,
    "createdAt": lambda item, _: iso(item.value.at),
}


FIELDS: dict[tuple[str, str], Callable[..., Any]] = {
    ("PullRequestCommit", "id"): lambda item, _: item_id(item),
    ("PullRequestCommit", "commit"): lambda item, _: CommitNode(
        item.repo, item.value.sha, item.value.at
    ),
    ("PullRequestReview", "id"): lambda item, _: item_id(item),
    ("PullRequestReview", "databaseId"): lambda item, _: item.value.id,
    ("PullRequestReview", "author"): lambda item, _: item.value.user,
    ("PullRequestReview", "authorAssociation"): lambda item, info: association(
        info, item.repo, item.value.user
    ),
    ("PullRequestReview", "body"): lambda item, _: item.value.body,
    ("PullRequestReview", "state"): lambda item, _: item.value.state,
    ("PullRequestReview", "commit"): lambda item, info: commit_of(
        info.context, item.repo, item.value.commit_id, item.value.submitted_at
    ),
    ("PullRequestReview", "createdAt"): lambda item, _: iso(item.value.submitted_at),
    ("PullRequestReview", "submittedAt"): lambda item, _: iso(item.value.submitted_at),
    ("IssueComment", "authorAssociation"): _comment_association,
    **{
        (kind, name): resolve
        for kind in EVENT_TYPE.values()
        for name, resolve in _EVENT_FIELDS.items()
    },
    ("LabeledEvent", "label"): _event_label,
    ("UnlabeledEvent", "label"): _event_label,
    ("MergedEvent", "commit"): _event_commit,
    ("ReviewDismissedEvent", "previousReviewState"): lambda item, _: item.value.previous,
    ("ReviewDismissedEvent", "review"): lambda item, _: Item(
        "PullRequestReview", item.repo, item.pr, item.value.review, item.value.review.user
    ),
    ("RenamedTitleEvent", "previousTitle"): lambda item, _: item.value.previous,
    ("RenamedTitleEvent", "currentTitle"): lambda item, _: item.value.current,
}
