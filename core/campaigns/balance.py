"""Balance of a campaign's arms on what the customers were before the campaign started.

Randomization makes the arms alike in expectation; the check shows whether they are alike in
fact, on features computed as of the day before the campaign (not today's features, which the
campaign itself may have moved): use in the pre-period, bills, service contacts and online
activity of the year before, contract capacity and tenure. Each is compared by its standardized
mean difference, flagged above :data:`core.campaigns.stats.SMD_LIMIT`.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import features
from core.campaigns import stats
from core.campaigns.evaluate import CONTROL_ARM
from core.store import schema

# The service and billing history a balance check looks back over.
HISTORY_DAYS = 365
BALANCE_FEATURES = (
    "pre_kwh_per_day",
    "pre_peak_share",
    "monthly_bill_cny",
    "late_payments",
    "work_orders",
    "online_events",
    "contract_capacity_kva",
    "tenure_years",
)


@dataclass(frozen=True)
class BalanceRow:
    """One pre-campaign feature compared between a treatment arm and control.

    Attributes:
        arm: the treatment arm.
        feature: one of :data:`BALANCE_FEATURES`.
        treatment_mean: the arm's mean over the customers with a value.
        control_mean: the control arm's mean.
        smd: the standardized mean difference; None when an arm has under two values.
        flagged: ``|smd|`` above the limit.
    """

    arm: str
    feature: str
    treatment_mean: float | None
    control_mean: float | None
    smd: float | None
    flagged: bool

    def as_json(self) -> dict[str, object]:
        """The row as JSON."""
        return {
            "arm": self.arm,
            "feature": self.feature,
            "treatment_mean": self.treatment_mean,
            "control_mean": self.control_mean,
            "smd": self.smd,
            "flagged": self.flagged,
        }


def history(conn: sa.Connection, customer_ids: list[str], start_date: dt.date) -> pd.DataFrame:
    """Each customer's bills, service contacts and archive as of the day before ``start_date``.

    Returns:
        customer_id, monthly_bill_cny, late_payments, work_orders, online_events,
        contract_capacity_kva, tenure_years.
    """
    ids = sorted(set(customer_ids))
    first = start_date - dt.timedelta(days=HISTORY_DAYS)
    customers, bills = schema.customers, schema.bills
    orders, activity = schema.work_orders, schema.channel_activity
    first_month, start_month = f"{first:%Y-%m}", f"{start_date:%Y-%m}"
    in_history = sa.and_(
        bills.c.period >= first_month, bills.c.period < start_month, bills.c.customer_id.in_(ids)
    )
    late = features.bill_status(start_date).in_(features.LATE_STATUSES)
    bill_rows = conn.execute(
        sa.select(
            bills.c.customer_id,
            sa.func.avg(sa.cast(bills.c.amount_cny, sa.Double)),
            sa.func.sum(sa.case((late, 1), else_=0)),
        )
        .where(in_history)
        .group_by(bills.c.customer_id)
    ).all()
    start = dt.datetime.combine(start_date, dt.time())
    order_rows = conn.execute(
        sa.select(orders.c.customer_id, sa.func.count())
        .where(
            orders.c.customer_id.in_(ids),
            orders.c.created_at >= dt.datetime.combine(first, dt.time()),
            orders.c.created_at < start,
        )
        .group_by(orders.c.customer_id)
    ).all()
    online = activity.c.channel.in_(features.ONLINE_CHANNELS)
    activity_rows = conn.execute(
        sa.select(activity.c.customer_id, sa.func.sum(activity.c.events))
        .where(
            activity.c.customer_id.in_(ids),
            activity.c.date >= first,
            activity.c.date < start_date,
            online,
        )
        .group_by(activity.c.customer_id)
    ).all()
    archive = conn.execute(
        sa.select(
            customers.c.customer_id, customers.c.contract_capacity_kva, customers.c.open_date
        ).where(customers.c.customer_id.in_(ids))
    ).all()
    frame = pd.DataFrame(archive, columns=["customer_id", "contract_capacity_kva", "open_date"])
    opened = pd.to_datetime(frame["open_date"])
    frame["tenure_years"] = (pd.Timestamp(start_date) - opened).dt.days / 365.25
    bills_frame = pd.DataFrame(bill_rows, columns=["customer_id", "monthly_bill_cny", "late"])
    frame = frame.merge(bills_frame, on="customer_id", how="left")
    frame["late_payments"] = pd.to_numeric(frame["late"]).fillna(0).astype(float)
    for rows, name in ((order_rows, "work_orders"), (activity_rows, "online_events")):
        counts = pd.DataFrame(rows, columns=["customer_id", name])
        frame = frame.merge(counts, on="customer_id", how="left")
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype(float)
    frame["monthly_bill_cny"] = pd.to_numeric(frame["monthly_bill_cny"]).astype(float)
    frame["contract_capacity_kva"] = pd.to_numeric(frame["contract_capacity_kva"]).astype(float)
    return frame[
        [
            "customer_id",
            "monthly_bill_cny",
            "late_payments",
            "work_orders",
            "online_events",
            "contract_capacity_kva",
            "tenure_years",
        ]
    ]


def balance(covariates: pd.DataFrame, arms: pd.Series) -> list[BalanceRow]:
    """Standardized mean differences of each treatment arm against control.

    Args:
        covariates: one row per customer: ``customer_id`` and any of :data:`BALANCE_FEATURES`.
        arms: each customer's arm, indexed by customer id.

    Returns:
        One row per treatment arm and feature, in arm then feature order.
    """
    frame = covariates.set_index("customer_id")
    assigned = arms.reindex(frame.index)
    control = frame[assigned == CONTROL_ARM]
    rows = []
    for arm in sorted(set(arms) - {CONTROL_ARM}):
        treated = frame[assigned == arm]
        for feature in BALANCE_FEATURES:
            if feature not in frame.columns:
                continue
            first = treated[feature].to_numpy(dtype=float)
            second = control[feature].to_numpy(dtype=float)
            smd = stats.standardized_mean_difference(first, second)
            rows.append(
                BalanceRow(
                    arm=str(arm),
                    feature=feature,
                    treatment_mean=_mean(first),
                    control_mean=_mean(second),
                    smd=smd,
                    flagged=smd is not None and abs(smd) > stats.SMD_LIMIT,
                )
            )
    return rows


def _mean(values: np.ndarray) -> float | None:
    known = values[np.isfinite(values)]
    return float(known.mean()) if len(known) else None
