"""Tariff savings page: AppTest on the demo store, and a browser run through the app."""

from pathlib import Path

import pytest
from conftest import new_page, wait_until_idle
from streamlit.testing.v1 import AppTest

from core import access, savings

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "tariffs.py")


@pytest.fixture
def page(demo_url, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=120)


def _metric(at: AppTest, label: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == label)


def test_page_prices_a_store_customer_and_ranks_all(page, demo_store):
    at = page.run()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Tariff savings"
    # The first customer in the picker is billed; the total matches the engine on the same data.
    customer_id = at.selectbox(key="tariff_customer").value
    customer, readings = savings.customer_readings(demo_store, access.SYSTEM, customer_id)
    from core import tariffs

    tariff = tariffs.load_catalog()[customer["tariff_code"]]
    expected = tariffs.bill(readings, tariff, customer["contract_capacity_kva"])
    assert _metric(at, "Total (CNY)") == f"¥{expected['amount_cny'].sum():,.2f}"
    # The batch tab lists the customers with a saving, largest first.
    ranking = savings.rank_savings(demo_store, access.SYSTEM)
    assert _metric(at, "Customers with a saving") == f"{(ranking['best_option'] != 'none').sum():,}"
    table = at.dataframe[-1].value
    savings_column = table["Attainable saving (CNY/year)"].tolist()
    assert savings_column == sorted(savings_column, reverse=True)
    assert len(at.get("download_button")) >= 2


def test_shift_slider_changes_the_saving(page):
    at = page.run()
    at.radio(key="tariff_source").set_value("profile").run()
    assert not at.exception
    at.selectbox(key="profile_class").set_value("commercial").run()
    # A single-price tariff has nothing to gain from shifting; time-of-use has.
    at.selectbox(key="profile_tariff").set_value("COM_FLAT").run()
    at.slider(key="shift_share").set_value(40).run()
    assert _metric(at, "Saving over the period (CNY)") == "¥0.00"
    at.selectbox(key="profile_tariff").set_value("COM_TOU").run()
    at.slider(key="shift_share").set_value(0).run()
    assert _metric(at, "Saving over the period (CNY)") == "¥0.00"
    at.slider(key="shift_share").set_value(40).run()
    assert not at.exception
    saving = float(_metric(at, "Saving over the period (CNY)").lstrip("¥").replace(",", ""))
    assert saving > 0


def test_upload_source_asks_for_a_file(page):
    at = page.run()
    at.radio(key="tariff_source").set_value("upload").run()
    assert not at.exception
    assert at.info  # asks for a file


@pytest.mark.browser
def test_browser_opens_the_page_and_the_ranking(running_app, browser):
    page = new_page(browser)
    try:
        running_app.sign_in(page, "analyst")
        page.get_by_role("link", name="Tariff savings").click()
        page.get_by_text("Load shifting").wait_for()
        page.get_by_text("Tariffs the customer may choose").wait_for()
        wait_until_idle(page)
        page.get_by_role("tab", name="All customers, ranked").click()
        page.get_by_text("Customers with a saving").wait_for()
        page.get_by_role("button", name="Download the target list · CSV").wait_for()
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        page.context.close()
