"""What a customer can save by shifting load, changing tariff or basis, compensating reactive power.

Each option is priced for one customer and ranked over all customers.

Everything here prices through :func:`core.tariffs.bill_usage`, so a what-if and a bill always use
the same arithmetic. Savings are positive when the customer pays less.

The parts: :mod:`~core.savings.options` (each option on monthly usage),
:mod:`~core.savings.store` (customers and readings in the viewer's scope),
:mod:`~core.savings.profiles` (load profiles summed in the store), :mod:`~core.savings.ranking`
(every customer ranked, target lists), :mod:`~core.savings.actions` (one customer's actions and
talking points) and :mod:`~core.savings.typical` (typical class profiles). Callers use the names
below (``savings.rank_savings``), not the parts.
"""

from core.savings.actions import (
    TALKING_POINTS,
    Action,
    CustomerSavings,
    Phrase,
    customer_savings,
    ranked_actions,
    savings_of_readings,
    store_customer_savings,
    talking_point,
)
from core.savings.options import (
    DEFAULT_COMPENSATION_COST_PER_KVAR,
    DEFAULT_TARGET_POWER_FACTOR,
    Assumptions,
    CompensationResult,
    NoPaybackReason,
    ShiftTarget,
    basis_comparison,
    best_power_factor,
    compare_plans,
    compensation_payback,
    eligible_tariffs,
    period_hours,
    shift_readings,
    shift_usage,
    shift_whatif,
    shiftable_kwh,
)
from core.savings.profiles import HourClasses, LoadProfile, load_profile
from core.savings.ranking import (
    OPTIONS,
    RANKING_COLUMNS,
    TARGET_LIST_COLUMNS,
    Option,
    rank_profiles,
    rank_savings,
    rank_store,
    store_archive,
    target_list,
    visible_ranking,
)
from core.savings.store import (
    ARCHIVE_COLUMNS,
    CUSTOMER_SEARCH_LIMIT,
    MONTHS_RANKED,
    NoReadingsError,
    customer_readings,
    find_customers,
    priced_readings,
    priced_window,
    window_ending,
)
from core.savings.typical import (
    NON_WORKDAY_FACTOR,
    SEASONAL_FACTOR,
    TYPICAL_SHAPES,
    typical_readings,
)
from core.tariffs import PERIODS, Tariff

__all__ = [
    "ARCHIVE_COLUMNS",
    "CUSTOMER_SEARCH_LIMIT",
    "DEFAULT_COMPENSATION_COST_PER_KVAR",
    "DEFAULT_TARGET_POWER_FACTOR",
    "MONTHS_RANKED",
    "NON_WORKDAY_FACTOR",
    "OPTIONS",
    "PERIODS",
    "RANKING_COLUMNS",
    "SEASONAL_FACTOR",
    "TALKING_POINTS",
    "TARGET_LIST_COLUMNS",
    "TYPICAL_SHAPES",
    "Action",
    "Assumptions",
    "CompensationResult",
    "CustomerSavings",
    "HourClasses",
    "LoadProfile",
    "NoPaybackReason",
    "NoReadingsError",
    "Option",
    "Phrase",
    "ShiftTarget",
    "Tariff",
    "basis_comparison",
    "best_power_factor",
    "compare_plans",
    "compensation_payback",
    "customer_readings",
    "customer_savings",
    "eligible_tariffs",
    "find_customers",
    "load_profile",
    "period_hours",
    "priced_readings",
    "priced_window",
    "window_ending",
    "rank_profiles",
    "rank_savings",
    "rank_store",
    "ranked_actions",
    "savings_of_readings",
    "shift_readings",
    "shift_usage",
    "shift_whatif",
    "shiftable_kwh",
    "store_archive",
    "store_customer_savings",
    "talking_point",
    "target_list",
    "typical_readings",
    "visible_ranking",
]
