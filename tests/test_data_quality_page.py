"""The Data quality page: upload a dirty file, see the rejected rows; figures and id conflicts."""

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import wait_until_idle
from streamlit.testing.v1 import AppTest

from core import i18n

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
TIMEOUT = 60


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture
def writable_demo_url(demo_url, tmp_path) -> str:
    """A copy of the demo store the page may import into."""
    target = tmp_path / "quality.duckdb"
    shutil.copy(Path(sa.make_url(demo_url).database), target)
    return f"duckdb:///{target}"


def _page(url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(str(ROOT / "pages" / "data_quality.py"), default_timeout=TIMEOUT)


def test_upload_of_a_dirty_file_shows_the_rejected_rows(writable_demo_url, monkeypatch):
    at = _page(writable_demo_url, monkeypatch).run()
    assert not at.exception
    assert at.title[0].value == en("data_quality.title")
    at.selectbox(key="import_table").set_value("readings")
    content = (SAMPLES / "readings_wide_24.csv").read_bytes()
    at.file_uploader(key="import_file").upload("readings_wide_24.csv", content, "text/csv")
    at.run()
    assert not at.exception
    mapping = at.dataframe[0].value
    assert mapping.iloc[0].tolist() == ["户号", "customer_id"]
    at.button(key="import_button").click().run()
    assert not at.exception
    # None of the file's customers are in the demo archive: every row is rejected with that reason.
    assert at.metric[0].value == "5" and at.metric[1].value == "0" and at.metric[2].value == "5"
    assert at.warning[0].value == en("data_quality.rejected_warning", count=5)
    reasons = at.dataframe[1].value
    assert reasons.values.tolist() == [["customer_id is not a known customer", 5]]
    rejected = at.dataframe[2].value
    assert rejected[en("data_quality.column.row_number")].tolist() == [2, 3, 4, 5, 6]
    assert set(rejected[en("data_quality.column.value")]) == {
        "3201000003",
        "3201000004",
        "3209999999",
    }


def test_rejected_rows_read_in_chinese_on_the_page(writable_demo_url, monkeypatch):
    at = _page(writable_demo_url, monkeypatch)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    at.run()
    assert not at.exception
    at.selectbox(key="import_table").set_value("readings")
    content = (SAMPLES / "readings_wide_24.csv").read_bytes()
    at.file_uploader(key="import_file").upload("readings_wide_24.csv", content, "text/csv")
    at.run()
    at.button(key="import_button").click().run()
    assert not at.exception
    reason = "customer_id 不是已建档的用户"
    assert at.dataframe[1].value.values.tolist() == [[reason, 5]]
    rejected = at.dataframe[2].value
    column = i18n.translate("data_quality.column.reason", "zh")
    assert rejected[column].tolist() == [reason] * 5


def test_figures_and_the_planted_id_conflicts(demo_url, monkeypatch):
    at = _page(demo_url, monkeypatch).run()
    assert not at.exception
    figures = at.dataframe[0].value
    assert en("data_quality.metric.readings_present") in set(
        figures[en("data_quality.column.figure")]
    )
    assert set(figures[en("data_quality.column.dimension_name")]) >= {
        en("data_quality.dimension.completeness"),
        en("data_quality.dimension.consistency"),
        en("data_quality.dimension.timeliness"),
        en("data_quality.dimension.validity"),
    }
    external = en("data_quality.column.external_id")
    conflict_tables = [frame.value for frame in at.dataframe if external in frame.value.columns]
    assert len(conflict_tables) == 2
    shared, contracts = conflict_tables
    # The demo plants one contract number on two customers and one customer with a second
    # contract; the customer given the other's contract number then holds two as well.
    assert shared[en("data_quality.column.customer_id")].nunique() == 2
    assert contracts[en("data_quality.column.customer_id")].nunique() == 2
    assert set(shared[en("data_quality.column.customer_id")]) & set(
        contracts[en("data_quality.column.customer_id")]
    )


def test_an_unreadable_upload_gets_one_message(writable_demo_url, monkeypatch):
    at = _page(writable_demo_url, monkeypatch).run()
    at.selectbox(key="import_table").set_value("readings")
    at.file_uploader(key="import_file").upload("broken.csv", b"customer_id,kwh\n1,2\n", "text/csv")
    at.run()
    assert not at.exception
    assert at.error[0].value.startswith(en("data_quality.cannot_import", error="")[:20])
    assert "no column for ts" in at.error[0].value


@pytest.mark.browser
def test_browser_upload_shows_rejected_rows(running_app, page):
    running_app.sign_in(page, "admin")
    # Through the sidebar: a fresh page load would start a new, signed-out session.
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.data_quality")).click()
    page.get_by_text(en("data_quality.subtitle")).wait_for()
    wait_until_idle(page)
    page.get_by_label(en("data_quality.table")).click()
    page.get_by_role("option", name=en("data_quality.table_name.readings"), exact=True).click()
    wait_until_idle(page)
    page.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(
        str(SAMPLES / "readings_wide_24.csv")
    )
    page.get_by_text(en("data_quality.mapping")).wait_for()
    wait_until_idle(page)
    page.get_by_role("button", name=en("data_quality.import_button"), exact=True).click()
    page.get_by_text(en("data_quality.rejected_warning", count=5)).wait_for()
    download = page.get_by_role("button", name=en("data_quality.download_rejected"))
    download.first.wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
