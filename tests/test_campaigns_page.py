"""Campaigns page: results with their checks, planning with the power check, follow-ups, scope."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, i18n, target_lists
from core.campaigns import members as campaign_members
from core.campaigns import report
from core.store import engine as store_engine
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "campaigns.py")
TIMEOUT = 180


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def writable_url(demo_url, tmp_path_factory) -> str:
    """Pages write audit entries and plans: a copy of the demo store of this module's own."""
    path = tmp_path_factory.mktemp("campaigns_page") / "demo.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, path)
    return f"duckdb:///{path}"


@pytest.fixture
def page(writable_url, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", writable_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


def _metric(at: AppTest, label: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == label)


def test_the_results_show_each_campaign_with_its_lift_and_checks(page, writable_url):
    at = page.run()
    assert not at.exception
    assert at.title[0].value == en("campaigns.title")
    overview = at.dataframe[0].value
    assert len(overview) == 3
    assert set(overview[en("campaigns.col.status")]) == {en("campaigns.status.finished")}
    engine = store_engine.connect(writable_url)
    with engine.connect() as conn:
        expected = report.overview(conn, access.SYSTEM)
    engine.dispose()
    picked = at.selectbox(key="campaign_pick").value
    assert picked == expected["campaign_id"].iloc[0]
    # The funnel and the checks of the picked campaign.
    assert at.get("plotly_chart")
    headers = [header.value for header in at.subheader]
    assert en("campaigns.checks") in headers
    texts = " ".join(element.value for element in at.caption)
    assert "sample-ratio check" in texts or en("campaigns.srm_unknown") in texts


def test_the_energy_offer_shows_its_effect_on_use(page, writable_url):
    engine = store_engine.connect(writable_url)
    with engine.connect() as conn:
        tou = conn.execute(
            sa.select(schema.campaigns.c.campaign_id).where(schema.campaigns.c.offer == "RES_TOU")
        ).scalar_one()
    engine.dispose()
    at = page.run()
    at.selectbox(key="campaign_pick").set_value(tou).run()
    assert not at.exception
    headers = [header.value for header in at.subheader]
    assert en("campaigns.energy") in headers


def test_a_plan_from_a_target_list_checks_its_power_and_is_created(page, writable_url):
    engine = store_engine.connect(writable_url)
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
            conn, access.SYSTEM, "page plan", pd.DataFrame({"customer_id": ids}), source="rule"
        )
    engine.dispose()
    at = page
    at.session_state["campaign_tab"] = en("campaigns.tab_plan")
    at.run()
    assert not at.exception
    assert en("campaigns.power") in [header.value for header in at.subheader]
    # The demo store is small: the plan says it cannot learn anything.
    assert any("too small" in element.value for element in at.error)
    at.text_input(key="plan_name").input("Page plan").run()
    at.button(key="plan_create").click().run()
    assert not at.exception
    [created] = [element.value for element in at.success if "created" in element.value]
    campaign_id = created.split()[1]
    engine = store_engine.connect(writable_url)
    with engine.connect() as conn:
        stored = campaign_members.stored_members(conn, access.SYSTEM, campaign_id)
    engine.dispose()
    assert sorted(stored["customer_id"]) == sorted(ids)


def test_a_customer_manager_sees_only_their_own_follow_ups(page, writable_url, signed_in):
    engine = store_engine.connect(writable_url)
    with engine.connect() as conn:
        manager = conn.execute(
            sa.select(schema.customers.c.manager_id)
            .group_by(schema.customers.c.manager_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).scalar_one()
    engine.dispose()
    at = page
    signed_in(at, "customer_manager", manager_id=manager)
    at.run()
    assert not at.exception
    assert not at.tabs
    frames = [frame.value for frame in at.dataframe]
    shown = pd.concat(frames) if frames else pd.DataFrame()
    if not shown.empty:
        assert set(shown[en("campaigns.col.manager_id")]) == {manager}


def test_a_district_manager_reads_results_over_their_own_customers(page, writable_url, signed_in):
    engine = store_engine.connect(writable_url)
    with engine.connect() as conn:
        region = conn.execute(
            sa.select(schema.customers.c.region)
            .group_by(schema.customers.c.region)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).scalar_one()
        scoped = report.overview(conn, access.Viewer("m", "manager", regions=(region,)))
    engine.dispose()
    at = page
    signed_in(at, "manager", regions=(region,))
    at.run()
    assert not at.exception
    members = at.dataframe[0].value[en("campaigns.col.members")].tolist()
    assert members == scoped["members"].tolist()


def test_the_uplift_tab_learns_from_a_past_campaign_or_says_why_not(page):
    at = page
    at.session_state["campaign_tab"] = en("campaigns.tab_uplift")
    at.run()
    assert not at.exception
    campaign_ids = at.selectbox(key="uplift_pick").options
    assert campaign_ids
    for campaign_id in campaign_ids:
        picked = campaign_id.split(" · ")[0]
        at.selectbox(key="uplift_pick").set_value(picked).run()
        assert not at.exception
        # Either the models and their Qini curve, or why a campaign this small teaches nothing.
        learnt = any(metric.label.startswith("AUUC") for metric in at.metric)
        refused = any("too few to learn" in element.value for element in at.error)
        assert learnt or refused
        if learnt:
            assert at.get("plotly_chart")
