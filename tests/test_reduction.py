"""Live settlement (DESIGN.md, "Settlement" and "Live settlement in detail"): each rule
version's one result on a pull request, from the PR's recorded evidence.

The story of most cases: ``ann`` opens a PR at head ``a1``; the rule ``docs`` claims
``merge`` and the sticky comment (id 100) shows that from hour 0.1 on; ``mel`` is a
merger (write permission).
"""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shadowbot.core.reduction import (
    THUMBS_DOWN,
    THUMBS_UP,
    LivePolicy,
    LiveResult,
    OutcomeSeen,
    PullRequestEvidence,
    ReactionSeen,
    RuleOnPullRequest,
    Shown,
    VerdictSeen,
    settle_pull_request,
)

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)
AUTHOR = "ann"
COMMENT = 100
POLICY = LivePolicy()  # grace 24 h, revert window 7 days, closed unmerged neutral
LATER = T0 + timedelta(days=60)  # every window has run out


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


# --- builders --------------------------------------------------------------------------


def said(rule: str, head: str, hours: float, decision: str = "merge", id: int = 0) -> VerdictSeen:
    return VerdictSeen(rule, head, decision, at(hours), id)


def shown(
    id: int, head: str, hours: float, claims: set[str] | frozenset[str] = frozenset(), **kw
) -> Shown:
    return Shown(id, head, at(hours), kw.pop("comment", COMMENT), frozenset(claims), **kw)


_reaction_ids = iter(range(1_000, 10**9))


def thumbs(
    hours: float,
    content: str = THUMBS_DOWN,
    login: str = "mel",
    permission: str = "write",
    user_type: str = "User",
    comment: int = COMMENT,
    gone: bool = False,
    seen_at: datetime | None = None,
) -> ReactionSeen:
    id = next(_reaction_ids)
    return ReactionSeen(
        id, comment, login, user_type, permission, content, at(hours), gone, seen_at
    )


def thumbs_up(hours: float, **kw) -> ReactionSeen:
    return thumbs(hours, THUMBS_UP, **kw)


def merged(hours: float, sha: str = "a1") -> OutcomeSeen:
    return OutcomeSeen(900, "merged", at(hours), sha=sha, by="mel")


def closed(hours: float, id: int = 901) -> OutcomeSeen:
    return OutcomeSeen(id, "closed", at(hours), by="mel")


def reopened(hours: float, id: int = 902) -> OutcomeSeen:
    return OutcomeSeen(id, "reopened", at(hours), by="ann")


def reverted(hours: float, id: int = 903) -> OutcomeSeen:
    return OutcomeSeen(id, "reverted", at(hours), by="mel", detail="Reverts acme/app#7")


#: ``docs`` claims on ``a1``, shown from hour 0.1 on the sticky comment.
CLAIM = (said("docs", "a1", 0),)
ON_SCREEN = (shown(1, "a1", 0.1, {"docs"}),)


def settle(
    verdicts=CLAIM,
    revisions=ON_SCREEN,
    reactions=(),
    outcomes=(),
    policy: LivePolicy = POLICY,
    now: datetime = LATER,
) -> dict[str, RuleOnPullRequest]:
    evidence = PullRequestEvidence(AUTHOR, verdicts, revisions, reactions, outcomes)
    results = settle_pull_request(evidence, policy, now)
    assert len({r.rule for r in results}) == len(results), "one result per rule"
    return {r.rule: r for r in results}


def docs(**kw) -> RuleOnPullRequest:
    return settle(**kw)["docs"]


def outcome(result: RuleOnPullRequest) -> tuple[LiveResult, str]:
    return result.result, result.reason


# --- who counts: a merger's 👎 on a claim revision ----------------------------------------


def test_a_mergers_thumbs_down_on_a_claim_revision_is_a_loss_even_when_merged_there():
    objection = thumbs(2)
    result = docs(reactions=[objection], outcomes=[merged(3)])
    assert outcome(result) == (LiveResult.LOSS, "objection")
    assert (result.at, result.revision_id, result.reaction_id) == (at(2), 1, objection.id)
    assert [link["by"] for link in result.evidence] == ["mel"]
    assert not result.disputed


@pytest.mark.parametrize("permission", ["write", "maintain", "admin"])
def test_write_maintain_and_admin_are_mergers(permission):
    assert docs(reactions=[thumbs(2, permission=permission)]).result is LiveResult.LOSS


@pytest.mark.parametrize(
    "reaction",
    [
        pytest.param(thumbs(2, login=AUTHOR, permission="admin"), id="the author"),
        pytest.param(thumbs(2, login="ANN", permission="admin"), id="the author, other case"),
        pytest.param(thumbs(2, user_type="Bot"), id="a bot account"),
        pytest.param(thumbs(2, login="helper[bot]"), id="a [bot] login"),
        pytest.param(thumbs(2, permission="read"), id="read permission"),
        pytest.param(thumbs(2, permission="triage"), id="triage permission"),
        pytest.param(thumbs(2, permission="none"), id="no permission"),
        pytest.param(thumbs(2, content="confused"), id="not a thumb"),
    ],
)
def test_feedback_that_is_not_a_mergers_thumbs_down_is_not_a_loss(reaction):
    result = docs(reactions=[reaction], outcomes=[merged(3)])
    assert outcome(result) == (LiveResult.WIN, "merged")


def test_a_login_listed_as_merger_counts_whatever_its_permission_and_case():
    policy = LivePolicy(mergers=frozenset({"carol"}))
    reaction = thumbs(2, login="Carol", permission="read")
    assert docs(reactions=[reaction], policy=policy).result is LiveResult.LOSS
    assert docs(reactions=[reaction]).result is LiveResult.PENDING  # not listed: community


@pytest.mark.parametrize(
    "reaction",
    [
        pytest.param(thumbs(2, login="Ann", permission="read"), id="the author"),
        pytest.param(thumbs(2, login="ann", user_type="Bot"), id="a bot"),
    ],
)
def test_a_listed_login_still_never_counts_as_the_author_or_as_a_bot(reaction):
    policy = LivePolicy(mergers=frozenset({"ann"}))
    assert docs(reactions=[reaction], outcomes=[merged(3)], policy=policy).result is LiveResult.WIN


def test_a_thumbs_down_seen_gone_has_no_effect():
    result = docs(reactions=[thumbs(2, gone=True)], outcomes=[merged(3)])
    assert outcome(result) == (LiveResult.WIN, "merged")


def test_a_thumbs_up_seen_gone_does_not_endorse():
    result = docs(reactions=[thumbs_up(2, gone=True)], outcomes=[merged(3, sha="b2")])
    assert outcome(result) == (LiveResult.NEUTRAL, "superseded")


# --- which revision a reaction counts for ------------------------------------------------

#: ``docs`` claims on a1, then a push: on b2 only ``deps`` claims, shown from hour 5.
TWO_HEADS = dict(
    verdicts=[said("docs", "a1", 0), said("docs", "b2", 5, "hold"), said("deps", "b2", 5)],
    revisions=[shown(1, "a1", 0.1, {"docs"}), shown(2, "b2", 5, {"deps"})],
)


def test_a_thumbs_down_after_the_revision_was_replaced_counts_for_the_one_on_screen():
    results = settle(**TWO_HEADS, reactions=[thumbs(6)])
    assert results["docs"].result is LiveResult.PENDING
    assert (results["deps"].result, results["deps"].revision_id) == (LiveResult.LOSS, 2)


def test_a_thumbs_down_while_the_claim_was_on_screen_still_counts_after_the_push():
    results = settle(**TWO_HEADS, reactions=[thumbs(4.9)], outcomes=[merged(8, sha="b2")])
    assert (results["docs"].result, results["docs"].revision_id) == (LiveResult.LOSS, 1)
    assert outcome(results["deps"]) == (LiveResult.WIN, "merged")


def test_a_revision_is_on_screen_from_the_moment_it_was_shown():
    results = settle(**TWO_HEADS, reactions=[thumbs(5)])  # the same second as revision 2
    assert results["docs"].result is LiveResult.PENDING
    assert results["deps"].result is LiveResult.LOSS


def test_in_per_rule_mode_a_reaction_counts_for_the_rule_whose_comment_it_is_on():
    revisions = [
        shown(1, "a1", 0.1, {"docs"}, comment=201),
        shown(2, "a1", 0.1, {"deps"}, comment=202),
    ]
    verdicts = [said("docs", "a1", 0), said("deps", "a1", 0)]
    results = settle(verdicts, revisions, [thumbs(2, comment=201)], [merged(3)])
    assert outcome(results["docs"]) == (LiveResult.LOSS, "objection")
    assert outcome(results["deps"]) == (LiveResult.WIN, "merged")


def test_in_combined_mode_a_thumbs_down_is_a_loss_for_every_rule_claiming_on_screen():
    verdicts = [said("docs", "a1", 0), said("deps", "a1", 0), said("size", "a1", 0, "hold")]
    revisions = [shown(1, "a1", 0.1, {"docs", "deps"})]
    results = settle(verdicts, revisions, [thumbs(2)], [merged(3)])
    assert {rule: r.result for rule, r in results.items()} == {
        "docs": LiveResult.LOSS,
        "deps": LiveResult.LOSS,
    }  # ``size`` held on the merged head, but the revision was objected to: not missed


def test_a_reaction_on_another_comment_does_not_count():
    assert docs(reactions=[thumbs(2, comment=555)], outcomes=[merged(3)]).result is LiveResult.WIN


def test_in_silent_mode_nothing_is_on_screen_so_no_reaction_counts():
    silent = [shown(1, "a1", 0.1, {"docs"}, comment=None)]
    result = docs(revisions=silent, reactions=[thumbs(2)], outcomes=[merged(3)])
    assert result.result is LiveResult.WIN


# GitHub's clock has whole seconds: within one, the bot's own clock orders a reaction
# (first seen) against an edit (recorded).
SECOND = timedelta(seconds=1)
EDITED = dict(
    verdicts=TWO_HEADS["verdicts"],
    revisions=[
        shown(1, "a1", 0.1, {"docs"}),
        shown(2, "b2", 5, {"deps"}, recorded_at=at(5) + SECOND),
    ],
)


def test_a_reaction_in_the_second_of_an_edit_seen_before_it_was_recorded_is_for_the_old():
    results = settle(**EDITED, reactions=[thumbs(5, seen_at=at(5))])
    assert (results["docs"].result, results["docs"].revision_id) == (LiveResult.LOSS, 1)
    assert results["deps"].result is LiveResult.PENDING


def test_a_reaction_in_the_second_of_an_edit_seen_after_it_was_recorded_is_for_the_new():
    results = settle(**EDITED, reactions=[thumbs(5, seen_at=at(5) + 2 * SECOND)])
    assert results["docs"].result is LiveResult.PENDING
    assert (results["deps"].result, results["deps"].revision_id) == (LiveResult.LOSS, 2)


def test_a_reaction_in_the_second_the_comment_was_posted_counts_for_its_first_revision():
    """Nothing was on the comment before its first revision: a reaction to it cannot
    belong to an earlier one, whichever the bot happened to record first."""
    posted = [shown(1, "a1", 0.1, {"docs"}, recorded_at=at(0.1) + SECOND)]
    result = docs(revisions=posted, reactions=[thumbs(0.1, seen_at=at(0.1))])
    assert (result.result, result.revision_id) == (LiveResult.LOSS, 1)


# --- the grace period after the merge ----------------------------------------------------


def test_a_thumbs_down_after_the_merge_within_the_grace_period_is_a_loss():
    result = docs(reactions=[thumbs(3 + 23)], outcomes=[merged(3)])
    assert (result.result, result.at) == (LiveResult.LOSS, at(26))


def test_a_thumbs_down_after_the_grace_period_is_not_a_loss():
    result = docs(reactions=[thumbs(3 + 25)], outcomes=[merged(3)])
    assert outcome(result) == (LiveResult.WIN, "merged")


def test_merged_at_the_claimed_head_is_pending_during_the_grace_period_then_a_win():
    during = docs(outcomes=[merged(3)], now=at(3 + 23))
    assert (during.result, during.reason, during.at, during.final) == (
        LiveResult.PENDING,
        "grace",
        at(3),
        False,
    )
    won = docs(outcomes=[merged(3)], now=at(3 + 24))
    assert (won.result, won.reason, won.at, won.outcome_id) == (
        LiveResult.WIN,
        "merged",
        at(3),
        900,
    )
    # Saved: the merge minus the first time the claim went on screen (not the evaluation).
    assert won.saved == timedelta(hours=2.9)


def test_time_saved_counts_from_the_first_claim_shown_on_the_merged_head():
    verdicts = [said("docs", "a1", 0), said("docs", "b2", 5), said("docs", "b2", 7)]
    revisions = [
        shown(1, "a1", 0.1, {"docs"}),
        shown(2, "b2", 5.5, {"docs"}),
        shown(3, "b2", 7.5, {"docs"}),  # re-rendered: same claim, later write
    ]
    result = docs(verdicts=verdicts, revisions=revisions, outcomes=[merged(10, sha="b2")])
    assert result.saved == timedelta(hours=4.5)


def test_time_saved_in_silent_mode_counts_from_the_first_claim_evaluated():
    silent = [shown(1, "a1", 0.1, {"docs"}, comment=None)]
    result = docs(revisions=silent, outcomes=[merged(3)])
    assert result.saved == timedelta(hours=3)


# --- reverts ------------------------------------------------------------------------------


def test_a_revert_within_the_revert_window_turns_the_win_into_a_loss():
    won = docs(outcomes=[merged(3)], now=at(3 + 48))
    assert won.result is LiveResult.WIN
    result = docs(outcomes=[merged(3), reverted(3 + 24 * 6)])
    assert (result.result, result.reason, result.at, result.outcome_id) == (
        LiveResult.LOSS,
        "reverted",
        at(3 + 24 * 6),
        903,
    )
    assert result.evidence[0]["detail"] == "Reverts acme/app#7"


def test_a_revert_inside_the_grace_period_is_a_loss_at_once():
    result = docs(outcomes=[merged(3), reverted(5)], now=at(6))
    assert outcome(result) == (LiveResult.LOSS, "reverted")


def test_a_revert_after_the_revert_window_does_not_change_the_win():
    result = docs(outcomes=[merged(3), reverted(3 + 24 * 8)])
    assert outcome(result) == (LiveResult.WIN, "merged")


def test_a_revert_of_a_merge_at_a_head_the_rule_did_not_claim_is_no_loss_for_it():
    result = docs(outcomes=[merged(3, sha="b2"), reverted(10)])
    assert outcome(result) == (LiveResult.NEUTRAL, "superseded")


# --- merged elsewhere, closed unmerged, endorsements -------------------------------------


def test_merged_at_a_head_the_rule_did_not_claim_is_neutral_superseded():
    assert docs(outcomes=[merged(3, sha="b2")], now=at(3 + 23)).result is LiveResult.PENDING
    result = docs(outcomes=[merged(3, sha="b2")])
    assert (result.result, result.reason, result.at) == (LiveResult.NEUTRAL, "superseded", at(3))


def test_a_mergers_thumbs_up_on_a_claim_makes_a_superseded_claim_an_endorsed_win():
    endorsement = thumbs_up(2)
    result = docs(reactions=[endorsement], outcomes=[merged(3, sha="b2")])
    assert (result.result, result.reason, result.at, result.reaction_id) == (
        LiveResult.WIN,
        "endorsed",
        at(2),
        endorsement.id,
    )
    assert result.saved is None


def test_a_thumbs_up_from_someone_who_is_not_a_merger_endorses_nothing():
    result = docs(reactions=[thumbs_up(2, permission="read")], outcomes=[merged(3, sha="b2")])
    assert outcome(result) == (LiveResult.NEUTRAL, "superseded")


def test_an_endorsement_waits_for_the_grace_period_after_the_close():
    result = docs(reactions=[thumbs_up(2)], outcomes=[closed(3)], now=at(20))
    assert outcome(result) == (LiveResult.PENDING, "grace")


def test_closed_unmerged_is_pending_in_the_grace_period_then_neutral():
    during = docs(outcomes=[closed(3)], now=at(26))
    assert (during.result, during.reason, during.at) == (LiveResult.PENDING, "grace", at(3))
    result = docs(outcomes=[closed(3)])
    assert (result.result, result.reason, result.outcome_id) == (
        LiveResult.NEUTRAL,
        "closed_unmerged",
        901,
    )


def test_closed_unmerged_is_a_loss_when_the_policy_says_so():
    policy = LivePolicy(closed_unmerged="loss")
    assert docs(outcomes=[closed(3)], policy=policy, now=at(26)).result is LiveResult.PENDING
    result = docs(outcomes=[closed(3)], policy=policy)
    assert outcome(result) == (LiveResult.LOSS, "closed_unmerged")


def test_an_endorsement_wins_over_closed_unmerged():
    result = docs(reactions=[thumbs_up(2)], outcomes=[closed(3)])
    assert outcome(result) == (LiveResult.WIN, "endorsed")


def test_a_thumbs_down_within_the_grace_period_after_the_close_is_a_loss():
    assert docs(reactions=[thumbs(3 + 23)], outcomes=[closed(3)]).result is LiveResult.LOSS
    result = docs(reactions=[thumbs(3 + 25)], outcomes=[closed(3)])
    assert outcome(result) == (LiveResult.NEUTRAL, "closed_unmerged")


def test_a_claim_superseded_while_the_pr_is_open_stays_pending():
    result = settle(**TWO_HEADS)["docs"]
    assert (result.result, result.reason, result.at, result.final) == (
        LiveResult.PENDING,
        "open",
        None,
        False,
    )


# --- disputes ------------------------------------------------------------------------------


def test_a_mergers_thumbs_up_and_down_on_one_revision_is_a_disputed_loss():
    reactions = [thumbs_up(1, login="mel"), thumbs(2, login="max", permission="admin")]
    result = docs(reactions=reactions, outcomes=[merged(3)])
    assert (result.result, result.reason, result.disputed) == (LiveResult.LOSS, "objection", True)


def test_thumbs_up_and_down_on_different_revisions_is_a_loss_but_no_dispute():
    verdicts = [said("docs", "a1", 0), said("docs", "b2", 5)]
    revisions = [shown(1, "a1", 0.1, {"docs"}), shown(2, "b2", 5, {"docs"})]
    reactions = [thumbs(1), thumbs_up(6, login="max")]
    result = docs(verdicts=verdicts, revisions=revisions, reactions=reactions)
    assert (result.result, result.revision_id, result.disputed) == (LiveResult.LOSS, 1, False)


def test_the_earliest_objection_decides_and_every_objection_is_linked():
    verdicts = [said("docs", "a1", 0), said("docs", "b2", 5)]
    revisions = [shown(1, "a1", 0.1, {"docs"}), shown(2, "b2", 5, {"docs"})]
    later, earlier = thumbs(6, login="max"), thumbs(2)
    result = docs(verdicts=verdicts, revisions=revisions, reactions=[later, earlier])
    assert (result.reaction_id, result.revision_id) == (earlier.id, 1)
    assert {link["id"] for link in result.evidence} == {earlier.id, later.id}


# --- missed ------------------------------------------------------------------------------

#: ``docs`` claims on a1 and ``size`` says hold there; both shown on the sticky comment.
HOLD = dict(
    verdicts=[said("docs", "a1", 0), said("size", "a1", 0, "hold")],
    revisions=[shown(1, "a1", 0.1, {"docs"}, decisions={"docs": "merge", "size": "hold"})],
)


def test_a_rule_that_said_hold_on_the_merged_head_is_missed_once_final():
    results = settle(**HOLD, outcomes=[merged(3)])
    missed = results["size"]
    assert (missed.result, missed.reason, missed.at, missed.outcome_id, missed.final) == (
        LiveResult.MISSED,
        "missed",
        at(3),
        900,
        True,
    )


def test_missed_waits_for_the_pr_to_be_final():
    assert "size" not in settle(**HOLD, outcomes=[merged(3)], now=at(3 + 24 * 6))


def test_no_miss_when_a_merger_objected_to_the_revision_on_screen_at_the_merge():
    results = settle(**HOLD, reactions=[thumbs(3 + 2)], outcomes=[merged(3)])
    assert "size" not in results
    assert results["docs"].result is LiveResult.LOSS


def test_no_miss_when_the_merge_was_reverted():
    assert "size" not in settle(**HOLD, outcomes=[merged(3), reverted(10)])


def test_a_revert_after_the_revert_window_does_not_retract_a_missed_merge():
    """A win stands against a revert after the window; a ``missed`` must as well: it was
    already final (and recorded), and the ledger never retracts a ``missed``."""
    before = settle(**HOLD, outcomes=[merged(3)], now=at(3 + 24 * 8))
    assert before["size"].result is LiveResult.MISSED and before["size"].final
    after = settle(**HOLD, outcomes=[merged(3), reverted(3 + 24 * 9)], now=at(3 + 24 * 10))
    assert "size" in after, "a revert after the window retracted a final missed"
    assert after["size"].result is LiveResult.MISSED


def test_only_the_rules_last_decision_on_the_merged_head_counts_for_missed():
    verdicts = [said("size", "a1", 0, "hold"), said("size", "a1", 1, "skip")]
    assert settle(verdicts, [], outcomes=[merged(3)]) == {}
    verdicts = [said("size", "a1", 0, "skip"), said("size", "a1", 1, "hold")]
    assert settle(verdicts, [], outcomes=[merged(3)])["size"].result is LiveResult.MISSED


def test_hold_on_another_head_than_the_merged_one_is_no_miss():
    verdicts = [said("size", "a1", 0, "hold"), said("size", "b2", 1, "skip")]
    assert settle(verdicts, [], outcomes=[merged(3, sha="b2")]) == {}


def test_a_rule_that_claimed_on_an_earlier_head_is_superseded_not_missed():
    verdicts = [said("docs", "a1", 0), said("docs", "b2", 1, "hold")]
    result = docs(verdicts=verdicts, outcomes=[merged(3, sha="b2")])
    assert outcome(result) == (LiveResult.NEUTRAL, "superseded")


def test_closed_unmerged_misses_nothing():
    assert "size" not in settle(**HOLD, outcomes=[closed(3)])


# --- final, reopened ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outcomes", "now", "final"),
    [
        ([], LATER, False),
        ([merged(3)], at(3 + 24), False),  # won, but a revert can still come
        ([merged(3)], at(3 + 24 * 7), True),
        ([closed(3)], at(3 + 23), False),
        ([closed(3)], at(3 + 24), True),
        ([closed(3), reopened(5)], LATER, False),
    ],
)
def test_a_result_is_final_once_the_pr_is_closed_and_out_of_its_windows(outcomes, now, final):
    assert docs(outcomes=outcomes, now=now).final is final


def test_a_reopened_pr_is_open_again():
    result = docs(outcomes=[closed(3), reopened(5)])
    assert (result.result, result.reason) == (LiveResult.PENDING, "open")


def test_after_a_reopen_a_thumbs_down_counts_long_after_the_first_close():
    result = docs(reactions=[thumbs(3 + 48)], outcomes=[closed(3), reopened(5)])
    assert result.result is LiveResult.LOSS


def test_a_pr_closed_again_after_a_reopen_settles_on_the_second_close():
    outcomes = [closed(3), reopened(5, id=902), closed(50, id=904)]
    assert docs(outcomes=outcomes, now=at(60)).result is LiveResult.PENDING
    result = docs(outcomes=outcomes)
    assert (result.reason, result.outcome_id) == ("closed_unmerged", 904)


def test_rules_with_nothing_to_settle_are_left_out_and_results_come_in_rule_order():
    verdicts = [said("zeta", "a1", 0), said("alpha", "a1", 0), said("skips", "a1", 0, "skip")]
    results = settle_pull_request(PullRequestEvidence(AUTHOR, verdicts), POLICY, LATER)
    assert [r.rule for r in results] == ["alpha", "zeta"]


# --- order independence: the evidence is a set of rows, read back in any order ----------


def test_two_verdicts_at_one_moment_settle_the_same_in_either_order():
    """Two deliveries evaluated at the same moment may decide differently; which one is
    "last" must not depend on the order the rows come back in."""
    verdicts = [said("size", "a1", 0, "hold"), said("size", "a1", 0, "skip")]
    first = settle(verdicts, [], outcomes=[merged(3)])
    assert first == settle(verdicts[::-1], [], outcomes=[merged(3)])


@pytest.mark.parametrize(("hold_id", "missed"), [(1, False), (2, True)])
def test_of_two_verdicts_at_one_moment_the_later_row_is_the_last(hold_id, missed):
    verdicts = [
        said("size", "a1", 0, "hold", id=hold_id),
        said("size", "a1", 0, "skip", id=3 - hold_id),
    ]
    assert ("size" in settle(verdicts, [], outcomes=[merged(3)])) is missed


def test_the_evidence_of_a_loss_does_not_depend_on_the_order_of_the_revisions():
    """The sticky comment was deleted and posted again (a new comment id): the claim was
    on screen on both, and a merger objected on each."""
    revisions = [
        shown(1, "a1", 0.1, {"docs"}, comment=201),
        shown(2, "a1", 1, {"docs"}, comment=202),
    ]
    reactions = [thumbs(0.5, comment=201), thumbs(2, login="max", comment=202)]
    first = docs(revisions=revisions, reactions=reactions)
    again = docs(revisions=revisions[::-1], reactions=reactions)
    assert first.key() == again.key()
    assert first.evidence == again.evidence


# --- properties over random evidence -----------------------------------------------------
#
# Small vocabularies on purpose (three rules, two heads, two comments, whole hours up to
# 12 with a 3-hour grace period and a 6-hour revert window), so that ties, windows and
# their edges come up often.

RULES = ("r1", "r2", "r3")
HEADS = ("h1", "h2")
SMALL = LivePolicy(grace_period=timedelta(hours=3), revert_window=timedelta(hours=6))
#: Who reacts: login -> (user type, permission). ``ann`` is the author.
PEOPLE = {
    "ann": ("User", "admin"),
    "mel": ("User", "write"),
    "max": ("User", "maintain"),
    "rob": ("User", "read"),
    "dep[bot]": ("Bot", "write"),
}
hours = st.integers(min_value=0, max_value=12)
#: The bot's own clock, a few seconds after GitHub's (or not recorded).
lags = st.one_of(st.none(), st.integers(min_value=0, max_value=3).map(lambda s: s * SECOND))


def later(moment: datetime, lag: timedelta | None) -> datetime | None:
    return None if lag is None else moment + lag


def allowed(rule: str, claimers: frozenset[str]) -> list[str]:
    return ["merge", "hold", "skip"] if rule in claimers else ["hold", "skip"]


@st.composite
def evidences(draw) -> PullRequestEvidence:
    """A PR's evidence. Some rules may claim on it, the others only hold or skip (so that
    misses come up); evaluations fall on few moments, and two deliveries evaluated at one
    moment may decide differently."""
    claimers = draw(st.frozensets(st.sampled_from(RULES)))

    def verdict_by(rule: str):
        decisions = st.sampled_from(allowed(rule, claimers))
        moments = st.integers(min_value=0, max_value=3)
        return st.builds(said, st.just(rule), st.sampled_from(HEADS), moments, decisions)

    verdicts = draw(st.lists(st.sampled_from(RULES).flatmap(verdict_by), max_size=12))
    if verdicts:
        echo = st.sampled_from(verdicts).flatmap(
            lambda v: st.sampled_from(allowed(v.rule, claimers)).map(
                lambda d: replace(v, decision=d)
            )
        )
        verdicts += draw(st.lists(echo, max_size=3))
    revisions = []
    writes = st.tuples(st.sampled_from(HEADS), hours, st.sampled_from([1, 2, None]), lags)
    for id, (head, t, comment, lag) in enumerate(draw(st.lists(writes, min_size=1, max_size=6))):
        # Often every rule that may claim does; sometimes only some, or none.
        some = st.frozensets(st.sampled_from(sorted(claimers))) if claimers else st.just(set())
        claims = draw(st.one_of(st.just(claimers), some))
        revisions.append(shown(id, head, t, claims, comment=comment, recorded_at=later(at(t), lag)))
        # A revision shows what was evaluated: each claim in it is a merge verdict.
        verdicts += [said(rule, head, t) for rule in sorted(claims)]
    ids = draw(st.permutations(range(1, len(verdicts) + 1)))
    verdicts = [replace(v, id=id) for v, id in zip(verdicts, ids, strict=True)]
    reacts = st.tuples(  # mostly thumbs from mergers, still there: the interesting ones
        st.sampled_from([1, 2]),
        st.sampled_from(["mel", "max", *PEOPLE]),
        st.sampled_from([THUMBS_DOWN, THUMBS_DOWN, THUMBS_UP, "heart"]),
        hours,
        st.sampled_from([False, False, True]),
        lags,
    )
    reactions = [
        ReactionSeen(
            1_000 + id, comment, login, *PEOPLE[login], content, at(t), gone, later(at(t), lag)
        )
        for id, (comment, login, content, t, gone, lag) in enumerate(
            draw(st.lists(reacts, max_size=10))
        )
    ]
    outcomes = []
    if draw(st.booleans()):
        outcomes.append(OutcomeSeen(1, "merged", at(draw(hours)), sha=draw(st.sampled_from(HEADS))))
    events = st.tuples(st.sampled_from(["closed", "reopened", "reverted"]), hours)
    for id, (kind, t) in enumerate(draw(st.lists(events, max_size=3))):
        outcomes.append(OutcomeSeen(2 + id, kind, at(t)))
    return PullRequestEvidence(AUTHOR, verdicts, revisions, reactions, outcomes)


nows = st.integers(min_value=0, max_value=24).map(at)


def made_after(reaction: ReactionSeen, revision: Shown) -> bool:
    """On GitHub's clock; within one second, on the bot's when it has both."""
    if reaction.created_at != revision.shown_at:
        return reaction.created_at > revision.shown_at
    seen, recorded = reaction.first_seen_at, revision.recorded_at
    return seen is None or recorded is None or seen >= recorded


def counted_thumbs_down(evidence: PullRequestEvidence, rule: str) -> list[ReactionSeen]:
    """The contract read directly: a merger's 👎, not gone, on a comment, made while a
    revision claiming ``rule`` was on screen there (the last write to that comment before
    it), and not later than the grace period after the PR's last close."""
    closed_at = None
    for item in sorted(evidence.outcomes, key=lambda o: (o.at, o.id)):
        if item.kind in ("merged", "closed"):
            closed_at = item.at
        elif item.kind == "reopened":
            closed_at = None
    found = []
    for reaction in evidence.reactions:
        user_type, permission = PEOPLE[reaction.login]
        if (
            reaction.gone
            or reaction.content != THUMBS_DOWN
            or reaction.login == evidence.author
            or user_type == "Bot"
            or permission not in ("write", "maintain", "admin")
            or (closed_at is not None and reaction.created_at > closed_at + SMALL.grace_period)
        ):
            continue
        writes = sorted(
            (r for r in evidence.revisions if r.comment_id == reaction.comment_id),
            key=lambda r: (r.shown_at, r.id),
        )
        before = [r for r in writes if made_after(reaction, r)]
        # Nothing was on a comment before its first write: a reaction the bot saw before
        # it recorded that write is still a reaction to it.
        on_screen = before[-1] if before else writes[0] if writes else None
        if on_screen is not None and rule in on_screen.claims:
            found.append(reaction)
    return found


@settings(max_examples=400, deadline=None, database=None)
@given(evidences(), nows)
def test_at_most_one_result_per_rule_and_a_counted_thumbs_down_always_loses(evidence, now):
    results = settle_pull_request(evidence, SMALL, now)
    rules = [r.rule for r in results]
    assert len(rules) == len(set(rules))
    by_rule = {r.rule: r for r in results}
    for rule in RULES:
        if counted_thumbs_down(evidence, rule):
            assert by_rule[rule].result is LiveResult.LOSS
            assert by_rule[rule].reason == "objection"


@settings(max_examples=400, deadline=None, database=None)
@given(evidences(), nows)
def test_without_any_reaction_the_only_losses_are_reverts_and_closed_unmerged(evidence, now):
    gone = [replace(reaction, gone=True) for reaction in evidence.reactions]
    for policy in (SMALL, replace(SMALL, closed_unmerged="loss")):
        results = settle_pull_request(replace(evidence, reactions=gone), policy, now)
        for result in results:
            assert not result.disputed
            if result.result is LiveResult.LOSS:
                assert result.reason in ("reverted", "closed_unmerged")
                assert result.reason == "reverted" or policy.closed_unmerged == "loss"


@settings(max_examples=500, deadline=None, database=None)
@given(evidences(), nows, st.randoms(use_true_random=False))
def test_results_do_not_depend_on_the_order_of_the_evidence(evidence, now, rng: random.Random):
    def shuffled(items):
        items = list(items)
        rng.shuffle(items)
        return items

    reordered = PullRequestEvidence(
        evidence.author,
        shuffled(evidence.verdicts),
        shuffled(evidence.revisions),
        shuffled(evidence.reactions),
        shuffled(evidence.outcomes),
    )
    assert settle_pull_request(reordered, SMALL, now) == settle_pull_request(evidence, SMALL, now)
