"""Load forecasts of many series at once: every transformer area and every large customer.

Spark sums the lake's readings by series and hour and averages the weather of each series'
districts by hour (the same sums :mod:`core.load_series` takes from the store); each series is
then one pandas group, forecast by the app's own functions: :func:`core.load_series.series_inputs`
(history, future temperature) and :func:`core.forecast.forecast_one` (every model, backtest,
ensemble). A series that cannot be forecast comes back with its reason.
"""

from collections.abc import Collection
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import forecast, load_series
from core.spark import dialect
from core.store import functions, schema

# A large customer: the contract capacity from which large-industry two-part pricing applies;
# its own load is planned for, not only its transformer area's.
LARGE_CUSTOMER_KVA = 315.0
LEVELS = ("transformer_area", "customer")
DEFAULT_HORIZON = "day_ahead"
FORECAST_COLUMNS = (
    ("level", "string"),
    ("key", "string"),
    ("ds", "timestamp_ntz"),
    ("yhat", "double"),
    ("yhat_lower", "double"),
    ("yhat_upper", "double"),
    ("yhat_what_if", "double"),
    ("yhat_seasonal_naive", "double"),
    ("yhat_prophet", "double"),
    ("yhat_gbm", "double"),
    ("error", "string"),
)
FORECAST_SCHEMA = ", ".join(f"{name} {kind}" for name, kind in FORECAST_COLUMNS)


@dataclass(frozen=True)
class ForecastsSummary:
    """What a forecasts job wrote.

    Attributes:
        series: series forecast.
        failed: series that could not be forecast (their reason is in ``error``).
        rows: forecast rows.
        horizon: the product horizon (:data:`core.load_series.HORIZONS`).
        output: the Parquet folder of the rows.
        seconds: wall time.
    """

    series: int
    failed: int
    rows: int
    horizon: str
    output: str
    seconds: float


def _series_key(level: str) -> sa.ColumnElement:
    customers = schema.customers
    return customers.c.transformer_area if level == "transformer_area" else customers.c.customer_id


def _members(level: str, keys: Collection[str] | None) -> sa.ColumnElement:
    customers = schema.customers
    key = _series_key(level)
    condition = key.is_not(None)
    if level == "customer":
        condition = sa.and_(condition, customers.c.contract_capacity_kva >= LARGE_CUSTOMER_KVA)
    if keys is not None:
        condition = sa.and_(condition, key.in_(sorted(keys)))
    return condition


def load_select(level: str, keys: Collection[str] | None = None) -> sa.Select:
    """Each series' load by hour: ``level``, ``key``, ``ds`` (hour start), ``y`` (kWh)."""
    readings, customers = schema.readings, schema.customers
    key = _series_key(level).label("key")
    hour = functions.hour_start(readings.c.ts).label("ds")
    return (
        sa.select(
            sa.literal(level, sa.String).label("level"),
            key,
            hour,
            sa.func.sum(readings.c.kwh).label("y"),
        )
        .select_from(readings.join(customers, customers.c.customer_id == readings.c.customer_id))
        .where(_members(level, keys))
        .group_by(_series_key(level), hour)
    )


def temperature_select(level: str, keys: Collection[str] | None = None) -> sa.Select:
    """Each series' temperature by hour: the mean over the districts of its customers."""
    weather, customers = schema.weather, schema.customers
    regions = (
        sa.select(_series_key(level).label("key"), customers.c.region)
        .where(_members(level, keys))
        .distinct()
        .subquery("series_regions")
    )
    return (
        sa.select(
            sa.literal(level, sa.String).label("level"),
            regions.c.key,
            weather.c.ts.label("ds"),
            sa.func.avg(weather.c.temperature_c).label("temperature_c"),
        )
        .select_from(weather.join(regions, regions.c.region == weather.c.region))
        .group_by(regions.c.key, weather.c.ts)
    )


def series_forecast(
    load: pd.DataFrame, temperature: pd.DataFrame, horizon: str, options: dict
) -> pd.DataFrame:
    """One series' forecast as rows of :data:`FORECAST_COLUMNS` (one row with its reason if none).

    Args:
        load: ``level``, ``key``, ``ds``, ``y`` of one series, any order.
        temperature: ``level``, ``key``, ``ds``, ``temperature_c`` of the series (may be empty).
        horizon: a key of :data:`core.load_series.HORIZONS`.
        options: keyword arguments for :func:`core.forecast.forecast` (folds, step, calendar).
    """
    names = [name for name, _ in FORECAST_COLUMNS]
    if load.empty:
        return pd.DataFrame(columns=names)
    level, key = str(load["level"].iloc[0]), str(load["key"].iloc[0])
    history = load_frame(load)
    weather = pd.DataFrame(
        {
            "ds": temperature["ds"].astype("datetime64[ns]"),
            "temperature_c": temperature["temperature_c"].astype(float),
        }
    ).sort_values("ds", ignore_index=True)
    try:
        steps, freq, series, future, _source = load_series.series_inputs(history, weather, horizon)
    except ValueError as error:
        return pd.DataFrame([{"level": level, "key": key, "error": str(error)}], columns=names)
    outcome = forecast.forecast_one(
        forecast.SeriesTask(key, series, future), {"horizon": steps, "freq": freq, **options}
    )
    if outcome.forecast is None:
        return pd.DataFrame([{"level": level, "key": key, "error": outcome.error}], columns=names)
    frame = outcome.forecast.frame.assign(level=level, key=key, error=None)
    return frame.reindex(columns=names)


def load_frame(load: pd.DataFrame) -> pd.DataFrame:
    """``ds`` and ``y`` of a series' hourly sums, oldest first, as the store path reads them."""
    return pd.DataFrame(
        {"ds": load["ds"].astype("datetime64[ns]"), "y": load["y"].astype(float)}
    ).sort_values("ds", ignore_index=True)


def horizon_options(horizon: str, folds: int | None = None) -> dict:
    """The backtest the app runs for a horizon (folds, step), ``folds`` overriding its folds."""
    return {
        "folds": load_series.BACKTEST_FOLDS[horizon] if folds is None else folds,
        "step": load_series.BACKTEST_STEP[horizon],
    }


def run(
    spark,
    horizon: str = DEFAULT_HORIZON,
    *,
    levels: Collection[str] = LEVELS,
    keys: Collection[str] | None = None,
    folds: int | None = None,
    calendar: str = "cn",
):
    """The forecasts of every series of the registered lake views, as a Spark DataFrame.

    Args:
        spark: the session, with :func:`core.spark.features.register_lake` done.
        horizon: a key of :data:`core.load_series.HORIZONS`.
        levels: which series: transformer areas, large customers, or both.
        keys: only these areas or customer ids; all when None.
        folds: backtest folds; the app's for the horizon when None.
        calendar: the holiday calendar.

    Returns:
        A DataFrame of :data:`FORECAST_COLUMNS`.
    """
    load_series.horizon_steps(horizon)
    options = {**horizon_options(horizon, folds), "calendar": calendar}
    loads = [spark.sql(dialect.to_sql(load_select(level, keys))) for level in levels]
    temperatures = [spark.sql(dialect.to_sql(temperature_select(level, keys))) for level in levels]
    load, temperature = loads[0], temperatures[0]
    for more_load, more_temperature in zip(loads[1:], temperatures[1:], strict=True):
        load, temperature = load.unionByName(more_load), temperature.unionByName(more_temperature)

    def one(series: pd.DataFrame, weather: pd.DataFrame) -> pd.DataFrame:
        return series_forecast(series, weather, horizon, options)

    return (
        load.groupBy("level", "key")
        .cogroup(temperature.groupBy("level", "key"))
        .applyInPandas(one, schema=FORECAST_SCHEMA)
    )
