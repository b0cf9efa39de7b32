"""The demo's transformer-area supply meters (台区总表), with the energy abnormal meters miss.

Each transformer area's supply meter measures what all its customers really use plus the
technical line loss of the area (a few percent, its own rate per area). Where a customer's meter
went wrong (:data:`core.demo.generator.ABNORMAL_KINDS`), the area meter still sees the energy
the customer's meter no longer records, so the area's line loss (线损) rises from that day on:

- ``sudden_drop``: the meter records a quarter of the use; the other three quarters go missing.
- ``flat_line``: the meter repeats one value; the customer goes on using what they used in the
  same hour 52 weeks before (the same weekday), or in the same hour of the week over the four
  weeks before the fault when there is no year before.
- ``inverted``: the meter's clock is twelve hours off; each day's energy is all there, in the
  wrong hours.

The technical loss rate of each area is written to ``demo_truth_area_loss``.
"""

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.demo import truth
from core.store import engine as store_engine
from core.store import schema

# Technical loss of a low-voltage transformer area: copper and iron losses of a few percent.
TECHNICAL_LOSS_RANGE = (0.02, 0.05)
# The supply meter's own error, per hour (accuracy class 0.5S with some noise on top).
METER_NOISE = 0.003
HOURS_PER_WEEK = 24 * 7
WEEKS_OF_PROFILE = 4
# Weekday-aligned year: the same hour 52 weeks before.
YEAR_HOURS = 52 * HOURS_PER_WEEK
INVERSION_HOURS = 12


def plant_area_readings(
    conn: sa.Connection,
    cases: pd.DataFrame,
    hours: pd.DatetimeIndex,
    rng: np.random.Generator,
) -> int:
    """Writes every transformer area's hourly supply-meter energy and its technical loss rate.

    The customers' readings must be written already: the area total is their sum (as the
    store holds them) plus what the abnormal meters do not record, grossed up by the area's loss.

    Args:
        conn: a connection inside the generator's transaction.
        cases: the planted abnormal meters (``customer_id``, ``kind``, ``start``).
        hours: every hour of the demo, in order.
        rng: the random stream for loss rates and meter noise.

    Returns:
        The number of area readings written.
    """
    customers, readings = schema.customers, schema.readings
    summed = conn.execute(
        sa.select(customers.c.transformer_area, readings.c.ts, sa.func.sum(readings.c.kwh))
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(customers.c.transformer_area.is_not(None))
        .group_by(customers.c.transformer_area, readings.c.ts)
    ).all()
    if not summed:
        return 0
    metered = pd.DataFrame(summed, columns=["transformer_area", "ts", "kwh"])
    areas = sorted(metered["transformer_area"].unique())
    grid = (
        metered.pivot_table(index="ts", columns="transformer_area", values="kwh", aggfunc="sum")
        .reindex(index=hours, columns=areas)
        .fillna(0.0)
    )
    used = grid.to_numpy(copy=True)
    area_of = dict(
        conn.execute(
            sa.select(customers.c.customer_id, customers.c.transformer_area).where(
                customers.c.customer_id.in_(cases["customer_id"].tolist())
            )
        ).all()
    )
    for case in cases.itertuples(index=False):
        area = area_of.get(case.customer_id)
        if area not in grid.columns:
            continue
        recorded = _customer_hours(conn, case.customer_id, hours)
        used[:, grid.columns.get_loc(area)] += _unrecorded(recorded, case.kind, case.start, hours)
    loss = rng.uniform(*TECHNICAL_LOSS_RANGE, len(areas))
    noise = rng.normal(1.0, METER_NOISE, used.shape)
    supplied = np.round(np.maximum(used, 0.0) / (1.0 - loss) * noise, 3)
    frame = pd.DataFrame(
        {
            "transformer_area": np.tile(np.asarray(areas, dtype=object), len(hours)),
            "ts": np.repeat(hours.to_numpy(), len(areas)),
            "kwh": supplied.ravel(),
        }
    )
    store_engine.bulk_insert(
        conn,
        truth.area_loss,
        pd.DataFrame({"transformer_area": areas, "technical_loss_rate": np.round(loss, 4)}),
    )
    return store_engine.bulk_insert(conn, schema.area_readings, frame)


def _customer_hours(conn: sa.Connection, customer_id: str, hours: pd.DatetimeIndex) -> np.ndarray:
    readings = schema.readings
    rows = conn.execute(
        sa.select(readings.c.ts, readings.c.kwh).where(readings.c.customer_id == customer_id)
    ).all()
    series = pd.Series({ts: kwh for ts, kwh in rows}, dtype=float)
    return series.reindex(hours).fillna(0.0).to_numpy()


def _unrecorded(
    recorded: np.ndarray, kind: str, start: pd.Timestamp, hours: pd.DatetimeIndex
) -> np.ndarray:
    """Per hour, the energy a faulty meter failed to record (negative where it recorded more)."""
    first = int(np.searchsorted(hours.to_numpy(), np.datetime64(start)))
    missing = np.zeros(len(hours))
    after = recorded[first:]
    if kind == "sudden_drop":
        # The meter records a quarter of what flows through it.
        missing[first:] = after * 3.0
    elif kind == "flat_line":
        missing[first:] = _usual_use(recorded, first, len(after)) - after
    elif kind == "inverted":
        days = len(after) // 24
        shaped = after[: days * 24].reshape(days, 24)
        true = np.roll(shaped, -INVERSION_HOURS, axis=1).ravel()
        missing[first : first + days * 24] = true - after[: days * 24]
    return missing


def _usual_use(recorded: np.ndarray, first: int, length: int) -> np.ndarray:
    """What the customer goes on using after ``first``: the same hour a year (52 weeks) before."""
    positions = np.arange(first, first + length)
    if first >= YEAR_HOURS:
        return recorded[positions - YEAR_HOURS]
    begin = max(0, first - WEEKS_OF_PROFILE * HOURS_PER_WEEK)
    history = recorded[begin:first]
    if len(history) < HOURS_PER_WEEK:
        return np.full(length, float(history.mean()) if len(history) else 0.0)
    profile = np.zeros(HOURS_PER_WEEK)
    counts = np.zeros(HOURS_PER_WEEK)
    np.add.at(profile, np.arange(begin, first) % HOURS_PER_WEEK, history)
    np.add.at(counts, np.arange(begin, first) % HOURS_PER_WEEK, 1)
    profile = profile / np.maximum(counts, 1)
    return profile[positions % HOURS_PER_WEEK]
