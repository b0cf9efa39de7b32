"""Overview (企业综合视窗): headline KPIs, their trend, and the customers on a map."""

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
import streamlit as st

from core import access, customer360, kpis
from ui import charts, downloads, formatting, maps, session

t = session.t

# RGB per customer class on the map and in the charts.
CLASS_COLOURS = {
    "residential": (31, 119, 180),
    "commercial": (255, 127, 14),
    "industrial": (214, 39, 40),
    "agricultural": (44, 160, 44),
}
# Figures where a rise is bad news: their deltas are drawn red when they go up.
RISE_IS_BAD = {"arrears_cny", "complaints"}
# Figures that are neither good nor bad when they move (more work orders can mean more new
# connections as well as more faults): their deltas are drawn grey.
NEUTRAL = {"work_orders"}
MAP_HEIGHT_PX = 480
# District outlines under the customers: a light fill, a darker edge, the name on top.
OUTLINE_FILL = [90, 110, 130, 28]
OUTLINE_EDGE = [70, 90, 110, 200]
LABEL_COLOUR = [30, 40, 50, 255]


@session.cached
def _months() -> list[str]:
    with session.engine().connect() as conn:
        return kpis.billed_months(conn)


@session.cached
def _figures(viewer: access.Viewer, period: str):
    with session.engine().connect() as conn:
        return (
            kpis.headline(conn, viewer, period),
            kpis.customers_by_class(conn, viewer, period),
            kpis.monthly_trend(conn, viewer, period, 24),
            kpis.map_points(conn, viewer, period),
            kpis.district_outlines(conn, viewer),
        )


def _format(name: str, value: float | None) -> str:
    return formatting.compact(value, session.language(), currency=name.endswith("_cny"))


def _percent(change: float | None) -> str | None:
    return None if change is None else f"{change:+.1%}"


def _delta_colour(name: str) -> str:
    if name in NEUTRAL:
        return "off"
    return "inverse" if name in RISE_IS_BAD else "normal"


def _kpi_cards(headline: list[kpis.Kpi], trend: pd.DataFrame) -> None:
    monthly = trend.groupby("period")[["energy_kwh", "revenue_cny"]].sum().tail(12)
    columns = [*st.columns(3), *st.columns(3)]
    for column, kpi in zip(columns, headline, strict=True):
        sparkline = monthly[kpi.name].tolist() if kpi.name in monthly.columns else None
        with column:
            st.metric(
                t(f"overview.kpi.{kpi.name}"),
                _format(kpi.name, kpi.value),
                delta=_percent(kpi.change_vs_previous),
                delta_color=_delta_colour(kpi.name),
                help=t("overview.vs_previous"),
                border=True,
                chart_data=sparkline,
                chart_type="area",
            )
            yearly = _percent(kpi.change_vs_last_year)
            st.caption(
                t("overview.vs_last_year", change=yearly) if yearly else t("overview.no_comparison")
            )


def _trend_chart(trend: pd.DataFrame, months: int) -> None:
    shown = trend[trend["period"].isin(sorted(trend["period"].unique())[-months:])]
    # Months as dates, so plotly names them in the reader's language (2025年1月, Jan 2025).
    shown = shown.assign(month=pd.to_datetime(shown["period"] + "-01"))
    figure = go.Figure()
    for customer_class, rows in shown.groupby("customer_class", sort=False):
        figure.add_bar(
            x=rows["month"],
            y=rows["energy_kwh"],
            name=t(f"domain.customer_class.{customer_class}"),
            marker_color="rgb" + str(CLASS_COLOURS.get(customer_class, (120, 120, 120))),
        )
    revenue = shown.groupby("month", as_index=False)["revenue_cny"].sum()
    figure.add_scatter(
        x=revenue["month"],
        y=revenue["revenue_cny"],
        name=t("overview.revenue_axis"),
        yaxis="y2",
        mode="lines+markers",
        line={"color": "#1f2a2e", "width": 2},
    )
    figure.update_layout(
        barmode="stack",
        height=380,
        margin={"l": 10, "r": 10, "t": 10, "b": 10},
        xaxis={"title": t("overview.month"), "dtick": "M1" if months <= 12 else "M3"},
        yaxis={"title": t("overview.energy_axis")},
        yaxis2={
            "title": t("overview.revenue_axis"),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.15},
    )
    charts.month_axis(figure, session.language())
    charts.show(figure, key="overview_trend")


def _map(points: pd.DataFrame, outlines: pd.DataFrame) -> None:
    if points.empty:
        return
    language = session.language()
    # Small consumers first, so the large ones are drawn on top where they can be seen.
    frame = points.sort_values("annual_kwh").reset_index(drop=True)
    colours = frame["customer_class"].map(lambda name: CLASS_COLOURS.get(name, (120, 120, 120)))
    frame["colour"] = [[*colour, 180] for colour in colours]
    # Area, not radius, should follow consumption: the radius grows with its square root.
    scale = frame["annual_kwh"].clip(lower=0) ** 0.5
    frame["radius"] = 60 + 900 * scale / max(scale.max(), 1.0)
    frame["class_name"] = frame["customer_class"].map(
        lambda name: t(f"domain.customer_class.{name}")
    )
    frame["region_name"] = frame["region"].map(
        lambda name: customer360.archive_text("region", name, language)
    )
    frame["annual_label"] = frame["annual_kwh"].map(
        lambda value: f"{value:,.0f} {formatting.unit('kwh', language)}"
    )
    shown = ["lon", "lat", "colour", "radius", "customer_id", "class_name", "region_name"]
    districts = outlines.assign(
        name=outlines["region"].map(lambda name: customer360.archive_text("region", name, language))
    )
    areas = pdk.Layer(
        "PolygonLayer",
        data=districts[districts["outline"].map(len) > 0][["name", "outline"]],
        get_polygon="outline",
        get_fill_color=OUTLINE_FILL,
        get_line_color=OUTLINE_EDGE,
        line_width_min_pixels=1,
        stroked=True,
        filled=True,
        pickable=False,
    )
    customers = pdk.Layer(
        "ScatterplotLayer",
        data=frame[[*shown, "annual_label"]],
        get_position=["lon", "lat"],
        get_fill_color="colour",
        get_radius="radius",
        radius_min_pixels=2,
        radius_max_pixels=22,
        pickable=True,
    )
    names = pdk.Layer(
        "TextLayer",
        data=districts[["name", "lon", "lat"]],
        get_position=["lon", "lat"],
        get_text="name",
        get_size=16,
        get_color=LABEL_COLOUR,
        # Chinese names need their glyphs in the font atlas; "auto" collects them from the data
        # (quoted, so that pydeck passes it as text rather than as an accessor).
        character_set='"auto"',
        font_family='"sans-serif"',
        font_weight=600,
        outline_width=3,
        outline_color=[255, 255, 255, 230],
        font_settings={"sdf": True},
    )
    # Fitted to the outlines as well, so no district's edge or name falls off the map.
    corners = [point for ring in districts["outline"] for point in ring]
    view = maps.fitted_view(
        pd.concat([frame["lat"], pd.Series([lat for _, lat in corners], dtype=float)]),
        pd.concat([frame["lon"], pd.Series([lon for lon, _ in corners], dtype=float)]),
        height_px=MAP_HEIGHT_PX,
    )
    tooltip = {"text": "{customer_id}\n{class_name} · {region_name}\n{annual_label}"}
    # No base map: tiles cannot be fetched from inside the utility's network. The districts'
    # outlines and names, drawn from the customers themselves, give the dots their places.
    deck = pdk.Deck(
        layers=[areas, customers, names],
        initial_view_state=view,
        map_provider=None,
        tooltip=tooltip,
    )
    st.pydeck_chart(deck, height=MAP_HEIGHT_PX)
    legend = " · ".join(
        f":{colour}[●] {t(f'domain.customer_class.{name}')}"
        for name, colour in zip(CLASS_COLOURS, ("blue", "orange", "red", "green"), strict=True)
    )
    st.caption(f"{t('overview.map_legend')}: {legend}")
    st.caption(t("overview.map_caption", count=f"{len(frame):,}"))


def _kpi_table(headline: list[kpis.Kpi], period: str) -> pd.DataFrame:
    table = kpis.headline_table(headline, period)
    return table.assign(kpi=table["kpi"].map(lambda name: t(f"overview.kpi.{name}")))


viewer = session.require_page("pages/overview.py")
st.title(t("overview.title"))
st.caption(t("overview.subtitle"))
months = _months()
if not months:
    st.info(t("overview.no_data"))
    st.stop()

period = st.selectbox(t("overview.month"), months, index=0)
headline, by_class, trend, points, outlines = _figures(viewer, period)

_kpi_cards(headline, trend)

left, right = st.columns([3, 1])
with left:
    st.subheader(t("overview.trend"))
    shown_months = st.segmented_control(
        t("overview.trend_months"), options=[12, 24], default=12, key="overview_trend_months"
    )
    _trend_chart(trend, shown_months or 12)
with right:
    st.subheader(t("overview.customers_by_class"))
    for row in by_class.itertuples(index=False):
        st.metric(t(f"domain.customer_class.{row.customer_class}"), f"{row.customers:,}")

st.subheader(t("overview.map"))
_map(points, outlines)

downloads.offer(
    t("overview.download_kpis"),
    _kpi_table(headline, period),
    f"kpis_{period}",
    key="kpis",
    labels=lambda name: t(f"overview.column.{name}"),
)
