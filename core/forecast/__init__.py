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

The parts: :mod:`~core.forecast.series` (models, limits and results),
:mod:`~core.forecast.metrics`, :mod:`~core.forecast.preparation` (the history and its future),
:mod:`~core.forecast.models`, :mod:`~core.forecast.backtesting`,
:mod:`~core.forecast.forecasting`, :mod:`~core.forecast.batch` (many series in parallel) and
:mod:`~core.forecast.cli` (the command lines). Callers use the names below
(``forecast.prepare``), not the parts.
"""

from core.forecast.backtesting import backtest
from core.forecast.batch import SeriesOutcome, SeriesTask, forecast_many, forecast_one
from core.forecast.forecasting import forecast
from core.forecast.metrics import coverage, mape, mase, smape
from core.forecast.models import (
    fit_predict,
    gbm_features,
    gbm_lags,
    prophet_holidays,
    seasonal_naive,
)
from core.forecast.preparation import climatology, future_index, prepare, to_daily, what_if_shift
from core.forecast.series import (
    BASELINES,
    COMPONENTS,
    COOLING_DEGREE_HOUR_BASE_C,
    ENSEMBLE_MEMBERS,
    ENSEMBLE_WEIGHT_STEP,
    FLAT_RUN,
    GBM_PARAMS,
    GBM_QUANTILE_PARAMS,
    HEATING_DEGREE_HOUR_BASE_C,
    INTERVAL_WIDTH,
    MAX_FILL,
    MIN_HISTORY,
    MODELS,
    PROPHET_MAX_HISTORY,
    PROPHET_REFIT_EVERY,
    PROPHET_UNCERTAINTY_SAMPLES,
    SEASON,
    SPRING_FESTIVAL,
    SPRING_FESTIVAL_EXTRA_DAYS,
    SPRING_FESTIVAL_LEAD_DAYS,
    STEPS_PER_DAY,
    WHAT_IF_DEGREES_C,
    YEARLY_MIN_DAYS,
    Backtest,
    Forecast,
    Freq,
    Model,
    Prepared,
    SeriesError,
)

# The earlier names of the degree-hour bases, for callers written before the rename.
HEATING_BASE_C = HEATING_DEGREE_HOUR_BASE_C
COOLING_BASE_C = COOLING_DEGREE_HOUR_BASE_C

__all__ = [
    "BASELINES",
    "COMPONENTS",
    "COOLING_DEGREE_HOUR_BASE_C",
    "ENSEMBLE_MEMBERS",
    "ENSEMBLE_WEIGHT_STEP",
    "FLAT_RUN",
    "GBM_PARAMS",
    "GBM_QUANTILE_PARAMS",
    "HEATING_DEGREE_HOUR_BASE_C",
    "INTERVAL_WIDTH",
    "MAX_FILL",
    "MIN_HISTORY",
    "MODELS",
    "PROPHET_MAX_HISTORY",
    "PROPHET_REFIT_EVERY",
    "PROPHET_UNCERTAINTY_SAMPLES",
    "SEASON",
    "SPRING_FESTIVAL",
    "SPRING_FESTIVAL_EXTRA_DAYS",
    "SPRING_FESTIVAL_LEAD_DAYS",
    "STEPS_PER_DAY",
    "WHAT_IF_DEGREES_C",
    "YEARLY_MIN_DAYS",
    "Backtest",
    "Forecast",
    "Freq",
    "Model",
    "Prepared",
    "SeriesError",
    "SeriesOutcome",
    "SeriesTask",
    "backtest",
    "climatology",
    "coverage",
    "fit_predict",
    "forecast",
    "forecast_many",
    "forecast_one",
    "future_index",
    "gbm_features",
    "gbm_lags",
    "mape",
    "mase",
    "prepare",
    "prophet_holidays",
    "seasonal_naive",
    "smape",
    "to_daily",
    "what_if_shift",
]
