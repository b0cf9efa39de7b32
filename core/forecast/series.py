"""The forecast's vocabulary: models, frequencies, the limits a series must meet, the results."""

import dataclasses
from typing import Literal

import pandas as pd

from core import errors, i18n
from core.forecast.metrics import mape

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
# Degree-hour bases of the load models, on the hour's temperature: load rises below the heating
# base and above the cooling base. Not the degree-day bases of the features (the building-energy
# standard's, on the day's mean temperature; core.features).
HEATING_DEGREE_HOUR_BASE_C = 14.0
COOLING_DEGREE_HOUR_BASE_C = 22.0
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
