"""Hourly load and temperature series of a level of the service area, read from the store.

The store sums the readings by hour (SQL ``GROUP BY`` over readings joined to customers, within
the viewer's scope); pandas only ever holds the hourly series. The output follows the column
contract of :mod:`core.forecast` (``ds``, ``y``, ``temperature_c``).
"""

import dataclasses
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from core import access, errors, forecast, ingest
from core.store import functions, schema

Level = Literal["service_area", "district", "customer_class", "customer"]
LEVELS: tuple[str, ...] = ("service_area", "district", "customer_class", "customer")
# Horizons the product offers: steps ahead and the frequency they are forecast at.
HORIZONS: dict[str, tuple[int, forecast.Freq]] = {
    "day_ahead": (24, "h"),
    "two_weeks": (14 * 24, "h"),
    "three_months": (91, "D"),
}
# Backtest origins per horizon: daily origins for the hourly horizons, monthly for three months.
BACKTEST_STEP: dict[str, int] = {"day_ahead": 24, "two_weeks": 24, "three_months": 30}
BACKTEST_FOLDS: dict[str, int] = {"day_ahead": 7, "two_weeks": 7, "three_months": 3}


def level_keys(conn: sa.Connection, viewer: access.Viewer, level: Level) -> list[str]:
    """The series a level has, within the viewer's scope.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: ``service_area`` (one series, key ``""``), ``district`` or ``customer_class``;
            customers are picked one by one and not listed here.

    Returns:
        The keys, sorted.

    Raises:
        ValueError: the level is not one of :data:`LEVELS` or is ``customer``.
    """
    customers = schema.customers
    if level == "service_area":
        return [""]
    if level not in ("district", "customer_class"):
        raise ValueError(
            f"keys can be listed for service_area, district or customer_class, not {level!r}"
        )
    column = customers.c.region if level == "district" else customers.c.customer_class
    rows = conn.execute(
        sa.select(column).where(access.customer_scope(viewer)).distinct().order_by(column)
    )
    return [str(value) for (value,) in rows]


def _level_condition(level: Level, key: str | None) -> sa.ColumnElement:
    customers = schema.customers
    if level == "service_area":
        return sa.true()
    if level not in LEVELS:
        raise errors.UserError(
            "forecast.error.unknown_level", level=level, levels=", ".join(LEVELS)
        )
    if not key:
        raise errors.UserError("forecast.error.level_needs_key")
    column = {
        "district": customers.c.region,
        "customer_class": customers.c.customer_class,
        "customer": customers.c.customer_id,
    }[level]
    return column == key


def hourly_load(
    conn: sa.Connection, viewer: access.Viewer, level: Level, key: str | None = None
) -> pd.DataFrame:
    """The level's load summed by hour in the store.

    Args:
        conn: a store connection.
        viewer: who is asking; only customers in their scope count.
        level: one of :data:`LEVELS`.
        key: the district, customer class or customer id; ignored for the service area.

    Returns:
        ``ds`` (hour start) and ``y`` (kWh), one row per hour with readings, oldest first.

    Raises:
        ValueError: unknown level, missing key, or no readings for it in the viewer's scope.
    """
    readings, customers = schema.readings, schema.customers
    hour = functions.hour_start(readings.c.ts).label("ds")
    query = (
        sa.select(hour, sa.func.sum(readings.c.kwh).label("y"))
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(access.customer_scope(viewer), _level_condition(level, key))
        .group_by(hour)
        .order_by(hour)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["ds", "y"])
    if frame.empty:
        if level == "service_area":
            raise errors.UserError("forecast.error.no_readings_service_area")
        raise errors.UserError("forecast.error.no_readings", which=key)
    return frame.assign(ds=pd.to_datetime(frame["ds"]), y=frame["y"].astype(float))


def hourly_load_by(conn: sa.Connection, viewer: access.Viewer, level: Level) -> pd.DataFrame:
    """Every series of a level at once, summed by key and hour in one query.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: ``district`` or ``customer_class``.

    Returns:
        ``key``, ``ds`` and ``y``, sorted by key and hour.

    Raises:
        ValueError: the level has no grouping column.
    """
    readings, customers = schema.readings, schema.customers
    if level not in ("district", "customer_class"):
        raise ValueError(f"series by key exist for district and customer_class, not {level!r}")
    column = customers.c.region if level == "district" else customers.c.customer_class
    hour = functions.hour_start(readings.c.ts).label("ds")
    query = (
        sa.select(column.label("key"), hour, sa.func.sum(readings.c.kwh).label("y"))
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(access.customer_scope(viewer))
        .group_by(column, hour)
        .order_by(column, hour)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["key", "ds", "y"])
    return frame.assign(ds=pd.to_datetime(frame["ds"]), y=frame["y"].astype(float))


def level_regions(
    conn: sa.Connection, viewer: access.Viewer, level: Level, key: str | None = None
) -> list[str]:
    """The districts whose weather stands for a level: where its customers are."""
    customers = schema.customers
    query = (
        sa.select(customers.c.region)
        .where(access.customer_scope(viewer), _level_condition(level, key))
        .distinct()
        .order_by(customers.c.region)
    )
    return [str(region) for (region,) in conn.execute(query)]


def hourly_temperature(conn: sa.Connection, regions: Sequence[str]) -> pd.DataFrame:
    """Hourly temperature averaged over districts, from the weather table.

    Args:
        conn: a store connection.
        regions: the districts to average.

    Returns:
        ``ds`` and ``temperature_c``, oldest first; empty when there is no weather for them.
    """
    weather = schema.weather
    query = (
        sa.select(weather.c.ts, sa.func.avg(weather.c.temperature_c))
        .where(weather.c.region.in_(list(regions)))
        .group_by(weather.c.ts)
        .order_by(weather.c.ts)
    )
    frame = pd.DataFrame(conn.execute(query).all(), columns=["ds", "temperature_c"])
    return frame.assign(
        ds=pd.to_datetime(frame["ds"]), temperature_c=frame["temperature_c"].astype(float)
    )


def level_series(
    conn: sa.Connection, viewer: access.Viewer, level: Level, key: str | None = None
) -> pd.DataFrame:
    """The level's hourly load with its temperature, ready for :func:`core.forecast.forecast`.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: one of :data:`LEVELS`.
        key: the district, customer class or customer id.

    Returns:
        ``ds``, ``y`` and, when the store has weather for the level's districts, ``temperature_c``.

    Raises:
        ValueError: unknown level, missing key, or no readings in the viewer's scope.
    """
    load = hourly_load(conn, viewer, level, key)
    temperature = hourly_temperature(conn, level_regions(conn, viewer, level, key))
    if temperature.empty:
        return load
    return load.merge(temperature, on="ds", how="left")


def future_temperature(
    conn: sa.Connection,
    viewer: access.Viewer,
    level: Level,
    key: str | None,
    future: Sequence,
) -> pd.DataFrame:
    """Expected temperature for future hours: the level's climatology by day of year and hour.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: one of :data:`LEVELS`.
        key: the district, customer class or customer id.
        future: the timestamps to give a temperature.

    Returns:
        ``ds`` and ``temperature_c``.

    Raises:
        ValueError: no weather history for the level's districts.
    """
    history = hourly_temperature(conn, level_regions(conn, viewer, level, key))
    return forecast.climatology(history, future)


@dataclasses.dataclass(frozen=True)
class LevelForecast:
    """A level's forecast with what the page shows around it.

    Attributes:
        history: the level's history as forecast (``ds``, ``y``, maybe ``temperature_c``).
        result: the forecast, its components and backtest.
        temperature_source: where the future temperature came from: ``climatology`` (the level's
            districts by day of year and hour) or ``none`` (the store has no weather for it).
        freq: ``h`` or ``D``.
    """

    history: pd.DataFrame
    result: forecast.Forecast
    temperature_source: str
    freq: forecast.Freq


def forecast_level(
    conn: sa.Connection,
    viewer: access.Viewer,
    level: Level,
    key: str | None,
    horizon: str,
    *,
    calendar: str = "cn",
    temperature_shift_c: float | None = None,
    weather_forecast: pd.DataFrame | None = None,
) -> LevelForecast:
    """Forecasts one level at one of the product's :data:`HORIZONS`, temperature from climatology.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: one of :data:`LEVELS`.
        key: the district, customer class or customer id.
        horizon: a key of :data:`HORIZONS`.
        calendar: the holiday calendar (see :func:`core.calendars.day_calendar`).
        temperature_shift_c: the what-if temperature shift; by default the season's direction.
        weather_forecast: a temperature forecast (``ds``, ``temperature_c``, hourly); used when it
            covers the whole horizon, else the climatology is.

    Returns:
        The forecast with its history and backtest.

    Raises:
        ValueError: an unknown horizon or level, or a series that cannot be forecast (the message
            says why and which window could be used).
    """
    steps, freq, history, future, source = _level_inputs(
        conn, viewer, level, key, horizon, weather_forecast=weather_forecast
    )
    result = forecast.forecast(
        history,
        horizon=steps,
        freq=freq,
        future=future,
        calendar=calendar,
        folds=BACKTEST_FOLDS[horizon],
        step=BACKTEST_STEP[horizon],
        temperature_shift_c=temperature_shift_c,
    )
    return LevelForecast(history, result, source, freq)


def _level_inputs(
    conn, viewer, level, key, horizon: str, load=None, weather_forecast: pd.DataFrame | None = None
):
    horizon_steps(horizon)
    history = hourly_load(conn, viewer, level, key) if load is None else load
    regions = level_regions(conn, viewer, level, key)
    temperature = hourly_temperature(conn, regions)
    return series_inputs(history, temperature, horizon, weather_forecast)


def horizon_steps(horizon: str) -> tuple[int, forecast.Freq]:
    """Steps ahead and frequency of a product horizon; a UserError names the known ones."""
    if horizon not in HORIZONS:
        raise errors.UserError(
            "forecast.error.unknown_horizon", horizon=horizon, horizons=", ".join(HORIZONS)
        )
    return HORIZONS[horizon]


def series_inputs(
    load: pd.DataFrame,
    temperature: pd.DataFrame,
    horizon: str,
    weather_forecast: pd.DataFrame | None = None,
) -> tuple[int, forecast.Freq, pd.DataFrame, pd.DataFrame | None, str]:
    """A series' forecast inputs from its hourly load and temperature, wherever they were read.

    Args:
        load: ``ds`` and ``y`` by hour, oldest first.
        temperature: ``ds`` and ``temperature_c`` by hour (empty when there is no weather).
        horizon: a key of :data:`HORIZONS`.
        weather_forecast: a temperature forecast (``ds``, ``temperature_c``, hourly), or None.

    Returns:
        Steps, frequency, the history (daily for a daily horizon), the future temperature (None
        without weather) and where it came from (``supplied``, ``climatology`` or ``none``).
    """
    steps, freq = horizon_steps(horizon)
    history = load
    if not temperature.empty:
        history = history.merge(temperature, on="ds", how="left")
    if freq == "D":
        history = forecast.to_daily(history)
    future, source = None, "none"
    if "temperature_c" in history:
        weather = temperature
        if weather_forecast is not None:
            supplied = weather_forecast[["ds", "temperature_c"]]
            weather = pd.concat([temperature[~temperature["ds"].isin(supplied["ds"])], supplied])
            weather = weather.sort_values("ds", ignore_index=True)
        future, source = future_from_weather(weather, history, steps, freq)
    return steps, freq, history, future, source


def forecast_all(
    conn: sa.Connection,
    viewer: access.Viewer,
    level: Level,
    horizon: str,
    *,
    calendar: str = "cn",
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
) -> list[forecast.SeriesOutcome]:
    """Forecasts every series of a level in parallel processes.

    Args:
        conn: a store connection.
        viewer: who is asking.
        level: ``district`` or ``customer_class``.
        horizon: a key of :data:`HORIZONS`.
        calendar: the holiday calendar.
        workers: processes (default: the machine's CPUs).
        progress: called as ``progress(done, total, key)``.

    Returns:
        One outcome per key, sorted by key; a series that cannot be forecast carries its reason.
    """
    tasks = []
    for key, load in hourly_load_by(conn, viewer, level).groupby("key", sort=True):
        inputs = _level_inputs(conn, viewer, level, str(key), horizon, load.drop(columns="key"))
        tasks.append(forecast.SeriesTask(str(key), inputs[2], inputs[3]))
    steps, freq = HORIZONS[horizon]
    return forecast.forecast_many(
        tasks,
        workers=workers,
        progress=progress,
        horizon=steps,
        freq=freq,
        calendar=calendar,
        folds=BACKTEST_FOLDS[horizon],
        step=BACKTEST_STEP[horizon],
    )


# Series from files, for checking the models on outside data


def readings_to_hourly(frame: pd.DataFrame, name: str = "readings") -> pd.DataFrame:
    """Sums long-layout readings (``ts``, ``kwh``, optional ``customer_id``) into an hourly series.

    Readings may come every 15, 30 or 60 minutes. An hour in which a customer that is reporting
    at the time has fewer readings than its interval implies is left missing rather than
    undercounted; the forecast fills short gaps and reports long ones.

    Args:
        frame: the readings; ``ts`` is the interval start in local time.
        name: the file's name, for messages.

    Returns:
        ``ds`` and ``y`` (kWh per hour, missing where incomplete).

    Raises:
        core.ingest.FileRejected: rows that fail the import's checks, named with their row.
        ValueError: readings coarser than hourly.
    """
    readings = ingest.validate_readings(frame, name)[["customer_id", "ts", "kwh"]]
    interval = pd.to_timedelta(ingest.interval_minutes(readings), unit="min")
    if interval.empty:
        raise ValueError(f"{name}: needs at least two readings per customer")
    too_coarse = interval[interval > pd.Timedelta(hours=1)]
    if not too_coarse.empty:
        single = too_coarse.index[0] == ingest.SINGLE_SERIES
        raise ValueError(
            f"{name}: readings come every {too_coarse.iloc[0]} "
            f"{'' if single else 'for customer ' + str(too_coarse.index[0])}; "
            "the load forecast needs hourly or finer readings".replace("  ", " ")
        )
    per_hour = (pd.Timedelta(hours=1) / interval).round().astype(int)
    readings["ds"] = readings["ts"].dt.floor("h")
    hours = readings.groupby(["customer_id", "ds"], as_index=False).agg(
        kwh=("kwh", "sum"), count=("kwh", "size")
    )
    hours["complete"] = hours["count"] >= hours["customer_id"].map(per_hour)
    span = hours.groupby("customer_id")["ds"].agg(["min", "max"])
    index = pd.date_range(hours["ds"].min(), hours["ds"].max(), freq="h")
    # customers reporting in each hour: +1 at a customer's first hour, -1 after its last
    events = pd.concat(
        [
            pd.Series(1, index=span["min"].to_numpy()),
            pd.Series(-1, index=(span["max"] + pd.Timedelta(hours=1)).to_numpy()),
        ]
    )
    active = events.groupby(level=0).sum().reindex(index, fill_value=0).cumsum()
    totals = hours.groupby("ds").agg(y=("kwh", "sum"), complete=("complete", "sum")).reindex(index)
    complete = totals["complete"].fillna(0).to_numpy() == active.to_numpy()
    y = totals["y"].where(complete)
    return pd.DataFrame({"ds": index, "y": y.to_numpy(dtype=float)})


def weather_to_hourly(weather: pd.DataFrame) -> pd.DataFrame:
    """Hourly mean temperature of checked weather (``ts``, ``temperature_c``).

    Args:
        weather: as :func:`core.ingest.read_weather` returns it.

    Returns:
        ``ds`` and ``temperature_c``.
    """
    hourly = weather.assign(ds=weather["ts"].dt.floor("h"))
    return hourly.groupby("ds", as_index=False)["temperature_c"].mean()


def file_series(
    readings_path: str | Path, weather_path: str | Path | None = None
) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The hourly series of a readings file with the temperature of a weather file.

    Args:
        readings_path: long-layout readings (``ts``, ``kwh``, optional ``customer_id``).
        weather_path: hourly temperature (``ts``, ``temperature_c``), or None.

    Returns:
        The history (``ds``, ``y`` and, with weather, ``temperature_c``) and the whole weather
        (which may reach past the readings, as a forecast), or None without a weather file.

    Raises:
        FileNotFoundError: a file is missing.
        ValueError: a file cannot be read or fails validation.
    """
    history = readings_to_hourly(ingest.read_readings(readings_path), Path(readings_path).name)
    if weather_path is None:
        return history, None
    weather = weather_to_hourly(ingest.read_weather(weather_path))
    joined = history.merge(weather, on="ds", how="left")
    if joined["temperature_c"].isna().all():
        raise errors.UserError(
            "forecast.error.weather_outside",
            name=Path(weather_path).name,
            first=f"{history['ds'].min():%Y-%m-%d}",
            last=f"{history['ds'].max():%Y-%m-%d}",
        )
    return joined, weather


def future_from_weather(
    weather: pd.DataFrame, history: pd.DataFrame, steps: int, freq: forecast.Freq
) -> tuple[pd.DataFrame, str]:
    """Future temperature: the weather file where it covers the horizon, else its climatology.

    Returns:
        ``ds`` and ``temperature_c`` for the horizon (daily means for ``D``), and where they
        came from: ``supplied`` or ``climatology``.
    """
    first = forecast.future_index(history, steps, freq)[0]
    hours = pd.date_range(first, periods=steps if freq == "h" else steps * 24, freq="h")
    supplied = weather.set_index("ds")["temperature_c"].reindex(hours)
    if supplied.notna().all():
        future, source = (
            pd.DataFrame({"ds": hours, "temperature_c": supplied.to_numpy()}),
            "supplied",
        )
    else:
        future, source = forecast.climatology(weather, hours), "climatology"
    if freq == "D":
        future = (
            future.assign(ds=future["ds"].dt.normalize())
            .groupby("ds", as_index=False)["temperature_c"]
            .mean()
        )
    return future, source
