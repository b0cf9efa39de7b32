"""The chart helper: value axes in 万/亿 or K/M/B, plotly's locale, units in the language."""

import pandas as pd
import plotly.graph_objects as go
import pytest

from ui import charts, formatting


def test_nice_ticks_are_round_and_cover_the_values():
    assert charts.nice_ticks(0, 45_778_902) == [0, 1e7, 2e7, 3e7, 4e7, 5e7]
    assert charts.nice_ticks(-5_000, 12_000) == [-5_000, 0, 5_000, 10_000, 15_000]
    assert charts.nice_ticks(0, 12_000) == [0, 2_500, 5_000, 7_500, 10_000, 12_500]
    assert charts.nice_ticks(3, 3) == [3, 4, 5, 6]
    assert charts.nice_ticks(0, float("nan")) == []


def test_tick_labels_count_the_way_the_language_does():
    ticks = [0, 1e7, 2e7, 3e7, 4e7, 5e7]
    assert formatting.tick_labels(ticks, "zh") == [
        "0",
        "1,000万",
        "2,000万",
        "3,000万",
        "4,000万",
        "5,000万",
    ]
    assert formatting.tick_labels(ticks, "en") == ["0", "10M", "20M", "30M", "40M", "50M"]
    assert formatting.tick_labels([0, 1e8, 2e8], "zh") == ["0", "1亿", "2亿"]
    # Steps finer than one unit of the scale keep the decimals they need, no more.
    assert formatting.tick_labels([0, 5_000, 10_000, 15_000], "zh") == [
        "0",
        "0.5万",
        "1.0万",
        "1.5万",
    ]
    assert formatting.tick_labels([0, 2_500, 5_000], "zh") == ["0", "2,500", "5,000"]
    assert formatting.tick_labels([-5_000, 0, 5_000], "en") == ["−5K", "0", "5K"]
    assert formatting.tick_labels([0, 1e8], "zh", currency=True) == ["0", "¥1亿"]
    assert formatting.tick_labels([0.0, 0.2, 0.4], "zh") == ["0", "0.2", "0.4"]


def test_a_stacked_bar_axis_is_labelled_up_to_the_stack_total():
    figure = go.Figure()
    figure.add_bar(x=["2025-01", "2025-02"], y=[3e7, 2e7])
    figure.add_bar(x=["2025-01", "2025-02"], y=[2e7, 1e7])
    figure.add_scatter(x=["2025-01", "2025-02"], y=[4e6, 3e6], yaxis="y2")
    figure.update_layout(barmode="stack", yaxis2={"overlaying": "y", "rangemode": "tozero"})
    charts.localize(figure, "zh")
    assert figure.layout.yaxis.ticktext[-1] == "5,000万"
    assert figure.layout.yaxis.tickvals[-1] == 5e7
    assert figure.layout.yaxis.hoverformat == ",.0f"
    assert figure.layout.yaxis2.ticktext[-1] == "400万"


def test_small_values_and_explicit_ticks_are_left_alone():
    figure = go.Figure(go.Scatter(x=[1, 2, 3], y=[0.2, 0.5, 0.9]))
    charts.localize(figure, "zh")
    assert figure.layout.yaxis.tickvals is None
    chosen = go.Figure(go.Bar(x=["a"], y=[5e7]))
    chosen.update_yaxes(tickvals=[0, 5e7], ticktext=["none", "all"])
    charts.localize(chosen, "zh")
    assert chosen.layout.yaxis.ticktext == ("none", "all")


def test_a_heatmap_keeps_its_rows():
    days = pd.date_range("2025-01-01", periods=3)
    figure = go.Figure(go.Heatmap(z=[[1e5] * 3] * 24, x=days, y=list(range(24))))
    charts.localize(figure, "zh")
    assert figure.layout.yaxis.tickvals is None


def test_the_chinese_config_gives_plotly_chinese_dates_and_texts():
    config = charts.plotly_config("zh")
    locale = config["locales"][config["locale"]]
    assert locale["format"]["month"] == "%Y年%-m月"
    assert locale["format"]["dayMonthYear"] == "%Y年%-m月%-d日"
    assert locale["format"]["shortMonths"][0] == "1月"
    assert locale["dictionary"]["Zoom in"] == "放大"
    assert all(text.isascii() is False for text in locale["dictionary"].values())
    assert charts.plotly_config("en") == {}


@pytest.mark.parametrize(
    ("name", "english", "chinese"),
    [
        ("kwh", "kWh", "千瓦时"),
        ("kw", "kW", "千瓦"),
        ("kva", "kVA", "千伏安"),
        ("cny", "CNY", "元"),
    ],
)
def test_units_are_written_in_the_language(name, english, chinese):
    assert formatting.unit(name, "en") == english
    assert formatting.unit(name, "zh") == chinese
