"""The windows' figures and drill-downs, read from core once per store version and viewer."""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import access, kpis
from core.risk import abnormal as risk_abnormal
from ui import session

# Months the trends and the yearly figures cover.
TREND_MONTHS = 12


@session.cached
def months() -> list[str]:
    """The complete billed months, latest first."""
    with session.engine().connect() as conn:
        return kpis.billed_months(conn)


def month_end(period: str) -> dt.date:
    """The last day of a ``YYYY-MM`` month."""
    _, following = kpis.month_bounds(period)
    return following - dt.timedelta(days=1)


@session.cached
def business(viewer: access.Viewer, period: str) -> dict[str, pd.DataFrame]:
    """The Business window's figures for ``period`` and the year up to it."""
    last_year = kpis.shift_period(period, -12)
    with session.engine().connect() as conn:
        return {
            "monthly": kpis.business.sales(conn, viewer, period, TREND_MONTHS, by=("period",)),
            "by_class": kpis.business.sales(
                conn, viewer, period, TREND_MONTHS, by=("period", "customer_class")
            ),
            "by_region": kpis.business.sales(conn, viewer, period, 1, by=("period", "region")),
            "volume": kpis.business.application_volume(
                conn, viewer, period, TREND_MONTHS, by=("region", "industry")
            ),
            "month_volume": kpis.business.application_volume(conn, viewer, period, 1, by=()),
            "last_year_volume": kpis.business.application_volume(conn, viewer, last_year, 1, by=()),
            "stages": kpis.business.stage_compliance(conn, viewer, period, TREND_MONTHS),
            "month_stages": kpis.business.stage_compliance(conn, viewer, period, 1, by=()),
            "overdue": kpis.business.overdue_applications(conn, viewer, period, 1).rows,
        }


@session.cached
def collection(viewer: access.Viewer, period: str) -> dict[str, pd.DataFrame]:
    """The Collection window's figures at the end of ``period``."""
    as_of = month_end(period)
    first = kpis.shift_period(period, -(TREND_MONTHS - 1))
    with session.engine().connect() as conn:
        return {
            "ageing": kpis.collection.outstanding_by_age(conn, viewer, as_of),
            "recovery": kpis.collection.recovery_by_month(conn, viewer, first, period, as_of),
            "top_debtors": kpis.collection.debtors(
                conn, viewer, as_of, limit=kpis.collection.TOP_DEBTORS
            ).rows,
            "arrears_risk": kpis.collection.arrears_risk(conn, viewer),
        }


@session.cached
def service(viewer: access.Viewer, period: str) -> dict[str, pd.DataFrame]:
    """The Service window's figures for ``period`` and the year up to it."""
    with session.engine().connect() as conn:
        return {
            "month": kpis.service.work_orders(conn, viewer, period, 1, by=()),
            "by_type_channel": kpis.service.work_orders(
                conn, viewer, period, 1, by=("type", "channel")
            ),
            "by_region_type": kpis.service.work_orders(
                conn, viewer, period, 1, by=("region", "type")
            ),
            "by_type": kpis.service.work_orders(conn, viewer, period, 1, by=("type",)),
            "trend": kpis.service.work_orders(conn, viewer, period, TREND_MONTHS, by=("month",)),
            "rate": kpis.service.complaint_rate(conn, viewer, period, 1),
            "area_rate": kpis.service.complaint_rate(conn, viewer, period, 1, by=()),
            "repeat": kpis.service.repeat_complainants(conn, viewer, period).rows,
        }


@session.cached
def abnormal(viewer: access.Viewer, period: str, today: dt.date) -> dict[str, pd.DataFrame]:
    """The Abnormal-use window's figures: the ranked list now, inspections up to ``period``."""
    engine = session.engine()
    with engine.connect() as conn:
        figures = {
            "open": kpis.abnormal_use.open_orders(conn, viewer, today),
            "outcomes": kpis.abnormal_use.inspection_figures(conn, viewer, period, TREND_MONTHS),
            "by_outcome": kpis.abnormal_use.inspection_figures(
                conn, viewer, period, TREND_MONTHS, by=("month", "outcome")
            ),
        }
    figures["ranked"] = risk_abnormal.ranked(engine, viewer)
    return figures


@session.cached
def campaigns(viewer: access.Viewer) -> pd.DataFrame:
    """The Campaigns window's figures: the latest campaigns evaluated over the viewer's members."""
    with session.engine().connect() as conn:
        return kpis.campaign_returns.campaign_returns(conn, viewer)


@dataclass(frozen=True)
class Figure:
    """A figure that drills down: its window, the dimensions a click sets, and its rows.

    Attributes:
        window: the window it belongs to.
        dimensions: the dimensions a selection may name.
        rows: ``rows(conn, viewer, period, selection)``: the drill-down.
    """

    window: str
    dimensions: tuple[str, ...]
    rows: Callable[[sa.Connection, access.Viewer, str, dict], kpis.drill.DrillDown]


def _sales(conn, viewer, period, selection):
    month = selection.pop("period", period)
    return kpis.business.sales_customers(conn, viewer, month, selection)


def _applications(conn, viewer, period, selection):
    return kpis.business.application_list(conn, viewer, period, TREND_MONTHS, selection)


def _stages(conn, viewer, period, selection):
    return kpis.business.stage_list(conn, viewer, period, TREND_MONTHS, selection)


def _overdue(conn, viewer, period, selection):
    return kpis.business.stage_list(conn, viewer, period, 1, {**selection, "late": "1"})


def _debtors(conn, viewer, period, selection):
    return kpis.collection.debtors(conn, viewer, month_end(period), selection)


def _recovery(conn, viewer, period, selection):
    month = selection.get("period", period)
    return kpis.collection.period_bills(conn, viewer, month, month_end(period))


def _orders(conn, viewer, period, selection):
    return kpis.service.order_list(conn, viewer, period, TREND_MONTHS, selection)


def _campaign(conn, viewer, period, selection):
    campaign_id = selection.pop("campaign_id", "")
    return kpis.campaign_returns.campaign_customers(conn, viewer, campaign_id, selection)


def _inspections(conn, viewer, period, selection):
    return kpis.abnormal_use.order_list(conn, viewer, dt.date.today(), selection)


def _repeat(conn, viewer, period, selection):
    return kpis.service.repeat_complainants(conn, viewer, period, selection)


FIGURES: dict[str, Figure] = {
    "sales": Figure("business", ("period", "customer_class", "region"), _sales),
    "applications": Figure("business", ("month", "region", "industry", "type"), _applications),
    "stages": Figure("business", ("stage", "status", "late", "region", "type"), _stages),
    "overdue": Figure("business", ("stage", "region", "type"), _overdue),
    "debtors": Figure("collection", ("region", "customer_class", "bucket"), _debtors),
    "recovery": Figure("collection", ("period",), _recovery),
    "orders": Figure(
        "service",
        ("month", "type", "channel", "region", "complaint", "after_outage", "on_time"),
        _orders,
    ),
    "repeat": Figure("service", ("region", "customer_class"), _repeat),
    "campaign": Figure("campaigns", ("campaign_id", "arm", "converted"), _campaign),
    "inspections": Figure("abnormal", kpis.abnormal_use.ORDER_DIMENSIONS, _inspections),
}


@session.cached(max_entries=64)
def drill_down(
    viewer: access.Viewer, period: str, figure: str, items: tuple[tuple[str, str], ...]
) -> kpis.drill.DrillDown | None:
    """The rows behind a figure clicked; None for a figure or dimension the page does not know."""
    known = FIGURES.get(figure)
    if known is None or any(name not in known.dimensions for name, _ in items):
        return None
    with session.engine().connect() as conn:
        return known.rows(conn, viewer, period, dict(items))


def freshness(viewer: access.Viewer, window: str) -> list[kpis.freshness.Freshness]:
    """How new the window's data is now (not cached: the age grows while the page is open)."""
    sources = kpis.freshness.WINDOW_SOURCES.get(window, ())
    with session.engine().connect() as conn:
        return kpis.freshness.freshness(conn, viewer, sources, dt.datetime.now())


# The windows in the order the page shows them, with the sources their figures need.
WINDOWS = ("business", "collection", "service", "abnormal", "campaigns")


@session.cached
def available_windows(viewer: access.Viewer) -> list[str]:
    """The windows whose data the store holds for the viewer: no window is listed empty."""
    with session.engine().connect() as conn:
        return kpis.freshness.windows_with_data(conn, viewer, WINDOWS)
