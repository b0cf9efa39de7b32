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


def campaign_arm_names(conn: sa.Connection) -> list[str]:
    """The arm names a campaign member may have: control, treatment and every planned arm."""
    planned = conn.execute(sa.select(schema.campaign_arms.c.arm).distinct()).scalars().all()
    return sorted({*schema.CAMPAIGN_ARMS, *(str(name) for name in planned)})
