"""The running app in Chromium: sign in, the Overview shows its KPIs and the map, no errors."""

import pytest

from core import i18n

pytestmark = pytest.mark.browser


def test_overview_shows_kpis_and_map(running_app, page):
    running_app.sign_in(page, "manager")
    page.get_by_role("heading", name=i18n.translate("overview.title", "en")).wait_for()
    page.get_by_test_id("stMetric").first.wait_for()
    labels = page.get_by_test_id("stMetricLabel").all_inner_texts()
    for name in ("energy_kwh", "revenue_cny", "arrears_cny", "complaints"):
        assert any(i18n.translate(f"overview.kpi.{name}", "en") in text for text in labels)
    page.get_by_test_id("stDeckGlJsonChart").wait_for()
    page.locator("canvas").first.wait_for()
    assert page.get_by_test_id("stException").count() == 0
