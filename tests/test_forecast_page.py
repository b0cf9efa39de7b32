"""Load forecast page: AppTest on the demo store, and a browser run through the app."""

import json
from pathlib import Path

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from core import i18n

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "forecast.py")


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture
def page(demo_url, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=300)


def _metric(at: AppTest, label: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == label)


def test_unknown_customer_gets_a_message(page):
    page.session_state["forecast_level"] = "customer"
    at = page.run()
    assert not at.exception
    assert at.info[0].value == en("forecast.customer_hint")
    at.text_input(key="forecast_customer").set_value("NO-SUCH-ID").run()
    at.button(key="forecast_run").click().run()
    assert not at.exception
    assert en("forecast.error.no_readings", which="NO-SUCH-ID") in at.error[0].value


@pytest.mark.slow
def test_three_months_of_a_district(page):
    page.session_state["forecast_level"] = "district"
    page.session_state["forecast_horizon"] = "three_months"
    at = page.run()
    assert not at.exception
    assert at.info[0].value == en("forecast.press_run")
    at.button(key="forecast_run").click().run()
    assert not at.exception and not at.error
    assert at.title[0].value == "Load forecast"
    assert en("forecast.temperature_climatology") in [c.value for c in at.caption]
    backtest = at.dataframe[0].value
    assert backtest[en("forecast.col.model")].tolist() == [
        en(f"forecast.model.{m}") for m in ("seasonal_naive", "prophet_default", "prophet", "gbm")
    ] + [en("forecast.model.ensemble")]
    assert backtest[en("forecast.col.mape")].between(0, 1).all()
    # Percentages, as in the headline.
    formats = json.loads(at.dataframe[0].proto.columns)
    for name in ("mape", "smape", "coverage"):
        assert formats[en(f"forecast.col.{name}")]["type_config"]["format"] == "percent"


@pytest.mark.slow
def test_day_ahead_service_area(page):
    at = page.run()
    at.button(key="forecast_run").click().run()
    assert not at.exception and not at.error
    energy = float(_metric(at, en("forecast.next_total")).replace(",", ""))
    # Peak load of an hourly series is power: kW, not "kWh per hour".
    peak_label = en("forecast.next_peak", unit=en("forecast.load_unit_hour"))
    assert peak_label == "Forecast peak (kW)"
    peak = float(_metric(at, peak_label).replace(",", ""))
    # 24 hours of the service area's load: more than a day of its peak hour would be impossible
    assert 0 < peak < energy < 24 * peak
    assert _metric(at, en("forecast.backtest_mape")).endswith("%")
    assert len(at.get("download_button")) == 2
    chart = json.loads(at.get("plotly_chart")[0].proto.spec)
    lines = {trace.get("name"): trace for trace in chart["data"]}
    # The demo's history ends on New Year's Eve: a January day needs heating, so the what-if is
    # the colder one, named for what it does.
    assert en("forecast.what_if_line_colder", shift="2") in lines
    # Zoomed to the horizon: two days of history before the 24 forecast hours.
    first, last = (pd.Timestamp(edge) for edge in chart["layout"]["xaxis"]["range"])
    forecast_hours = pd.to_datetime(lines[en("forecast.forecast_line")]["x"])
    assert last == forecast_hours.max()
    assert forecast_hours.min() - first == pd.Timedelta(hours=48)
