"""Typical hourly load of each customer class, for pricing a customer without readings."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core import calendars, errors

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
