"""The statistics of a randomized campaign, from statsmodels and scipy.

Rates get Wilson intervals, differences of rates Newcomb's hybrid score interval, ratios the
log-adjusted interval, the test is the pooled two-sided two-proportion z-test, several arms are
Holm-adjusted, and the sample-ratio check is Pearson's chi-square against the planned shares.
Nothing is hand-rolled: the functions below only name what statsmodels and scipy compute.
"""

import gc
import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

ALPHA = 0.05
# An arm with fewer customers than this tells nothing a decision can rest on: its rates and lifts
# are not shown.
MIN_ARM_CUSTOMERS = 30
# The z-test's normal approximation needs a few events and a few non-events in the two arms
# together; below that the comparison says it has too few.
MIN_EVENTS = 5
# A sample-ratio mismatch this unlikely under the plan means the assignment or the data broke.
SRM_ALPHA = 0.001
# Standardized mean differences above this mark an imbalance worth a look (Austin 2009).
SMD_LIMIT = 0.1

Interval = tuple[float, float]


def _number(value: float | np.floating | None) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _interval(low: float, high: float) -> Interval | None:
    low_number, high_number = _number(low), _number(high)
    if low_number is None or high_number is None:
        return None
    return (low_number, high_number)


def wilson(count: int, n: int, alpha: float = ALPHA) -> Interval | None:
    """The Wilson score interval of a rate, None for an empty arm."""
    if n <= 0:
        return None
    low, high = proportion_confint(count, n, alpha=alpha, method="wilson")
    return _interval(low, high)


@dataclass(frozen=True)
class RateComparison:
    """One rate (reach, response or conversion) of a treatment arm against the control arm.

    Every figure is None when :attr:`enough` is False: too few customers or events to say.

    Attributes:
        treatment_n: customers of the treatment arm (intention to treat: all of them).
        control_n: customers of the control arm.
        treatment_count: customers of the treatment arm with the event.
        control_count: customers of the control arm with the event.
        treatment_rate: the treatment arm's rate (a fraction).
        control_rate: the control arm's rate.
        treatment_ci: Wilson interval of the treatment rate.
        control_ci: Wilson interval of the control rate.
        abs_lift: treatment rate minus control rate.
        abs_lift_ci: interval of the difference (Newcomb's hybrid score).
        rel_lift: the ratio of the rates minus one; None when the control rate is 0.
        rel_lift_ci: interval of the ratio minus one (log-adjusted).
        p_value: pooled two-sided two-proportion z-test.
        p_value_adjusted: Holm-adjusted over the campaign's treatment arms.
        incremental: ``abs_lift × treatment_n``: events the campaign caused.
        enough: whether the arms have enough customers and events for the figures.
    """

    treatment_n: int
    control_n: int
    treatment_count: int
    control_count: int
    treatment_rate: float | None = None
    control_rate: float | None = None
    treatment_ci: Interval | None = None
    control_ci: Interval | None = None
    abs_lift: float | None = None
    abs_lift_ci: Interval | None = None
    rel_lift: float | None = None
    rel_lift_ci: Interval | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None
    incremental: float | None = None
    enough: bool = False

    @property
    def significant(self) -> bool:
        """Whether the adjusted p-value is below :data:`ALPHA`."""
        return self.p_value_adjusted is not None and self.p_value_adjusted < ALPHA

    def as_json(self) -> dict[str, object]:
        """The comparison in the ``evaluate-campaign`` JSON shape."""
        return {
            "treatment_n": self.treatment_n,
            "control_n": self.control_n,
            "treatment_rate": self.treatment_rate,
            "control_rate": self.control_rate,
            "treatment_ci": _listed(self.treatment_ci),
            "control_ci": _listed(self.control_ci),
            "abs_lift": self.abs_lift,
            "abs_lift_ci": _listed(self.abs_lift_ci),
            "rel_lift": self.rel_lift,
            "rel_lift_ci": _listed(self.rel_lift_ci),
            "p_value": self.p_value,
            "p_value_adjusted": self.p_value_adjusted,
            "incremental": self.incremental,
        }


def _listed(interval: Interval | None) -> list[float] | None:
    return None if interval is None else [interval[0], interval[1]]


def has_enough(treatment_count: int, treatment_n: int, control_count: int, control_n: int) -> bool:
    """Whether two arms are large enough to compare a rate (see :data:`MIN_ARM_CUSTOMERS`)."""
    if min(treatment_n, control_n) < MIN_ARM_CUSTOMERS:
        return False
    events = treatment_count + control_count
    return events >= MIN_EVENTS and treatment_n + control_n - events >= MIN_EVENTS


def compare_rates(
    treatment_count: int,
    treatment_n: int,
    control_count: int,
    control_n: int,
    alpha: float = ALPHA,
) -> RateComparison:
    """A rate of a treatment arm against the control arm, with intervals and the z-test.

    Args:
        treatment_count: treatment customers with the event.
        treatment_n: treatment customers.
        control_count: control customers with the event.
        control_n: control customers.
        alpha: one minus the intervals' level.

    Returns:
        The comparison; only the counts when the arms are too small (``enough`` False). The
        adjusted p-value equals the raw one until :func:`holm_adjusted` sets it.
    """
    counts = {
        "treatment_n": int(treatment_n),
        "control_n": int(control_n),
        "treatment_count": int(treatment_count),
        "control_count": int(control_count),
    }
    if not has_enough(treatment_count, treatment_n, control_count, control_n):
        return RateComparison(**counts)
    treatment_rate = treatment_count / treatment_n
    control_rate = control_count / control_n
    abs_lift = treatment_rate - control_rate
    diff_low, diff_high = confint_proportions_2indep(
        treatment_count, treatment_n, control_count, control_n, compare="diff", alpha=alpha
    )
    rel_lift = rel_ci = None
    if control_count > 0:
        rel_lift = treatment_rate / control_rate - 1.0
        ratio_low, ratio_high = confint_proportions_2indep(
            treatment_count, treatment_n, control_count, control_n, compare="ratio", alpha=alpha
        )
        rel_ci = _interval(ratio_low - 1.0, ratio_high - 1.0)
    with warnings.catch_warnings():
        # Equal rates of 0 or 1 give a zero standard error: the test then says nothing (NaN).
        warnings.simplefilter("ignore", RuntimeWarning)
        _, p_value = proportions_ztest(
            np.array([treatment_count, control_count]),
            np.array([treatment_n, control_n]),
            alternative="two-sided",
        )
    p_value = _number(p_value)
    return RateComparison(
        **counts,
        treatment_rate=treatment_rate,
        control_rate=control_rate,
        treatment_ci=wilson(treatment_count, treatment_n, alpha),
        control_ci=wilson(control_count, control_n, alpha),
        abs_lift=abs_lift,
        abs_lift_ci=_interval(diff_low, diff_high),
        rel_lift=rel_lift,
        rel_lift_ci=rel_ci,
        p_value=p_value,
        p_value_adjusted=p_value,
        incremental=abs_lift * treatment_n,
        enough=True,
    )


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm-adjusted p-values of a family of tests; None stays None and is left out."""
    present = [index for index, value in enumerate(p_values) if value is not None]
    adjusted: list[float | None] = [None] * len(p_values)
    if not present:
        return adjusted
    # statsmodels' Holm branch ends in gc.collect(), which walks every object of the process (a
    # page's frames included) and costs a tenth of a second each time; objects frozen first are
    # left out of that walk.
    gc.freeze()
    try:
        _, corrected, _, _ = multipletests([p_values[index] for index in present], method="holm")
    finally:
        gc.unfreeze()
    for index, value in zip(present, corrected, strict=True):
        adjusted[index] = float(value)
    return adjusted


def holm_adjusted(comparisons: Sequence[RateComparison]) -> list[RateComparison]:
    """The comparisons of one family (one rate, the arms of one campaign), Holm-adjusted."""
    adjusted = holm([comparison.p_value for comparison in comparisons])
    return [
        replace(comparison, p_value_adjusted=value)
        for comparison, value in zip(comparisons, adjusted, strict=True)
    ]


@dataclass(frozen=True)
class SampleRatio:
    """The sample-ratio-mismatch check of one campaign.

    Attributes:
        observed: customers per arm.
        planned_shares: the planned share of each arm (summing to 1).
        p_value: Pearson's chi-square test of the observed counts against the plan.
        mismatch: p below :data:`SRM_ALPHA`: the assignment or the data broke.
    """

    observed: dict[str, int]
    planned_shares: dict[str, float]
    p_value: float | None
    mismatch: bool


def sample_ratio(observed: dict[str, int], planned_shares: dict[str, float]) -> SampleRatio:
    """Tests the arms' sizes against the planned shares.

    Args:
        observed: customers per arm.
        planned_shares: planned share per arm; normalised to sum to 1 over the observed arms.

    Returns:
        The check; ``p_value`` None when the plan does not name every arm or has one arm only.
    """
    arms = sorted(observed)
    if len(arms) < 2 or any(planned_shares.get(arm, 0.0) <= 0 for arm in arms):
        return SampleRatio(dict(observed), dict(planned_shares), None, False)
    counts = np.array([observed[arm] for arm in arms], dtype=float)
    shares = np.array([planned_shares[arm] for arm in arms], dtype=float)
    expected = counts.sum() * shares / shares.sum()
    _, p_value = scipy_stats.chisquare(counts, expected)
    p = _number(p_value)
    return SampleRatio(dict(observed), dict(planned_shares), p, p is not None and p < SRM_ALPHA)


def standardized_mean_difference(
    treatment: np.ndarray | Sequence[float], control: np.ndarray | Sequence[float]
) -> float | None:
    """``(mean_t − mean_c) / sqrt((var_t + var_c) / 2)`` over the known values of each arm.

    Returns:
        The SMD; 0 when both arms are constant and equal, None when an arm has under two values.
    """
    first = np.asarray(treatment, dtype=float)
    second = np.asarray(control, dtype=float)
    first, second = first[np.isfinite(first)], second[np.isfinite(second)]
    if len(first) < 2 or len(second) < 2:
        return None
    spread = math.sqrt((first.var(ddof=1) + second.var(ddof=1)) / 2.0)
    difference = float(first.mean() - second.mean())
    if spread == 0:
        return 0.0 if difference == 0 else None
    return difference / spread
