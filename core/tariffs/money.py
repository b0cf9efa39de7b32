"""Money in integer fen, and the published power-factor adjustment tables."""

from __future__ import annotations

import numpy as np

from core import errors
from core.tariffs.model import POWER_FACTOR_STANDARDS


def to_fen(amount_cny: np.ndarray | float) -> np.ndarray:
    """CNY amounts rounded half-up (away from zero) to whole fen, as integers.

    The products of kWh and prices carry binary-float noise (100 × 0.558 = 55.800000000000004);
    rounding to 6 decimals of a fen first removes it so that exact halves round up.
    """
    values = np.asarray(amount_cny, dtype=float) * 100.0
    magnitude = np.floor(np.round(np.abs(values), 6) + 0.5)
    return (np.sign(values) * magnitude).astype(np.int64)


def _cny(fen: np.ndarray) -> np.ndarray:
    return np.asarray(fen, dtype=np.int64) / 100.0


# The published power-factor adjustment tables (功率因数调整电费表), as percent of the bill per
# power factor in hundredths: positive is a surcharge, negative a reduction.
def _power_factor_table(standard_hundredths: int) -> np.ndarray:
    table = np.zeros(101, dtype=float)
    for hundredths in range(101):
        steps = standard_hundredths - hundredths
        if steps > 25:
            table[hundredths] = 15.0 + 2.0 * (steps - 25)
        elif steps > 20:
            table[hundredths] = 10.0 + 1.0 * (steps - 20)
        elif steps > 0:
            table[hundredths] = 0.5 * steps
    reductions = {
        90: {91: 0.15, 92: 0.30, 93: 0.45, 94: 0.60, 95: 0.75},
        85: {86: 0.1, 87: 0.2, 88: 0.3, 89: 0.4, 90: 0.5, 91: 0.65, 92: 0.80, 93: 0.95, 94: 1.10},
        80: {
            **{80 + step: 0.1 * step for step in range(1, 11)},
            91: 1.15,
            92: 1.30,
        },
    }[standard_hundredths]
    cap = max(reductions)
    for hundredths in range(standard_hundredths + 1, 101):
        table[hundredths] = -round(reductions[min(hundredths, cap)], 2)
    return table


_POWER_FACTOR_TABLES = {
    standard: _power_factor_table(round(standard * 100)) for standard in POWER_FACTOR_STANDARDS
}


def power_factor_adjustment_percent(
    power_factor: np.ndarray | float, standard: float
) -> np.ndarray:
    """The power-factor adjustment in percent of the bill, from the published table.

    Args:
        power_factor: monthly power factors (rounded to two decimals by the caller, as billed).
        standard: 0.90, 0.85 or 0.80.

    Returns:
        Percent to add to the bill (negative: a reduction); 0 where the power factor is missing.

    Raises:
        UserError: the standard is not one of the three published ones.
    """
    key = next((s for s in POWER_FACTOR_STANDARDS if abs(s - standard) < 1e-9), None)
    if key is None:
        raise errors.UserError("tariffs.error.catalog.standard", standard=f"{standard}")
    factors = np.asarray(power_factor, dtype=float)
    hundredths = np.clip(np.nan_to_num(np.round(factors * 100), nan=100), 0, 100).astype(int)
    percent = _POWER_FACTOR_TABLES[key][hundredths]
    return np.where(np.isnan(factors), 0.0, percent)


def power_factor(kwh: np.ndarray, kvarh: np.ndarray) -> np.ndarray:
    """The monthly weighted-average power factor, rounded half-up to two decimals as billed.

    Args:
        kwh: active energy per month.
        kvarh: reactive energy per month (NaN when not metered).

    Returns:
        cos φ = kWh / √(kWh² + kvarh²); NaN where reactive energy is missing or kWh is 0.
    """
    active = np.asarray(kwh, dtype=float)
    reactive = np.asarray(kvarh, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        raw = active / np.hypot(active, reactive)
    raw = np.where(active > 0, raw, np.nan)
    return np.floor(np.round(raw * 100, 6) + 0.5) / 100
