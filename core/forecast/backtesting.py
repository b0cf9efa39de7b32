"""Rolling-origin backtest of every model, and the ensemble weights it chooses."""

import math

import numpy as np
import pandas as pd

from core import calendars, errors
from core.forecast.metrics import coverage, mape, smape
from core.forecast.models import (
    _gbm_fit,
    _gbm_interval_models,
    _gbm_predict,
    _interval_frame,
    _prophet_default,
    _prophet_predict,
    _prophet_tuned,
    gbm_features,
    seasonal_naive,
)
from core.forecast.preparation import prepare
from core.forecast.series import (
    ENSEMBLE_MEMBERS,
    ENSEMBLE_WEIGHT_STEP,
    MIN_HISTORY,
    MODELS,
    PROPHET_REFIT_EVERY,
    SEASON,
    STEPS_PER_DAY,
    Backtest,
    Freq,
    Prepared,
    SeriesError,
)


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
