"""Figures for the Overview and the topic windows (主题视窗), computed in the store.

The parts: :mod:`~core.kpis.periods` (billing months), :mod:`~core.kpis.overview` (the headline
figures), :mod:`~core.kpis.maps` (customers on the map, district outlines). Callers use the
names below (``kpis.headline``), not the parts.
"""

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
    "CHANGE_DECIMALS",
    "KPI_DECIMALS",
    "KPI_NAMES",
    "MAP_MAX_POINTS",
    "MIN_OUTLINE_CELLS",
    "OUTLINE_GRID_DEG",
    "OUTLINE_TRIM",
    "Kpi",
    "billed_months",
    "customers_by_class",
    "district_outlines",
    "headline",
    "headline_table",
    "latest_complete_month",
    "map_points",
    "month_bounds",
    "monthly_trend",
    "shift_period",
]
