"""Reviews, check runs, statuses, comments and reactions: each change returns its events.

Like :mod:`shadowbot.simulator.actions`, shared by the scenario driver and the REST API.
Reactions return no event: GitHub has no webhook for reactions, so a bot must read them
(https://docs.github.com/en/webhooks/webhook-events-and-payloads lists none).
"""

from __future__ import annotations

from shadowbot.simulator import payloads
from shadowbot.simulator.errors import NotFound, ValidationFailed
from shadowbot.simulator.models import (
    REACTIONS,
    CheckConclusion,
    CheckRun,
    CheckStatus,
    Comment,
    PullRequest,
    Reaction,
    Repo,
    Review,
    ReviewState,
    Status,
    StatusState,
    User,
)
from shadowbot.simulator.payloads import Event
from shadowbot.simulator.state import State

_OWN_REVIEW = {
    "APPROVED": "Can not approve your own pull request",
    "CHANGES_REQUESTED": "Can not request changes on your own pull request",
}


def submit_review(
    state: State,
    repo: Repo,
    pr: PullRequest,
    reviewer: User,
    review_state: ReviewState,
    *,
    body: str = "",
    commit_id: str | None = None,
) -> tuple[Review, list[Event]]:
    """A review bound to `commit_id` (the head by default); PENDING ones send nothing."""
    if reviewer.id == pr.user.id and review_state in _OWN_REVIEW:
        raise ValidationFailed("Unprocessable Entity", errors=[_OWN_REVIEW[review_state]])
    submitted = None if review_state == "PENDING" else state.now()
    review = Review(
        state.next_id(), reviewer, review_state, commit_id or pr.head_sha, body, submitted
    )
    pr.reviews.append(review)
    if submitted is None:
        return review, []
    return review, [payloads.pull_request_review(state, repo, pr, review, "submitted", reviewer)]


def find_review(pr: PullRequest, review_id: int) -> Review:
    for review in pr.reviews:
        if review.id == review_id:
            return review
    raise NotFound()


def find_check_run(repo: Repo, run_id: int) -> CheckRun:
    for run in repo.check_runs:
        if run.id == run_id:
            return run
    raise NotFound()


def edit_review(
    state: State, repo: Repo, pr: PullRequest, review_id: int, body: str, sender: User
) -> list[Event]:
    review = find_review(pr, review_id)
    changes = {"body": {"from": review.body}}
    review.body = body
    return [payloads.pull_request_review(state, repo, pr, review, "edited", sender, changes)]


def dismiss_review(
    state: State, repo: Repo, pr: PullRequest, review_id: int, sender: User
) -> list[Event]:
    review = find_review(pr, review_id)
    if review.state not in ("APPROVED", "CHANGES_REQUESTED"):
        raise ValidationFailed("Can not dismiss a non-approval or non-changes-requested review")
    review.state = "DISMISSED"
    return [payloads.pull_request_review(state, repo, pr, review, "dismissed", sender)]


def add_check_run(
    state: State,
    repo: Repo,
    head_sha: str,
    name: str,
    *,
    status: CheckStatus = "completed",
    conclusion: CheckConclusion | None = "success",
    app: str = "ci",
) -> tuple[CheckRun, list[Event]]:
    """A check run in the suite of `app` on `head_sha`: `created`, or `completed` (followed by
    the suite's `check_suite` completed) when it is created finished."""
    if status == "completed" and conclusion is None:
        raise ValidationFailed(resource="CheckRun", field="conclusion", code="missing_field")
    same_suite = [r for r in repo.check_runs if r.head_sha == head_sha and r.app == app]
    suite_id = same_suite[0].suite_id if same_suite else state.next_id()
    now = state.now()
    run = CheckRun(
        state.next_id(),
        name,
        head_sha,
        status,
        conclusion if status == "completed" else None,
        app,
        suite_id,
        now,
        now if status == "completed" else None,
    )
    repo.check_runs.append(run)
    if status != "completed":
        return run, [payloads.check_run(state, repo, run, "created", state.bot)]
    return run, _completed(state, repo, run)


def complete_check_run(
    state: State, repo: Repo, run_id: int, conclusion: CheckConclusion
) -> list[Event]:
    run = find_check_run(repo, run_id)
    run.status, run.conclusion, run.completed_at = "completed", conclusion, state.now()
    return _completed(state, repo, run)


def _completed(state: State, repo: Repo, run: CheckRun) -> list[Event]:
    events = [payloads.check_run(state, repo, run, "completed", state.bot)]
    suite = [r for r in repo.check_runs if r.suite_id == run.suite_id]
    if all(r.status == "completed" for r in suite):
        events.append(payloads.check_suite(state, repo, run, state.bot))
    return events


def add_status(
    state: State,
    repo: Repo,
    sha: str,
    context: str,
    status_state: StatusState,
    creator: User,
    *,
    description: str = "",
    target_url: str | None = None,
) -> tuple[Status, list[Event]]:
    item = Status(
        state.next_id(), sha, context, status_state, description, target_url, creator, state.now()
    )
    repo.statuses.append(item)
    return item, [payloads.status(state, repo, item, creator)]


def add_comment(
    state: State, repo: Repo, pr: PullRequest, author: User, body: str
) -> tuple[Comment, list[Event]]:
    if not body:
        raise ValidationFailed(resource="IssueComment", field="body", code="missing_field")
    now = state.now()
    comment = Comment(state.next_id(), pr.number, author, body, now, now)
    repo.comments[comment.id] = comment
    return comment, [payloads.issue_comment(state, repo, pr, comment, "created", author)]


def edit_comment(
    state: State, repo: Repo, comment: Comment, body: str, sender: User
) -> list[Event]:
    """`edited` with the previous body in `changes.body.from`."""
    changes = {"body": {"from": comment.body}}
    comment.body, comment.updated_at = body, state.now()
    pr = state.pull(repo, comment.issue_number)
    return [payloads.issue_comment(state, repo, pr, comment, "edited", sender, changes)]


def delete_comment(state: State, repo: Repo, comment: Comment, sender: User) -> list[Event]:
    del repo.comments[comment.id]
    pr = state.pull(repo, comment.issue_number)
    return [payloads.issue_comment(state, repo, pr, comment, "deleted", sender)]


def add_reaction(state: State, comment: Comment, user: User, content: str) -> tuple[Reaction, bool]:
    """The reaction and whether it is new: GitHub answers 200 with the existing one when the
    user already reacted so (https://docs.github.com/en/rest/reactions/reactions)."""
    if content not in REACTIONS:
        raise ValidationFailed(resource="Reaction", field="content", code="invalid")
    for existing in comment.reactions:
        if existing.user.id == user.id and existing.content == content:
            return existing, False
    reaction = Reaction(state.next_id(), user, content, state.now())
    comment.reactions.append(reaction)
    return reaction, True


def remove_reaction(comment: Comment, reaction_id: int) -> Reaction:
    for reaction in comment.reactions:
        if reaction.id == reaction_id:
            comment.reactions.remove(reaction)
            return reaction
    raise NotFound()
