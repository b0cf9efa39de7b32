"""What a reader sees: codes in the user's language, money and energy formatted, charts titled."""

import json
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import i18n
from core.store import engine as store_engine
from core.store import schema
from ui import formatting

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 60


def zh(key: str, **values) -> str:
    return i18n.translate(key, "zh", **values)


@pytest.fixture(scope="module")
def writable_url(featured_demo_url, tmp_path_factory) -> str:
    """Pages write audit entries: a copy of the demo store of this module's own."""
    path = tmp_path_factory.mktemp("readability") / "demo.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, path)
    return f"duckdb:///{path}"


def page(name: str, url: str, monkeypatch, language: str = "zh") -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", language)
    return AppTest.from_file(str(ROOT / "pages" / name), default_timeout=TIMEOUT)


def column_formats(frame_element) -> dict[str, str]:
    """The number format of each column of an ``st.dataframe`` as the page configured it."""
    config = json.loads(frame_element.proto.columns or "{}")
    formats = {}
    for key, column in config.items():
        number_format = (column.get("type_config") or {}).get("format")
        if number_format:
            formats[column.get("label") or key.removeprefix("col:name:")] = number_format
    return formats


def a_customer_with_bills(url: str) -> str:
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        customer_id = conn.execute(
            sa.select(schema.bills.c.customer_id).order_by(schema.bills.c.customer_id).limit(1)
        ).scalar_one()
    engine.dispose()
    return customer_id


def test_table_formats_follow_the_unit_in_the_column_name():
    config = formatting.table_formats(
        ["period", "amount_cny", "kwh_total", "shifted_kwh", "max_demand_kw", "power_factor"],
        str.upper,
    )
    formats = {name: column["type_config"]["format"] for name, column in config.items()}
    assert formats == {
        "AMOUNT_CNY": "%,.2f",
        "KWH_TOTAL": "%,.0f",
        "SHIFTED_KWH": "%,.0f",
        "MAX_DEMAND_KW": "%,.1f",
        "POWER_FACTOR": "%.2f",
    }


def test_customer_360_shows_status_in_chinese_and_formats_the_bills(writable_url, monkeypatch):
    customer_id = a_customer_with_bills(writable_url)
    at = page("customer_360.py", writable_url, monkeypatch).run()
    at.text_input(key="c360_search").input(customer_id).run()
    assert not at.exception
    archive = " ".join(markdown.value for markdown in at.markdown)
    status = f"**{zh('customer360.field.status')}**  \n{zh('customer360.customer_status.active')}"
    assert status in archive
    assert "active" not in archive
    bills = next(
        frame
        for frame in at.dataframe
        if zh("customer360.column.amount_cny") in column_formats(frame)
    )
    formats = column_formats(bills)
    assert formats[zh("customer360.column.amount_cny")] == formatting.MONEY_FORMAT
    assert formats[zh("customer360.column.kwh_total")] == formatting.ENERGY_FORMAT


def test_tariff_tables_format_money_and_energy(demo_url, monkeypatch):
    at = page("tariffs.py", demo_url, monkeypatch).run()
    assert not at.exception
    formats = [column_formats(frame) for frame in at.dataframe]
    bill = formats[0]
    assert bill[zh("tariffs.col.amount_cny")] == formatting.MONEY_FORMAT
    assert bill[zh("tariffs.col.kwh_total")] == formatting.ENERGY_FORMAT
    # The plans table: a total and a saving per plan.
    plans = [
        found
        for found in formats
        if zh("tariffs.col.saving_cny") in found and zh("tariffs.col.amount_cny") in found
    ]
    assert plans and plans[0][zh("tariffs.col.saving_cny")] == formatting.MONEY_FORMAT
    at.session_state["tariff_tab"] = zh("tariffs.tab_batch")
    at.run()
    assert not at.exception
    ranking = column_formats(at.dataframe[-1])
    assert ranking[zh("tariffs.col.attainable_saving_cny")] == formatting.MONEY_FORMAT
    assert ranking[zh("tariffs.col.saving_share")] == "percent"


def test_shifting_under_a_single_price_tariff_says_why_it_saves_nothing(demo_url, monkeypatch):
    at = page("tariffs.py", demo_url, monkeypatch).run()
    at.radio(key="tariff_source").set_value("profile").run()
    at.selectbox(key="profile_class").set_value("commercial").run()
    at.selectbox(key="profile_tariff").set_value("COM_FLAT").run()
    assert not at.exception
    assert zh("tariffs.shift_not_time_of_use") in [info.value for info in at.info]
    at.selectbox(key="profile_tariff").set_value("COM_TOU").run()
    assert zh("tariffs.shift_not_time_of_use") not in [info.value for info in at.info]


def test_data_quality_names_tables_and_id_systems_in_chinese(writable_url, monkeypatch):
    at = page("data_quality.py", writable_url, monkeypatch).run()
    assert not at.exception
    figures = at.dataframe[0]
    shown = figures.value
    assert shown[zh("data_quality.column.source_system")].notna().all()
    assert column_formats(figures)[zh("data_quality.column.denominator")] == "%,d"
    conflicts = [
        frame.value
        for frame in at.dataframe
        if zh("data_quality.column.system") in frame.value.columns
    ]
    systems = set(conflicts[0][zh("data_quality.column.system")])
    assert systems == {zh("customer360.system.contract")}

    at.selectbox(key="import_table").set_value("readings")
    content = (ROOT / "data" / "samples" / "readings_wide_24.csv").read_bytes()
    at.file_uploader(key="import_file").upload("readings_wide_24.csv", content, "text/csv")
    at.run()
    at.button(key="import_button").click().run()
    assert not at.exception
    rejected = next(
        frame.value
        for frame in at.dataframe
        if zh("data_quality.column.row_number") in frame.value.columns
    )
    assert set(rejected[zh("data_quality.column.table_name")]) == {
        zh("data_quality.table_name.readings")
    }


def test_overview_trend_names_months_as_the_store_does(demo_url, monkeypatch):
    at = page("overview.py", demo_url, monkeypatch).run()
    assert not at.exception
    chart = at.get("plotly_chart")[0].proto
    layout = json.loads(chart.spec)["layout"]
    # Months are dates that plotly names in the chart's locale: 2025年1月 in the Chinese UI.
    assert layout["xaxis"]["type"] == "date"
    assert layout["xaxis"]["hoverformat"] == "%Y年%-m月"
    assert layout["xaxis"]["title"]["text"] == zh("overview.month")
    config = json.loads(chart.config)
    assert config["locale"] == "zh-CN"
    assert config["locales"]["zh-CN"]["format"]["month"] == "%Y年%-m月"
    assert layout["yaxis2"]["tickmode"] == "array"
