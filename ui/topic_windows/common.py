"""What every window draws alike: freshness, cards, charts that drill down, the rows behind them."""

import json
from collections.abc import Mapping

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, customer360, kpis
from ui import charts, downloads, formatting, session, tables
from ui.topic_windows import data, state

t = session.t

CHART_HEIGHT = 340
BIG_CHART_HEIGHT = 460
# Plotly's colours, one per category in a fixed order, so a class keeps its colour everywhere.
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf")
GOOD, BAD, WARNING = "#2ca02c", "#d62728", "#ff7f0e"
CUSTOMER_360 = "pages/customer_360.py"


def code_text(column: str, value: object, *, orders: bool = False) -> str:
    """A stored code as the reader reads it: classes, types, stages, buckets, channels."""
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return tables.EMPTY
    text = str(value)
    language = session.language()
    keys = {
        "customer_class": "domain.customer_class",
        "type": "customer360.order_type" if orders else "domain.application_type",
        "stage": "domain.application_stage",
        "bucket": "topic_windows.bucket",
        "channel": "customer360.channel",
        "status": "topic_windows.status",
        "applicant_group": "topic_windows.group",
        "source": "topic_windows.source",
        "arm": "topic_windows.arm",
        "state": "topic_windows.state",
        "outcome": "topic_windows.outcome",
        "triage": "topic_windows.triage",
    }
    if column in keys:
        key = f"{keys[column]}.{text}"
        shown = t(key)
        return text if shown == key else shown
    if column in ("industry", "region"):
        return customer360.archive_text(column, text, language)
    return text


def month_text(period: str) -> str:
    """A ``YYYY-MM`` month as the language writes it: 2025年12月, Dec 2025."""
    stamp = pd.Timestamp(f"{period}-01")
    return f"{stamp.year}年{stamp.month}月" if session.language() == "zh" else f"{stamp:%b %Y}"


def amount(value: float | None, *, currency: bool = False) -> str:
    """A card's number in the language's scale (万/亿 or K/M/B)."""
    return formatting.compact(value, session.language(), currency=currency)


def share(value: float | None) -> str:
    """A rate as a percentage, a dash when there is none."""
    return tables.EMPTY if value is None or pd.isna(value) else f"{value:.1%}"


def change(value: float, reference: float | None) -> str | None:
    """The relative change against a reference, for a card's delta."""
    if reference is None or pd.isna(reference) or reference == 0:
        return None
    return f"{(value - reference) / abs(reference):+.1%}"


def freshness_line(viewer: access.Viewer, window: str) -> None:
    """One line saying how new the window's data is, and "stale" where it is too old."""
    parts = []
    for item in data.freshness(viewer, window):
        name = code_text("source", item.source)
        if item.latest is None:
            parts.append(
                f"{name}: {t('topic_windows.no_data_yet')} :red-badge[{t('topic_windows.stale')}]"
            )
            continue
        when = f"{item.latest:%Y-%m-%d %H:%M}" if item.source != "bills" else f"{item.latest:%Y-%m}"
        text = t("topic_windows.latest", source=name, when=when, days=f"{item.age_days:,.1f}")
        if item.stale:
            text += f" :orange-badge[{t('topic_windows.stale')}]"
        parts.append(text)
    st.caption(" · ".join(parts))


def style(figure: go.Figure, *, big: bool, legend: bool = True) -> go.Figure:
    """A window's chart layout: the same margins, legend and height everywhere; dark when big."""
    figure.update_layout(
        height=BIG_CHART_HEIGHT if big else CHART_HEIGHT,
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"orientation": "h", "y": -0.2} if legend else None,
        showlegend=legend,
        clickmode="event+select",
    )
    if big:
        figure.update_layout(
            template="plotly_dark",
            paper_bgcolor="rgba(0,0,0,0)",
            plot_bgcolor="rgba(0,0,0,0)",
            font={"size": 18},
        )
    return figure


def point_data(selection: Mapping[str, object]) -> str:
    """The selection a chart's point stands for, as its customdata."""
    return json.dumps({name: value for name, value in selection.items()}, ensure_ascii=False)


def show_chart(
    figure: go.Figure, *, key: str, window: str, drill: str | None, big: bool = False
) -> None:
    """Draws a chart; a click on a point opens the rows behind it (``drill``) in the URL.

    Each point carries its selection as customdata (:func:`point_data`). The selection a chart
    reported last is remembered, so that closing a drill-down does not reopen it.
    """
    style(figure, big=big, legend=figure.layout.showlegend is not False)
    if drill is None or big:
        charts.show(figure, key=key, theme=None if big else "streamlit")
        return
    event = charts.show(figure, key=key, on_select="rerun", selection_mode="points")
    points = list(((event or {}).get("selection") or {}).get("points") or [])
    signature = json.dumps(points, sort_keys=True, default=str)
    handled_key = f"{key}_handled"
    if st.session_state.get(handled_key) == signature:
        return
    st.session_state[handled_key] = signature
    for point in points:
        custom = point.get("customdata")
        if isinstance(custom, list | tuple):
            custom = custom[0] if custom else None
        if not custom:
            continue
        state.open_drill(window, drill, json.loads(custom))
        st.rerun()


def bar_trace(x: list, y: list, selections: list[Mapping[str, object]], **options) -> go.Bar:
    """A bar trace whose bars carry the selections they drill into."""
    return go.Bar(x=x, y=y, customdata=[[point_data(chosen)] for chosen in selections], **options)


CODE_COLUMNS = (
    "customer_class",
    "type",
    "stage",
    "bucket",
    "channel",
    "status",
    "applicant_group",
    "industry",
    "region",
    "arm",
    "outcome",
    "state",
    "triage",
)


def _labelled(frame: pd.DataFrame) -> pd.DataFrame:
    orders = "order_id" in frame.columns
    shown = frame.copy()
    for column in shown.columns:
        if column in CODE_COLUMNS:
            shown[column] = [code_text(column, value, orders=orders) for value in shown[column]]
    return shown


def column_label(name: str) -> str:
    """A drill-down column's heading."""
    return t(f"topic_windows.column.{name}")


def rows_table(frame: pd.DataFrame, *, key: str, title: str, stem: str) -> None:
    """A table of customers, applications or orders: a selected row opens its customer's view."""
    if frame.empty:
        st.info(t("topic_windows.no_rows"))
        return
    shown = _labelled(frame)
    event = tables.show(
        shown,
        column_label,
        key=key,
        on_select="rerun",
        selection_mode="single-row",
        height=min(420, 38 + 35 * len(shown)),
    )
    selected = list(((event or {}).get("selection") or {}).get("rows") or [])
    if selected and "customer_id" in frame.columns:
        customer = frame["customer_id"].iloc[selected[0]]
        if customer is None or pd.isna(customer):
            st.caption(t("topic_windows.no_customer_yet"))
        else:
            st.page_link(
                CUSTOMER_360,
                label=t("topic_windows.open_customer", customer=customer),
                icon=":material/person_search:",
                query_params={"customer": str(customer)},
            )
    downloads.offer(title, shown, stem, key=f"{key}_download", labels=column_label)


def _selection_text(drill: state.Drill) -> str:
    parts = []
    for name, value in drill.items():
        if name in ("period", "month"):
            parts.append(month_text(value))
        elif name == "late":
            parts.append(t(f"topic_windows.late_{value}"))
        elif name in ("complaint", "after_outage", "on_time", "converted", "overdue"):
            parts.append(t(f"topic_windows.flag.{name}_{value}"))
        elif value == kpis.drill.NONE_VALUE:
            parts.append(f"{column_label(name)}: {tables.EMPTY}")
        else:
            parts.append(code_text(name, value, orders=drill.figure in ("orders",)))
    return " · ".join(parts)


def drill_panel(viewer: access.Viewer, period: str, window: str, current: state.State) -> None:
    """The rows behind the figure the URL names, when it belongs to this window."""
    drill = current.drill
    if drill is None or data.FIGURES.get(drill.figure, None) is None:
        return
    if data.FIGURES[drill.figure].window != window:
        return
    found = data.drill_down(viewer, period, drill.figure, drill.items())
    st.divider()
    head, close = st.columns([5, 1])
    head.subheader(t(f"topic_windows.drill.{drill.figure}"))
    if close.button(t("topic_windows.close"), key=f"{window}_close", icon=":material/close:"):
        state.close_drill()
        st.rerun()
    if found is None:
        st.warning(t("topic_windows.unknown_drill"))
        return
    described = _selection_text(drill)
    if described:
        st.caption(described)
    totals = " · ".join(
        f"{column_label(name)}: {_total_text(name, value)}" for name, value in found.totals.items()
    )
    st.caption(t("topic_windows.rows_found", count=f"{found.total_rows:,}", totals=totals))
    if found.truncated:
        st.caption(t("topic_windows.rows_capped", shown=f"{len(found.rows):,}"))
    stem = f"{drill.figure}_{period}"
    rows_table(
        found.rows,
        key=f"{window}_drill_rows",
        title=t(f"topic_windows.drill.{drill.figure}"),
        stem=stem,
    )


def _total_text(name: str, value: float) -> str:
    unit = formatting.number_format(name)
    if unit is None:
        return f"{value:,.0f}"
    return f"{value:{unit.removeprefix('%')}}"


# Rows of a list on the wall display: what can be read across a room.
BIG_LIST_ROWS = 10


def public_table(frame: pd.DataFrame, columns: list[str]) -> None:
    """A short list for the wall display: the chosen columns, never a personal field."""
    kept = [name for name in columns if name in frame.columns]
    shown = kpis.drill.without_personal_fields(frame[kept].head(BIG_LIST_ROWS))
    if shown.empty:
        st.caption(t("topic_windows.no_rows"))
        return
    tables.show(_labelled(shown), column_label)
