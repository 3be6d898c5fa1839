"""A rule version's record (DESIGN.md, "Confidence and value") and its state
(DESIGN.md, "Thresholds and rule states")."""

from datetime import UTC, datetime, timedelta

import pytest

from shadowbot.core.figures import Entry, Figures, Override, figures, state_of, wins_needed
from shadowbot.core.ledger import RuleState, Thresholds

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def day(n: float) -> datetime:
    return T0 + timedelta(days=n)


def entry(result: str, reason: str = "", saved: float | None = None, **kw) -> Entry:
    kw.setdefault("author_type", "User")
    return Entry(result, reason, saved, **kw)


def win(saved: float | None = 3600.0, reason: str = "merged", **kw) -> Entry:
    return entry("win", reason, saved, **kw)


def loss(reason: str = "objection", **kw) -> Entry:
    return entry("loss", reason, **kw)


# --- figures --------------------------------------------------------------------------


def test_no_entries_make_an_empty_record():
    record = figures([])
    assert (record.wins, record.losses, record.pending, record.errors) == (0, 0, 0, 0)
    assert (record.loss_bound, record.coverage, record.saved_median) == (None, None, None)
    assert record.saved_total == timedelta(0)
    assert (record.first_at, record.last_at) == (None, None)
    assert set(record.by_author) == {"bot", "person"}


def test_each_result_is_counted_in_its_own_place():
    record = figures(
        [
            win(),
            win(reason="endorsed", saved=None),
            loss(),
            loss("reverted"),
            entry("neutral", "superseded"),
            entry("missed", "missed"),
            entry("pending", "open"),
            entry("pending", "grace"),
        ],
        errors=2,
    )
    assert (record.wins, record.endorsed, record.losses, record.reverted) == (2, 1, 2, 1)
    assert (record.neutral, record.closed_unmerged, record.missed, record.pending) == (1, 0, 1, 2)
    assert record.errors == 2
    assert record.decided == 4


def test_closed_unmerged_is_its_own_count_and_a_loss_too_when_the_policy_says_so():
    record = figures(
        [
            entry("neutral", "closed_unmerged"),
            loss("closed_unmerged"),
            entry("neutral", "superseded"),
        ]
    )
    assert (record.closed_unmerged, record.neutral, record.losses) == (2, 1, 1)


def test_disputed_losses_are_counted():
    record = figures([loss(disputed=True), loss(), win()])
    assert (record.losses, record.disputed) == (2, 1)


def test_the_loss_bound_and_coverage_come_from_the_counts():
    record = figures([win()] * 100 + [entry("missed", "missed")] * 25)
    assert record.loss_bound == pytest.approx(0.029513, abs=1e-6)
    assert record.coverage == 0.8
    one_loss = figures([win()] * 9 + [loss()])
    assert one_loss.loss_bound > 0.1


def test_time_saved_is_summed_and_its_median_taken_over_the_wins_that_have_it():
    record = figures([win(600), win(1800), win(7200), win(None, "endorsed"), loss()])
    assert record.saved_total == timedelta(seconds=9600)
    assert record.saved_median == timedelta(seconds=1800)


def test_the_time_span_is_that_of_the_decided_results():
    record = figures(
        [
            win(at=day(3)),
            loss(at=day(1)),
            entry("neutral", "superseded", at=day(0)),
            entry("missed", "missed", at=day(9)),
            entry("pending", "open"),
        ]
    )
    assert (record.first_at, record.last_at) == (day(1), day(3))


def test_the_record_is_broken_down_by_author_kind():
    record = figures(
        [
            win(600, author_type="Bot"),
            win(600, author_type="Bot"),
            loss(author_type="Bot"),
            win(1200),
            entry("missed", "missed"),
        ],
        errors=3,
    )
    bots, people = record.by_author["bot"], record.by_author["person"]
    assert (bots.wins, bots.losses, bots.coverage) == (2, 1, 1.0)
    assert (people.wins, people.losses, people.missed, people.coverage) == (1, 0, 1, 0.5)
    assert bots.saved_total == timedelta(seconds=1200)
    assert people.loss_bound == pytest.approx(0.95)
    assert not isinstance(bots, Figures)  # errors are not known by author
    assert record.wins == bots.wins + people.wins


def test_an_unknown_result_is_refused():
    with pytest.raises(ValueError, match="unknown"):
        figures([entry("won", "merged")])


# --- wins needed -----------------------------------------------------------------------


def test_wins_needed_is_promote_wins_unless_a_target_rate_is_set():
    assert wins_needed(Thresholds(promote_wins=100)) == 100
    assert wins_needed(Thresholds(promote_wins=100), promote_max_loss_rate=0.01) == 299


# --- state ------------------------------------------------------------------------------

LIMITS = Thresholds(max_losses=3, promote_wins=100)


@pytest.mark.parametrize(
    ("wins", "losses", "state"),
    [
        (0, 0, RuleState.ACTIVE),
        (99, 0, RuleState.ACTIVE),
        (100, 0, RuleState.PROMOTED),
        (100, 1, RuleState.ACTIVE),  # the first loss revokes the promotion
        (500, 3, RuleState.ACTIVE),  # at the limit, not over it
        (500, 4, RuleState.DISABLED),
        (0, 4, RuleState.DISABLED),
    ],
)
def test_the_state_follows_the_record(wins, losses, state):
    assert state_of(wins, losses, LIMITS) is state


def test_the_first_loss_revokes_a_promotion():
    assert state_of(150, 0, LIMITS) is RuleState.PROMOTED
    assert state_of(151, 1, LIMITS) is RuleState.ACTIVE
    assert state_of(1000, 1, LIMITS) is RuleState.ACTIVE  # and no number of wins restores it


def test_a_target_loss_rate_sets_the_wins_needed_for_promotion():
    assert state_of(298, 0, LIMITS, promote_max_loss_rate=0.01) is RuleState.ACTIVE
    assert state_of(299, 0, LIMITS, promote_max_loss_rate=0.01) is RuleState.PROMOTED


def enable(days: float) -> Override:
    return Override(day(days), "enable", "the flaky check is fixed", "mel")


def disable(days: float) -> Override:
    return Override(day(days), "disable", "merges too eagerly", "mel")


#: Five losses settled on days 1 to 5.
FIVE_LOSSES = [(day(n), "loss") for n in range(1, 6)] + [(day(2.5), "win")]


def test_a_manual_disable_disables_whatever_the_record():
    assert state_of(200, 0, LIMITS, [disable(1)]) is RuleState.DISABLED


def test_a_manual_enable_gives_a_fresh_allowance_of_losses():
    assert state_of(10, 5, LIMITS, settled=FIVE_LOSSES) is RuleState.DISABLED
    assert state_of(10, 5, LIMITS, [enable(6)], FIVE_LOSSES) is RuleState.ACTIVE


def test_after_an_enable_only_losses_settled_after_it_count_toward_the_limit():
    # Enabled on day 1.5: the losses of days 2 to 5 (four, over the limit of 3) count.
    assert state_of(10, 5, LIMITS, [enable(1.5)], FIVE_LOSSES) is RuleState.DISABLED
    # Enabled on day 2.5: three count, at the limit.
    assert state_of(10, 5, LIMITS, [enable(2.5)], FIVE_LOSSES) is RuleState.ACTIVE


def test_an_enable_is_not_a_promotion_while_the_record_has_a_loss():
    settled = [(day(1), "loss")]
    assert state_of(300, 1, LIMITS, [enable(2)], settled) is RuleState.ACTIVE
    assert state_of(300, 0, LIMITS, [enable(2)]) is RuleState.PROMOTED


def test_the_newest_override_wins():
    assert state_of(10, 5, LIMITS, [disable(6), enable(7)], FIVE_LOSSES) is RuleState.ACTIVE
    assert state_of(10, 5, LIMITS, [enable(7), disable(8)], FIVE_LOSSES) is RuleState.DISABLED
    assert state_of(10, 0, LIMITS, [enable(8), disable(7)]) is RuleState.ACTIVE  # any order


def test_a_disable_and_an_enable_at_one_moment_disable():
    assert state_of(10, 0, LIMITS, [enable(8), disable(8)]) is RuleState.DISABLED
    assert state_of(10, 0, LIMITS, [disable(8), enable(8)]) is RuleState.DISABLED
