"""The time-of-use period of every timestamp under a tariff's schedule."""

from __future__ import annotations

import functools

import numpy as np
import pandas as pd

from core import calendars, errors
from core.tariffs.model import _DAY_NS, _HOUR_NS, HOURS_PER_DAY, PERIODS, Tariff


@functools.lru_cache(maxsize=64)
def _lookup(tariff: Tariff) -> np.ndarray:
    letters = "".join(tariff.schedule)
    index = {period[0]: number for number, period in enumerate(PERIODS)}
    return np.array([index[letter] for letter in letters], dtype=np.int8)


def _calendar_ns(tariff: Tariff, ts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Months since 1970 and :func:`period_index` of interval starts given as nanoseconds.

    Readings span a few hundred days, not a million: each calendar day of the span is converted
    once (its month, its slot in the schedule) and indexed back onto the readings.
    """
    days = ts // _DAY_NS
    first = int(days.min()) if len(days) else 0
    span = np.arange(first, int(days.max()) + 1 if len(days) else first)
    day_months = span.astype("datetime64[D]").astype("datetime64[M]").view(np.int64)
    days -= first
    months = day_months[days]
    if tariff.kind in ("flat", "tiered"):
        return months, np.full(len(ts), PERIODS.index("flat"), dtype=np.int8)
    day_slots = (day_months % 12) * 2
    if tariff.has_day_types and len(span):
        stamps = pd.DatetimeIndex((span * _DAY_NS).astype("datetime64[ns]"))
        day_slots += ~calendars.workdays(stamps)
    day_slots *= HOURS_PER_DAY
    slots = ts // _HOUR_NS
    slots %= HOURS_PER_DAY
    slots += day_slots[days]
    return months, _lookup(tariff)[slots]


def period_index(tariff: Tariff, timestamps: pd.DatetimeIndex | pd.Series) -> np.ndarray:
    """The index into :data:`PERIODS` of each interval start (see :func:`period_labels`)."""
    stamps = pd.DatetimeIndex(timestamps)
    if stamps.hasnans:
        raise errors.UserError("tariffs.error.missing_time")
    return _calendar_ns(tariff, stamps.as_unit("ns").asi8)[1]


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
