"""Before launch: the smallest effect a plan can detect, and whether that is small enough.

The minimum detectable effect at power 0.8 and a two-sided α of 0.05 comes from statsmodels'
power of the normal test for two independent samples: for a conversion rate on Cohen's h (the
arcsine scale of proportions), for kWh per day in units of the spread of daily use the store
shows for the planned customers. The pre-period covariate of the evaluation (CUPED) shrinks that
spread by the correlation of each customer's use from one quarter to the next, which the store
shows too.
"""

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from statsmodels.stats.power import NormalIndPower

from core import access
from core.campaigns import stats, usage
from core.campaigns.evaluate import CONTROL_ARM
from core.errors import Notice
from core.store import schema

POWER = 0.8
# A plan that can only detect a doubling of the base rate learns nothing a campaign is likely to
# achieve.
TOO_SMALL_RELATIVE_MDE = 1.0


def _effect_size(n_treatment: int, n_control: int) -> float | None:
    """The standardized effect two arms of these sizes detect at :data:`POWER`."""
    if n_treatment < 2 or n_control < 2:
        return None
    solved = NormalIndPower().solve_power(
        effect_size=None,
        nobs1=n_treatment,
        alpha=stats.ALPHA,
        power=POWER,
        ratio=n_control / n_treatment,
        alternative="two-sided",
    )
    return float(np.asarray(solved).item())


def conversion_mde(baseline_rate: float, n_treatment: int, n_control: int) -> float | None:
    """The smallest rise of a conversion rate from ``baseline_rate`` the arms detect.

    Returns:
        The absolute lift (0.012 is 1.2 points); None for arms too small to compute it.
    """
    h = _effect_size(n_treatment, n_control)
    if h is None or not 0.0 <= baseline_rate < 1.0:
        return None
    angle = math.asin(math.sqrt(baseline_rate)) + h / 2.0
    if angle >= math.pi / 2:
        return 1.0 - baseline_rate
    return math.sin(angle) ** 2 - baseline_rate


def mean_mde(spread: float, n_treatment: int, n_control: int) -> float | None:
    """The smallest change of a mean (kWh per day) with this spread the arms detect."""
    d = _effect_size(n_treatment, n_control)
    return None if d is None or not math.isfinite(spread) else d * spread


@dataclass(frozen=True)
class UsageSpread:
    """How daily use varies among planned customers, as the store shows it.

    Attributes:
        customers: customers with use in both of the last two quarters.
        spread: the standard deviation of kWh per day over the last quarter.
        correlation: the correlation of each customer's kWh per day between the two quarters.
    """

    customers: int
    spread: float | None
    correlation: float | None


def usage_spread(conn: sa.Connection, customer_ids: list[str]) -> UsageSpread:
    """The spread of the customers' daily use and its quarter-to-quarter correlation."""
    use = usage.recent_usage(conn, customer_ids).dropna(
        subset=["pre_kwh_per_day", "post_kwh_per_day"]
    )
    if len(use) < 3:
        return UsageSpread(len(use), None, None)
    spread = float(use["post_kwh_per_day"].std(ddof=1))
    correlation = float(np.corrcoef(use["pre_kwh_per_day"], use["post_kwh_per_day"])[0, 1])
    return UsageSpread(len(use), spread, correlation if math.isfinite(correlation) else None)


def baseline_rate(conn: sa.Connection, viewer: access.Viewer, goal: str) -> float | None:
    """The conversion rate of past control arms of campaigns with this goal, in scope."""
    members, campaigns, customers = (
        schema.campaign_members,
        schema.campaigns,
        schema.customers,
    )
    row = conn.execute(
        sa.select(sa.func.count(), sa.func.count(members.c.converted_at))
        .select_from(members)
        .join(campaigns, campaigns.c.campaign_id == members.c.campaign_id)
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .where(
            members.c.arm == CONTROL_ARM,
            campaigns.c.goal == goal,
            access.customer_scope(viewer, customers),
        )
    ).one()
    total, converted = int(row[0]), int(row[1])
    return converted / total if total else None


@dataclass(frozen=True)
class PowerCheck:
    """What a plan can detect.

    Attributes:
        arm_sizes: the expected members of each arm.
        baseline_rate: the conversion rate without the campaign.
        conversion_mde: the smallest lift of the conversion rate the smallest treatment arm
            detects against control (absolute).
        conversion_mde_relative: the same over the baseline rate.
        kwh_mde: the smallest change of kWh per day detected by a plain comparison.
        kwh_mde_adjusted: the same with the pre-period covariate (CUPED).
        spread: the store's spread of daily use for these customers.
        too_small: whether the plan is too small to learn anything.
        notices: why it is too small, in words.
    """

    arm_sizes: dict[str, int]
    baseline_rate: float | None
    conversion_mde: float | None
    conversion_mde_relative: float | None
    kwh_mde: float | None
    kwh_mde_adjusted: float | None
    spread: UsageSpread | None
    too_small: bool
    notices: list[Notice] = field(default_factory=list)


def check_power(
    shares: dict[str, float],
    members: int,
    baseline: float | None,
    spread: UsageSpread | None = None,
    expected_lift: float | None = None,
) -> PowerCheck:
    """The detectable effects of a plan and whether it is too small.

    Args:
        shares: the planned share of each arm, control included.
        members: customers in the plan.
        baseline: the conversion rate without the campaign (None: not known).
        spread: the store's spread of the customers' daily use (energy offers).
        expected_lift: the lift the planner hopes for (absolute), when given.

    Returns:
        The check.
    """
    sizes = {arm: int(round(share * members)) for arm, share in shares.items()}
    control = sizes.get(CONTROL_ARM, 0)
    treated = [size for arm, size in sizes.items() if arm != CONTROL_ARM]
    smallest = min(treated) if treated else 0
    notices: list[Notice] = []
    too_small = False
    if min(control, smallest) < stats.MIN_ARM_CUSTOMERS:
        too_small = True
        notices.append(
            Notice(
                "campaigns.notice.plan_arm_too_small",
                smallest=min(control, smallest),
                minimum=stats.MIN_ARM_CUSTOMERS,
            )
        )
    mde = relative = None
    if baseline is not None:
        mde = conversion_mde(baseline, smallest, control)
        relative = mde / baseline if mde is not None and baseline > 0 else None
        if relative is not None and relative >= TOO_SMALL_RELATIVE_MDE:
            too_small = True
            notices.append(
                Notice(
                    "campaigns.notice.plan_doubling",
                    mde=f"{mde:.1%}",
                    baseline=f"{baseline:.1%}",
                )
            )
        if expected_lift is not None and mde is not None and expected_lift < mde:
            too_small = True
            notices.append(
                Notice(
                    "campaigns.notice.plan_below_expected",
                    mde=f"{mde:.1%}",
                    expected=f"{expected_lift:.1%}",
                )
            )
    kwh = adjusted = None
    if spread is not None and spread.spread is not None:
        kwh = mean_mde(spread.spread, smallest, control)
        if kwh is not None and spread.correlation is not None:
            adjusted = kwh * math.sqrt(max(0.0, 1.0 - spread.correlation**2))
    return PowerCheck(
        arm_sizes=sizes,
        baseline_rate=baseline,
        conversion_mde=mde,
        conversion_mde_relative=relative,
        kwh_mde=kwh,
        kwh_mde_adjusted=adjusted,
        spread=spread,
        too_small=too_small,
        notices=notices,
    )


def arm_sizes_frame(check: PowerCheck) -> pd.DataFrame:
    """The expected members of each arm as a table: arm, members."""
    return pd.DataFrame({"arm": list(check.arm_sizes), "members": list(check.arm_sizes.values())})
