"""Customer features as they stood on a cut-off day, and what happened after it, in the store.

A snapshot on day ``T`` reads only what was known before ``T``: bills by their due date and
payments by their payment date, billed energy of the months before ``T``'s month, work orders,
outages and channel activity dated before ``T``. The outcomes a model learns come from the days
on and after ``T``. Each is one SQL statement per cut-off, aggregated inside the store.
"""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, features
from core.risk.measures import count_if, sum_if
from core.store import schema

COMPLAINT_TYPE = features.COMPLAINT_TYPE
ONLINE_CHANNELS = features.ONLINE_CHANNELS
# The features a snapshot has, in a fixed order (the models' columns).
FEATURES = (
    "late_12m",
    "bills_12m",
    "late_share_12m",
    "late_3m",
    "arrears_cny",
    "arrears_bills",
    "arrears_share_of_bill",
    "bill_cny",
    "bill_change",
    "usage_change_3m",
    "usage_yoy_3m",
    "usage_yoy_12m",
    "usage_yoy_vs_peers_3m",
    "complaints_30d",
    "complaints_90d",
    "complaints_365d",
    "orders_365d",
    "low_satisfaction_365d",
    "outages_14d",
    "outages_90d",
    "outage_hours_365d",
    "channel_events_90d",
    "online_share_365d",
    "days_since_activity",
    "log_capacity_kva",
    "tenure_years",
    "residential",
    "commercial",
    "industrial",
    "agricultural",
)
# Satisfaction at or below this (of 5) counts as dissatisfied.
LOW_SATISFACTION = 2
# No activity ever recorded counts as this many days since.
NO_ACTIVITY_DAYS = 730.0


def month_start(day: dt.date, months: int = 0) -> dt.date:
    """The first day of ``day``'s month, moved by ``months``."""
    index = day.year * 12 + day.month - 1 + months
    return dt.date(index // 12, index % 12 + 1, 1)


def _period(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _bill_part(cutoff: dt.date) -> sa.Subquery:
    bills = schema.bills
    status = features.bill_status(cutoff)
    due_known = bills.c.due_date < cutoff
    year = sa.and_(due_known, bills.c.due_date >= cutoff - dt.timedelta(days=365))
    quarter = sa.and_(due_known, bills.c.due_date >= cutoff - dt.timedelta(days=91))
    late = status.in_(features.LATE_STATUSES)
    owing = sa.and_(due_known, status.in_(features.OWING_STATUSES))
    amount = sa.cast(bills.c.amount_cny, sa.Double)
    # Billed energy counts once its bill is known (due before the cut-off): the months up to
    # the one before last.
    energy = sa.case((due_known, bills.c.kwh_total), else_=None)
    latest = month_start(cutoff, -1)

    def months(first: int, last: int) -> sa.ColumnElement:
        return sa.and_(
            bills.c.period >= _period(month_start(latest, first)),
            bills.c.period < _period(month_start(latest, last)),
        )

    recent, earlier, year_ago = months(-3, 0), months(-6, -3), months(-15, -12)
    last_year, year_before = months(-12, 0), months(-24, -12)
    billed_recent = sa.and_(due_known, bills.c.due_date >= cutoff - dt.timedelta(days=91))
    billed_earlier = sa.and_(
        due_known,
        bills.c.due_date < cutoff - dt.timedelta(days=91),
        bills.c.due_date >= cutoff - dt.timedelta(days=182),
    )
    return (
        sa.select(
            bills.c.customer_id,
            count_if(sa.and_(year, late)).label("late_12m"),
            count_if(year).label("bills_12m"),
            count_if(sa.and_(quarter, late)).label("late_3m"),
            sa.func.coalesce(sum_if(owing, features.bill_outstanding(cutoff)), 0.0).label(
                "arrears_cny"
            ),
            count_if(owing).label("arrears_bills"),
            sa.func.avg(sa.case((billed_recent, amount), else_=None)).label("bill_cny"),
            sa.func.avg(sa.case((billed_earlier, amount), else_=None)).label("bill_earlier"),
            sum_if(recent, energy).label("kwh_recent"),
            sum_if(earlier, energy).label("kwh_earlier"),
            sum_if(year_ago, energy).label("kwh_year_ago"),
            sum_if(last_year, energy).label("kwh_last_year"),
            sum_if(year_before, energy).label("kwh_year_before"),
            count_if(sa.and_(due_known, year_before)).label("months_year_before"),
        )
        .group_by(bills.c.customer_id)
        .subquery("bill_part")
    )


def _order_part(cutoff: dt.date) -> sa.Subquery:
    orders = schema.work_orders
    end = _at(cutoff)
    year = sa.and_(orders.c.created_at < end, orders.c.created_at >= end - dt.timedelta(days=365))
    quarter = sa.and_(orders.c.created_at < end, orders.c.created_at >= end - dt.timedelta(days=90))
    complaint = orders.c.type == COMPLAINT_TYPE
    month = orders.c.created_at >= end - dt.timedelta(days=30)
    return (
        sa.select(
            orders.c.customer_id,
            count_if(sa.and_(month, complaint)).label("complaints_30d"),
            count_if(sa.and_(quarter, complaint)).label("complaints_90d"),
            count_if(sa.and_(year, complaint)).label("complaints_365d"),
            count_if(year).label("orders_365d"),
            count_if(sa.and_(year, orders.c.satisfaction <= LOW_SATISFACTION)).label(
                "low_satisfaction_365d"
            ),
        )
        .where(orders.c.created_at < end)
        .group_by(orders.c.customer_id)
        .subquery("order_part")
    )


def _outage_part(cutoff: dt.date) -> sa.Subquery:
    outages = schema.outages
    end = _at(cutoff)
    hours = (
        sa.cast(sa.extract("epoch", outages.c.end), sa.Double)
        - sa.cast(sa.extract("epoch", outages.c.start), sa.Double)
    ) / 3600.0
    # Only what had ended before the cut-off is known to have lasted this long.
    ended = sa.and_(outages.c.end.is_not(None), outages.c.end < end)
    return (
        sa.select(
            outages.c.customer_id,
            # Complaints about an outage come in the days after it.
            count_if(outages.c.start >= end - dt.timedelta(days=14)).label("outages_14d"),
            count_if(outages.c.start >= end - dt.timedelta(days=90)).label("outages_90d"),
            sa.func.coalesce(
                sum_if(sa.and_(ended, outages.c.start >= end - dt.timedelta(days=365)), hours),
                0.0,
            ).label("outage_hours_365d"),
        )
        .where(outages.c.start < end)
        .group_by(outages.c.customer_id)
        .subquery("outage_part")
    )


def _channel_part(cutoff: dt.date) -> sa.Subquery:
    activity = schema.channel_activity
    known = activity.c.date < cutoff
    year = sa.and_(known, activity.c.date >= cutoff - dt.timedelta(days=365))
    return (
        sa.select(
            activity.c.customer_id,
            sum_if(activity.c.date >= cutoff - dt.timedelta(days=90), activity.c.events).label(
                "channel_events_90d"
            ),
            sum_if(sa.and_(year, activity.c.channel.in_(ONLINE_CHANNELS)), activity.c.events).label(
                "online_365d"
            ),
            sum_if(year, activity.c.events).label("events_365d"),
            sa.func.max(activity.c.date).label("last_activity"),
        )
        .where(known)
        .group_by(activity.c.customer_id)
        .subquery("channel_part")
    )


def features_at(conn: sa.Connection, viewer: access.Viewer, cutoff: dt.date) -> pd.DataFrame:
    """Every visible customer's features as known before ``cutoff``, one row per customer.

    Customers opened on or after the cut-off are left out.

    Returns:
        ``customer_id``, ``customer_class`` and the columns of :data:`FEATURES`.
    """
    customers = schema.customers
    bill, order, outage, channel = (
        _bill_part(cutoff),
        _order_part(cutoff),
        _outage_part(cutoff),
        _channel_part(cutoff),
    )
    source = customers
    for part in (bill, order, outage, channel):
        source = source.outerjoin(part, part.c.customer_id == customers.c.customer_id)
    query = (
        sa.select(
            customers.c.customer_id,
            customers.c.customer_class,
            customers.c.region,
            customers.c.contract_capacity_kva,
            customers.c.open_date,
            *(
                column
                for part in (bill, order, outage, channel)
                for column in part.c
                if column.name != "customer_id"
            ),
        )
        .select_from(source)
        .where(
            access.customer_scope(viewer),
            sa.or_(customers.c.open_date.is_(None), customers.c.open_date < cutoff),
        )
        .order_by(customers.c.customer_id)
    )
    raw = pd.read_sql(query, conn)
    return _derive(raw, cutoff)


def _ratio(numerator, denominator) -> np.ndarray:
    numerator = np.asarray(pd.to_numeric(pd.Series(numerator), errors="coerce"), dtype=float)
    denominator = np.asarray(pd.to_numeric(pd.Series(denominator), errors="coerce"), dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        result = numerator / denominator
    return np.where(np.isfinite(result), result, np.nan)


def relative_to_peers(values: pd.Series, classes: pd.Series, regions: pd.Series) -> np.ndarray:
    """Each value over the median of its customer class in its district.

    A year-on-year ratio of energy moves with the weather and the economy of the whole district;
    over its peers' median it says how the customer fares against them.
    """
    values = pd.Series(np.asarray(values, dtype=float))
    keys = [pd.Series(np.asarray(classes)), pd.Series(np.asarray(regions))]
    median = values.groupby(keys).transform("median")
    return _ratio(values, median.where(median > 0))


def _derive(raw: pd.DataFrame, cutoff: dt.date) -> pd.DataFrame:
    counts = [
        "late_12m",
        "bills_12m",
        "late_3m",
        "arrears_cny",
        "arrears_bills",
        "complaints_30d",
        "complaints_90d",
        "complaints_365d",
        "orders_365d",
        "low_satisfaction_365d",
        "outages_14d",
        "outages_90d",
        "outage_hours_365d",
        "channel_events_90d",
    ]
    frame = pd.DataFrame(
        {"customer_id": raw["customer_id"], "customer_class": raw["customer_class"]}
    )
    for name in counts:
        frame[name] = pd.to_numeric(raw[name], errors="coerce").fillna(0.0).to_numpy(float)
    frame["late_share_12m"] = np.nan_to_num(_ratio(raw["late_12m"], raw["bills_12m"]))
    bill = pd.to_numeric(raw["bill_cny"], errors="coerce").to_numpy(float)
    frame["bill_cny"] = np.nan_to_num(bill)
    frame["arrears_share_of_bill"] = np.nan_to_num(
        _ratio(frame["arrears_cny"], np.where(bill > 0, bill, np.nan))
    )
    frame["bill_change"] = np.nan_to_num(_ratio(raw["bill_cny"], raw["bill_earlier"]) - 1.0)
    frame["usage_change_3m"] = np.nan_to_num(_ratio(raw["kwh_recent"], raw["kwh_earlier"]) - 1.0)
    frame["usage_yoy_3m"] = np.nan_to_num(_ratio(raw["kwh_recent"], raw["kwh_year_ago"]) - 1.0)
    full_year = pd.to_numeric(raw["months_year_before"], errors="coerce").fillna(0) >= 12
    frame["usage_yoy_12m"] = np.where(
        full_year, np.nan_to_num(_ratio(raw["kwh_last_year"], raw["kwh_year_before"]) - 1.0), 0.0
    )
    frame["online_share_365d"] = np.nan_to_num(_ratio(raw["online_365d"], raw["events_365d"]))
    last = pd.to_datetime(raw["last_activity"])
    since = (pd.Timestamp(cutoff) - last).dt.days.astype(float)
    frame["days_since_activity"] = (
        since.fillna(NO_ACTIVITY_DAYS).clip(upper=NO_ACTIVITY_DAYS).to_numpy()
    )
    capacity = (
        pd.to_numeric(raw["contract_capacity_kva"], errors="coerce").fillna(0.0).to_numpy(float)
    )
    frame["log_capacity_kva"] = np.log1p(capacity)
    opened = pd.to_datetime(raw["open_date"])
    tenure = (pd.Timestamp(cutoff) - opened).dt.days / 365.25
    frame["tenure_years"] = tenure.fillna(
        tenure.median() if tenure.notna().any() else 0.0
    ).to_numpy(float)
    for name in schema.CUSTOMER_CLASSES:
        frame[name] = (raw["customer_class"] == name).astype(float).to_numpy()
    frame["usage_yoy_vs_peers_3m"] = (
        relative_to_peers(1.0 + frame["usage_yoy_3m"], raw["customer_class"], raw["region"]) - 1.0
    )
    # Changes beyond ±100% say "much more" or "much less"; the exact size adds only noise.
    for name in (
        "bill_change",
        "usage_change_3m",
        "usage_yoy_3m",
        "usage_yoy_12m",
        "usage_yoy_vs_peers_3m",
    ):
        frame[name] = frame[name].clip(-1.0, 1.0)
    return frame[["customer_id", "customer_class", *FEATURES]]


def arrears_labels(conn: sa.Connection, cutoff: dt.date, until: dt.date) -> pd.DataFrame:
    """Whether the next bill due on or after ``cutoff`` was paid late or not at all.

    The next bill is the first due in the month after the cut-off; it counts only when its due
    date is before ``until`` (the day after the store's last day), so its outcome is known.

    Returns:
        ``customer_id`` and ``label`` (1: late or unpaid on its due date).
    """
    bills = schema.bills
    window_end = min(month_start(cutoff, 1) + dt.timedelta(days=cutoff.day - 1), until)
    late = sa.or_(bills.c.paid_date.is_(None), bills.c.paid_date > bills.c.due_date)
    rows = conn.execute(
        sa.select(bills.c.customer_id, sa.func.max(sa.case((late, 1), else_=0)))
        .where(bills.c.due_date >= cutoff, bills.c.due_date < window_end)
        .group_by(bills.c.customer_id)
    ).all()
    return pd.DataFrame(rows, columns=["customer_id", "label"])


def churn_labels(conn: sa.Connection, cutoff: dt.date, months: int, drop: float) -> pd.DataFrame:
    """Whether the next ``months`` months' energy fell ``drop`` or more behind its peers'.

    The energy from ``cutoff``'s month on is compared with the same months a year before, over
    the median of that ratio among the customer's class in its district (which takes out the
    weather of the year): low activity, the first sign of leaving.

    Returns:
        ``customer_id`` and ``label``; customers without the year-before months are left out.
    """
    bills = schema.bills
    first = month_start(cutoff)
    after = sa.and_(
        bills.c.period >= _period(first), bills.c.period < _period(month_start(first, months))
    )
    before = sa.and_(
        bills.c.period >= _period(month_start(first, -12)),
        bills.c.period < _period(month_start(first, months - 12)),
    )
    customers = schema.customers
    rows = conn.execute(
        sa.select(
            bills.c.customer_id,
            customers.c.customer_class,
            customers.c.region,
            sum_if(after, bills.c.kwh_total),
            count_if(after),
            sum_if(before, bills.c.kwh_total),
            count_if(before),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .group_by(bills.c.customer_id, customers.c.customer_class, customers.c.region)
    ).all()
    frame = pd.DataFrame(
        rows,
        columns=[
            "customer_id",
            "customer_class",
            "region",
            "after",
            "after_n",
            "before",
            "before_n",
        ],
    )
    complete = (frame["after_n"] == months) & (frame["before_n"] == months) & (frame["before"] > 0)
    frame = frame[complete].reset_index(drop=True)
    ratio = frame["after"].astype(float) / frame["before"].astype(float)
    relative = relative_to_peers(ratio, frame["customer_class"], frame["region"])
    label = (np.nan_to_num(relative, nan=1.0) <= 1 - drop).astype(int)
    return pd.DataFrame({"customer_id": frame["customer_id"], "label": label})


def complaint_labels(conn: sa.Connection, cutoff: dt.date, months: int) -> pd.DataFrame:
    """Whether the customer complained in the ``months`` from ``cutoff``.

    Returns:
        ``customer_id`` and ``label`` for every customer opened before the cut-off.
    """
    orders, customers = schema.work_orders, schema.customers
    end = _at(month_start(cutoff, months))
    complained = (
        sa.select(orders.c.customer_id)
        .where(
            orders.c.type == COMPLAINT_TYPE,
            orders.c.created_at >= _at(cutoff),
            orders.c.created_at < end,
        )
        .distinct()
        .subquery("complained")
    )
    rows = conn.execute(
        sa.select(
            customers.c.customer_id,
            sa.case((complained.c.customer_id.is_not(None), 1), else_=0),
        )
        .select_from(
            customers.outerjoin(complained, complained.c.customer_id == customers.c.customer_id)
        )
        .where(sa.or_(customers.c.open_date.is_(None), customers.c.open_date < cutoff))
    ).all()
    return pd.DataFrame(rows, columns=["customer_id", "label"])
