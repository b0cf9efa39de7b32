"""What a customer can save by shifting load, changing tariff or basis, compensating reactive power.

Each option is priced for one customer and ranked over all customers.

Everything here prices through :func:`core.tariffs.bill_usage`, so a what-if and a bill always use
the same arithmetic. Savings are positive when the customer pays less.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, calendars, errors, features, i18n, ingest, tariffs
from core.store import engine as store_engine
from core.store import frames, functions, schema
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
        """Raises UserError when an assumption is out of range."""
        if not 0 <= self.shift_share <= 1:
            raise errors.UserError("savings.error.shift_share", share=f"{self.shift_share:g}")
        if self.shift_target not in ("valley", "flat"):
            raise errors.UserError("savings.error.shift_target", target=self.shift_target)
        _check_target_power_factor(self.target_power_factor)
        if self.compensation_cost_per_kvar < 0 or self.max_payback_years <= 0:
            raise errors.UserError("savings.error.compensation_costs")


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
    distinct, position = np.unique(np.asarray(periods, dtype=str), return_inverse=True)
    table = np.array([_hours_in_month(tariff, str(period)) for period in distinct])
    return table.reshape(-1, len(PERIODS))[position.ravel()]


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
        UserError: share or target out of range.
    """
    if not 0 <= share <= 1:
        raise errors.UserError("savings.error.shift_share", share=f"{share:g}")
    if target not in ("valley", "flat"):
        raise errors.UserError("savings.error.shift_target", target=target)
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
        UserError: invalid readings or a move with an hour outside 0-23 or a share outside 0-1.
    """
    frame = ingest.validate_readings(readings, source)
    for number, (from_hour, to_hour, share) in enumerate(moves, start=1):
        if not (0 <= from_hour <= 23 and 0 <= to_hour <= 23) or from_hour == to_hour:
            raise errors.UserError("savings.error.move_hours", move=number)
        if not 0 <= share <= 1:
            raise errors.UserError("savings.error.move_share", move=number, share=f"{share:g}")
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
        UserError: an unknown current tariff or invalid readings.
    """
    if current_code not in catalog:
        raise errors.UserError("savings.error.unknown_tariff", tariff=current_code)
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
        UserError: the tariff is not two-part or the usage lacks capacity or demand.
    """
    if tariff.kind != "two_part":
        raise errors.UserError("savings.error.not_two_part", tariff=tariff.code)
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


# Why compensation earns nothing, when it does not: the text key ``savings.no_payback.<reason>``.
NoPaybackReason = Literal["no_standard", "below_capacity", "at_target", "best_adjustment"]


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
        no_payback_reason: why nothing is saved (None when something is): the tariff has no
            power-factor adjustment, the customer's capacity is below the threshold it applies
            from, every month is already at the target, or the power factor already earns the
            table's largest reduction.
        no_payback_values: the figures the reason is told with (standard, thresholds).
    """

    monthly: pd.DataFrame
    annual_saving_cny: float
    required_kvar: float
    investment_cny: float
    payback_years: float
    no_payback_reason: NoPaybackReason | None = None
    no_payback_values: dict = field(default_factory=dict)


def _compensated(
    tariff: Tariff, usage: pd.DataFrame, target_power_factor: float
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """Bills before and after raising each month's power factor to the target, and kvar needed.

    Months already at or above the target, and months without metered reactive energy, keep their
    reactive energy. The capacity needed in a month is the reactive power removed on average over
    its hours.
    """
    kvarh = usage["kvarh"].to_numpy(float)
    before = tariffs.bill_usage(tariff, usage)
    kwh = before["kwh_total"].to_numpy(float)
    target_kvarh = kwh * math.tan(math.acos(target_power_factor))
    new_kvarh = np.where(np.isnan(kvarh), np.nan, np.minimum(kvarh, target_kvarh))
    after = tariffs.bill_usage(tariff, usage.assign(kvarh=new_kvarh))
    hours = period_hours(tariff, usage["period"].astype(str).tolist()).sum(axis=1)
    required = np.nan_to_num((kvarh - new_kvarh) / hours, nan=0.0)
    return before, after, required


def best_power_factor(standard: float) -> float:
    """The lowest power factor that earns the largest reduction of the adjustment table."""
    table = _power_factor_reductions(standard)
    return float(np.argmax(table == table.min())) / 100


def _power_factor_reductions(standard: float) -> np.ndarray:
    hundredths = np.arange(101) / 100
    return tariffs.power_factor_adjustment_percent(hundredths, standard)


def _no_payback_reason(
    tariff: Tariff, capacity_kva: float, required_kvar: float
) -> tuple[NoPaybackReason, dict]:
    standard = tariff.power_factor_standard
    if standard is None:
        return "no_standard", {}
    threshold = tariff.power_factor_min_capacity_kva
    if threshold > 0 and not capacity_kva >= threshold:
        return "below_capacity", {"threshold": f"{threshold:g}", "standard": f"{standard:.2f}"}
    if required_kvar <= 0:
        return "at_target", {}
    return "best_adjustment", {
        "standard": f"{standard:.2f}",
        "best": f"{best_power_factor(standard):.2f}",
    }


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
        The monthly effect, annual saving, capacity needed, investment and payback, and why
        nothing is saved when nothing is.

    Raises:
        UserError: no reactive energy is metered, or the target or investment is out of range.
    """
    _check_target_power_factor(target_power_factor)
    if usage["kvarh"].isna().all():
        raise errors.UserError("savings.error.no_reactive_energy")
    before, after, required = _compensated(tariff, usage, target_power_factor)
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
        raise errors.UserError("savings.error.negative_investment")
    if annual > 0:
        return CompensationResult(monthly, annual, required_kvar, investment, investment / annual)
    capacity = float(pd.to_numeric(usage["contract_capacity_kva"]).max())
    reason, values = _no_payback_reason(tariff, capacity, required_kvar)
    return CompensationResult(monthly, annual, required_kvar, investment, math.inf, reason, values)


def _check_target_power_factor(target: float) -> None:
    if not 0.8 <= target <= 1:
        raise errors.UserError("savings.error.target_power_factor", target=f"{target:g}")


# --- from the store --------------------------------------------------------------------------

# A page shows one customer; the search list stays bounded.
CUSTOMER_SEARCH_LIMIT = 50
# Savings are priced on the latest whole calendar months of the store: a year of bills, every
# season once, the same months for every customer.
MONTHS_RANKED = 12
ARCHIVE_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "contract_capacity_kva",
)


class NoReadingsError(errors.UserError):
    """A customer has no meter readings in the months priced, so there is nothing to bill."""

    def __init__(self, customer_id: str) -> None:
        super().__init__("savings.error.no_readings", customer=customer_id)
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
        found = frames.read_frame(conn, query)
    return access.mask_frame(viewer, found)


def priced_window(
    conn: sa.Connection, months: int = MONTHS_RANKED
) -> tuple[dt.datetime, dt.datetime]:
    """The months savings are priced on: the latest ``months`` calendar months of the store.

    Args:
        conn: a connection to the store.
        months: how many calendar months.

    Returns:
        ``(start, end)``: the first instant and the instant after the last month.

    Raises:
        UserError: the store has no readings.
    """
    last = conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar_one()
    if last is None:
        raise errors.UserError("savings.error.store_without_readings")
    return window_ending(last, months)


def window_ending(
    last: dt.datetime, months: int = MONTHS_RANKED
) -> tuple[dt.datetime, dt.datetime]:
    """The ``months`` calendar months priced when the last reading is at ``last``.

    Returns:
        ``(start, end)``: the first instant and the instant after the month of ``last``.
    """
    end = (pd.Timestamp(last).normalize().replace(day=1) + pd.offsets.MonthBegin(1)).to_pydatetime()
    start = (pd.Timestamp(end) - pd.DateOffset(months=months)).to_pydatetime()
    return start, end


def customer_readings(
    engine: sa.Engine, viewer: access.Viewer, customer_id: str, months: int = MONTHS_RANKED
) -> tuple[dict, pd.DataFrame]:
    """One customer's archive entry and their readings over the months savings are priced on.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_id: the customer.
        months: how many calendar months (see :func:`priced_window`).

    Returns:
        The customer (:data:`ARCHIVE_COLUMNS`) and their readings (``ts``, ``kwh``, ``kvarh``) in
        time order.

    Raises:
        UserError: the customer does not exist or is outside the viewer's scope.
        NoReadingsError: the customer has no readings in those months.
    """
    c = schema.customers
    with store_engine.connected(engine) as conn:
        customer = (
            conn.execute(
                sa.select(*(c.c[name] for name in ARCHIVE_COLUMNS)).where(
                    c.c.customer_id == customer_id, access.customer_scope(viewer, c)
                )
            )
            .mappings()
            .first()
        )
        if customer is None:
            raise errors.UserError("savings.error.unknown_customer", customer=customer_id)
        readings = priced_readings(conn, customer_id, months)
    return access.mask_record(viewer, dict(customer)), readings


def priced_readings(
    bind: sa.Engine | sa.Connection, customer_id: str, months: int = MONTHS_RANKED
) -> pd.DataFrame:
    """A customer's readings over the months savings are priced on (the caller checked scope).

    Args:
        bind: the store, or a connection to it.
        customer_id: the customer.
        months: how many calendar months (see :func:`priced_window`).

    Returns:
        ``ts``, ``kwh``, ``kvarh`` in time order.

    Raises:
        NoReadingsError: the customer has no readings in those months.
    """
    r = schema.readings
    with store_engine.connected(bind) as conn:
        try:
            start, end = priced_window(conn, months)
        except errors.UserError:
            raise NoReadingsError(customer_id) from None
        readings = frames.read_frame(
            conn,
            sa.select(r.c.ts, r.c.kwh, r.c.kvarh)
            .where(r.c.customer_id == customer_id, r.c.ts >= start, r.c.ts < end)
            .order_by(r.c.ts),
        )
    if readings.empty:
        raise NoReadingsError(customer_id)
    readings["ts"] = readings["ts"].astype("datetime64[ns]")
    for column in ("kwh", "kvarh"):
        readings[column] = pd.to_numeric(readings[column]).astype(float)
    return readings


# --- load profiles ---------------------------------------------------------------------------

# Readings per hour that tell a 15-minute, 30-minute and hourly interval, with room for a few
# missing readings (the rule the features use for maximum demand).
_INTERVALS = ((3.0, 15), (1.5, 30), (0.5, 60))
# Intervals whose monthly sums per hour class bill exactly: the energy of a reading lies in the
# hour it starts, and one reading is one demand window. Other customers (30-minute readings,
# whose demand window is an hour of two readings, and daily readings, which are spread over their
# hours) are billed from their readings.
_SUMMED_INTERVALS = (15, 60)

_work = sa.MetaData()
_hour_classes = sa.Table(
    "work_hour_classes",
    _work,
    sa.Column("hour_start", sa.DateTime, nullable=False),
    sa.Column("bucket", sa.Integer, nullable=False),
    sa.Column("hour_of_day", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class HourClasses:
    """The hours of a window grouped so that every tariff of a catalog prices a group one way.

    Two hours fall in the same class when every tariff puts them in the same period; a catalog
    of a few time-of-use schedules has a handful of classes, so a month of readings sums to a
    handful of figures per customer, from which any tariff's period split follows.

    Attributes:
        start: the first hour.
        end: the hour after the last.
        months: the calendar months of the window, ``YYYY-MM``.
        labels: per tariff code, the index into :data:`core.tariffs.PERIODS` of each class.
        classes: the number of classes.
        bucket_hours: hours in each (month, class) bucket, index ``month * classes + class``.
    """

    start: dt.datetime
    end: dt.datetime
    months: tuple[str, ...]
    labels: dict[str, np.ndarray]
    classes: int
    bucket_hours: np.ndarray

    @classmethod
    def of(
        cls, catalog: Mapping[str, Tariff], start: dt.datetime, end: dt.datetime
    ) -> tuple[HourClasses, pd.DataFrame]:
        """The classes of a catalog over a window, and the hour table (hour_start, bucket)."""
        hours = pd.date_range(start, end, freq="h", inclusive="left", unit="ns")
        codes = list(catalog)
        stacked = np.stack([tariffs.period_index(catalog[code], hours) for code in codes], axis=1)
        distinct, inverse = np.unique(stacked, axis=0, return_inverse=True)
        month = (hours.year - start.year) * 12 + hours.month - start.month
        bucket = month.to_numpy() * len(distinct) + inverse.ravel()
        months = tuple(
            f"{stamp.year}-{stamp.month:02d}"
            for stamp in pd.date_range(start, end, freq="MS", inclusive="left")
        )
        classes = cls(
            start=start,
            end=end,
            months=months,
            labels={code: distinct[:, number] for number, code in enumerate(codes)},
            classes=len(distinct),
            bucket_hours=np.bincount(bucket, minlength=len(months) * len(distinct)),
        )
        table = pd.DataFrame(
            {"hour_start": hours, "bucket": bucket, "hour_of_day": hours.hour.to_numpy()}
        )
        return classes, table


@dataclass(frozen=True)
class LoadProfile:
    """What customers used in a window, in the form any tariff of a catalog can be priced from.

    Built from the store by :func:`load_profile` (one SQL aggregation for every customer) or from
    readings in memory by :meth:`from_readings`; both price the same readings to the same fen.

    Attributes:
        classes: the hour classes of the catalog over the window; None for a profile built from
            readings only.
        sums: one row per customer-month: ``customer_id``, ``month`` (position in
            ``classes.months``), ``class_<n>`` (kWh in each hour class), ``kvarh`` (NaN unless
            every reading of the month has it), ``max_demand_kw`` and ``interval_minutes``.
        readings: the readings of the customers billed from their readings (``customer_id``,
            ``ts``, ``kwh``, ``kvarh``, each customer in time order).
    """

    classes: HourClasses | None
    sums: pd.DataFrame
    readings: pd.DataFrame

    @classmethod
    def from_readings(cls, readings: pd.DataFrame, source: str = "readings") -> LoadProfile:
        """A profile of readings in memory (an upload, a typical profile, one store customer).

        Raises:
            UserError: the readings are invalid.
        """
        clean = tariffs.clean_readings(readings, source)
        return cls(None, pd.DataFrame(columns=["customer_id", "month"]), clean)

    @property
    def customer_ids(self) -> list[str]:
        """The customers with readings in the profile."""
        ids = set(self.sums["customer_id"].astype(str)) | set(
            self.readings["customer_id"].astype(str)
        )
        return sorted(ids)

    def usage(
        self,
        tariff: Tariff,
        capacity_kva: float | Mapping[str, float] | None = None,
        customer_ids: Collection[str] | None = None,
    ) -> pd.DataFrame:
        """The monthly usage frame of the profile's customers under a tariff's periods.

        Args:
            tariff: a tariff of the catalog the profile was built with.
            capacity_kva: contract capacity, one figure or one per customer id.
            customer_ids: only these customers; all when None.

        Returns:
            :data:`core.tariffs.USAGE_COLUMNS` and ``interval_minutes``, one row per
            customer-month, ordered by customer and month.
        """
        sums, readings = self.sums, self.readings
        if customer_ids is not None:
            sums = sums[_among(sums["customer_id"], customer_ids)]
            readings = readings[_among(readings["customer_id"], customer_ids)]
        parts = []
        if len(sums):
            usage = self._summed_usage(tariff, sums, sums["customer_id"].to_numpy())
            parts.append(_with_capacity(usage, capacity_kva))
        if len(readings):
            parts.append(tariffs.monthly_usage(readings, tariff, capacity_kva))
        if not parts:
            return pd.DataFrame(columns=[*tariffs.USAGE_COLUMNS, "interval_minutes"])
        if len(parts) == 1:
            return parts[0]
        usage = pd.concat(parts, ignore_index=True)
        return usage.sort_values(["customer_id", "period"], kind="stable", ignore_index=True)

    def _summed_usage(
        self, tariff: Tariff, sums: pd.DataFrame, customers: np.ndarray
    ) -> pd.DataFrame:
        """Usage rows of the class sums, the customer column filled with ``customers``."""
        classes = self.classes
        if classes is None or tariff.code not in classes.labels:
            raise errors.UserError("savings.error.tariff_not_profiled", tariff=tariff.code)
        onehot = np.zeros((classes.classes, len(PERIODS)))
        onehot[np.arange(classes.classes), classes.labels[tariff.code]] = 1.0
        energy = sums[[f"class_{number}" for number in range(classes.classes)]].to_numpy(float)
        by_period = energy @ onehot
        interval = sums["interval_minutes"].to_numpy(float)
        return pd.DataFrame(
            {
                "customer_id": customers,
                # Categorical: every row names one of a dozen months.
                "period": pd.Categorical.from_codes(
                    sums["month"].to_numpy(int), categories=list(classes.months)
                ),
                **{f"kwh_{period}": by_period[:, n] for n, period in enumerate(PERIODS)},
                "kvarh": sums["kvarh"].to_numpy(float),
                "max_demand_kw": sums["max_demand_kw"].to_numpy(float),
                "demand_interval": pd.Categorical.from_codes(
                    (interval > tariffs.DEMAND_15MIN_MAX_MINUTES).astype(int),
                    categories=["15min", "hourly"],
                ),
                "interval_minutes": interval,
                "contract_capacity_kva": np.nan,
            }
        )[[*tariffs.USAGE_COLUMNS, "interval_minutes"]]


def _with_capacity(
    usage: pd.DataFrame, capacity_kva: float | Mapping[str, float] | None
) -> pd.DataFrame:
    if isinstance(capacity_kva, Mapping):
        capacity = usage["customer_id"].map(capacity_kva).astype(float)
    else:
        capacity = np.nan if capacity_kva is None else float(capacity_kva)
    return usage.assign(contract_capacity_kva=capacity)


class _CodedProfile:
    """A profile whose customers are numbered by their position in an archive.

    The ranking prices every customer under every tariff; integer customer numbers keep the many
    groupings and selections it makes free of string handling.
    """

    def __init__(self, profile: LoadProfile, ids: pd.Index) -> None:
        self.profile = profile
        self.ids = ids
        self.sum_codes = ids.get_indexer(profile.sums["customer_id"].astype(object))
        self.numbers = profile.sums.drop(columns="customer_id")
        self.reading_codes = ids.get_indexer(profile.readings["customer_id"].astype(object))
        self.present = np.zeros(len(ids), dtype=bool)
        self.present[self.sum_codes[self.sum_codes >= 0]] = True
        self.present[self.reading_codes[self.reading_codes >= 0]] = True

    def usage(self, tariff: Tariff, capacity: np.ndarray, wanted: np.ndarray) -> pd.DataFrame:
        """Usage rows of the wanted customers (a mask over the archive), numbered customers."""
        parts = []
        rows = (self.sum_codes >= 0) & wanted[np.maximum(self.sum_codes, 0)]
        if rows.any():
            codes = self.sum_codes[rows]
            usage = self.profile._summed_usage(tariff, self.numbers[rows], codes)
            parts.append(usage.assign(contract_capacity_kva=capacity[codes]))
        rows = (self.reading_codes >= 0) & wanted[np.maximum(self.reading_codes, 0)]
        if rows.any():
            usage = tariffs.monthly_usage(self.profile.readings[rows], tariff)
            codes = self.ids.get_indexer(usage["customer_id"].astype(object))
            parts.append(usage.assign(customer_id=codes, contract_capacity_kva=capacity[codes]))
        if not parts:
            return pd.DataFrame(columns=[*tariffs.USAGE_COLUMNS, "interval_minutes"])
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


def load_profile(
    engine: sa.Engine,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
    customer_ids: Collection[str] | None = None,
) -> LoadProfile:
    """Every customer's energy per hour class and month of the priced window, summed in the store.

    One aggregation over the readings, joined to a table of the window's hours and their class,
    returns a few rows per customer-month; customers whose readings those sums cannot bill
    exactly (see :data:`_SUMMED_INTERVALS`) are read reading by reading.

    Args:
        engine: the store.
        catalog: the tariff catalog; the default file when None.
        months: calendar months back from the last reading (see :func:`priced_window`).
        customer_ids: only these customers; every customer when None.

    Returns:
        The profile; empty when the store has no readings.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    r = schema.readings
    with engine.begin() as conn:
        try:
            start, end = priced_window(conn, months)
        except errors.UserError:
            return LoadProfile(None, pd.DataFrame(columns=["customer_id", "month"]), _no_readings())
        classes, hours = HourClasses.of(catalog, start, end)
        # A temporary table lives on its connection; dropped by name, as the inspector of some
        # backends does not list temporary tables.
        conn.execute(sa.schema.DropTable(_hour_classes, if_exists=True))
        conn.execute(sa.schema.CreateTable(_hour_classes))
        try:
            store_engine.bulk_insert(conn, _hour_classes, hours)
            window = sa.and_(r.c.ts >= start, r.c.ts < end)
            if customer_ids is not None:
                window = sa.and_(window, r.c.customer_id.in_(list(customer_ids)))
            h = _hour_classes.c
            query = (
                sa.select(
                    r.c.customer_id,
                    h.bucket,
                    sa.func.sum(r.c.kwh).label("kwh"),
                    sa.func.sum(r.c.kvarh).label("kvarh"),
                    sa.func.count(r.c.kvarh).label("kvarh_readings"),
                    sa.func.count().label("readings"),
                    sa.func.max(r.c.kwh).label("max_kwh"),
                    sa.func.max(h.hour_of_day).label("last_hour"),
                )
                .select_from(r.join(_hour_classes, h.hour_start == functions.hour_start(r.c.ts)))
                .where(window)
                .group_by(r.c.customer_id, h.bucket)
            )
            buckets = frames.read_frame(conn, query)
            sums, detailed = _bucket_sums(buckets, classes)
            readings = _no_readings()
            if detailed:
                readings = _readings_of(conn, detailed, start, end)
        finally:
            conn.execute(sa.schema.DropTable(_hour_classes, if_exists=True))
    return LoadProfile(classes, sums, readings)


def _among(values: pd.Series, wanted: Collection[str]) -> np.ndarray:
    """Whether each value is one of ``wanted``, hashing each wanted id once."""
    index = pd.Index(pd.unique(np.asarray(list(wanted), dtype=object)), dtype=object)
    return index.get_indexer(values.astype(object)) >= 0


def _no_readings() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.Series(dtype=str),
            "ts": pd.Series(dtype="datetime64[ns]"),
            "kwh": pd.Series(dtype=float),
            "kvarh": pd.Series(dtype=float),
        }
    )


def _bucket_sums(buckets: pd.DataFrame, classes: HourClasses) -> tuple[pd.DataFrame, list[str]]:
    """Customer-month rows from the (customer, bucket) sums, and the customers to read in full."""
    if buckets.empty:
        return pd.DataFrame(columns=["customer_id", "month"]), []
    codes, ids = pd.factorize(buckets["customer_id"].astype(str))
    bucket = buckets["bucket"].to_numpy(np.int64)
    readings = buckets["readings"].to_numpy(float)
    # A month's worth of one class is enough to tell the interval; the fullest bucket decides.
    per_hour = np.zeros(len(ids))
    np.maximum.at(per_hour, codes, readings / classes.bucket_hours[bucket])
    last_hour = np.zeros(len(ids))
    np.maximum.at(last_hour, codes, buckets["last_hour"].to_numpy(float))
    minutes = np.full(len(ids), 1440.0)
    for floor, interval in reversed(_INTERVALS):
        minutes = np.where(per_hour >= floor, interval, minutes)
    minutes = np.where(last_hour == 0, 1440.0, minutes)
    summed = np.isin(minutes, _SUMMED_INTERVALS)
    keep = summed[codes]
    detailed = [str(customer) for customer in ids[~summed]]

    codes, bucket = codes[keep], bucket[keep]
    month, hour_class = bucket // classes.classes, bucket % classes.classes
    row_keys = codes * len(classes.months) + month
    rows, row_of = np.unique(row_keys, return_inverse=True)
    energy = np.zeros((len(rows), classes.classes))
    np.add.at(energy, (row_of, hour_class), buckets["kwh"].to_numpy(float)[keep])
    kvarh = np.bincount(row_of, weights=np.nan_to_num(buckets["kvarh"].to_numpy(float)[keep]))
    metered = np.bincount(row_of, weights=buckets["kvarh_readings"].to_numpy(float)[keep])
    counted = np.bincount(row_of, weights=readings[keep])
    row_customer = rows // len(classes.months)
    factor = 60 / minutes[row_customer]
    max_kwh = np.zeros(len(rows))
    np.maximum.at(max_kwh, row_of, buckets["max_kwh"].to_numpy(float)[keep])
    sums = pd.DataFrame(
        {
            "customer_id": ids[row_customer].astype(str),
            "month": rows % len(classes.months),
            **{f"class_{number}": energy[:, number] for number in range(classes.classes)},
            "kvarh": np.where(metered == counted, kvarh, np.nan),
            "max_demand_kw": max_kwh * factor,
            "interval_minutes": minutes[row_customer],
        }
    )
    return sums.sort_values(["customer_id", "month"], kind="stable", ignore_index=True), detailed


def _readings_of(
    conn: sa.Connection, customer_ids: list[str], start: dt.datetime, end: dt.datetime
) -> pd.DataFrame:
    r = schema.readings
    readings = frames.read_frame(
        conn,
        sa.select(r.c.customer_id, r.c.ts, r.c.kwh, r.c.kvarh)
        .where(r.c.customer_id.in_(customer_ids), r.c.ts >= start, r.c.ts < end)
        .order_by(r.c.customer_id, r.c.ts),
    )
    readings["customer_id"] = readings["customer_id"].astype(str)
    readings["ts"] = readings["ts"].astype("datetime64[ns]")
    for column in ("kwh", "kvarh"):
        readings[column] = pd.to_numeric(readings[column]).astype(float)
    return readings


# --- ranking ---------------------------------------------------------------------------------

OPTIONS = ("shift", "switch", "basis", "compensation", "none")
Option = Literal["shift", "switch", "basis", "compensation"]
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
    "peak_share",
    "shift_saving_cny",
    "shifted_kwh",
    "switch_saving_cny",
    "switch_tariff_code",
    "switch_basic_basis",
    "basis_saving_cny",
    "compensation_saving_cny",
    "compensation_kvar",
    "compensation_investment_cny",
    "compensation_payback_years",
    "best_option",
    "attainable_saving_cny",
    "saving_share",
)
# The figures of a ranking that are numbers (the others name a tariff, a basis, an option).
_NUMBERS = [
    name
    for name in RANKING_COLUMNS[6:]
    if name not in ("switch_tariff_code", "switch_basic_basis", "best_option")
]


def store_archive(engine: sa.Engine) -> pd.DataFrame:
    """Every customer's archive fields the ranking needs (:data:`ARCHIVE_COLUMNS`), unmasked.

    The ranking is computed once for the whole store and shared; :func:`visible_ranking` cuts it
    to a viewer's scope and masks it.
    """
    c = schema.customers
    with engine.connect() as conn:
        return frames.read_frame(conn, sa.select(*(c.c[name] for name in ARCHIVE_COLUMNS)))


def rank_store(
    engine: sa.Engine,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
    profile: LoadProfile | None = None,
) -> pd.DataFrame:
    """Every customer of the store ranked by the annual saving one action could bring.

    The result holds every customer, unmasked: compute it once per data version and cut it to
    each viewer with :func:`visible_ranking`.

    Args:
        engine: the store.
        assumptions: the stated assumptions (shift share, target power factor, costs).
        catalog: the tariff catalog; the default file when None.
        months: the latest calendar months of readings used (annualized when fewer).
        profile: the store's load profile when already read (:func:`load_profile`).

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    if profile is None:
        profile = load_profile(engine, catalog, months)
    return rank_profiles(store_archive(engine), profile, catalog, assumptions or Assumptions())


def visible_ranking(
    engine: sa.Engine, viewer: access.Viewer, ranking: pd.DataFrame
) -> pd.DataFrame:
    """A store ranking cut to the customers ``viewer`` may see, personal fields masked."""
    with engine.connect() as conn:
        visible = set(conn.execute(access.scoped_customer_ids(viewer)).scalars())
    kept = ranking[_among(ranking["customer_id"], visible)].reset_index(drop=True)
    return access.mask_frame(viewer, kept)


def rank_savings(
    engine: sa.Engine,
    viewer: access.Viewer,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    months: int = MONTHS_RANKED,
) -> pd.DataFrame:
    """The customers in ``viewer``'s scope ranked by attainable annual saving (masked).

    Args:
        engine: the store.
        viewer: who is asking.
        assumptions: the stated assumptions.
        catalog: the tariff catalog; the default file when None.
        months: the latest calendar months of readings used.

    Returns:
        One row per visible customer with :data:`RANKING_COLUMNS`, largest saving first.
    """
    ranking = rank_store(engine, assumptions, catalog, months)
    return visible_ranking(engine, viewer, ranking)


def _eligible(tariff: Tariff, archive: pd.DataFrame, capacity: np.ndarray) -> np.ndarray:
    """:meth:`Tariff.eligible` for every customer of an archive at once."""
    allowed = archive["customer_class"].isin(tariff.customer_classes).to_numpy(copy=True)
    known = ~np.isnan(capacity)
    if tariff.kind == "two_part":
        allowed &= known
    with np.errstate(invalid="ignore"):
        if tariff.min_capacity_kva is not None:
            allowed &= ~known | (capacity >= tariff.min_capacity_kva)
        if tariff.max_capacity_kva is not None:
            allowed &= ~known | (capacity <= tariff.max_capacity_kva)
    return allowed


def _priceable(tariff: Tariff, usage: pd.DataFrame, basis: str | None) -> pd.DataFrame:
    """The usage of customers whose every month can be billed on this basis."""
    if tariff.kind != "two_part":
        return usage
    basis = basis or tariff.default_basic_basis
    needed = "contract_capacity_kva" if basis == "capacity" else "max_demand_kw"
    complete = usage[needed].notna().groupby(usage["customer_id"]).transform("all")
    return usage[complete.to_numpy()].assign(basic_basis=basis)


def _per_customer(frame: pd.DataFrame, values: np.ndarray | pd.Series) -> pd.Series:
    """Sums per numbered customer (missing values count as zero), indexed by customer number."""
    customers = frame["customer_id"].to_numpy(np.int64)
    present = np.unique(customers)
    weights = np.nan_to_num(np.asarray(values, float))
    totals = np.bincount(customers, weights=weights, minlength=int(present.max(initial=-1)) + 1)
    return pd.Series(totals[present], index=present)


def _schedule_of(
    catalog: Mapping[str, Tariff], customer_class: str, tariff_code: str
) -> Tariff | None:
    """The schedule a customer's peak share is told under, as the features tell it."""
    own = catalog.get(tariff_code)
    if own is not None and own.kind in features.SCHEDULED_KINDS:
        return own
    return catalog.get(features.REFERENCE_SCHEDULE.get(customer_class, ""))


def rank_profiles(
    customers: pd.DataFrame,
    profile: LoadProfile,
    catalog: Mapping[str, Tariff],
    assumptions: Assumptions,
) -> pd.DataFrame:
    """Prices every action for every customer of a profile and ranks them by attainable saving.

    For each customer the options are: shift the assumed share of peak and critical-peak energy
    under the current tariff (capped by the load shape); switch to the cheapest other tariff or
    basic-charge basis it may choose; raise the power factor to the target when the compensation
    pays back within the stated years. The attainable saving is the best single option. Every
    figure is a year's: the months priced are scaled to twelve.

    Args:
        customers: :data:`ARCHIVE_COLUMNS`.
        profile: the customers' load (:func:`load_profile` or :meth:`LoadProfile.from_readings`).
        catalog: the tariff catalog the profile was built with.
        assumptions: the stated assumptions.

    Returns:
        One row per customer with :data:`RANKING_COLUMNS`, largest saving first; customers
        without readings or on a tariff outside the catalog have no figures.
    """
    assumptions.validate()
    archive = customers.assign(customer_id=customers["customer_id"].astype(str))
    archive = archive.drop_duplicates("customer_id").reset_index(drop=True)
    ids = pd.Index(archive["customer_id"].to_numpy(dtype=object), dtype=object)
    coded = _CodedProfile(profile, ids)
    capacity = pd.to_numeric(archive["contract_capacity_kva"], errors="coerce").to_numpy(float)
    tariff_codes = archive["tariff_code"].to_numpy(dtype=object)
    # Figures by customer number, numbers only: text columns join at the end.
    figures = pd.DataFrame(np.nan, index=pd.RangeIndex(len(archive)), columns=_NUMBERS)
    switch_code = np.full(len(archive), None, dtype=object)
    switch_basis = np.full(len(archive), None, dtype=object)
    best_switch = np.full(len(archive), np.inf)
    schedules = _schedules(archive, catalog)

    for code, tariff in catalog.items():
        current = (tariff_codes == code) & coded.present
        eligible = _eligible(tariff, archive, capacity) & coded.present
        scheduled = (schedules == code) & coded.present
        if not (current | eligible | scheduled).any():
            continue
        usage = coded.usage(tariff, capacity, current | eligible | scheduled)
        if scheduled.any():
            _peak_shares(figures, usage, scheduled)
        usage = usage[(current | eligible)[usage["customer_id"].to_numpy(np.int64)]]
        if usage.empty:
            continue
        bases = list(tariffs.BASIC_BASES) if tariff.kind == "two_part" else [None]
        for basis in bases:
            priced = _priceable(tariff, usage, basis)
            if priced.empty:
                continue
            bills = tariffs.bill_usage(tariff, priced)
            months = bills.groupby("customer_id", sort=False)["period"].count()
            scale = 12 / months
            annual = (_per_customer(bills, bills["amount_cny"]) * scale).round(2)
            is_default = basis in (None, tariff.default_basic_basis)
            who = annual.index.to_numpy()
            candidates = eligible[who]
            if is_default:
                on = who[current[who]]
                if len(on):
                    _current_options(figures, tariff, priced, bills, on, scale, assumptions)
                candidates &= ~current[who]
            challengers = who[candidates]
            cheaper = annual.loc[challengers].to_numpy() < best_switch[challengers]
            winners = challengers[cheaper]
            best_switch[winners] = annual.loc[winners].to_numpy()
            switch_code[winners] = code
            switch_basis[winners] = basis

    bill = figures["annual_bill_cny"].to_numpy(float)
    has_switch = np.isfinite(best_switch) & ~np.isnan(bill)
    saving = pd.Series(np.where(has_switch, bill - best_switch, np.nan)).round(2)
    same_tariff = switch_code == tariff_codes
    figures["basis_saving_cny"] = saving.where(same_tariff)
    figures["switch_saving_cny"] = saving.where(~same_tariff)
    switch_code[~has_switch] = None
    switch_basis[~has_switch] = None
    options = pd.DataFrame(
        {
            "shift": figures["shift_saving_cny"],
            "switch": figures["switch_saving_cny"],
            "basis": figures["basis_saving_cny"],
            "compensation": figures["compensation_saving_cny"].where(
                figures["compensation_payback_years"] <= assumptions.max_payback_years
            ),
        }
    ).fillna(0.0)
    best = options.idxmax(axis=1)
    best_saving = options.max(axis=1)
    figures["attainable_saving_cny"] = best_saving.clip(lower=0.0).round(2).where(~np.isnan(bill))
    figures["saving_share"] = (figures["attainable_saving_cny"] / bill).where(bill > 0)
    result = pd.concat(
        [
            archive[["customer_id", *ARCHIVE_COLUMNS[1:6]]],
            figures,
            pd.DataFrame(
                {
                    "switch_tariff_code": switch_code,
                    "switch_basic_basis": switch_basis,
                    "best_option": best.where(best_saving > 0, "none").to_numpy(dtype=object),
                },
                dtype=object,
            ),
        ],
        axis=1,
    )
    ranked = result.sort_values(
        ["attainable_saving_cny", "customer_id"], ascending=[False, True], na_position="last"
    )
    return ranked[list(RANKING_COLUMNS)].reset_index(drop=True)


def _current_options(
    result: pd.DataFrame,
    tariff: Tariff,
    usage: pd.DataFrame,
    bills: pd.DataFrame,
    customers: np.ndarray,
    scale: pd.Series,
    assumptions: Assumptions,
) -> None:
    """The annual bill, the shift and the compensation of the customers on their own tariff."""
    on = np.zeros(len(result), dtype=bool)
    on[customers] = True
    rows = on[usage["customer_id"].to_numpy(int)]
    usage, bills = usage[rows], bills[rows]
    scale = scale.loc[customers]
    result.loc[customers, "months"] = (12 / scale).to_numpy()
    result.loc[customers, "annual_kwh"] = (
        (_per_customer(bills, bills["kwh_total"]) * scale).loc[customers].to_numpy()
    )
    result.loc[customers, "annual_bill_cny"] = (
        (_per_customer(bills, bills["amount_cny"]) * scale).round(2).loc[customers].to_numpy()
    )
    shifted = shift_usage(tariff, usage, assumptions.shift_share, assumptions.shift_target)
    after = tariffs.bill_usage(tariff, shifted)
    saving = _money_difference(bills["amount_cny"], after["amount_cny"])
    result.loc[customers, "shift_saving_cny"] = (
        (_per_customer(bills, saving) * scale).round(2).loc[customers].to_numpy()
    )
    result.loc[customers, "shifted_kwh"] = (
        (_per_customer(bills, shifted["shifted_kwh"]) * scale).loc[customers].to_numpy()
    )
    if tariff.power_factor_standard is None:
        return
    metered = usage["kvarh"].notna().groupby(usage["customer_id"]).transform("any").to_numpy()
    if not metered.any():
        return
    usage = usage[metered]
    before, compensated, required = _compensated(tariff, usage, assumptions.target_power_factor)
    owners = usage["customer_id"].to_numpy(int)
    kvar = np.ceil(pd.Series(required).groupby(owners, sort=False).max())
    who = kvar.index.to_numpy()
    saving = _money_difference(before["amount_cny"], compensated["amount_cny"])
    annual = (_per_customer(usage, saving) * scale.loc[who]).round(2).loc[who]
    investment = (kvar * assumptions.compensation_cost_per_kvar).round(2)
    result.loc[who, "compensation_saving_cny"] = annual.to_numpy()
    result.loc[who, "compensation_kvar"] = kvar.to_numpy()
    result.loc[who, "compensation_investment_cny"] = investment.to_numpy()
    pays = annual.to_numpy() > 0
    payback = np.full(len(who), np.inf)
    payback[pays] = investment.to_numpy()[pays] / annual.to_numpy()[pays]
    result.loc[who, "compensation_payback_years"] = payback


def _schedules(archive: pd.DataFrame, catalog: Mapping[str, Tariff]) -> np.ndarray:
    """The code of the schedule each customer's peak share is told under (None without one)."""
    return np.array(
        [
            getattr(_schedule_of(catalog, customer_class, tariff_code), "code", None)
            for customer_class, tariff_code in zip(
                archive["customer_class"], archive["tariff_code"], strict=True
            )
        ],
        dtype=object,
    )


def _peak_shares(result: pd.DataFrame, usage: pd.DataFrame, members: np.ndarray) -> None:
    """Peak-period energy as a share of all energy over the months priced, as the features tell it.

    ``usage`` is split by the schedule of the ``members`` (a mask over the customers): their own
    time-of-use tariff, or their class's reference schedule.
    """
    rows = usage[members[usage["customer_id"].to_numpy(np.int64)]]
    if rows.empty:
        return
    energy = rows[[f"kwh_{period}" for period in PERIODS]].to_numpy(float)
    peak = _per_customer(rows, rows["kwh_peak"])
    total = _per_customer(rows, energy.sum(axis=1))
    result.loc[peak.index.to_numpy(), "peak_share"] = (peak / total).where(total > 0).to_numpy()


# --- one customer's actions ------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One thing a customer can do about its bill, priced over a year.

    Attributes:
        option: ``shift``, ``switch``, ``basis`` or ``compensation``.
        saving_cny: what it saves a year.
        figures: what it consists of: ``shifted_kwh``, ``share``, ``target`` and ``peak_share``
            for a shift; ``tariff_code`` and ``basic_basis`` for a switch or a basis change;
            ``kvar``, ``investment_cny``, ``payback_years`` and ``power_factor`` for
            compensation.
    """

    option: Option
    saving_cny: float
    figures: dict = field(default_factory=dict)


@dataclass(frozen=True)
class CustomerSavings:
    """A customer's priced actions, best first, with the figures of its row in the ranking.

    Attributes:
        customer_id: the customer.
        figures: the customer's :data:`RANKING_COLUMNS`.
        actions: every action that saves something (compensation only when it pays back within
            the stated years), largest saving first; the first is the ranking's best option.
    """

    customer_id: str
    figures: dict
    actions: tuple[Action, ...]

    @property
    def best(self) -> Action | None:
        """The action with the largest saving, None when nothing saves."""
        return self.actions[0] if self.actions else None


def ranked_actions(row: Mapping, assumptions: Assumptions | None = None) -> tuple[Action, ...]:
    """The actions of one row of a ranking, largest saving first (ties in :data:`OPTIONS` order).

    Args:
        row: a row of :func:`rank_profiles` (a Series or a dict).
        assumptions: the assumptions the ranking was computed with.

    Returns:
        The actions that save more than nothing.
    """
    assumptions = assumptions or Assumptions()

    def number(name: str) -> float:
        value = row.get(name)
        return float(value) if value is not None and pd.notna(value) else math.nan

    candidates = [
        Action(
            "shift",
            number("shift_saving_cny"),
            {
                "shifted_kwh": number("shifted_kwh"),
                "share": assumptions.shift_share,
                "target": assumptions.shift_target,
                "peak_share": number("peak_share"),
            },
        ),
        Action(
            "switch",
            number("switch_saving_cny"),
            {
                "tariff_code": row.get("switch_tariff_code"),
                "basic_basis": row.get("switch_basic_basis"),
            },
        ),
        Action(
            "basis",
            number("basis_saving_cny"),
            {
                "tariff_code": row.get("switch_tariff_code"),
                "basic_basis": row.get("switch_basic_basis"),
            },
        ),
    ]
    if number("compensation_payback_years") <= assumptions.max_payback_years:
        candidates.append(
            Action(
                "compensation",
                number("compensation_saving_cny"),
                {
                    "kvar": number("compensation_kvar"),
                    "investment_cny": number("compensation_investment_cny"),
                    "payback_years": number("compensation_payback_years"),
                    "power_factor": assumptions.target_power_factor,
                },
            )
        )
    saving = [action for action in candidates if action.saving_cny > 0]
    return tuple(sorted(saving, key=lambda action: -action.saving_cny))


def savings_of_readings(
    readings: pd.DataFrame,
    customer: Mapping,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
    source: str = "readings",
) -> CustomerSavings:
    """One customer's priced actions from its readings, computed as the ranking computes them.

    Args:
        readings: the customer's readings (``ts``, ``kwh``, optionally ``kvarh``).
        customer: ``customer_class``, ``tariff_code``, ``contract_capacity_kva`` and optionally
            ``customer_id``, ``name``, ``region``, ``manager_id``.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.
        source: how to name the readings in messages.

    Returns:
        The customer's actions and figures.

    Raises:
        UserError: the readings are invalid.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    assumptions = assumptions or Assumptions()
    clean = tariffs.clean_readings(readings, source).assign(customer_id=tariffs.SINGLE_CUSTOMER)
    archive = pd.DataFrame([{name: customer.get(name) for name in ARCHIVE_COLUMNS}]).assign(
        customer_id=tariffs.SINGLE_CUSTOMER
    )
    row = rank_profiles(archive, LoadProfile.from_readings(clean), catalog, assumptions).iloc[0]
    customer_id = str(customer.get("customer_id") or tariffs.SINGLE_CUSTOMER)
    figures = {**row.to_dict(), "customer_id": customer_id}
    return CustomerSavings(customer_id, figures, ranked_actions(figures, assumptions))


def customer_savings(
    engine: sa.Engine,
    viewer: access.Viewer,
    customer_id: str,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
) -> CustomerSavings:
    """A store customer's priced actions, the same figures the ranking has for them.

    The tariff page, the customer 360 recommendations and the visit brief all take a customer's
    savings from here.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_id: the customer.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.

    Returns:
        The customer's actions and figures (personal fields masked for the viewer).

    Raises:
        UserError: the customer is unknown or outside the viewer's scope.
        NoReadingsError: the customer has no readings in the months priced.
    """
    customer, readings = customer_readings(engine, viewer, customer_id)
    return savings_of_readings(readings, customer, assumptions, catalog)


def store_customer_savings(
    bind: sa.Engine | sa.Connection,
    customer: Mapping,
    assumptions: Assumptions | None = None,
    catalog: Mapping[str, Tariff] | None = None,
) -> CustomerSavings:
    """:func:`customer_savings` of a customer whose archive the caller read in the viewer's scope.

    Args:
        bind: the store, or a connection to it.
        customer: the archive entry: ``customer_id``, ``customer_class``, ``tariff_code``,
            ``contract_capacity_kva``.
        assumptions: the stated assumptions; the defaults when None.
        catalog: the tariff catalog; the default file when None.

    Returns:
        The customer's actions and figures.

    Raises:
        NoReadingsError: the customer has no readings in the months priced.
    """
    readings = priced_readings(bind, customer["customer_id"])
    return savings_of_readings(readings, customer, assumptions, catalog)


@dataclass(frozen=True)
class Phrase:
    """A catalog text set inside another text, told in the reader's language (a basis name)."""

    key: str

    def label(self, language: str) -> str:
        """The text in ``language``."""
        return i18n.translate(self.key, language)


# The customer 360 talking point of each action: its text is ``customer360.action.<code>``.
TALKING_POINTS = {
    "shift": "shift_peak",
    "switch": "switch_tariff",
    "basis": "change_basis",
    "compensation": "compensate_payback",
}


def talking_point(action: Action, catalog: Mapping[str, Tariff] | None = None) -> tuple[str, dict]:
    """An action as a visit's talking point: its text code and the figures the text is told with.

    Values that depend on the language (a tariff, a basis) have a ``label(language)``.

    Args:
        action: from :attr:`CustomerSavings.actions`.
        catalog: the tariff catalog; the default file when None.

    Returns:
        ``(code, values)`` with ``saving`` and the action's own figures.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    figures = action.figures
    values: dict = {"saving": f"{action.saving_cny:,.0f}"}
    if action.option == "shift":
        values |= {
            "share": f"{figures['share']:.0%}",
            "kwh": f"{figures['shifted_kwh']:,.0f}",
            "peak_share": f"{figures['peak_share']:.0%}",
        }
    elif action.option == "switch":
        values["tariff"] = catalog[figures["tariff_code"]]
    elif action.option == "basis":
        values["basis"] = Phrase(f"tariffs.basis_{figures['basic_basis']}")
    else:
        values |= {
            "kvar": f"{figures['kvar']:,.0f}",
            "power_factor": f"{figures['power_factor']:.2f}",
            "years": f"{figures['payback_years']:.1f}",
        }
    return TALKING_POINTS[action.option], values


# --- target lists ----------------------------------------------------------------------------

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
    ranking: pd.DataFrame,
    top: int | None = None,
    min_saving_cny: float = 0.0,
    regions: Collection[str] | None = None,
    classes: Collection[str] | None = None,
    managers: Collection[str] | None = None,
) -> pd.DataFrame:
    """The customers worth contacting, largest saving first, for the people who visit them.

    Args:
        ranking: from :func:`rank_savings` or :func:`visible_ranking`.
        top: keep at most this many; all when None.
        min_saving_cny: keep customers whose attainable saving is at least this.
        regions: keep these districts only; all when None or empty.
        classes: keep these customer classes only; all when None or empty.
        managers: keep the customers of these customer managers only; all when None or empty.

    Returns:
        :data:`TARGET_LIST_COLUMNS` of the customers with a saving above zero and the minimum.

    Raises:
        UserError: the minimum saving is negative.
    """
    if min_saving_cny < 0:
        raise errors.UserError("savings.error.negative_minimum")
    keep = (
        (ranking["attainable_saving_cny"] > 0)
        & (ranking["attainable_saving_cny"] >= min_saving_cny)
        & (ranking["best_option"] != "none")
    )
    for column, chosen in (
        ("region", regions),
        ("customer_class", classes),
        ("manager_id", managers),
    ):
        if chosen:
            keep &= ranking[column].isin(list(chosen))
    targets = ranking[keep.to_numpy()]
    if top is not None:
        targets = targets.head(top)
    return targets[list(TARGET_LIST_COLUMNS)].reset_index(drop=True)


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
        UserError: unknown class or a non-positive annual energy.
    """
    if customer_class not in TYPICAL_SHAPES:
        raise errors.UserError(
            "savings.error.unknown_class",
            customer_class=customer_class,
            classes=", ".join(TYPICAL_SHAPES),
        )
    if not annual_kwh > 0:
        raise errors.UserError("savings.error.annual_energy")
    stamps = pd.date_range(f"{year}-01-01", f"{year + 1}-01-01", freq="h", inclusive="left")
    shape = np.asarray(TYPICAL_SHAPES[customer_class])[stamps.hour]
    season = np.asarray(SEASONAL_FACTOR[customer_class])[stamps.month - 1]
    off = ~calendars.workdays(stamps)
    weight = shape * season * np.where(off, NON_WORKDAY_FACTOR[customer_class], 1.0)
    return pd.DataFrame({"ts": stamps, "kwh": annual_kwh * weight / weight.sum()})
