"""Transformer-area line loss (台区线损): the supply meter's energy less its customers' meters.

``loss_kwh = supplied_kwh − metered_kwh`` and ``loss_rate = loss_kwh / supplied_kwh`` per area
and period, both sums taken inside the store. Every customer of an area counts towards its
metered energy whoever asks: the loss is a figure of the area, not of the customers one may see.
"""

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core.store import functions, schema

COLUMNS = ("transformer_area", "supplied_kwh", "metered_kwh", "loss_kwh", "loss_rate")


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def area_loss(
    conn: sa.Connection,
    start: dt.date,
    end: dt.date,
    areas: list[str] | None = None,
) -> pd.DataFrame:
    """Each area's supplied, metered and lost energy over ``[start, end)``.

    Only areas whose supply meter has readings in the period are listed; the metered energy is
    that of the hours the supply meter covers, so a gap in the supply meter's readings does not
    show as a gain.

    Args:
        conn: a store connection.
        start: the first day.
        end: the day after the last.
        areas: only these areas; all when None.

    Returns:
        One row per area with the columns of :data:`COLUMNS`.
    """
    area, readings, customers = schema.area_readings, schema.readings, schema.customers
    in_period = sa.and_(area.c.ts >= _at(start), area.c.ts < _at(end))
    if areas is not None:
        in_period = sa.and_(in_period, area.c.transformer_area.in_(areas))
    supplied = (
        sa.select(area.c.transformer_area, sa.func.sum(area.c.kwh).label("supplied_kwh"))
        .where(in_period)
        .group_by(area.c.transformer_area)
        .subquery("supplied")
    )
    # Readings of finer intervals fall into the supply meter's hour by the hour they start in.
    covered = sa.and_(
        area.c.transformer_area == customers.c.transformer_area,
        area.c.ts == functions.hour_start(readings.c.ts),
    )
    metered = (
        sa.select(customers.c.transformer_area, sa.func.sum(readings.c.kwh).label("metered_kwh"))
        .select_from(
            readings.join(customers, customers.c.customer_id == readings.c.customer_id).join(
                area, covered
            )
        )
        .where(in_period, readings.c.ts >= _at(start), readings.c.ts < _at(end))
        .group_by(customers.c.transformer_area)
        .subquery("metered")
    )
    rows = conn.execute(
        sa.select(
            supplied.c.transformer_area,
            supplied.c.supplied_kwh,
            sa.func.coalesce(metered.c.metered_kwh, 0.0),
        )
        .select_from(
            supplied.outerjoin(metered, metered.c.transformer_area == supplied.c.transformer_area)
        )
        .order_by(supplied.c.transformer_area)
    ).all()
    frame = pd.DataFrame(rows, columns=["transformer_area", "supplied_kwh", "metered_kwh"])
    frame[["supplied_kwh", "metered_kwh"]] = frame[["supplied_kwh", "metered_kwh"]].astype(float)
    frame["loss_kwh"] = frame["supplied_kwh"] - frame["metered_kwh"]
    supplied_kwh = frame["supplied_kwh"].to_numpy()
    positive = np.where(supplied_kwh > 0, supplied_kwh, np.nan)
    frame["loss_rate"] = frame["loss_kwh"].to_numpy() / positive
    return frame[list(COLUMNS)]
