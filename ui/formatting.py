"""Numbers as people in the utility read them: 万/亿 in Chinese, K/M/B in English."""

import math
from collections.abc import Callable, Iterable, Sequence

import streamlit as st

from core import i18n

# (from this magnitude on, divide by, suffix), largest first. Chinese groups by ten thousands
# (万, 亿); English by thousands. A card shows 万 only from 10万 on: 45,000 reads better whole.
SCALES = {
    "zh": ((1e8, 1e8, "亿"), (1e5, 1e4, "万")),
    "en": ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K")),
}
# Axis ticks switch to the scale as soon as a tick reaches its size: 1万, 2万 rather than 10,000.
TICK_SCALES = {
    "zh": ((1e8, 1e8, "亿"), (1e4, 1e4, "万")),
    "en": ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e3, 1e3, "K")),
}
# Tick steps are round (1, 2, 2.5, 5 × 10^n), so a few decimals always suffice.
MAX_TICK_DECIMALS = 4


def _scales(language: str, table: dict) -> tuple:
    return table["zh"] if language == "zh" else table["en"]


def compact(value: float | None, language: str, *, currency: bool = False) -> str:
    """A short form of a large number for a KPI card: ``4,331.2万`` or ``43.3M``."""
    if value is None:
        return "—"
    prefix = "¥" if currency else ""
    magnitude = abs(value)
    for threshold, size, suffix in _scales(language, SCALES):
        if magnitude >= threshold:
            scaled = value / size
            # Four significant figures are plenty on a card; more only widens it.
            digits = 0 if abs(scaled) >= 1000 else 1
            return f"{prefix}{scaled:,.{digits}f}{suffix}"
    return f"{prefix}{value:,.0f}"


def tick_labels(values: Sequence[float], language: str, *, currency: bool = False) -> list[str]:
    """Labels of evenly spaced axis ticks, all in one scale: ``0, 2,000万, 4,000万``.

    Args:
        values: the tick values, ascending and evenly spaced.
        language: ``zh`` or ``en``.
        currency: prefix ``¥``.

    Returns:
        One label per value, with as many decimals as the step between ticks needs.
    """
    if not len(values):
        return []
    prefix = "¥" if currency else ""
    largest = max(abs(value) for value in values)
    step = min(
        (abs(b - a) for a, b in zip(values, values[1:], strict=False) if b != a), default=largest
    )
    size, suffix = 1.0, ""
    for threshold, scale_size, scale_suffix in _scales(language, TICK_SCALES):
        if largest >= threshold:
            size, suffix = scale_size, scale_suffix
            break
    scaled_step = step / size if step else 1.0
    # The fewest decimals that still tell neighbouring ticks apart: 0.25万 needs two.
    digits = next(
        (places for places in range(MAX_TICK_DECIMALS) if _exact(scaled_step, places)),
        MAX_TICK_DECIMALS,
    )
    labels = []
    for value in values:
        if value == 0:
            labels.append("0")
            continue
        scaled = value / size
        sign = "−" if scaled < 0 else ""
        labels.append(f"{sign}{prefix}{abs(scaled):,.{digits}f}{suffix}")
    return labels


def _exact(value: float, places: int) -> bool:
    return math.isclose(round(value, places), value, rel_tol=1e-9, abs_tol=1e-12)


def unit(name: str, language: str) -> str:
    """A unit as the language writes it: ``kwh`` is ``kWh`` in English, ``千瓦时`` in Chinese.

    Args:
        name: ``kwh``, ``kw``, ``kva``, ``kv``, ``kvarh`` or ``cny``.
        language: ``zh`` or ``en``.
    """
    return i18n.translate(f"domain.unit.{name}", language)


# Table formats by what a column holds, read from its name's unit: money with two decimals,
# energy in whole kWh, power to a tenth of a kW, all with thousands separators.
MONEY_FORMAT = "%,.2f"
ENERGY_FORMAT = "%,.0f"
POWER_FORMAT = "%,.1f"
FACTOR_FORMAT = "%.2f"


def number_format(name: str) -> str | None:
    """The printf format of a column by the unit its name carries, or None."""
    if name.endswith("_cny"):
        return MONEY_FORMAT
    if name.startswith("kwh") or name.endswith("_kwh"):
        return ENERGY_FORMAT
    if name.endswith("_kw") or name.endswith("_kvar"):
        return POWER_FORMAT
    if name == "power_factor":
        return FACTOR_FORMAT
    return None


def table_formats(columns: Iterable[str], label: Callable[[str], str]) -> dict[str, object]:
    """``column_config`` for ``st.dataframe`` of a frame whose columns are renamed by ``label``.

    Args:
        columns: the frame's own column names (``amount_cny``, ``kwh_total``, ...).
        label: how the page renames a column for the reader.
    """
    formats = {name: number_format(name) for name in columns}
    return {
        label(name): st.column_config.NumberColumn(format=chosen)
        for name, chosen in formats.items()
        if chosen is not None
    }
