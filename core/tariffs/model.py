"""The tariff model: periods, kinds, tiers and one validated tariff of the catalog."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from core import config, ingest

PERIODS = ("critical", "peak", "flat", "valley")
# The colour of each period wherever energy is drawn by period (pages, charts, the visit brief):
# red for the dearest hours, through grey for flat, to green for the valley.
PERIOD_COLOURS = {"critical": "#d62728", "peak": "#ff7f0e", "flat": "#949494", "valley": "#2ca02c"}
KINDS = ("flat", "tou", "tiered", "two_part")
DAY_TYPES = ("workday", "non_workday")
BASIC_BASES = ("capacity", "demand")
POWER_FACTOR_STANDARDS = (0.90, 0.85, 0.80)
DEFAULT_CATALOG = config.DATA_DIR / "tariffs.toml"
# Bills always carry at least three tier columns so that frames of different tariffs line up.
MIN_TIER_COLUMNS = 3
HOURS_PER_DAY = 24
_MINUTE_NS = 60 * 10**9
_HOUR_NS = 60 * _MINUTE_NS
_DAY_NS = 24 * _HOUR_NS

Kind = Literal["flat", "tou", "tiered", "two_part"]
BasicBasis = Literal["capacity", "demand"]

USAGE_COLUMNS = (
    "customer_id",
    "period",
    "kwh_critical",
    "kwh_peak",
    "kwh_flat",
    "kwh_valley",
    "kvarh",
    "max_demand_kw",
    "demand_interval",
    "contract_capacity_kva",
)
OPTIONAL_USAGE_COLUMNS = ("basic_basis", "declared_demand_kw")
# The customer id given to readings of one customer that carry no customer_id column.
SINGLE_CUSTOMER = ingest.SINGLE_SERIES


@dataclass(frozen=True)
class Tier:
    """One step of a tier schedule.

    Attributes:
        up_to_kwh: the cumulative energy (per year or per month) where the tier ends; None for the
            last tier.
        price: CNY/kWh on the energy in this tier — the whole price for a tiered tariff, the
            surcharge over the period price for a time-of-use tariff with tiers.
    """

    up_to_kwh: float | None
    price: float


@dataclass(frozen=True)
class Tariff:
    """One tariff of the catalog, validated.

    Attributes:
        code: the catalog key (``COM_TOU``).
        name: English name.
        name_zh: Chinese name.
        customer_classes: the customer classes that may choose this tariff.
        kind: ``flat``, ``tou``, ``tiered`` or ``two_part``.
        prices: CNY/kWh per period, in the order of :data:`PERIODS` (0 where a period is unused).
        schedule: the period of each hour as a 24-character string of period initials
            (``c``, ``p``, ``f``, ``v``), one per (month, day type): index ``(month - 1) * 2 +
            day_type`` with day type 0 = workday, 1 = weekend or public holiday.
        tiers: the tier schedule, empty when the tariff has none.
        tier_basis: ``annual`` or ``monthly`` thresholds.
        capacity_price_kva: two-part basic charge by capacity, CNY/kVA per month.
        demand_price_kw: two-part basic charge by maximum demand, CNY/kW per month.
        default_basic_basis: the basis used when a customer has not chosen one.
        declared_demand_floor_share: declared demand is raised to this share of capacity.
        demand_excess_threshold: demand above this multiple of the declared demand is an excess.
        demand_excess_multiplier: the excess is charged at this multiple of the demand price.
        power_factor_standard: 0.90, 0.85 or 0.80; None when no adjustment applies.
        power_factor_min_capacity_kva: the adjustment applies from this contract capacity up.
        min_capacity_kva: eligibility: smallest contract capacity, None for no limit.
        max_capacity_kva: eligibility: largest contract capacity, None for no limit.
    """

    code: str
    name: str
    name_zh: str
    customer_classes: tuple[str, ...]
    kind: Kind
    prices: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    schedule: tuple[str, ...] = ("f" * HOURS_PER_DAY,) * 24
    tiers: tuple[Tier, ...] = ()
    tier_basis: Literal["annual", "monthly"] = "annual"
    capacity_price_kva: float = 0.0
    demand_price_kw: float = 0.0
    default_basic_basis: BasicBasis = "capacity"
    declared_demand_floor_share: float = 0.0
    demand_excess_threshold: float = 1.0
    demand_excess_multiplier: float = 1.0
    power_factor_standard: float | None = None
    power_factor_min_capacity_kva: float = 0.0
    min_capacity_kva: float | None = None
    max_capacity_kva: float | None = None

    def price(self, period: str) -> float:
        """The energy price of ``period`` in CNY/kWh."""
        return self.prices[PERIODS.index(period)]

    @property
    def periods_used(self) -> tuple[str, ...]:
        """The periods some hour of the schedule belongs to, in :data:`PERIODS` order."""
        letters = set("".join(self.schedule))
        return tuple(period for period in PERIODS if period[0] in letters)

    @property
    def has_day_types(self) -> bool:
        """Whether weekends and holidays follow a schedule of their own."""
        return any(self.schedule[2 * m] != self.schedule[2 * m + 1] for m in range(12))

    def label(self, language: str) -> str:
        """The tariff's name in ``language`` (``zh`` or ``en``)."""
        return self.name_zh if language == "zh" else self.name

    def eligible(self, customer_class: str, capacity_kva: float | None) -> bool:
        """Whether a customer of this class and contract capacity may choose this tariff."""
        if customer_class not in self.customer_classes:
            return False
        if capacity_kva is None or (isinstance(capacity_kva, float) and math.isnan(capacity_kva)):
            return self.kind != "two_part"
        if self.min_capacity_kva is not None and capacity_kva < self.min_capacity_kva:
            return False
        return self.max_capacity_kva is None or capacity_kva <= self.max_capacity_kva
