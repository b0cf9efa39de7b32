"""Charts in the running app speak Chinese: date ticks written by plotly in the Chinese locale."""

import re

import pytest
import sqlalchemy as sa
from conftest import wait_until_idle

from core import i18n
from core.store import engine as store_engine
from core.store import schema

pytestmark = pytest.mark.browser

WAIT_MS = 90_000
# plotly's own English month names, which must not appear on a Chinese axis.
ENGLISH_MONTHS = re.compile(r"\b(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\b")
CHINESE_MONTH = re.compile(r"^\d{4}年\d{1,2}月$|^\d{1,2}月(\d{1,2}日)?$|^\d{4}年$")


def _to_chinese(page) -> None:
    sidebar = page.get_by_test_id("stSidebar")
    sidebar.get_by_test_id("stSelectbox").first.click()
    page.get_by_role("option", name="中文").click()
    page.get_by_text(i18n.translate("app.language", "zh"), exact=True).wait_for(timeout=WAIT_MS)
    # The sidebar changes language first; the page's charts are redrawn by the end of the run.
    wait_until_idle(page)


def _tick_texts(page, selector: str) -> list[str]:
    return [text.strip() for text in page.locator(selector).all_text_contents() if text.strip()]


def test_overview_trend_ticks_are_chinese_months_and_wan(running_app, page):
    running_app.sign_in(page, "manager")
    _to_chinese(page)
    page.get_by_role("heading", name=i18n.translate("overview.title", "zh")).wait_for(
        timeout=WAIT_MS
    )
    page.locator(".js-plotly-plot .xtick text").first.wait_for(timeout=WAIT_MS)
    months = _tick_texts(page, ".js-plotly-plot .xtick text")
    assert months and all(CHINESE_MONTH.match(text) for text in months), months
    values = _tick_texts(page, ".js-plotly-plot .ytick text")
    assert any(text.endswith("万") for text in values), values
    assert not ENGLISH_MONTHS.search(" ".join(months))


@pytest.fixture(scope="module")
def a_customer(demo_url) -> str:
    engine = store_engine.connect(demo_url)
    with engine.connect() as conn:
        customer_id = conn.execute(
            sa.select(schema.bills.c.customer_id).order_by(schema.bills.c.customer_id).limit(1)
        ).scalar_one()
    engine.dispose()
    return customer_id


def test_customer_360_load_ticks_are_chinese_and_the_bills_fit_the_page(
    running_app, page, a_customer
):
    running_app.sign_in(page, "manager")
    _to_chinese(page)
    page.get_by_test_id("stSidebar").get_by_role(
        "link", name=i18n.translate("nav.customer_360", "zh")
    ).click()
    search = page.get_by_label(i18n.translate("customer360.search", "zh"), exact=True)
    search.fill(a_customer)
    search.press("Enter")
    page.get_by_text(i18n.translate("customer360.load", "zh"), exact=True).wait_for(timeout=WAIT_MS)
    page.locator(".js-plotly-plot .xtick text").first.wait_for(timeout=WAIT_MS)
    ticks = _tick_texts(page, ".js-plotly-plot .xtick text")
    assert ticks and not ENGLISH_MONTHS.search(" ".join(ticks)), ticks
    assert any("年" in text or "月" in text for text in ticks), ticks
    # At 1,400 px the bills table shows every column without scrolling sideways.
    bills = page.get_by_test_id("stDataFrame").filter(
        has_text=i18n.translate("customer360.column.paid_date", "zh")
    )
    bills.first.wait_for(timeout=WAIT_MS)
    scroller = bills.first.locator(".dvn-scroller").first
    overflow = scroller.evaluate("element => element.scrollWidth - element.clientWidth")
    assert overflow <= 1
    assert page.get_by_test_id("stException").count() == 0
