"""Forecast errors: MAPE, sMAPE, MASE and interval coverage."""

import math
from collections.abc import Sequence

import numpy as np


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
