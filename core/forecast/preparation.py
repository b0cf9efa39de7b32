"""One series made ready for the models, and the future it is forecast over.

A history is validated, gap-filled and cut after its last long gap (:func:`prepare`); the future
gets its timestamps, a temperature normal from past weather and the season's what-if shift.
"""

from collections.abc import Sequence

import numpy as np
import pandas as pd

from core import errors
from core.forecast.series import (
    COOLING_DEGREE_HOUR_BASE_C,
    FLAT_RUN,
    HEATING_DEGREE_HOUR_BASE_C,
    MAX_FILL,
    MIN_HISTORY,
    STEPS_PER_DAY,
    WHAT_IF_DEGREES_C,
    Freq,
    Prepared,
    SeriesError,
)


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
    heating = np.clip(HEATING_DEGREE_HOUR_BASE_C - temperature, 0, None).sum()
    cooling = np.clip(temperature - COOLING_DEGREE_HOUR_BASE_C, 0, None).sum()
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
