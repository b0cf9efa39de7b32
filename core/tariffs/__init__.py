"""Tariff model and bill engine: time-of-use periods, tiers, two-part basic charge, power factor.

The catalog (``data/tariffs.toml``) describes each tariff; :func:`load_catalog` validates it.
The bill engine works on a *usage frame* — one row per customer-month with the energy per period,
reactive energy, maximum demand and contract capacity — so the same arithmetic prices one customer
on a page and every customer of the store in one vectorized call. :func:`monthly_usage` builds that
frame from interval readings; :func:`bill` does both steps.

Money is computed in integer fen: every bill line is rounded half-up to the fen, as a printed bill
is, and the total is the sum of the printed lines.

The parts: :mod:`~core.tariffs.model` (periods, kinds, the tariff), :mod:`~core.tariffs.catalog`,
:mod:`~core.tariffs.periods` (the period of each hour), :mod:`~core.tariffs.money` (fen, power
factor), :mod:`~core.tariffs.bills` (the bill engine) and :mod:`~core.tariffs.readings` (from
readings to usage). Callers use the names below (``tariffs.bill_usage``), not the parts.
"""

from core.store.schema import CUSTOMER_CLASSES
from core.tariffs.bills import BILL_LINES, bill_breakdown, bill_usage
from core.tariffs.catalog import codes_for_class, load_catalog
from core.tariffs.model import (
    BASIC_BASES,
    DAY_TYPES,
    DEFAULT_CATALOG,
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
)
from core.tariffs.money import power_factor, power_factor_adjustment_percent, to_fen
from core.tariffs.periods import period_index, period_labels
from core.tariffs.readings import (
    DEMAND_15MIN_MAX_MINUTES,
    DEMAND_HOURLY_MAX_MINUTES,
    bill,
    clean_readings,
    monthly_usage,
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
