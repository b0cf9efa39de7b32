"""The Service window (95598): work orders, complaints, closing times, satisfaction."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access
from ui import charts, session
from ui.topic_windows import common, data, state

t = session.t
WINDOW = "service"


def _cards(figures: dict[str, pd.DataFrame]) -> None:
    month = figures["month"]
    area = figures["area_rate"]
    row = month.iloc[0] if len(month) else None
    columns = st.columns(6)
    columns[0].metric(
        t("topic_windows.card.orders"),
        f"{int(row['orders']) if row is not None else 0:,}",
        border=True,
    )
    columns[1].metric(
        t("topic_windows.card.complaints"),
        f"{int(row['complaints']) if row is not None else 0:,}",
        border=True,
    )
    columns[2].metric(
        t("topic_windows.card.per_10k"),
        f"{area['per_10k'].iloc[0]:,.1f}"
        if len(area) and pd.notna(area["per_10k"].iloc[0])
        else "—",
        border=True,
    )
    columns[3].metric(
        t("topic_windows.card.on_time"),
        common.share(row["on_time_rate"] if row is not None else None),
        border=True,
    )
    columns[4].metric(
        t("topic_windows.card.satisfaction"),
        f"{row['satisfaction']:.2f}" if row is not None and pd.notna(row["satisfaction"]) else "—",
        border=True,
    )
    columns[5].metric(
        t("topic_windows.card.after_outage"),
        f"{int(row['after_outage']) if row is not None else 0:,}",
        border=True,
    )


def _stacked(frame: pd.DataFrame, x: str, colour: str, period: str, key: str, *, big: bool) -> None:
    figure = go.Figure()
    for position, (value, rows) in enumerate(frame.groupby(colour, sort=True)):
        figure.add_trace(
            common.bar_trace(
                [common.code_text(x, item, orders=True) for item in rows[x]],
                list(rows["orders"]),
                [{"month": period, x: item, colour: value} for item in rows[x]],
                name=common.code_text(colour, value, orders=True),
                marker_color=common.PALETTE[position % len(common.PALETTE)],
            )
        )
    figure.update_layout(barmode="stack", yaxis={"title": t("topic_windows.axis.orders")})
    common.show_chart(figure, key=key, window=WINDOW, drill="orders", big=big)


def _rate_chart(figures: dict[str, pd.DataFrame], period: str, *, big: bool) -> None:
    rate = figures["rate"]
    figure = go.Figure(
        common.bar_trace(
            [common.code_text("region", region) for region in rate["region"]],
            list(rate["per_10k"]),
            [{"month": period, "region": region, "complaint": "1"} for region in rate["region"]],
            marker_color=common.BAD,
            text=[f"{value:,.1f}" for value in rate["per_10k"]],
            textposition="outside",
        )
    )
    figure.update_layout(yaxis={"title": t("topic_windows.axis.per_10k")}, showlegend=False)
    common.show_chart(figure, key="service_rate", window=WINDOW, drill="orders", big=big)


def _closing_chart(figures: dict[str, pd.DataFrame], period: str, *, big: bool) -> None:
    by_type = figures["by_type"]
    names = [common.code_text("type", kind, orders=True) for kind in by_type["type"]]
    figure = go.Figure()
    figure.add_trace(
        common.bar_trace(
            names,
            list(by_type["mean_hours"]),
            [{"month": period, "type": kind, "on_time": "0"} for kind in by_type["type"]],
            name=t("topic_windows.mean_hours"),
            marker_color=common.PALETTE[0],
            text=[common.share(rate) for rate in by_type["on_time_rate"]],
            textposition="outside",
        )
    )
    figure.add_scatter(
        x=names,
        y=by_type["limit_hours"],
        name=t("topic_windows.limit_hours"),
        mode="markers",
        marker={"symbol": "line-ew-open", "size": 36, "color": common.BAD, "line": {"width": 3}},
    )
    figure.update_layout(yaxis={"title": t("topic_windows.axis.hours")})
    common.show_chart(figure, key="service_closing", window=WINDOW, drill="orders", big=big)


def _satisfaction_chart(figures: dict[str, pd.DataFrame], period: str, *, big: bool) -> None:
    by_type = figures["by_type"]
    figure = go.Figure(
        common.bar_trace(
            [common.code_text("type", kind, orders=True) for kind in by_type["type"]],
            list(by_type["satisfaction"]),
            [{"month": period, "type": kind} for kind in by_type["type"]],
            marker_color=common.GOOD,
            text=[common.share(rate) for rate in by_type["satisfied_rate"]],
            textposition="outside",
        )
    )
    figure.update_layout(
        yaxis={"title": t("topic_windows.axis.satisfaction"), "range": [0, 5.5]}, showlegend=False
    )
    common.show_chart(figure, key="service_satisfaction", window=WINDOW, drill="orders", big=big)


def _trend_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    trend = figures["trend"]
    months = list(pd.to_datetime(trend["month"] + "-01"))
    after = trend["after_outage"]
    other = trend["complaints"] - after
    figure = go.Figure()
    for label, values, colour, flag in (
        ("after_outage", after, common.BAD, "1"),
        ("other_complaints", other, common.WARNING, "0"),
    ):
        figure.add_trace(
            common.bar_trace(
                months,
                list(values),
                [
                    {"month": month, "complaint": "1", "after_outage": flag}
                    for month in trend["month"]
                ],
                name=t(f"topic_windows.{label}"),
                marker_color=colour,
            )
        )
    figure.update_layout(
        barmode="stack", yaxis={"title": t("topic_windows.axis.complaints")}, xaxis={"dtick": "M1"}
    )
    charts.month_axis(figure, session.language())
    common.show_chart(figure, key="service_trend", window=WINDOW, drill="orders", big=big)


def render(viewer: access.Viewer, period: str, current: state.State, *, big: bool = False) -> None:
    """Draws the Service window for ``period``."""
    figures = data.service(viewer, period)
    common.freshness_line(viewer, WINDOW)
    _cards(figures)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.orders_type"))
        _stacked(figures["by_type_channel"], "type", "channel", period, "service_type", big=big)
    with right:
        st.subheader(t("topic_windows.chart.orders_region"))
        _stacked(figures["by_region_type"], "region", "type", period, "service_region", big=big)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.per_10k"))
        _rate_chart(figures, period, big=big)
    with right:
        st.subheader(t("topic_windows.chart.closing"))
        _closing_chart(figures, period, big=big)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.satisfaction"))
        _satisfaction_chart(figures, period, big=big)
    with right:
        st.subheader(t("topic_windows.chart.after_outage"))
        _trend_chart(figures, big=big)
    st.subheader(t("topic_windows.repeat"))
    repeat = figures["repeat"]
    if big:
        common.public_table(
            repeat, ["customer_id", "customer_class", "region", "complaints", "after_outage"]
        )
    else:
        common.rows_table(
            repeat, key="service_repeat", title=t("topic_windows.repeat"), stem=f"repeat_{period}"
        )
        common.drill_panel(viewer, period, WINDOW, current)
