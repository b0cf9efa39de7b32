"""The topic windows page (AppTest): its figures, its drill-downs in the URL, the big screen."""

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, i18n, kpis
from core.store import engine as store_engine
from core.store import schema
from ui import formatting
from ui.topic_windows import data as window_data

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "topic_windows.py")
PERIOD = "2025-12"
# The windows the demo store has data for: no abnormal-use list is scored in it yet.
WINDOWS = ("business", "collection", "service", "campaigns")
TIMEOUT = 120


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture
def page(demo_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


def _cards(at: AppTest) -> dict[str, str]:
    return {metric.label: metric.value for metric in at.metric}


def _charts(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _click(at: AppTest, key: str, customdata: str) -> None:
    at.session_state[key] = {
        "selection": {
            "points": [{"customdata": [customdata], "point_index": 0, "curve_number": 0}],
            "point_indices": [0],
            "box": [],
            "lasso": [],
        }
    }


def test_business_window_shows_the_store_figures(page, demo_store):
    page.run()
    assert not page.exception
    with demo_store.connect() as conn:
        monthly = kpis.business.sales(conn, access.SYSTEM, PERIOD, 12, by=("period",))
        stages = kpis.business.stage_compliance(conn, access.SYSTEM, PERIOD, 1, by=())
        volume = kpis.business.application_volume(conn, access.SYSTEM, PERIOD, 1, by=())
    month = monthly.set_index("period").loc[PERIOD]
    cards = _cards(page)
    assert cards[en("topic_windows.card.energy")] == formatting.compact(month["energy_kwh"], "en")
    assert cards[en("topic_windows.card.compliance")] == f"{stages['compliance'].iloc[0]:.1%}"
    assert cards[en("topic_windows.card.applications")] == f"{int(volume['applications'].sum()):,}"
    assert page.tabs[0].label == en("topic_windows.window.business")
    assert [tab.label for tab in page.tabs] == [
        en(f"topic_windows.window.{code}") for code in WINDOWS
    ]
    # Freshness: the newest readings, bills and applications, each marked stale against today.
    freshness = next(c.value for c in page.caption if en("topic_windows.source.bills") in c.value)
    assert "2025-12" in freshness and en("topic_windows.stale") in freshness
    # The monthly chart counts in K/M and dates its months.
    spec = _charts(page)[0]["layout"]
    assert spec["xaxis"]["type"] == "date"
    assert all(label == "0" or label[-1] in "KM" for label in spec["yaxis"]["ticktext"])


@pytest.mark.parametrize("window", ["collection", "service"])
def test_every_window_opens_from_the_url_in_both_languages(demo_url, monkeypatch, window):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    for language in ("en", "zh"):
        monkeypatch.setenv("WORKBENCH_LANGUAGE", language)
        at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
        at.query_params["window"] = window
        at.run()
        assert not at.exception
        title = i18n.translate("topic_windows.title", language)
        assert at.title[0].value == title
        first_card = i18n.translate(
            "topic_windows.card.outstanding"
            if window == "collection"
            else "topic_windows.card.orders",
            language,
        )
        assert first_card in _cards(at)
        if language == "zh":
            texts = " ".join(sub.value for sub in at.subheader)
            assert re.search(r"[\u4e00-\u9fff]", texts)


def test_a_click_puts_the_drill_down_in_the_url_and_the_link_opens_the_same_rows(page, demo_store):
    page.query_params["window"] = "collection"
    page.run()
    spec = next(
        chart
        for chart in _charts(page)
        if chart["data"]
        and chart["data"][0].get("customdata")
        and "bucket" in chart["data"][0]["customdata"][0][0]
        and "region" in chart["data"][0]["customdata"][0][0]
    )
    trace = max(spec["data"], key=lambda bar: max(bar["y"]) if bar.get("y") else 0)
    position = max(range(len(trace["y"])), key=lambda index: trace["y"][index])
    clicked = trace["customdata"][position][0]
    _click(page, "collection_region", clicked)
    page.run()
    assert not page.exception
    params = dict(page.query_params)
    selection = json.loads(clicked)
    assert params["drill"] == "debtors" and params["window"] == "collection"
    assert params["by_bucket"] == selection["bucket"] and params["by_region"] == selection["region"]
    table = page.dataframe[-1].value
    outstanding = en("topic_windows.column.outstanding_cny")
    # The rows behind the bar add up to the bar.
    assert table[outstanding].sum() == pytest.approx(trace["y"][position], abs=0.01)
    assert set(table[en("topic_windows.column.region")]) == {selection["region"]}

    # The same URL in a fresh session shows the same rows.
    again = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    again.query_params.update(params)
    again.run()
    assert not again.exception
    pd.testing.assert_frame_equal(again.dataframe[-1].value, table)

    # Closing takes the drill-down out of the URL and keeps the window.
    again.button(key="collection_close").click().run()
    assert dict(again.query_params) == {"window": "collection"}
    assert en("topic_windows.drill.debtors") not in [sub.value for sub in again.subheader]


def test_the_stage_drill_down_lists_the_stages_the_bar_counts(page, demo_store):
    page.query_params.update(
        {"drill": "stages", "by_stage": "surveyed", "by_status": "done", "by_late": "1"}
    )
    page.run()
    assert not page.exception
    with demo_store.connect() as conn:
        stages = kpis.business.stage_compliance(conn, access.SYSTEM, PERIOD, 12).set_index("stage")
    late = stages.loc["surveyed", "completed"] - stages.loc["surveyed", "on_time"]
    rows = page.dataframe[-1].value
    assert len(rows) == late > 0
    assert (rows[en("topic_windows.column.days")].astype(int) > 0).all()
    found = en("topic_windows.rows_found", count=f"{late:,}", totals="")
    assert any(caption.value.startswith(found.rstrip(" ·")) for caption in page.caption)


def test_a_district_manager_drills_into_their_district_only(page, signed_in):
    signed_in(page, "manager", regions=("大冶市",))
    page.query_params.update({"window": "service", "drill": "orders", "by_month": PERIOD})
    page.run()
    assert not page.exception
    rows = page.dataframe[-1].value
    if len(rows):
        assert set(rows[en("topic_windows.column.region")]) == {"大冶市"}
    charts = _charts(page)
    regions = {
        json.loads(point[0]).get("region")
        for chart in charts
        for trace in chart["data"]
        for point in trace.get("customdata") or []
    }
    assert regions <= {"大冶市", None}


def test_an_unknown_drill_down_in_a_link_is_refused_in_words(page):
    page.query_params.update({"window": "business", "drill": "stages", "by_colour": "red"})
    page.run()
    assert not page.exception
    assert page.warning[0].value == en("topic_windows.unknown_drill")


def _bills_only(url: str) -> None:
    engine = store_engine.connect(url)
    store_engine.migrate(engine)
    customer = {
        "customer_id": "C1",
        "name": "王伟",
        "customer_class": "residential",
        "region": "North",
        "tariff_code": "RES_TIERED",
    }
    bill = {
        "customer_id": "C1",
        "kwh_total": 100.0,
        "amount_cny": 50.0,
        "due_date": dt.date(2025, 2, 20),
    }
    with engine.begin() as conn:
        conn.execute(schema.customers.insert(), [customer])
        conn.execute(schema.bills.insert(), [{**bill, "period": "2025-01"}])
    engine.dispose()


def test_a_window_without_its_data_is_not_listed(monkeypatch, tmp_path):
    url = f"duckdb:///{tmp_path / 'bills.duckdb'}"
    _bills_only(url)
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert [tab.label for tab in at.tabs] == [
        en("topic_windows.window.business"),
        en("topic_windows.window.collection"),
    ]
    empty = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    store_engine.migrate(store_engine.connect(empty))
    monkeypatch.setenv("DATABASE_URL", empty)
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.info[0].value == en("topic_windows.no_data")
    assert not at.tabs


def _names_and_phones(url: str) -> set[str]:
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.customers.c.name, schema.customers.c.phone)).all()
        applicants = conn.execute(sa.select(schema.applications.c.name)).scalars().all()
    engine.dispose()
    values = {value for row in rows for value in row if value}
    return values | {name for name in applicants if name}


def _all_text(at: AppTest) -> str:
    parts = [
        element.value
        for kind in ("markdown", "caption", "title", "subheader")
        for element in getattr(at, kind)
    ]
    parts += [f"{metric.label} {metric.value}" for metric in at.metric]
    for frame in at.dataframe:
        parts.append(frame.value.to_csv())
    for chart in at.get("plotly_chart"):
        parts.append(chart.proto.spec)
    return "\n".join(str(part) for part in parts)


@pytest.mark.parametrize("window", WINDOWS)
def test_the_big_screen_shows_no_name_or_phone_whatever_the_role(
    demo_url, monkeypatch, signed_in, window
):
    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    # A manager who may see contact fields everywhere else.
    viewer = signed_in(at, "manager", granted=True)
    assert viewer.contact_grant
    at.query_params.update({"screen": "big", "window": window})
    at.run()
    assert not at.exception
    assert at.title[0].value.startswith(i18n.translate(f"topic_windows.window.{window}", "zh"))
    personal = set(access.PERSONAL_FIELDS)
    labels = {i18n.translate(f"topic_windows.column.{name}", "zh") for name in ("name",)}
    for frame in at.dataframe:
        assert not personal & set(frame.value.columns)
        assert not labels & set(frame.value.columns)
    text = _all_text(at)
    shown = {value for value in _names_and_phones(demo_url) if value in text}
    assert shown == set()
    # The same viewer reads the names outside the big screen: the test would see them.
    normal = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    signed_in(normal, "manager", granted=True)
    normal.query_params["window"] = "collection"
    normal.run()
    assert {value for value in _names_and_phones(demo_url) if value in _all_text(normal)}
    # The app's frame is hidden and the board is dark; no drill-down table or download.
    assert any("stSidebar" in block.value and "#0b1622" in block.value for block in at.markdown)
    assert not at.get("download_button")


def test_the_big_screen_takes_turns_through_the_windows(page):
    page.query_params["screen"] = "big"
    page.run()
    assert not page.exception
    seen = [page.title[0].value]
    for _ in range(len(WINDOWS)):
        page.run()
        assert not page.exception
        seen.append(page.title[0].value)
    windows = [en(f"topic_windows.window.{code}") for code in WINDOWS]
    assert [next(name for name in windows if title.startswith(name)) for title in seen] == [
        *windows,
        windows[0],
    ]
    footer = next(c.value for c in page.caption if "30 s" in c.value)
    assert footer == en("topic_windows.big_footer", seconds=30, turn=len(WINDOWS) + 1)


def test_every_key_the_windows_ask_for_exists():
    known = set(i18n.catalogs()["en"])
    pattern = re.compile(r"""\bt\(\s*["']([a-z0-9_]+(?:\.[a-z0-9_]+)+)["']""")
    sources = [ROOT / "pages" / "topic_windows.py", *(ROOT / "ui" / "topic_windows").glob("*.py")]
    used = {key for path in sources for key in pattern.findall(path.read_text(encoding="utf-8"))}
    assert used and used <= known, sorted(used - known)
    for group, codes in {
        "window": WINDOWS,
        "bucket": kpis.collection.BUCKETS,
        "source": kpis.limits.FRESHNESS_SOURCES,
        "group": kpis.limits.APPLICANT_GROUPS,
        "drill": tuple(window_data.FIGURES),
    }.items():
        for code in codes:
            assert f"topic_windows.{group}.{code}" in known, (group, code)


def test_a_selected_row_leads_to_customer_360_inside_the_app(access_url, monkeypatch, signed_in):
    monkeypatch.setenv("DATABASE_URL", access_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT)
    signed_in(at, "manager")
    at.query_params["window"] = "collection"
    at.switch_page("pages/topic_windows.py").run()
    assert not at.exception
    debtors = at.dataframe[-1].value
    customer = debtors[en("topic_windows.column.customer_id")].iloc[0]
    at.session_state["collection_debtors"] = {
        "selection": {"rows": [0], "columns": [], "cells": []}
    }
    at.run()
    assert not at.exception
    links = at.get("page_link")
    assert links, "a selected debtor offers their Customer 360"
    link = links[0].proto
    assert link.label == en("topic_windows.open_customer", customer=customer)
    assert "customer_360" in link.page
    assert f"customer={customer}" in link.query_string


def test_the_campaigns_window_reads_the_campaign_evaluation(page, demo_store):
    page.query_params["window"] = "campaigns"
    page.run()
    assert not page.exception
    with demo_store.connect() as conn:
        returns = kpis.campaign_returns.campaign_returns(conn, access.SYSTEM)
    latest = returns.iloc[0]
    cards = _cards(page)
    members = en("topic_windows.card.campaign_members")
    assert cards[members] == f"{int(latest['members']):,}"
    table = page.dataframe[0].value
    assert len(table) == len(returns)
    # A click on a campaign's bar lists its converted members, as many as the campaign has.
    clicked = json.dumps({"campaign_id": latest["campaign_id"], "converted": "1"})
    _click(page, "campaigns_incremental", clicked)
    page.run()
    assert not page.exception
    assert page.query_params["drill"] == "campaign"
    rows = page.dataframe[-1].value
    with demo_store.connect() as conn:
        converted = conn.execute(
            sa.select(sa.func.count()).where(
                schema.campaign_members.c.campaign_id == latest["campaign_id"],
                schema.campaign_members.c.converted_at.is_not(None),
            )
        ).scalar_one()
    assert len(rows) == converted > 0


@pytest.fixture(scope="module")
def scored_url(demo_url, tmp_path_factory) -> str:
    """A copy of the demo store with its abnormal-use list scored and a few inspections."""
    import shutil

    from core.risk import abnormal

    path = tmp_path_factory.mktemp("scored") / "demo.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, path)
    url = f"duckdb:///{path}"
    engine = store_engine.connect(url)
    abnormal.refresh(engine, access.SYSTEM)
    listed = abnormal.ranked(engine, access.SYSTEM, top=3)["customer_id"].tolist()
    made = dt.datetime(2025, 12, 1, 9)
    orders = [
        {
            "customer_id": customer,
            "state": state,
            "assignee": "inspector",
            "due_date": dt.date(2025, 12, 15),
            "created_at": made,
            "created_by": "manager",
            "updated_at": made,
            "outcome": outcome,
            "recovered_cny": recovered,
            "resolved_at": made + dt.timedelta(days=5) if state == "resolved" else None,
        }
        for customer, state, outcome, recovered in zip(
            listed,
            ("resolved", "resolved", "dispatched"),
            ("confirmed_theft", "no_issue", None),
            (2400.0, None, None),
            strict=True,
        )
    ]
    with engine.begin() as conn:
        conn.execute(schema.inspection_orders.insert(), orders)
        store_engine.bump_data_version(conn)
    engine.dispose()
    return url


def test_the_abnormal_use_window_appears_once_its_list_is_scored(
    scored_url, monkeypatch, signed_in
):
    monkeypatch.setenv("DATABASE_URL", scored_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    at.query_params["window"] = "abnormal"
    at.run()
    assert not at.exception
    assert en("topic_windows.window.abnormal") in [tab.label for tab in at.tabs]
    cards = _cards(at)
    assert cards[en("topic_windows.card.open_orders")] == "1"
    assert cards[en("topic_windows.card.hit_rate")] == "50.0%"
    ranked = at.dataframe[-1].value
    # The reasons of the top of the list are in words.
    assert ranked[en("topic_windows.column.reasons")].iloc[0].strip()
    clicked = json.dumps({"month": "2025-12", "outcome": "confirmed_theft"})
    _click(at, "abnormal_outcomes", clicked)
    at.run()
    assert not at.exception
    rows = at.dataframe[-1].value
    assert len(rows) == 1
    assert rows[en("topic_windows.column.recovered_revenue_cny")].iloc[0] == pytest.approx(2400.0)
    big = AppTest.from_file(PAGE, default_timeout=TIMEOUT)
    signed_in(big, "manager", granted=True)
    big.query_params.update({"screen": "big", "window": "abnormal"})
    big.run()
    assert not big.exception
    text = _all_text(big)
    assert not {value for value in _names_and_phones(scored_url) if value in text}
