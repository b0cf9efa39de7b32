"""Queries more than one part of the product needs."""

import datetime as dt

import sqlalchemy as sa

from core.store import schema


def data_period(conn: sa.Connection) -> tuple[dt.datetime, dt.datetime] | None:
    """The first and last reading timestamps in the store, or None when it has no readings."""
    first, last = conn.execute(
        sa.select(sa.func.min(schema.readings.c.ts), sa.func.max(schema.readings.c.ts))
    ).one()
    if first is None:
        return None
    return first, last
