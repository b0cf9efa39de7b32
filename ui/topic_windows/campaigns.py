"""The Campaigns window: the latest campaigns' lift over their control groups, costs and ROI."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access
from ui import downloads, session, tables
from ui.topic_windows import common, data, state

t = session.t
WINDOW = "campaigns"
RETURN_COLUMNS = [
    "campaign_name",
    "goal",
    "start_date",
    "end_date",
    "members",
    "treatment_rate",
    "control_rate",
    "incremental_conversions",
    "cost_cny",
    "cost_per_incremental_conversion",
    "roi",
]


def _number(value: float | None, spec: str = ",.1f") -> str:
    return tables.EMPTY if value is None or pd.isna(value) else f"{value:{spec}}"


def _cards(returns: pd.DataFrame) -> None:
    latest = returns.iloc[0]
    columns = st.columns(4)
    columns[0].metric(
        t("topic_windows.card.campaign_incremental", name=latest["campaign_id"]),
        _number(latest["incremental_conversions"]),
        border=True,
    )
    columns[1].metric(
        t("topic_windows.card.cost_per_incremental"),
        _number(latest["cost_per_incremental_conversion"], ",.2f"),
        border=True,
    )
    columns[2].metric(t("topic_windows.card.roi"), common.share(latest["roi"]), border=True)
    columns[3].metric(
        t("topic_windows.card.campaign_members"), f"{int(latest['members']):,}", border=True
    )
    if pd.isna(latest["incremental_conversions"]):
        st.caption(t("topic_windows.too_few"))


def _rates_chart(returns: pd.DataFrame, *, big: bool) -> None:
    ids = list(returns["campaign_id"])
    figure = go.Figure()
    for label, column, colour, arm in (
        ("treatment", "treatment_rate", common.PALETTE[0], None),
        ("control", "control_rate", "#9aa5b1", "control"),
    ):
        figure.add_trace(
            common.bar_trace(
                ids,
                list(returns[column]),
                [
                    {"campaign_id": campaign, "arm": arm or treated}
                    for campaign, treated in zip(ids, returns["arm"], strict=True)
                ],
                name=t(f"topic_windows.arm.{label}"),
                marker_color=colour,
            )
        )
    figure.update_layout(
        barmode="group", yaxis={"title": t("topic_windows.axis.conversion"), "tickformat": ".0%"}
    )
    common.show_chart(figure, key="campaigns_rates", window=WINDOW, drill="campaign", big=big)


def _incremental_chart(returns: pd.DataFrame, *, big: bool) -> None:
    ids = list(returns["campaign_id"])
    figure = go.Figure(
        common.bar_trace(
            ids,
            list(returns["incremental_conversions"]),
            [{"campaign_id": campaign, "converted": "1"} for campaign in ids],
            marker_color=common.GOOD,
            text=[
                t("topic_windows.per_incremental", cost=_number(cost, ",.2f"))
                for cost in returns["cost_per_incremental_conversion"]
            ],
            textposition="outside",
        )
    )
    figure.update_layout(yaxis={"title": t("topic_windows.axis.incremental")}, showlegend=False)
    common.show_chart(figure, key="campaigns_incremental", window=WINDOW, drill="campaign", big=big)


def _table(returns: pd.DataFrame, *, big: bool) -> None:
    shown = returns[RETURN_COLUMNS].copy()
    shown["goal"] = [t(f"topic_windows.goal.{goal}") for goal in shown["goal"]]
    tables.show(shown, common.column_label)
    if not big:
        downloads.offer(
            t("topic_windows.chart.campaigns"),
            shown,
            "campaign_returns",
            key="campaigns_download",
            labels=common.column_label,
        )


def render(viewer: access.Viewer, period: str, current: state.State, *, big: bool = False) -> None:
    """Draws the Campaigns window: the latest campaigns, whatever the month."""
    returns = data.campaigns(viewer)
    common.freshness_line(viewer, WINDOW)
    if returns.empty:
        st.info(t("topic_windows.no_rows"))
        return
    _cards(returns)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.campaign_rates"))
        _rates_chart(returns, big=big)
    with right:
        st.subheader(t("topic_windows.chart.campaign_incremental"))
        _incremental_chart(returns, big=big)
    st.subheader(t("topic_windows.chart.campaigns"))
    _table(returns, big=big)
    if not big:
        common.drill_panel(viewer, period, WINDOW, current)
