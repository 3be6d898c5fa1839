"""How far a rule's record can be trusted: the figures shown beside every record.

DESIGN.md, "Confidence and value": counts alone mislead (4 losses in 1,000 claims and 4
in 10 are not the same rule), so each record carries the one-sided 95% upper bound on its
loss rate (exact, Clopper-Pearson), its coverage, and the time it would have saved. Pure
functions over counts; the record's figures are put together in :mod:`.figures`.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from functools import lru_cache

#: DESIGN.md: "the one-sided 95% upper bound".
CONFIDENCE = 0.95


@lru_cache(maxsize=65536)  # records are recounted at each new ledger entry
def loss_rate_bound(losses: int, decided: int, confidence: float = CONFIDENCE) -> float | None:
    """The one-sided upper Clopper-Pearson bound on ``losses / decided`` at ``confidence``
    (DESIGN.md, "Confidence and value": ``decided`` is wins + losses); None when nothing
    is decided yet.

    The bound is the loss rate at which seeing ``losses`` or fewer in ``decided`` would
    happen only ``1 - confidence`` of the time: the ``confidence`` quantile of
    Beta(losses + 1, decided - losses). With no loss it is ``1 - (1 - confidence) **
    (1 / decided)``, "about 3/n": 100 clean wins bound the rate at 2.95%, 299 at 0.997%.
    """
    if not 0 <= losses <= decided:
        raise ValueError(f"need 0 <= losses <= decided, got {losses} of {decided}")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    if decided == 0:
        return None
    if losses == decided:
        return 1.0
    # The inverse of the regularized incomplete beta function is what Beta's quantile is
    # (scipy.stats.beta.ppf calls it, after 40 µs of argument handling: this takes 2).
    # Imported here: most commands never need it.
    from scipy.special import betaincinv  # type: ignore[import-untyped]

    return float(betaincinv(losses + 1, decided - losses, confidence))


def wins_for_loss_rate(rate: float, confidence: float = CONFIDENCE) -> int:
    """The fewest clean wins (no loss) whose :func:`loss_rate_bound` is at most ``rate``:
    DESIGN.md's ``promote_max_loss_rate`` (0.01 needs 299 wins, 0.03 needs 99).

    The closed form ``log(1 - confidence) / log(1 - rate)`` gives the answer to within
    rounding; the result is then checked against :func:`loss_rate_bound` itself, so that
    the rule promoted is exactly the one whose shown bound meets the target.
    """
    if not 0 < rate <= 1:
        raise ValueError(f"a target loss rate must be in (0, 1], got {rate}")
    if rate == 1:
        return 1
    wins = max(1, math.ceil(math.log(1 - confidence) / math.log1p(-rate)))
    while wins > 1 and _bound_of_clean(wins - 1, confidence) <= rate:
        wins -= 1
    while _bound_of_clean(wins, confidence) > rate:
        wins += 1
    return wins


def _bound_of_clean(wins: int, confidence: float) -> float:
    bound = loss_rate_bound(0, wins, confidence)
    assert bound is not None  # wins >= 1
    return bound


def coverage(wins: int, missed: int) -> float | None:
    """DESIGN.md: wins / (wins + missed), how much of the mergeable work the rule takes;
    None when the rule has neither."""
    total = wins + missed
    return wins / total if total else None


def median(values: Iterable[float]) -> float | None:
    """The median of ``values`` (for time saved per win), None when there are none."""
    items = list(values)
    return statistics.median(items) if items else None
