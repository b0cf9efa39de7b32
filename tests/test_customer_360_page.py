"""The Customer 360 page (AppTest): search by any id, sections, a customer without readings."""

import datetime as dt
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, features, i18n
from core.store import engine as store_engine
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "customer_360.py")
TIMEOUT = 60


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def page_url(featured_demo_url, tmp_path_factory) -> str:
    """The page writes audit entries on opening a customer: a copy of its own."""
    path = tmp_path_factory.mktemp("c360_page") / "demo.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, path)
    return f"duckdb:///{path}"


def app(url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


def _app_user(url: str) -> tuple[str, str]:
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        external_id, customer_id = conn.execute(
            sa.select(schema.id_map.c.external_id, schema.id_map.c.customer_id)
            .where(schema.id_map.c.system == "app")
            .order_by(schema.id_map.c.external_id)
            .limit(1)
        ).one()
    engine.dispose()
    return external_id, customer_id


def test_search_by_app_user_id_opens_the_customer(page_url, monkeypatch):
    external_id, customer_id = _app_user(page_url)
    at = app(page_url, monkeypatch).run()
    assert not at.exception
    at.text_input(key="c360_search").input(external_id).run()
    assert not at.exception
    assert any(customer_id in header.value for header in at.subheader)
    headers = [header.value for header in at.subheader]
    for key in ("tags", "load", "bills", "work_orders", "channels", "outages", "peers", "actions"):
        assert en(f"customer360.{key}") in headers
    assert not at.error
    # The opening is audited for the person who opened the customer.
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        opened = conn.execute(
            sa.select(sa.func.count())
            .select_from(schema.audit_log)
            .where(
                schema.audit_log.c.action == "customer_opened",
                schema.audit_log.c.target == customer_id,
            )
        ).scalar_one()
    engine.dispose()
    assert opened == 1


def test_partial_contract_number_lists_the_matches(page_url, monkeypatch):
    at = app(page_url, monkeypatch).run()
    at.text_input(key="c360_search").input("HT9000000").run()
    assert not at.exception
    picker = at.selectbox(key="c360_pick")
    assert len(picker.options) == 10
    assert any(en("customer360.matches", count=10) in caption.value for caption in at.caption)
    picker.select_index(3).run()
    assert not at.exception
    assert any("HT90000003" in caption.value for caption in at.caption)


def test_unknown_text_says_nothing_matches(page_url, monkeypatch):
    at = app(page_url, monkeypatch).run()
    at.text_input(key="c360_search").input("no such customer").run()
    assert not at.exception
    assert at.warning[0].value == en("customer360.no_match", text="no such customer")


def test_a_customer_manager_finds_only_their_customers(page_url, monkeypatch, signed_in):
    external_id, customer_id = _app_user(page_url)
    at = app(page_url, monkeypatch)
    signed_in(at, "customer_manager", manager_id="NOBODY")
    at.run()
    at.text_input(key="c360_search").input(external_id).run()
    assert not at.exception
    assert at.warning[0].value == en("customer360.no_match", text=external_id)


@pytest.fixture
def store_without_readings(tmp_path) -> str:
    url = f"duckdb:///{tmp_path / 'empty_readings.duckdb'}"
    engine = store_engine.connect(url)
    store_engine.migrate(engine)
    customer = {
        "customer_id": "N0001",
        "name": "新立户商店",
        "customer_class": "commercial",
        "region": "黄石港区",
        "tariff_code": "COM_FLAT",
        "open_date": dt.date(2025, 11, 1),
        "status": "active",
    }
    with engine.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, pd.DataFrame([customer]))
    features.refresh(engine, access.SYSTEM, period_end=dt.date(2026, 1, 1))
    engine.dispose()
    return url


def test_a_customer_without_readings_shows_a_clear_message(store_without_readings, monkeypatch):
    at = app(store_without_readings, monkeypatch).run()
    at.text_input(key="c360_search").input("N0001").run()
    assert not at.exception
    assert not at.error
    assert en("customer360.no_readings") in [info.value for info in at.info]
    assert en("customer360.no_bills") in [caption.value for caption in at.caption]


def test_the_page_renders_in_chinese(page_url, monkeypatch):
    external_id, customer_id = _app_user(page_url)
    monkeypatch.setenv("DATABASE_URL", page_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    at.text_input(key="c360_search").input(external_id).run()
    assert not at.exception
    assert at.title[0].value == i18n.translate("customer360.title", "zh")
    headers = [header.value for header in at.subheader]
    assert i18n.translate("customer360.actions", "zh") in headers
    assert any(customer_id in header for header in headers)


def _customer_with_an_old_late_bill(url: str) -> str:
    """A customer with a bill paid late before the features period: listed, but not counted."""
    engine = store_engine.connect(url)
    bills, table = schema.bills, schema.features
    with engine.connect() as conn:
        customer_id = conn.execute(
            sa.select(bills.c.customer_id)
            .join(table, table.c.customer_id == bills.c.customer_id)
            .where(bills.c.paid_date > bills.c.due_date, bills.c.period < "2025-01")
            .order_by(table.c.late_payments, bills.c.customer_id)
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return customer_id


def test_bills_count_late_payments_as_the_features_do_and_show_gaps_as_dashes(
    page_url, monkeypatch
):
    customer_id = _customer_with_an_old_late_bill(page_url)
    engine = store_engine.connect(page_url)
    row = features.for_customer(engine, access.SYSTEM, customer_id)
    engine.dispose()
    at = app(page_url, monkeypatch).run()
    at.text_input(key="c360_search").input(customer_id).run()
    assert not at.exception
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics[en("customer360.late_bills")] == str(int(row["late_payments"]))
    assert metrics[en("customer360.arrears_now")] == f"¥{row['arrears_cny']:,.2f}"
    bills = next(
        frame.value for frame in at.dataframe if en("customer360.column.paid_date") in frame.value
    )
    # The December bill is not paid yet: its paid-on and paid cells are dashes, never "None".
    assert bills[en("customer360.column.paid_date")].iloc[0] == "—"
    assert bills[en("customer360.column.paid_cny")].iloc[0] == "—"
    assert bills[en("customer360.column.status")].iloc[0] == en("customer360.status.not_due")
    for frame in at.dataframe:
        shown = frame.value.astype(str)
        assert not shown.isin(["None", "nan", "NaT", "<NA>"]).any().any()


def test_search_results_name_districts_as_the_card_does(page_url, monkeypatch):
    at = app(page_url, monkeypatch).run()
    at.text_input(key="c360_search").input("HT9000000").run()
    assert not at.exception
    matches = at.dataframe[0].value
    districts = set(matches[en("customer360.column.region")])
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        stored = set(conn.execute(sa.select(schema.customers.c.region).distinct()).scalars())
    engine.dispose()
    assert districts and districts <= stored
    assert any(
        f"{district}" in markdown.value for markdown in at.markdown for district in districts
    )


def test_the_card_names_industries_in_english(page_url, monkeypatch):
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        customer_id, industry = conn.execute(
            sa.select(schema.customers.c.customer_id, schema.customers.c.industry)
            .where(schema.customers.c.industry.is_not(None))
            .order_by(schema.customers.c.customer_id)
            .limit(1)
        ).one()
    engine.dispose()
    at = app(page_url, monkeypatch).run()
    at.text_input(key="c360_search").input(customer_id).run()
    card = " ".join(markdown.value for markdown in at.markdown)
    assert f"**{en('customer360.field.industry')}**  \n{en(f'domain.industry.{industry}')}" in card
    assert industry not in card
