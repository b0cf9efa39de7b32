"""Tariff model and bill engine: time-of-use periods, tiers, two-part basic charge, power factor.

The catalog (``data/tariffs.toml``) describes each tariff; :func:`load_catalog` validates it.
The bill engine works on a *usage frame* — one row per customer-month with the energy per period,
reactive energy, maximum demand and contract capacity — so the same arithmetic prices one customer
on a page and every customer of the store in one vectorized call. :func:`monthly_usage` builds that
frame from interval readings; :func:`bill` does both steps.

Money is computed in integer fen: every bill line is rounded half-up to the fen, as a printed bill
is, and the total is the sum of the printed lines.
"""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import calendars, config, errors, ingest
from core.store.schema import CUSTOMER_CLASSES

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


# --- the catalog -----------------------------------------------------------------------------

_TARIFF_KEYS = {
    "name",
    "name_zh",
    "customer_classes",
    "kind",
    "price",
    "prices",
    "schedule",
    "tiers",
    "tier_basis",
    "capacity_price_kva",
    "demand_price_kw",
    "default_basic_basis",
    "declared_demand_floor_share",
    "demand_excess_threshold",
    "demand_excess_multiplier",
    "power_factor_standard",
    "power_factor_min_capacity_kva",
    "min_capacity_kva",
    "max_capacity_kva",
}


def load_catalog(path: Path | None = None) -> dict[str, Tariff]:
    """Reads and validates a tariff catalog.

    Args:
        path: the TOML file; by default ``data/tariffs.toml``.

    Returns:
        The tariffs by code, in the order of the file.

    Raises:
        FileNotFoundError: the file does not exist.
        UserError: the file is not TOML or an entry is invalid; the message names the file, the
            tariff and what to change.
    """
    path = Path(path) if path is not None else DEFAULT_CATALOG
    stat = path.stat()
    return dict(_load_catalog_cached(str(path.resolve()), stat.st_mtime_ns))


def codes_for_class(catalog: Mapping[str, Tariff], customer_class: str) -> list[str]:
    """The codes of the tariffs a customer of this class can be on, in catalog order.

    Capacity is not asked: a customer may be on a tariff it would not be offered today, and
    :meth:`Tariff.eligible` decides what may be proposed.

    Args:
        catalog: tariffs by code, from :func:`load_catalog`.
        customer_class: one of :data:`CUSTOMER_CLASSES`.

    Returns:
        The tariff codes whose customer classes include ``customer_class``.
    """
    return [code for code, tariff in catalog.items() if customer_class in tariff.customer_classes]


@functools.lru_cache(maxsize=8)
def _load_catalog_cached(path: str, _mtime_ns: int) -> tuple[tuple[str, Tariff], ...]:
    name = Path(path).name
    try:
        with open(path, "rb") as handle:
            content = tomllib.load(handle)
    except tomllib.TOMLDecodeError as error:
        raise errors.UserError(
            "tariffs.error.catalog.not_toml", file=name, reason=str(error)
        ) from error
    unknown = set(content) - {"tariffs"}
    if unknown:
        raise errors.UserError(
            "tariffs.error.catalog.unknown_section", file=name, sections=", ".join(sorted(unknown))
        )
    entries = content.get("tariffs")
    if not isinstance(entries, dict) or not entries:
        raise errors.UserError("tariffs.error.catalog.no_tariffs", file=name)
    tariffs = []
    for code, entry in entries.items():
        try:
            tariffs.append((code, _parse_tariff(code, entry)))
        except errors.UserError as error:
            raise errors.UserError(
                "tariffs.error.catalog.entry", file=name, tariff=code, problem=error
            ) from None
    return tuple(tariffs)


def _number(entry: Mapping, key: str, *, minimum: float = 0.0, required: bool = True) -> float:
    value = entry.get(key)
    if value is None:
        if required:
            raise errors.UserError("tariffs.error.catalog.missing", field=key)
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise errors.UserError("tariffs.error.catalog.not_a_number", field=key, value=repr(value))
    if not math.isfinite(value) or value < minimum:
        raise errors.UserError(
            "tariffs.error.catalog.below_minimum",
            field=key,
            minimum=f"{minimum:g}",
            value=repr(value),
        )
    return float(value)


def _parse_tariff(code: str, entry: object) -> Tariff:
    if not isinstance(entry, dict):
        raise errors.UserError("tariffs.error.catalog.not_a_table")
    unknown = set(entry) - _TARIFF_KEYS
    if unknown:
        raise errors.UserError(
            "tariffs.error.catalog.unknown_field", fields=", ".join(sorted(unknown))
        )
    for key in ("name", "name_zh"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise errors.UserError("tariffs.error.catalog.missing", field=key)
    classes = entry.get("customer_classes")
    if not isinstance(classes, list) or not classes:
        raise errors.UserError("tariffs.error.catalog.no_classes")
    for customer_class in classes:
        if customer_class not in CUSTOMER_CLASSES:
            raise errors.UserError(
                "tariffs.error.catalog.unknown_class",
                customer_class=repr(customer_class),
                classes=", ".join(CUSTOMER_CLASSES),
            )
    kind = entry.get("kind")
    if kind not in KINDS:
        raise errors.UserError(
            "tariffs.error.catalog.unknown_kind", kind=repr(kind), kinds=", ".join(KINDS)
        )

    fields: dict = {
        "code": code,
        "name": entry["name"].strip(),
        "name_zh": entry["name_zh"].strip(),
        "customer_classes": tuple(classes),
        "kind": kind,
    }
    if kind in ("flat", "tiered"):
        for key in ("prices", "schedule"):
            if key in entry:
                raise errors.UserError("tariffs.error.catalog.no_periods", kind=kind, field=key)
    if kind == "flat":
        price = _number(entry, "price")
        fields["prices"] = (0.0, 0.0, price, 0.0)
    elif kind == "tiered":
        if "price" in entry:
            raise errors.UserError("tariffs.error.catalog.tiered_price")
    else:
        if "price" in entry:
            raise errors.UserError("tariffs.error.catalog.period_prices", kind=kind)
        fields["schedule"] = _parse_schedule(entry.get("schedule"))
        fields["prices"] = _parse_prices(entry.get("prices"), fields["schedule"])

    if kind == "tiered" or "tiers" in entry:
        if kind not in ("tiered", "tou"):
            raise errors.UserError("tariffs.error.catalog.no_tiers_allowed", kind=kind)
        fields["tiers"] = _parse_tiers(
            entry.get("tiers"), "price" if kind == "tiered" else "surcharge"
        )
        basis = entry.get("tier_basis", "annual")
        if basis not in ("annual", "monthly"):
            raise errors.UserError("tariffs.error.catalog.tier_basis", basis=repr(basis))
        fields["tier_basis"] = basis
    elif "tier_basis" in entry:
        raise errors.UserError("tariffs.error.catalog.tier_basis_without_tiers")

    two_part_keys = (
        "capacity_price_kva",
        "demand_price_kw",
        "default_basic_basis",
        "declared_demand_floor_share",
        "demand_excess_threshold",
        "demand_excess_multiplier",
    )
    if kind == "two_part":
        fields["capacity_price_kva"] = _number(entry, "capacity_price_kva")
        fields["demand_price_kw"] = _number(entry, "demand_price_kw")
        basis = entry.get("default_basic_basis", "capacity")
        if basis not in BASIC_BASES:
            raise errors.UserError("tariffs.error.catalog.basic_basis", basis=repr(basis))
        fields["default_basic_basis"] = basis
        share = entry.get("declared_demand_floor_share", 0.0)
        fields["declared_demand_floor_share"] = _number(
            {"declared_demand_floor_share": share}, "declared_demand_floor_share"
        )
        if fields["declared_demand_floor_share"] > 1:
            raise errors.UserError("tariffs.error.catalog.floor_share")
        for key in ("demand_excess_threshold", "demand_excess_multiplier"):
            fields[key] = _number({key: entry.get(key, 1.0)}, key, minimum=1.0)
    else:
        given = [key for key in two_part_keys if key in entry]
        if given:
            raise errors.UserError("tariffs.error.catalog.two_part_only", fields=", ".join(given))

    if "power_factor_standard" in entry:
        standard = entry["power_factor_standard"]
        if not any(
            isinstance(standard, int | float) and abs(standard - allowed) < 1e-9
            for allowed in POWER_FACTOR_STANDARDS
        ):
            raise errors.UserError("tariffs.error.catalog.standard", standard=repr(standard))
        fields["power_factor_standard"] = round(float(standard), 2)
        fields["power_factor_min_capacity_kva"] = _number(
            {"power_factor_min_capacity_kva": entry.get("power_factor_min_capacity_kva", 0.0)},
            "power_factor_min_capacity_kva",
        )
    elif "power_factor_min_capacity_kva" in entry:
        raise errors.UserError("tariffs.error.catalog.threshold_without_standard")

    for key in ("min_capacity_kva", "max_capacity_kva"):
        if key in entry:
            fields[key] = _number(entry, key)
    if (
        fields.get("min_capacity_kva") is not None
        and fields.get("max_capacity_kva") is not None
        and fields["min_capacity_kva"] > fields["max_capacity_kva"]
    ):
        raise errors.UserError("tariffs.error.catalog.capacity_range")
    return Tariff(**fields)


def _parse_prices(prices: object, schedule: tuple[str, ...]) -> tuple[float, float, float, float]:
    if not isinstance(prices, dict) or not prices:
        raise errors.UserError("tariffs.error.catalog.no_prices")
    unknown = set(prices) - set(PERIODS)
    if unknown:
        raise errors.UserError(
            "tariffs.error.catalog.unknown_period", periods=", ".join(sorted(unknown))
        )
    used = set("".join(schedule))
    values = []
    for period in PERIODS:
        if period in prices:
            values.append(_number(prices, period))
            if period[0] not in used:
                raise errors.UserError("tariffs.error.catalog.unused_price", period=period)
        elif period[0] in used:
            raise errors.UserError("tariffs.error.catalog.missing_price", period=period)
        else:
            values.append(0.0)
    for period, value in zip(PERIODS, values, strict=True):
        if period in prices and value < 0:
            raise errors.UserError("tariffs.error.catalog.negative_price", period=period)
    return tuple(values)  # type: ignore[return-value]


def _parse_schedule(entries: object) -> tuple[str, ...]:
    if not isinstance(entries, list) or not entries:
        raise errors.UserError("tariffs.error.catalog.no_schedule")
    # Per (month, day type): the period letters, or None while unset.
    slots: list[list[str | None] | None] = [None] * 24
    for number, item in enumerate(entries, start=1):
        if not isinstance(item, dict):
            raise _in_entry("schedule", number, "tariffs.error.catalog.not_a_table")
        unknown = set(item) - {"months", "days", *PERIODS}
        if unknown:
            raise _in_entry(
                "schedule",
                number,
                "tariffs.error.catalog.unknown_field",
                fields=", ".join(sorted(unknown)),
            )
        months = item.get("months")
        if (
            not isinstance(months, list)
            or not months
            or any(
                isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= 12 for m in months
            )
        ):
            raise _in_entry("schedule", number, "tariffs.error.catalog.months")
        days = item.get("days", "all")
        if days not in ("all", *DAY_TYPES):
            raise _in_entry("schedule", number, "tariffs.error.catalog.days", days=repr(days))
        hours: list[str | None] = [None] * HOURS_PER_DAY
        for period in PERIODS:
            ranges = item.get(period, [])
            if not isinstance(ranges, list):
                raise _in_entry("schedule", number, "tariffs.error.catalog.ranges", period=period)
            for hour_range in ranges:
                if (
                    not isinstance(hour_range, list)
                    or len(hour_range) != 2
                    or any(isinstance(h, bool) or not isinstance(h, int) for h in hour_range)
                    or not 0 <= hour_range[0] < hour_range[1] <= HOURS_PER_DAY
                ):
                    raise _in_entry(
                        "schedule",
                        number,
                        "tariffs.error.catalog.range",
                        period=period,
                        hours=repr(hour_range),
                    )
                for hour in range(hour_range[0], hour_range[1]):
                    if hours[hour] is not None:
                        other = next(p for p in PERIODS if p[0] == hours[hour])
                        raise _in_entry(
                            "schedule",
                            number,
                            "tariffs.error.catalog.overlap",
                            hour=hour,
                            first=other,
                            second=period,
                        )
                    hours[hour] = period[0]
        missing = [hour for hour, letter in enumerate(hours) if letter is None]
        if missing:
            listed = ", ".join(f"{hour}:00" for hour in missing)
            raise _in_entry("schedule", number, "tariffs.error.catalog.unassigned", hours=listed)
        day_types = range(2) if days == "all" else [DAY_TYPES.index(days)]
        for month in months:
            for day_type in day_types:
                slot = (month - 1) * 2 + day_type
                if slots[slot] is not None:
                    raise _in_entry(
                        "schedule",
                        number,
                        "tariffs.error.catalog.scheduled_twice"
                        + ("" if days == "all" else f"_{DAY_TYPES[day_type]}"),
                        month=month,
                    )
                slots[slot] = hours
    for month in range(1, 13):
        for day_type in range(2):
            if slots[(month - 1) * 2 + day_type] is None:
                raise errors.UserError(
                    f"tariffs.error.catalog.unscheduled_{DAY_TYPES[day_type]}", month=month
                )
    return tuple("".join(slot) for slot in slots)  # type: ignore[arg-type]


def _in_entry(
    part: Literal["schedule", "tier"], number: int, key: str, **values: object
) -> errors.UserError:
    """A problem of the numbered schedule entry or tier of a tariff."""
    return errors.UserError(
        f"tariffs.error.catalog.in_{part}", number=number, problem=errors.UserError(key, **values)
    )


def _parse_tiers(tiers: object, price_key: str) -> tuple[Tier, ...]:
    if not isinstance(tiers, list) or not tiers:
        raise errors.UserError("tariffs.error.catalog.no_tiers", price=price_key)
    parsed = []
    previous = 0.0
    for number, item in enumerate(tiers, start=1):
        if not isinstance(item, dict):
            raise _in_entry("tier", number, "tariffs.error.catalog.not_a_table")
        unknown = set(item) - {"up_to_kwh", price_key}
        if unknown:
            raise _in_entry(
                "tier",
                number,
                "tariffs.error.catalog.unknown_field",
                fields=", ".join(sorted(unknown)),
            )
        try:
            price = _number(item, price_key)
        except errors.UserError as error:
            raise _in_entry("tier", number, error.key, **error.values) from None
        last = number == len(tiers)
        if last:
            if "up_to_kwh" in item:
                raise _in_entry("tier", number, "tariffs.error.catalog.open_tier")
            parsed.append(Tier(None, price))
            continue
        try:
            limit = _number(item, "up_to_kwh")
        except errors.UserError as error:
            raise _in_entry("tier", number, error.key, **error.values) from None
        if limit <= previous:
            raise _in_entry(
                "tier",
                number,
                "tariffs.error.catalog.tier_order",
                limit=f"{limit:g}",
                previous=f"{previous:g}",
            )
        parsed.append(Tier(limit, price))
        previous = limit
    return tuple(parsed)


# --- periods ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def _lookup(tariff: Tariff) -> np.ndarray:
    letters = "".join(tariff.schedule)
    index = {period[0]: number for number, period in enumerate(PERIODS)}
    return np.array([index[letter] for letter in letters], dtype=np.int8)


def _period_index_ns(tariff: Tariff, ts: np.ndarray, months: np.ndarray) -> np.ndarray:
    """:func:`period_index` of interval starts given as nanoseconds and months since 1970."""
    if tariff.kind in ("flat", "tiered"):
        return np.full(len(ts), PERIODS.index("flat"), dtype=np.int8)
    hours = (ts // _HOUR_NS) % HOURS_PER_DAY
    slots = (months % 12) * 2
    if tariff.has_day_types:
        off = ~calendars.workdays(pd.DatetimeIndex(ts.astype("datetime64[ns]")))
        slots = slots + off.astype(np.int64)
    return _lookup(tariff)[slots * HOURS_PER_DAY + hours]


def period_index(tariff: Tariff, timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """The index into :data:`PERIODS` of each interval start (see :func:`period_labels`)."""
    stamps = pd.DatetimeIndex(timestamps)
    if stamps.hasnans:
        raise errors.UserError("tariffs.error.missing_time")
    ts = stamps.as_unit("ns").asi8
    return _period_index_ns(tariff, ts, _months_since_1970(ts))


def _months_since_1970(ts: np.ndarray) -> np.ndarray:
    # Converted once per distinct day: readings span a few hundred days, not a million.
    days = ts // _DAY_NS
    first = int(days.min()) if len(days) else 0
    span = np.arange(first, int(days.max()) + 1 if len(days) else first)
    months = span.astype("datetime64[D]").astype("datetime64[M]").view(np.int64)
    return months[days - first]


def period_labels(tariff: Tariff, timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """The time-of-use period of each interval start.

    Args:
        tariff: the tariff whose schedule applies.
        timestamps: interval starts, naive local time.

    Returns:
        An array of period names from :data:`PERIODS`; ``flat`` throughout for a tariff without
        time-of-use periods.
    """
    return np.asarray(PERIODS, dtype=object)[period_index(tariff, timestamps)]


# --- money -----------------------------------------------------------------------------------


def to_fen(amount_cny: np.ndarray | float) -> np.ndarray:
    """CNY amounts rounded half-up (away from zero) to whole fen, as integers.

    The products of kWh and prices carry binary-float noise (100 × 0.558 = 55.800000000000004);
    rounding to 6 decimals of a fen first removes it so that exact halves round up.
    """
    values = np.asarray(amount_cny, dtype=float) * 100.0
    magnitude = np.floor(np.round(np.abs(values), 6) + 0.5)
    return (np.sign(values) * magnitude).astype(np.int64)


def _cny(fen: np.ndarray) -> np.ndarray:
    return np.asarray(fen, dtype=np.int64) / 100.0


# The published power-factor adjustment tables (功率因数调整电费表), as percent of the bill per
# power factor in hundredths: positive is a surcharge, negative a reduction.
def _power_factor_table(standard_hundredths: int) -> np.ndarray:
    table = np.zeros(101, dtype=float)
    for hundredths in range(101):
        steps = standard_hundredths - hundredths
        if steps > 25:
            table[hundredths] = 15.0 + 2.0 * (steps - 25)
        elif steps > 20:
            table[hundredths] = 10.0 + 1.0 * (steps - 20)
        elif steps > 0:
            table[hundredths] = 0.5 * steps
    reductions = {
        90: {91: 0.15, 92: 0.30, 93: 0.45, 94: 0.60, 95: 0.75},
        85: {86: 0.1, 87: 0.2, 88: 0.3, 89: 0.4, 90: 0.5, 91: 0.65, 92: 0.80, 93: 0.95, 94: 1.10},
        80: {
            **{80 + step: 0.1 * step for step in range(1, 11)},
            91: 1.15,
            92: 1.30,
        },
    }[standard_hundredths]
    cap = max(reductions)
    for hundredths in range(standard_hundredths + 1, 101):
        table[hundredths] = -round(reductions[min(hundredths, cap)], 2)
    return table


_POWER_FACTOR_TABLES = {
    standard: _power_factor_table(round(standard * 100)) for standard in POWER_FACTOR_STANDARDS
}


def power_factor_adjustment_percent(
    power_factor: np.ndarray | float, standard: float
) -> np.ndarray:
    """The power-factor adjustment in percent of the bill, from the published table.

    Args:
        power_factor: monthly power factors (rounded to two decimals by the caller, as billed).
        standard: 0.90, 0.85 or 0.80.

    Returns:
        Percent to add to the bill (negative: a reduction); 0 where the power factor is missing.

    Raises:
        UserError: the standard is not one of the three published ones.
    """
    key = next((s for s in POWER_FACTOR_STANDARDS if abs(s - standard) < 1e-9), None)
    if key is None:
        raise errors.UserError("tariffs.error.catalog.standard", standard=f"{standard}")
    factors = np.asarray(power_factor, dtype=float)
    hundredths = np.clip(np.nan_to_num(np.round(factors * 100), nan=100), 0, 100).astype(int)
    percent = _POWER_FACTOR_TABLES[key][hundredths]
    return np.where(np.isnan(factors), 0.0, percent)


def power_factor(kwh: np.ndarray, kvarh: np.ndarray) -> np.ndarray:
    """The monthly weighted-average power factor, rounded half-up to two decimals as billed.

    Args:
        kwh: active energy per month.
        kvarh: reactive energy per month (NaN when not metered).

    Returns:
        cos φ = kWh / √(kWh² + kvarh²); NaN where reactive energy is missing or kWh is 0.
    """
    active = np.asarray(kwh, dtype=float)
    reactive = np.asarray(kvarh, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = active / np.hypot(active, reactive)
    raw = np.where(active > 0, raw, np.nan)
    return np.floor(np.round(raw * 100, 6) + 0.5) / 100


# --- the bill engine -------------------------------------------------------------------------


def _first_customer(usage: pd.DataFrame, mask: np.ndarray) -> errors.Notice:
    """Where in the usage the first flagged row is: its month, and its customer when named."""
    row = usage.loc[mask].iloc[0]
    if row["customer_id"] == SINGLE_CUSTOMER:
        return errors.Notice("tariffs.error.at_month", period=row["period"])
    return errors.Notice(
        "tariffs.error.at_customer_month", customer=row["customer_id"], period=row["period"]
    )


def _numbers(column: pd.Series) -> np.ndarray:
    """A column as floats; anything that is not a number becomes NaN."""
    if column.dtype == np.float64:
        return column.to_numpy()
    return pd.to_numeric(column, errors="coerce").to_numpy(float)


def _validate_usage(usage: pd.DataFrame) -> None:
    missing = [column for column in USAGE_COLUMNS if column not in usage.columns]
    if missing:
        raise errors.UserError("tariffs.error.usage_columns", columns=", ".join(missing))
    # Thousands of customer-months share a handful of months: check each distinct one once.
    period_codes, distinct = pd.factorize(usage["period"])
    periods = pd.Series(np.asarray(distinct, dtype=object)).astype(str)
    bad = ~periods.str.fullmatch(r"\d{4}-(0[1-9]|1[0-2])")
    if bad.any():
        raise errors.UserError("tariffs.error.usage_period", period=repr(periods[bad].iloc[0]))
    for column in ("kwh_critical", "kwh_peak", "kwh_flat", "kwh_valley"):
        values = _numbers(usage[column])
        bad = ~np.isfinite(values) | (values < 0)
        if bad.any():
            raise errors.UserError(
                "tariffs.error.usage_energy", where=_first_customer(usage, bad), column=column
            )
    for column in ("kvarh", "max_demand_kw", "contract_capacity_kva"):
        values = _numbers(usage[column])
        bad = values < 0
        if bad.any():
            raise errors.UserError(
                "tariffs.error.usage_negative", where=_first_customer(usage, bad), column=column
            )
    customer_codes = pd.factorize(usage["customer_id"])[0]
    repeated = pd.Series(customer_codes * max(len(distinct), 1) + period_codes).duplicated()
    if repeated.any():
        row = usage[repeated.to_numpy()].iloc[0]
        raise errors.UserError(
            "tariffs.error.usage_twice", customer=row["customer_id"], period=row["period"]
        )


def _tier_energy(tariff: Tariff, usage: pd.DataFrame, kwh_total: np.ndarray) -> np.ndarray:
    """Energy in each tier, shape (rows, tiers); annual thresholds accumulate over the year."""
    if tariff.tier_basis == "monthly":
        after = kwh_total
        before = np.zeros_like(kwh_total)
    else:
        # Months as integers (YYYY-MM sorts as it counts): order each customer's months, then
        # accumulate within each calendar year.
        period_codes, distinct = pd.factorize(usage["period"], sort=True)
        names = np.asarray(distinct, dtype=object).astype(str)
        years = np.array([int(name[:4]) for name in names])[period_codes]
        customers = pd.factorize(usage["customer_id"])[0]
        order = np.lexsort((period_codes, customers))
        energy = np.asarray(kwh_total, dtype=float)[order]
        group = customers[order] * 10_000 + years[order]
        after = np.empty_like(energy)
        after[order] = pd.Series(energy).groupby(group, sort=False).cumsum().to_numpy()
        before = after - kwh_total
    bounds = [0.0] + [tier.up_to_kwh for tier in tariff.tiers[:-1]] + [math.inf]
    columns = []
    for lower, upper in zip(bounds[:-1], bounds[1:], strict=True):
        columns.append(np.clip(after, lower, upper) - np.clip(before, lower, upper))
    return np.column_stack(columns)


def bill_usage(tariff: Tariff, usage: pd.DataFrame) -> pd.DataFrame:
    """Prices customer-months under a tariff, every bill line to the fen.

    The energy charge is the sum of the period charges (kWh × period price) and the tier lines
    (kWh in the tier × tier price for a tiered tariff, × the tier surcharge for a time-of-use tariff
    with tiers). A two-part tariff adds the basic charge by capacity or by maximum demand; the
    power-factor adjustment applies to energy plus basic charge where the tariff has a standard,
    reactive energy is metered and the capacity reaches the tariff's threshold.

    Args:
        tariff: the tariff to apply.
        usage: one row per customer-month with the columns of :data:`USAGE_COLUMNS` (see
            :func:`monthly_usage`), optionally ``basic_basis`` and ``declared_demand_kw``.
            Annual tiers accumulate per customer over each calendar year in period order.

    Returns:
        The usage rows (same index and order) with the bill lines added: ``kwh_total``,
        ``charge_<period>_cny``, ``tier<n>_kwh`` / ``tier<n>_cny``, ``energy_charge_cny``,
        ``basic_basis``, ``basic_quantity`` (kVA or kW billed at the standard price),
        ``basic_excess_kw``, ``basic_excess_cny``, ``basic_charge_cny``, ``power_factor``,
        ``pf_adjustment_percent``, ``pf_adjustment_cny``, ``amount_cny`` and ``tariff_code``.

    Raises:
        UserError: a column is missing or a value is invalid (the message names the customer and
            period), or a two-part bill lacks the capacity or demand its basis needs.
    """
    _validate_usage(usage)
    frame = usage.reset_index(drop=True)
    rows = len(frame)
    lines: dict[str, object] = {}
    kwh = {period: _numbers(frame[f"kwh_{period}"]) for period in PERIODS}
    kwh_total = kwh["critical"] + kwh["peak"] + kwh["flat"] + kwh["valley"]
    lines["kwh_total"] = kwh_total

    energy_fen = np.zeros(rows, dtype=np.int64)
    for period in PERIODS:
        fen = to_fen(kwh[period] * tariff.price(period))
        energy_fen += fen
        lines[f"charge_{period}_cny"] = _cny(fen)

    tier_count = max(MIN_TIER_COLUMNS, len(tariff.tiers))
    tier_kwh = _tier_energy(tariff, frame, kwh_total) if tariff.tiers else np.zeros((rows, 0))
    for number in range(tier_count):
        if number < len(tariff.tiers):
            energy = tier_kwh[:, number]
            fen = to_fen(energy * tariff.tiers[number].price)
        else:
            energy = np.zeros(rows)
            fen = np.zeros(rows, dtype=np.int64)
        energy_fen += fen
        lines[f"tier{number + 1}_kwh"] = energy
        lines[f"tier{number + 1}_cny"] = _cny(fen)
    lines["energy_charge_cny"] = _cny(energy_fen)

    capacity = _numbers(frame["contract_capacity_kva"])
    basic_fen = np.zeros(rows, dtype=np.int64)
    excess_fen = np.zeros(rows, dtype=np.int64)
    quantity = np.full(rows, np.nan)
    excess_kw = np.zeros(rows)
    if tariff.kind == "two_part":
        basis = (
            frame["basic_basis"].astype(object).where(frame["basic_basis"].notna(), None)
            if "basic_basis" in frame.columns
            else pd.Series([None] * rows, dtype=object)
        )
        basis = basis.fillna(tariff.default_basic_basis).astype(str).to_numpy()
        bad = ~np.isin(basis, BASIC_BASES)
        if bad.any():
            raise errors.UserError(
                "tariffs.error.usage_basis",
                where=_first_customer(frame, bad),
                basis=repr(basis[bad][0]),
            )
        by_capacity = basis == "capacity"
        by_demand = ~by_capacity
        no_capacity = by_capacity & np.isnan(capacity)
        if no_capacity.any():
            raise errors.UserError(
                "tariffs.error.capacity_needed", where=_first_customer(frame, no_capacity)
            )
        demand = _numbers(frame["max_demand_kw"])
        no_demand = by_demand & np.isnan(demand)
        if no_demand.any():
            raise errors.UserError(
                "tariffs.error.demand_needed", where=_first_customer(frame, no_demand)
            )
        declared = (
            _numbers(frame["declared_demand_kw"])
            if "declared_demand_kw" in frame.columns
            else np.full(rows, np.nan)
        )
        floor = np.nan_to_num(capacity * tariff.declared_demand_floor_share, nan=0.0)
        declared = np.where(np.isnan(declared), np.nan, np.maximum(declared, floor))
        threshold = declared * tariff.demand_excess_threshold
        over = ~np.isnan(declared) & (demand > threshold)
        demand_quantity = np.where(np.isnan(declared), demand, np.where(over, threshold, declared))
        excess_kw = np.where(by_demand & over, demand - threshold, 0.0)
        quantity = np.where(by_capacity, capacity, demand_quantity)
        standard_fen = np.where(
            by_capacity,
            to_fen(np.nan_to_num(capacity) * tariff.capacity_price_kva),
            to_fen(np.nan_to_num(demand_quantity) * tariff.demand_price_kw),
        )
        excess_fen = to_fen(excess_kw * tariff.demand_price_kw * tariff.demand_excess_multiplier)
        basic_fen = standard_fen + excess_fen
        lines["basic_basis"] = basis
    else:
        lines["basic_basis"] = None
    lines["basic_quantity"] = quantity
    lines["basic_excess_kw"] = excess_kw
    lines["basic_excess_cny"] = _cny(excess_fen)
    lines["basic_charge_cny"] = _cny(basic_fen)

    kvarh = _numbers(frame["kvarh"])
    factors = power_factor(kwh_total, kvarh)
    percent = np.zeros(rows)
    if tariff.power_factor_standard is not None:
        applies = np.isfinite(factors)
        if tariff.power_factor_min_capacity_kva > 0:
            applies &= np.nan_to_num(capacity, nan=-1.0) >= tariff.power_factor_min_capacity_kva
        percent = np.where(
            applies, power_factor_adjustment_percent(factors, tariff.power_factor_standard), 0.0
        )
    pf_fen = to_fen((energy_fen + basic_fen) / 100.0 * percent / 100.0)
    lines["power_factor"] = factors
    lines["pf_adjustment_percent"] = percent
    lines["pf_adjustment_cny"] = _cny(pf_fen)
    lines["amount_cny"] = _cny(energy_fen + basic_fen + pf_fen)
    lines["tariff_code"] = tariff.code
    # Lines the usage already carries (a bill priced again) are replaced where they stand.
    result = usage.copy()
    for name in [name for name in lines if name in usage.columns]:
        result[name] = lines.pop(name)
    added = pd.DataFrame(lines, index=usage.index)
    return pd.concat([result, added], axis=1)


# --- from interval readings to monthly usage -------------------------------------------------

# Longest interval that still measures demand: 15-minute average demand is the billing standard;
# hourly readings give an hourly average instead, and anything coarser gives none.
DEMAND_15MIN_MAX_MINUTES = 15
DEMAND_HOURLY_MAX_MINUTES = 60


_CLEAN_COLUMNS = ("customer_id", "ts", "kwh", "kvarh")


@dataclass(frozen=True)
class _ReadingArrays:
    """Clean readings as arrays, each customer's readings one block in time order.

    Attributes:
        codes: the customer's position in ``ids`` for each reading (non-decreasing).
        ids: customer ids as strings, in the order of their blocks.
        ts: interval starts in nanoseconds since 1970 (naive local time).
        kwh: active energy.
        kvarh: reactive energy, NaN where not metered.
    """

    codes: np.ndarray
    ids: np.ndarray
    ts: np.ndarray
    kwh: np.ndarray
    kvarh: np.ndarray


def clean_readings(readings: pd.DataFrame, source: str = "readings") -> pd.DataFrame:
    """Readings as :func:`core.ingest.validate_readings` returns them, checked in place if already.

    Args:
        readings: ``ts``, ``kwh`` and optionally ``kvarh`` and ``customer_id``.
        source: how to name the input in messages.

    Returns:
        ``customer_id``, ``ts``, ``kwh``, ``kvarh``, each customer's readings in time order.

    Raises:
        ValueError: the readings are invalid (see :func:`core.ingest.validate_readings`).
    """
    if _arrays_if_clean(readings) is None:
        return ingest.validate_readings(readings, source)
    clean = readings
    if "customer_id" not in clean.columns:
        clean = clean.assign(customer_id=SINGLE_CUSTOMER)
    if "kvarh" not in clean.columns:
        clean = clean.assign(kvarh=np.nan)
    return clean[list(_CLEAN_COLUMNS)]


def _reading_arrays(readings: pd.DataFrame, source: str) -> _ReadingArrays:
    """Readings as arrays: checked in place when already clean, else through the import's checks.

    Readings that come from the store, or that went through the import's checks once, are
    typed and ordered; confirming that costs a few vectorized comparisons, where validating again
    would parse every cell.
    """
    arrays = _arrays_if_clean(readings)
    if arrays is None:
        arrays = _arrays_if_clean(ingest.validate_readings(readings, source))
    if arrays is None:  # pragma: no cover - validate_readings returns clean readings
        raise errors.UserError("tariffs.error.unordered", source=source)
    return arrays


def _arrays_if_clean(readings: pd.DataFrame) -> _ReadingArrays | None:
    if not isinstance(readings, pd.DataFrame) or readings.empty:
        return None
    columns = set(readings.columns)
    if not {"ts", "kwh"} <= columns or not columns <= set(_CLEAN_COLUMNS):
        return None
    stamps, energy = readings["ts"], readings["kwh"]
    reactive = readings["kvarh"] if "kvarh" in columns else None
    if not (
        pd.api.types.is_datetime64_dtype(stamps.dtype)
        and energy.dtype == np.float64
        and (reactive is None or reactive.dtype == np.float64)
    ):
        return None
    kwh = energy.to_numpy()
    kvarh = reactive.to_numpy() if reactive is not None else np.full(len(kwh), np.nan)
    if np.isnan(kwh).any() or (kwh < 0).any() or (kvarh < 0).any():
        return None
    ts = stamps.to_numpy("datetime64[ns]").view(np.int64)
    if (ts == np.iinfo(np.int64).min).any():
        return None
    if "customer_id" in columns:
        customer = readings["customer_id"]
        if not pd.api.types.is_string_dtype(customer.dtype) or customer.isna().any():
            return None
        blocks = _customer_blocks(customer)
        if blocks is None:
            return None
        codes, ids = blocks
    else:
        codes, ids = np.zeros(len(kwh), dtype=np.int64), np.array([SINGLE_CUSTOMER], dtype=object)
    # Each customer's readings in one block, in strictly increasing time: no reading repeats.
    same = codes[1:] == codes[:-1]
    if not (np.diff(ts)[same] > 0).all():
        return None
    return _ReadingArrays(codes, ids, ts, kwh, kvarh)


def _customer_blocks(customer: pd.Series) -> tuple[np.ndarray, np.ndarray] | None:
    """Each reading's customer block and the block ids; None when a customer's readings are split.

    Arrow-backed strings are compared neighbour to neighbour, which costs less than hashing every
    id; other strings are factorized.
    """
    if getattr(customer.dtype, "storage", None) == "pyarrow":
        values = pa.array(customer)
        change = np.ones(len(values), dtype=bool)
        change[1:] = pc.not_equal(values[1:], values[:-1]).to_numpy(zero_copy_only=False)
        starts = np.flatnonzero(change)
        ids = np.asarray(values.take(starts).to_pylist(), dtype=object)
        if len(set(ids.tolist())) != len(ids):
            return None
        return np.cumsum(change) - 1, ids
    codes, ids = pd.factorize(customer)
    if (np.diff(codes) < 0).any():
        return None
    return codes, np.asarray(ids, dtype=object)


def _interval_minutes(readings: _ReadingArrays, source: str) -> np.ndarray:
    """Each customer's reading interval: the most frequent step between its readings, in minutes.

    The same rule as :func:`core.ingest.interval_minutes` (ties go to the shorter step), worked
    on arrays already in customer and time order.
    """
    codes, ids = readings.codes, readings.ids
    same = codes[1:] == codes[:-1]
    steps = np.diff(readings.ts)[same] / _MINUTE_NS
    owners = codes[1:][same]
    minutes = np.full(len(ids), np.nan)
    if len(steps):
        starts = _block_starts(owners)
        shortest = np.minimum.reduceat(steps, starts)
        longest = np.maximum.reduceat(steps, starts)
        minutes[owners[starts]] = shortest
        # Regular readings have one step; only customers with gaps need counting.
        ends = np.append(starts[1:], len(steps))
        for block in np.flatnonzero(shortest != longest):
            values, counts = np.unique(steps[starts[block] : ends[block]], return_counts=True)
            minutes[owners[starts[block]]] = values[np.argmax(counts)]
    unknown = np.flatnonzero(np.isnan(minutes))
    if len(unknown):
        raise errors.UserError("tariffs.error.one_reading", source=source, customer=ids[unknown[0]])
    coarse = np.flatnonzero((minutes > DEMAND_HOURLY_MAX_MINUTES) & (minutes % 60 != 0))
    if len(coarse):
        raise errors.UserError(
            "tariffs.error.interval",
            source=source,
            customer=ids[coarse[0]],
            minutes=f"{minutes[coarse[0]]:g}",
        )
    return minutes


def _block_starts(*keys: np.ndarray) -> np.ndarray:
    """Where each run of equal consecutive keys starts (the keys are sorted together)."""
    change = np.zeros(len(keys[0]), dtype=bool)
    change[0] = True
    for key in keys:
        change[1:] |= key[1:] != key[:-1]
    return np.flatnonzero(change)


def monthly_usage(
    readings: pd.DataFrame,
    tariff: Tariff,
    capacity_kva: float | Mapping[str, float] | None = None,
    source: str = "readings",
) -> pd.DataFrame:
    """Aggregates interval readings into the monthly usage frame :func:`bill_usage` prices.

    Readings longer than an hour (daily readings) are spread evenly over their hours before the
    periods are assigned, an estimate the time-of-use split cannot avoid; they give no demand.

    Args:
        readings: ``ts``, ``kwh`` and optionally ``kvarh`` and ``customer_id``, at any interval.
        tariff: the tariff whose periods split the energy.
        capacity_kva: contract capacity, one figure or one per customer id.
        source: how to name the input in messages.

    Returns:
        One row per customer-month, ordered by customer and month: the columns of
        :data:`USAGE_COLUMNS` plus ``interval_minutes``. ``max_demand_kw`` is the largest
        15-minute average demand when readings are 15-minute or finer (``demand_interval`` =
        ``15min``), else the largest hourly average (``hourly``), NaN for coarser readings.

    Raises:
        ValueError: the readings are invalid (see :func:`core.ingest.validate_readings`).
    """
    arrays = _reading_arrays(readings, source)
    codes, ids, ts, kwh, kvarh = arrays.codes, arrays.ids, arrays.ts, arrays.kwh, arrays.kvarh
    minutes = _interval_minutes(arrays, source)

    coarse = minutes > DEMAND_HOURLY_MAX_MINUTES
    if coarse.any():
        spread = np.where(coarse, minutes // 60, 1).astype(np.int64)[codes]
        positions = np.repeat(np.arange(len(ts)), spread)
        offsets = np.arange(len(positions)) - np.repeat(np.cumsum(spread) - spread, spread)
        codes = codes[positions]
        ts = ts[positions] + offsets * _HOUR_NS
        kwh = kwh[positions] / spread[positions]
        kvarh = kvarh[positions] / spread[positions]

    months = _months_since_1970(ts)
    labels = _period_index_ns(tariff, ts, months)
    starts = _block_starts(codes, months)
    opens = np.zeros(len(ts), dtype=np.int64)
    opens[starts] = 1
    group = np.cumsum(opens) - 1
    count = len(starts)
    energy = np.bincount(
        group * len(PERIODS) + labels, weights=kwh, minlength=count * len(PERIODS)
    ).reshape(count, len(PERIODS))
    metered = ~np.isnan(kvarh)
    reactive = np.bincount(group, weights=np.where(metered, kvarh, 0.0), minlength=count)
    complete = np.bincount(group, weights=metered, minlength=count) == np.diff(
        np.append(starts, len(ts))
    )

    demand = np.full(count, np.nan)
    fine = minutes <= DEMAND_15MIN_MAX_MINUTES
    hourly = (minutes <= DEMAND_HOURLY_MAX_MINUTES) & ~fine
    for customers, width in ((fine, DEMAND_15MIN_MAX_MINUTES), (hourly, 60)):
        if not customers.any():
            continue
        rows = slice(None) if customers.all() else customers[codes]
        owners = group[rows]
        # Energy per demand window (15 minutes or an hour) as average power over the window.
        bucket_starts = _block_starts(owners, ts[rows] // (width * _MINUTE_NS))
        bucket_kw = np.add.reduceat(kwh[rows], bucket_starts) * (60 / width)
        owner = owners[bucket_starts]
        owner_starts = _block_starts(owner)
        demand[owner[owner_starts]] = np.maximum.reduceat(bucket_kw, owner_starts)

    first = starts
    month_numbers = months[first]
    distinct_months, month_position = np.unique(month_numbers, return_inverse=True)
    names = np.array(
        [f"{1970 + number // 12}-{number % 12 + 1:02d}" for number in distinct_months.tolist()],
        dtype=object,
    )
    interval = minutes[codes[first]]
    usage = pd.DataFrame(
        {
            "customer_id": ids[codes[first]].astype(str),
            "period": names[month_position.ravel()],
            **{f"kwh_{period}": energy[:, number] for number, period in enumerate(PERIODS)},
            "kvarh": np.where(complete, reactive, np.nan),
            "max_demand_kw": demand,
            "demand_interval": np.where(
                interval <= DEMAND_15MIN_MAX_MINUTES,
                "15min",
                np.where(interval <= DEMAND_HOURLY_MAX_MINUTES, "hourly", None),
            ).astype(object),
            "interval_minutes": interval,
        }
    )
    usage["demand_interval"] = usage["demand_interval"].where(
        usage["interval_minutes"] <= DEMAND_HOURLY_MAX_MINUTES, None
    )
    if not pd.Index(ids).is_monotonic_increasing:
        usage = usage.sort_values(["customer_id", "period"], kind="stable", ignore_index=True)
    if isinstance(capacity_kva, Mapping):
        usage["contract_capacity_kva"] = usage["customer_id"].map(capacity_kva).astype(float)
    else:
        usage["contract_capacity_kva"] = np.nan if capacity_kva is None else float(capacity_kva)
    return usage[[*USAGE_COLUMNS, "interval_minutes"]]


def bill(
    readings: pd.DataFrame,
    tariff: Tariff,
    capacity_kva: float | Mapping[str, float] | None = None,
    basic_basis: BasicBasis | None = None,
    declared_demand_kw: float | None = None,
    source: str = "readings",
) -> pd.DataFrame:
    """The monthly bills of interval readings under a tariff.

    Args:
        readings: ``ts``, ``kwh`` and optionally ``kvarh`` and ``customer_id``.
        tariff: the tariff to apply.
        capacity_kva: contract capacity, one figure or one per customer id.
        basic_basis: two-part tariffs: ``capacity`` or ``demand``; the tariff's default if None.
        declared_demand_kw: two-part by demand: the declared (contract) maximum demand; None bills
            the actual maximum demand.
        source: how to name the readings in messages.

    Returns:
        One row per customer-month with every bill line (see :func:`bill_usage`).

    Raises:
        ValueError: invalid readings (see :func:`core.ingest.validate_readings`); a UserError for
            a bill that lacks what its basis needs.
    """
    usage = monthly_usage(readings, tariff, capacity_kva, source)
    if basic_basis is not None:
        if basic_basis not in BASIC_BASES:
            raise errors.UserError("tariffs.error.catalog.basic_basis", basis=repr(basic_basis))
        usage["basic_basis"] = basic_basis
    if declared_demand_kw is not None:
        if declared_demand_kw <= 0:
            raise errors.UserError("tariffs.error.declared_demand")
        usage["declared_demand_kw"] = float(declared_demand_kw)
    return bill_usage(tariff, usage)


# --- files and reports -----------------------------------------------------------------------

# Bill lines reported per month, in the order a printed bill lists them.
BILL_LINES = (
    "kwh_critical",
    "kwh_peak",
    "kwh_flat",
    "kwh_valley",
    "kwh_total",
    "charge_critical_cny",
    "charge_peak_cny",
    "charge_flat_cny",
    "charge_valley_cny",
    "energy_charge_cny",
    "basic_basis",
    "basic_quantity",
    "basic_excess_kw",
    "basic_excess_cny",
    "basic_charge_cny",
    "max_demand_kw",
    "demand_interval",
    "kvarh",
    "power_factor",
    "pf_adjustment_percent",
    "pf_adjustment_cny",
)


def _plain(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float):
        return None if math.isnan(value) else value
    return value


def bill_breakdown(bills: pd.DataFrame, tariff: Tariff) -> dict:
    """A bill frame of one customer as a plain dictionary (for JSON).

    Args:
        bills: from :func:`bill` or :func:`bill_usage`, one customer.
        tariff: the tariff the bills were priced with.

    Returns:
        ``tariff``, ``months`` (each with ``period``, every bill line, the tier lines and
        ``total_cny``) and ``total_cny`` over all months.
    """
    tier_columns = [c for c in bills.columns if c.startswith("tier") and c[4:5].isdigit()]
    months = []
    for _, row in bills.sort_values("period").iterrows():
        month = {"period": row["period"]}
        month.update({line: _plain(row[line]) for line in BILL_LINES if line in bills.columns})
        month.update({column: _plain(row[column]) for column in tier_columns})
        month["total_cny"] = _plain(row["amount_cny"])
        months.append(month)
    total_fen = int(to_fen(bills["amount_cny"].to_numpy(float)).sum())
    return {
        "tariff": {"code": tariff.code, "name": tariff.name, "name_zh": tariff.name_zh},
        "months": months,
        "total_cny": total_fen / 100,
    }
