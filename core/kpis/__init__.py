"""Figures for the Overview and the topic windows (主题视窗), computed in the store.

The Overview's parts: :mod:`~core.kpis.periods` (billing months), :mod:`~core.kpis.overview`
(the headline figures), :mod:`~core.kpis.maps` (customers on the map, district outlines); their
names are below (``kpis.headline``). The topic windows' figures are by window, each called
through its module: :mod:`~core.kpis.business` (sales, business expansion 业扩报装),
:mod:`~core.kpis.collection` (电费回收), :mod:`~core.kpis.service` (95598),
:mod:`~core.kpis.campaign_returns` (the latest campaigns, as :mod:`core.campaigns` reads them),
:mod:`~core.kpis.abnormal_use` (inspection orders and what they recovered), with
:mod:`~core.kpis.freshness` (how new each window's data is), :mod:`~core.kpis.drill` (the rows
behind a figure) and :mod:`~core.kpis.limits` (the time limits of ``data/time_limits.toml``).
"""

from core.kpis import (
    abnormal_use,
    business,
    campaign_returns,
    collection,
    drill,
    freshness,
    limits,
    service,
)
from core.kpis.maps import (
    MAP_MAX_POINTS,
    MIN_OUTLINE_CELLS,
    OUTLINE_GRID_DEG,
    OUTLINE_TRIM,
    district_outlines,
    map_points,
)
from core.kpis.overview import (
    CHANGE_DECIMALS,
    KPI_DECIMALS,
    KPI_NAMES,
    Kpi,
    customers_by_class,
    headline,
    headline_table,
    monthly_trend,
)
from core.kpis.periods import billed_months, latest_complete_month, month_bounds, shift_period

__all__ = [
    "abnormal_use",
    "CHANGE_DECIMALS",
    "KPI_DECIMALS",
    "KPI_NAMES",
    "MAP_MAX_POINTS",
    "MIN_OUTLINE_CELLS",
    "OUTLINE_GRID_DEG",
    "OUTLINE_TRIM",
    "Kpi",
    "billed_months",
    "business",
    "campaign_returns",
    "collection",
    "customers_by_class",
    "district_outlines",
    "drill",
    "freshness",
    "headline",
    "headline_table",
    "latest_complete_month",
    "limits",
    "map_points",
    "month_bounds",
    "monthly_trend",
    "service",
    "shift_period",
]
