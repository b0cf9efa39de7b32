"""Campaigns in the running app: plan a campaign from a target list, then read an evaluation."""

import pandas as pd
import pytest
import sqlalchemy as sa
from conftest import RunningApp, demo_store_with_accounts, serve_app, wait_until_idle

from core import access, i18n, target_lists
from core.store import engine as store_engine
from core.store import schema

pytestmark = pytest.mark.browser
LIST_NAME = "Residential for the TOU offer"


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def campaign_app(demo_url, tmp_path_factory):
    """The app on its own copy of the demo store, with a saved target list of residents."""
    folder = tmp_path_factory.mktemp("campaigns_app")
    url = demo_store_with_accounts(demo_url, folder)
    engine = store_engine.connect(url)
    with engine.begin() as conn:
        ids = (
            conn.execute(
                sa.select(schema.customers.c.customer_id).where(
                    schema.customers.c.customer_class == "residential"
                )
            )
            .scalars()
            .all()
        )
        target_lists.save(
            conn, access.SYSTEM, LIST_NAME, pd.DataFrame({"customer_id": ids}), source="rule"
        )
        finished = conn.execute(
            sa.select(schema.campaigns.c.campaign_id, schema.campaigns.c.name).where(
                schema.campaigns.c.offer == "RES_TOU"
            )
        ).one()
    engine.dispose()
    with serve_app(url, folder / "streamlit.log") as address:
        yield RunningApp(address, url), len(ids), finished


def test_plan_a_campaign_from_a_target_list_and_read_an_evaluation(campaign_app, page):
    app, residents, finished = campaign_app
    app.sign_in(page, "analyst")
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=en("nav.campaigns")).click()
    page.get_by_text(en("campaigns.intro")).wait_for()
    wait_until_idle(page)

    page.get_by_role("tab", name=en("campaigns.tab_plan")).click()
    page.get_by_text(en("campaigns.targets", count=f"{residents:,}")).wait_for()
    wait_until_idle(page)
    name = page.get_by_label(en("campaigns.name"))
    name.fill("TOU offer, browser plan")
    name.press("Enter")
    wait_until_idle(page)
    page.get_by_text(en("campaigns.power"), exact=True).wait_for()
    page.get_by_role("button", name=en("campaigns.create")).click()
    created = page.get_by_text("created with")
    created.wait_for()
    assert f"{residents:,} customers" in created.inner_text()
    wait_until_idle(page)

    page.get_by_role("tab", name=en("campaigns.tab_results")).click()
    page.get_by_label(en("campaigns.pick"), exact=True).wait_for()
    wait_until_idle(page)
    page.get_by_label(en("campaigns.pick"), exact=True).click()
    # The planned campaign is listed beside the past ones.
    page.get_by_role("option", name="TOU offer, browser plan").wait_for()
    campaign_id, campaign_name = finished
    page.get_by_role("option", name=f"{campaign_id} · {campaign_name}").click()
    page.get_by_role("heading", name=campaign_id).wait_for()
    page.get_by_text(en("campaigns.checks"), exact=True).wait_for()
    page.locator('[data-testid="stPlotlyChart"]').first.wait_for()
    wait_until_idle(page)
    assert page.locator('[data-testid="stException"]').count() == 0
