"""Tariff savings page: AppTest on the demo store, and a browser run through the app."""

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa
import streamlit as st
from conftest import new_page, wait_until_idle
from streamlit.testing.v1 import AppTest

from core import access, i18n, savings, tariffs
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "tariffs.py")
BATCH_TAB = i18n.translate("tariffs.tab_batch", "en")


@pytest.fixture
def page(demo_url, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=120)


@pytest.fixture
def counted(monkeypatch):
    """Counts the store rankings the page computes, starting from an empty cache."""
    st.cache_data.clear()
    calls = {"rank_store": 0, "load_profile": 0}
    for name in calls:
        original = getattr(savings, name)

        def counting(*args, _original=original, _name=name, **kwargs):
            calls[_name] += 1
            return _original(*args, **kwargs)

        # The package's name for the page, the part's own for the calls between parts.
        for owner in (savings, importlib.import_module(original.__module__)):
            monkeypatch.setattr(owner, name, counting)
    yield calls
    st.cache_data.clear()


def _metric(at: AppTest, label: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == label)


def _open_batch(at: AppTest) -> AppTest:
    at.session_state["tariff_tab"] = BATCH_TAB
    return at.run()


def test_one_customer_is_priced_without_waiting_for_the_ranking(page, demo_store, counted):
    at = page.run()
    assert not at.exception
    assert not at.error
    assert at.title[0].value == "Tariff savings"
    assert counted == {"rank_store": 0, "load_profile": 0}
    # The first customer in the picker is billed; the total matches the engine on the same data.
    customer_id = at.selectbox(key="tariff_customer").value
    customer, readings = savings.customer_readings(demo_store, access.SYSTEM, customer_id)
    tariff = tariffs.load_catalog()[customer["tariff_code"]]
    expected = tariffs.bill(readings, tariff, customer["contract_capacity_kva"])
    assert _metric(at, "Total (CNY)") == f"¥{expected['amount_cny'].sum():,.2f}"


def test_the_customer_actions_are_the_ranking_figures(page, demo_store):
    ranking = savings.rank_savings(demo_store, access.SYSTEM).set_index("customer_id")
    customer_id = ranking.index[0]
    at = page.run()
    at.text_input(key="tariff_search").input(customer_id).run()
    assert not at.exception
    actions = next(frame.value for frame in at.dataframe if "Action" in frame.value.columns)
    best = actions.iloc[0]
    assert best["Saving (CNY)"] == ranking.loc[customer_id, "attainable_saving_cny"]
    assert best["Saving (CNY)"] == actions["Saving (CNY)"].max()


def test_the_ranking_is_computed_once_and_shared_by_every_session(
    page, demo_url, demo_store, counted, signed_in, monkeypatch
):
    at = _open_batch(page.run())
    assert not at.exception
    ranking = savings.rank_savings(demo_store, access.SYSTEM)
    assert _metric(at, "Customers with a saving") == f"{(ranking['best_option'] != 'none').sum():,}"
    table = at.dataframe[-1].value
    savings_column = table["Attainable saving (CNY/year)"].tolist()
    assert savings_column == sorted(savings_column, reverse=True)
    assert "Customer manager" in table.columns
    assert len(at.get("download_button")) >= 2
    assert counted == {"rank_store": 2, "load_profile": 2}  # the page's, and the test's own
    # Another session, another viewer: the ranking comes from the shared cache, cut to its scope.
    with demo_store.connect() as conn:
        manager_id = (
            conn.execute(
                sa.select(schema.customers.c.manager_id).where(
                    schema.customers.c.manager_id.is_not(None)
                )
            )
            .scalars()
            .first()
        )
    other = AppTest.from_file(PAGE, default_timeout=120)
    signed_in(other, "customer_manager", manager_id=manager_id)
    other = _open_batch(other.run())
    assert not other.exception
    assert counted == {"rank_store": 2, "load_profile": 2}
    assert set(other.dataframe[-1].value["Customer manager"]) == {manager_id}


def test_the_target_list_filters_by_district_class_and_manager(page, demo_store):
    first = savings.target_list(savings.rank_savings(demo_store, access.SYSTEM)).iloc[0]
    at = _open_batch(page.run())
    at.multiselect(key="t_regions").set_value([first["region"]]).run()
    at.multiselect(key="t_classes").set_value([first["customer_class"]]).run()
    assert not at.exception
    table = at.dataframe[-1].value
    assert first["customer_id"] in set(table["Customer number"])
    assert set(table["District"]) == {first["region"]}
    assert set(table["Class"]) == {
        i18n.translate(f"domain.customer_class.{first['customer_class']}", "en")
    }
    at.multiselect(key="t_managers").set_value([first["manager_id"]]).run()
    assert set(at.dataframe[-1].value["Customer manager"]) == {first["manager_id"]}


def test_compensation_that_never_pays_back_says_why(page, demo_store):
    # A customer below the capacity from which its tariff adjusts for the power factor.
    catalog = tariffs.load_catalog()
    with demo_store.connect() as conn:
        rows = conn.execute(
            sa.select(
                schema.customers.c.customer_id,
                schema.customers.c.tariff_code,
                schema.customers.c.contract_capacity_kva,
            ).where(
                schema.customers.c.customer_id.in_(
                    sa.select(schema.readings.c.customer_id).where(
                        schema.readings.c.kvarh.is_not(None)
                    )
                )
            )
        ).all()
    customer_id = next(
        row.customer_id
        for row in rows
        if catalog[row.tariff_code].power_factor_standard is not None
        and (row.contract_capacity_kva or 0)
        < catalog[row.tariff_code].power_factor_min_capacity_kva
    )
    at = page.run()
    at.text_input(key="tariff_search").input(customer_id).run()
    assert not at.exception
    assert _metric(at, "Payback") == "never"
    assert any("applies from" in info.value for info in at.info)


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
        page.get_by_text("What the customer can do").wait_for()
        page.get_by_text("Tariffs the customer may choose").wait_for()
        wait_until_idle(page)
        page.get_by_role("tab", name="All customers, ranked").click()
        page.get_by_text("Customers with a saving").wait_for()
        page.get_by_role("button", name="Download the target list · CSV").wait_for()
        assert page.locator("[data-testid='stException']").count() == 0
    finally:
        page.context.close()
