"""The segment explorer's charts and map: sizes and value, load shapes with spread, the map."""

import pandas as pd
import plotly.graph_objects as go
import pydeck as pdk
from plotly.subplots import make_subplots

from core.segments import shapes
from ui import formatting, maps, session

t = session.t

# One colour per segment id, the same in every chart and on the map.
PALETTE = (
    (31, 119, 180),
    (255, 127, 14),
    (44, 160, 44),
    (214, 39, 40),
    (148, 103, 189),
    (140, 86, 75),
    (227, 119, 194),
    (127, 127, 127),
    (188, 189, 34),
    (23, 190, 207),
)
MARGIN = {"l": 10, "r": 10, "t": 30, "b": 10}
MAP_HEIGHT_PX = 460
# The band of a shape is drawn this transparent, so that several can overlap.
BAND_OPACITY = 0.18


def colour(segment_id: int, alpha: int | None = None) -> str | list[int]:
    """A segment's colour: ``rgb(...)`` for plotly, ``[r, g, b, a]`` for pydeck with ``alpha``."""
    red, green, blue = PALETTE[(int(segment_id) - 1) % len(PALETTE)]
    if alpha is not None:
        return [red, green, blue, alpha]
    return f"rgb({red},{green},{blue})"


def sizes_figure(table: pd.DataFrame, names: dict[int, str]) -> go.Figure:
    """Customers (bars) and annual revenue (dots, right axis) per segment; bars are selectable."""
    labels = [names[int(segment_id)] for segment_id in table["segment_id"]]
    figure = go.Figure()
    figure.add_bar(
        x=labels,
        y=table["customers"],
        name=t("segments.customers"),
        marker_color=[colour(segment_id) for segment_id in table["segment_id"]],
        customdata=table["segment_id"],
    )
    figure.add_scatter(
        x=labels,
        y=table["annual_revenue_cny"],
        name=t("segments.revenue"),
        yaxis="y2",
        mode="markers",
        marker={"color": "#1f2a2e", "size": 11, "symbol": "diamond"},
        customdata=table["segment_id"],
    )
    figure.update_layout(
        height=340,
        margin=MARGIN,
        yaxis={"title": t("segments.customers")},
        yaxis2={
            "title": t("segments.revenue"),
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
            "showgrid": False,
        },
        legend={"orientation": "h", "y": -0.25},
        clickmode="event+select",
    )
    return figure


def _curve_label(season: int, day_type: int) -> str:
    return t(
        "segments.curve",
        season=t(f"segments.season.{shapes.SEASONS[season]}"),
        day_type=t(f"segments.day_type.{shapes.DAY_TYPES[day_type]}"),
    )


def shapes_figure(stored_shapes: dict, shown: list[int]) -> go.Figure:
    """The typical shapes ``shown`` (ids), one panel per season and day type, with their spread."""
    ids = stored_shapes["ids"]
    titles = [
        _curve_label(season, day_type)
        for day_type in range(len(shapes.DAY_TYPES))
        for season in range(len(shapes.SEASONS))
    ]
    figure = make_subplots(
        rows=len(shapes.DAY_TYPES),
        cols=len(shapes.SEASONS),
        shared_yaxes=True,
        subplot_titles=titles,
        horizontal_spacing=0.03,
        vertical_spacing=0.12,
    )
    hours = list(range(shapes.HOURS))
    for position, shape_id in enumerate(ids):
        if shape_id not in shown:
            continue
        centre = stored_shapes["centroids"][position]
        low, high = stored_shapes["low"][position], stored_shapes["high"][position]
        line = colour(shape_id)
        name = t("segments.shape_name", id=shape_id)
        for season in range(len(shapes.SEASONS)):
            for day_type in range(len(shapes.DAY_TYPES)):
                start = (season * len(shapes.DAY_TYPES) + day_type) * shapes.HOURS
                window = slice(start, start + shapes.HOURS)
                cell = {"row": day_type + 1, "col": season + 1}
                first = season == 0 and day_type == 0
                figure.add_scatter(
                    x=hours + hours[::-1],
                    y=list(high[window]) + list(low[window])[::-1],
                    fill="toself",
                    fillcolor=line.replace("rgb", "rgba").replace(")", f",{BAND_OPACITY})"),
                    line={"width": 0},
                    hoverinfo="skip",
                    showlegend=False,
                    legendgroup=name,
                    **cell,
                )
                figure.add_scatter(
                    x=hours,
                    y=centre[window],
                    mode="lines",
                    line={"color": line, "width": 2},
                    name=name,
                    legendgroup=name,
                    showlegend=first,
                    **cell,
                )
    figure.update_layout(height=520, margin=MARGIN, legend={"orientation": "h", "y": -0.12})
    figure.update_xaxes(dtick=6, title_text=None)
    figure.update_yaxes(rangemode="tozero")
    return figure


def profile_figure(
    member_values: pd.DataFrame, feature: str, names: dict[int, str], selected: list[int]
) -> go.Figure:
    """The distribution of one feature in the selected segments against all members (box plots)."""
    figure = go.Figure()
    figure.add_box(y=member_values[feature], name=t("segments.everyone"), marker_color="#7f7f7f")
    for segment_id in selected:
        values = member_values.loc[member_values["segment_id"] == segment_id, feature]
        figure.add_box(y=values, name=names[segment_id], marker_color=colour(segment_id))
    figure.update_layout(
        height=340,
        margin=MARGIN,
        showlegend=False,
        yaxis={"title": t(f"tags.feature.{feature}")},
    )
    return figure


def segment_map(points: pd.DataFrame, names: dict[int, str], areas: bool) -> pdk.Deck | None:
    """Customers (or transformer areas) coloured by segment; objects are selectable.

    Args:
        points: members with lat, lon, segment_id (and transformer_area, customers for areas).
        names: segment names by id.
        areas: whether the points are transformer areas (one dot per area, sized by customers).
    """
    located = points.dropna(subset=["lat", "lon"]).reset_index(drop=True)
    if located.empty:
        return None
    frame = located.assign(
        colour=[colour(segment_id, 190) for segment_id in located["segment_id"]],
        segment=located["segment_id"].map(names),
    )
    if areas:
        frame["radius"] = 120 + 60 * frame["customers"].clip(lower=1) ** 0.5
        frame["label"] = [
            t("segments.map_area", area=area, customers=f"{count:,}", share=f"{share:.0%}")
            for area, count, share in zip(
                frame["transformer_area"], frame["customers"], frame["share"], strict=True
            )
        ]
    else:
        frame["radius"] = 80.0
        frame["label"] = frame["customer_id"]
    columns = ["lon", "lat", "colour", "radius", "segment", "segment_id", "label"]
    layer = pdk.Layer(
        "ScatterplotLayer",
        id="segments",
        data=frame[columns],
        get_position=["lon", "lat"],
        get_fill_color="colour",
        get_radius="radius",
        radius_min_pixels=3,
        radius_max_pixels=26,
        pickable=True,
        auto_highlight=True,
    )
    view = maps.fitted_view(frame["lat"], frame["lon"], height_px=MAP_HEIGHT_PX)
    # No base map: tiles cannot be fetched from inside the utility's network.
    return pdk.Deck(
        layers=[layer],
        initial_view_state=view,
        map_provider=None,
        tooltip={"text": "{label}\n{segment}"},
    )


def money(value: float) -> str:
    """An amount of money as a card shows it (¥1,234万)."""
    return formatting.compact(value, session.language(), currency=True)


def amount(value: float) -> str:
    """A large number as a card shows it (1,234万)."""
    return formatting.compact(value, session.language())
