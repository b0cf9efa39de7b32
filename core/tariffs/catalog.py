"""The tariff catalog (``data/tariffs.toml``): read, validated, one tariff per code."""

from __future__ import annotations

import functools
import math
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from core import errors
from core.store.schema import CUSTOMER_CLASSES
from core.tariffs.model import (
    BASIC_BASES,
    DAY_TYPES,
    DEFAULT_CATALOG,
    HOURS_PER_DAY,
    KINDS,
    PERIODS,
    POWER_FACTOR_STANDARDS,
    Tariff,
    Tier,
)

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
