"""The models: seasonal naive, Prophet (default and tuned) and gradient boosting.

The tuned Prophet takes the holiday calendar and heating and cooling degrees; gradient boosting
takes calendar, holiday, temperature and lagged-load features.
"""

import logging
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd

from core import calendars, errors
from core.forecast.preparation import prepare
from core.forecast.series import (
    COOLING_DEGREE_HOUR_BASE_C,
    GBM_PARAMS,
    GBM_QUANTILE_PARAMS,
    HEATING_DEGREE_HOUR_BASE_C,
    INTERVAL_WIDTH,
    MODELS,
    PROPHET_MAX_HISTORY,
    PROPHET_UNCERTAINTY_SAMPLES,
    SEASON,
    SPRING_FESTIVAL,
    SPRING_FESTIVAL_EXTRA_DAYS,
    SPRING_FESTIVAL_LEAD_DAYS,
    STEPS_PER_DAY,
    YEARLY_MIN_DAYS,
    Freq,
)


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


def _quiet_prophet() -> None:
    from cmdstanpy.utils import get_logger

    # cmdstanpy sets its logger to DEBUG the first time it is asked for it, so ask first
    get_logger().setLevel(logging.WARNING)
    # Prophet logs advice (e.g. on yearly seasonality) the user cannot act on
    logging.getLogger("prophet").setLevel(logging.ERROR)


def _degree_columns(frame: pd.DataFrame) -> pd.DataFrame:
    temperature = frame["temperature_c"]
    return frame.assign(
        heating_degrees=(HEATING_DEGREE_HOUR_BASE_C - temperature).clip(lower=0),
        cooling_degrees=(temperature - COOLING_DEGREE_HOUR_BASE_C).clip(lower=0),
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
