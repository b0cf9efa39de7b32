"""Numbers as people in the utility read them: 万/亿 in Chinese, K/M/B in English."""

from collections.abc import Callable, Iterable

import streamlit as st


def compact(value: float | None, language: str, *, currency: bool = False) -> str:
    """A short form of a large number for a KPI card: ``4,331.2万`` or ``43.3M``."""
    if value is None:
        return "—"
    prefix = "¥" if currency else ""
    magnitude = abs(value)
    if language == "zh":
        steps = ((1e8, 1e8, "亿"), (1e5, 1e4, "万"))
    else:
        steps = ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "K"))
    for threshold, size, suffix in steps:
        if magnitude >= threshold:
            scaled = value / size
            # Four significant figures are plenty on a card; more only widens it.
            digits = 0 if abs(scaled) >= 1000 else 1
            return f"{prefix}{scaled:,.{digits}f}{suffix}"
    return f"{prefix}{value:,.0f}"


# Table formats by what a column holds, read from its name's unit: money with two decimals,
# energy in whole kWh, power to a tenth of a kW, all with thousands separators.
MONEY_FORMAT = "%,.2f"
ENERGY_FORMAT = "%,.0f"
POWER_FORMAT = "%,.1f"
FACTOR_FORMAT = "%.2f"


def _unit_format(name: str) -> str | None:
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
    formats = {name: _unit_format(name) for name in columns}
    return {
        label(name): st.column_config.NumberColumn(format=number_format)
        for name, number_format in formats.items()
        if number_format is not None
    }
