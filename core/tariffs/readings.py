"""From interval readings to the monthly usage frame the bill engine prices."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from core import errors, ingest
from core.tariffs.bills import bill_usage
from core.tariffs.model import (
    _HOUR_NS,
    _MINUTE_NS,
    BASIC_BASES,
    PERIODS,
    SINGLE_CUSTOMER,
    USAGE_COLUMNS,
    BasicBasis,
    Tariff,
)
from core.tariffs.periods import _calendar_ns

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
        steps: the steps between a customer's neighbouring readings, in nanoseconds.
    """

    codes: np.ndarray
    ids: np.ndarray
    ts: np.ndarray
    kwh: np.ndarray
    kvarh: np.ndarray
    steps: np.ndarray


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
    steps = np.diff(ts)[same]
    if not (steps > 0).all():
        return None
    return _ReadingArrays(codes, ids, ts, kwh, kvarh, steps)


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
        codes = np.cumsum(change, dtype=np.int64)
        codes -= 1
        return codes, ids
    codes, ids = pd.factorize(customer)
    if (np.diff(codes) < 0).any():
        return None
    return codes, np.asarray(ids, dtype=object)


def _interval_minutes(readings: _ReadingArrays, source: str) -> tuple[np.ndarray, np.ndarray]:
    """Each customer's reading interval and shortest step between its readings, in minutes.

    The interval is the most frequent step, the same rule as :func:`core.ingest.interval_minutes`
    (ties go to the shorter step), worked on arrays already in customer and time order.
    """
    codes, ids = readings.codes, readings.ids
    # Block k of the readings is customer k; its steps start k places earlier than its readings.
    reading_starts = _block_starts(codes)
    single = np.flatnonzero(np.diff(np.append(reading_starts, len(codes))) == 1)
    if len(single):
        raise errors.UserError("tariffs.error.one_reading", source=source, customer=ids[single[0]])
    steps = readings.steps
    starts = reading_starts - np.arange(len(ids))
    shortest = np.minimum.reduceat(steps, starts) / _MINUTE_NS
    longest = np.maximum.reduceat(steps, starts) / _MINUTE_NS
    minutes = shortest.copy()
    # Regular readings have one step; only customers with gaps need counting.
    ends = np.append(starts[1:], len(steps))
    for block in np.flatnonzero(shortest != longest):
        values, counts = np.unique(steps[starts[block] : ends[block]], return_counts=True)
        minutes[block] = values[np.argmax(counts)] / _MINUTE_NS
    coarse = np.flatnonzero((minutes > DEMAND_HOURLY_MAX_MINUTES) & (minutes % 60 != 0))
    if len(coarse):
        raise errors.UserError(
            "tariffs.error.interval",
            source=source,
            customer=ids[coarse[0]],
            minutes=f"{minutes[coarse[0]]:g}",
        )
    return minutes, shortest


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
    minutes, shortest = _interval_minutes(arrays, source)

    coarse = minutes > DEMAND_HOURLY_MAX_MINUTES
    if coarse.any():
        spread = np.where(coarse, minutes // 60, 1).astype(np.int64)[codes]
        positions = np.repeat(np.arange(len(ts)), spread)
        offsets = np.arange(len(positions)) - np.repeat(np.cumsum(spread) - spread, spread)
        codes = codes[positions]
        ts = ts[positions] + offsets * _HOUR_NS
        kwh = kwh[positions] / spread[positions]
        kvarh = kvarh[positions] / spread[positions]

    months, labels = _calendar_ns(tariff, ts)
    starts = _block_starts(codes, months)
    group = np.zeros(len(ts), dtype=np.int64)
    group[starts] = 1
    np.cumsum(group, out=group)
    group -= 1
    count = len(starts)
    # Customer-month × period as one integer key: one bincount sums every period of every month.
    key = group * len(PERIODS)
    key += labels
    energy = np.bincount(key, weights=kwh, minlength=count * len(PERIODS)).reshape(
        count, len(PERIODS)
    )
    del key
    metered = ~np.isnan(kvarh)
    if metered.any():
        reactive = np.bincount(group, weights=np.where(metered, kvarh, 0.0), minlength=count)
        complete = np.bincount(group, weights=metered, minlength=count) == np.diff(
            np.append(starts, len(ts))
        )
    else:
        reactive = np.zeros(count)
        complete = np.zeros(count, dtype=bool)

    demand = np.full(count, np.nan)
    fine = minutes <= DEMAND_15MIN_MAX_MINUTES
    hourly = (minutes <= DEMAND_HOURLY_MAX_MINUTES) & ~fine
    for customers, width in ((fine, DEMAND_15MIN_MAX_MINUTES), (hourly, 60)):
        if not customers.any():
            continue
        every = customers.all()
        rows = slice(None) if every else customers[codes]
        owners = group if every else group[rows]
        if (shortest[customers] >= width).all():
            # No two readings share a window: each reading is its own window's energy.
            owner_starts = starts if every else _block_starts(owners)
            window_kw = np.maximum.reduceat(kwh[rows], owner_starts) * (60 / width)
            demand[owners[owner_starts]] = window_kw
            continue
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
