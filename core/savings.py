"""What a customer can save by shifting load, changing tariff or basis, compensating reactive power.

Each option is priced for one customer and ranked over all customers.

Everything here prices through :func:`core.tariffs.bill_usage`, so a what-if and a bill always use
the same arithmetic. Savings are positive when the customer pays less.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, calendars, ingest, tariffs
from core.store import schema
from core.tariffs import PERIODS, Tariff

ShiftTarget = Literal["valley", "flat"]
DEFAULT_TARGET_POWER_FACTOR = 0.95
# Installed cost of low-voltage capacitor banks with automatic switching, CNY per kvar: a planning
# figure for the payback when the customer has no quote yet.
DEFAULT_COMPENSATION_COST_PER_KVAR = 120.0


@dataclass(frozen=True)
class Assumptions:
    """The stated assumptions of a savings ranking.

    Attributes:
        shift_share: share of peak and critical-peak energy the customer moves.
        shift_target: where the energy goes: ``valley`` or ``flat`` hours.
        target_power_factor: power factor reached with reactive compensation.
        compensation_cost_per_kvar: installed cost of compensation, CNY per kvar.
        max_payback_years: compensation counts as an option only when it pays back within this.
    """

    shift_share: float = 0.2
    shift_target: ShiftTarget = "valley"
    target_power_factor: float = DEFAULT_TARGET_POWER_FACTOR
    compensation_cost_per_kvar: float = DEFAULT_COMPENSATION_COST_PER_KVAR
    max_payback_years: float = 3.0

    def validate(self) -> None:
        """Raises ValueError when an assumption is out of range."""
        if not 0 <= self.shift_share <= 1:
            raise ValueError(f"shift share {self.shift_share:g} must be between 0 and 1")
        if self.shift_target not in ("valley", "flat"):
            raise ValueError(f"shift target {self.shift_target!r} must be valley or flat")
        if not 0.8 <= self.target_power_factor <= 1:
            raise ValueError(
                f"target power factor {self.target_power_factor:g} must be between 0.80 and 1"
            )
        if self.compensation_cost_per_kvar < 0 or self.max_payback_years <= 0:
            raise ValueError("compensation cost and payback years must be positive")


# --- hours per period ------------------------------------------------------------------------


@functools.lru_cache(maxsize=4096)
def _hours_in_month(tariff: Tariff, period: str) -> tuple[float, float, float, float]:
    start = pd.Timestamp(f"{period}-01")
    stamps = pd.date_range(start, start + pd.offsets.MonthBegin(1), freq="h", inclusive="left")
    counts = np.bincount(tariffs.period_index(tariff, stamps), minlength=len(PERIODS))
    return tuple(float(count) for count in counts)  # type: ignore[return-value]


def period_hours(tariff: Tariff, periods: Sequence[str]) -> np.ndarray:
    """Hours of each time-of-use period in each month.

    Args:
        tariff: the tariff whose schedule counts.
        periods: months as ``YYYY-MM``.

    Returns:
        Array of shape (len(periods), 4) in :data:`core.tariffs.PERIODS` order.
    """
    return np.array([_hours_in_month(tariff, str(period)) for period in periods]).reshape(-1, 4)


# --- load shifting ---------------------------------------------------------------------------


def shiftable_kwh(tariff: Tariff, usage: pd.DataFrame) -> np.ndarray:
    """The peak and critical-peak energy above the customer's own valley-hour base load.

    A customer can bring its peak hours down to its night-time level at most; what it uses at peak
    above that level is what it could move. Tariffs without a valley period have nothing to gain.

    Args:
        tariff: the tariff whose periods the usage is split by.
        usage: monthly usage (see :func:`core.tariffs.monthly_usage`).

    Returns:
        kWh per row that can move out of peak and critical-peak hours.
    """
    hours = period_hours(tariff, usage["period"].astype(str).tolist())
    valley_hours = hours[:, PERIODS.index("valley")]
    on_peak_hours = hours[:, PERIODS.index("critical")] + hours[:, PERIODS.index("peak")]
    valley = usage["kwh_valley"].to_numpy(float)
    on_peak = usage["kwh_critical"].to_numpy(float) + usage["kwh_peak"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        base_kw = np.where(valley_hours > 0, valley / valley_hours, np.nan)
    shiftable = np.clip(on_peak - on_peak_hours * base_kw, 0.0, None)
    return np.where(np.isnan(base_kw), 0.0, shiftable)


def shift_usage(
    tariff: Tariff,
    usage: pd.DataFrame,
    share: float,
    target: ShiftTarget = "valley",
    cap_to_shape: bool = True,
) -> pd.DataFrame:
    """Moves a share of peak and critical-peak energy to valley or flat hours.

    Total energy is unchanged; maximum demand is left as it was (a conservative reading: moving
    load rarely lowers the monthly peak by the same share).

    Args:
        tariff: the tariff whose periods the usage is split by.
        usage: monthly usage.
        share: share of peak plus critical-peak energy to move, 0-1.
        target: ``valley`` or ``flat``.
        cap_to_shape: limit the move to :func:`shiftable_kwh`.

    Returns:
        A copy of ``usage`` with the energy moved and a ``shifted_kwh`` column.

    Raises:
        ValueError: share or target out of range.
    """
    if not 0 <= share <= 1:
        raise ValueError(f"shift share {share:g} must be between 0 and 1")
    if target not in ("valley", "flat"):
        raise ValueError(f"shift target {target!r} must be valley or flat")
    shifted = usage.copy()
    critical = usage["kwh_critical"].to_numpy(float)
    peak = usage["kwh_peak"].to_numpy(float)
    on_peak = critical + peak
    moved = on_peak * share
    if cap_to_shape:
        moved = np.minimum(moved, shiftable_kwh(tariff, usage))
    if target == "flat" and "flat" not in tariff.periods_used:
        moved = np.zeros_like(moved)
    with np.errstate(invalid="ignore", divide="ignore"):
        kept = np.where(on_peak > 0, 1 - moved / on_peak, 1.0)
    shifted["kwh_critical"] = critical * kept
    shifted["kwh_peak"] = peak * kept
    destination = f"kwh_{target}"
    shifted[destination] = usage[destination].to_numpy(float) + (on_peak - on_peak * kept)
    shifted["shifted_kwh"] = on_peak - on_peak * kept
    return shifted


def shift_readings(
    readings: pd.DataFrame, moves: Sequence[tuple[int, int, float]], source: str = "readings"
) -> pd.DataFrame:
    """Applies an hour-to-hour plan to interval readings.

    Each day, a share of one hour's energy moves to another hour of the same day.

    Args:
        readings: ``ts``, ``kwh`` and optionally ``kvarh`` and ``customer_id``.
        moves: ``(from_hour, to_hour, share)`` steps, applied in order.
        source: how to name the readings in messages.

    Returns:
        The clean readings with the energy moved; the total per day is unchanged.

    Raises:
        ValueError: invalid readings or a move with an hour outside 0-23 or a share outside 0-1.
    """
    frame = ingest.validate_readings(readings, source)
    for number, (from_hour, to_hour, share) in enumerate(moves, start=1):
        if not (0 <= from_hour <= 23 and 0 <= to_hour <= 23) or from_hour == to_hour:
            raise ValueError(f"move {number}: hours must be two different hours 0-23")
        if not 0 <= share <= 1:
            raise ValueError(f"move {number}: share {share:g} must be between 0 and 1")
        stamps = frame["ts"].dt
        leaving = (stamps.hour == from_hour).to_numpy()
        moved = frame.loc[leaving, ["customer_id", "ts", "kwh"]].copy()
        moved["kwh"] = moved["kwh"] * share
        moved["ts"] = moved["ts"] + pd.Timedelta(hours=to_hour - from_hour)
        frame.loc[leaving, "kwh"] = frame.loc[leaving, "kwh"] * (1 - share)
        merged = frame.merge(
            moved.rename(columns={"kwh": "arriving"}), on=["customer_id", "ts"], how="outer"
        )
        merged["kwh"] = merged["kwh"].fillna(0.0) + merged["arriving"].fillna(0.0)
        frame = (
            merged.drop(columns="arriving")
            .sort_values(["customer_id", "ts"], kind="stable")
            .reset_index(drop=True)
        )
    return frame


def shift_whatif(
    tariff: Tariff,
    usage: pd.DataFrame,
    share: float,
    target: ShiftTarget = "valley",
    cap_to_shape: bool = True,
) -> pd.DataFrame:
    """The bill before and after a load shift, month by month.

    Args:
        tariff: the customer's tariff.
        usage: monthly usage of one or more customers.
        share: share of peak plus critical-peak energy to move.
        target: ``valley`` or ``flat``.
        cap_to_shape: limit the move to what the load shape allows.

    Returns:
        One row per customer-month: ``customer_id``, ``period``, energy per period before and
        after (``kwh_<period>_before`` / ``_after``), ``shifted_kwh``, ``amount_before_cny``,
        ``amount_after_cny``, ``saving_cny``.
    """
    before = tariffs.bill_usage(tariff, usage)
    shifted = shift_usage(tariff, usage, share, target, cap_to_shape)
    after = tariffs.bill_usage(tariff, shifted)
    result = pd.DataFrame(
        {"customer_id": usage["customer_id"].to_numpy(), "period": usage["period"].to_numpy()},
        index=usage.index,
    )
    for period in PERIODS:
        result[f"kwh_{period}_before"] = usage[f"kwh_{period}"].to_numpy(float)
        result[f"kwh_{period}_after"] = shifted[f"kwh_{period}"].to_numpy(float)
    result["shifted_kwh"] = shifted["shifted_kwh"].to_numpy(float)
    result["amount_before_cny"] = before["amount_cny"].to_numpy()
    result["amount_after_cny"] = after["amount_cny"].to_numpy()
    result["saving_cny"] = _money_difference(
        result["amount_before_cny"], result["amount_after_cny"]
    )
    return result


def _money_difference(first: pd.Series | np.ndarray, second: pd.Series | np.ndarray) -> np.ndarray:
    fen = np.round(np.asarray(first, float) * 100) - np.round(np.asarray(second, float) * 100)
    return fen / 100.0


# --- tariff and basis choices ----------------------------------------------------------------


def eligible_tariffs(
    catalog: Mapping[str, Tariff], customer_class: str, capacity_kva: float | None
) -> list[Tariff]:
    """The tariffs a customer of this class and capacity may choose, in catalog order."""
    return [t for t in catalog.values() if t.eligible(customer_class, capacity_kva)]


def compare_plans(
    readings: pd.DataFrame,
    catalog: Mapping[str, Tariff],
    customer_class: str,
    current_code: str,
    capacity_kva: float | None = None,
    declared_demand_kw: float | None = None,
    source: str = "readings",
) -> pd.DataFrame:
    """The same load under every tariff the customer may choose (and each basic-charge basis).

    Args:
        readings: one customer's interval readings.
        catalog: the tariff catalog.
        customer_class: residential, commercial, industrial or agricultural.
        current_code: the customer's tariff, always included.
        capacity_kva: contract capacity.
        declared_demand_kw: declared demand for the demand basis; None bills actual demand.
        source: how to name the readings in messages.

    Returns:
        One row per option, cheapest first: ``code``, ``name``, ``name_zh``, ``basic_basis``
        (None unless two-part), ``kwh_total``, ``energy_charge_cny``, ``basic_charge_cny``,
        ``pf_adjustment_cny``, ``amount_cny``, ``saving_cny`` (vs the current option) and
        ``current``.

    Raises:
        ValueError: an unknown current tariff or invalid readings.
    """
    if current_code not in catalog:
        raise ValueError(f"tariff {current_code!r} is not in the catalog")
    options = eligible_tariffs(catalog, customer_class, capacity_kva)
    if catalog[current_code] not in options:
        options.insert(0, catalog[current_code])
    rows = []
    current_amount = None
    for tariff in options:
        bases: list[str | None] = [None]
        if tariff.kind == "two_part":
            bases = [tariff.default_basic_basis] + [
                basis for basis in tariffs.BASIC_BASES if basis != tariff.default_basic_basis
            ]
        for basis in bases:
            try:
                bills = tariffs.bill(
                    readings,
                    tariff,
                    capacity_kva,
                    basic_basis=basis,  # type: ignore[arg-type]
                    declared_demand_kw=declared_demand_kw if basis == "demand" else None,
                    source=source,
                )
            except ValueError:
                if basis == "demand":
                    # Daily readings give no demand: the demand basis cannot be priced.
                    continue
                raise
            totals = bills[
                ["kwh_total", "energy_charge_cny", "basic_charge_cny", "pf_adjustment_cny"]
            ].sum()
            amount = float(np.round(bills["amount_cny"].sum() * 100) / 100)
            is_current = tariff.code == current_code and basis in (None, tariff.default_basic_basis)
            if is_current:
                current_amount = amount
            rows.append(
                {
                    "code": tariff.code,
                    "name": tariff.name,
                    "name_zh": tariff.name_zh,
                    "basic_basis": basis,
                    "kwh_total": float(totals["kwh_total"]),
                    "energy_charge_cny": round(float(totals["energy_charge_cny"]), 2),
                    "basic_charge_cny": round(float(totals["basic_charge_cny"]), 2),
                    "pf_adjustment_cny": round(float(totals["pf_adjustment_cny"]), 2),
                    "amount_cny": amount,
                    "current": is_current,
                }
            )
    plans = pd.DataFrame(rows)
    plans["saving_cny"] = _money_difference(
        np.full(len(plans), current_amount), plans["amount_cny"]
    )
    return plans.sort_values("amount_cny", kind="stable").reset_index(drop=True)


def basis_comparison(
    tariff: Tariff, usage: pd.DataFrame, declared_demand_kw: float | None = None
) -> pd.DataFrame:
    """Basic charge by capacity against by maximum demand, month by month, for a two-part tariff.

    Args:
        tariff: a two-part tariff.
        usage: monthly usage with contract capacity and maximum demand.
        declared_demand_kw: declared demand; None bills the actual maximum demand.

    Returns:
        ``customer_id``, ``period``, ``max_demand_kw``, ``demand_interval``,
        ``capacity_basic_cny``, ``demand_basic_cny``, ``demand_excess_cny``,
        ``capacity_amount_cny``, ``demand_amount_cny`` and ``demand_saving_cny`` (what billing by
        demand saves against billing by capacity).

    Raises:
        ValueError: the tariff is not two-part or the usage lacks capacity or demand.
    """
    if tariff.kind != "two_part":
        raise ValueError(f"tariff {tariff.code} has no basic charge; pick a two-part tariff")
    by_capacity = tariffs.bill_usage(tariff, usage.assign(basic_basis="capacity"))
    demand_usage = usage.assign(basic_basis="demand")
    if declared_demand_kw is not None:
        demand_usage["declared_demand_kw"] = float(declared_demand_kw)
    by_demand = tariffs.bill_usage(tariff, demand_usage)
    return pd.DataFrame(
        {
            "customer_id": usage["customer_id"].to_numpy(),
            "period": usage["period"].to_numpy(),
            "max_demand_kw": usage["max_demand_kw"].to_numpy(float),
            "demand_interval": usage["demand_interval"].to_numpy(),
            "capacity_basic_cny": by_capacity["basic_charge_cny"].to_numpy(),
            "demand_basic_cny": by_demand["basic_charge_cny"].to_numpy(),
            "demand_excess_cny": by_demand["basic_excess_cny"].to_numpy(),
            "capacity_amount_cny": by_capacity["amount_cny"].to_numpy(),
            "demand_amount_cny": by_demand["amount_cny"].to_numpy(),
            "demand_saving_cny": _money_difference(
                by_capacity["amount_cny"], by_demand["amount_cny"]
            ),
        },
        index=usage.index,
    )


@dataclass(frozen=True)
class CompensationResult:
    """What reactive compensation is worth.

    Attributes:
        monthly: per month: ``period``, ``power_factor_before``, ``power_factor_after``,
            ``pf_adjustment_before_cny``, ``pf_adjustment_after_cny``, ``saving_cny``.
        annual_saving_cny: saving over a year of bills (scaled to 12 months).
        required_kvar: compensation capacity needed for the month that needs the most.
        investment_cny: the stated investment, or the estimate from the cost per kvar.
        payback_years: investment divided by annual saving; inf when nothing is saved.
    """

    monthly: pd.DataFrame
    annual_saving_cny: float
    required_kvar: float
    investment_cny: float
    payback_years: float


def compensation_payback(
    tariff: Tariff,
    usage: pd.DataFrame,
    target_power_factor: float = DEFAULT_TARGET_POWER_FACTOR,
    investment_cny: float | None = None,
    cost_per_kvar: float = DEFAULT_COMPENSATION_COST_PER_KVAR,
) -> CompensationResult:
    """The effect of raising the power factor with reactive compensation, and its payback.

    Months already at or above the target keep their reactive energy.

    Args:
        tariff: the customer's tariff.
        usage: one customer's monthly usage with ``kvarh``.
        target_power_factor: the power factor after compensation.
        investment_cny: the quoted investment; when None it is estimated from ``cost_per_kvar``.
        cost_per_kvar: installed cost per kvar for the estimate.

    Returns:
        The monthly effect, annual saving, capacity needed, investment and payback.

    Raises:
        ValueError: no reactive energy is metered, or the target is out of range.
    """
    if not 0.8 <= target_power_factor <= 1:
        raise ValueError(f"target power factor {target_power_factor:g} must be between 0.80 and 1")
    kvarh = usage["kvarh"].to_numpy(float)
    if np.isnan(kvarh).all():
        raise ValueError("no reactive energy (kvarh) in the readings; the power factor is unknown")
    before = tariffs.bill_usage(tariff, usage)
    kwh = before["kwh_total"].to_numpy(float)
    target_kvarh = kwh * math.tan(math.acos(target_power_factor))
    new_kvarh = np.where(np.isnan(kvarh), np.nan, np.minimum(kvarh, target_kvarh))
    after = tariffs.bill_usage(tariff, usage.assign(kvarh=new_kvarh))
    hours = period_hours(tariff, usage["period"].astype(str).tolist()).sum(axis=1)
    required = np.nan_to_num((kvarh - new_kvarh) / hours, nan=0.0)
    required_kvar = float(np.ceil(required.max())) if len(required) else 0.0
    monthly = pd.DataFrame(
        {
            "period": usage["period"].to_numpy(),
            "power_factor_before": before["power_factor"].to_numpy(),
            "power_factor_after": after["power_factor"].to_numpy(),
            "pf_adjustment_before_cny": before["pf_adjustment_cny"].to_numpy(),
            "pf_adjustment_after_cny": after["pf_adjustment_cny"].to_numpy(),
            "saving_cny": _money_difference(before["amount_cny"], after["amount_cny"]),
        }
    )
    months = len(monthly)
    annual = round(float(monthly["saving_cny"].sum()) * 12 / months, 2) if months else 0.0
    investment = (
        float(investment_cny) if investment_cny is not None else required_kvar * cost_per_kvar
    )
    if investment < 0:
        raise ValueError("the investment must not be negative")
    payback = investment / annual if annual > 0 else math.inf
    return CompensationResult(monthly, annual, required_kvar, investment, payback)


# --- from the store --------------------------------------------------------------------------

# A page shows one customer; the search list and the batch ranking stay bounded.
CUSTOMER_SEARCH_LIMIT = 50
MONTHS_RANKED = 12


class NoReadingsError(ValueError):
    """A customer has no meter readings yet, so there is nothing to bill or shift."""

    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id} has no readings")
        self.customer_id = customer_id


def find_customers(
    engine: sa.Engine, viewer: access.Viewer, text: str = "", limit: int = CUSTOMER_SEARCH_LIMIT
) -> pd.DataFrame:
    """Customers whose id or name contains ``text``, for a picker.

    Args:
        engine: the store.
        viewer: who is asking; only customers in their scope are listed.
        text: part of the customer id or name; empty lists the first customers.
        limit: most rows returned.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``tariff_code``, ``contract_capacity_kva``.
    """
    c = schema.customers
    query = (
        sa.select(
            c.c.customer_id,
            c.c.name,
            c.c.customer_class,
            c.c.tariff_code,
            c.c.contract_capacity_kva,
        )
        .outerjoin(schema.features, schema.features.c.customer_id == c.c.customer_id)
        .where(access.customer_scope(viewer, c))
        # Customers with readings first, so the picker does not open on one with nothing to bill.
        .order_by(sa.func.coalesce(schema.features.c.days_with_readings, 0) == 0, c.c.customer_id)
        .limit(limit)
    )
    if text.strip():
        pattern = f"%{text.strip()}%"
        query = query.where(sa.or_(c.c.customer_id.ilike(pattern), c.c.name.ilike(pattern)))
    with engine.connect() as conn:
        found = pd.DataFrame(
            conn.execute(query).mappings().all(), columns=list(query.selected_columns.keys())
        )
    return access.mask_frame(viewer, found)


def customer_readings(
    engine: sa.Engine, viewer: access.Viewer, customer_id: str, months: int = MONTHS_RANKED
) -> tuple[dict, pd.DataFrame]:
    """One customer's archive entry and their readings over the latest ``months`` months.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_id: the customer.
        months: how many calendar months back from the customer's last reading.

    Returns:
        The customer (``customer_id``, ``name``, ``customer_class``, ``tariff_code``,
        ``contract_capacity_kva``) and their readings (``ts``, ``kwh``, ``kvarh``).

    Raises:
        ValueError: the customer does not exist, is outside the viewer's scope or has no readings.
    """
    c = schema.customers
    r = schema.readings
    with engine.connect() as conn:
        customer = (
            conn.execute(
                sa.select(
                    c.c.customer_id,
                    c.c.name,
                    c.c.customer_class,
                    c.c.tariff_code,
                    c.c.contract_capacity_kva,
                ).where(c.c.customer_id == customer_id, access.customer_scope(viewer, c))
            )
            .mappings()
            .first()
        )
        if customer is None:
            raise ValueError(f"customer {customer_id} not found")
        last = conn.execute(
            sa.select(sa.func.max(r.c.ts)).where(r.c.customer_id == customer_id)
        ).scalar_one()
        if last is None:
            raise NoReadingsError(customer_id)
        end, start = _month_window(pd.Timestamp(last), months)
        rows = conn.execute(
            sa.select(r.c.ts, r.c.kwh, r.c.kvarh)
            .where(r.c.customer_id == customer_id, r.c.ts >= start, r.c.ts < end)
            .order_by(r.c.ts)
        ).all()
    readings = pd.DataFrame(rows, columns=["ts", "kwh", "kvarh"])
    readings["kwh"] = readings["kwh"].astype(float)
    readings["kvarh"] = readings["kvarh"].astype(float)
    return access.mask_record(viewer, customer), readings


def _month_window(last: pd.Timestamp, months: int) -> tuple[dt.datetime, dt.datetime]:
    # The window ends after the month of the last reading and covers whole calendar months.
    end = (last.normalize().replace(day=1) + pd.offsets.MonthBegin(1)).to_pydatetime()
    start = (pd.Timestamp(end) - pd.DateOffset(months=months)).to_pydatetime()
    return end, start


def _day_type_expression(ts: sa.ColumnElement, first: dt.date, end: dt.date) -> sa.ColumnElement:
    """1 on weekends and public holidays, 0 on workdays (make-up workdays included), in SQL."""
    days = pd.date_range(first, end, freq="D", inclusive="left")
    working = calendars.workdays(days)
    weekend = days.dayofweek.to_numpy() >= 5
    key = lambda stamp: stamp.year * 10000 + stamp.month * 100 + stamp.day  # noqa: E731
    make_up = [
        key(day) for day, work, off in zip(days, working, weekend, strict=True) if work and off
    ]
    holidays = [
        key(day)
        for day, work, off in zip(days, working, weekend, strict=True)
        if not work and not off
    ]
    year = sa.cast(sa.extract("year", ts), sa.Integer)
    month = sa.cast(sa.extract("month", ts), sa.Integer)
    day = sa.cast(sa.extract("day", ts), sa.Integer)
    date_key = year * 10000 + month * 100 + day
    dow = sa.cast(sa.extract("dow", ts), sa.Integer)
    return sa.case(
        (date_key.in_(make_up), 0),
        (date_key.in_(holidays), 1),
        (dow.in_([0, 6]), 1),
        else_=0,
    )


def store_profiles(
    engine: sa.Engine, viewer: access.Viewer, months: int = MONTHS_RANKED
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Energy by customer, month, day type and hour of day over the latest months, summed in SQL.

    Any tariff's period split follows from this profile without reading the readings again.

    Args:
        engine: the store.
        viewer: who is asking; only customers in scope are read.
        months: calendar months back from the last reading in the store.

    Returns:
        The profile (``customer_id``, ``period``, ``day_type``, ``hour``, ``kwh``, ``kvarh``,
        ``kvarh_count``, ``readings``) and the hourly maximum demand per customer-month
        (``customer_id``, ``period``, ``max_demand_kw``) for customers that a two-part tariff
        could apply to.
    """
    r = schema.readings
    c = schema.customers
    with engine.connect() as conn:
        last = conn.execute(sa.select(sa.func.max(r.c.ts))).scalar_one()
        if last is None:
            empty = pd.DataFrame(
                columns=["customer_id", "period", "day_type", "hour", "kwh", "kvarh"]
            )
            return empty, pd.DataFrame(columns=["customer_id", "period", "max_demand_kw"])
        end, start = _month_window(pd.Timestamp(last), months)
        year = sa.cast(sa.extract("year", r.c.ts), sa.Integer).label("year")
        month = sa.cast(sa.extract("month", r.c.ts), sa.Integer).label("month")
        hour = sa.cast(sa.extract("hour", r.c.ts), sa.Integer).label("hour")
        day_type = _day_type_expression(r.c.ts, start.date(), end.date()).label("day_type")
        scoped = r.join(c, c.c.customer_id == r.c.customer_id)
        window = sa.and_(access.customer_scope(viewer, c), r.c.ts >= start, r.c.ts < end)
        profile_query = (
            sa.select(
                r.c.customer_id,
                year,
                month,
                day_type,
                hour,
                sa.func.sum(r.c.kwh).label("kwh"),
                sa.func.sum(r.c.kvarh).label("kvarh"),
                sa.func.count(r.c.kvarh).label("kvarh_count"),
                sa.func.count().label("readings"),
            )
            .select_from(scoped)
            .where(window)
            .group_by(r.c.customer_id, year, month, day_type, hour)
        )
        profile = pd.DataFrame(
            conn.execute(profile_query).all(), columns=list(profile_query.selected_columns.keys())
        )
        day = sa.cast(sa.extract("day", r.c.ts), sa.Integer).label("day")
        hourly = (
            sa.select(r.c.customer_id, year, month, day, hour, sa.func.sum(r.c.kwh).label("kwh"))
            .select_from(scoped)
            .where(window, c.c.customer_class.in_(_two_part_classes()))
            .group_by(r.c.customer_id, year, month, day, hour)
            .subquery()
        )
        demand_query = sa.select(
            hourly.c.customer_id,
            hourly.c.year,
            hourly.c.month,
            sa.func.max(hourly.c.kwh).label("max_demand_kw"),
        ).group_by(hourly.c.customer_id, hourly.c.year, hourly.c.month)
        demand = pd.DataFrame(
            conn.execute(demand_query).all(),
            columns=["customer_id", "year", "month", "max_demand_kw"],
        )
    for frame in (profile, demand):
        frame["period"] = (
            frame["year"].astype(int).astype(str)
            + "-"
            + frame["month"].astype(int).map("{:02d}".format)
        )
    profile = profile.drop(columns=["year", "month"])
    for column in ("kwh", "kvarh"):
        profile[column] = profile[column].astype(float)
    demand = demand.drop(columns=["year", "month"])
    demand["max_demand_kw"] = demand["max_demand_kw"].astype(float)
    return profile, demand


def _two_part_classes() -> list[str]:
    classes = {
        customer_class
        for tariff in tariffs.load_catalog().values()
        if tariff.kind == "two_part"
        for customer_class in tariff.customer_classes
    }
    return sorted(classes)


def usage_from_profile(
    tariff: Tariff,
    profile: pd.DataFrame,
    demand: pd.DataFrame | None = None,
    capacity_kva: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """The monthly usage frame of every customer in a profile, split by a tariff's periods.

    Args:
        tariff: whose schedule splits the energy.
        profile: from :func:`store_profiles`.
        demand: hourly maximum demand per customer-month, from :func:`store_profiles`.
        capacity_kva: contract capacity per customer id.

    Returns:
        The usage frame (:data:`core.tariffs.USAGE_COLUMNS`), one row per customer-month.
    """
    lookup = np.frombuffer("".join(tariff.schedule).encode(), dtype=np.uint8)
    letters = np.frombuffer("".join(p[0] for p in PERIODS).encode(), dtype=np.uint8)
    to_index = np.zeros(256, dtype=np.int64)
    to_index[letters] = np.arange(len(PERIODS))
    months = profile["period"].str.slice(5, 7).astype(int).to_numpy() - 1
    slot = (months * 2 + profile["day_type"].to_numpy(int)) * tariffs.HOURS_PER_DAY
    labels = to_index[lookup[slot + profile["hour"].to_numpy(int)]]
    groups, keys = pd.factorize(
        pd.MultiIndex.from_arrays([profile["customer_id"], profile["period"]]), sort=True
    )
    count = len(keys)
    energy = np.zeros((count, len(PERIODS)))
    np.add.at(energy, (groups, labels), profile["kwh"].to_numpy(float))
    kvarh = np.bincount(
        groups, weights=np.nan_to_num(profile["kvarh"].to_numpy(float)), minlength=count
    )
    metered = np.bincount(groups, weights=profile["kvarh_count"].to_numpy(float), minlength=count)
    readings = np.bincount(groups, weights=profile["readings"].to_numpy(float), minlength=count)
    usage = pd.DataFrame(
        {
            "customer_id": keys.get_level_values(0).astype(str),
            "period": keys.get_level_values(1).astype(str),
        }
    )
    for position, period in enumerate(PERIODS):
        usage[f"kwh_{period}"] = energy[:, position]
    usage["kvarh"] = np.where(metered == readings, kvarh, np.nan)
    if demand is not None and len(demand):
        usage = usage.merge(demand, on=["customer_id", "period"], how="left")
    else:
        usage["max_demand_kw"] = np.nan
    usage["demand_interval"] = np.where(usage["max_demand_kw"].notna(), "hourly", None)
    usage["demand_interval"] = (
        usage["demand_interval"].astype(object).where(usage["max_demand_kw"].notna(), None)
    )
    usage["contract_capacity_kva"] = (
        usage["customer_id"].map(capacity_kva).astype(float) if capacity_kva else np.nan
    )
    return usage[list(tariffs.USAGE_COLUMNS)]


# --- ranking all customers -------------------------------------------------------------------

OPTIONS = ("shift", "switch", "basis", "compensation", "none")
RANKING_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "months",
    "annual_kwh",
    "annual_bill_cny",
    "shift_saving_cny",
    "shifted_kwh",
    "switch_saving_cny",
    "switch_tariff_code",
    "switch_basic_basis",
    "basis_saving_cny",
    "compensation_saving_cny",
    "compensation_kvar",
    "compensation_payback_years",
    "best_option",
    "attainable_saving_cny",
    "saving_share",
)


def rank_savings(
    engine: sa.Engine,
    viewer: access.Viewer,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
) -> pd.DataFrame:
    """Every customer in scope ranked by the annual saving one action could bring.

    Args:
        engine: the store.
        viewer: who is asking.
        assumptions: the stated assumptions (shift share, target power factor, costs).
        catalog: the tariff catalog; the default file when None.
        months: the latest calendar months of readings used (annualized when fewer).

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    c = schema.customers
    query = sa.select(
        c.c.customer_id,
        c.c.name,
        c.c.customer_class,
        c.c.region,
        c.c.manager_id,
        c.c.tariff_code,
        c.c.contract_capacity_kva,
    ).where(access.customer_scope(viewer, c))
    with engine.connect() as conn:
        customers = pd.DataFrame(
            conn.execute(query).all(), columns=list(query.selected_columns.keys())
        )
    customers = access.mask_frame(viewer, customers)
    profile, demand = store_profiles(engine, viewer, months)
    return rank_profiles(customers, profile, demand, catalog, assumptions or Assumptions())


def _per_customer(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame.groupby("customer_id", sort=False)[column].sum()


def _priced(
    tariff: Tariff, usage: pd.DataFrame, basis: str | None
) -> tuple[pd.DataFrame, pd.Series]:
    """Bills of the rows that can be priced on this basis, and the total per customer."""
    if tariff.kind == "two_part":
        basis = basis or tariff.default_basic_basis
        needed = "contract_capacity_kva" if basis == "capacity" else "max_demand_kw"
        complete = usage[needed].notna().groupby(usage["customer_id"]).transform("all")
        usage = usage[complete.to_numpy()].assign(basic_basis=basis)
    bills = tariffs.bill_usage(tariff, usage)
    return bills, _per_customer(bills, "amount_cny")


def rank_profiles(
    customers: pd.DataFrame,
    profile: pd.DataFrame,
    demand: pd.DataFrame,
    catalog: Mapping[str, Tariff],
    assumptions: Assumptions,
) -> pd.DataFrame:
    """Ranks customers by attainable annual saving from their load profiles.

    :func:`rank_savings` reads the profiles from the store and calls this.

    For each customer the options are: shift the assumed share of peak energy under the current
    tariff (capped by the load shape); switch to the cheapest other tariff or basic-charge basis
    it may choose; raise the power factor to the target when the compensation pays back within
    the stated years. The attainable saving is the best single option.

    Args:
        customers: ``customer_id``, ``name``, ``customer_class``, ``region``, ``manager_id``,
            ``tariff_code``, ``contract_capacity_kva``.
        profile: energy by customer, month, day type and hour (:func:`store_profiles`).
        demand: hourly maximum demand per customer-month.
        catalog: the tariff catalog.
        assumptions: the stated assumptions.

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    assumptions.validate()
    archive = customers.set_index("customer_id")
    capacity = archive["contract_capacity_kva"].astype(float).dropna().to_dict()
    result = archive[["name", "customer_class", "region", "manager_id", "tariff_code"]].copy()
    for column in RANKING_COLUMNS[6:]:
        result[column] = np.nan
    result["best_option"] = "none"
    result["switch_tariff_code"] = None
    result["switch_basic_basis"] = None
    known = result.index[result["tariff_code"].isin(list(catalog))]

    usage_by_code = {
        code: usage_from_profile(tariff, profile, demand, capacity)
        for code, tariff in catalog.items()
    }
    best_switch = pd.Series(np.inf, index=result.index)
    for code, tariff in catalog.items():
        usage = usage_by_code[code]
        on_tariff = result.index[result["tariff_code"] == code]
        current_usage = usage[usage["customer_id"].isin(on_tariff)]
        if len(current_usage):
            bills, amounts = _priced(tariff, current_usage, None)
            scale = 12 / bills.groupby("customer_id", sort=False)["period"].count()
            result.loc[amounts.index, "months"] = 12 / scale
            result.loc[amounts.index, "annual_kwh"] = _per_customer(bills, "kwh_total") * scale
            result.loc[amounts.index, "annual_bill_cny"] = (amounts * scale).round(2)
            whatif = shift_whatif(
                tariff,
                bills[list(current_usage.columns)],
                assumptions.shift_share,
                assumptions.shift_target,
            )
            result.loc[amounts.index, "shift_saving_cny"] = (
                _per_customer(whatif, "saving_cny") * scale
            ).round(2)
            result.loc[amounts.index, "shifted_kwh"] = _per_customer(whatif, "shifted_kwh") * scale
            if tariff.power_factor_standard is not None:
                _compensation(
                    result, tariff, bills[list(current_usage.columns)], amounts, scale, assumptions
                )
        eligible = [
            customer_id
            for customer_id, row in archive.iterrows()
            if tariff.eligible(row["customer_class"], capacity.get(customer_id))
        ]
        candidates = usage[usage["customer_id"].isin(eligible)]
        bases = list(tariffs.BASIC_BASES) if tariff.kind == "two_part" else [None]
        for basis in bases:
            if not len(candidates):
                break
            bills, amounts = _priced(tariff, candidates, basis)
            if not len(amounts):
                continue
            scale = 12 / bills.groupby("customer_id", sort=False)["period"].count()
            annual = (amounts * scale).round(2)
            is_current_option = (result.loc[annual.index, "tariff_code"] == code) & (
                (basis or "") == (tariff.default_basic_basis if tariff.kind == "two_part" else "")
            )
            annual = annual[~is_current_option.to_numpy()]
            better = annual < best_switch.loc[annual.index]
            winners = annual.index[better.to_numpy()]
            best_switch.loc[winners] = annual.loc[winners]
            result.loc[winners, "switch_tariff_code"] = code
            result.loc[winners, "switch_basic_basis"] = basis

    has_switch = np.isfinite(best_switch) & result["annual_bill_cny"].notna()
    saving = (result["annual_bill_cny"] - best_switch).where(has_switch).round(2)
    same_tariff = result["switch_tariff_code"] == result["tariff_code"]
    result["basis_saving_cny"] = saving.where(same_tariff)
    result["switch_saving_cny"] = saving.where(~same_tariff)
    options = pd.DataFrame(
        {
            "shift": result["shift_saving_cny"],
            "switch": result["switch_saving_cny"],
            "basis": result["basis_saving_cny"],
            "compensation": result["compensation_saving_cny"].where(
                result["compensation_payback_years"] <= assumptions.max_payback_years
            ),
        }
    ).fillna(0.0)
    best = options.idxmax(axis=1)
    best_saving = options.max(axis=1)
    result["best_option"] = best.where(best_saving > 0, "none")
    result["attainable_saving_cny"] = best_saving.clip(lower=0.0).round(2)
    result.loc[~result.index.isin(known), "attainable_saving_cny"] = np.nan
    result["saving_share"] = (result["attainable_saving_cny"] / result["annual_bill_cny"]).where(
        result["annual_bill_cny"] > 0
    )
    ranked = result.reset_index().sort_values(
        ["attainable_saving_cny", "customer_id"], ascending=[False, True], na_position="last"
    )
    return ranked[list(RANKING_COLUMNS)].reset_index(drop=True)


def _compensation(
    result: pd.DataFrame,
    tariff: Tariff,
    usage: pd.DataFrame,
    amounts: pd.Series,
    scale: pd.Series,
    assumptions: Assumptions,
) -> None:
    kvarh = usage["kvarh"].to_numpy(float)
    metered = usage["kvarh"].notna().groupby(usage["customer_id"]).transform("all").to_numpy()
    if not metered.any():
        return
    usage = usage[metered]
    kvarh = kvarh[metered]
    kwh = usage[[f"kwh_{p}" for p in PERIODS]].sum(axis=1).to_numpy(float)
    target = kwh * math.tan(math.acos(assumptions.target_power_factor))
    compensated = usage.assign(kvarh=np.minimum(kvarh, target))
    before = tariffs.bill_usage(tariff, usage)
    after = tariffs.bill_usage(tariff, compensated)
    hours = period_hours(tariff, usage["period"].astype(str).tolist()).sum(axis=1)
    kvar = pd.Series((kvarh - compensated["kvarh"].to_numpy(float)) / hours, index=usage.index)
    needed = np.ceil(kvar.groupby(usage["customer_id"], sort=False).max())
    saving = (_per_customer(before, "amount_cny") - _per_customer(after, "amount_cny")) * scale.loc[
        needed.index
    ]
    investment = needed * assumptions.compensation_cost_per_kvar
    payback = (investment / saving).where(saving > 0, np.inf)
    result.loc[needed.index, "compensation_saving_cny"] = saving.round(2)
    result.loc[needed.index, "compensation_kvar"] = needed
    result.loc[needed.index, "compensation_payback_years"] = payback.round(2)


TARGET_LIST_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "annual_bill_cny",
    "best_option",
    "attainable_saving_cny",
    "saving_share",
    "shifted_kwh",
    "switch_tariff_code",
    "switch_basic_basis",
    "compensation_kvar",
    "compensation_payback_years",
)


def target_list(
    ranking: pd.DataFrame, top: int | None = None, min_saving_cny: float = 0.0
) -> pd.DataFrame:
    """The customers worth contacting, largest saving first, for a campaign.

    Args:
        ranking: from :func:`rank_savings`.
        top: keep at most this many; all when None.
        min_saving_cny: keep customers whose attainable saving is at least this.

    Returns:
        :data:`TARGET_LIST_COLUMNS` of the customers with a saving above zero and the minimum.
    """
    if min_saving_cny < 0:
        raise ValueError("the minimum saving must not be negative")
    keep = ranking[
        (ranking["attainable_saving_cny"] > 0)
        & (ranking["attainable_saving_cny"] >= min_saving_cny)
        & (ranking["best_option"] != "none")
    ]
    if top is not None:
        keep = keep.head(top)
    return keep[list(TARGET_LIST_COLUMNS)].reset_index(drop=True)


# --- typical profiles ------------------------------------------------------------------------

# Typical hourly shapes (relative load, hour 0-23) of each class on a working day, from the
# load-research curves utilities publish for tariff design: residential evening peak, commercial
# business hours, two-shift industry, irrigation pumping at night and early morning.
TYPICAL_SHAPES: dict[str, tuple[float, ...]] = {
    "residential": (
        0.45, 0.40, 0.38, 0.36, 0.36, 0.40, 0.55, 0.75, 0.70, 0.60, 0.58, 0.65,
        0.70, 0.62, 0.58, 0.60, 0.70, 0.90, 1.20, 1.40, 1.45, 1.30, 1.00, 0.70,
    ),
    "commercial": (
        0.30, 0.28, 0.27, 0.27, 0.27, 0.30, 0.40, 0.60, 0.95, 1.20, 1.30, 1.30,
        1.20, 1.25, 1.30, 1.30, 1.25, 1.15, 1.05, 1.00, 0.90, 0.70, 0.45, 0.35,
    ),
    "industrial": (
        0.35, 0.35, 0.35, 0.35, 0.35, 0.40, 0.60, 0.95, 1.20, 1.25, 1.25, 1.20,
        1.00, 1.20, 1.25, 1.25, 1.20, 1.20, 1.15, 1.15, 1.10, 1.05, 0.70, 0.45,
    ),
    "agricultural": (
        1.30, 1.30, 1.30, 1.30, 1.30, 1.20, 1.00, 0.90, 0.80, 0.80, 0.80, 0.80,
        0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.80, 0.90, 1.00, 1.10, 1.20, 1.30,
    ),
}  # fmt: skip
# Weekend and holiday load relative to a working day.
NON_WORKDAY_FACTOR = {"residential": 1.1, "commercial": 0.8, "industrial": 0.5, "agricultural": 1.0}
# Seasonal factor per month, January first: cooling in summer, heating in winter, irrigation
# from spring to early autumn.
SEASONAL_FACTOR = {
    "residential": (1.25, 1.15, 0.90, 0.80, 0.85, 1.05, 1.40, 1.45, 1.00, 0.80, 0.90, 1.15),
    "commercial": (1.10, 0.95, 0.90, 0.90, 0.95, 1.10, 1.30, 1.30, 1.05, 0.90, 0.95, 1.05),
    "industrial": (0.95, 0.80, 1.00, 1.00, 1.00, 1.00, 1.05, 1.05, 1.00, 1.00, 1.05, 1.05),
    "agricultural": (0.30, 0.30, 0.80, 1.20, 1.50, 1.80, 2.00, 1.90, 1.20, 0.60, 0.30, 0.30),
}


def typical_readings(customer_class: str, annual_kwh: float, year: int) -> pd.DataFrame:
    """A year of hourly readings drawn from the typical profile of a customer class.

    Args:
        customer_class: residential, commercial, industrial or agricultural.
        annual_kwh: the energy over the year.
        year: the calendar year (holidays and make-up workdays of that year shape the load).

    Returns:
        ``ts`` and ``kwh`` for every hour of the year, summing to ``annual_kwh``.

    Raises:
        ValueError: unknown class or a non-positive annual energy.
    """
    if customer_class not in TYPICAL_SHAPES:
        raise ValueError(
            f"customer class {customer_class!r} is not one of {', '.join(TYPICAL_SHAPES)}"
        )
    if not annual_kwh > 0:
        raise ValueError("the annual energy must be a positive number of kWh")
    stamps = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left")
    shape = np.asarray(TYPICAL_SHAPES[customer_class])[stamps.hour]
    season = np.asarray(SEASONAL_FACTOR[customer_class])[stamps.month - 1]
    off = ~calendars.workdays(stamps)
    weight = shape * season * np.where(off, NON_WORKDAY_FACTOR[customer_class], 1.0)
    return pd.DataFrame({"ts": stamps, "kwh": annual_kwh * weight / weight.sum()})
