"""Each option priced on one customer's monthly usage: shift, switch tariff or basis, compensate.

Everything here prices through :func:`core.tariffs.bill_usage`, so a what-if and a bill always use
the same arithmetic. Savings are positive when the customer pays less.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd

from core import errors, ingest, tariffs
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
