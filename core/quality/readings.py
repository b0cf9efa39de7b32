"""Readings complete and on time: those present against those expected, each last reading."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from core import access
from core.quality.metrics import READINGS_PER_DAY, STALE_DAYS, _metric
from core.store import functions, schema


def readings_coverage(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """Per customer: readings present against the readings its interval and period expect.

    Args:
        conn: a connection to the store.
        viewer: who is asking.

    Returns:
        One row per customer with readings: ``customer_id``, ``readings``, ``days``,
        ``first_day``, ``last_day``, ``per_day`` (expected readings per day), ``expected``,
        ``missing`` and ``share``.
    """
    readings = schema.readings
    day = functions.day(readings.c.ts).label("day")
    daily = (
        sa.select(readings.c.customer_id, day, sa.func.count().label("n"))
        .where(readings.c.customer_id.in_(access.scoped_customer_ids(viewer)))
        .group_by(readings.c.customer_id, day)
        .subquery("daily")
    )
    rows = conn.execute(
        sa.select(
            daily.c.customer_id,
            sa.func.sum(daily.c.n).label("readings"),
            sa.func.count().label("days"),
            sa.func.min(daily.c.day).label("first_day"),
            sa.func.max(daily.c.day).label("last_day"),
            sa.func.max(daily.c.n).label("densest_day"),
        ).group_by(daily.c.customer_id)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["customer_id", "readings", "days", "first_day", "last_day", "densest_day"]
    )
    if frame.empty:
        return frame.assign(per_day=[], expected=[], missing=[], share=[])
    first = pd.to_datetime(frame["first_day"])
    last = pd.to_datetime(frame["last_day"])
    span_days = (last - first).dt.days + 1
    densest = frame["densest_day"].astype("int64")
    per_day = pd.Series(READINGS_PER_DAY[-1], index=frame.index)
    for count in reversed(READINGS_PER_DAY):
        per_day = per_day.where(densest > count, count)
    frame["per_day"] = per_day
    frame["expected"] = span_days * per_day
    frame["readings"] = frame["readings"].astype("int64")
    frame["missing"] = (frame["expected"] - frame["readings"]).clip(lower=0)
    frame["share"] = frame["readings"] / frame["expected"]
    frame["first_day"] = first.dt.date
    frame["last_day"] = last.dt.date
    return frame.drop(columns="densest_day").sort_values("share").reset_index(drop=True)


def _readings_present(conn: sa.Connection, viewer: access.Viewer) -> dict:
    coverage = readings_coverage(conn, viewer)
    present = (
        float(coverage["readings"].clip(upper=coverage["expected"]).sum()) if len(coverage) else 0
    )
    expected = float(coverage["expected"].sum()) if len(coverage) else 0
    return _metric("completeness", "readings", "readings_present", present, expected)


def _latest_reading(conn: sa.Connection) -> dt.datetime | None:
    return conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar()


def last_readings(
    conn: sa.Connection, viewer: access.Viewer, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Per customer: the last reading and how many days it lies behind ``as_of``.

    Args:
        conn: a connection to the store.
        viewer: who is asking.
        as_of: the moment to measure from; by default the newest reading in the store, so a
            meter that stopped reporting stands out in a store loaded from past exports.

    Returns:
        ``customer_id``, ``name``, ``last_reading``, ``days_behind``; customers without any
        reading have no last reading. Sorted by days behind, most first.
    """
    customers, readings = schema.customers, schema.readings
    as_of = as_of or _latest_reading(conn)
    last = (
        sa.select(readings.c.customer_id, sa.func.max(readings.c.ts).label("last_reading"))
        .group_by(readings.c.customer_id)
        .subquery("last")
    )
    frame = pd.DataFrame(
        conn.execute(
            sa.select(customers.c.customer_id, customers.c.name, last.c.last_reading)
            .select_from(customers.outerjoin(last, last.c.customer_id == customers.c.customer_id))
            .where(access.customer_scope(viewer, customers))
        ).all(),
        columns=["customer_id", "name", "last_reading"],
    )
    last_reading = pd.to_datetime(frame["last_reading"])
    frame["last_reading"] = last_reading
    if as_of is None:
        frame["days_behind"] = pd.Series(float("nan"), index=frame.index)
    else:
        frame["days_behind"] = (pd.Timestamp(as_of) - last_reading).dt.total_seconds() / 86_400
    return frame.sort_values("days_behind", ascending=False, na_position="first").reset_index(
        drop=True
    )


def _customers_reporting(
    conn: sa.Connection, viewer: access.Viewer, as_of: dt.datetime | None
) -> dict:
    frame = last_readings(conn, viewer, as_of)
    reporting = int((frame["days_behind"] <= STALE_DAYS).sum())
    return _metric("timeliness", "readings", "customers_reporting", reporting, len(frame))
