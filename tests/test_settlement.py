"""Settlement semantics of DESIGN.md, one case per sentence of the contract."""

from datetime import UTC, datetime, timedelta

import pytest

from shadowbot.core.ledger import RuleRecord, RuleState, Thresholds, derive_state
from shadowbot.core.settlement import ClaimFacts, Evidence, Policy, Result, settle

T0 = datetime(2024, 3, 1, 12, tzinfo=UTC)
LATER = T0 + timedelta(days=30)
LIVE = Policy()


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def objection(hours: float, by: str = "alice") -> Evidence:
    return Evidence("objection", at(hours), by, "👎")


def endorsement(hours: float, by: str = "alice") -> Evidence:
    return Evidence("endorsement", at(hours), by, "👍")


def test_merged_at_the_claimed_head_is_a_win_once_the_grace_period_ran_out():
    facts = ClaimFacts("a1", T0, merged_sha="a1", merged_at=at(1))
    assert settle(facts, LIVE, at(2)).result is Result.PENDING
    settled = settle(facts, LIVE, at(26))
    assert (settled.result, settled.reason, settled.at) == (Result.WIN, "merged", at(1))


def test_an_objection_dominates_a_clean_merge():
    facts = ClaimFacts("a1", T0, (endorsement(0.5), objection(3)), "a1", at(1))
    settled = settle(facts, LIVE, LATER)
    assert settled.result is Result.LOSS
    assert settled.evidence == objection(3)


def test_the_earliest_of_several_losses_is_the_evidence():
    revert = Evidence("revert", at(50), "bob", "reverted by #9")
    facts = ClaimFacts("a1", T0, (revert, objection(4, "carol")), "a1", at(1))
    settled = settle(facts, LIVE, LATER)
    assert (settled.reason, settled.evidence) == ("objection", objection(4, "carol"))


def test_a_revert_is_a_loss():
    revert = Evidence("revert", at(50), "bob", "reverted by #9")
    settled = settle(ClaimFacts("a1", T0, (revert,), "a1", at(1)), LIVE, LATER)
    assert (settled.result, settled.reason) == (Result.LOSS, "reverted")


def test_merged_at_another_head_is_neutral():
    settled = settle(ClaimFacts("a1", T0, merged_sha="b2", merged_at=at(5)), LIVE, LATER)
    assert (settled.result, settled.reason) == (Result.NEUTRAL, "superseded")


def test_a_superseded_claim_is_neutral_in_live_mode():
    settled = settle(ClaimFacts("a1", T0, superseded_at=at(2)), LIVE, LATER)
    assert (settled.result, settled.reason) == (Result.NEUTRAL, "superseded")


@pytest.mark.parametrize(("policy", "result"), [("neutral", Result.NEUTRAL), ("loss", Result.LOSS)])
def test_closed_unmerged_follows_the_policy_and_is_counted_apart(policy, result):
    settled = settle(ClaimFacts("a1", T0, closed_at=at(3)), Policy(closed_unmerged=policy), LATER)
    assert (settled.result, settled.reason) == (result, "closed_unmerged")
    record = RuleRecord(Thresholds())
    record.record(settled, 7)
    # Shown as its own count either way; a loss only under the "loss" policy.
    assert (record.claims, record.closed_unmerged, record.neutral) == (1, 1, 0)
    assert record.losses == (1 if policy == "loss" else 0)


def test_a_claim_on_a_pr_closed_unmerged_waits_out_the_grace_period():
    # DESIGN.md: a merger's 👎 counts "within the grace period after the PR closed".
    closed = ClaimFacts("a1", T0, closed_at=at(3))
    settled = settle(closed, LIVE, at(4))
    assert (settled.result, settled.reason) == (Result.PENDING, "grace")
    assert settle(closed, LIVE, at(28)).result is Result.NEUTRAL
    objected = ClaimFacts("a1", T0, (objection(5),), closed_at=at(3))
    assert settle(objected, LIVE, at(6)).result is Result.LOSS


def test_an_endorsement_turns_an_otherwise_neutral_claim_into_a_win():
    facts = ClaimFacts("a1", T0, (endorsement(1),), superseded_at=at(2))
    settled = settle(facts, LIVE, LATER)
    assert (settled.result, settled.reason) == (Result.WIN, "endorsed")


def test_an_endorsement_does_not_settle_an_open_pull_request():
    assert settle(ClaimFacts("a1", T0, (endorsement(1),)), LIVE, LATER).result is Result.PENDING


def test_state_is_derived_from_wins_and_losses():
    t = Thresholds(max_losses=3, promote_wins=100)
    assert derive_state(100, 0, t) is RuleState.PROMOTED
    assert derive_state(99, 0, t) is RuleState.ACTIVE
    assert derive_state(500, 1, t) is RuleState.ACTIVE  # the first loss revokes a promotion
    assert derive_state(0, 3, t) is RuleState.ACTIVE  # "more losses than max_losses"
    assert derive_state(0, 4, t) is RuleState.DISABLED
    assert derive_state(0, 9, t, override=RuleState.ACTIVE) is RuleState.ACTIVE


def test_the_record_says_on_which_pr_the_state_changed():
    record = RuleRecord(Thresholds(max_losses=1, promote_wins=2))
    win = settle(ClaimFacts("a", T0, merged_sha="a", merged_at=at(1)), LIVE, LATER)
    loss = settle(ClaimFacts("a", T0, (objection(5),)), LIVE, LATER)
    assert record.record(win, 1) is None
    promoted = record.record(win, 2)
    assert promoted is not None and (promoted.after, promoted.pr) == (RuleState.PROMOTED, 2)
    revoked = record.record(loss, 3)
    assert revoked is not None and (revoked.before, revoked.after) == (
        RuleState.PROMOTED,
        RuleState.ACTIVE,
    )
    disabled = record.record(loss, 4)
    assert disabled is not None and (disabled.after, disabled.pr, disabled.at) == (
        RuleState.DISABLED,
        4,
        at(5),
    )
    assert (record.wins, record.losses, record.precision) == (2, 2, 0.5)
