"""The Abnormal-use window (反窃查违): the ranked list, inspection orders, revenue recovered."""

import datetime as dt

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access
from core.risk import reasons as risk_reasons
from ui import charts, session
from ui.topic_windows import common, data, state

t = session.t
WINDOW = "abnormal"
OUTCOME_COLOURS = {
    "confirmed_theft": common.BAD,
    "meter_fault": common.WARNING,
    "vacancy": "#9467bd",
    "no_issue": "#9aa5b1",
}
LIST_COLUMNS = [
    "customer_id",
    "name",
    "customer_class",
    "region",
    "transformer_area",
    "score",
    "revenue_at_risk_cny",
    "reasons",
]


def _cards(figures: dict[str, pd.DataFrame]) -> None:
    ranked, opened, outcomes = figures["ranked"], figures["open"], figures["outcomes"]
    resolved = int(outcomes["resolved"].sum()) if len(outcomes) else 0
    hits = int(outcomes["hits"].sum()) if len(outcomes) else 0
    columns = st.columns(5)
    columns[0].metric(t("topic_windows.card.listed"), f"{len(ranked):,}", border=True)
    columns[1].metric(
        t("topic_windows.card.at_risk"),
        common.amount(float(ranked["revenue_at_risk_cny"].sum()), currency=True),
        border=True,
    )
    columns[2].metric(
        t("topic_windows.card.open_orders"), f"{int(opened['orders'].sum()):,}", border=True
    )
    columns[3].metric(
        t("topic_windows.card.hit_rate"),
        common.share(hits / resolved if resolved else None),
        border=True,
    )
    columns[4].metric(
        t("topic_windows.card.recovered"),
        common.amount(
            float(outcomes["recovered_revenue_cny"].sum()) if len(outcomes) else 0.0, currency=True
        ),
        border=True,
    )


def _open_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    opened = figures["open"]
    names = [common.code_text("state", value) for value in opened["state"]]
    on_time = opened["orders"] - opened["overdue"]
    figure = go.Figure()
    for label, values, colour, flag in (
        ("in_time", on_time, common.PALETTE[0], "0"),
        ("past_due", opened["overdue"], common.BAD, "1"),
    ):
        figure.add_trace(
            common.bar_trace(
                names,
                list(values),
                [{"state": value, "overdue": flag} for value in opened["state"]],
                name=t(f"topic_windows.{label}"),
                marker_color=colour,
            )
        )
    figure.update_layout(barmode="stack", yaxis={"title": t("topic_windows.axis.inspections")})
    common.show_chart(figure, key="abnormal_open", window=WINDOW, drill="inspections", big=big)


def _outcome_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    outcomes = figures["by_outcome"]
    figure = go.Figure()
    for outcome, rows in outcomes.groupby("outcome", sort=True):
        figure.add_trace(
            common.bar_trace(
                list(pd.to_datetime(rows["month"] + "-01")),
                list(rows["resolved"]),
                [{"month": month, "outcome": outcome} for month in rows["month"]],
                name=common.code_text("outcome", outcome),
                marker_color=OUTCOME_COLOURS.get(outcome, common.PALETTE[0]),
            )
        )
    monthly = figures["outcomes"]
    figure.add_scatter(
        x=pd.to_datetime(monthly["month"] + "-01"),
        y=monthly["recovered_revenue_cny"],
        name=t("topic_windows.recovered"),
        yaxis="y2",
        mode="lines+markers",
        line={"color": common.GOOD, "width": 3},
    )
    figure.update_layout(
        barmode="stack",
        yaxis={"title": t("topic_windows.axis.inspections")},
        yaxis2={
            "title": charts.axis_title("topic_windows.axis.recovered", "cny"),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        xaxis={"dtick": "M1"},
    )
    charts.month_axis(figure, session.language())
    common.show_chart(figure, key="abnormal_outcomes", window=WINDOW, drill="inspections", big=big)


def _ranked_rows(ranked: pd.DataFrame) -> pd.DataFrame:
    language = session.language()
    shown = ranked[[name for name in LIST_COLUMNS if name in ranked.columns]].copy()
    shown["reasons"] = [
        "；".join(risk_reasons.texts(list(found), language)) for found in ranked["reasons"]
    ]
    return shown


def render(viewer: access.Viewer, period: str, current: state.State, *, big: bool = False) -> None:
    """Draws the Abnormal-use window: the current list, and the inspections up to ``period``."""
    figures = data.abnormal(viewer, period, dt.date.today())
    common.freshness_line(viewer, WINDOW)
    _cards(figures)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.open_orders"))
        _open_chart(figures, big=big)
    with right:
        st.subheader(t("topic_windows.chart.outcomes"))
        _outcome_chart(figures, big=big)
    st.subheader(t("topic_windows.ranked"))
    ranked = _ranked_rows(figures["ranked"])
    if big:
        common.public_table(
            ranked, ["customer_id", "region", "transformer_area", "score", "revenue_at_risk_cny"]
        )
    else:
        common.rows_table(
            ranked, key="abnormal_ranked", title=t("topic_windows.ranked"), stem="abnormal_ranked"
        )
        common.drill_panel(viewer, period, WINDOW, current)
