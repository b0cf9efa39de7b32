"""The Overview's headline figures: this month against the month before and a year before."""

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import access
from core.kpis import collection
from core.kpis.periods import month_bounds, shift_period
from core.store import schema

KPI_NAMES = ("customers", "energy_kwh", "revenue_cny", "arrears_cny", "work_orders", "complaints")


@dataclass(frozen=True)
class Kpi:
    """One headline figure with the figures it is compared with.

    Attributes:
        name: one of :data:`KPI_NAMES`.
        value: the figure for the month.
        previous_month: the same figure a month earlier, None when there is no data for it.
        last_year: the same figure twelve months earlier, None when there is no data for it.
    """

    name: str
    value: float
    previous_month: float | None
    last_year: float | None

    @property
    def change_vs_previous(self) -> float | None:
        """Relative change against the month before (0.05 is +5%)."""
        return _relative(self.value, self.previous_month)

    @property
    def change_vs_last_year(self) -> float | None:
        """Relative change against the same month last year."""
        return _relative(self.value, self.last_year)


def _relative(value: float, reference: float | None) -> float | None:
    if reference is None or reference == 0:
        return None
    return (value - reference) / abs(reference)


def _month_figures(conn: sa.Connection, viewer: access.Viewer, period: str) -> dict[str, float]:
    customers, bills, orders = schema.customers, schema.bills, schema.work_orders
    first, following = month_bounds(period)
    scope = access.customer_scope(viewer, customers)
    month_end = following - dt.timedelta(days=1)

    customer_count = conn.execute(
        sa.select(sa.func.count())
        .select_from(customers)
        .where(scope, sa.or_(customers.c.open_date.is_(None), customers.c.open_date < following))
    ).scalar_one()
    energy, revenue, billed = conn.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(bills.c.kwh_total), 0),
            sa.func.coalesce(sa.func.sum(bills.c.amount_cny), 0),
            sa.func.count(),
        ).where(
            bills.c.period == period, bills.c.customer_id.in_(access.scoped_customer_ids(viewer))
        )
    ).one()
    arrears = conn.execute(
        sa.select(sa.func.coalesce(sa.func.sum(collection.outstanding(bills, month_end)), 0)).where(
            bills.c.due_date <= month_end,
            bills.c.customer_id.in_(access.scoped_customer_ids(viewer)),
        )
    ).scalar_one()
    in_month = sa.and_(
        orders.c.created_at >= first,
        orders.c.created_at < following,
        orders.c.customer_id.in_(access.scoped_customer_ids(viewer)),
    )
    order_count, complaint_count = conn.execute(
        sa.select(
            sa.func.count(),
            sa.func.coalesce(sa.func.sum(sa.case((orders.c.type == "complaint", 1), else_=0)), 0),
        ).where(in_month)
    ).one()
    return {
        "billed": float(billed),
        "customers": float(customer_count),
        "energy_kwh": float(energy),
        "revenue_cny": float(revenue),
        "arrears_cny": float(arrears),
        "work_orders": float(order_count),
        "complaints": float(complaint_count),
    }


def headline(conn: sa.Connection, viewer: access.Viewer, period: str) -> list[Kpi]:
    """The headline KPIs of a month, each compared with the month before and a year before.

    Args:
        conn: an open connection to the store.
        viewer: who is asking; only their customers count.
        period: the month, ``YYYY-MM``.

    Returns:
        One :class:`Kpi` per name in :data:`KPI_NAMES`, in that order.
    """
    current = _month_figures(conn, viewer, period)
    previous = _month_figures(conn, viewer, shift_period(period, -1))
    last_year = _month_figures(conn, viewer, shift_period(period, -12))
    return [
        Kpi(
            name=name,
            value=current[name],
            previous_month=previous[name] if previous["billed"] else None,
            last_year=last_year[name] if last_year["billed"] else None,
        )
        for name in KPI_NAMES
    ]


def customers_by_class(conn: sa.Connection, viewer: access.Viewer, period: str) -> pd.DataFrame:
    """Customers connected by the end of ``period``, counted per customer class.

    Args:
        conn: a store connection.
        viewer: who is asking; only customers in their scope count.
        period: the month, ``YYYY-MM``.

    Returns:
        Columns ``customer_class`` and ``customers``, largest class first.
    """
    customers = schema.customers
    _, following = month_bounds(period)
    query = (
        sa.select(customers.c.customer_class, sa.func.count().label("customers"))
        .where(
            access.customer_scope(viewer, customers),
            sa.or_(customers.c.open_date.is_(None), customers.c.open_date < following),
        )
        .group_by(customers.c.customer_class)
        .order_by(sa.desc("customers"))
    )
    return pd.DataFrame(conn.execute(query).all(), columns=["customer_class", "customers"])


def monthly_trend(
    conn: sa.Connection, viewer: access.Viewer, period: str, months: int
) -> pd.DataFrame:
    """Energy sold and revenue per month and customer class, for the ``months`` up to ``period``.

    Args:
        conn: a store connection.
        viewer: who is asking; only customers in their scope count.
        period: the month, ``YYYY-MM``.
        months: how many months, ``period`` included.

    Returns:
        Columns ``period``, ``customer_class``, ``energy_kwh``, ``revenue_cny``, ordered by month.
    """
    customers, bills = schema.customers, schema.bills
    first = shift_period(period, -(months - 1))
    query = (
        sa.select(
            bills.c.period,
            customers.c.customer_class,
            sa.func.sum(bills.c.kwh_total).label("energy_kwh"),
            sa.func.sum(bills.c.amount_cny).label("revenue_cny"),
        )
        .join(customers, customers.c.customer_id == bills.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            bills.c.period >= first,
            bills.c.period <= period,
        )
        .group_by(bills.c.period, customers.c.customer_class)
        .order_by(bills.c.period, customers.c.customer_class)
    )
    frame = pd.DataFrame(
        conn.execute(query).all(),
        columns=["period", "customer_class", "energy_kwh", "revenue_cny"],
    )
    return frame.astype({"energy_kwh": float, "revenue_cny": float})


# Decimals of each KPI in an export: money to the fen, energy to the kWh, counts whole.
KPI_DECIMALS = {
    "customers": 0,
    "energy_kwh": 0,
    "revenue_cny": 2,
    "arrears_cny": 2,
    "work_orders": 0,
    "complaints": 0,
}
# Changes are exported in percent to a tenth.
CHANGE_DECIMALS = 1


def _rounded(value: float | None, decimals: int) -> float | int | None:
    if value is None:
        return None
    return int(round(value)) if decimals == 0 else round(value, decimals)


def headline_table(headline: list[Kpi], period: str) -> pd.DataFrame:
    """The headline KPIs as a table to take away, each figure rounded as it is read.

    Args:
        headline: from :func:`headline`.
        period: the month they describe, ``YYYY-MM``.

    Returns:
        One row per KPI: ``month``, ``kpi`` (its name), ``value``, ``previous_month``,
        ``last_year``, ``change_vs_previous_pct`` and ``change_vs_last_year_pct``.
    """
    rows = []
    for kpi in headline:
        decimals = KPI_DECIMALS[kpi.name]
        changes = (kpi.change_vs_previous, kpi.change_vs_last_year)
        previous_pct, last_year_pct = (
            None if change is None else round(100 * change, CHANGE_DECIMALS) for change in changes
        )
        rows.append(
            {
                "month": period,
                "kpi": kpi.name,
                "value": _rounded(kpi.value, decimals),
                "previous_month": _rounded(kpi.previous_month, decimals),
                "last_year": _rounded(kpi.last_year, decimals),
                "change_vs_previous_pct": previous_pct,
                "change_vs_last_year_pct": last_year_pct,
            }
        )
    return pd.DataFrame(rows)
