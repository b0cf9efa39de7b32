"""The bill engine: one usage frame priced line by line in fen, and a bill as a plain dict."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from core import errors
from core.tariffs.model import (
    BASIC_BASES,
    MIN_TIER_COLUMNS,
    PERIODS,
    SINGLE_CUSTOMER,
    USAGE_COLUMNS,
    Tariff,
)
from core.tariffs.money import _cny, power_factor, power_factor_adjustment_percent, to_fen


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
