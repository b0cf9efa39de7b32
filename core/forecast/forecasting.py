"""The forecast of one series: every model, their backtest-weighted ensemble, a what-if."""

import numpy as np
import pandas as pd

from core import calendars, errors
from core.forecast.backtesting import _blend, backtest
from core.forecast.models import (
    _gbm_fit,
    _gbm_interval_models,
    _gbm_predict,
    _interval_frame,
    _prophet_frame,
    _prophet_predict,
    _prophet_tuned,
    gbm_features,
    seasonal_naive,
)
from core.forecast.preparation import future_index, prepare, what_if_shift
from core.forecast.series import PROPHET_REFIT_EVERY, STEPS_PER_DAY, Forecast, Freq


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
