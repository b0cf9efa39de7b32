"""The effect of an energy offer on use: kWh per day and peak share, treated against control.

Estimated the way evaluators of utility behaviour programmes do (randomized encouragement
designs): a comparison of the arms after the campaign, adjusted by regression on the same
customer's use before it (CUPED), with the difference-in-differences beside it and the plain
difference for reference. The share of the plain estimate's variance the covariate removed is
shown. Every member counts in its arm (intention to treat); ordinary least squares from
statsmodels with heteroskedasticity-robust (HC2) standard errors.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm

from core.campaigns import stats
from core.campaigns.evaluate import CONTROL_ARM

ENERGY_METRICS = ("kwh_per_day", "peak_share")
COVARIANCE = "HC2"


@dataclass(frozen=True)
class Estimate:
    """One estimate of the effect of being in the treatment arm.

    Attributes:
        effect: treatment minus control (kWh per day, or a share: −0.015 is −1.5 points).
        ci: the 95 % interval.
        std_error: the robust standard error.
        p_value: two-sided, against no effect.
    """

    effect: float
    ci: stats.Interval
    std_error: float
    p_value: float

    def as_json(self) -> dict[str, object]:
        """The estimate as JSON."""
        return {
            "effect": self.effect,
            "ci": [self.ci[0], self.ci[1]],
            "std_error": self.std_error,
            "p_value": self.p_value,
        }


@dataclass(frozen=True)
class EnergyEffect:
    """The effect of one treatment arm on one measure of use.

    Attributes:
        arm: the treatment arm.
        metric: ``kwh_per_day`` or ``peak_share``.
        treatment_n: treatment customers with use before and after.
        control_n: control customers with use before and after.
        treatment_pre: the arm's mean before the campaign.
        treatment_post: the arm's mean after it.
        control_pre: the control arm's mean before.
        control_post: the control arm's mean after.
        unadjusted: the plain difference after the campaign.
        cuped: the difference adjusted for the same customers' use before (regression).
        did: the difference-in-differences.
        variance_reduction: ``1 − var(cuped) / var(unadjusted)``.
        enough: whether both arms have enough customers; the estimates are None otherwise.
    """

    arm: str
    metric: str
    treatment_n: int
    control_n: int
    treatment_pre: float | None = None
    treatment_post: float | None = None
    control_pre: float | None = None
    control_post: float | None = None
    unadjusted: Estimate | None = None
    cuped: Estimate | None = None
    did: Estimate | None = None
    variance_reduction: float | None = None
    enough: bool = False

    def as_json(self) -> dict[str, object]:
        """The effect as JSON."""
        return {
            "arm": self.arm,
            "metric": self.metric,
            "treatment_n": self.treatment_n,
            "control_n": self.control_n,
            "treatment_pre": self.treatment_pre,
            "treatment_post": self.treatment_post,
            "control_pre": self.control_pre,
            "control_post": self.control_post,
            "unadjusted": None if self.unadjusted is None else self.unadjusted.as_json(),
            "cuped": None if self.cuped is None else self.cuped.as_json(),
            "did": None if self.did is None else self.did.as_json(),
            "variance_reduction": self.variance_reduction,
        }


def _fit(outcome: np.ndarray, columns: list[np.ndarray]) -> Estimate:
    """OLS of the outcome on a constant and the columns; the first column's coefficient."""
    design = np.column_stack([np.ones(len(outcome)), *columns])
    fitted = sm.OLS(outcome, design).fit(cov_type=COVARIANCE)
    low, high = fitted.conf_int(alpha=stats.ALPHA)[1]
    return Estimate(
        effect=float(fitted.params[1]),
        ci=(float(low), float(high)),
        std_error=float(fitted.bse[1]),
        p_value=float(fitted.pvalues[1]),
    )


def estimate(
    pre: np.ndarray, post: np.ndarray, treated: np.ndarray, arm: str, metric: str
) -> EnergyEffect:
    """The effect of treatment on one measure, from each customer's value before and after.

    Args:
        pre: the measure before the campaign, one value per customer.
        post: the measure after it.
        treated: 1 for the treatment arm, 0 for control.
        arm: the treatment arm's name.
        metric: the measure's name.

    Returns:
        The plain, CUPED and difference-in-differences estimates; counts only when an arm has
        fewer than :data:`core.campaigns.stats.MIN_ARM_CUSTOMERS` customers.
    """
    pre, post = np.asarray(pre, dtype=float), np.asarray(post, dtype=float)
    treated = np.asarray(treated, dtype=float)
    known = np.isfinite(pre) & np.isfinite(post)
    pre, post, treated = pre[known], post[known], treated[known]
    treatment_n, control_n = int(treated.sum()), int((1 - treated).sum())
    if min(treatment_n, control_n) < stats.MIN_ARM_CUSTOMERS:
        return EnergyEffect(arm, metric, treatment_n, control_n)
    in_arm = treated == 1
    unadjusted = _fit(post, [treated])
    cuped = _fit(post, [treated, pre - pre.mean()])
    did = _fit(post - pre, [treated])
    reduction = 1.0 - (cuped.std_error / unadjusted.std_error) ** 2
    return EnergyEffect(
        arm=arm,
        metric=metric,
        treatment_n=treatment_n,
        control_n=control_n,
        treatment_pre=float(pre[in_arm].mean()),
        treatment_post=float(post[in_arm].mean()),
        control_pre=float(pre[~in_arm].mean()),
        control_post=float(post[~in_arm].mean()),
        unadjusted=unadjusted,
        cuped=cuped,
        did=did,
        variance_reduction=float(reduction),
        enough=True,
    )


def effects(use: pd.DataFrame, arms: pd.Series) -> list[EnergyEffect]:
    """The effect of each treatment arm on kWh per day and peak share.

    Args:
        use: :func:`core.campaigns.usage.usage` of the campaign's members.
        arms: each member's arm, indexed by customer id.

    Returns:
        One effect per treatment arm and metric.
    """
    frame = use.set_index("customer_id")
    assigned = arms.reindex(frame.index)
    results = []
    for arm in sorted(set(arms) - {CONTROL_ARM}):
        rows = frame[assigned.isin([arm, CONTROL_ARM])]
        treated = (assigned[rows.index] == arm).to_numpy(dtype=float)
        for metric in ENERGY_METRICS:
            results.append(
                estimate(
                    rows[f"pre_{metric}"].to_numpy(dtype=float),
                    rows[f"post_{metric}"].to_numpy(dtype=float),
                    treated,
                    str(arm),
                    metric,
                )
            )
    return results
