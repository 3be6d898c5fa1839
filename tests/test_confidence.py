"""The figures of DESIGN.md, "Confidence and value": loss-rate bound, wins needed for a
target rate, coverage."""

import math

import pytest

from shadowbot.core.confidence import coverage, loss_rate_bound, median, wins_for_loss_rate


def test_no_decided_claim_has_no_bound():
    assert loss_rate_bound(0, 0) is None


@pytest.mark.parametrize(("wins", "bound"), [(100, 0.029513), (299, 0.009969), (1, 0.95)])
def test_clean_wins_bound_the_loss_rate_at_about_three_over_n(wins, bound):
    assert loss_rate_bound(0, wins) == pytest.approx(bound, abs=1e-6)
    assert loss_rate_bound(0, wins) == pytest.approx(1 - 0.05 ** (1 / wins), rel=1e-12)


def binomial_cdf(k: int, n: int, p: float) -> float:
    return sum(math.comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(k + 1))


@pytest.mark.parametrize(("losses", "decided"), [(4, 1000), (4, 10), (1, 3), (30, 120)])
def test_the_bound_is_the_rate_at_which_so_few_losses_happen_five_percent_of_the_time(
    losses, decided
):
    """Clopper-Pearson's definition, checked without the beta distribution."""
    bound = loss_rate_bound(losses, decided)
    assert binomial_cdf(losses, decided, bound) == pytest.approx(0.05, rel=1e-9)


def test_four_losses_in_a_thousand_are_not_four_in_ten():
    assert loss_rate_bound(4, 1000) == pytest.approx(0.00913, abs=1e-5)
    assert loss_rate_bound(4, 10) == pytest.approx(0.69646, abs=1e-5)


def test_the_bound_is_above_the_observed_rate_and_tightens_with_more_evidence():
    assert loss_rate_bound(1, 10) > 0.1
    assert loss_rate_bound(10, 100) < loss_rate_bound(1, 10)
    assert loss_rate_bound(3, 100, confidence=0.99) > loss_rate_bound(3, 100)


def test_all_losses_bound_the_rate_at_one():
    assert loss_rate_bound(5, 5) == 1.0


@pytest.mark.parametrize(
    ("losses", "decided", "confidence"), [(-1, 3, 0.95), (4, 3, 0.95), (0, 3, 1.0), (0, 3, 0)]
)
def test_impossible_counts_are_refused(losses, decided, confidence):
    with pytest.raises(ValueError):
        loss_rate_bound(losses, decided, confidence)


@pytest.mark.parametrize(("rate", "wins"), [(0.01, 299), (0.03, 99), (0.05, 59), (0.5, 5)])
def test_the_wins_needed_for_a_target_rate_are_the_fewest_whose_bound_meets_it(rate, wins):
    assert wins_for_loss_rate(rate) == wins
    assert loss_rate_bound(0, wins) <= rate
    assert loss_rate_bound(0, wins - 1) > rate


def test_a_target_exactly_at_a_bound_is_met_by_that_many_wins():
    exact = loss_rate_bound(0, 150)
    assert wins_for_loss_rate(exact) == 150
    assert wins_for_loss_rate(exact * (1 - 1e-12)) == 151


def test_a_lenient_target_needs_a_single_win():
    assert wins_for_loss_rate(0.95) == 1
    assert wins_for_loss_rate(1.0) == 1


def test_a_stricter_confidence_needs_more_wins():
    assert wins_for_loss_rate(0.01, confidence=0.99) == 459


@pytest.mark.parametrize("rate", [0, -0.1, 1.5])
def test_a_target_rate_outside_zero_to_one_is_refused(rate):
    with pytest.raises(ValueError):
        wins_for_loss_rate(rate)


def test_coverage_is_wins_over_wins_and_missed():
    assert coverage(3, 1) == 0.75
    assert coverage(0, 4) == 0.0
    assert coverage(0, 0) is None


def test_median():
    assert median([3.0, 1.0, 2.0]) == 2.0
    assert median([1.0, 2.0]) == 1.5
    assert median([]) is None
