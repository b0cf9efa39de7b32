"""The Collection window (电费回收): what is owed and for how long, each month's recovery."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, kpis
from ui import charts, session
from ui.topic_windows import common, data, state

t = session.t
WINDOW = "collection"
# Older debts are drawn darker: the colour of each ageing bucket, youngest first.
BUCKET_COLOURS = ("#f2c14e", "#f78154", "#d1495b", "#7d1d3f")


def _cards(figures: dict[str, pd.DataFrame]) -> None:
    ageing = figures["ageing"]
    recovery = figures["recovery"]
    total = float(ageing["outstanding_cny"].sum()) if len(ageing) else 0.0
    old = ageing[ageing["bucket"].astype(str).isin(("91_180", "over_180"))]
    measured = recovery[recovery["measured"]]
    latest = measured.iloc[-1] if len(measured) else None
    columns = st.columns(4)
    columns[0].metric(
        t("topic_windows.card.outstanding"), common.amount(total, currency=True), border=True
    )
    columns[1].metric(
        t("topic_windows.card.outstanding_old"),
        common.amount(float(old["outstanding_cny"].sum()), currency=True),
        border=True,
    )
    columns[2].metric(
        t(
            "topic_windows.card.recovery",
            month=common.month_text(latest["period"]) if latest is not None else "—",
        ),
        common.share(latest["recovery_rate"] if latest is not None else None),
        border=True,
    )
    columns[3].metric(
        t("topic_windows.card.debtor_bills"), f"{int(ageing['bills'].sum()):,}", border=True
    )


def _ageing_chart(figures: dict[str, pd.DataFrame], dimension: str, *, big: bool) -> None:
    ageing = figures["ageing"]
    grouped = (
        ageing.groupby([dimension, "bucket"], observed=True)["outstanding_cny"].sum().reset_index()
    )
    figure = go.Figure()
    for colour, bucket in zip(BUCKET_COLOURS, kpis.collection.BUCKETS, strict=True):
        rows = grouped[grouped["bucket"].astype(str) == bucket]
        figure.add_trace(
            common.bar_trace(
                [common.code_text(dimension, value) for value in rows[dimension]],
                list(rows["outstanding_cny"]),
                [{dimension: value, "bucket": bucket} for value in rows[dimension]],
                name=common.code_text("bucket", bucket),
                marker_color=colour,
            )
        )
    figure.update_layout(
        barmode="stack", yaxis={"title": charts.axis_title("topic_windows.axis.outstanding", "cny")}
    )
    common.show_chart(
        figure, key=f"collection_{dimension}", window=WINDOW, drill="debtors", big=big
    )


def _recovery_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    recovery = figures["recovery"]
    months = pd.to_datetime(recovery["period"] + "-01")
    figure = go.Figure()
    figure.add_trace(
        common.bar_trace(
            list(months),
            list(recovery["billed_cny"]),
            [{"period": period} for period in recovery["period"]],
            name=t("topic_windows.billed"),
            marker_color="#9aa5b1",
        )
    )
    measured = recovery["measured"]
    figure.add_scatter(
        x=months[measured],
        y=recovery.loc[measured, "recovery_rate"],
        name=t("topic_windows.recovery_rate"),
        yaxis="y2",
        mode="lines+markers",
        line={"color": common.GOOD, "width": 3},
    )
    figure.update_layout(
        yaxis={"title": charts.axis_title("topic_windows.axis.billed", "cny")},
        yaxis2={
            "title": t("topic_windows.recovery_rate"),
            "overlaying": "y",
            "side": "right",
            "tickformat": ".0%",
            "range": [0, 1.05],
            "showgrid": False,
        },
        xaxis={"dtick": "M1"},
    )
    charts.month_axis(figure, session.language())
    common.show_chart(figure, key="collection_recovery", window=WINDOW, drill="recovery", big=big)


def render(viewer: access.Viewer, period: str, current: state.State, *, big: bool = False) -> None:
    """Draws the Collection window at the end of ``period``."""
    figures = data.collection(viewer, period)
    common.freshness_line(viewer, WINDOW)
    _cards(figures)
    st.caption(t("topic_windows.as_of", day=f"{data.month_end(period):%Y-%m-%d}"))
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.ageing_region"))
        _ageing_chart(figures, "region", big=big)
    with right:
        st.subheader(t("topic_windows.chart.ageing_class"))
        _ageing_chart(figures, "customer_class", big=big)
    st.subheader(t("topic_windows.chart.recovery"))
    _recovery_chart(figures, big=big)
    st.subheader(t("topic_windows.top_debtors"))
    debtors = figures["top_debtors"]
    if big:
        common.public_table(
            debtors, ["customer_id", "customer_class", "region", "outstanding_cny", "days_overdue"]
        )
    else:
        common.rows_table(
            debtors,
            key="collection_debtors",
            title=t("topic_windows.top_debtors"),
            stem=f"debtors_{period}",
        )
    risky = figures["arrears_risk"]
    if not risky.empty:
        st.subheader(t("topic_windows.arrears_risk"))
        if big:
            common.public_table(
                risky, ["customer_id", "customer_class", "region", "score", "triage"]
            )
        else:
            common.rows_table(
                risky,
                key="collection_arrears_risk",
                title=t("topic_windows.arrears_risk"),
                stem=f"arrears_risk_{period}",
            )
    if not big:
        common.drill_panel(viewer, period, WINDOW, current)
