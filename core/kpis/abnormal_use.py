"""The Abnormal-use window (反窃查违): inspection orders, their outcomes and the revenue recovered.

The ranked list is :func:`core.risk.abnormal.ranked`'s; what counts as a hit is
:data:`core.risk.labels.HIT_OUTCOMES`. An order is open until it is resolved; it counts in the
month it was resolved, with the revenue its inspection recovered.
"""

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa

from core import access
from core.kpis import drill
from core.kpis.periods import month_bounds, shift_period
from core.risk import labels
from core.store import functions, schema

RESOLVED = "resolved"
OPEN_STATES = tuple(state for state in schema.INSPECTION_STATES if state != RESOLVED)
ORDER_DIMENSIONS = ("state", "outcome", "month", "region", "overdue")


def _orders(viewer: access.Viewer, today: dt.date) -> sa.Subquery:
    """Every inspection order of the viewer's customers, with what the window groups it by."""
    orders, customers = schema.inspection_orders, schema.customers
    overdue = sa.and_(orders.c.state != RESOLVED, orders.c.due_date < today)
    hit = sa.and_(orders.c.state == RESOLVED, orders.c.outcome.in_(labels.HIT_OUTCOMES))
    resolved = orders.c.resolved_at
    resolved_month = sa.case((resolved.is_not(None), functions.month(resolved)))
    return (
        sa.select(
            orders.c.id.label("order_id"),
            orders.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            orders.c.state,
            orders.c.assignee,
            orders.c.created_at,
            orders.c.due_date,
            orders.c.resolved_at,
            resolved_month.label("month"),
            orders.c.outcome,
            # Named apart from a bill's recovered amount: this is revenue an inspection recovered.
            sa.cast(sa.func.coalesce(orders.c.recovered_cny, 0), sa.Numeric(14, 2)).label(
                "recovered_revenue_cny"
            ),
            orders.c.score,
            orders.c.revenue_at_risk_cny,
            sa.cast(sa.case((overdue, 1), else_=0), sa.Integer).label("overdue"),
            sa.cast(sa.case((hit, 1), else_=0), sa.Integer).label("hit"),
        )
        .join(customers, customers.c.customer_id == orders.c.customer_id)
        .where(access.customer_scope(viewer, customers))
        .subquery("inspections")
    )


def inspection_figures(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: str,
    months: int = 12,
    by: Sequence[str] = ("month",),
) -> pd.DataFrame:
    """Inspection orders resolved in the months up to ``period``: outcomes, hits, recovery.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers' orders count.
        period: the last month, ``YYYY-MM``.
        months: how many months of resolved orders.
        by: dimensions of ``month`` (resolved), ``outcome`` and ``region``.

    Returns:
        The dimensions, ``resolved``, ``hits`` (theft or a faulty meter found), ``hit_rate``
        and ``recovered_revenue_cny``.
    """
    first, _ = month_bounds(shift_period(period, -(months - 1)))
    _, following = month_bounds(period)
    rows = _orders(viewer, following)
    keys = [rows.c[name] for name in by]
    query = (
        sa.select(
            *keys,
            sa.func.count().label("resolved"),
            sa.func.coalesce(sa.func.sum(rows.c.hit), 0).label("hits"),
            sa.func.coalesce(sa.func.sum(rows.c.recovered_revenue_cny), 0).label(
                "recovered_revenue_cny"
            ),
        )
        .where(
            rows.c.state == RESOLVED,
            rows.c.resolved_at >= first,
            rows.c.resolved_at < following,
        )
        .group_by(*keys)
    )
    frame = drill.read(conn, query)
    frame["hits"] = pd.to_numeric(frame["hits"]).astype("int64")
    frame["recovered_revenue_cny"] = frame["recovered_revenue_cny"].astype(float)
    frame["hit_rate"] = frame["hits"] / frame["resolved"].where(frame["resolved"] > 0)
    return frame.sort_values(list(by), ignore_index=True) if by else frame


def open_orders(conn: sa.Connection, viewer: access.Viewer, today: dt.date) -> pd.DataFrame:
    """The open inspection orders by state: how many, and how many are past their due date.

    Returns:
        One row per open state in lifecycle order: ``state``, ``orders``, ``overdue``.
    """
    rows = _orders(viewer, today)
    query = (
        sa.select(
            rows.c.state,
            sa.func.count().label("orders"),
            sa.func.coalesce(sa.func.sum(rows.c.overdue), 0).label("overdue"),
        )
        .where(rows.c.state.in_(OPEN_STATES))
        .group_by(rows.c.state)
    )
    found = drill.read(conn, query).set_index("state")
    frame = pd.DataFrame({"state": list(OPEN_STATES)})
    frame["orders"] = [int(found["orders"].get(state, 0)) for state in OPEN_STATES]
    frame["overdue"] = [int(found["overdue"].get(state, 0)) for state in OPEN_STATES]
    return frame


def order_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    today: dt.date,
    selection: dict[str, str | None] | None = None,
) -> drill.DrillDown:
    """The inspection orders behind a figure, latest first.

    Args:
        conn: a store connection.
        viewer: who is asking.
        today: the day an open order's due date is judged against.
        selection: values of ``state``, ``outcome``, ``month`` (resolved), ``region`` and
            ``overdue`` (``"1"`` past due).

    Returns:
        One row per order with its customer, state, assignee, dates, outcome and
        ``recovered_revenue_cny``; totals of ``recovered_revenue_cny``, ``hit`` and
        ``overdue``.
    """
    rows = _orders(viewer, today)
    columns = {name: rows.c[name] for name in ORDER_DIMENSIONS}
    columns["overdue"] = sa.cast(rows.c.overdue, sa.String)
    query = sa.select(rows).where(*drill.matching(columns, selection or {}))
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("recovered_revenue_cny", "hit", "overdue"),
        order_by=(("created_at", True), ("order_id", True)),
    )
