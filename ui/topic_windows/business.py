"""The Business window (营业与业扩): sales against last year, applications, stages on time."""

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, kpis
from ui import charts, session
from ui.topic_windows import common, data, state

t = session.t
WINDOW = "business"


def _cards(figures: dict[str, pd.DataFrame], period: str) -> None:
    monthly = figures["monthly"].set_index("period")
    month = monthly.loc[period] if period in monthly.index else None
    volume = figures["month_volume"]
    before = figures["last_year_volume"]
    stages = figures["month_stages"]
    applications = int(volume["applications"].sum()) if len(volume) else 0
    added = float(volume["added_kva"].sum()) if len(volume) else 0.0
    earlier = float(before["applications"].sum()) if len(before) else None
    compliance = stages["compliance"].iloc[0] if len(stages) else None
    overdue = int(stages["overdue"].iloc[0]) if len(stages) else 0
    columns = st.columns(6)
    if month is not None:
        columns[0].metric(
            t("topic_windows.card.energy"),
            common.amount(month["energy_kwh"]),
            delta=common.change(month["energy_kwh"], month["energy_kwh_last_year"]),
            help=t("topic_windows.vs_last_year"),
            border=True,
        )
        columns[1].metric(
            t("topic_windows.card.revenue"),
            common.amount(month["revenue_cny"], currency=True),
            delta=common.change(month["revenue_cny"], month["revenue_cny_last_year"]),
            help=t("topic_windows.vs_last_year"),
            border=True,
        )
    columns[2].metric(
        t("topic_windows.card.applications"),
        f"{applications:,}",
        delta=common.change(applications, earlier),
        delta_color="off",
        help=t("topic_windows.vs_last_year"),
        border=True,
    )
    columns[3].metric(t("topic_windows.card.added_kva"), f"{added:,.0f}", border=True)
    columns[4].metric(t("topic_windows.card.compliance"), common.share(compliance), border=True)
    columns[5].metric(t("topic_windows.card.overdue"), f"{overdue:,}", border=True)


def _sales_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    by_class = figures["by_class"]
    monthly = figures["monthly"]
    figure = go.Figure()
    for position, (customer_class, rows) in enumerate(by_class.groupby("customer_class")):
        figure.add_trace(
            common.bar_trace(
                list(pd.to_datetime(rows["period"] + "-01")),
                list(rows["energy_kwh"]),
                [{"period": p, "customer_class": customer_class} for p in rows["period"]],
                name=common.code_text("customer_class", customer_class),
                marker_color=common.PALETTE[position % len(common.PALETTE)],
            )
        )
    figure.add_scatter(
        x=pd.to_datetime(monthly["period"] + "-01"),
        y=monthly["energy_kwh_last_year"],
        name=t("topic_windows.last_year"),
        mode="lines+markers",
        line={"color": "#7f7f7f", "dash": "dash"},
    )
    figure.update_layout(
        barmode="stack",
        yaxis={"title": charts.axis_title("topic_windows.axis.energy", "kwh")},
        xaxis={"dtick": "M1"},
    )
    charts.month_axis(figure, session.language())
    common.show_chart(figure, key="business_sales", window=WINDOW, drill="sales", big=big)


def _district_chart(figures: dict[str, pd.DataFrame], period: str, *, big: bool) -> None:
    rows = figures["by_region"]
    rows = rows[rows["period"] == period]
    names = [common.code_text("region", region) for region in rows["region"]]
    figure = go.Figure()
    figure.add_trace(
        common.bar_trace(
            names,
            list(rows["energy_kwh"]),
            [{"period": period, "region": region} for region in rows["region"]],
            name=common.month_text(period),
            marker_color=common.PALETTE[0],
        )
    )
    figure.add_trace(
        go.Bar(
            x=names,
            y=rows["energy_kwh_last_year"],
            name=t("topic_windows.last_year"),
            marker_color="#9aa5b1",
        )
    )
    figure.update_layout(
        barmode="group", yaxis={"title": charts.axis_title("topic_windows.axis.energy", "kwh")}
    )
    common.show_chart(figure, key="business_districts", window=WINDOW, drill="sales", big=big)


def _volume_chart(figures: dict[str, pd.DataFrame], measure: str, *, big: bool) -> None:
    volume = figures["volume"].copy()
    volume["industry"] = volume["industry"].fillna(kpis.drill.NONE_VALUE)
    figure = go.Figure()
    for position, (industry, rows) in enumerate(volume.groupby("industry", sort=True)):
        label = (
            t("topic_windows.no_industry")
            if industry == kpis.drill.NONE_VALUE
            else common.code_text("industry", industry)
        )
        figure.add_trace(
            common.bar_trace(
                [common.code_text("region", region) for region in rows["region"]],
                list(rows[measure]),
                [{"region": region, "industry": industry} for region in rows["region"]],
                name=label,
                marker_color=common.PALETTE[position % len(common.PALETTE)],
            )
        )
    unit = "kva" if measure == "added_kva" else None
    figure.update_layout(
        barmode="stack",
        yaxis={"title": charts.axis_title(f"topic_windows.axis.{measure}", unit)},
    )
    common.show_chart(
        figure, key=f"business_{measure}", window=WINDOW, drill="applications", big=big
    )


def _stage_chart(figures: dict[str, pd.DataFrame], *, big: bool) -> None:
    stages = figures["stages"]
    names = [common.code_text("stage", stage) for stage in stages["stage"].astype(str)]
    codes = list(stages["stage"].astype(str))
    late = stages["completed"] - stages["on_time"]
    figure = go.Figure()
    for label, values, colour, selection in (
        ("on_time", stages["on_time"], common.GOOD, {"status": "done", "late": "0"}),
        ("late", late, common.BAD, {"status": "done", "late": "1"}),
        ("overdue", stages["overdue"], common.WARNING, {"status": "pending", "late": "1"}),
    ):
        figure.add_trace(
            common.bar_trace(
                names,
                list(values),
                [{"stage": code, **selection} for code in codes],
                name=t(f"topic_windows.stage_bar.{label}"),
                marker_color=colour,
                text=[
                    common.share(rate) if label == "on_time" else None
                    for rate in stages["compliance"]
                ],
                textposition="inside",
            )
        )
    figure.update_layout(barmode="stack", yaxis={"title": t("topic_windows.axis.stages")})
    common.show_chart(figure, key="business_stages", window=WINDOW, drill="stages", big=big)
    mean = " · ".join(
        t("topic_windows.mean_days", stage=name, days=f"{days:.1f}")
        for name, days in zip(names, stages["mean_days"], strict=True)
        if pd.notna(days)
    )
    if mean:
        st.caption(mean)


def render(viewer: access.Viewer, period: str, current: state.State, *, big: bool = False) -> None:
    """Draws the Business window for ``period``."""
    figures = data.business(viewer, period)
    common.freshness_line(viewer, WINDOW)
    _cards(figures, period)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.sales"))
        _sales_chart(figures, big=big)
    with right:
        st.subheader(t("topic_windows.chart.districts", month=common.month_text(period)))
        _district_chart(figures, period, big=big)
    left, right = st.columns(2)
    with left:
        st.subheader(t("topic_windows.chart.applications"))
        _volume_chart(figures, "applications", big=big)
    with right:
        st.subheader(t("topic_windows.chart.added_kva"))
        _volume_chart(figures, "added_kva", big=big)
    st.subheader(t("topic_windows.chart.stages"))
    _stage_chart(figures, big=big)
    st.subheader(t("topic_windows.overdue", month=common.month_text(period)))
    overdue = figures["overdue"]
    if big:
        common.public_table(
            overdue,
            ["application_id", "type", "region", "stage", "days", "limit_days", "days_over"],
        )
    else:
        common.rows_table(
            overdue,
            key="business_overdue",
            title=t("topic_windows.overdue_download"),
            stem=f"overdue_{period}",
        )
    if not big:
        common.drill_panel(viewer, period, WINDOW, current)
