"""Members' electricity use before and after a campaign, aggregated by the store.

The readings of a campaign's members are folded in SQL into one row per customer: energy per day
and peak share over the weeks before the campaign started and over the weeks after it ended.
Peak share is measured under the offered time-of-use schedule when the offer is one, else under
the schedule the customer's class could move to (the features' reference schedule), so treated
and control customers are measured alike.
"""

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import features, tariffs
from core.store import engine as store_engine
from core.store import functions, queries, schema

# Three months either side: long enough to average out weather spells and billing cycles, short
# enough that the pre-period still describes the customer when the campaign starts.
PRE_DAYS = 90
POST_DAYS = 90
# A customer with fewer days of readings in a window is left out of that window's figures.
MIN_WINDOW_DAYS = 30
# Offers that change how a customer uses electricity besides time-of-use tariffs.
ENERGY_OFFERS = ("demand_response", "energy_efficiency")
USAGE_COLUMNS = (
    "customer_id",
    "pre_days",
    "pre_kwh_per_day",
    "pre_peak_share",
    "post_days",
    "post_kwh_per_day",
    "post_peak_share",
)


@dataclass(frozen=True)
class Windows:
    """The days before and after a campaign that its energy effect is read over.

    Attributes:
        pre_start: the first day before the campaign.
        pre_end: the campaign's start (the day after the pre-period).
        post_start: the day after the campaign's end.
        post_end: the day after the post-period's last day (cut at the last reading).
    """

    pre_start: dt.date
    pre_end: dt.date
    post_start: dt.date
    post_end: dt.date

    @property
    def has_post(self) -> bool:
        """Whether any day after the campaign has readings yet."""
        return self.post_end > self.post_start


def windows(start_date: dt.date, end_date: dt.date, last_reading: dt.datetime | None) -> Windows:
    """The pre- and post-periods of a campaign running from ``start_date`` to ``end_date``."""
    post_start = end_date + dt.timedelta(days=1)
    post_end = post_start + dt.timedelta(days=POST_DAYS)
    if last_reading is not None:
        post_end = min(post_end, last_reading.date() + dt.timedelta(days=1))
    return Windows(
        pre_start=start_date - dt.timedelta(days=PRE_DAYS),
        pre_end=start_date,
        post_start=post_start,
        post_end=max(post_end, post_start),
    )


def recent_windows(last_reading: dt.datetime) -> Windows:
    """The last two quarters of readings: the one before the last, and the last one."""
    end = last_reading.date() + dt.timedelta(days=1)
    middle = end - dt.timedelta(days=POST_DAYS)
    return Windows(
        pre_start=middle - dt.timedelta(days=PRE_DAYS),
        pre_end=middle,
        post_start=middle,
        post_end=end,
    )


def recent_usage(conn: sa.Connection, customer_ids: Iterable[str]) -> pd.DataFrame:
    """:func:`usage` over the last two quarters of readings (empty in a store without any)."""
    last = last_reading(conn)
    if last is None:
        return pd.DataFrame(columns=list(USAGE_COLUMNS))
    return usage(conn, customer_ids, recent_windows(last))


def is_energy_offer(offer: str | None, catalog: dict | None = None) -> bool:
    """Whether an offer changes electricity use: a time-of-use tariff, demand response, advice."""
    if not offer:
        return False
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    if offer in catalog:
        return catalog[offer].kind in features.SCHEDULED_KINDS
    return offer in ENERGY_OFFERS


_work = sa.MetaData()

_members = sa.Table(
    "work_campaign_customers",
    _work,
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), primary_key=True),
    prefixes=["TEMPORARY"],
)

_hours = sa.Table(
    "work_campaign_hours",
    _work,
    sa.Column("schedule_code", sa.String(40), nullable=False),
    sa.Column("hour_start", sa.DateTime, nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    prefixes=["TEMPORARY"],
)


def _schedule(offer: str | None, catalog: dict) -> tuple[sa.ColumnElement, list[str]]:
    """The schedule each member is measured under, as SQL, and the schedules it can name."""
    if offer in catalog and catalog[offer].kind in features.SCHEDULED_KINDS:
        return sa.literal(offer), [offer]
    customers = schema.customers
    codes = {cls: code for cls, code in features.REFERENCE_SCHEDULE.items() if code in catalog}
    expression = sa.case(
        *((customers.c.customer_class == cls, code) for cls, code in codes.items()),
        else_=None,
    )
    return expression, sorted(set(codes.values()))


def _hours_frame(catalog: dict, codes: list[str], spans: list[tuple[dt.date, dt.date]]):
    frames = []
    for first, end in spans:
        if end <= first:
            continue
        hours = pd.date_range(
            pd.Timestamp(first), pd.Timestamp(end), freq="h", inclusive="left", unit="us"
        )
        for code in codes:
            labels = tariffs.period_labels(catalog[code], hours)
            frames.append(
                pd.DataFrame(
                    {"schedule_code": code, "hour_start": hours, "period": labels.astype(str)}
                )
            )
    if not frames:
        return pd.DataFrame(columns=["schedule_code", "hour_start", "period"])
    return pd.concat(frames, ignore_index=True)


def _sum_if(condition: sa.ColumnElement, value: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, value), else_=None))


def usage(
    conn: sa.Connection,
    customer_ids: Iterable[str],
    spans: Windows,
    offer: str | None = None,
    catalog: dict | None = None,
) -> pd.DataFrame:
    """Each customer's energy per day and peak share before and after a campaign.

    Args:
        conn: a store connection (temporary work tables live on it for the call).
        customer_ids: the customers to aggregate.
        spans: the pre- and post-periods.
        offer: the campaign's offer: a time-of-use tariff code measures peak share under it.
        catalog: the tariff catalog (default: the product's).

    Returns:
        :data:`USAGE_COLUMNS`, one row per customer with readings in either window; a window
        with fewer than :data:`MIN_WINDOW_DAYS` days of readings has no figures.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    ids = pd.DataFrame({"customer_id": sorted({str(value) for value in customer_ids})})
    if ids.empty:
        return pd.DataFrame(columns=list(USAGE_COLUMNS))
    schedule, codes = _schedule(offer, catalog)
    periods = [(spans.pre_start, spans.pre_end), (spans.post_start, spans.post_end)]
    readings, customers = schema.readings, schema.customers
    for table in _work.sorted_tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))
    try:
        store_engine.bulk_insert(conn, _members, ids)
        store_engine.bulk_insert(conn, _hours, _hours_frame(catalog, codes, periods))
        start = {name: dt.datetime.combine(day, dt.time()) for name, day in _bounds(spans)}
        pre = sa.and_(readings.c.ts >= start["pre_start"], readings.c.ts < start["pre_end"])
        post = sa.and_(readings.c.ts >= start["post_start"], readings.c.ts < start["post_end"])
        source = (
            readings.join(_members, _members.c.customer_id == readings.c.customer_id)
            .join(customers, customers.c.customer_id == readings.c.customer_id)
            .outerjoin(
                _hours,
                sa.and_(
                    _hours.c.schedule_code == schedule,
                    _hours.c.hour_start == functions.hour_start(readings.c.ts),
                ),
            )
        )
        # Days first, then customers: counting days by grouping is far cheaper than a
        # count of distinct days over every reading.
        day = functions.day(readings.c.ts)
        daily = (
            sa.select(
                readings.c.customer_id.label("customer_id"),
                day.label("day"),
                sa.func.sum(readings.c.kwh).label("kwh"),
                _sum_if(_hours.c.period == "peak", readings.c.kwh).label("peak_kwh"),
                _sum_if(_hours.c.period.is_not(None), readings.c.kwh).label("scheduled_kwh"),
            )
            .select_from(source)
            .where(sa.or_(pre, post))
            .group_by(readings.c.customer_id, day)
            .subquery("daily")
        )
        in_pre = sa.and_(daily.c.day >= spans.pre_start, daily.c.day < spans.pre_end)
        in_post = sa.and_(daily.c.day >= spans.post_start, daily.c.day < spans.post_end)
        query = sa.select(
            daily.c.customer_id,
            *(
                expression
                for window, inside in (("pre", in_pre), ("post", in_post))
                for expression in (
                    sa.func.sum(sa.case((inside, 1), else_=0)).label(f"{window}_days"),
                    _sum_if(inside, daily.c.kwh).label(f"{window}_kwh"),
                    _sum_if(inside, daily.c.peak_kwh).label(f"{window}_peak_kwh"),
                    _sum_if(inside, daily.c.scheduled_kwh).label(f"{window}_scheduled_kwh"),
                )
            ),
        ).group_by(daily.c.customer_id)
        rows = pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
    finally:
        for table in _work.sorted_tables:
            conn.execute(sa.schema.DropTable(table, if_exists=True))
    return _figures(rows)


def _bounds(spans: Windows) -> list[tuple[str, dt.date]]:
    return [
        ("pre_start", spans.pre_start),
        ("pre_end", spans.pre_end),
        ("post_start", spans.post_start),
        ("post_end", spans.post_end),
    ]


def _figures(rows: pd.DataFrame) -> pd.DataFrame:
    result = pd.DataFrame({"customer_id": rows["customer_id"].astype(str)})
    for window in ("pre", "post"):
        days = pd.to_numeric(rows[f"{window}_days"]).astype(float)
        enough = days >= MIN_WINDOW_DAYS
        kwh = pd.to_numeric(rows[f"{window}_kwh"]).astype(float)
        scheduled = pd.to_numeric(rows[f"{window}_scheduled_kwh"]).astype(float)
        peak = pd.to_numeric(rows[f"{window}_peak_kwh"]).astype(float).fillna(0.0)
        result[f"{window}_days"] = days.astype(int)
        result[f"{window}_kwh_per_day"] = (kwh / days).where(enough)
        share = (peak / scheduled).where(scheduled > 0)
        result[f"{window}_peak_share"] = share.where(enough)
    return result[list(USAGE_COLUMNS)].reset_index(drop=True)


def last_reading(conn: sa.Connection) -> dt.datetime | None:
    """The store's last reading time, which ends every post-period."""
    period = queries.data_period(conn)
    return None if period is None else period[1]
