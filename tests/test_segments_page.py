"""The Segment explorer page (AppTest): fit with a button, filter, drill, save and export a list."""

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, i18n, segments, target_lists
from core.store import engine as store_engine

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "segments.py")
TIMEOUT = 180


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture
def page_url(featured_demo_url, tmp_path) -> str:
    """The page writes runs and target lists: a copy of the featured demo store of its own."""
    path = tmp_path / "segments_page.duckdb"
    shutil.copyfile(sa.make_url(featured_demo_url).database, path)
    return f"duckdb:///{path}"


@pytest.fixture
def segmented_url(page_url) -> str:
    engine = store_engine.connect(page_url)
    segments.fit(engine, seed=5, k=4)
    engine.dispose()
    return page_url


def app(url: str, monkeypatch) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(PAGE, default_timeout=TIMEOUT)


def test_a_store_without_segments_offers_the_fit_and_the_button_fits(page_url, monkeypatch):
    at = app(page_url, monkeypatch).run()
    assert not at.exception
    assert en("segments.no_run") in [info.value for info in at.info]
    at.button(key="segments_run").click().run()
    assert not at.exception and not at.error
    headers = [header.value for header in at.subheader]
    for key in ("sizes", "profiles", "load_shapes", "map", "economics", "customers_and_list"):
        assert en(f"segments.{key}") in headers
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        runs = segments.all_runs(conn)
    engine.dispose()
    assert len(runs) == 1 and runs.loc[0, "created_by"] == "demo"


def _drill(at: AppTest) -> pd.DataFrame:
    column = en("segments.column.segment")
    return next(
        frame.value
        for frame in at.dataframe
        if column in frame.value.columns and en("segments.column.phone") in frame.value.columns
    )


def test_filtering_a_segment_and_exporting_its_list_masked_for_an_analyst(
    segmented_url, monkeypatch, signed_in
):
    at = app(segmented_url, monkeypatch)
    analyst = signed_in(at, "analyst")
    assert not analyst.contact_grant
    at.run()
    assert not at.exception
    engine = store_engine.connect(segmented_url)
    with engine.connect() as conn:
        run_id = segments.latest_run(conn)
        shown = segments.segments_of(conn, analyst, run_id)
    smallest = shown.iloc[-1]
    name = segments.display_names(shown, "en")[int(smallest["segment_id"])]

    at.multiselect(key="segments_filter").set_value([int(smallest["segment_id"])]).run()
    assert not at.exception
    drill = _drill(at)
    assert len(drill) == int(smallest["customers"])
    assert drill[en("segments.column.segment")].eq(name).all()
    phones = drill[en("segments.column.phone")].dropna()
    assert len(phones) and phones.str.contains(r"\*{4}").all()
    links = drill[en("segments.column.open")]
    assert links.str.startswith("/customer_360?customer=").all()

    at.text_input(key="segments_list_name").input("Smallest segment, first wave").run()
    at.button(key="segments_list_save").click().run()
    assert not at.exception and not at.error
    assert len(at.get("download_button")) == 2
    with engine.connect() as conn:
        lists = target_lists.target_lists(conn, access.SYSTEM)
        members = target_lists.members(conn, access.SYSTEM, int(lists.loc[0, "id"]))
        log = access.audit_entries(conn, access.SYSTEM, action="target_list_saved")
    engine.dispose()
    assert lists.loc[0, "name"] == "Smallest segment, first wave"
    assert lists.loc[0, "source_kind"] == "segment"
    assert lists.loc[0, "source_ref"] == f"run {run_id} / segment {smallest['segment_id']}"
    assert lists.loc[0, "created_by"] == analyst.user_name
    assert sorted(members["customer_id"]) == sorted(drill[en("segments.column.customer_id")])
    assert members["segment"].eq(name).all() and members["offer"].notna().all()
    assert members["reason"].str.contains("overall").all()
    assert log.loc[0, "user_name"] == analyst.user_name


def test_a_rule_is_counted_saved_and_an_unreadable_one_named(segmented_url, monkeypatch):
    at = app(segmented_url, monkeypatch).run()
    at.text_area(key="segments_rule").input("residential AND peak shar > 40%").run()
    at.button(key="segments_rule_count").click().run()
    assert not at.exception
    assert at.error[0].value == en("segment_rules.unknown_feature", part="peak shar")
    at.text_area(key="segments_rule").input("residential AND peak share > 40%").run()
    at.text_input(key="segments_rule_name").input("Peak-heavy households").run()
    at.button(key="segments_rule_save").click().run()
    assert not at.exception and not at.error
    assert en("segments.rule_saved", name="Peak-heavy households") in [
        message.value for message in at.success
    ]
    assert at.selectbox(key="segments_rule_pick").value == "Peak-heavy households"


def test_the_page_renders_in_chinese(segmented_url, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", segmented_url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    at = AppTest.from_file(PAGE, default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.title[0].value == "用户分群"
    assert "客群规模与价值" in [header.value for header in at.subheader]
