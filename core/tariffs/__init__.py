"""Tariff model and bill engine: time-of-use periods, tiers, two-part basic charge, power factor.

The catalog (``data/tariffs.toml``) describes each tariff; :func:`load_catalog` validates it.
The bill engine works on a *usage frame* — one row per customer-month with the energy per period,
reactive energy, maximum demand and contract capacity — so the same arithmetic prices one customer
on a page and every customer of the store in one vectorized call. :func:`monthly_usage` builds that
frame from interval readings; :func:`bill` does both steps.

Money is computed in integer fen: every bill line is rounded half-up to the fen, as a printed bill
is, and the total is the sum of the printed lines.
"""

from core.tariffs.catalog import (
    BASIC_BASES,
    BILL_LINES,
    CUSTOMER_CLASSES,
    DAY_TYPES,
    DEFAULT_CATALOG,
    DEMAND_15MIN_MAX_MINUTES,
    DEMAND_HOURLY_MAX_MINUTES,
    HOURS_PER_DAY,
    KINDS,
    MIN_TIER_COLUMNS,
    OPTIONAL_USAGE_COLUMNS,
    PERIOD_COLOURS,
    PERIODS,
    POWER_FACTOR_STANDARDS,
    SINGLE_CUSTOMER,
    USAGE_COLUMNS,
    BasicBasis,
    Kind,
    Tariff,
    Tier,
    bill,
    bill_breakdown,
    bill_usage,
    clean_readings,
    codes_for_class,
    load_catalog,
    monthly_usage,
    period_index,
    period_labels,
    power_factor,
    power_factor_adjustment_percent,
    to_fen,
)

__all__ = [
    "BASIC_BASES",
    "BILL_LINES",
    "CUSTOMER_CLASSES",
    "DAY_TYPES",
    "DEFAULT_CATALOG",
    "DEMAND_15MIN_MAX_MINUTES",
    "DEMAND_HOURLY_MAX_MINUTES",
    "HOURS_PER_DAY",
    "KINDS",
    "MIN_TIER_COLUMNS",
    "OPTIONAL_USAGE_COLUMNS",
    "PERIODS",
    "PERIOD_COLOURS",
    "POWER_FACTOR_STANDARDS",
    "SINGLE_CUSTOMER",
    "USAGE_COLUMNS",
    "BasicBasis",
    "Kind",
    "Tariff",
    "Tier",
    "bill",
    "bill_breakdown",
    "bill_usage",
    "clean_readings",
    "codes_for_class",
    "load_catalog",
    "monthly_usage",
    "period_index",
    "period_labels",
    "power_factor",
    "power_factor_adjustment_percent",
    "to_fen",
]
