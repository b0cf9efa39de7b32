"""Each customer's abnormal-use measures, aggregated from the interval readings inside the store.

Three windows are compared: the recent weeks (the period judged), the same weeks a year before
(52 weeks, so weekdays line up) and the weeks just before the recent ones, which stand in for the
year before when a customer has no such history. A refresh folds the readings into one row per
customer and day and one per customer, hour of day and window, in work tables of its
connection, and reads back one row per customer (and per customer and hour): the readings never
leave the store.
"""

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, features
from core.risk.settings import Settings
from core.store import functions, queries, schema

WINDOWS = ("recent", "year", "before")
# A weekday-aligned year.
YEAR_DAYS = 364
# Night is the valley window of the published TOU schedules, as in the customer features.
NIGHT_HOURS = features.NIGHT_HOURS
REVERSE_REASON = "negative"


@dataclass(frozen=True)
class Windows:
    """The days the measures compare (each start inclusive, each end exclusive).

    Attributes:
        end: the day after the last reading.
        recent_start: the first day judged.
        year_start, year_end: the same weeks 52 weeks before.
        before_start: the first of the weeks just before the recent ones (they end at
            ``recent_start``).
        temperature_start: the first day of the recent temperature window; its reference is the
            year before it.
        history_start: the earliest day any window reads.
    """

    end: dt.date
    recent_start: dt.date
    year_start: dt.date
    year_end: dt.date
    before_start: dt.date
    temperature_start: dt.date
    history_start: dt.date

    @property
    def weeks(self) -> int:
        """Whole weeks in the recent window."""
        return (self.end - self.recent_start).days // 7

    @property
    def temperature_reference_start(self) -> dt.date:
        """The first day of the year before the recent temperature window."""
        return self.temperature_start - dt.timedelta(days=YEAR_DAYS)

    def days(self, window: str) -> int:
        """The length of a window in days."""
        return {
            "recent": (self.end - self.recent_start).days,
            "year": (self.year_end - self.year_start).days,
            "before": (self.recent_start - self.before_start).days,
        }[window]


def windows_for(end: dt.date, settings: Settings) -> Windows:
    """The windows of a refresh whose last day of readings is the day before ``end``."""
    recent = settings.recent_days
    temperature = int(settings.windows["temperature_days"])
    recent_start = end - dt.timedelta(days=recent)
    year_end = end - dt.timedelta(days=YEAR_DAYS)
    temperature_start = end - dt.timedelta(days=temperature)
    return Windows(
        end=end,
        recent_start=recent_start,
        year_start=year_end - dt.timedelta(days=recent),
        year_end=year_end,
        before_start=recent_start - dt.timedelta(days=int(settings.windows["before_days"])),
        temperature_start=temperature_start,
        history_start=min(
            year_end - dt.timedelta(days=recent),
            temperature_start - dt.timedelta(days=YEAR_DAYS),
        ),
    )


def store_windows(conn: sa.Connection, settings: Settings) -> Windows | None:
    """The windows ending with the store's last reading, or None when it has no readings."""
    period = queries.data_period(conn)
    if period is None:
        return None
    return windows_for(period[1].date() + dt.timedelta(days=1), settings)


_work = sa.MetaData()

_daily = sa.Table(
    "work_risk_daily",
    _work,
    sa.Column("customer_id", sa.String(schema.CUSTOMER_ID_LENGTH), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("kwh", sa.Double),
    sa.Column("readings", sa.Integer),
    sa.Column("zero_readings", sa.Integer),
    sa.Column("kwh_squared", sa.Double),
    sa.Column("night_kwh", sa.Double),
    sa.Column("night_readings", sa.Integer),
    prefixes=["TEMPORARY"],
)

_weather = sa.Table(
    "work_risk_weather",
    _work,
    sa.Column("region", sa.String(40), nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Column("temperature_c", sa.Double),
    prefixes=["TEMPORARY"],
)


def _at(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time())


def _ratio(numerator: sa.ColumnElement, denominator: sa.ColumnElement) -> sa.ColumnElement:
    # Floats on both sides: PostgreSQL divides integers as integers.
    return sa.cast(numerator, sa.Double) / sa.func.nullif(sa.cast(denominator, sa.Double), 0.0)


def sum_if(condition: sa.ColumnElement, value: sa.ColumnElement | float) -> sa.ColumnElement:
    """The sum of ``value`` over the rows where ``condition`` holds (NULL when none do)."""
    return sa.func.sum(sa.case((condition, value), else_=None))


def count_if(condition: sa.ColumnElement) -> sa.ColumnElement:
    """How many rows ``condition`` holds for."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _fill_daily(conn: sa.Connection, scope: sa.ColumnElement, windows: Windows) -> None:
    readings, customers = schema.readings, schema.customers
    night = sa.extract("hour", readings.c.ts).in_(NIGHT_HOURS)
    day = functions.day(readings.c.ts)
    select = (
        sa.select(
            readings.c.customer_id,
            day,
            sa.func.sum(readings.c.kwh),
            sa.func.count(),
            count_if(readings.c.kwh == 0),
            sa.func.sum(readings.c.kwh * readings.c.kwh),
            sum_if(night, readings.c.kwh),
            count_if(night),
        )
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(
            scope,
            readings.c.ts >= _at(windows.history_start),
            readings.c.ts < _at(windows.end),
        )
        .group_by(readings.c.customer_id, day)
    )
    conn.execute(_daily.insert().from_select([c.name for c in _daily.columns], select))


def _fill_weather(conn: sa.Connection, windows: Windows) -> None:
    weather = schema.weather
    day = functions.day(weather.c.ts)
    select = (
        sa.select(weather.c.region, day, sa.func.avg(weather.c.temperature_c))
        .where(
            weather.c.ts >= _at(windows.history_start),
            weather.c.ts < _at(windows.end),
        )
        .group_by(weather.c.region, day)
    )
    conn.execute(_weather.insert().from_select(["region", "day", "temperature_c"], select))


def _window_sums(name: str, condition: sa.ColumnElement) -> list[sa.ColumnElement]:
    daily = _daily.c
    return [
        count_if(condition).label(f"{name}_days"),
        sum_if(condition, daily.kwh).label(f"{name}_kwh"),
        sum_if(condition, daily.readings).label(f"{name}_readings"),
        sum_if(condition, daily.zero_readings).label(f"{name}_zero"),
        sum_if(condition, daily.kwh_squared).label(f"{name}_squared"),
        sum_if(condition, daily.night_kwh).label(f"{name}_night_kwh"),
        sum_if(condition, daily.night_readings).label(f"{name}_night_readings"),
    ]


def _regression_sums(name: str, condition: sa.ColumnElement) -> list[sa.ColumnElement]:
    temperature = _weather.c.temperature_c
    # Degree days of the features' bases: cooling above 26 °C plus heating below 18 °C.
    x = sa.case(
        (temperature > features.COOLING_BASE_C, temperature - features.COOLING_BASE_C),
        (temperature < features.HEATING_BASE_C, features.HEATING_BASE_C - temperature),
        else_=0.0,
    )
    y = _daily.c.kwh
    with_temperature = sa.and_(condition, temperature.is_not(None))
    return [
        count_if(with_temperature).label(f"{name}_n"),
        sum_if(with_temperature, x).label(f"{name}_x"),
        sum_if(with_temperature, y).label(f"{name}_y"),
        sum_if(with_temperature, x * y).label(f"{name}_xy"),
        sum_if(with_temperature, x * x).label(f"{name}_xx"),
        sum_if(with_temperature, y * y).label(f"{name}_yy"),
        sum_if(with_temperature, temperature).label(f"{name}_t"),
        sum_if(with_temperature, temperature * temperature).label(f"{name}_tt"),
    ]


def _customer_sums(windows: Windows) -> sa.Select:
    daily, customers = _daily, schema.customers
    day = daily.c.day
    conditions = {
        "recent": sa.and_(day >= windows.recent_start, day < windows.end),
        "year": sa.and_(day >= windows.year_start, day < windows.year_end),
        "before": sa.and_(day >= windows.before_start, day < windows.recent_start),
    }
    weeks = []
    for week in range(windows.weeks):
        first = windows.recent_start + dt.timedelta(days=7 * week)
        in_week = sa.and_(day >= first, day < first + dt.timedelta(days=7))
        weeks += [
            sum_if(in_week, daily.c.kwh).label(f"week{week}_kwh"),
            count_if(in_week).label(f"week{week}_days"),
        ]
    temperature_recent = sa.and_(day >= windows.temperature_start, day < windows.end)
    temperature_reference = sa.and_(
        day >= windows.temperature_reference_start, day < windows.temperature_start
    )
    source = daily.join(customers, customers.c.customer_id == daily.c.customer_id).outerjoin(
        _weather, sa.and_(_weather.c.region == customers.c.region, _weather.c.day == day)
    )
    return (
        sa.select(
            daily.c.customer_id,
            *(
                column
                for name, condition in conditions.items()
                for column in _window_sums(name, condition)
            ),
            *weeks,
            *_regression_sums("temperature_recent", temperature_recent),
            *_regression_sums("temperature_reference", temperature_reference),
        )
        .select_from(source)
        .group_by(daily.c.customer_id)
    )


def _hour_sums(scope: sa.ColumnElement, windows: Windows) -> sa.Select:
    readings, customers = schema.readings, schema.customers
    ts = readings.c.ts
    window = sa.case(
        (ts >= _at(windows.recent_start), "recent"),
        (sa.and_(ts >= _at(windows.before_start), ts < _at(windows.recent_start)), "before"),
        (sa.and_(ts >= _at(windows.year_start), ts < _at(windows.year_end)), "year"),
        else_=None,
    ).label("window")
    hour = sa.extract("hour", ts).label("hour")
    inner = (
        sa.select(readings.c.customer_id, hour, window, readings.c.kwh)
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(scope, ts >= _at(windows.year_start), ts < _at(windows.end))
        .subquery("windowed")
    )
    return (
        sa.select(
            inner.c.customer_id,
            inner.c.hour,
            inner.c.window,
            sa.func.sum(inner.c.kwh).label("kwh"),
            sa.func.count().label("readings"),
        )
        .where(inner.c.window.is_not(None))
        .group_by(inner.c.customer_id, inner.c.hour, inner.c.window)
    )


def _reverse_readings(scope: sa.ColumnElement, since: dt.datetime) -> sa.Select:
    """Negative interval energy the import rejected per customer since ``since``."""
    rejected, customers = schema.rejected_rows, schema.customers
    return (
        sa.select(rejected.c.customer_id, sa.func.count().label("reverse_readings"))
        .join(customers, customers.c.customer_id == rejected.c.customer_id)
        .where(
            scope,
            rejected.c.table_name == schema.readings.name,
            rejected.c.column_name == "kwh",
            rejected.c.reason_code == REVERSE_REASON,
            rejected.c.rejected_at >= since,
        )
        .group_by(rejected.c.customer_id)
    )


@dataclass(frozen=True)
class Collected:
    """What one refresh read from the store: one row per customer, and per customer and hour.

    Attributes:
        windows: the windows compared.
        customers: the archive fields, the sums of each window and the regression sums.
        hours: ``customer_id``, ``hour``, ``window``, ``kwh``, ``readings``.
    """

    windows: Windows
    customers: pd.DataFrame
    hours: pd.DataFrame


def collect(
    conn: sa.Connection,
    viewer: access.Viewer,
    windows: Windows,
    *,
    reverse_since: dt.datetime,
) -> Collected:
    """Aggregates the readings of the customers the viewer may see into per-customer sums.

    Args:
        conn: a connection inside ``engine.begin()`` (the work tables live on it).
        viewer: whose customers.
        windows: the windows to compare.
        reverse_since: count rejected negative readings from this moment on.
    """
    scope = access.customer_scope(viewer)
    for table in _work.sorted_tables:
        conn.execute(sa.schema.DropTable(table, if_exists=True))
        conn.execute(sa.schema.CreateTable(table))
    try:
        _fill_daily(conn, scope, windows)
        _fill_weather(conn, windows)
        sums = pd.DataFrame(conn.execute(_customer_sums(windows)).mappings().all())
        hours = pd.DataFrame(
            conn.execute(_hour_sums(scope, windows)).all(),
            columns=["customer_id", "hour", "window", "kwh", "readings"],
        )
    finally:
        for table in _work.sorted_tables:
            conn.execute(sa.schema.DropTable(table, if_exists=True))
    customers = schema.customers
    archive = pd.read_sql(
        sa.select(
            customers.c.customer_id,
            customers.c.customer_class,
            customers.c.contract_capacity_kva,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.tariff_code,
            customers.c.status,
            customers.c.lat,
            customers.c.lon,
        ).where(scope),
        conn,
    )
    reverse = pd.DataFrame(
        conn.execute(_reverse_readings(scope, reverse_since)).all(),
        columns=["customer_id", "reverse_readings"],
    )
    frame = archive.merge(sums, on="customer_id", how="inner") if len(sums) else archive.iloc[:0]
    frame = frame.merge(reverse, on="customer_id", how="left")
    frame["reverse_readings"] = frame["reverse_readings"].fillna(0).astype(int)
    numeric = [name for name in frame.columns if name not in archive.columns]
    frame[numeric] = frame[numeric].astype(float)
    hours["hour"] = hours["hour"].astype(int)
    hours[["kwh", "readings"]] = hours[["kwh", "readings"]].astype(float)
    return Collected(windows, frame.reset_index(drop=True), hours)


def _safe_ratio(numerator, denominator):
    with np.errstate(divide="ignore", invalid="ignore"):
        result = np.asarray(numerator, dtype=float) / np.asarray(denominator, dtype=float)
    return np.where(np.isfinite(result), result, np.nan)


def _correlation(sums: pd.DataFrame, name: str) -> np.ndarray:
    n = sums[f"{name}_n"].to_numpy()
    sx, sy = sums[f"{name}_x"].to_numpy(), sums[f"{name}_y"].to_numpy()
    sxy, sxx, syy = (sums[f"{name}_{part}"].to_numpy() for part in ("xy", "xx", "yy"))
    covariance = n * sxy - sx * sy
    spread = np.sqrt(np.clip(n * sxx - sx * sx, 0, None) * np.clip(n * syy - sy * sy, 0, None))
    correlation = _safe_ratio(covariance, spread)
    # A line that does not move at all follows no temperature: zero, not unknown.
    flat_use = (n >= 2) & (np.clip(n * syy - sy * sy, 0, None) <= 1e-12)
    return np.where(flat_use & (np.clip(n * sxx - sx * sx, 0, None) > 0), 0.0, correlation)


def derive(collected: Collected, settings: Settings) -> pd.DataFrame:
    """The measures the rules judge, one row per customer.

    The reference is the same weeks a year before when readings cover them, otherwise the weeks
    just before the recent ones; a customer with neither has no reference, and the rules that
    compare with one leave them alone.

    Returns:
        The archive fields and ``reference`` (``year``, ``before`` or None), ``recent_daily_kwh``,
        ``reference_daily_kwh``, ``drop_ratio`` (the highest recent week over the reference),
        ``variation``, ``zero_share``, ``night_day_recent`` / ``night_day_reference`` /
        ``night_day_increase``, ``pattern_correlation``, ``hours_down``,
        ``temperature_reference`` / ``temperature_recent`` (correlations),
        ``temperature_sd``, ``reverse_readings``, ``reference_variation``, and
        ``recent_profile`` / ``reference_profile`` (kWh per day in each hour of the day).
    """
    frame = collected.customers.copy()
    windows = collected.windows
    coverage = settings.windows["min_coverage"]
    has_year = frame["year_days"].fillna(0) >= coverage * windows.days("year")
    has_before = frame["before_days"].fillna(0) >= coverage * windows.days("before")
    reference = np.where(has_year, "year", np.where(has_before, "before", None))
    frame["reference"] = reference

    def pick(part: str) -> np.ndarray:
        return np.where(
            has_year,
            frame[f"year_{part}"],
            np.where(has_before, frame[f"before_{part}"], np.nan),
        ).astype(float)

    reference_kwh, reference_days = pick("kwh"), pick("days")
    frame["reference_days"] = reference_days
    reference_readings, reference_squared = pick("readings"), pick("squared")
    frame["recent_daily_kwh"] = _safe_ratio(frame["recent_kwh"], frame["recent_days"])
    frame["reference_daily_kwh"] = _safe_ratio(reference_kwh, reference_days)
    weekly = np.column_stack(
        [
            _safe_ratio(frame[f"week{week}_kwh"], frame[f"week{week}_days"])
            for week in range(windows.weeks)
        ]
    )
    with np.errstate(all="ignore"):
        highest_week = np.nanmax(np.where(np.isnan(weekly), -np.inf, weekly), axis=1)
    highest_week = np.where(np.isfinite(highest_week), highest_week, np.nan)
    frame["drop_ratio"] = _safe_ratio(highest_week, frame["reference_daily_kwh"])

    def variation(kwh, readings, squared) -> np.ndarray:
        mean = _safe_ratio(kwh, readings)
        spread = np.sqrt(np.clip(_safe_ratio(squared, readings) - mean * mean, 0, None))
        return _safe_ratio(spread, mean)

    frame["variation"] = variation(
        frame["recent_kwh"], frame["recent_readings"], frame["recent_squared"]
    )
    frame["reference_variation"] = variation(reference_kwh, reference_readings, reference_squared)
    frame["zero_share"] = _safe_ratio(frame["recent_zero"], frame["recent_readings"])

    def night_day(kwh, readings, night_kwh, night_readings) -> np.ndarray:
        night = _safe_ratio(night_kwh, night_readings)
        day = _safe_ratio(np.asarray(kwh) - np.nan_to_num(night_kwh), readings - night_readings)
        return _safe_ratio(night, day)

    frame["night_day_recent"] = night_day(
        frame["recent_kwh"],
        frame["recent_readings"],
        frame["recent_night_kwh"],
        frame["recent_night_readings"],
    )
    frame["night_day_reference"] = night_day(
        reference_kwh, reference_readings, pick("night_kwh"), pick("night_readings")
    )
    frame["night_day_increase"] = _safe_ratio(
        frame["night_day_recent"], frame["night_day_reference"]
    )
    frame["temperature_reference"] = _correlation(frame, "temperature_reference")
    frame["temperature_recent"] = _correlation(frame, "temperature_recent")
    n = frame["temperature_recent_n"].to_numpy()
    mean_t = _safe_ratio(frame["temperature_recent_t"], n)
    frame["temperature_sd"] = np.sqrt(
        np.clip(_safe_ratio(frame["temperature_recent_tt"], n) - mean_t * mean_t, 0, None)
    )
    profiles = _profiles(collected.hours, frame, settings)
    frame = frame.merge(profiles, on="customer_id", how="left")
    frame["hours_down"] = frame["hours_down"].fillna(0).astype(int)
    return frame


def _profiles(hours: pd.DataFrame, frame: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Hour-of-day profiles of the recent and the reference window, and how they compare."""
    columns = ["pattern_correlation", "hours_down", "recent_profile", "reference_profile"]
    chosen = frame[["customer_id", "reference", "recent_days", "reference_days"]].dropna()
    wanted = hours.merge(chosen, on="customer_id")
    wanted = wanted[(wanted["window"] == "recent") | (wanted["window"] == wanted["reference"])]
    if wanted.empty:
        return pd.DataFrame(columns=["customer_id", *columns])
    wanted = wanted.assign(side=np.where(wanted["window"] == "recent", "recent", "reference"))
    hours_of_day = list(range(24))

    def grid(values: str, side: str) -> pd.DataFrame:
        rows = wanted[wanted["side"] == side]
        table = rows.pivot_table(index="customer_id", columns="hour", values=values, aggfunc="sum")
        return table.reindex(index=customers, columns=hours_of_day)

    customers = pd.Index(sorted(wanted["customer_id"].unique()), name="customer_id")
    recent_kwh, reference_kwh = grid("kwh", "recent"), grid("kwh", "reference")
    # The mean reading of each hour: comparable whatever the interval and the days covered.
    recent = _safe_ratio(recent_kwh, grid("readings", "recent"))
    reference = _safe_ratio(reference_kwh, grid("readings", "reference"))
    rule = settings.rules.get("hours_bypassed")
    max_hour_ratio = rule["max_hour_ratio"] if rule else 0.0
    # An hour counts when it carried a fair part of the day before: a third of the hourly mean.
    reference_mean = np.nanmean(reference, axis=1, keepdims=True)
    significant = reference >= reference_mean / 3
    down = significant & (np.nan_to_num(recent, nan=0.0) <= max_hour_ratio * reference)
    centred_recent = recent - np.nanmean(recent, axis=1, keepdims=True)
    centred_reference = reference - reference_mean
    recent_spread = np.nansum(centred_recent**2, axis=1)
    covariance = np.nansum(centred_recent * centred_reference, axis=1)
    spread = np.sqrt(recent_spread * np.nansum(centred_reference**2, axis=1))
    # A recent profile that does not move (a flat line) has no pattern to compare.
    correlation = np.where(recent_spread <= 1e-12, np.nan, _safe_ratio(covariance, spread))
    days = chosen.set_index("customer_id").reindex(customers)
    return pd.DataFrame(
        {
            "customer_id": customers,
            "pattern_correlation": correlation,
            "hours_down": down.sum(axis=1),
            # kWh on an average day in each hour of the day.
            "recent_profile": list(
                np.nan_to_num(_safe_ratio(recent_kwh, days[["recent_days"]].to_numpy()))
            ),
            "reference_profile": list(
                np.nan_to_num(_safe_ratio(reference_kwh, days[["reference_days"]].to_numpy()))
            ),
        }
    )
