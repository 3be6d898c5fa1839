"""From a pull request's live evidence to each rule version's one result on it.

One pure function, :func:`settle_pull_request`: the settlement job gathers the evidence
and stores what it returns, and ``shadowbot ledger verify`` calls it again on the stored
evidence to check the ledger. It follows DESIGN.md, "Live settlement in detail":

1. **loss** if a merger's 👎 counts against a revision in which the rule claimed
   ``merge``, or the PR was merged at a head it claimed and a merged PR reverted it
   within the revert window;
2. else **win** if the PR was merged at a head the rule claimed and the grace period
   after the merge ran out;
3. else **win** (``endorsed``) if a merger's 👍 counts against one of its claims and the
   PR is closed and out of its grace period;
4. else **neutral** (``superseded``: merged at a head it did not claim;
   ``closed_unmerged``, a loss instead when the policy says so);
5. else **pending**.
A rule that never claimed but said ``hold`` on the merged head is **missed** once the PR
is final, unless a merger's 👎 counted against that revision or the merge was reverted.

Readings of DESIGN.md made here (also in the closing notes of the work):

- A revision is on screen from GitHub's time of the write that showed it until the next
  revision *on the same comment* is shown (per-rule mode has one comment per rule). A
  reaction counts for the revision on screen at its ``created_at`` on the comment it is
  on; after the PR closed, only within the grace period. GitHub's times are whole
  seconds: a reaction in the same second as an edit belongs to the revision before the
  edit if the bot saw it before it recorded the edit (the bot's clock orders what
  GitHub's cannot), else to the revision after.
- A reaction seen gone has no effect at all (DESIGN.md: "removing a reaction removes its
  effect"); who reacted is judged with the permission recorded when it was first seen.
- A revert within the window is a loss at any time, even inside the grace period.
- ``missed`` waits for the PR to be final (the revert window after the merge): a missed
  merge that is reverted was not a miss, and the ledger never retracts a ``missed``.
- A claim on a PR still open but already superseded by a push stays pending: the rule may
  claim again on the new head, and only the merge says which head won.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Literal, cast

from shadowbot.snapshot import Actor, Permission, counts_as_merger

THUMBS_DOWN, THUMBS_UP = "-1", "+1"
OutcomeKind = Literal["merged", "closed", "reopened", "reverted"]


class LiveResult(StrEnum):
    WIN = "win"
    LOSS = "loss"
    NEUTRAL = "neutral"
    MISSED = "missed"
    PENDING = "pending"


@dataclass(frozen=True, slots=True)
class LivePolicy:
    grace_period: timedelta = timedelta(hours=24)
    revert_window: timedelta = timedelta(days=7)
    closed_unmerged: Literal["neutral", "loss"] = "neutral"
    #: Logins counted as mergers whatever their permission (lowered).
    mergers: frozenset[str] = frozenset()

    def as_dict(self) -> dict[str, Any]:
        """As a settlement run records it."""
        return {
            "grace_seconds": self.grace_period.total_seconds(),
            "revert_seconds": self.revert_window.total_seconds(),
            "closed_unmerged": self.closed_unmerged,
            "mergers": sorted(self.mergers),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LivePolicy:
        return cls(
            grace_period=timedelta(seconds=float(data["grace_seconds"])),
            revert_window=timedelta(seconds=float(data["revert_seconds"])),
            closed_unmerged="loss" if data.get("closed_unmerged") == "loss" else "neutral",
            mergers=frozenset(str(m).lower() for m in data.get("mergers") or ()),
        )


@dataclass(frozen=True, slots=True)
class VerdictSeen:
    """One rule version's verdict on one head, as evaluated."""

    rule: str
    head_sha: str
    decision: str
    at: datetime
    #: Orders evaluations made in the same instant (the row's id).
    id: int = 0


@dataclass(frozen=True, slots=True)
class Shown:
    """A revision: what one comment (or, in silent mode, the pages) showed from
    ``shown_at`` on."""

    id: int
    head_sha: str
    shown_at: datetime
    comment_id: int | None
    #: The rule keys claiming ``merge`` in it.
    claims: frozenset[str]
    #: Each rule's decision in it, by rule key.
    decisions: Mapping[str, str] = field(default_factory=dict)
    #: When the bot recorded it (its own clock): orders it against a reaction made in
    #: the same second of GitHub's clock.
    recorded_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ReactionSeen:
    id: int
    comment_id: int
    login: str
    user_type: str
    permission: str
    content: str
    created_at: datetime
    gone: bool = False
    #: When the bot first saw it (its own clock).
    first_seen_at: datetime | None = None


def _after(reaction: ReactionSeen, revision: Shown) -> bool:
    """Whether ``reaction`` was made once ``revision`` was on screen."""
    if reaction.created_at != revision.shown_at:
        return reaction.created_at > revision.shown_at
    seen, recorded = reaction.first_seen_at, revision.recorded_at
    return seen is None or recorded is None or seen >= recorded


@dataclass(frozen=True, slots=True)
class OutcomeSeen:
    id: int
    kind: OutcomeKind
    at: datetime
    sha: str | None = None
    by: str | None = None
    detail: str = ""


@dataclass(frozen=True, slots=True)
class PullRequestEvidence:
    author: str
    verdicts: Sequence[VerdictSeen] = ()
    revisions: Sequence[Shown] = ()
    reactions: Sequence[ReactionSeen] = ()
    outcomes: Sequence[OutcomeSeen] = ()


@dataclass(frozen=True, slots=True)
class RuleOnPullRequest:
    """One rule version's result on one PR, with the evidence that decided it."""

    rule: str
    result: LiveResult
    #: ``objection``, ``reverted``, ``merged``, ``endorsed``, ``superseded``,
    #: ``closed_unmerged``, ``missed``, ``open`` or ``grace``.
    reason: str
    #: When the deciding evidence happened (GitHub's clock); None while open.
    at: datetime | None = None
    revision_id: int | None = None
    reaction_id: int | None = None
    outcome_id: int | None = None
    #: A merger's 👍 and 👎 on one revision in which the rule claimed.
    disputed: bool = False
    #: For a win on the merged head: its merge minus the rule's first claim on that head.
    saved: timedelta | None = None
    #: Who did what when, for the pages and the report.
    evidence: tuple[Mapping[str, Any], ...] = ()
    #: Nothing can change this result any more (the PR is closed and out of its windows).
    final: bool = False

    def key(self) -> tuple[str, str, datetime | None, int | None, int | None, int | None]:
        """What a ledger entry records of it: a new entry is due when this changes."""
        return (
            self.result.value,
            self.reason,
            self.at,
            self.revision_id,
            self.reaction_id,
            self.outcome_id,
        )


@dataclass(frozen=True, slots=True)
class _Outcome:
    merged_at: datetime | None = None
    merged_sha: str | None = None
    merged_id: int | None = None
    closed_at: datetime | None = None
    closed_id: int | None = None
    reverts: tuple[OutcomeSeen, ...] = ()


def _outcome(outcomes: Iterable[OutcomeSeen]) -> _Outcome:
    merged_at = merged_sha = merged_id = closed_at = closed_id = None
    reverts = []
    for item in sorted(outcomes, key=lambda o: (o.at, o.id)):
        if item.kind == "merged":
            merged_at, merged_sha, merged_id = item.at, item.sha, item.id
            closed_at, closed_id = item.at, item.id
        elif item.kind == "closed":
            closed_at, closed_id = item.at, item.id
        elif item.kind == "reopened":
            closed_at = closed_id = None
        else:
            reverts.append(item)
    return _Outcome(merged_at, merged_sha, merged_id, closed_at, closed_id, tuple(reverts))


@dataclass(frozen=True, slots=True)
class _Window:
    revision: Shown
    next: Shown | None  # the next revision on the same comment
    #: The comment's first revision: nothing was on it before, so whatever came before
    #: the next one is this one's.
    first: bool = False

    @property
    def until(self) -> datetime | None:
        return None if self.next is None else self.next.shown_at


def _windows(revisions: Iterable[Shown]) -> list[_Window]:
    screens: dict[int | None, list[Shown]] = defaultdict(list)
    for revision in revisions:
        screens[revision.comment_id].append(revision)
    windows = []
    for shown in screens.values():
        shown.sort(key=lambda r: (r.shown_at, r.id))
        nexts: list[Shown | None] = [*shown[1:], None]
        windows += [
            _Window(r, after, first=i == 0)
            for i, (r, after) in enumerate(zip(shown, nexts, strict=True))
        ]
    return windows


def _counted(
    window: _Window,
    reactions: Sequence[ReactionSeen],
    author: str,
    closed_at: datetime | None,
    policy: LivePolicy,
) -> list[ReactionSeen]:
    """A merger's 👍 and 👎 that count against the revision of ``window``."""
    revision = window.revision
    if revision.comment_id is None:
        return []
    counted = []
    for reaction in reactions:
        if (
            reaction.gone
            or reaction.comment_id != revision.comment_id
            or reaction.content not in (THUMBS_UP, THUMBS_DOWN)
            or not (window.first or _after(reaction, revision))
            or (window.next is not None and _after(reaction, window.next))
            or (closed_at is not None and reaction.created_at > closed_at + policy.grace_period)
        ):
            continue
        actor = Actor(
            reaction.login,
            type="Bot" if reaction.user_type == "Bot" else "User",
            permission=cast(Permission, reaction.permission),
        )
        if counts_as_merger(actor, Actor(author), policy.mergers):
            counted.append(reaction)
    return sorted(counted, key=lambda r: (r.created_at, r.id))


def _reaction_link(reaction: ReactionSeen, revision: Shown) -> dict[str, Any]:
    return {
        "kind": "reaction",
        "id": reaction.id,
        "content": reaction.content,
        "by": reaction.login,
        "at": reaction.created_at.isoformat(),
        "revision": revision.id,
        "head": revision.head_sha,
    }


def _outcome_link(outcome: OutcomeSeen) -> dict[str, Any]:
    return {
        "kind": outcome.kind,
        "id": outcome.id,
        "by": outcome.by,
        "at": outcome.at.isoformat(),
        "sha": outcome.sha,
        "detail": outcome.detail,
    }


def settle_pull_request(
    evidence: PullRequestEvidence, policy: LivePolicy, now: datetime
) -> list[RuleOnPullRequest]:
    """Each rule version's result on this PR as the evidence stands at ``now``, in rule
    order; rules with nothing to settle (no claim, no miss) are left out."""
    outcome = _outcome(evidence.outcomes)
    windows = _windows(evidence.revisions)
    counted = {
        w.revision.id: _counted(w, evidence.reactions, evidence.author, outcome.closed_at, policy)
        for w in windows
    }
    final = _is_final(outcome, policy, now)
    claimed: dict[str, dict[str, datetime]] = defaultdict(dict)  # rule -> head -> first claim
    last_decision: dict[tuple[str, str], str] = {}
    for verdict in sorted(evidence.verdicts, key=lambda v: (v.at, v.id, v.decision)):
        if verdict.decision == "merge":
            claimed[verdict.rule].setdefault(verdict.head_sha, verdict.at)
        last_decision[(verdict.rule, verdict.head_sha)] = verdict.decision
    results = []
    for rule in sorted({v.rule for v in evidence.verdicts}):
        result: RuleOnPullRequest | None
        if rule in claimed:
            revisions = [w.revision for w in windows if rule in w.revision.claims]
            result = _settle_claims(rule, claimed[rule], revisions, counted, outcome, policy, now)
        else:
            result = _missed(rule, last_decision, windows, counted, outcome, final, policy)
        if result is not None:
            results.append(replace(result, final=final))
    return results


def _is_final(outcome: _Outcome, policy: LivePolicy, now: datetime) -> bool:
    if outcome.merged_at is not None:
        return now >= outcome.merged_at + max(policy.grace_period, policy.revert_window)
    return outcome.closed_at is not None and now >= outcome.closed_at + policy.grace_period


def _settle_claims(
    rule: str,
    heads: Mapping[str, datetime],
    revisions: Sequence[Shown],
    counted: Mapping[int, list[ReactionSeen]],
    outcome: _Outcome,
    policy: LivePolicy,
    now: datetime,
) -> RuleOnPullRequest:
    objections = [
        (reaction, revision)
        for revision in revisions
        for reaction in counted.get(revision.id, ())
        if reaction.content == THUMBS_DOWN
    ]
    objections.sort(key=lambda pair: (pair[0].created_at, pair[0].id, pair[1].id))
    disputed = any(
        {r.content for r in counted.get(revision.id, ())} == {THUMBS_UP, THUMBS_DOWN}
        for revision in revisions
    )
    if objections:
        reaction, revision = objections[0]
        return RuleOnPullRequest(
            rule,
            LiveResult.LOSS,
            "objection",
            reaction.created_at,
            revision_id=revision.id,
            reaction_id=reaction.id,
            disputed=disputed,
            evidence=tuple(_reaction_link(r, rev) for r, rev in objections),
        )
    merged_at = outcome.merged_at
    if merged_at is not None and outcome.merged_sha in heads:
        revert = next(
            (r for r in outcome.reverts if r.at <= merged_at + policy.revert_window), None
        )
        if revert is not None:
            return RuleOnPullRequest(
                rule,
                LiveResult.LOSS,
                "reverted",
                revert.at,
                outcome_id=revert.id,
                evidence=(_outcome_link(revert),),
            )
        if now < merged_at + policy.grace_period:
            return RuleOnPullRequest(rule, LiveResult.PENDING, "grace", merged_at)
        first = _first_claim(heads[outcome.merged_sha or ""], revisions, outcome.merged_sha)
        return RuleOnPullRequest(
            rule,
            LiveResult.WIN,
            "merged",
            merged_at,
            outcome_id=outcome.merged_id,
            saved=max(merged_at - first, timedelta(0)),
            evidence=({"kind": "merged", "id": outcome.merged_id, "at": merged_at.isoformat()},),
        )
    closed_at = outcome.closed_at
    if closed_at is None:
        return RuleOnPullRequest(rule, LiveResult.PENDING, "open")
    if now < closed_at + policy.grace_period:
        return RuleOnPullRequest(rule, LiveResult.PENDING, "grace", closed_at)
    endorsements = [
        (reaction, revision)
        for revision in revisions
        for reaction in counted.get(revision.id, ())
        if reaction.content == THUMBS_UP
    ]
    endorsements.sort(key=lambda pair: (pair[0].created_at, pair[0].id, pair[1].id))
    if endorsements:
        reaction, revision = endorsements[0]
        return RuleOnPullRequest(
            rule,
            LiveResult.WIN,
            "endorsed",
            reaction.created_at,
            revision_id=revision.id,
            reaction_id=reaction.id,
            evidence=tuple(_reaction_link(r, rev) for r, rev in endorsements),
        )
    if merged_at is not None:
        return RuleOnPullRequest(
            rule, LiveResult.NEUTRAL, "superseded", merged_at, outcome_id=outcome.merged_id
        )
    result = LiveResult.LOSS if policy.closed_unmerged == "loss" else LiveResult.NEUTRAL
    return RuleOnPullRequest(
        rule, result, "closed_unmerged", closed_at, outcome_id=outcome.closed_id
    )


def _first_claim(verdict_at: datetime, revisions: Sequence[Shown], head: str | None) -> datetime:
    """When the rule's claim on ``head`` first went on screen (GitHub's clock), else when
    it was first evaluated (silent mode shows nothing on GitHub)."""
    shown = [r.shown_at for r in revisions if r.head_sha == head and r.comment_id is not None]
    return min(shown, default=verdict_at)


def _missed(
    rule: str,
    last_decision: Mapping[tuple[str, str], str],
    windows: Sequence[_Window],
    counted: Mapping[int, list[ReactionSeen]],
    outcome: _Outcome,
    final: bool,
    policy: LivePolicy,
) -> RuleOnPullRequest | None:
    """DESIGN.md: merged cleanly while the rule said ``hold`` on that head (a merge
    reverted within the revert window was not clean)."""
    head, merged_at = outcome.merged_sha, outcome.merged_at
    if not final or head is None or merged_at is None:
        return None
    if any(r.at <= merged_at + policy.revert_window for r in outcome.reverts):
        return None
    if last_decision.get((rule, head)) != "hold":
        return None
    # The revisions on the merged head that were on screen at the merge.
    on_screen = [
        w.revision
        for w in windows
        if w.revision.head_sha == head
        and w.revision.shown_at <= merged_at
        and (w.until is None or w.until > merged_at)
    ]
    if any(r.content == THUMBS_DOWN for rev in on_screen for r in counted.get(rev.id, ())):
        return None
    return RuleOnPullRequest(
        rule, LiveResult.MISSED, "missed", merged_at, outcome_id=outcome.merged_id
    )
