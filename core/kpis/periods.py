"""Months as the KPIs count them: billing periods (``YYYY-MM``) and a store's complete months."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from core.store import schema


def month_bounds(period: str) -> tuple[dt.date, dt.date]:
    """The first day of a ``YYYY-MM`` month and the first day of the next one."""
    first = dt.date.fromisoformat(f"{period}-01")
    following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first, following


def shift_period(period: str, months: int) -> str:
    """The ``YYYY-MM`` month ``months`` after (or before, when negative) ``period``."""
    year, month = (int(part) for part in period.split("-"))
    index = year * 12 + (month - 1) + months
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def latest_complete_month(conn: sa.Connection) -> str | None:
    """The last month whose readings run to its final day and which has bills.

    Returns:
        The month as ``YYYY-MM``, or None when the store has no bills.
    """
    last_reading = conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar()
    last_billed = conn.execute(sa.select(sa.func.max(schema.bills.c.period))).scalar()
    if last_billed is None:
        return None
    if last_reading is None:
        return last_billed
    last_reading = pd.Timestamp(last_reading)
    month = f"{last_reading:%Y-%m}"
    if (last_reading + pd.Timedelta(days=1)).month == last_reading.month:
        month = shift_period(month, -1)
    return min(month, last_billed)


def billed_months(conn: sa.Connection) -> list[str]:
    """The complete months that have bills, latest first (``YYYY-MM``)."""
    latest = latest_complete_month(conn)
    if latest is None:
        return []
    query = (
        sa.select(schema.bills.c.period)
        .where(schema.bills.c.period <= latest)
        .distinct()
        .order_by(schema.bills.c.period.desc())
    )
    return list(conn.execute(query).scalars())
