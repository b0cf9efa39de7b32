"""Customer 360 (客户全景视图): find one customer and see everything a visit needs."""

import functools

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, customer360, errors, tags, tariffs, visit_brief
from ui import charts, formatting, risk_panel, session, tables

PAGE = "pages/customer_360.py"
FAMILY_COLOURS = {
    "basic": "gray",
    "load": "blue",
    "value": "green",
    "service": "violet",
    "risk": "red",
}
FEATURE_UNITS = {
    "annual_kwh": "kwh",
    "avg_daily_kwh": "kwh",
    "max_demand_kw": "kw",
    "load_factor": "percent",
    "peak_share": "percent",
    "valley_share": "percent",
    "payment_punctuality": "percent",
    "online_share": "percent",
}
ORDER_COLOURS = {"complaint": "#d62728"}
CHART_MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}

viewer = session.require_page(PAGE)
t = session.t


@session.cached
def _search(who: access.Viewer, text: str) -> pd.DataFrame:
    return customer360.search(session.engine(), who, text)


@session.cached
def _dossier(who: access.Viewer, customer_id: str) -> customer360.Dossier | None:
    return customer360.dossier(session.engine(), who, customer_id)


def _audit_open(customer_id: str) -> None:
    # Once per customer and session: reruns of the same view are not new openings.
    opened = st.session_state.setdefault("c360_opened", set())
    if customer_id in opened:
        return
    with session.engine().begin() as conn:
        access.open_customer(conn, viewer, customer_id)
    opened.add(customer_id)


def _pick_customer() -> str | None:
    initial = st.query_params.get("customer", "")
    text = st.text_input(
        t("customer360.search"),
        value=initial,
        placeholder=t("customer360.search_hint"),
        help=t("customer360.search_help"),
        key="c360_search",
    )
    if not text.strip():
        return None
    matches = _search(viewer, text.strip())
    if matches.empty:
        st.warning(t("customer360.no_match", text=text.strip()))
        return None
    if len(matches) == 1:
        return str(matches["customer_id"].iloc[0])
    st.caption(t("customer360.matches", count=len(matches)))
    labels = {
        row.customer_id: (
            f"{row.customer_id} · {row.name} · "
            f"{t(f'customer360.system.{row.matched_on}')}: {row.matched_value}"
        )
        for row in matches.itertuples(index=False)
    }
    with st.expander(t("customer360.matches", count=len(matches)), expanded=False):
        language = session.language()
        shown = matches.assign(
            matched_on=matches["matched_on"].map(lambda name: t(f"customer360.system.{name}"))
        )
        for name in ("customer_class", "region", "industry"):
            if name in shown.columns:
                shown[name] = shown[name].map(
                    lambda value, field=name: customer360.archive_text(field, value, language)
                )
        headers = {name: t(f"customer360.column.{name}") for name in shown.columns}
        headers["matched_on"] = t("customer360.match_column")
        tables.show(shown, headers.get)
    # Labels as options, so what the user reads is what the widget holds.
    by_label = {label: customer_id for customer_id, label in labels.items()}
    chosen = st.selectbox(t("customer360.pick"), list(by_label), key="c360_pick")
    return by_label.get(chosen)


def _archive(record: dict) -> None:
    language = session.language()
    st.subheader(f"{record['name']} · {record['customer_id']}")
    tariff = record["tariff_name_zh"] if language == "zh" else record["tariff_name"]
    fields = [
        (
            "customer_class",
            customer360.archive_text("customer_class", record["customer_class"], language),
        ),
        ("industry", customer360.archive_text("industry", record.get("industry"), language)),
        ("region", customer360.archive_text("region", record["region"], language)),
        ("transformer_area", record.get("transformer_area") or "—"),
        ("tariff", tariff),
        (
            "contract_capacity_kva",
            _maybe(
                record.get("contract_capacity_kva"), "{:,.0f} " + formatting.unit("kva", language)
            ),
        ),
        (
            "voltage_kv",
            _maybe(record.get("voltage_kv"), "{:,.2f} " + formatting.unit("kv", language)),
        ),
        ("open_date", f"{record['open_date']}" if record.get("open_date") else "—"),
        ("manager_id", record.get("manager_id") or "—"),
        ("phone", record.get("phone") or "—"),
        ("status", _customer_status(record.get("status"))),
    ]
    with st.container(border=True):
        columns = st.columns(4)
        for index, (name, value) in enumerate(fields):
            with columns[index % 4]:
                st.markdown(f"**{t(f'customer360.field.{name}')}**  \n{value}")
        if record["external_ids"]:
            ids = " · ".join(
                f"{t(f'customer360.system.{system}')}: `{external}`"
                + ("" if active else f" ({t('customer360.inactive')})")
                for system, external, active in record["external_ids"]
            )
            st.caption(f"{t('customer360.external_ids')}: {ids}")


def _customer_status(status: str | None) -> str:
    if not status:
        return "—"
    key = f"customer360.customer_status.{status}"
    shown = t(key)
    # A status the catalog does not know (an imported code) is shown as it came.
    return status if shown == key else shown


def _maybe(value, pattern: str) -> str:
    return "—" if value is None or pd.isna(value) else pattern.format(float(value))


def _tags(feature_row: dict | None, hits: list[tags.Hit]) -> None:
    st.subheader(t("customer360.tags"))
    if feature_row is None:
        st.info(t("customer360.no_features"))
        return
    st.caption(
        t(
            "customer360.features_period",
            start=f"{feature_row['period_start']}",
            end=f"{pd.Timestamp(feature_row['period_end']) - pd.Timedelta(days=1):%Y-%m-%d}",
        )
    )
    if not hits:
        st.caption(t("customer360.no_tags"))
        return
    language = session.language()
    chips = " ".join(
        f":{FAMILY_COLOURS[hit.rule.family]}-badge[{tags.tag_name(hit.rule, language)}]"
        for hit in hits
    )
    st.markdown(chips)
    for hit in hits:
        family = t(f"tags.family.{hit.rule.family}")
        st.caption(f"{family} · {tags.reason(hit, language)}")


def _load(load: dict | None, feature_row: dict | None) -> None:
    st.subheader(t("customer360.load"))
    if load is None:
        st.info(t("customer360.no_readings"))
        return
    st.caption(
        t(
            "customer360.readings_span",
            first=f"{load['first']:%Y-%m-%d}",
            last=f"{load['last']:%Y-%m-%d}",
        )
    )
    views = {
        "daily": t("customer360.view_daily"),
        "weekly": t("customer360.view_weekly"),
        "yearly": t("customer360.view_yearly"),
    }
    view = (
        st.segmented_control(
            t("customer360.view"),
            options=list(views),
            format_func=views.get,
            default="daily",
            key="c360_view",
        )
        or "daily"
    )
    language = session.language()
    figure = go.Figure()
    if view == "daily":
        figure.add_scatter(x=load["daily"]["day"], y=load["daily"]["kwh"], mode="lines")
        figure.update_xaxes(title=t("customer360.axis_day"))
    elif view == "weekly":
        figure.add_bar(x=load["weekly"]["week_start"], y=load["weekly"]["kwh"])
        figure.update_xaxes(title=t("customer360.axis_week"))
    else:
        months = [t(f"customer360.month_name.m{number}") for number in range(1, 13)]
        for year, rows in load["monthly"].groupby("year"):
            figure.add_scatter(
                x=[months[int(month) - 1] for month in rows["month"]],
                y=rows["kwh"],
                mode="lines+markers",
                name=t("customer360.year_name", year=int(year)),
            )
        figure.update_xaxes(
            title=t("customer360.axis_month"),
            type="category",
            categoryorder="array",
            categoryarray=months,
        )
    figure.update_layout(
        height=300,
        margin=CHART_MARGIN,
        yaxis={"title": formatting.unit("kwh", language)},
    )
    charts.show(figure, key="c360_load_chart")

    left, right = st.columns([3, 1])
    with left:
        st.markdown(f"**{t('customer360.heatmap')}**")
        grid = load["heatmap"].pivot_table(index="hour", columns="day", values="kwh", aggfunc="sum")
        heat = go.Figure(
            go.Heatmap(
                z=grid.to_numpy(),
                x=grid.columns,
                y=grid.index,
                colorscale="YlOrRd",
                colorbar={"title": formatting.unit("kwh", language)},
            )
        )
        heat.update_layout(
            height=320,
            margin=CHART_MARGIN,
            yaxis={"title": t("customer360.axis_hour"), "dtick": 3},
        )
        charts.show(heat, key="c360_heatmap")
    with right:
        st.markdown(f"**{t('customer360.tou_split')}**")
        split = customer360.tou_split(feature_row)
        split = split[split["share"] > 0] if not split.empty else split
        if split.empty:
            st.caption(t("customer360.no_tou"))
        else:
            pie = go.Figure(
                go.Pie(
                    labels=[t(f"domain.period.{name}") for name in split["period"]],
                    values=split["kwh"],
                    marker={"colors": [tariffs.PERIOD_COLOURS[name] for name in split["period"]]},
                    hole=0.45,
                    sort=False,
                )
            )
            pie.update_layout(height=320, margin=CHART_MARGIN, showlegend=True)
            charts.show(pie, key="c360_tou")


def _bills(frame: pd.DataFrame, standing: customer360.BillStanding | None) -> None:
    st.subheader(t("customer360.bills"))
    if frame.empty:
        st.caption(t("customer360.no_bills"))
        return
    first, second, _ = st.columns(3)
    if standing is None:
        first.metric(t("customer360.arrears_now"), "—")
        second.metric(t("customer360.late_bills"), "—")
    else:
        first.metric(t("customer360.arrears_now"), f"¥{standing.arrears_cny:,.2f}")
        second.metric(t("customer360.late_bills"), f"{standing.late_bills}")
    shown = frame.assign(status=frame["status"].map(lambda name: t(f"customer360.status.{name}")))
    tables.show(shown, lambda name: t(f"customer360.column.{name}"), height=260, key="c360_bills")


def _work_orders(frame: pd.DataFrame) -> None:
    st.subheader(t("customer360.work_orders"))
    if frame.empty:
        st.caption(t("customer360.no_work_orders"))
        return
    types = frame["type"].map(lambda name: t(f"customer360.order_type.{name}"))
    timeline = go.Figure(
        go.Scatter(
            x=frame["created_at"],
            y=types,
            mode="markers",
            marker={"size": 12, "color": frame["type"].map(ORDER_COLOURS).fillna("#1f77b4")},
            text=frame["description"],
            hovertemplate="%{x|%Y-%m-%d %H:%M}<br>%{y}<br>%{text}<extra></extra>",
        )
    )
    timeline.update_layout(height=220, margin=CHART_MARGIN)
    charts.show(timeline, key="c360_orders")
    shown = frame.assign(
        type=types,
        channel=frame["channel"].map(lambda name: t(f"customer360.channel.{name}")),
    )[["created_at", "type", "channel", "description", "satisfaction", "hours_to_close"]]
    tables.show(shown, lambda name: t(f"customer360.column.{name}"), key="c360_orders_table")


def _channels(frame: pd.DataFrame) -> None:
    st.subheader(t("customer360.channels"))
    if frame.empty:
        st.caption(t("customer360.no_channels"))
        return
    figure = go.Figure()
    for channel, rows in frame.groupby("channel"):
        figure.add_bar(x=rows["month"], y=rows["events"], name=t(f"customer360.channel.{channel}"))
    figure.update_layout(
        barmode="stack",
        height=260,
        margin=CHART_MARGIN,
        yaxis={"title": t("customer360.column.events")},
    )
    charts.show(figure, key="c360_channels")


def _outages(frame: pd.DataFrame) -> None:
    st.subheader(t("customer360.outages"))
    if frame.empty:
        st.caption(t("customer360.no_outages"))
        return
    shown = frame[["start", "end", "hours", "planned"]].assign(
        planned=frame["planned"].map(lambda planned: t(f"customer360.planned_{planned}".lower()))
    )
    tables.show(shown, lambda name: t(f"customer360.column.{name}"), key="c360_outages")


def _peers(peers: dict | None, record: dict) -> None:
    st.subheader(t("customer360.peers"))
    if peers is None:
        st.caption(t("customer360.no_peers"))
        return
    st.caption(
        t(
            f"customer360.peers_{peers['basis']}",
            count=peers["peers"],
            customer_class=t(f"domain.customer_class.{record['customer_class']}"),
        )
    )
    language = session.language()
    comparison = peers["comparison"]
    rows = []
    for item in comparison.itertuples(index=False):
        unit = FEATURE_UNITS[item.feature]
        rows.append(
            {
                t("customer360.column.feature"): t(f"tags.feature.{item.feature}"),
                t("customer360.column.customer"): _value(item.customer, unit, language),
                t("customer360.column.peer_median"): _value(item.peer_median, unit, language),
                t("customer360.column.percentile"): (
                    "—"
                    if item.percentile is None or pd.isna(item.percentile)
                    else t("customer360.percentile", share=f"{item.percentile:.0%}")
                ),
            }
        )
    tables.show(pd.DataFrame(rows), key="c360_peers")


def _value(value, unit: str, language: str) -> str:
    if value is None or pd.isna(value):
        return "—"
    return tags.format_value(float(value), unit, language)


def _actions(actions: list[customer360.Recommendation]) -> None:
    st.subheader(t("customer360.actions"))
    if not actions:
        st.caption(t("customer360.no_actions"))
        return
    language = session.language()
    st.markdown(
        "\n".join(
            f"{number}. {customer360.describe(action, language)}"
            for number, action in enumerate(actions, start=1)
        )
    )


def _brief(data: customer360.Dossier) -> None:
    st.subheader(t("customer360.brief"))
    customer_id = data.customer_id
    render = functools.partial(visit_brief.render, data, viewer, session.language())
    st.download_button(
        t("customer360.brief_download"),
        data=session.audited_export(f"visit_brief_{customer_id}.pdf", 1, render),
        file_name=f"visit_brief_{customer_id}.pdf",
        mime="application/pdf",
        help=t("customer360.brief_help"),
        on_click="ignore",
        icon=":material/picture_as_pdf:",
        key="c360_brief",
    )


st.title(t("customer360.title"))
st.caption(t("customer360.subtitle"))
customer_id = _pick_customer()
if customer_id is None:
    st.stop()
try:
    data = _dossier(viewer, customer_id)
except errors.UserError as error:
    session.show_error(error)
    st.stop()
if data is None:
    st.error(t("customer360.not_visible", customer_id=customer_id))
    st.stop()
_audit_open(customer_id)

_archive(data.record)
top_left, top_right = st.columns([3, 2])
with top_left:
    _tags(data.features, data.tags)
with top_right:
    _actions(data.actions)
    _brief(data)
risk_panel.show(viewer, customer_id)
_load(data.load, data.features)
_bills(data.bills, data.standing)
left, right = st.columns(2)
with left:
    _work_orders(data.work_orders)
with right:
    _channels(data.channels)
    _outages(data.outages)
_peers(data.peers, data.record)
