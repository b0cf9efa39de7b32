"""Per-customer features, computed as SQL inside the store and kept in the ``features`` table.

One refresh runs a handful of statements: the interval readings are folded into one row per
customer and day (with the energy of each tariff period, night and day), the days into one row
per customer, and the bills, work orders, channel activity and outages into their own per-customer
aggregates. Only those results ever leave the store; the same expressions run on DuckDB,
PostgreSQL and SQLite.

The period covered is the twelve months that end with the last day that has readings; the twelve
months before it give the year-on-year growth.
"""

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import NamedTuple

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from core import access, calendars, tariffs
from core.store import engine as store_engine
from core.store import functions, queries, schema

Progress = Callable[[str, float], None]

TARIFF_PERIODS = ("critical", "peak", "flat", "valley")
# Night is the valley window of the published TOU schedules, 23:00-07:00.
NIGHT_HOURS = (23, 0, 1, 2, 3, 4, 5, 6)
SUMMER_MONTHS = (6, 7, 8)
WINTER_MONTHS = (12, 1, 2)
SHOULDER_MONTHS = (3, 4, 5, 9, 10, 11)
# Degree-day bases of the Chinese building-energy standard (GB 50176): cooling above 26 °C,
# heating below 18 °C of the day's mean temperature.
COOLING_BASE_C = 26.0
HEATING_BASE_C = 18.0
# A slope fitted on fewer hot (or cold) days than this says more about noise than about the
# customer.
MIN_REGRESSION_DAYS = 10
# Growth needs a comparable year before: at least half a year of readings in it.
MIN_PREVIOUS_DAYS = 183
COMPLAINT_TYPE = "complaint"
ONLINE_CHANNELS = ("app", "wechat", "95598_web", "web", "alipay")
COUNTER_CHANNELS = ("counter",)
# Complaints of the last quarter count as recent: fresh enough to act on in a visit.
RECENT_DAYS = 90
# A complaint this soon after an outage of the same customer is counted as caused by it.
OUTAGE_COMPLAINT_WINDOW_HOURS = 7 * 24
# Unpaid remainders below one fen are rounding, not arrears.
ARREARS_TOLERANCE_CNY = 0.005
# A bill's payment status (:func:`bill_status`); the late ones count against the payment record,
# the owing ones are arrears.
BILL_STATUSES = ("paid", "paid_late", "not_due", "unpaid", "partly_paid")
LATE_STATUSES = ("paid_late", "unpaid", "partly_paid")
OWING_STATUSES = ("unpaid", "partly_paid")
# Unknown tariff codes named in the error: enough to see the pattern, short enough to read.
UNKNOWN_TARIFFS_LISTED = 5
# Tariffs without their own hours (single price, residential tiers) are described under the TOU
# schedule the customer could move to, so a peak-heavy flat-rate customer is still recognisable.
SCHEDULED_KINDS = ("tou", "two_part")
REFERENCE_SCHEDULE = {
    "residential": "RES_TOU",
    "commercial": "COM_TOU",
    "industrial": "COM_TOU",
    "agricultural": "COM_TOU",
}


@dataclass(frozen=True)
class RefreshSummary:
    """What a refresh did.

    Attributes:
        customers: rows written to the features table.
        period_start: first day covered.
        period_end: the day after the last day covered.
        seconds: wall time of the refresh.
    """

    customers: int
    period_start: dt.date | None
    period_end: dt.date | None
    seconds: float


# Work tables live for one refresh on its connection only.
_work = sa.MetaData()

_tou_hours = sa.Table(
    "work_tou_hours",
    _work,
    sa.Column("schedule_code", sa.String(40), nullable=False),
    sa.Column("hour_start", sa.DateTime, nullable=False),
    sa.Column("period", sa.String(10), nullable=False),
    prefixes=["TEMPORARY"],
)

_calendar = sa.Table(
    "work_calendar",
    _work,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("workday", sa.Integer, nullable=False),
    prefixes=["TEMPORARY"],
)

_daily = sa.Table(
    "work_daily",
    _work,
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("kwh", sa.Double),
    sa.Column("max_kwh", sa.Double),
    sa.Column("readings", sa.Integer),
    sa.Column("night_kwh", sa.Double),
    sa.Column("night_readings", sa.Integer),
    *(sa.Column(f"{period}_kwh", sa.Double) for period in TARIFF_PERIODS),
    sa.Column("kvarh_kwh", sa.Double),
    sa.Column("kvarh", sa.Double),
    prefixes=["TEMPORARY"],
)

_weather_daily = sa.Table(
    "work_weather_daily",
    _work,
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("temperature_c", sa.Double),
    prefixes=["TEMPORARY"],
)


def period_for(last_reading: dt.datetime) -> tuple[dt.date, dt.date]:
    """The twelve months of features ending with the day of the last reading.

    Args:
        last_reading: the latest reading timestamp in the store.

    Returns:
        ``(period_start, period_end)``: the first day covered and the day after the last one.
    """
    period_end = last_reading.date() + dt.timedelta(days=1)
    return _years_before(period_end, 1), period_end


def _years_before(day: dt.date, years: int) -> dt.date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _ratio(numerator: sa.ColumnElement, denominator: sa.ColumnElement) -> sa.ColumnElement:
    # Floats on both sides: PostgreSQL divides integers as integers.
    return sa.cast(numerator, sa.Double) / sa.func.nullif(sa.cast(denominator, sa.Double), 0.0)


def _sum_if(condition: sa.ColumnElement, value: sa.ColumnElement | float) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, value), else_=None))


def _count_if(condition: sa.ColumnElement) -> sa.ColumnElement:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _slope(n, sum_x, sum_y, sum_xy, sum_xx, enough: sa.ColumnElement) -> sa.ColumnElement:
    """Least-squares slope of y on x from running sums (regr_slope is not on every backend)."""
    covariance = n * sum_xy - sum_x * sum_y
    variance = n * sum_xx - sum_x * sum_x
    return sa.case((enough, _ratio(covariance, variance)), else_=None)


def _schedule_codes(catalog: dict) -> list[str]:
    return [code for code, tariff in catalog.items() if tariff.kind in SCHEDULED_KINDS]


def _schedule_code(customers: sa.Table, scheduled: list[str]) -> sa.ColumnElement:
    """Which TOU schedule describes a customer: its own tariff's, else its class's reference."""
    by_class = sa.case(
        *((customers.c.customer_class == cls, code) for cls, code in REFERENCE_SCHEDULE.items()),
        else_=None,
    )
    return sa.case(
        (customers.c.tariff_code.in_(scheduled), customers.c.tariff_code), else_=by_class
    )


def _hours_frame(catalog: dict, codes: list[str], first: dt.date, end: dt.date) -> pd.DataFrame:
    hours = pd.date_range(
        pd.Timestamp(first), pd.Timestamp(end), freq="h", inclusive="left", unit="ns"
    )
    frames = []
    for code in codes:
        labels = tariffs.period_labels(catalog[code], hours)
        frames.append(
            pd.DataFrame(
                {
                    "schedule_code": code,
                    "hour_start": hours.to_pydatetime(),
                    "period": [str(label) for label in labels],
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def _calendar_frame(first: dt.date, end: dt.date) -> pd.DataFrame:
    days = pd.date_range(
        pd.Timestamp(first), pd.Timestamp(end), freq="D", inclusive="left", unit="ns"
    )
    return pd.DataFrame(
        {"day": [day.date() for day in days], "workday": calendars.workdays(days).astype(int)}
    )


def _create_work_tables(conn: sa.Connection) -> None:
    for table in _work.sorted_tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))


def _drop_work_tables(conn: sa.Connection) -> None:
    for table in _work.sorted_tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))


def _daily_select(
    scope: sa.ColumnElement, scheduled: list[str], first: dt.date, end: dt.date
) -> sa.Select:
    readings, customers = schema.readings, schema.customers
    day = functions.day(readings.c.ts)
    hour = sa.extract("hour", readings.c.ts)
    night = hour.in_(NIGHT_HOURS)
    period = _tou_hours.c.period
    source = readings.join(customers, customers.c.customer_id == readings.c.customer_id).outerjoin(
        _tou_hours,
        sa.and_(
            _tou_hours.c.schedule_code == _schedule_code(customers, scheduled),
            _tou_hours.c.hour_start == functions.hour_start(readings.c.ts),
        ),
    )
    return (
        sa.select(
            readings.c.customer_id,
            day.label("day"),
            sa.func.sum(readings.c.kwh),
            sa.func.max(readings.c.kwh),
            sa.func.count(),
            _sum_if(night, readings.c.kwh),
            _count_if(night),
            # Zero in a period the schedule has but the customer did not use; unknown when no
            # schedule describes the customer.
            *(
                sa.func.sum(sa.case((period == name, readings.c.kwh), (period.is_not(None), 0.0)))
                for name in TARIFF_PERIODS
            ),
            _sum_if(readings.c.kvarh.is_not(None), readings.c.kwh),
            sa.func.sum(readings.c.kvarh),
        )
        .select_from(source)
        .where(
            scope,
            readings.c.ts >= dt.datetime.combine(first, dt.time()),
            readings.c.ts < dt.datetime.combine(end, dt.time()),
        )
        .group_by(readings.c.customer_id, day)
    )


def _weather_select(first: dt.date, end: dt.date) -> sa.Select:
    weather = schema.weather
    day = functions.day(weather.c.ts)
    return (
        sa.select(weather.c.region, day, sa.func.avg(weather.c.temperature_c))
        .where(
            weather.c.ts >= dt.datetime.combine(first, dt.time()),
            weather.c.ts < dt.datetime.combine(end, dt.time()),
        )
        .group_by(weather.c.region, day)
    )


def _load_features(start: dt.date, end: dt.date, previous_start: dt.date) -> sa.Subquery:
    daily, customers = _daily, schema.customers
    current = sa.and_(daily.c.day >= start, daily.c.day < end)
    previous = sa.and_(daily.c.day >= previous_start, daily.c.day < start)
    month = sa.extract("month", daily.c.day)
    workday = _calendar.c.workday == 1
    temperature = _weather_daily.c.temperature_c
    cooling = sa.case((temperature > COOLING_BASE_C, temperature - COOLING_BASE_C), else_=0.0)
    heating = sa.case((temperature < HEATING_BASE_C, HEATING_BASE_C - temperature), else_=0.0)
    # Cooling slope over the days without heating need, heating slope over the days without
    # cooling need: the mild days anchor both lines at the customer's base load.
    cooling_days = sa.and_(current, temperature >= HEATING_BASE_C)
    heating_days = sa.and_(current, temperature <= COOLING_BASE_C)

    source = (
        daily.join(customers, customers.c.customer_id == daily.c.customer_id)
        .outerjoin(_calendar, _calendar.c.day == daily.c.day)
        .outerjoin(
            _weather_daily,
            sa.and_(
                _weather_daily.c.region == customers.c.region,
                _weather_daily.c.day == daily.c.day,
            ),
        )
    )
    kwh = daily.c.kwh
    sums = (
        sa.select(
            daily.c.customer_id,
            _count_if(current).label("days"),
            _sum_if(current, kwh).label("kwh"),
            _sum_if(current, kwh * kwh).label("kwh_squared"),
            sa.func.max(sa.case((current, daily.c.max_kwh), else_=None)).label("max_kwh"),
            _sum_if(current, daily.c.readings).label("readings"),
            _sum_if(current, daily.c.night_kwh).label("night_kwh"),
            _sum_if(current, daily.c.night_readings).label("night_readings"),
            *(
                _sum_if(current, daily.c[f"{name}_kwh"]).label(f"{name}_kwh")
                for name in TARIFF_PERIODS
            ),
            _sum_if(sa.and_(current, workday), kwh).label("workday_kwh"),
            _count_if(sa.and_(current, workday)).label("workdays"),
            _sum_if(sa.and_(current, sa.not_(workday)), kwh).label("restday_kwh"),
            _count_if(sa.and_(current, sa.not_(workday))).label("restdays"),
            *(
                expression
                for label, months in (
                    ("summer", SUMMER_MONTHS),
                    ("winter", WINTER_MONTHS),
                    ("shoulder", SHOULDER_MONTHS),
                )
                for expression in (
                    _sum_if(sa.and_(current, month.in_(months)), kwh).label(f"{label}_kwh"),
                    _count_if(sa.and_(current, month.in_(months))).label(f"{label}_days"),
                )
            ),
            *_regression_sums("cooling", cooling_days, cooling, kwh),
            *_regression_sums("heating", heating_days, heating, kwh),
            _sum_if(previous, kwh).label("previous_kwh"),
            _count_if(previous).label("previous_days"),
            _sum_if(current, daily.c.kvarh_kwh).label("kvarh_kwh"),
            _sum_if(current, daily.c.kvarh).label("kvarh"),
        )
        .select_from(source)
        .group_by(daily.c.customer_id)
        .subquery("load_sums")
    )

    s = sums.c
    # Readings per hour tells the interval length; rounded so a few missing readings do not
    # shrink the maximum demand. Daily readings give the day's average power.
    per_hour = _ratio(s.readings, s.days * 24)
    intervals_per_hour = sa.case(
        (per_hour >= 3, 4.0), (per_hour >= 1.5, 2.0), (per_hour >= 0.5, 1.0), else_=1.0 / 24
    )
    max_demand = s.max_kwh * intervals_per_hour
    average_daily = _ratio(s.kwh, s.days)
    day_kwh = s.kwh - sa.func.coalesce(s.night_kwh, 0.0)
    day_readings = s.readings - sa.func.coalesce(s.night_readings, 0)
    variance_n2 = s.days * s.kwh_squared - s.kwh * s.kwh
    shoulder = _ratio(s.shoulder_kwh, s.shoulder_days)
    previous_daily = _ratio(s.previous_kwh, s.previous_days)
    return sa.select(
        s.customer_id,
        s.days.label("days_with_readings"),
        s.kwh.label("annual_kwh"),
        average_daily.label("avg_daily_kwh"),
        max_demand.label("max_demand_kw"),
        _ratio(_ratio(s.kwh, s.days * 24), max_demand).label("load_factor"),
        *(_ratio(s[f"{name}_kwh"], s.kwh).label(f"{name}_share") for name in TARIFF_PERIODS),
        _ratio(_ratio(s.night_kwh, s.night_readings), _ratio(day_kwh, day_readings)).label(
            "night_day_ratio"
        ),
        _ratio(_ratio(s.workday_kwh, s.workdays), _ratio(s.restday_kwh, s.restdays)).label(
            "weekday_weekend_ratio"
        ),
        _ratio(sa.func.sqrt(sa.case((variance_n2 > 0, variance_n2), else_=0.0)), s.kwh).label(
            "volatility"
        ),
        _ratio(_ratio(s.summer_kwh, s.summer_days), shoulder).label("summer_ratio"),
        _ratio(_ratio(s.winter_kwh, s.winter_days), shoulder).label("winter_ratio"),
        _regression_slope(sums, "cooling").label("cooling_kwh_per_degree_day"),
        _regression_slope(sums, "heating").label("heating_kwh_per_degree_day"),
        sa.case(
            (
                s.previous_days >= MIN_PREVIOUS_DAYS,
                _ratio(average_daily - previous_daily, previous_daily),
            ),
            else_=None,
        ).label("yoy_growth"),
        _ratio(s.kvarh_kwh, sa.func.sqrt(s.kvarh_kwh * s.kvarh_kwh + s.kvarh * s.kvarh)).label(
            "power_factor"
        ),
    ).subquery("load")


def _regression_sums(name: str, days, x, y) -> list[sa.ColumnElement]:
    return [
        _count_if(days).label(f"{name}_n"),
        _count_if(sa.and_(days, x > 0)).label(f"{name}_active"),
        _sum_if(days, x).label(f"{name}_x"),
        _sum_if(days, y).label(f"{name}_y"),
        _sum_if(days, x * y).label(f"{name}_xy"),
        _sum_if(days, x * x).label(f"{name}_xx"),
    ]


def _regression_slope(sums: sa.Subquery, name: str) -> sa.ColumnElement:
    c = sums.c
    return _slope(
        c[f"{name}_n"],
        c[f"{name}_x"],
        c[f"{name}_y"],
        c[f"{name}_xy"],
        c[f"{name}_xx"],
        c[f"{name}_active"] >= MIN_REGRESSION_DAYS,
    )


def _month(day: dt.date, *, round_up: bool) -> str:
    if round_up and day.day != 1:
        day = (day.replace(day=1) + dt.timedelta(days=32)).replace(day=1)
    return f"{day:%Y-%m}"


def bill_outstanding(as_of: dt.date) -> sa.ColumnElement:
    """What a bill still owed on ``as_of``: its amount less what was paid before that day."""
    bills = schema.bills
    paid_before = sa.case(
        (
            sa.and_(bills.c.paid_date.is_not(None), bills.c.paid_date < as_of),
            sa.func.coalesce(sa.cast(bills.c.paid_cny, sa.Double), 0.0),
        ),
        else_=0.0,
    )
    return sa.cast(bills.c.amount_cny, sa.Double) - paid_before


def bill_status(as_of: dt.date) -> sa.ColumnElement:
    """A bill's payment status on ``as_of``, one of :data:`BILL_STATUSES`, as SQL.

    The one rule behind the bill list, the late-payment and arrears features and the tags built
    on them: a bill not yet due is never late; one due before ``as_of`` is late when it was not
    paid in full by its due date. Payments made on or after ``as_of`` are not known yet.

    Args:
        as_of: the day the status is read on (the store's today: the end of the features
            period).
    """
    bills = schema.bills
    outstanding = bill_outstanding(as_of)
    paid_known = sa.and_(bills.c.paid_date.is_not(None), bills.c.paid_date < as_of)
    settled = outstanding <= ARREARS_TOLERANCE_CNY
    return sa.case(
        (sa.and_(settled, paid_known, bills.c.paid_date > bills.c.due_date), "paid_late"),
        (settled, "paid"),
        (bills.c.due_date >= as_of, "not_due"),
        (sa.not_(paid_known), "unpaid"),
        else_="partly_paid",
    )


def _bill_features(start: dt.date, end: dt.date, previous_start: dt.date) -> sa.Subquery:
    bills = schema.bills
    first_month, end_month = _month(start, round_up=True), _month(end, round_up=False)
    previous_month = _month(previous_start, round_up=True)
    current = sa.and_(bills.c.period >= first_month, bills.c.period < end_month)
    previous = sa.and_(bills.c.period >= previous_month, bills.c.period < first_month)
    amount = sa.cast(bills.c.amount_cny, sa.Double)
    # Everything as it stood at the end of the period: a payment made later does not count yet.
    status = bill_status(end)
    due = sa.and_(current, bills.c.due_date < end)
    late = sa.and_(current, status.in_(LATE_STATUSES))
    outstanding = bill_outstanding(end)
    owing = status.in_(OWING_STATUSES)
    sums = (
        sa.select(
            bills.c.customer_id,
            _sum_if(current, amount).label("revenue"),
            _sum_if(previous, amount).label("previous_revenue"),
            _count_if(due).label("bills_due"),
            _count_if(late).label("bills_late"),
            _sum_if(owing, outstanding).label("arrears"),
            sa.func.min(sa.case((owing, bills.c.due_date), else_=None)).label("oldest_due"),
        )
        .group_by(bills.c.customer_id)
        .subquery("bill_sums")
    )
    s = sums.c
    end_epoch = (dt.datetime.combine(end, dt.time()) - dt.datetime(1970, 1, 1)).total_seconds()
    arrears_days = (end_epoch - sa.cast(sa.extract("epoch", s.oldest_due), sa.Double)) / 86400.0
    return sa.select(
        s.customer_id,
        s.revenue.label("annual_revenue_cny"),
        _ratio(s.revenue - s.previous_revenue, s.previous_revenue).label("revenue_growth"),
        _ratio(s.bills_due - s.bills_late, s.bills_due).label("payment_punctuality"),
        s.bills_late.label("late_payments"),
        sa.func.coalesce(s.arrears, 0.0).label("arrears_cny"),
        sa.case((s.oldest_due.is_(None), 0.0), else_=arrears_days).label("arrears_days"),
    ).subquery("value")


def _channel_features(start: dt.date, end: dt.date) -> tuple[sa.Subquery, sa.Subquery]:
    activity = schema.channel_activity
    current = sa.and_(activity.c.date >= start, activity.c.date < end)
    sums = (
        sa.select(
            activity.c.customer_id,
            _sum_if(activity.c.channel.in_(ONLINE_CHANNELS), activity.c.events).label("online"),
            _sum_if(activity.c.channel.in_(COUNTER_CHANNELS), activity.c.events).label("counter"),
            sa.func.sum(activity.c.events).label("events"),
        )
        .where(current)
        .group_by(activity.c.customer_id)
        .subquery("channel_sums")
    )
    service = sa.select(
        sums.c.customer_id,
        sa.func.coalesce(sums.c.online, 0).label("online_events"),
        _ratio(sa.func.coalesce(sums.c.online, 0), sums.c.events).label("online_share"),
        sa.func.coalesce(sums.c.counter, 0).label("counter_visits"),
    ).subquery("service")

    per_channel = (
        sa.select(
            activity.c.customer_id,
            activity.c.channel,
            sa.func.row_number()
            .over(
                partition_by=activity.c.customer_id,
                order_by=(sa.func.sum(activity.c.events).desc(), activity.c.channel),
            )
            .label("rank"),
        )
        .where(current)
        .group_by(activity.c.customer_id, activity.c.channel)
        .subquery("channel_ranks")
    )
    preferred = (
        sa.select(per_channel.c.customer_id, per_channel.c.channel.label("preferred_channel"))
        .where(per_channel.c.rank == 1)
        .subquery("preferred")
    )
    return service, preferred


def _risk_features(start: dt.date, end: dt.date) -> tuple[sa.Subquery, sa.Subquery]:
    orders, outages = schema.work_orders, schema.outages
    start_at, end_at = dt.datetime.combine(start, dt.time()), dt.datetime.combine(end, dt.time())
    recent_at = end_at - dt.timedelta(days=RECENT_DAYS)
    complaint = sa.and_(
        orders.c.type == COMPLAINT_TYPE,
        orders.c.created_at >= start_at,
        orders.c.created_at < end_at,
    )
    recent = orders.c.created_at >= recent_at
    after_outage = sa.exists().where(
        outages.c.customer_id == orders.c.customer_id,
        sa.extract("epoch", orders.c.created_at) >= sa.extract("epoch", outages.c.start),
        sa.extract("epoch", orders.c.created_at) - sa.extract("epoch", outages.c.start)
        < OUTAGE_COMPLAINT_WINDOW_HOURS * 3600,
    )
    complaints = (
        sa.select(
            orders.c.customer_id,
            sa.func.count().label("complaints"),
            _count_if(recent).label("complaints_90d"),
            _count_if(sa.and_(recent, after_outage)).label("complaints_after_outage_90d"),
        )
        .where(complaint)
        .group_by(orders.c.customer_id)
        .subquery("complaint_counts")
    )
    hours = (
        sa.cast(sa.extract("epoch", outages.c.end), sa.Double)
        - sa.cast(sa.extract("epoch", outages.c.start), sa.Double)
    ) / 3600.0
    outage_counts = (
        sa.select(
            outages.c.customer_id,
            sa.func.count().label("outages"),
            sa.func.coalesce(_sum_if(outages.c.end.is_not(None), hours), 0.0).label("outage_hours"),
        )
        .where(outages.c.start >= start_at, outages.c.start < end_at)
        .group_by(outages.c.customer_id)
        .subquery("outage_counts")
    )
    return complaints, outage_counts


def _features_select(
    scope: sa.ColumnElement, start: dt.date, end: dt.date, computed_at: dt.datetime
) -> sa.Select:
    customers = schema.customers
    previous_start = _years_before(start, 1)
    load = _load_features(start, end, previous_start)
    value = _bill_features(start, end, previous_start)
    service, preferred = _channel_features(start, end)
    complaints, outage_counts = _risk_features(start, end)
    source = customers
    for part in (load, value, service, preferred, complaints, outage_counts):
        source = source.outerjoin(part, part.c.customer_id == customers.c.customer_id)
    counted = {
        "days_with_readings": load,
        "online_events": service,
        "counter_visits": service,
        "late_payments": value,
        "arrears_cny": value,
        "arrears_days": value,
        "complaints": complaints,
        "complaints_90d": complaints,
        "complaints_after_outage_90d": complaints,
        "outages": outage_counts,
        "outage_hours": outage_counts,
    }
    parts = (load, value, service, complaints, outage_counts)
    columns = []
    for name in schema.FEATURE_COLUMNS:
        if name in counted:
            # No row in a source means none happened: zero, not unknown.
            column = sa.func.coalesce(sa.cast(counted[name].c[name], sa.Double), 0.0)
        else:
            column = sa.cast(next(part.c[name] for part in parts if name in part.c), sa.Double)
        columns.append(column.label(name))
    return (
        sa.select(
            customers.c.customer_id,
            sa.literal(start, sa.Date).label("period_start"),
            sa.literal(end, sa.Date).label("period_end"),
            sa.literal(computed_at, sa.DateTime).label("computed_at"),
            *columns,
            preferred.c.preferred_channel,
        )
        .select_from(source)
        .where(scope)
    )


class Step(NamedTuple):
    """One work table of a refresh filled by a select, with the progress label it reports."""

    label: str
    table: sa.Table
    select: sa.Select


@dataclass(frozen=True)
class Plan:
    """A refresh as statements: every feature definition, ready for any SQL engine to run.

    :func:`refresh` runs it in the store; :mod:`core.spark.features` compiles the same statements
    to Spark SQL and runs them over the readings lake. The work tables are filled in order, each
    select reading the store's tables and the work tables before it.

    Attributes:
        start: first day covered.
        end: the day after the last day covered.
        readings_start: the first day whose readings are read (a year before ``start``, for
            the growth figures).
        computed_at: the time stamped on every row.
        scope: the customers refreshed, a condition on ``customers``.
        frames: work tables whose rows are made in Python (the TOU hours, the calendar).
        steps: work tables filled by a select, in order.
        select: the features rows, one per customer, named as the features table's columns.
    """

    start: dt.date
    end: dt.date
    readings_start: dt.date
    computed_at: dt.datetime
    scope: sa.ColumnElement
    frames: tuple[tuple[sa.Table, pd.DataFrame], ...]
    steps: tuple[Step, ...]
    select: sa.Select


def prepare(
    engine: sa.Engine,
    viewer: access.Viewer = access.SYSTEM,
    *,
    period_end: dt.date | None = None,
    customer_ids: Collection[str] | None = None,
    computed_at: dt.datetime | None = None,
) -> Plan | None:
    """The plan of a refresh of the customers the viewer may see.

    Args:
        engine: the store (its readings give the period when ``period_end`` is None; its
            customers' tariff codes are checked against the catalog).
        viewer: whose customers to refresh.
        period_end: the day after the last day to cover; by default the day after the last
            reading in the store.
        customer_ids: only these customers (of those the viewer may see); None for all.
        computed_at: the time stamped on the rows; now by default.

    Returns:
        The plan, or None when no period is given and the store has no readings.

    Raises:
        ValueError: a customer's tariff code is not in the tariff catalog.
    """
    scope = prepare_scope(viewer, customer_ids)
    if period_end is None:
        with engine.connect() as conn:
            data_period = queries.data_period(conn)
        if data_period is None:
            return None
        start, end = period_for(data_period[1])
    else:
        start, end = _years_before(period_end, 1), period_end
    previous_start = _years_before(start, 1)

    catalog = tariffs.load_catalog()
    _check_tariff_codes(engine, scope, catalog)
    scheduled = _schedule_codes(catalog)
    codes = sorted(
        set(scheduled) | {code for code in REFERENCE_SCHEDULE.values() if code in catalog}
    )
    stamp = (computed_at or dt.datetime.now()).replace(microsecond=0)
    return Plan(
        start=start,
        end=end,
        readings_start=previous_start,
        computed_at=stamp,
        scope=scope,
        frames=(
            (_tou_hours, _hours_frame(catalog, codes, previous_start, end)),
            (_calendar, _calendar_frame(previous_start, end)),
        ),
        steps=(
            Step("readings", _daily, _daily_select(scope, scheduled, previous_start, end)),
            Step("weather", _weather_daily, _weather_select(start, end)),
        ),
        select=_features_select(scope, start, end, stamp),
    )


# Progress of a refresh in the store: where each step starts.
_STEP_PROGRESS = {"readings": 0.1, "weather": 0.7}


def refresh(
    engine: sa.Engine,
    viewer: access.Viewer = access.SYSTEM,
    progress: Progress | None = None,
    *,
    period_end: dt.date | None = None,
    customer_ids: Collection[str] | None = None,
) -> RefreshSummary:
    """Recomputes the features of every customer the viewer may see and stores them.

    Args:
        engine: the store.
        viewer: whose customers to refresh; the batch job runs as :data:`access.SYSTEM`.
        progress: called with a step label and the fraction done.
        period_end: the day after the last day to cover; by default the day after the last
            reading in the store.
        customer_ids: only these customers (of those the viewer may see), as after an import
            that touched a few of them; None refreshes them all.

    Returns:
        How many customers were written and the period covered.

    Raises:
        ValueError: a customer's tariff code is not in the tariff catalog.
    """
    started = dt.datetime.now()
    report = progress or (lambda _label, _fraction: None)
    plan = prepare(
        engine, viewer, period_end=period_end, customer_ids=customer_ids, computed_at=started
    )
    if plan is None:
        scope = prepare_scope(viewer, customer_ids)
        with engine.begin() as conn:
            conn.execute(_delete_scoped(scope))
            store_engine.bump_data_version(conn)
        return RefreshSummary(0, None, None, _seconds_since(started))
    report("periods", 0.0)
    with engine.begin() as conn:
        if store_engine.backend(conn) == "duckdb":
            # DuckDB draws a progress bar on the terminal for long queries; batch output is ours.
            conn.exec_driver_sql("SET enable_progress_bar = false")
        _create_work_tables(conn)
        try:
            for table, rows in plan.frames:
                store_engine.bulk_insert(conn, table, rows)
            for step in plan.steps:
                report(step.label, _STEP_PROGRESS[step.label])
                names = [column.name for column in step.table.columns]
                conn.execute(step.table.insert().from_select(names, step.select))
            report("features", 0.8)
            count = replace_rows(conn, plan, plan.select)
        finally:
            _drop_work_tables(conn)
    report("done", 1.0)
    return RefreshSummary(count, plan.start, plan.end, _seconds_since(started))


def replace_rows(conn: sa.Connection, plan: Plan, rows: sa.Select | pd.DataFrame | pa.Table) -> int:
    """Replaces the features of the plan's customers with ``rows``, in the caller's transaction.

    Args:
        conn: a connection inside ``engine.begin()``.
        plan: the refresh the rows come from.
        rows: the plan's select run in this store, or its result computed elsewhere.

    Returns:
        How many of the plan's customers now have features.
    """
    conn.execute(_delete_scoped(plan.scope))
    if isinstance(rows, sa.Select):
        names = [c.name for c in rows.selected_columns]
        conn.execute(schema.features.insert().from_select(names, rows))
    else:
        store_engine.bulk_insert(conn, schema.features, rows)
    count = conn.execute(
        sa.select(sa.func.count()).where(schema.features.c.customer_id.in_(_scoped_ids(plan.scope)))
    ).scalar_one()
    store_engine.bump_data_version(conn)
    return count


def prepare_scope(
    viewer: access.Viewer, customer_ids: Collection[str] | None = None
) -> sa.ColumnElement:
    """The customers a refresh covers: the viewer's, narrowed to ``customer_ids`` when given."""
    scope = access.customer_scope(viewer)
    if customer_ids is not None:
        scope = sa.and_(scope, schema.customers.c.customer_id.in_(sorted(customer_ids)))
    return scope


def _seconds_since(started: dt.datetime) -> float:
    return (dt.datetime.now() - started).total_seconds()


def _scoped_ids(scope: sa.ColumnElement) -> sa.Select:
    return sa.select(schema.customers.c.customer_id).where(scope)


def _delete_scoped(scope: sa.ColumnElement) -> sa.Delete:
    return schema.features.delete().where(schema.features.c.customer_id.in_(_scoped_ids(scope)))


def _check_tariff_codes(engine: sa.Engine, scope: sa.ColumnElement, catalog: dict) -> None:
    customers = schema.customers
    with engine.connect() as conn:
        unknown = conn.execute(
            sa.select(customers.c.tariff_code, sa.func.count())
            .where(scope, customers.c.tariff_code.not_in(list(catalog)))
            .group_by(customers.c.tariff_code)
            .limit(UNKNOWN_TARIFFS_LISTED)
        ).all()
    if unknown:
        listed = ", ".join(f"{code} ({count} customers)" for code, count in unknown)
        raise ValueError(
            f"customers.tariff_code {listed} is not in the tariff catalog data/tariffs.toml: "
            "add the tariff there or correct the customers' tariff codes"
        )


def for_customer(
    bind: sa.Engine | sa.Connection, viewer: access.Viewer, customer_id: str
) -> dict | None:
    """The stored features of one customer, or None when none were computed or it is not visible.

    Args:
        bind: the store, or a connection to it.
        viewer: who is asking.
        customer_id: the customer.

    Returns:
        Column name → value, including ``period_start`` and ``period_end``.
    """
    features, customers = schema.features, schema.customers
    with store_engine.connected(bind) as conn:
        row = conn.execute(
            sa.select(features)
            .join(customers, customers.c.customer_id == features.c.customer_id)
            .where(features.c.customer_id == customer_id, access.customer_scope(viewer))
        ).first()
    return None if row is None else dict(row._mapping)


def table(
    engine: sa.Engine, viewer: access.Viewer, customer_ids: list[str] | None = None
) -> pd.DataFrame:
    """The stored features of the customers the viewer may see, one row per customer.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_ids: only these customers; all visible ones when None.

    Returns:
        A frame with ``customer_id``, the period and every feature column.
    """
    features, customers = schema.features, schema.customers
    query = (
        sa.select(features)
        .join(customers, customers.c.customer_id == features.c.customer_id)
        .where(access.customer_scope(viewer))
        .order_by(features.c.customer_id)
    )
    if customer_ids is not None:
        query = query.where(features.c.customer_id.in_(customer_ids))
    with engine.connect() as conn:
        return pd.read_sql(query, conn)
