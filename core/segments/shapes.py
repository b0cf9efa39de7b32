"""The load-shape lens: each customer's typical day, by season and day type, clustered into shapes.

A customer's profile is the average energy of each hour of the day, for summer, winter and the
shoulder months, on workdays and on rest days (holidays and 调休 as :mod:`core.calendars` has
them): 6 curves of 24 points, averaged by the store in one aggregation over the readings. The
profile is divided by its own mean, so that shapes compare regardless of size but keep how a
customer's days differ between seasons and day types.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, calendars, features
from core.segments import model
from core.store import frames, functions, schema

SEASONS = ("summer", "winter", "shoulder")
DAY_TYPES = ("workday", "rest_day")
HOURS = 24
POINTS = len(SEASONS) * len(DAY_TYPES) * HOURS
# k of the shapes is chosen by the Calinski–Harabasz index within this range: a lens of typical
# days, finer than the operable segments, without a share rule (a rare shape is worth seeing).
SHAPE_K_RANGE = range(4, 13)
SHAPE_CRITERION = "calinski_harabasz"
# The band drawn around a typical shape: the middle 80 % of its customers.
SPREAD_QUANTILES = (0.1, 0.9)

_work = sa.MetaData()
_calendar = sa.Table(
    "work_shape_calendar",
    _work,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("day_type", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class Shapes:
    """Typical load shapes and who has which.

    Attributes:
        customer_ids: the customers with readings, in the order of ``labels``.
        labels: each customer's shape, 0..k-1.
        centroids: k rows of :data:`POINTS` values (season × day type × hour, mean 1).
        low: the lower spread quantile of each shape's members, per point.
        high: the upper spread quantile.
        choice: how k was chosen.
    """

    customer_ids: list[str]
    labels: np.ndarray
    centroids: np.ndarray
    low: np.ndarray
    high: np.ndarray
    choice: model.KChoice


def _season(month: sa.ColumnElement) -> sa.ColumnElement:
    return sa.case(
        (month.in_(features.SUMMER_MONTHS), SEASONS.index("summer")),
        (month.in_(features.WINTER_MONTHS), SEASONS.index("winter")),
        else_=SEASONS.index("shoulder"),
    )


def _fill_calendar(conn: sa.Connection, start: dt.date, end: dt.date) -> None:
    days = pd.date_range(pd.Timestamp(start), pd.Timestamp(end), freq="D", inclusive="left")
    working = calendars.workdays(days)
    frame = pd.DataFrame(
        {
            "day": [day.date() for day in days],
            "day_type": np.where(working, DAY_TYPES.index("workday"), DAY_TYPES.index("rest_day")),
        }
    )
    for table in _work.sorted_tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))
    conn.execute(_calendar.insert(), frame.to_dict("records"))


def features_period(conn: sa.Connection, viewer: access.Viewer) -> tuple[dt.date, dt.date] | None:
    """The period of the stored features of ``viewer``'s customers: the shapes cover the same."""
    table, customers = schema.features, schema.customers
    start, end = conn.execute(
        sa.select(sa.func.min(table.c.period_start), sa.func.max(table.c.period_end))
        .join(customers, customers.c.customer_id == table.c.customer_id)
        .where(access.customer_scope(viewer))
    ).one()
    if start is None:
        return None
    return pd.Timestamp(start).date(), pd.Timestamp(end).date()


def profile_query(start: dt.date, end: dt.date, viewer: access.Viewer) -> sa.Select:
    """The store's aggregation: mean kWh per customer, season, day type and hour."""
    readings, customers = schema.readings, schema.customers
    season = _season(sa.extract("month", readings.c.ts)).label("season")
    hour = sa.cast(sa.extract("hour", readings.c.ts), sa.Integer).label("hour")
    day_type = _calendar.c.day_type
    return (
        sa.select(
            readings.c.customer_id,
            season,
            day_type,
            hour,
            sa.func.avg(readings.c.kwh).label("kwh"),
        )
        .select_from(
            readings.join(customers, customers.c.customer_id == readings.c.customer_id).join(
                _calendar, _calendar.c.day == functions.day(readings.c.ts)
            )
        )
        .where(
            access.customer_scope(viewer),
            readings.c.ts >= dt.datetime.combine(start, dt.time()),
            readings.c.ts < dt.datetime.combine(end, dt.time()),
        )
        .group_by(readings.c.customer_id, season, day_type, hour)
    )


def profiles(
    conn: sa.Connection,
    viewer: access.Viewer,
    period: tuple[dt.date, dt.date] | None = None,
) -> pd.DataFrame:
    """Each customer's normalized profile: one row per customer, :data:`POINTS` columns.

    Args:
        conn: a store connection (the calendar work table lives on it for the query).
        viewer: whose customers.
        period: first day and the day after the last; the features' period by default.

    Returns:
        Indexed by customer_id; columns ``(season, day_type, hour)`` in :data:`SEASONS` ×
        :data:`DAY_TYPES` × hours order; each row's mean is 1. Customers without readings (or
        whose readings are all zero) are left out. Empty when nothing is in the period.
    """
    period = period or features_period(conn, viewer)
    columns = pd.MultiIndex.from_product(
        [range(len(SEASONS)), range(len(DAY_TYPES)), range(HOURS)],
        names=["season", "day_type", "hour"],
    )
    if period is None:
        return pd.DataFrame(columns=columns, dtype=float)
    _fill_calendar(conn, *period)
    try:
        long = frames.read_frame(conn, profile_query(*period, viewer))
    finally:
        for table in _work.sorted_tables:
            conn.execute(sa.schema.DropTable(table, if_exists=True))
    if long.empty:
        return pd.DataFrame(columns=columns, dtype=float)
    long["kwh"] = pd.to_numeric(long["kwh"], errors="coerce").astype(float)
    wide = long.pivot_table(
        index="customer_id", columns=["season", "day_type", "hour"], values="kwh", aggfunc="mean"
    ).reindex(columns=columns)
    return normalized(wide)


def normalized(wide: pd.DataFrame) -> pd.DataFrame:
    """Profiles divided by their own mean; a missing point takes its hour's mean elsewhere.

    Rows whose every point is missing or zero are dropped.
    """
    values = wide.to_numpy(dtype=float)
    by_hour = values.reshape(len(values), -1, HOURS)
    present = ~np.isnan(by_hour)
    counts = present.sum(axis=1, keepdims=True)
    sums = np.where(present, by_hour, 0.0).sum(axis=1, keepdims=True)
    hour_means = np.divide(sums, counts, out=np.zeros_like(sums), where=counts > 0)
    filled = np.where(present, by_hour, hour_means).reshape(len(values), -1)
    means = filled.mean(axis=1)
    keep = means > 0
    result = filled[keep] / means[keep, None]
    return pd.DataFrame(result, index=wide.index[keep], columns=wide.columns)


def cluster(profile: pd.DataFrame, seed: int, k: int | None = None) -> Shapes:
    """The typical shapes of ``profile``'s customers.

    Args:
        profile: :func:`profiles`.
        seed: the random seed.
        k: the number of shapes; chosen by the Calinski–Harabasz index in
            :data:`SHAPE_K_RANGE` when None.
    """
    data = profile.to_numpy(dtype=float)
    if k is None:
        choice = model.choose_k(
            data, seed, k_range=SHAPE_K_RANGE, min_share=0.0, criterion=SHAPE_CRITERION, min_k=0
        )
    else:
        value = model.criterion_value(
            data, model.kmeans(data, k, seed).labels_, SHAPE_CRITERION, seed
        )
        choice = model.KChoice(k, "analyst", SHAPE_CRITERION, {k: value}, {})
    fitted = model.kmeans(data, choice.k, seed)
    labels = fitted.labels_.astype(int)
    low = np.empty_like(fitted.cluster_centers_)
    high = np.empty_like(fitted.cluster_centers_)
    centroids = np.empty_like(fitted.cluster_centers_)
    for index in range(choice.k):
        members = data[labels == index]
        centroids[index] = members.mean(axis=0)
        low[index], high[index] = np.quantile(members, SPREAD_QUANTILES, axis=0)
    return Shapes(list(profile.index.astype(str)), labels, centroids, low, high, choice)
