"""Load forecasting and backtesting: pure functions over one series at a time.

Column contract: a history frame has ``ds`` (naive local time, interval start, regular at the
frequency), ``y`` (kWh per interval) and optionally ``temperature_c``; a future frame has ``ds``
and, when the history has it, ``temperature_c``. Nothing here reads the store, so one series can be
forecast in another process or on another machine (:func:`forecast_many`).

Models:
- ``seasonal_naive``: the same hour last week (the same weekday last week for daily series).
- ``prophet_default``: Prophet with its default settings, no temperature, no holidays.
- ``prophet``: Prophet with heating and cooling degrees from temperature as regressors, the chosen
  holiday calendar (Chinese with 调休 make-up workdays by default) and separate daily profiles for
  working and non-working days.
- ``gbm``: gradient boosting on calendar, holiday, temperature and lagged-load features; every lag
  is at least the horizon, so a forecast never uses load it would not have at the origin.
- ``ensemble``: a weighted mean of ``seasonal_naive``, ``prophet`` and ``gbm``, the weights
  chosen by backtest (last week's value carries the within-day shape, the models the weather).
"""

import concurrent.futures
import contextlib
import dataclasses
import logging
import math
import multiprocessing
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from core import calendars, errors, i18n

Freq = Literal["h", "D"]
Model = Literal["seasonal_naive", "prophet_default", "prophet", "gbm", "ensemble"]

MODELS: tuple[str, ...] = ("seasonal_naive", "prophet_default", "prophet", "gbm", "ensemble")
BASELINES: tuple[str, ...] = ("seasonal_naive", "prophet_default")
COMPONENTS: tuple[str, ...] = ("trend", "daily", "weekly", "yearly", "holiday", "temperature")

# Central 80 % prediction interval: the band planners read as "likely range".
INTERVAL_WIDTH = 0.8
# Gaps up to this many intervals are filled by interpolation; longer ones split the series.
MAX_FILL = {"h": 6, "D": 1}
# Least training history: four weeks hourly (four weekly cycles), eight weeks daily.
MIN_HISTORY = {"h": 28 * 24, "D": 56}
# A run of identical readings this long (in intervals) is a stuck meter, not load.
FLAT_RUN = {"h": 48, "D": 7}
SEASON = {"h": 168, "D": 7}
STEPS_PER_DAY = {"h": 24, "D": 1}
# Yearly seasonality only once a full year has been seen; with less it would fit noise.
YEARLY_MIN_DAYS = 365
# Prophet fits cost seconds on an hourly series; in a backtest it is refitted only every this many
# folds and predicts the folds in between from the last fit (never from data after their origin).
PROPHET_REFIT_EVERY = 7
PROPHET_UNCERTAINTY_SAMPLES = 300
# Prophet sees at most the last half year of an hourly history: its fit time grows faster than
# the length (on the demo's service area 2.4 s for 120 days, 27 s for 400 days of CPU) and the
# longer windows forecast no better; temperature carries the season. Daily series keep ten years.
PROPHET_MAX_HISTORY = {"h": 183 * 24, "D": 10 * 366}
# Degree-hour base temperatures: load rises below HEATING_BASE_C and above COOLING_BASE_C.
HEATING_BASE_C = 14.0
COOLING_BASE_C = 22.0
# The what-if moves the future temperature this far, in the direction that raises the load in the
# forecast's season.
WHAT_IF_DEGREES_C = 2.0
# Spring Festival load stays low for days after the statutory holiday as factories restart slowly.
SPRING_FESTIVAL = "Spring Festival"
SPRING_FESTIVAL_EXTRA_DAYS = 10
SPRING_FESTIVAL_LEAD_DAYS = 3
# The ensemble's members and the step of the weight grid searched over them.
ENSEMBLE_MEMBERS: tuple[str, ...] = ("seasonal_naive", "prophet", "gbm")
ENSEMBLE_WEIGHT_STEP = 0.1
GBM_PARAMS = {"max_iter": 200, "learning_rate": 0.08, "max_leaf_nodes": 31, "random_state": 0}
# The interval models need less precision than the point forecast; fewer rounds keep them cheap.
GBM_QUANTILE_PARAMS = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "random_state": 0,
}

_log = logging.getLogger(__name__)


class SeriesError(errors.UserError):
    """A series a model cannot be fitted on, with the longest window that could be used instead.

    Attributes:
        usable_window: ``(first, last)`` timestamps of the longest usable stretch, or None.
    """

    def __init__(
        self,
        key: str,
        usable_window: tuple[pd.Timestamp, pd.Timestamp] | None = None,
        **values: object,
    ) -> None:
        self.usable_window = usable_window
        super().__init__(key, **values)

    def text(self, language: str) -> str:
        """The message in ``language``, with the window that could be used when there is one."""
        text = super().text(language)
        if self.usable_window is None:
            return text
        first, last = self.usable_window
        window = i18n.translate(
            "forecast.error.usable_window",
            language,
            first=f"{first:%Y-%m-%d %H:%M}",
            last=f"{last:%Y-%m-%d %H:%M}",
        )
        return f"{text} {window}"


@dataclasses.dataclass(frozen=True)
class Prepared:
    """A validated history: regular, gap-filled, ready for the models.

    Attributes:
        frame: ``ds``, ``y`` and, when given, ``temperature_c``; no missing values.
        freq: ``h`` or ``D``.
        warnings: what was changed or dropped, for the user.
    """

    frame: pd.DataFrame
    freq: Freq
    warnings: tuple[errors.Notice, ...] = ()

    @property
    def has_temperature(self) -> bool:
        """Whether the models get temperature."""
        return "temperature_c" in self.frame


@dataclasses.dataclass(frozen=True)
class Backtest:
    """What a rolling-origin backtest found.

    Attributes:
        predictions: one row per model, fold and forecast time: ``model``, ``fold``, ``origin``,
            ``ds``, ``y``, ``yhat``, ``yhat_lower``, ``yhat_upper``.
        metrics: one row per model: ``model``, ``mape``, ``smape``, ``mase``, ``coverage``.
        ensemble_weights: each ensemble member's weight (they add up to one).
        horizon: steps per fold.
        freq: ``h`` or ``D``.
    """

    predictions: pd.DataFrame
    metrics: pd.DataFrame
    ensemble_weights: dict[str, float]
    horizon: int
    freq: Freq

    def best_model(self) -> str:
        """The model with the lowest MAPE."""
        return str(self.metrics.sort_values("mape", kind="stable").iloc[0]["model"])

    def error_by_hour(self) -> pd.DataFrame:
        """MAPE by hour of day (hourly) or day of week (daily), one column per model."""
        frame = self.predictions.assign(
            bucket=self.predictions["ds"].dt.hour
            if self.freq == "h"
            else self.predictions["ds"].dt.day_of_week
        )
        rows = {
            (model, bucket): mape(group["y"], group["yhat"])
            for (model, bucket), group in frame.groupby(["model", "bucket"], sort=True)
        }
        table = pd.Series(rows).unstack(0)
        table.index.name = "hour" if self.freq == "h" else "day_of_week"
        return table[[m for m in MODELS if m in table.columns]]


@dataclasses.dataclass(frozen=True)
class Forecast:
    """A forecast with its intervals, explanation and backtest.

    Attributes:
        frame: ``ds``, ``yhat``, ``yhat_lower``, ``yhat_upper`` (the ensemble), ``yhat_what_if``
            (the ensemble with temperature shifted), and ``yhat_seasonal_naive``,
            ``yhat_prophet`` and ``yhat_gbm``. Default Prophet is scored in the backtest only:
            a further fit of seconds would buy a column nobody plans with.
        components: Prophet's parts of the forecast over the last weeks of history and the
            horizon: ``ds`` and one column per entry of :data:`COMPONENTS`.
        backtest: the backtest that chose the ensemble weight, or None when none was run.
        ensemble_weights: each ensemble member's weight (they add up to one).
        temperature_shift_c: the what-if shift applied for ``yhat_what_if``.
        warnings: what was changed in the input, for the user.
    """

    frame: pd.DataFrame
    components: pd.DataFrame
    backtest: Backtest | None
    ensemble_weights: dict[str, float]
    temperature_shift_c: float
    warnings: tuple[errors.Notice, ...]


# Metrics ------------------------------------------------------------------------------------


def mape(actual: Sequence[float], predicted: Sequence[float]) -> float:
    """Mean absolute percentage error as a fraction, over the points whose actual is not zero.

    Args:
        actual: observed values.
        predicted: forecast values, same length.

    Returns:
        The MAPE (0.05 is 5 %), NaN when every actual is zero.
    """
    y, yhat = _arrays(actual, predicted)
    mask = y != 0
    if not mask.any():
        return math.nan
    return float(np.mean(np.abs(y[mask] - yhat[mask]) / np.abs(y[mask])))


def smape(actual: Sequence[float], predicted: Sequence[float]) -> float:
    """Symmetric MAPE as a fraction between 0 and 2: mean of ``|y - ŷ| / ((|y| + |ŷ|) / 2)``.

    Points where both actual and forecast are zero count as no error.
    """
    y, yhat = _arrays(actual, predicted)
    denominator = (np.abs(y) + np.abs(yhat)) / 2
    ratio = np.divide(np.abs(y - yhat), denominator, out=np.zeros_like(y), where=denominator != 0)
    return float(np.mean(ratio))


def mase(
    actual: Sequence[float], predicted: Sequence[float], training: Sequence[float], season: int
) -> float:
    """Mean absolute scaled error: the forecast's MAE over the in-sample seasonal-naive MAE.

    Args:
        actual: observed values in the forecast window.
        predicted: forecast values, same length.
        training: the history the forecast was made from, oldest first.
        season: the seasonal lag of the naive scale (168 hourly, 7 daily).

    Returns:
        The MASE (below 1 beats the seasonal naive in-sample), NaN when the scale is zero.

    Raises:
        ValueError: the training history is not longer than one season.
    """
    y, yhat = _arrays(actual, predicted)
    history = np.asarray(training, dtype=float)
    if len(history) <= season:
        raise ValueError(f"MASE needs more than {season} training values, got {len(history)}")
    scale = float(np.mean(np.abs(history[season:] - history[:-season])))
    if scale == 0:
        return math.nan
    return float(np.mean(np.abs(y - yhat)) / scale)


def coverage(actual: Sequence[float], lower: Sequence[float], upper: Sequence[float]) -> float:
    """Share of actual values inside their ``[lower, upper]`` interval."""
    y, low = _arrays(actual, lower)
    _, high = _arrays(actual, upper)
    return float(np.mean((y >= low) & (y <= high)))


def _arrays(first: Sequence[float], second: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    a = np.asarray(first, dtype=float)
    b = np.asarray(second, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"actual and forecast differ in length: {len(a)} and {len(b)}")
    if len(a) == 0:
        raise ValueError("no values to score")
    return a, b


# Holiday calendars --------------------------------------------------------------------------


def prophet_holidays(calendar_days: pd.DataFrame) -> pd.DataFrame:
    """Prophet's holidays frame: one row per holiday occurrence and per make-up workday.

    A multi-day holiday becomes one occurrence starting on its first day with an upper window
    covering its length, so Prophet learns a separate effect for each day of it; Spring Festival
    gets extra days on both sides for the slow restart of industry.

    Args:
        calendar_days: the output of :func:`calendars.day_calendar`.

    Returns:
        Columns ``holiday``, ``ds``, ``lower_window``, ``upper_window``; empty when there are none.
    """
    rows = []
    days = calendar_days.sort_values("date").reset_index(drop=True)
    run_start = None
    for i, day in days.iterrows():
        if day["is_makeup_workday"]:
            rows.append(("makeup_workday", day["date"], 0, 0))
        name = day["holiday"] if day["is_holiday"] else ""
        previous = days.loc[i - 1] if i > 0 else None
        continues = (
            previous is not None
            and previous["is_holiday"]
            and previous["holiday"] == name
            and day["date"] - previous["date"] == pd.Timedelta(days=1)
        )
        if name and not continues:
            run_start = (name, day["date"], 0)
        if name:
            run_start = (run_start[0], run_start[1], run_start[2] + 1)
            following = days.loc[i + 1] if i + 1 < len(days) else None
            ends = following is None or not following["is_holiday"] or following["holiday"] != name
            if ends:
                lead = SPRING_FESTIVAL_LEAD_DAYS if name == SPRING_FESTIVAL else 0
                extra = SPRING_FESTIVAL_EXTRA_DAYS if name == SPRING_FESTIVAL else 0
                rows.append((name, run_start[1], -lead, run_start[2] - 1 + extra))
    frame = pd.DataFrame(rows, columns=["holiday", "ds", "lower_window", "upper_window"])
    return frame.sort_values(["ds", "holiday"]).reset_index(drop=True)


# Input preparation --------------------------------------------------------------------------


def prepare(
    history: pd.DataFrame, *, freq: Freq = "h", horizon: int = 24, folds: int = 0, step: int = 0
) -> Prepared:
    """Validates a history and makes it regular: the one gate every model goes through.

    Short gaps are interpolated; a long gap or a stuck-meter run splits the series and only the
    stretch after the last one is kept, when it is long enough.

    Args:
        history: ``ds``, ``y`` and optionally ``temperature_c``.
        freq: ``h`` (hourly) or ``D`` (daily).
        horizon: steps ahead that will be forecast.
        folds: backtest folds that will be run on it (each needs its own history).
        step: steps between backtest origins (default one day).

    Returns:
        The prepared history.

    Raises:
        SeriesError: too little history, gaps that leave too little, or a flat series; the
            message names the longest usable window.
        ValueError: columns missing or not numeric, or the horizon is not positive.
    """
    if freq not in MIN_HISTORY:
        raise errors.UserError("forecast.error.frequency", freq=freq)
    if horizon < 1:
        raise errors.UserError("forecast.error.horizon", horizon=horizon)
    missing = [name for name in ("ds", "y") if name not in history]
    if missing:
        raise errors.UserError(
            "forecast.error.columns",
            missing=", ".join(missing),
            columns=", ".join(map(str, history.columns)),
        )
    columns = ["ds", "y"] + (["temperature_c"] if "temperature_c" in history else [])
    frame = history[columns].copy()
    frame["ds"] = pd.to_datetime(frame["ds"], errors="coerce")
    if frame["ds"].isna().any():
        row = int(np.flatnonzero(frame["ds"].isna().to_numpy())[0])
        raise errors.UserError("forecast.error.not_a_timestamp", row=row + 1)
    for name in columns[1:]:
        values = pd.to_numeric(frame[name], errors="coerce")
        unreadable = values.isna() & frame[name].notna()
        if unreadable.any():
            row = int(np.flatnonzero(unreadable.to_numpy())[0])
            raise errors.UserError(
                "forecast.error.not_a_number", column=name, row=row + 1, value=frame[name].iloc[row]
            )
        frame[name] = values.astype(float)
    if frame["ds"].duplicated().any():
        first = frame.loc[frame["ds"].duplicated(), "ds"].iloc[0]
        raise errors.UserError("forecast.error.repeated_time", ds=f"{first:%Y-%m-%d %H:%M}")
    frame = frame.sort_values("ds").dropna(subset=["y"])
    if frame.empty:
        raise SeriesError("forecast.error.empty")
    if frame["y"].nunique() == 1:
        raise SeriesError("forecast.error.constant", kwh=f"{frame['y'].iloc[0]:g}")
    offset = pd.Timedelta(hours=1) if freq == "h" else pd.Timedelta(days=1)
    if (frame["ds"] != frame["ds"].dt.floor(offset)).any():
        raise errors.UserError(f"forecast.error.not_whole_{'hours' if freq == 'h' else 'days'}")
    frame = frame.set_index("ds").asfreq(offset)
    warnings: list[errors.Notice] = []
    needed = MIN_HISTORY[freq] + horizon + max(folds - 1, 0) * (step or STEPS_PER_DAY[freq])
    per = "hourly" if freq == "h" else "daily"

    breaks = _breaks(frame["y"], freq)
    runs = _runs(frame.index, breaks)
    longest = max(runs, key=lambda run: run[1] - run[0])
    usable = (frame.index[longest[0]], frame.index[longest[1] - 1])
    last = runs[-1]
    if last[1] < len(frame):
        raise SeriesError(
            "forecast.error.stuck_meter",
            usable if longest[1] - longest[0] >= needed else None,
            kwh=f"{frame['y'].iloc[-1]:g}",
            since=f"{frame.index[last[1]]:%Y-%m-%d %H:%M}",
        )
    if len(runs) > 1:
        dropped_before = frame.index[last[0]]
        if last[1] - last[0] < needed:
            raise SeriesError(
                f"forecast.error.short_after_gap_{per}",
                usable if longest[1] - longest[0] >= needed else None,
                before=f"{dropped_before:%Y-%m-%d %H:%M}",
                left=last[1] - last[0],
                needed=needed,
            )
        warnings.append(
            errors.Notice("forecast.notice.left_out", before=f"{dropped_before:%Y-%m-%d %H:%M}")
        )
    frame = frame.iloc[last[0] : last[1]]
    filled = int(frame["y"].isna().sum())
    if filled:
        warnings.append(errors.Notice(f"forecast.notice.filled_{per}", count=filled))
    frame["y"] = frame["y"].interpolate(limit_direction="both")
    if "temperature_c" in frame:
        if frame["temperature_c"].isna().all():
            raise errors.UserError("forecast.error.no_temperature")
        gaps = int(frame["temperature_c"].isna().sum())
        if gaps:
            warnings.append(errors.Notice("forecast.notice.temperature_filled", count=gaps))
        frame["temperature_c"] = frame["temperature_c"].interpolate(limit_direction="both")
    if len(frame) < needed:
        raise SeriesError(
            f"forecast.error.short_{per}" + ("_folds" if folds > 1 else ""),
            have=len(frame),
            needed=needed,
            learn=MIN_HISTORY[freq],
            horizon=horizon,
            **({"folds": folds} if folds > 1 else {}),
        )
    return Prepared(frame.reset_index(), freq, tuple(warnings))


def _breaks(y: pd.Series, freq: Freq) -> np.ndarray:
    """Positions where the series must be cut: long gaps and stuck-meter runs (True = unusable)."""
    values = y.to_numpy()
    missing = np.isnan(values)
    bad = np.zeros(len(values), dtype=bool)
    bad |= _long_runs(missing, MAX_FILL[freq] + 1)
    same = np.r_[False, values[1:] == values[:-1]]
    # a run of k equal values has k-1 "same as previous" marks; count the run's first value too
    flat_marks = _long_runs(same, FLAT_RUN[freq] - 1)
    flat = flat_marks | np.r_[flat_marks[1:], False]
    bad |= flat
    return bad


def _long_runs(mask: np.ndarray, length: int) -> np.ndarray:
    out = np.zeros(len(mask), dtype=bool)
    start = None
    for i, value in enumerate(np.r_[mask, False]):
        if value and start is None:
            start = i
        elif not value and start is not None:
            if i - start >= length:
                out[start:i] = True
            start = None
    return out


def _runs(index: pd.DatetimeIndex, bad: np.ndarray) -> list[tuple[int, int]]:
    runs = []
    start = None
    for i, value in enumerate(np.r_[bad, True]):
        if not value and start is None:
            start = i
        elif value and start is not None:
            runs.append((start, i))
            start = None
    if not runs:
        raise SeriesError("forecast.error.no_usable_stretch")
    return runs


def to_daily(hourly: pd.DataFrame) -> pd.DataFrame:
    """Daily totals of an hourly series (temperature: the daily mean); incomplete days dropped."""
    frame = hourly.assign(day=pd.to_datetime(hourly["ds"]).dt.normalize())
    aggregations = {"y": ("y", "sum"), "count": ("y", "count")}
    if "temperature_c" in frame:
        aggregations["temperature_c"] = ("temperature_c", "mean")
    daily = frame.groupby("day", as_index=False).agg(**aggregations)
    daily = daily[daily["count"] == 24].drop(columns="count").rename(columns={"day": "ds"})
    return daily.reset_index(drop=True)


def what_if_shift(future: pd.DataFrame, degrees: float = WHAT_IF_DEGREES_C) -> float:
    """The temperature shift that matters in the forecast's season, in °C.

    Colder (negative) when the forecast period needs more heating than cooling, as in January;
    warmer (positive) otherwise, as in a summer heat wave.

    Args:
        future: ``temperature_c`` over the forecast period.
        degrees: how far to move the temperature.

    Returns:
        ``-degrees`` or ``+degrees``.
    """
    temperature = pd.to_numeric(future["temperature_c"]).to_numpy(float)
    heating = np.clip(HEATING_BASE_C - temperature, 0, None).sum()
    cooling = np.clip(temperature - COOLING_BASE_C, 0, None).sum()
    return -abs(degrees) if heating > cooling else abs(degrees)


def future_index(history: pd.DataFrame, horizon: int, freq: Freq) -> pd.DatetimeIndex:
    """The ``horizon`` timestamps following the last one of ``history``."""
    offset = pd.Timedelta(hours=1) if freq == "h" else pd.Timedelta(days=1)
    last = pd.Timestamp(history["ds"].max())
    return pd.date_range(last + offset, periods=horizon, freq=offset)


def climatology(weather: pd.DataFrame, future: Sequence, *, window_days: int = 7) -> pd.DataFrame:
    """Expected temperature by day of year and hour, from past weather, for future timestamps.

    Each (day of year, hour) gets the mean over all years of the days within ``window_days``
    of it, which smooths two or three years of history into a usable normal.

    Args:
        weather: ``ds`` and ``temperature_c`` (hourly or daily).
        future: the timestamps to give a temperature.
        window_days: half-width of the smoothing window in days.

    Returns:
        ``ds`` and ``temperature_c`` for each future timestamp.

    Raises:
        ValueError: no weather history.
    """
    frame = weather.dropna(subset=["temperature_c"])
    if frame.empty:
        raise errors.UserError("forecast.error.no_weather")
    ds = pd.to_datetime(frame["ds"])
    table = (
        frame.assign(doy=ds.dt.day_of_year.clip(upper=365), hour=ds.dt.hour)
        .pivot_table(index="doy", columns="hour", values="temperature_c", aggfunc="mean")
        .reindex(range(1, 366))
    )
    # circular smoothing over the year; empty days borrow from their neighbours
    padded = pd.concat([table.iloc[-window_days:], table, table.iloc[:window_days]])
    smooth = padded.rolling(2 * window_days + 1, center=True, min_periods=1).mean()
    smooth = smooth.iloc[window_days:-window_days]
    smooth = smooth.interpolate(limit_direction="both").T.interpolate(limit_direction="both").T
    smooth = smooth.fillna(float(frame["temperature_c"].mean()))
    target = pd.DatetimeIndex(pd.to_datetime(pd.Series(future)))
    doy = np.clip(target.day_of_year, 1, 365)
    hours = target.hour
    columns = {hour: i for i, hour in enumerate(smooth.columns)}
    values = smooth.to_numpy()
    temperature = [
        values[d - 1, columns.get(h, 0)] if h in columns else values[d - 1].mean()
        for d, h in zip(doy, hours, strict=True)
    ]
    return pd.DataFrame({"ds": target, "temperature_c": np.asarray(temperature, dtype=float)})


# Models -------------------------------------------------------------------------------------


def _quiet_prophet() -> None:
    from cmdstanpy.utils import get_logger

    # cmdstanpy sets its logger to DEBUG the first time it is asked for it, so ask first
    get_logger().setLevel(logging.WARNING)
    # Prophet logs advice (e.g. on yearly seasonality) the user cannot act on
    logging.getLogger("prophet").setLevel(logging.ERROR)


def _degree_columns(frame: pd.DataFrame) -> pd.DataFrame:
    temperature = frame["temperature_c"]
    return frame.assign(
        heating_degrees=(HEATING_BASE_C - temperature).clip(lower=0),
        cooling_degrees=(temperature - COOLING_BASE_C).clip(lower=0),
    )


def _calendar_columns(ds: pd.Series, days: pd.DataFrame) -> pd.DataFrame:
    lookup = days.set_index("date")
    day = pd.to_datetime(ds).dt.normalize()
    joined = lookup.reindex(day.to_numpy())
    return pd.DataFrame(
        {
            "is_workday": joined["is_workday"].to_numpy(dtype=bool),
            "is_holiday": joined["is_holiday"].to_numpy(dtype=bool),
            "is_makeup_workday": joined["is_makeup_workday"].to_numpy(dtype=bool),
            "holiday": joined["holiday"].to_numpy(dtype=object),
        },
        index=ds.index,
    )


def _prophet_tuned(train: pd.DataFrame, freq: Freq, days: pd.DataFrame, has_temperature: bool):
    from prophet import Prophet

    _quiet_prophet()
    train = train.iloc[-PROPHET_MAX_HISTORY[freq] :]
    span_days = (train["ds"].iloc[-1] - train["ds"].iloc[0]).days
    model = Prophet(
        # load scales: the daily swing, days off and weather move it by shares of its level
        seasonality_mode="multiplicative",
        holidays=prophet_holidays(days) if days["holiday"].ne("").any() else None,
        daily_seasonality=False,
        weekly_seasonality=3 if freq == "h" else 4,
        yearly_seasonality=6 if span_days >= YEARLY_MIN_DAYS else False,
        interval_width=INTERVAL_WIDTH,
        uncertainty_samples=PROPHET_UNCERTAINTY_SAMPLES,
    )
    if freq == "h":
        # working days and days off have differently shaped days; 调休 Saturdays follow the former
        model.add_seasonality("daily_workday", period=1, fourier_order=10, condition_name="workday")
        model.add_seasonality("daily_offday", period=1, fourier_order=10, condition_name="offday")
    # a day off lowers the whole day, including holidays never seen in the history
    model.add_regressor("day_off", standardize=False)
    if has_temperature:
        model.add_regressor("heating_degrees")
        model.add_regressor("cooling_degrees")
    model.fit(_prophet_frame(train, freq, days, has_temperature))
    return model


def _prophet_frame(
    frame: pd.DataFrame, freq: Freq, days: pd.DataFrame, has_temperature: bool
) -> pd.DataFrame:
    out = frame[["ds"] + (["y"] if "y" in frame else [])].copy()
    workday = _calendar_columns(frame["ds"], days)["is_workday"].to_numpy()
    out["day_off"] = (~workday).astype(float)
    if freq == "h":
        out["workday"] = workday
        out["offday"] = ~workday
    if has_temperature:
        degrees = _degree_columns(frame)
        out["heating_degrees"] = degrees["heating_degrees"].to_numpy()
        out["cooling_degrees"] = degrees["cooling_degrees"].to_numpy()
    return out


def _prophet_default(train: pd.DataFrame, freq: Freq):
    from prophet import Prophet

    _quiet_prophet()
    return Prophet().fit(train[["ds", "y"]].iloc[-PROPHET_MAX_HISTORY[freq] :])


def _prophet_predict(model, future: pd.DataFrame, freq: Freq, days, has_temperature, tuned: bool):
    frame = _prophet_frame(future, freq, days, has_temperature) if tuned else future[["ds"]]
    predicted = model.predict(frame)
    return predicted


def _interval_frame(ds: pd.Series, yhat, lower, upper) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "ds": pd.to_datetime(ds).to_numpy(),
            "yhat": np.asarray(yhat, dtype=float),
            "yhat_lower": np.asarray(lower, dtype=float),
            "yhat_upper": np.asarray(upper, dtype=float),
        }
    )


def seasonal_naive(
    train: pd.DataFrame, future_ds: Sequence, freq: Freq, days: pd.DataFrame | None = None
) -> pd.DataFrame:
    """The same hour last week (same weekday last week for daily), with an empirical interval.

    Beyond one season ahead the value of the latest known matching hour is repeated. The interval
    adds the 10th and 90th percentiles of the history's changes over the same lag.

    Args:
        train: history with ``ds`` and ``y``, regular, ending just before the first future time.
        future_ds: the timestamps to forecast.
        freq: ``h`` or ``D``.
        days: the output of :func:`calendars.day_calendar` covering history and future; when
            given, the result says for each time whether the copied day was of the same kind
            (working day, weekend, holiday, make-up workday).

    Returns:
        ``ds``, ``yhat``, ``yhat_lower``, ``yhat_upper`` and, with ``days``, ``same_day_type``.
    """
    season = SEASON[freq]
    y = train["y"].to_numpy(dtype=float)
    steps = np.arange(1, len(future_ds) + 1)
    lags = season * np.ceil(steps / season).astype(int)
    if lags.max() > len(y):
        raise ValueError(f"seasonal naive needs {lags.max()} values of history, got {len(y)}")
    yhat = y[len(y) - lags + steps - 1]
    lower = np.empty(len(steps))
    upper = np.empty(len(steps))
    alpha = (1 - INTERVAL_WIDTH) / 2
    for lag in np.unique(lags):
        changes = y[lag:] - y[:-lag]
        chosen = lags == lag
        lower[chosen] = yhat[chosen] + np.quantile(changes, alpha)
        upper[chosen] = yhat[chosen] + np.quantile(changes, 1 - alpha)
    result = _interval_frame(pd.Series(future_ds), yhat, lower, upper)
    if days is not None:
        offset = pd.Timedelta(hours=1) if freq == "h" else pd.Timedelta(days=1)
        source = result["ds"] - offset * pd.Series(lags)
        result["same_day_type"] = _day_type(result["ds"], days) == _day_type(source, days)
    return result


def _day_type(ds: pd.Series, days: pd.DataFrame) -> np.ndarray:
    columns = _calendar_columns(pd.Series(pd.to_datetime(ds).to_numpy()), days)
    return np.select(
        [columns["is_makeup_workday"], columns["is_holiday"], ~columns["is_workday"]],
        [3, 2, 1],
        default=0,
    )


def gbm_lags(horizon: int, freq: Freq) -> list[int]:
    """The load lags the boosting model uses: whole days and whole weeks, never below the horizon.

    For a 24-hour horizon these are 24, 168 and 336 hours; for two weeks 336 and 504.
    """
    per_day = STEPS_PER_DAY[freq]
    season = SEASON[freq]
    first_day = per_day * math.ceil(horizon / per_day)
    first_week = season * math.ceil(horizon / season)
    lags = {first_day, first_week, first_week + season}
    if freq == "D":
        lags.add(364 * math.ceil(horizon / 364))
    return sorted(lags)


def gbm_features(frame: pd.DataFrame, horizon: int, freq: Freq, days: pd.DataFrame) -> pd.DataFrame:
    """The boosting model's features for every row of a history+future frame.

    ``y`` of the future rows may be missing: every load feature looks back at least ``horizon``
    steps, so the features of the first ``horizon`` future rows use history only.

    Args:
        frame: ``ds``, ``y`` and optionally ``temperature_c``, regular.
        horizon: steps ahead.
        freq: ``h`` or ``D``.
        days: the output of :func:`calendars.day_calendar` covering ``frame``.

    Returns:
        One row per row of ``frame``, numeric columns only.
    """
    ds = pd.to_datetime(frame["ds"])
    calendar_columns = _calendar_columns(ds, days)
    holiday_codes = {name: i for i, name in enumerate(sorted(set(days["holiday"]) - {""}))}
    day_type = _day_type(ds, days)
    features = pd.DataFrame(
        {
            "day_of_week": ds.dt.day_of_week.to_numpy(),
            "day_of_year": ds.dt.day_of_year.to_numpy(),
            "day_type": day_type,
            "holiday": calendar_columns["holiday"].map(lambda n: holiday_codes.get(n, -1)),
        },
        index=frame.index,
    )
    if freq == "h":
        features["hour"] = ds.dt.hour.to_numpy()
    if "temperature_c" in frame:
        temperature = frame["temperature_c"].astype(float)
        per_day = STEPS_PER_DAY[freq]
        features["temperature_c"] = temperature
        if freq == "h":
            features["temperature_mean_24h"] = temperature.rolling(per_day, min_periods=1).mean()
            features["temperature_max_24h"] = temperature.rolling(per_day, min_periods=1).max()
    y = frame["y"].astype(float)
    for lag in gbm_lags(horizon, freq):
        features[f"load_lag_{lag}"] = y.shift(lag)
    first = gbm_lags(horizon, freq)[0]
    window = STEPS_PER_DAY[freq] if freq == "h" else 7
    features[f"load_mean_{window}_lag_{first}"] = (
        y.shift(first).rolling(window, min_periods=window // 2).mean()
    )
    return features.astype(float)


def _gbm_fit(
    features: pd.DataFrame, y: pd.Series, train_mask: np.ndarray, loss: str = "squared_error"
):
    from sklearn.ensemble import HistGradientBoostingRegressor

    # a lag longer than the history (a year back on a short series) has nothing to learn from
    usable = [name for name in features.columns if features.loc[train_mask, name].notna().any()]
    features = features[usable]
    categorical = [name in ("day_type", "holiday") for name in usable]
    if loss == "squared_error":
        params = dict(GBM_PARAMS, categorical_features=categorical)
    else:
        quantile = (1 - INTERVAL_WIDTH) / 2 if loss == "lower" else (1 + INTERVAL_WIDTH) / 2
        params = dict(
            GBM_QUANTILE_PARAMS,
            loss="quantile",
            quantile=quantile,
            categorical_features=categorical,
        )
    from threadpoolctl import threadpool_limits

    # One OpenMP thread: on a busy machine (or in a pool with one process per CPU) more threads
    # spin-wait on each other and a fit that takes a second takes a minute.
    with threadpool_limits(limits=1, user_api="openmp"):
        return HistGradientBoostingRegressor(**params).fit(features[train_mask], y[train_mask])


def _gbm_interval_models(features: pd.DataFrame, y: pd.Series, train_mask: np.ndarray) -> tuple:
    return tuple(_gbm_fit(features, y, train_mask, loss) for loss in ("lower", "upper"))


def _gbm_predict(point_model, interval_models: tuple, features: pd.DataFrame) -> tuple:
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="openmp"):
        yhat = point_model.predict(features[point_model.feature_names_in_])
        lower, upper = (
            model.predict(features[model.feature_names_in_]) for model in interval_models
        )
    return yhat, np.minimum(lower, yhat), np.maximum(upper, yhat)


def fit_predict(
    history: pd.DataFrame,
    future: pd.DataFrame,
    model: str,
    *,
    freq: Freq = "h",
    calendar: str = "cn",
) -> pd.DataFrame:
    """Fits one model on a history and forecasts the timestamps of ``future``.

    Args:
        history: ``ds``, ``y`` and optionally ``temperature_c``.
        future: the ``ds`` right after the history, with ``temperature_c`` when the history has it.
        model: one of :data:`MODELS` except ``ensemble``.
        freq: ``h`` or ``D``.
        calendar: the holiday calendar (see :func:`calendars.day_calendar`).

    Returns:
        ``ds``, ``yhat``, ``yhat_lower``, ``yhat_upper``.

    Raises:
        SeriesError: the history is too short, gappy or flat.
        ValueError: an unknown model, or future temperature missing.
    """
    if model not in MODELS or model == "ensemble":
        raise errors.UserError(
            "forecast.error.unknown_model", model=model, models=", ".join(MODELS[:-1])
        )
    prepared = prepare(history, freq=freq, horizon=len(future))
    frame = prepared.frame
    future = future.assign(ds=pd.to_datetime(future["ds"])).reset_index(drop=True)
    if prepared.has_temperature and (
        "temperature_c" not in future or future["temperature_c"].isna().any()
    ):
        raise errors.UserError("forecast.error.future_temperature_missing")
    if model == "seasonal_naive":
        return seasonal_naive(frame, future["ds"], freq)
    days = calendars.day_calendar(pd.concat([frame["ds"], future["ds"]]), calendar)
    if model == "gbm":
        both = pd.concat([frame, future], ignore_index=True)
        features = gbm_features(both, len(future), freq, days)
        train_mask = np.arange(len(both)) < len(frame)
        point = _gbm_fit(features, both["y"], train_mask)
        intervals = _gbm_interval_models(features, both["y"], train_mask)
        return _interval_frame(future["ds"], *_gbm_predict(point, intervals, features[~train_mask]))
    tuned = model == "prophet"
    fitted = (
        _prophet_tuned(frame, freq, days, prepared.has_temperature)
        if tuned
        else _prophet_default(frame, freq)
    )
    raw = _prophet_predict(fitted, future, freq, days, prepared.has_temperature, tuned)
    return _interval_frame(future["ds"], raw["yhat"], raw["yhat_lower"], raw["yhat_upper"])


# Backtest and forecast ----------------------------------------------------------------------


def backtest(
    history: pd.DataFrame | Prepared,
    *,
    horizon: int = 24,
    freq: Freq = "h",
    folds: int = 7,
    step: int | None = None,
    calendar: str = "cn",
    prophet_refit_every: int = PROPHET_REFIT_EVERY,
) -> Backtest:
    """Rolling-origin backtest of every model on the end of a history.

    The last fold's origin is ``horizon`` steps before the end; earlier origins are ``step`` apart.
    Each fold forecasts from data before its origin only. Temperature in the forecast window is the
    observed one (a perfect weather forecast), which isolates the load model's own error.
    Gradient boosting's point model is refitted for every fold; Prophet and boosting's interval
    models every ``prophet_refit_every`` folds, the folds in between predicted from the last fit
    (trained on less data, never on more): a Prophet fit costs seconds on an hourly series.

    Args:
        history: ``ds``, ``y`` and optionally ``temperature_c``, or an already prepared history.
        horizon: steps ahead each fold forecasts.
        freq: ``h`` or ``D``.
        folds: number of origins.
        step: steps between origins (default one day).
        calendar: the holiday calendar (see :func:`calendars.day_calendar`).
        prophet_refit_every: folds per Prophet fit.

    Returns:
        The predictions of every model and fold and the metrics per model; the ensemble's weight
        for each fold is chosen on the other folds, so its score is out of sample too.

    Raises:
        SeriesError: the history is too short, gappy or flat for this many folds.
        ValueError: folds or step below one.
    """
    if folds < 1:
        raise errors.UserError("forecast.error.folds", folds=folds)
    step = step or STEPS_PER_DAY[freq]
    if step < 1:
        raise errors.UserError("forecast.error.step", step=step)
    prepared = (
        history
        if isinstance(history, Prepared)
        else prepare(history, freq=freq, horizon=horizon, folds=folds, step=step)
    )
    frame = prepared.frame
    if len(frame) < MIN_HISTORY[freq] + horizon + (folds - 1) * step:
        raise SeriesError(
            "forecast.error.short_for_folds",
            folds=folds,
            horizon=horizon,
            needed=MIN_HISTORY[freq] + horizon + (folds - 1) * step,
            have=len(frame),
        )
    days = calendars.day_calendar(frame["ds"], calendar)
    features = gbm_features(frame, horizon, freq, days)
    season = SEASON[freq]
    last_origin = len(frame) - horizon
    origins = [last_origin - (folds - 1 - k) * step for k in range(folds)]
    parts = []
    scales: dict[int, float] = {}
    prophet_models: dict[str, object] = {}
    interval_models: tuple = ()
    for fold, origin in enumerate(origins):
        train = frame.iloc[:origin]
        test = frame.iloc[origin : origin + horizon]
        history_y = train["y"].to_numpy()
        scales[fold] = float(np.mean(np.abs(history_y[season:] - history_y[:-season])))
        predicted = {"seasonal_naive": seasonal_naive(train, test["ds"], freq, days)}
        if fold % max(prophet_refit_every, 1) == 0:
            prophet_models["prophet_default"] = _prophet_default(train, freq)
            prophet_models["prophet"] = _prophet_tuned(train, freq, days, prepared.has_temperature)
        for name in ("prophet_default", "prophet"):
            raw = _prophet_predict(
                prophet_models[name],
                test,
                freq,
                days,
                prepared.has_temperature,
                tuned=name == "prophet",
            )
            predicted[name] = _interval_frame(
                test["ds"], raw["yhat"], raw["yhat_lower"], raw["yhat_upper"]
            )
        train_mask = np.zeros(len(frame), dtype=bool)
        train_mask[:origin] = True
        test_mask = np.zeros(len(frame), dtype=bool)
        test_mask[origin : origin + horizon] = True
        if fold % max(prophet_refit_every, 1) == 0:
            interval_models = _gbm_interval_models(features, frame["y"], train_mask)
        point_model = _gbm_fit(features, frame["y"], train_mask)
        predicted["gbm"] = _interval_frame(
            test["ds"], *_gbm_predict(point_model, interval_models, features[test_mask])
        )
        for name, result in predicted.items():
            parts.append(
                result.assign(
                    model=name,
                    fold=fold,
                    origin=frame["ds"].iloc[origin],
                    y=test["y"].to_numpy(),
                )
            )
    predictions = pd.concat(parts, ignore_index=True)
    predictions, weights = _add_ensemble(predictions)
    predictions = predictions[
        ["model", "fold", "origin", "ds", "y", "yhat", "yhat_lower", "yhat_upper"]
    ]
    return Backtest(predictions, _metrics(predictions, scales), weights, horizon, freq)


def _blend(parts: dict[str, pd.DataFrame], weights: dict[str, float]) -> pd.DataFrame:
    """The weighted mean of the members; last week's value only stands in for a day of its kind."""
    naive = parts["seasonal_naive"]
    comparable = (
        naive["same_day_type"].to_numpy(dtype=bool)
        if "same_day_type" in naive
        else np.ones(len(naive), dtype=bool)
    )
    models = weights["prophet"] + weights["gbm"]
    row_weights = {}
    for name in ENSEMBLE_MEMBERS:
        if name == "seasonal_naive":
            row_weights[name] = np.where(comparable, weights[name], 0.0)
        else:
            # a holiday copied from an ordinary day (or the reverse) goes to the models
            share = weights[name] / models if models > 0 else 0.5
            row_weights[name] = weights[name] + np.where(
                comparable, 0.0, weights["seasonal_naive"] * share
            )
    blended = next(iter(parts.values())).drop(columns="same_day_type", errors="ignore").copy()
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        blended[column] = sum(
            row_weights[name] * parts[name][column].to_numpy() for name in ENSEMBLE_MEMBERS
        )
    return blended


def _weight_grid() -> list[dict[str, float]]:
    steps = round(1 / ENSEMBLE_WEIGHT_STEP)
    grid = []
    for naive in range(steps + 1):
        for prophet in range(steps + 1 - naive):
            weights = (naive, prophet, steps - naive - prophet)
            grid.append({m: w / steps for m, w in zip(ENSEMBLE_MEMBERS, weights, strict=True)})
    return grid


def _best_weights(parts: dict[str, pd.DataFrame]) -> dict[str, float]:
    actual = parts["gbm"]["y"].to_numpy()
    grid = _weight_grid()
    scores = [mape(actual, _blend(parts, weights)["yhat"]) for weights in grid]
    return grid[int(np.nanargmin(scores))]


def _add_ensemble(predictions: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, float]]:
    parts = {
        name: predictions[predictions["model"] == name].reset_index(drop=True)
        for name in ENSEMBLE_MEMBERS
    }
    fold = parts["gbm"]["fold"]
    folds = sorted(fold.unique())
    blended = []
    for current in folds:
        others = fold != current if len(folds) > 1 else np.ones(len(fold), dtype=bool)
        weights = _best_weights({name: part[others] for name, part in parts.items()})
        here = fold == current
        members = {name: part[here] for name, part in parts.items()}
        blended.append(_blend(members, weights).assign(model="ensemble"))
    overall = _best_weights(parts)
    return pd.concat([predictions, *blended], ignore_index=True), overall


def _metrics(predictions: pd.DataFrame, scales: dict[int, float]) -> pd.DataFrame:
    rows = []
    for model in MODELS:
        chosen = predictions[predictions["model"] == model]
        if chosen.empty:
            continue
        fold_mase = [
            np.mean(np.abs(group["y"] - group["yhat"])) / scales[fold]
            if scales[fold] > 0
            else math.nan
            for fold, group in chosen.groupby("fold")
        ]
        rows.append(
            {
                "model": model,
                "mape": mape(chosen["y"], chosen["yhat"]),
                "smape": smape(chosen["y"], chosen["yhat"]),
                "mase": float(np.nanmean(fold_mase))
                if not np.all(np.isnan(fold_mase))
                else math.nan,
                "coverage": coverage(chosen["y"], chosen["yhat_lower"], chosen["yhat_upper"]),
            }
        )
    return pd.DataFrame(rows, columns=["model", "mape", "smape", "mase", "coverage"])


def forecast(
    history: pd.DataFrame,
    *,
    horizon: int = 24,
    freq: Freq = "h",
    future: pd.DataFrame | None = None,
    calendar: str = "cn",
    folds: int = 7,
    step: int | None = None,
    temperature_shift_c: float | None = None,
    prophet_refit_every: int = PROPHET_REFIT_EVERY,
    component_history: int | None = None,
) -> Forecast:
    """Forecasts the next ``horizon`` steps with every model and their backtest-weighted ensemble.

    Args:
        history: ``ds``, ``y`` and optionally ``temperature_c``.
        horizon: steps ahead.
        freq: ``h`` or ``D``.
        future: ``ds`` and ``temperature_c`` for the forecast period; required when the history has
            temperature (a weather forecast, or :func:`climatology`).
        calendar: the holiday calendar (see :func:`calendars.day_calendar`).
        folds: backtest folds that choose the ensemble weight; 0 skips the backtest and weighs
            Prophet and boosting equally.
        step: steps between backtest origins (default one day).
        temperature_shift_c: degrees added to the future temperature for ``yhat_what_if``; by
            default the season's direction (see :func:`what_if_shift`).
        prophet_refit_every: folds per Prophet fit in the backtest.
        component_history: steps of history before the forecast to include in ``components``
            (default four weeks).

    Returns:
        The forecast.

    Raises:
        SeriesError: the history is too short, gappy or flat.
        ValueError: future temperature missing or not covering the horizon, bad arguments.
    """
    prepared = prepare(history, freq=freq, horizon=horizon, folds=folds, step=step or 0)
    frame = prepared.frame
    index = future_index(frame, horizon, freq)
    future_frame = pd.DataFrame({"ds": index})
    if prepared.has_temperature:
        if future is None or "temperature_c" not in future:
            raise errors.UserError(
                "forecast.error.future_temperature_needed",
                first=f"{index[0]:%Y-%m-%d %H:%M}",
                last=f"{index[-1]:%Y-%m-%d %H:%M}",
            )
        supplied = future.assign(ds=pd.to_datetime(future["ds"])).drop_duplicates("ds")
        matched = supplied.set_index("ds")["temperature_c"].reindex(index)
        if matched.isna().any():
            first = matched.index[matched.isna()][0]
            raise errors.UserError(
                "forecast.error.future_temperature_gap",
                missing=f"{first:%Y-%m-%d %H:%M}",
                first=f"{index[0]:%Y-%m-%d %H:%M}",
                last=f"{index[-1]:%Y-%m-%d %H:%M}",
            )
        future_frame["temperature_c"] = matched.to_numpy(dtype=float)
    tested = (
        backtest(
            prepared,
            horizon=horizon,
            freq=freq,
            folds=folds,
            step=step,
            calendar=calendar,
            prophet_refit_every=prophet_refit_every,
        )
        if folds > 0
        else None
    )
    weights = (
        tested.ensemble_weights
        if tested is not None
        else {"seasonal_naive": 0.0, "prophet": 0.5, "gbm": 0.5}
    )
    warnings = list(prepared.warnings)
    if tested is None:
        warnings.append(errors.Notice("forecast.notice.no_backtest"))

    days = calendars.day_calendar(pd.concat([frame["ds"], future_frame["ds"]]), calendar)
    scenarios = {"": future_frame}
    if prepared.has_temperature and temperature_shift_c is None:
        temperature_shift_c = what_if_shift(future_frame)
    if prepared.has_temperature:
        scenarios["what_if"] = future_frame.assign(
            temperature_c=future_frame["temperature_c"] + temperature_shift_c
        )
    out = pd.DataFrame({"ds": index})
    naive = seasonal_naive(frame, index, freq, days)
    out["yhat_seasonal_naive"] = naive["yhat"].to_numpy()
    tuned = _prophet_tuned(frame, freq, days, prepared.has_temperature)
    train_mask = np.zeros(len(frame) + horizon, dtype=bool)
    train_mask[: len(frame)] = True
    gbm_models = None
    blended = {}
    for scenario, scenario_future in scenarios.items():
        raw = _prophet_predict(tuned, scenario_future, freq, days, prepared.has_temperature, True)
        prophet_part = _interval_frame(index, raw["yhat"], raw["yhat_lower"], raw["yhat_upper"])
        both = pd.concat([frame, scenario_future], ignore_index=True)
        features = gbm_features(both, horizon, freq, days)
        if gbm_models is None:
            gbm_models = (
                _gbm_fit(features, both["y"], train_mask),
                _gbm_interval_models(features, both["y"], train_mask),
            )
        gbm_part = _interval_frame(index, *_gbm_predict(*gbm_models, features[~train_mask]))
        members = {"seasonal_naive": naive, "prophet": prophet_part, "gbm": gbm_part}
        blended[scenario] = (prophet_part, gbm_part, _blend(members, weights))
    prophet_part, gbm_part, ensemble = blended[""]
    out["yhat_prophet"] = prophet_part["yhat"].to_numpy()
    out["yhat_gbm"] = gbm_part["yhat"].to_numpy()
    for column in ("yhat", "yhat_lower", "yhat_upper"):
        out[column] = ensemble[column].to_numpy()
    out["yhat_what_if"] = (
        blended["what_if"][2]["yhat"].to_numpy() if "what_if" in blended else out["yhat"]
    )
    window = component_history if component_history is not None else 28 * STEPS_PER_DAY[freq]
    components = _components(
        tuned,
        frame.iloc[-window:] if window else frame.iloc[:0],
        future_frame,
        freq,
        days,
        prepared.has_temperature,
    )
    return Forecast(
        frame=out[
            ["ds", "yhat", "yhat_lower", "yhat_upper", "yhat_what_if"]
            + [f"yhat_{model}" for model in ("seasonal_naive", "prophet", "gbm")]
        ],
        components=components,
        backtest=tested,
        ensemble_weights=weights,
        temperature_shift_c=float(temperature_shift_c) if prepared.has_temperature else 0.0,
        warnings=tuple(warnings),
    )


def _components(model, recent, future, freq, days, has_temperature) -> pd.DataFrame:
    window = pd.concat([recent.drop(columns="y", errors="ignore"), future], ignore_index=True)
    samples = model.uncertainty_samples
    model.uncertainty_samples = 0
    try:
        raw = model.predict(_prophet_frame(window, freq, days, has_temperature))
    finally:
        model.uncertainty_samples = samples
    zero = np.zeros(len(raw))
    trend = raw["trend"].to_numpy()
    multiplicative = set(model.component_modes["multiplicative"])

    def part(*names: str) -> np.ndarray:
        # multiplicative parts are shares of the trend; show every part in kWh
        present = [
            raw[name].to_numpy() * (trend if name in multiplicative else 1.0)
            for name in names
            if name in raw
        ]
        return np.sum(present, axis=0) if present else zero

    return pd.DataFrame(
        {
            "ds": raw["ds"].to_numpy(),
            "trend": raw["trend"].to_numpy(),
            "daily": part("daily_workday", "daily_offday", "daily"),
            "weekly": part("weekly", "day_off"),
            "yearly": part("yearly"),
            "holiday": part("holidays"),
            "temperature": part("heating_degrees", "cooling_degrees"),
        }
    )


# Many series --------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SeriesTask:
    """One series to forecast in a batch.

    Attributes:
        key: the series' name (a district, a class, a customer id).
        history: ``ds``, ``y`` and optionally ``temperature_c``.
        future: future temperature, when the history has temperature.
    """

    key: str
    history: pd.DataFrame
    future: pd.DataFrame | None = None


@dataclasses.dataclass(frozen=True)
class SeriesOutcome:
    """The forecast of one series of a batch, or why there is none.

    Attributes:
        key: the series' name.
        forecast: the forecast, None when the series could not be forecast.
        error: the reason in words for the user, None on success.
    """

    key: str
    forecast: Forecast | None
    error: str | None


def forecast_one(task: SeriesTask, options: dict) -> SeriesOutcome:
    """Forecasts one task; a series that cannot be forecast comes back with its reason.

    Args:
        task: the series.
        options: keyword arguments for :func:`forecast`.

    Returns:
        The outcome.
    """
    try:
        return SeriesOutcome(task.key, forecast(task.history, future=task.future, **options), None)
    except ValueError as error:
        return SeriesOutcome(task.key, None, str(error))


@contextlib.contextmanager
def _main_script_hidden() -> Iterator[None]:
    """Keeps spawned workers from running the parent's ``__main__`` script again.

    A spawned process imports the parent's main script by its path. Inside Streamlit (and its
    AppTest) ``__main__`` is the page being run, which must not run again in a worker; the
    workers need only this module, which they import by name. Processes start while tasks are
    submitted, so the submissions happen inside this context.
    """
    main = sys.modules.get("__main__")
    if main is None or getattr(main, "__spec__", None) is not None:
        yield
        return
    stand_in = types.ModuleType("__main__")
    sys.modules["__main__"] = stand_in
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def forecast_many(
    tasks: Sequence[SeriesTask],
    *,
    workers: int | None = None,
    progress: Callable[[int, int, str], None] | None = None,
    **options,
) -> list[SeriesOutcome]:
    """Forecasts many series in parallel processes, in the order given.

    Args:
        tasks: the series.
        workers: processes to use (default: the machine's CPUs); 1 runs in this process.
        progress: called as ``progress(done, total, key)`` after each series.
        **options: keyword arguments for :func:`forecast` shared by every series.

    Returns:
        One outcome per task, in the order of ``tasks``.
    """
    total = len(tasks)
    outcomes: dict[str, SeriesOutcome] = {}
    if workers == 1 or total <= 1:
        for done, task in enumerate(tasks, start=1):
            outcomes[task.key] = forecast_one(task, options)
            if progress:
                progress(done, total, task.key)
    else:
        # spawned, not forked: a fork copies the parent's OpenMP and logging locks mid-use and
        # the children can hang on them
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=context
        ) as pool:
            with _main_script_hidden():
                pending = {pool.submit(forecast_one, task, options): task.key for task in tasks}
            for done, finished in enumerate(concurrent.futures.as_completed(pending), start=1):
                outcome = finished.result()
                outcomes[outcome.key] = outcome
                if progress:
                    progress(done, total, outcome.key)
    return [outcomes[task.key] for task in tasks]
