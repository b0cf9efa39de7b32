"""Collection (电费回收): what is owed and for how long, what each month's bills brought in.

A bill is owed from its due date on. As of a date it owes all of its amount when it was not paid
by then, and what the payment fell short of when it was; the Overview's arrears figure is the
same sum (:func:`outstanding`).
"""

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from core import access, features
from core.kpis import drill
from core.store import functions, schema

# Ageing buckets of an overdue amount, by days past its due date: (code, first day, last day).
AGEING_BUCKETS: tuple[tuple[str, int, int | None], ...] = (
    ("0_30", 0, 30),
    ("31_90", 31, 90),
    ("91_180", 91, 180),
    ("over_180", 181, None),
)
BUCKETS = tuple(code for code, _, _ in AGEING_BUCKETS)
# Debtors a window lists by default.
TOP_DEBTORS = 20
# Less than this is rounding, not a debt.
OWING_FROM_CNY = features.ARREARS_TOLERANCE_CNY
OUTSTANDING_DIMENSIONS = ("region", "customer_class", "bucket")


def outstanding(bills: sa.FromClause, as_of: dt.date) -> sa.ColumnElement:
    """What a bill still owed at the end of ``as_of``, wherever it was due.

    A bill paid later was still wholly unpaid then; one paid by then owes only what the payment
    fell short of.
    """
    unpaid_then = sa.or_(bills.c.paid_date.is_(None), bills.c.paid_date > as_of)
    return sa.case(
        (unpaid_then, bills.c.amount_cny),
        else_=bills.c.amount_cny - sa.func.coalesce(bills.c.paid_cny, bills.c.amount_cny),
    )


def collected(bills: sa.FromClause, as_of: dt.date) -> sa.ColumnElement:
    """What was paid of a bill by the end of ``as_of``."""
    paid_by_then = sa.and_(bills.c.paid_date.is_not(None), bills.c.paid_date <= as_of)
    return sa.case((paid_by_then, sa.func.coalesce(bills.c.paid_cny, 0)), else_=0)


def recovered(bills: sa.FromClause, as_of: dt.date) -> sa.ColumnElement:
    """What was paid of a bill by the end of the month it fell due in (and of ``as_of``)."""
    in_due_month = functions.month(bills.c.paid_date) <= functions.month(bills.c.due_date)
    return sa.case((in_due_month, collected(bills, as_of)), else_=0)


def ageing_bucket(days_overdue: sa.ColumnElement) -> sa.ColumnElement[str]:
    """The code of the ageing bucket (:data:`AGEING_BUCKETS`) of a number of days overdue."""
    return sa.case(
        *((days_overdue <= last, code) for code, _, last in AGEING_BUCKETS if last is not None),
        else_=AGEING_BUCKETS[-1][0],
    )


def _overdue_bills(viewer: access.Viewer, as_of: dt.date) -> sa.Subquery:
    """Every bill owing at the end of ``as_of`` with its customer, age and bucket."""
    bills, customers = schema.bills, schema.customers
    owed = outstanding(bills, as_of)
    days = functions.days_between(sa.literal(as_of, sa.Date), bills.c.due_date)
    return (
        sa.select(
            bills.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            bills.c.period,
            bills.c.due_date,
            sa.cast(owed, sa.Numeric(14, 2)).label("outstanding_cny"),
            days.label("days_overdue"),
            ageing_bucket(days).label("bucket"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            bills.c.due_date <= as_of,
            owed > OWING_FROM_CNY,
        )
        .subquery("overdue")
    )


def outstanding_by_age(
    conn: sa.Connection,
    viewer: access.Viewer,
    as_of: dt.date,
    by: Sequence[str] = OUTSTANDING_DIMENSIONS,
) -> pd.DataFrame:
    """What is owed at the end of ``as_of``, by ageing bucket, district and customer class.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers count.
        as_of: the day the debts are counted at.
        by: the dimensions to group by, of ``region``, ``customer_class`` and ``bucket``.

    Returns:
        The dimensions of ``by``, then ``outstanding_cny``, ``bills`` and ``customers``;
        buckets in :data:`AGEING_BUCKETS` order.
    """
    overdue = _overdue_bills(viewer, as_of)
    keys = [overdue.c[name] for name in by]
    query = sa.select(
        *keys,
        sa.func.sum(overdue.c.outstanding_cny).label("outstanding_cny"),
        sa.func.count().label("bills"),
        sa.func.count(sa.distinct(overdue.c.customer_id)).label("customers"),
    ).group_by(*keys)
    frame = drill.read(conn, query)
    if "bucket" in frame.columns:
        frame["bucket"] = pd.Categorical(frame["bucket"], categories=BUCKETS, ordered=True)
    return frame.sort_values(list(by), ignore_index=True) if by else frame


def debtors(
    conn: sa.Connection,
    viewer: access.Viewer,
    as_of: dt.date,
    selection: dict[str, str | None] | None = None,
    *,
    limit: int = drill.DRILL_DOWN_LIMIT,
) -> drill.DrillDown:
    """The customers behind an outstanding figure, largest debt first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        as_of: the day the debts are counted at.
        selection: the figure clicked: values of ``region``, ``customer_class``, ``bucket``.
        limit: at most this many customers are listed (:data:`TOP_DEBTORS` for a top list).

    Returns:
        One row per customer: ``customer_id``, ``name``, ``customer_class``, ``region``,
        ``outstanding_cny``, ``bills``, ``oldest_due`` and ``days_overdue`` (of the oldest bill);
        totals of ``outstanding_cny`` and ``bills``.
    """
    overdue = _overdue_bills(viewer, as_of)
    columns = {name: overdue.c[name] for name in OUTSTANDING_DIMENSIONS}
    query = (
        sa.select(
            overdue.c.customer_id,
            overdue.c.name,
            overdue.c.customer_class,
            overdue.c.region,
            sa.func.sum(overdue.c.outstanding_cny).label("outstanding_cny"),
            sa.func.count().label("bills"),
            sa.func.min(overdue.c.due_date).label("oldest_due"),
            sa.func.max(overdue.c.days_overdue).label("days_overdue"),
        )
        .where(*drill.matching(columns, selection or {}))
        .group_by(overdue.c.customer_id, overdue.c.name, overdue.c.customer_class, overdue.c.region)
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("outstanding_cny", "bills"),
        order_by=(("outstanding_cny", True), ("customer_id", False)),
        limit=limit,
    )


def recovery_by_month(
    conn: sa.Connection, viewer: access.Viewer, first_period: str, last_period: str, as_of: dt.date
) -> pd.DataFrame:
    """Each month's bills and how much of them was collected (电费回收率).

    The recovery rate of a month is the share of its billed amount paid by the end of the month
    the bills fall due in; the collection rate, the share paid by ``as_of``.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers count.
        first_period: the first billing month, ``YYYY-MM``.
        last_period: the last billing month.
        as_of: the day payments are counted to.

    Returns:
        One row per billing month (``period``): ``billed_cny``, ``recovered_cny``,
        ``collected_cny``, ``recovery_rate``, ``collection_rate`` and ``measured`` (the due
        month had ended by ``as_of``, so the recovery rate is final).
    """
    bills, customers = schema.bills, schema.customers
    query = (
        sa.select(
            bills.c.period,
            sa.func.sum(bills.c.amount_cny).label("billed_cny"),
            sa.func.coalesce(sa.func.sum(recovered(bills, as_of)), 0).label("recovered_cny"),
            sa.func.coalesce(sa.func.sum(collected(bills, as_of)), 0).label("collected_cny"),
            sa.func.max(bills.c.due_date).label("last_due"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            bills.c.period >= first_period,
            bills.c.period <= last_period,
        )
        .group_by(bills.c.period)
        .order_by(bills.c.period)
    )
    frame = drill.read(conn, query)
    for name in ("billed_cny", "recovered_cny", "collected_cny"):
        frame[name] = frame[name].astype(float)
    billed = frame["billed_cny"].where(frame["billed_cny"] > 0)
    frame["recovery_rate"] = frame["recovered_cny"] / billed
    frame["collection_rate"] = frame["collected_cny"] / billed
    due_month_end = frame["last_due"] + pd.offsets.MonthEnd(0)
    frame["measured"] = due_month_end.notna() & (due_month_end <= pd.Timestamp(as_of))
    return frame.drop(columns="last_due")


def period_bills(
    conn: sa.Connection, viewer: access.Viewer, period: str, as_of: dt.date
) -> drill.DrillDown:
    """The bills behind one month's recovery rate: billed, recovered in the due month, unpaid.

    Returns:
        One row per bill of ``period``: ``customer_id``, ``name``, ``customer_class``,
        ``region``, ``amount_cny``, ``due_date``, ``paid_date``, ``recovered_cny``,
        ``unpaid_cny``; totals of ``amount_cny``, ``recovered_cny`` and ``unpaid_cny``, the
        largest unpaid first.
    """
    bills, customers = schema.bills, schema.customers
    query = (
        sa.select(
            bills.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            bills.c.amount_cny,
            bills.c.due_date,
            bills.c.paid_date,
            sa.cast(recovered(bills, as_of), sa.Numeric(14, 2)).label("recovered_cny"),
            sa.cast(outstanding(bills, as_of), sa.Numeric(14, 2)).label("unpaid_cny"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(access.customer_scope(viewer, customers), bills.c.period == period)
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("amount_cny", "recovered_cny", "unpaid_cny"),
        order_by=(("unpaid_cny", True), ("amount_cny", True), ("customer_id", False)),
    )


# Customers the arrears-risk list shows at most.
ARREARS_RISK_LISTED = 20


def arrears_risk(
    conn: sa.Connection, viewer: access.Viewer, limit: int = ARREARS_RISK_LISTED
) -> pd.DataFrame:
    """The customers most likely to fall into arrears, as the risk models scored them.

    Args:
        conn: a store connection.
        viewer: who is asking; personal fields masked for them.
        limit: at most this many customers.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``region``, ``score`` (a probability),
        ``triage`` (``assistance`` or ``collection``) and ``scored_on``, likeliest first;
        empty until arrears risk has been scored.
    """
    scores, customers = schema.risk_scores, schema.customers
    query = (
        sa.select(
            scores.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            scores.c.score,
            scores.c.triage,
            scores.c.scored_on,
        )
        .join(customers, customers.c.customer_id == scores.c.customer_id)
        .where(scores.c.kind == "arrears", access.customer_scope(viewer, customers))
        .order_by(scores.c.score.desc(), scores.c.customer_id)
        .limit(limit)
    )
    return access.mask_frame(viewer, drill.read(conn, query))
