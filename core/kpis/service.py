"""Service (95598): work orders by type, channel and district, complaints, closing times.

A work order counts in the month it was created. It closed on time when it closed within the
hours ``data/time_limits.toml`` gives its type. A complaint follows an outage when it came in
the window :data:`core.features.OUTAGE_COMPLAINT_WINDOW_HOURS` after an outage of the
complainant's supply began, the same window the customer features use.
"""

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from core import access, features
from core.kpis import drill
from core.kpis import limits as time_limits
from core.kpis.periods import month_bounds, shift_period
from core.store import functions, schema

COMPLAINT_TYPE = features.COMPLAINT_TYPE
ORDER_DIMENSIONS = ("month", "type", "channel", "region", "customer_class")
# Complaints per this many customers: the rate 95598 reports are read in.
PER_CUSTOMERS = 10_000
# A repeat complainant complained this often within the days up to a month's end.
REPEAT_COMPLAINTS = 2
REPEAT_WINDOW_DAYS = 90
# Satisfaction scores (1–5) from this one up count as satisfied.
SATISFIED_FROM = 4


def _after_outage(orders: sa.FromClause) -> sa.ColumnElement[bool]:
    outages = schema.outages
    return sa.exists().where(
        outages.c.customer_id == orders.c.customer_id,
        outages.c.start <= orders.c.created_at,
        functions.hours_between(orders.c.created_at, outages.c.start)
        < features.OUTAGE_COMPLAINT_WINDOW_HOURS,
    )


def _orders(
    viewer: access.Viewer,
    first: dt.date,
    following: dt.date,
    limits: time_limits.TimeLimits | None = None,
) -> sa.Subquery:
    """The work orders created from ``first`` to before ``following``, one row each."""
    limits = limits or time_limits.load()
    orders, customers = schema.work_orders, schema.customers
    hours = functions.hours_between(orders.c.closed_at, orders.c.created_at)
    limit = limits.order_limit(orders)
    complaint = orders.c.type == COMPLAINT_TYPE
    return (
        sa.select(
            orders.c.order_id,
            orders.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            functions.month(orders.c.created_at).label("month"),
            orders.c.type,
            orders.c.channel,
            orders.c.created_at,
            orders.c.closed_at,
            sa.cast(hours, sa.Float).label("hours_to_close"),
            sa.cast(limit, sa.Float).label("limit_hours"),
            sa.cast(
                sa.case((sa.and_(orders.c.closed_at.is_not(None), hours <= limit), 1), else_=0),
                sa.Integer,
            ).label("on_time"),
            sa.cast(sa.case((orders.c.closed_at.is_not(None), 1), else_=0), sa.Integer).label(
                "closed"
            ),
            sa.cast(sa.case((complaint, 1), else_=0), sa.Integer).label("complaint"),
            sa.cast(
                sa.case((sa.and_(complaint, _after_outage(orders)), 1), else_=0), sa.Integer
            ).label("after_outage"),
            orders.c.satisfaction,
        )
        .join(customers, customers.c.customer_id == orders.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            orders.c.created_at >= first,
            orders.c.created_at < following,
        )
        .subquery("orders")
    )


def _window(period: str, months: int) -> tuple[dt.date, dt.date]:
    first, _ = month_bounds(shift_period(period, -(months - 1)))
    _, following = month_bounds(period)
    return first, following


def work_orders(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    by: Sequence[str] = ("type",),
    limits: time_limits.TimeLimits | None = None,
) -> pd.DataFrame:
    """Work orders created in the ``months`` up to ``period``, counted by any of their dimensions.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers' orders count.
        period: the last month, ``YYYY-MM``.
        months: how many months.
        by: dimensions of ``month``, ``type``, ``channel``, ``region`` and ``customer_class``.
        limits: the time limits; ``data/time_limits.toml`` by default.

    Returns:
        The dimensions, then ``orders``, ``complaints``, ``after_outage`` (complaints following
        an outage), ``closed``, ``on_time`` (closed within the limit), ``on_time_rate``
        (``on_time / closed``), ``mean_hours`` (to close), ``limit_hours`` (of the group's
        orders, when one), ``rated`` (orders with a satisfaction score), ``satisfaction`` (their
        mean) and ``satisfied_rate`` (the share of them scoring :data:`SATISFIED_FROM` or more).
    """
    first, following = _window(period, months)
    rows = _orders(viewer, first, following, limits)
    keys = [rows.c[name] for name in by]
    rated = rows.c.satisfaction.is_not(None)
    query = sa.select(
        *keys,
        sa.func.count().label("orders"),
        sa.func.coalesce(sa.func.sum(rows.c.complaint), 0).label("complaints"),
        sa.func.coalesce(sa.func.sum(rows.c.after_outage), 0).label("after_outage"),
        sa.func.coalesce(sa.func.sum(rows.c.closed), 0).label("closed"),
        sa.func.coalesce(sa.func.sum(rows.c.on_time), 0).label("on_time"),
        sa.func.avg(rows.c.hours_to_close).label("mean_hours"),
        sa.func.min(rows.c.limit_hours).label("limit_min"),
        sa.func.max(rows.c.limit_hours).label("limit_max"),
        sa.func.sum(sa.case((rated, 1), else_=0)).label("rated"),
        sa.func.avg(sa.cast(rows.c.satisfaction, sa.Float)).label("satisfaction"),
        sa.func.sum(sa.case((rows.c.satisfaction >= SATISFIED_FROM, 1), else_=0)).label(
            "satisfied"
        ),
    ).group_by(*keys)
    frame = drill.read(conn, query)
    for name in ("complaints", "after_outage", "closed", "on_time", "rated", "satisfied"):
        frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
    for name in ("mean_hours", "limit_min", "limit_max", "satisfaction"):
        frame[name] = pd.to_numeric(frame[name]).astype(float)
    frame["on_time_rate"] = frame["on_time"] / frame["closed"].where(frame["closed"] > 0)
    frame["satisfied_rate"] = frame["satisfied"] / frame["rated"].where(frame["rated"] > 0)
    frame["limit_hours"] = frame["limit_min"].where(frame["limit_min"] == frame["limit_max"])
    frame = frame.drop(columns=["limit_min", "limit_max", "satisfied"])
    return frame.sort_values(list(by), ignore_index=True, na_position="last") if by else frame


def complaint_rate(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    by: Sequence[str] = ("region",),
) -> pd.DataFrame:
    """Complaints per :data:`PER_CUSTOMERS` customers, by district or customer class.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``.
        months: how many months of complaints.
        by: dimensions of ``region`` and ``customer_class`` (none for the whole area).

    Returns:
        The dimensions, ``complaints``, ``customers`` (connected by the end of ``period``) and
        ``per_10k``.
    """
    customers, orders = schema.customers, schema.work_orders
    first, following = _window(period, months)
    keys = [customers.c[name] for name in by]
    complaints = (
        sa.select(orders.c.customer_id, sa.func.count().label("complaints"))
        .where(
            orders.c.type == COMPLAINT_TYPE,
            orders.c.created_at >= first,
            orders.c.created_at < following,
        )
        .group_by(orders.c.customer_id)
        .subquery("complaints")
    )
    query = (
        sa.select(
            *keys,
            sa.func.coalesce(sa.func.sum(complaints.c.complaints), 0).label("complaints"),
            sa.func.count().label("customers"),
        )
        .outerjoin(complaints, complaints.c.customer_id == customers.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            sa.or_(customers.c.open_date.is_(None), customers.c.open_date < following),
        )
        .group_by(*keys)
    )
    frame = drill.read(conn, query)
    frame["complaints"] = pd.to_numeric(frame["complaints"]).astype("int64")
    frame["per_10k"] = (
        PER_CUSTOMERS * frame["complaints"] / frame["customers"].where(frame["customers"] > 0)
    )
    return frame.sort_values(list(by), ignore_index=True) if by else frame


def order_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 1,
    selection: dict[str, str | None] | None = None,
    limits: time_limits.TimeLimits | None = None,
) -> drill.DrillDown:
    """The work orders behind a service figure, latest first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the last month, ``YYYY-MM``.
        months: how many months.
        selection: values of ``month``, ``type``, ``channel``, ``region``, ``customer_class``,
            and ``"1"`` or ``"0"`` for ``complaint``, ``after_outage``, ``closed``, ``on_time``.
        limits: the time limits; ``data/time_limits.toml`` by default.

    Returns:
        One row per order: ``order_id``, the customer (``customer_id``, ``name``,
        ``customer_class``, ``region``), ``type``, ``channel``, ``created_at``,
        ``closed_at``, ``hours_to_close``, ``limit_hours``, ``on_time``, ``after_outage`` and
        ``satisfaction``; totals of ``complaint``, ``after_outage``, ``closed`` and ``on_time``.
    """
    first, following = _window(period, months)
    rows = _orders(viewer, first, following, limits)
    columns = {name: rows.c[name] for name in ORDER_DIMENSIONS}
    for flag in ("complaint", "after_outage", "closed", "on_time"):
        columns[flag] = sa.cast(rows.c[flag], sa.String)
    query = sa.select(
        rows.c.order_id,
        rows.c.customer_id,
        rows.c.name,
        rows.c.customer_class,
        rows.c.region,
        rows.c.type,
        rows.c.channel,
        rows.c.created_at,
        rows.c.closed_at,
        rows.c.hours_to_close,
        rows.c.limit_hours,
        rows.c.on_time,
        rows.c.complaint,
        rows.c.after_outage,
        rows.c.closed,
        rows.c.satisfaction,
    ).where(*drill.matching(columns, selection or {}))
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("complaint", "after_outage", "closed", "on_time"),
        order_by=(("created_at", True), ("order_id", False)),
    )


def repeat_complainants(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    selection: dict[str, str | None] | None = None,
) -> drill.DrillDown:
    """Customers who complained :data:`REPEAT_COMPLAINTS` times or more in the last 90 days.

    The days run up to the last day of ``period``.

    Args:
        conn: a store connection.
        viewer: who is asking.
        period: the month, ``YYYY-MM``.
        selection: values of ``region`` and ``customer_class``.

    Returns:
        One row per customer: ``customer_id``, ``name``, ``customer_class``, ``region``,
        ``complaints``, ``first_complaint``, ``last_complaint``, ``after_outage``; most
        complaints first; totals of ``complaints`` and ``after_outage``.
    """
    orders, customers = schema.work_orders, schema.customers
    _, following = month_bounds(period)
    since = following - dt.timedelta(days=REPEAT_WINDOW_DAYS)
    after = sa.case((_after_outage(orders), 1), else_=0)
    columns = {"region": customers.c.region, "customer_class": customers.c.customer_class}
    query = (
        sa.select(
            orders.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            sa.func.count().label("complaints"),
            sa.func.min(orders.c.created_at).label("first_complaint"),
            sa.func.max(orders.c.created_at).label("last_complaint"),
            sa.cast(sa.func.sum(after), sa.Integer).label("after_outage"),
        )
        .join(customers, customers.c.customer_id == orders.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            orders.c.type == COMPLAINT_TYPE,
            orders.c.created_at >= since,
            orders.c.created_at < following,
            *drill.matching(columns, selection or {}),
        )
        .group_by(
            orders.c.customer_id, customers.c.name, customers.c.customer_class, customers.c.region
        )
        .having(sa.func.count() >= REPEAT_COMPLAINTS)
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("complaints", "after_outage"),
        order_by=(("complaints", True), ("last_complaint", True), ("customer_id", False)),
    )
