"""Load forecast in the running app: pick a district and three months, forecast, download."""

import pytest
from conftest import wait_until_idle

from core import i18n

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


def test_forecast_a_district_three_months_ahead(running_app, page, tmp_path):
    running_app.sign_in(page, "analyst")
    sidebar = page.locator('[data-testid="stSidebar"]')
    sidebar.get_by_role("link", name=en("nav.forecast")).click()
    page.get_by_text(en("forecast.press_run")).wait_for()
    wait_until_idle(page)

    page.get_by_label(en("forecast.level")).click()
    page.get_by_role("option", name=en("forecast.level_name.district"), exact=True).click()
    page.get_by_label(en("forecast.key")).wait_for()
    wait_until_idle(page)
    page.get_by_text(en("forecast.horizon_name.three_months"), exact=True).click()
    wait_until_idle(page)
    page.get_by_role("button", name=en("forecast.run"), exact=True).click()

    page.get_by_text(en("forecast.temperature_climatology")).wait_for()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    page.get_by_role("tab", name=en("forecast.tab_backtest")).click()
    page.locator('[data-testid="stDataFrame"]').first.wait_for()
    page.get_by_role("tab", name=en("forecast.tab_download")).click()
    with page.expect_download() as download_info:
        page.get_by_role(
            "button", name=en("app.download_csv", label=en("forecast.download"))
        ).click()
    download = download_info.value
    assert download.suggested_filename.startswith("forecast_district_")
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    lines = target.read_text(encoding="utf-8-sig").splitlines()
    assert lines[0].startswith("ds,yhat,yhat_lower,yhat_upper,yhat_what_if")
    assert len(lines) == 1 + 91
    assert page.locator('[data-testid="stException"]').count() == 0
