"""Abnormal use in the running app: order an inspection from the list, resolve it, hit rate."""

import re

import pytest
from conftest import wait_until_idle

from core import i18n

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


def _hit_rate(page) -> str:
    metric = page.get_by_test_id("stMetric").filter(has_text=en("risk.page.hit_rate"))
    return metric.get_by_test_id("stMetricValue").inner_text()


def test_order_an_inspection_from_the_list_and_see_the_hit_rate(running_app, page):
    running_app.sign_in(page, "manager")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.risk")).click()
    page.get_by_role("heading", name=en("risk.title")).wait_for()
    wait_until_idle(page)
    before = _hit_rate(page)

    # The demo store comes without scores: they are computed from its readings here.
    page.get_by_role("button", name=en("risk.page.recompute")).click()
    page.get_by_label(en("risk.page.pick_customers")).wait_for()
    wait_until_idle(page)
    assert page.get_by_test_id("stException").count() == 0

    picker = page.get_by_test_id("stMultiSelect").filter(has_text=en("risk.page.pick_customers"))
    picker.get_by_role("button", name="Open").click()
    # The first of the list (the options read "1. <customer> · <name>").
    page.get_by_role("option", name=re.compile(r"^1\. ")).click()
    page.keyboard.press("Escape")
    wait_until_idle(page)
    page.get_by_role("button", name=en("risk.page.create"), exact=True).click()
    page.get_by_text(en("risk.page.created", count=1, assignee="district_manager")).or_(
        page.get_by_text(en("risk.page.created", count=1, assignee="manager"))
    ).wait_for()
    wait_until_idle(page)

    page.get_by_role("tab", name=en("risk.page.tab_orders")).click()
    for state in ("dispatched", "on_site"):
        name = en("risk.page.move_to", state=en(f"inspection.state.{state}"))
        page.get_by_role("button", name=name).click()
        page.get_by_text(
            en("risk.page.moved", order=1, state=en(f"inspection.state.{state}"))
        ).wait_for()
        wait_until_idle(page)
        page.get_by_role("tab", name=en("risk.page.tab_orders")).click()
    page.get_by_label(en("risk.page.recovered_cny")).fill("250")
    page.get_by_role("button", name=en("risk.page.resolve")).click()
    page.get_by_text(
        en("risk.page.moved", order=1, state=en("inspection.state.resolved"))
    ).wait_for()
    wait_until_idle(page)

    assert before == "—"
    assert _hit_rate(page) == "100%"
    assert page.get_by_test_id("stException").count() == 0
