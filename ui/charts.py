"""Plotly charts in the user's language: dates, 万/亿 value axes and plotly's own texts.

Every page draws its plotly figures through :func:`show`. Dates are written by plotly.js itself
from the locale passed in the chart's config (month and day names, and the patterns it picks for
year, month and day ticks and hover labels), so they follow the language at every zoom level. Value
axes get tick labels in the scale the language counts in (2,000万 in Chinese, 20M in English),
which plotly cannot do on its own: its SI prefixes have no 万 or 亿.
"""

import math

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core import i18n
from ui import formatting, session

# Ticks a value axis aims for: enough to read a value off, few enough to stay apart.
TARGET_TICKS = 5
# Steps between ticks are 1, 2, 2.5 or 5 times a power of ten.
NICE_STEPS = (1.0, 2.0, 2.5, 5.0, 10.0)
# An axis whose values stay below this reads fine with plotly's own plain numbers.
SCALED_FROM = 1e4
# Traces whose y values are positions on a value axis (a heatmap's y are its rows, not values).
VALUE_TRACES = ("scatter", "scattergl", "bar")

# plotly.js locale formats (the fields of its locale files): names of months and days, and the
# patterns it uses for automatic date ticks and hover labels.
PLOTLY_FORMATS = {
    "zh": {
        "days": ["星期日", "星期一", "星期二", "星期三", "星期四", "星期五", "星期六"],
        "shortDays": ["周日", "周一", "周二", "周三", "周四", "周五", "周六"],
        "months": [f"{number}月" for number in range(1, 13)],
        "shortMonths": [f"{number}月" for number in range(1, 13)],
        "periods": ["上午", "下午"],
        "dateTime": "%Y年%-m月%-d日 %H:%M:%S",
        "date": "%Y-%m-%d",
        "time": "%H:%M:%S",
        "decimal": ".",
        "thousands": ",",
        "grouping": [3],
        "currency": ["¥", ""],
        "year": "%Y年",
        "month": "%Y年%-m月",
        "dayMonth": "%-m月%-d日",
        "dayMonthYear": "%Y年%-m月%-d日",
    },
}
PLOTLY_LOCALES = {"zh": "zh-CN"}
# plotly.js's own texts (mode bar, hints) by their English text, with the catalog key of each.
PLOTLY_TEXTS = {
    "Download plot as a png": "download_png",
    "Download plot": "download",
    "Zoom": "zoom",
    "Pan": "pan",
    "Box Select": "box_select",
    "Lasso Select": "lasso_select",
    "Zoom in": "zoom_in",
    "Zoom out": "zoom_out",
    "Autoscale": "autoscale",
    "Reset axes": "reset_axes",
    "Reset view": "reset_view",
    "Toggle Spike Lines": "spike_lines",
    "Show closest data on hover": "hover_closest",
    "Compare data on hover": "hover_compare",
    "Double-click to zoom back out": "zoom_back",
    "Taking snapshot - this may take a few seconds": "snapshot_running",
    "Snapshot succeeded": "snapshot_done",
    "Sorry, there was a problem downloading your snapshot!": "snapshot_failed",
}


def plotly_config(language: str) -> dict:
    """The ``config`` of ``st.plotly_chart`` that makes plotly.js speak ``language``.

    Args:
        language: ``zh`` or ``en``.

    Returns:
        Empty for English (plotly's own language); for Chinese the locale with its date
        formats and the translated mode-bar texts.
    """
    locale = PLOTLY_LOCALES.get(language)
    if locale is None:
        return {}
    dictionary = {
        english: i18n.translate(f"charts.plotly.{name}", language)
        for english, name in PLOTLY_TEXTS.items()
    }
    return {
        "locale": locale,
        "locales": {locale: {"dictionary": dictionary, "format": PLOTLY_FORMATS[language]}},
    }


def nice_ticks(low: float, high: float, count: int = TARGET_TICKS) -> list[float]:
    """Evenly spaced round tick values covering ``low`` to ``high``.

    Args:
        low: the smallest value shown.
        high: the largest value shown.
        count: about how many steps.

    Returns:
        Ascending values, steps of 1, 2, 2.5 or 5 times a power of ten, from at or below
        ``low`` to at or above ``high``.
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return []
    if high < low:
        low, high = high, low
    if high == low:
        high = low + (abs(low) or 1.0)
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(factor * power for factor in NICE_STEPS if factor * power >= raw * (1 - 1e-9))
    first = math.floor(low / step + 1e-9)
    last = math.ceil(high / step - 1e-9)
    return [round(index * step, 10) for index in range(first, last + 1)]


def _axis_of(trace, letter: str) -> str:
    anchor = getattr(trace, f"{letter}axis", None) or letter
    return f"{letter}axis{anchor[1:]}"


def _stacked(figure: go.Figure) -> bool:
    return figure.layout.barmode in ("stack", "relative")


def _numbers(values) -> np.ndarray:
    if values is None:
        return np.array([], dtype=float)
    array = np.asarray(values)
    if array.dtype.kind not in "iuf":
        return np.array([], dtype=float)
    array = array.astype(float)
    return array[np.isfinite(array)]


def _axis_extent(figure: go.Figure, axis: str) -> tuple[float, float] | None:
    """The lowest and highest value drawn against a y axis, stacks summed."""
    lows, highs, stacks = [], [], {}
    for trace in figure.data:
        if trace.type not in VALUE_TRACES or _axis_of(trace, "y") != axis:
            continue
        values = _numbers(trace.y)
        if not values.size:
            continue
        if trace.type == "bar" and _stacked(figure) and trace.x is not None:
            for position, value in zip(trace.x, np.asarray(trace.y, dtype=float), strict=False):
                if not math.isfinite(value):
                    continue
                up, down = stacks.get(position, (0.0, 0.0))
                stacks[position] = (up + max(value, 0.0), down + min(value, 0.0))
            continue
        lows.append(values.min())
        highs.append(values.max())
        if trace.type == "bar":
            lows.append(0.0)
            highs.append(0.0)
    for up, down in stacks.values():
        lows.append(down)
        highs.append(up)
    if not highs:
        return None
    return float(min(lows)), float(max(highs))


def value_axis(
    figure: go.Figure, language: str, axis: str = "yaxis", *, currency: bool = False
) -> None:
    """Tick labels of a value axis in the language's scale (万/亿 or K/M/B).

    Args:
        figure: the chart; its traces on ``axis`` give the range.
        language: ``zh`` or ``en``.
        axis: the layout name of the axis (``yaxis``, ``yaxis2``).
        currency: prefix the ticks with ``¥``.
    """
    extent = _axis_extent(figure, axis)
    if extent is None:
        return
    low, high = extent
    if figure.layout[axis].rangemode == "tozero":
        low, high = min(low, 0.0), max(high, 0.0)
    ticks = nice_ticks(low, high)
    if not ticks:
        return
    figure.layout[axis].update(
        tickmode="array",
        tickvals=ticks,
        ticktext=formatting.tick_labels(ticks, language, currency=currency),
        # Hover labels say the value itself, with thousands separators, not plotly's 45.7789M.
        hoverformat=",.2f" if currency else ",.0f",
    )


# Hover labels of a monthly axis: the month alone, not the first day of it.
MONTH_HOVER = {"zh": "%Y年%-m月", "en": "%b %Y"}


def month_axis(figure: go.Figure, language: str, axis: str = "xaxis") -> None:
    """A date axis whose points are months (dated on their first day).

    Args:
        figure: the chart.
        language: ``zh`` or ``en``.
        axis: the layout name of the axis.
    """
    figure.layout[axis].update(
        type="date", hoverformat=MONTH_HOVER["zh" if language == "zh" else "en"]
    )


def _value_axes(figure: go.Figure) -> list[str]:
    names = {_axis_of(trace, "y") for trace in figure.data if trace.type in VALUE_TRACES}
    return sorted(names)


def localize(figure: go.Figure, language: str) -> go.Figure:
    """Gives every large-valued y axis that has no tick labels of its own the language's scale.

    Args:
        figure: the chart, changed in place.
        language: ``zh`` or ``en``.

    Returns:
        The same figure.
    """
    for axis in _value_axes(figure):
        layout_axis = figure.layout[axis]
        if layout_axis.tickvals is not None or layout_axis.type in ("category", "log", "date"):
            continue
        extent = _axis_extent(figure, axis)
        if extent is None or max(abs(extent[0]), abs(extent[1])) < SCALED_FROM:
            continue
        value_axis(figure, language, axis)
    return figure


def show(figure: go.Figure, *, key: str | None = None, **options) -> object:
    """Draws a plotly figure across the page's width in the session's language.

    Args:
        figure: the chart.
        key: the element's key.
        **options: further ``st.plotly_chart`` arguments (``on_select``, ``selection_mode``).

    Returns:
        What ``st.plotly_chart`` returns (the selection state when ``on_select`` is set).
    """
    language = session.language()
    localize(figure, language)
    options.setdefault("width", "stretch")
    return st.plotly_chart(figure, key=key, config=plotly_config(language), **options)


def axis_title(text_key: str, unit: str | None = None, **values: object) -> str:
    """An axis title with its unit in the session's language: ``Energy (kWh)``, ``电量（千瓦时）``.

    Args:
        text_key: the catalog key of what the axis shows.
        unit: a unit name of :func:`ui.formatting.unit`, or None.
        **values: fields of the text.
    """
    text = session.t(text_key, **values)
    if unit is None:
        return text
    return session.t("charts.with_unit", text=text, unit=formatting.unit(unit, session.language()))
