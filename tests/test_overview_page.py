"""The Overview page: its KPI cards show the figures the store holds."""

from pathlib import Path

import pandas as pd
import pytest
from streamlit.proto import Metric_pb2
from streamlit.testing.v1 import AppTest

from core import access, kpis
from core.store import engine as store_engine
from ui import formatting, maps

PAGE = str(Path(__file__).resolve().parent.parent / "pages" / "overview.py")


@pytest.fixture
def overview(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=60)


def test_kpi_cards_show_the_store_figures(overview, demo_store):
    overview.run()
    assert not overview.exception
    with demo_store.connect() as conn:
        expected = kpis.headline(conn, access.SYSTEM, "2025-12")
    cards = {metric.label: metric for metric in overview.metric}
    for kpi in expected:
        label = {
            "customers": "Customers",
            "energy_kwh": "Energy sold (kWh)",
            "revenue_cny": "Revenue (CNY)",
            "arrears_cny": "Arrears outstanding (CNY)",
            "work_orders": "New work orders",
            "complaints": "Complaints",
        }[kpi.name]
        shown = formatting.compact(kpi.value, "en", currency=kpi.name.endswith("_cny"))
        assert cards[label].value == shown
        assert cards[label].delta == f"{kpi.change_vs_previous:+.1%}"
    colours = {metric.label: metric.proto.color for metric in overview.metric}
    # Work orders move for good and bad reasons alike: grey, while energy is coloured.
    assert colours["New work orders"] == Metric_pb2.Metric.MetricColor.GRAY
    assert colours["Energy sold (kWh)"] != Metric_pb2.Metric.MetricColor.GRAY


def test_choosing_an_earlier_month_changes_the_figures(overview, demo_store):
    overview.run()
    before = {metric.label: metric.value for metric in overview.metric}
    overview.selectbox[0].select("2025-06").run()
    assert not overview.exception
    after = {metric.label: metric.value for metric in overview.metric}
    with demo_store.connect() as conn:
        june = {kpi.name: kpi for kpi in kpis.headline(conn, access.SYSTEM, "2025-06")}
    assert after["Energy sold (kWh)"] == formatting.compact(june["energy_kwh"].value, "en")
    assert after["Energy sold (kWh)"] != before["Energy sold (kWh)"]


def test_district_manager_sees_their_district_only(overview, demo_store, signed_in):
    viewer = signed_in(overview, "manager", regions=("大冶市",))
    overview.run()
    assert not overview.exception
    with demo_store.connect() as conn:
        expected = {kpi.name: kpi for kpi in kpis.headline(conn, viewer, "2025-12")}
    cards = {metric.label: metric.value for metric in overview.metric}
    assert cards["Customers"] == formatting.compact(expected["customers"].value, "en")


def test_empty_store_says_how_to_fill_it(monkeypatch, tmp_path):
    url = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    store_engine.migrate(store_engine.connect(url))
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    assert any("python -m core demo" in info.value for info in page.info)


def test_chinese_labels(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    assert page.title[0].value == "企业综合视窗"
    assert "售电量（千瓦时）" in {metric.label for metric in page.metric}


def test_compact_numbers():
    assert formatting.compact(45_778_902, "zh") == "4,578万"
    assert formatting.compact(45_778_902, "en") == "45.8M"
    assert formatting.compact(3_553_977_100, "zh", currency=True) == "¥35.5亿"
    assert formatting.compact(3000, "en") == "3,000"
    assert formatting.compact(2_094_478, "en", currency=True) == "¥2.1M"
    assert formatting.compact(2_094_478, "zh", currency=True) == "¥209.4万"
    assert formatting.compact(45_000, "zh") == "45,000"
    assert formatting.compact(None, "en") == "—"


def test_map_view_shows_the_whole_service_area_and_keeps_context_for_one_customer():
    lat = pd.Series([29.83, 30.22, 30.10])
    lon = pd.Series([114.90, 115.21, 115.00])
    view = maps.fitted_view(lat, lon, height_px=480, width_px=700)
    assert view.latitude == pytest.approx(30.025) and view.longitude == pytest.approx(115.055)
    # 0.39° of latitude in 480 px: zoom a little under 10 at Huangshi's latitude.
    assert 9.0 < view.zoom < 10.0
    single = maps.fitted_view(pd.Series([30.2]), pd.Series([115.0]), height_px=480)
    assert single.zoom == pytest.approx(maps.CLOSEST_ZOOM - maps.MARGIN_ZOOM)


def _chart_spec(page) -> dict:
    import json

    return json.loads(page.get("plotly_chart")[0].proto.spec)


def test_chart_axes_count_in_wan_in_chinese_and_in_millions_in_english(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    for language, scale in (("zh", "万"), ("en", "M")):
        monkeypatch.setenv("WORKBENCH_LANGUAGE", language)
        page = AppTest.from_file(PAGE, default_timeout=60).run()
        assert not page.exception
        layout = _chart_spec(page)["layout"]
        for axis in ("yaxis", "yaxis2"):
            labels = layout[axis]["ticktext"]
            assert labels[0] == "0"
            assert all(label.endswith(scale) for label in labels[1:]), (language, axis, labels)
        # Months are dates, named by plotly in the reader's language, not "2025-01" categories.
        assert layout["xaxis"]["type"] == "date"


def test_the_kpi_download_is_rounded_and_names_its_month(demo_store):
    with demo_store.connect() as conn:
        headline = kpis.headline(conn, access.SYSTEM, "2025-12")
    table = kpis.headline_table(headline, "2025-12")
    assert list(table.columns) == [
        "month",
        "kpi",
        "value",
        "previous_month",
        "last_year",
        "change_vs_previous_pct",
        "change_vs_last_year_pct",
    ]
    assert set(table["month"]) == {"2025-12"}
    by_name = table.set_index("kpi")
    revenue = next(kpi for kpi in headline if kpi.name == "revenue_cny")
    assert by_name.loc["revenue_cny", "value"] == round(revenue.value, 2)
    assert by_name.loc["customers", "value"] == int(round(headline[0].value))
    for value in table["value"]:
        assert value == round(value, 2)
    assert by_name.loc["energy_kwh", "change_vs_previous_pct"] == round(
        100 * next(kpi for kpi in headline if kpi.name == "energy_kwh").change_vs_previous, 1
    )


def test_the_map_outlines_and_names_the_districts(demo_url, monkeypatch):
    import json

    from core import service_area

    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    page = AppTest.from_file(PAGE, default_timeout=60).run()
    assert not page.exception
    spec = json.loads(page.get("deck_gl_json_chart")[0].proto.json)
    layers = {layer["@@type"]: layer for layer in spec["layers"]}
    assert {"PolygonLayer", "ScatterplotLayer", "TextLayer"} <= set(layers)
    names = {row["name"] for row in layers["TextLayer"]["data"]}
    assert names == {district.name_en for district in service_area.DISTRICTS}
    assert all(len(row["outline"]) >= 4 for row in layers["PolygonLayer"]["data"])
    assert spec.get("mapStyle") in (None, "", "__MAP_STYLE__") or "http" not in str(
        spec.get("mapStyle")
    )
