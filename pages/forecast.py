"""Load forecast (负荷预测): level and horizon, history with forecast and interval, components,
backtest against the baselines, a warmer or colder what-if, download."""

import io

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core import access, errors, exports, forecast, ingest, load_series
from ui import charts, downloads, session

t = session.t
viewer = session.require_page("pages/forecast.py")
# History drawn before the forecast, in steps of the horizon's frequency: two days before a
# day-ahead forecast, a week before two weeks, a season before three months. Enough for context,
# short enough that the forecast fills most of the chart.
HISTORY_SHOWN = {"day_ahead": 2 * 24, "two_weeks": 7 * 24, "three_months": 91}
COLOURS = {"history": "#555555", "forecast": "#1f77b4", "what_if": "#d62728"}


@session.cached
def _keys(who: access.Viewer, level: str) -> list[str]:
    with session.engine().connect() as conn:
        return load_series.level_keys(conn, who, level)


@session.cached(max_entries=32)
def _forecast(
    who: access.Viewer,
    level: str,
    key: str,
    horizon: str,
    weather_file: tuple[str, bytes] | None,
) -> load_series.LevelForecast:
    supplied = None
    if weather_file is not None:
        name, content = weather_file
        supplied = load_series.weather_to_hourly(ingest.read_weather(io.BytesIO(content), name))
    with session.engine().connect() as conn:
        return load_series.forecast_level(
            conn,
            who,
            level,
            key or None,
            horizon,
            weather_forecast=supplied,
        )


def _key_picker(level: str) -> str | None:
    if level == "service_area":
        return ""
    if level == "customer":
        customer_id = st.text_input(t("forecast.customer_id"), key="forecast_customer").strip()
        if not customer_id:
            st.info(t("forecast.customer_hint"))
            return None
        return customer_id
    keys = _keys(viewer, level)
    if not keys:
        st.info(t("forecast.no_keys"))
        return None
    label = (lambda key: t(f"domain.customer_class.{key}")) if level == "customer_class" else str
    return st.selectbox(t("forecast.key"), keys, format_func=label, key="forecast_key")


def _what_if_name(result: forecast.Forecast) -> str:
    """``warmer`` or ``colder``: what the what-if does to the temperature."""
    return "colder" if result.temperature_shift_c < 0 else "warmer"


def _chart(level_forecast: load_series.LevelForecast, horizon: str, unit: str) -> go.Figure:
    history = level_forecast.history.tail(HISTORY_SHOWN[horizon])
    frame = level_forecast.result.frame
    figure = go.Figure()
    figure.add_scatter(
        x=history["ds"], y=history["y"], name=t("forecast.history"), line_color=COLOURS["history"]
    )
    figure.add_scatter(
        x=pd.concat([frame["ds"], frame["ds"][::-1]]),
        y=pd.concat([frame["yhat_upper"], frame["yhat_lower"][::-1]]),
        fill="toself",
        fillcolor="rgba(31,119,180,0.2)",
        line_width=0,
        name=t("forecast.interval"),
        hoverinfo="skip",
    )
    figure.add_scatter(
        x=frame["ds"],
        y=frame["yhat"],
        name=t("forecast.forecast_line"),
        line_color=COLOURS["forecast"],
    )
    if level_forecast.temperature_source != "none":
        figure.add_scatter(
            x=frame["ds"],
            y=frame["yhat_what_if"],
            name=t(
                f"forecast.what_if_line_{_what_if_name(level_forecast.result)}",
                shift=f"{abs(level_forecast.result.temperature_shift_c):g}",
            ),
            line={"color": COLOURS["what_if"], "dash": "dot"},
        )
    figure.update_layout(
        title=t("forecast.chart_title", unit=unit),
        height=420,
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
        legend={"orientation": "h", "y": -0.15},
        hovermode="x unified",
        xaxis={"range": [history["ds"].iloc[0], frame["ds"].iloc[-1]]},
    )
    return figure


def _components(result: forecast.Forecast) -> None:
    st.caption(t("forecast.components_caption"))
    components = result.components
    for name in forecast.COMPONENTS:
        if components[name].abs().max() == 0:
            continue
        figure = go.Figure(go.Scatter(x=components["ds"], y=components[name], line_width=1.5))
        figure.update_layout(
            title=t(f"forecast.component.{name}"),
            height=220,
            margin={"l": 10, "r": 10, "t": 40, "b": 10},
        )
        charts.show(figure, key=f"component_{name}")


def _backtest(result: forecast.Forecast, freq: str, horizon: str, unit: str) -> None:
    tested = result.backtest
    if tested is None:
        return
    st.caption(
        t(
            "forecast.backtest_caption",
            folds=load_series.BACKTEST_FOLDS[horizon],
            steps=tested.horizon,
            unit=unit,
        )
    )
    table = tested.metrics.assign(
        model=tested.metrics["model"].map(lambda m: t(f"forecast.model.{m}"))
    )
    st.dataframe(
        table.rename(columns=lambda name: t(f"forecast.col.{name}")),
        hide_index=True,
        width="stretch",
        column_config={
            t("forecast.col.mape"): st.column_config.NumberColumn(format="percent"),
            t("forecast.col.smape"): st.column_config.NumberColumn(format="percent"),
            t("forecast.col.mase"): st.column_config.NumberColumn(format="%.3f"),
            t("forecast.col.coverage"): st.column_config.NumberColumn(format="percent"),
        },
        key="backtest_table",
    )
    by_bucket = tested.error_by_hour()
    figure = go.Figure()
    for model in by_bucket.columns:
        figure.add_scatter(x=by_bucket.index, y=by_bucket[model], name=t(f"forecast.model.{model}"))
    title = "forecast.error_by_hour" if freq == "h" else "forecast.error_by_weekday"
    figure.update_layout(
        title=t(title),
        height=320,
        yaxis_tickformat=".1%",
        xaxis_title=t("forecast.col.hour" if freq == "h" else "forecast.col.day_of_week"),
        margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    charts.show(figure, key="error_by_hour")


def _what_if(result: forecast.Forecast, peak_unit: str) -> None:
    frame = result.frame
    shift = f"{abs(result.temperature_shift_c):g}"
    st.caption(t(f"forecast.what_if_caption_{_what_if_name(result)}", shift=shift))
    extra = float((frame["yhat_what_if"] - frame["yhat"]).sum())
    left, right = st.columns(2)
    left.metric(t("forecast.what_if_energy"), f"{extra:+,.0f}")
    right.metric(
        t("forecast.what_if_peak", unit=peak_unit),
        f"{frame['yhat_what_if'].max():,.0f}",
        delta=f"{frame['yhat_what_if'].max() - frame['yhat'].max():+,.0f}",
    )


st.title(t("forecast.title"))
st.caption(t("forecast.intro"))

left, middle, right = st.columns([1, 1, 1])
with left:
    level = st.selectbox(
        t("forecast.level"),
        load_series.LEVELS,
        format_func=lambda name: t(f"forecast.level_name.{name}"),
        key="forecast_level",
    )
with middle:
    key = _key_picker(level)
with right:
    horizon = st.radio(
        t("forecast.horizon"),
        list(load_series.HORIZONS),
        format_func=lambda name: t(f"forecast.horizon_name.{name}"),
        key="forecast_horizon",
    )
upload = st.file_uploader(
    t("forecast.weather_file"),
    type=["csv", "xlsx", "parquet"],
    help=t("forecast.weather_file_help"),
    key="forecast_weather_file",
)
weather_file = (upload.name, upload.getvalue()) if upload is not None else None
if key is None:
    st.stop()
# Fits take seconds to a minute: they start on request, and a result already computed for this
# choice shows again from the cache.
requested = (level, key, horizon, upload.file_id if upload is not None else None)
if st.button(t("forecast.run"), type="primary", key="forecast_run"):
    st.session_state["forecast_requested"] = requested
if st.session_state.get("forecast_requested") != requested:
    st.info(t("forecast.press_run"))
    st.stop()

try:
    with st.spinner(t("forecast.running")):
        level_forecast = _forecast(viewer, level, key, horizon, weather_file)
except errors.UserError as error:
    session.show_error(error)
    st.stop()
except ValueError as error:
    # A weather file the reader refuses, in the reader's own words.
    st.error(t("forecast.cannot_forecast", error=str(error)))
    st.stop()

result = level_forecast.result
unit = t("forecast.unit_hour" if level_forecast.freq == "h" else "forecast.unit_day")
# An hour's energy in kWh is the hour's mean load in kW; a day's stays energy.
load_unit = t("forecast.load_unit_hour" if level_forecast.freq == "h" else "forecast.load_unit_day")
if level_forecast.temperature_source == "climatology":
    st.caption(t("forecast.temperature_climatology"))
    if weather_file is not None:
        st.warning(t("forecast.weather_file_short"))
elif level_forecast.temperature_source == "supplied":
    st.caption(t("forecast.temperature_supplied"))
else:
    st.info(t("forecast.temperature_none"))
for warning in result.warnings:
    st.info(t("forecast.note", warning=warning.text(session.language())))

metrics = st.columns(4)
metrics[0].metric(t("forecast.next_total"), f"{result.frame['yhat'].sum():,.0f}")
metrics[1].metric(t("forecast.next_peak", unit=load_unit), f"{result.frame['yhat'].max():,.0f}")
if result.backtest is not None:
    scores = result.backtest.metrics.set_index("model")
    metrics[2].metric(t("forecast.backtest_mape"), f"{scores.loc['ensemble', 'mape']:.2%}")
    metrics[3].metric(t("forecast.best_model"), t(f"forecast.model.{result.backtest.best_model()}"))
charts.show(_chart(level_forecast, horizon, load_unit), key="forecast_chart")
st.caption(
    t(
        "forecast.ensemble_weight",
        naive=result.ensemble_weights["seasonal_naive"],
        prophet=result.ensemble_weights["prophet"],
        gbm=result.ensemble_weights["gbm"],
    )
)

components_tab, backtest_tab, what_if_tab, download_tab = st.tabs(
    [
        t("forecast.tab_components"),
        t("forecast.tab_backtest"),
        t("forecast.tab_what_if"),
        t("forecast.tab_download"),
    ]
)
with components_tab:
    _components(result)
with backtest_tab:
    _backtest(result, level_forecast.freq, horizon, unit)
with what_if_tab:
    if level_forecast.temperature_source == "none":
        st.info(t("forecast.temperature_none"))
    else:
        _what_if(result, load_unit)
with download_tab:
    downloads.offer(
        t("forecast.download"),
        exports.rounded(result.frame, 3),
        f"forecast_{level}_{key or 'all'}_{horizon}",
        key="download_forecast",
    )
