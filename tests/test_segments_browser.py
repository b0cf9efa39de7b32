"""The Segment explorer in the running app: select a segment, save its target list, download it."""

import pandas as pd
import pytest
from conftest import RunningApp, demo_store_with_accounts, serve_app, wait_until_idle

from core import access, i18n, segments
from core.store import engine as store_engine

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def segment_app(featured_demo_url, tmp_path_factory):
    """The app on a featured demo store with its accounts and one segment run."""
    folder = tmp_path_factory.mktemp("segments_app")
    url = demo_store_with_accounts(featured_demo_url, folder)
    engine = store_engine.connect(url)
    run = segments.fit(engine, seed=5, k=4)
    with engine.connect() as conn:
        shown = segments.segments_of(conn, access.SYSTEM, run.run_id)
    # The embedded store is held by one process at a time: this one lets go before the app.
    engine.dispose()
    with serve_app(url, folder / "streamlit.log") as address:
        yield RunningApp(address, url), shown


def test_select_a_segment_and_download_its_target_list(segment_app, page, tmp_path):
    running, shown = segment_app
    names = segments.display_names(shown, "en")
    chosen = shown.iloc[-1]
    name = names[int(chosen["segment_id"])]
    running.sign_in(page, "analyst")
    page.locator('[data-testid="stSidebar"]').get_by_role("link", name=en("nav.segments")).click()
    page.get_by_text(en("segments.sizes"), exact=True).wait_for()
    wait_until_idle(page)

    page.get_by_label(en("segments.filter")).click()
    page.get_by_role("option", name=name, exact=True).click()
    page.keyboard.press("Escape")
    wait_until_idle(page)
    page.get_by_text(
        en("segments.drill_caption", count=f"{int(chosen['customers']):,}", rows=500)
    ).wait_for()
    page.get_by_role("button", name=en("segments.list_save")).click()
    page.get_by_text(
        en("segments.list_saved", list_id=1, count=f"{int(chosen['customers']):,}")
    ).wait_for()
    wait_until_idle(page)

    with page.expect_download() as download_info:
        page.get_by_role(
            "button", name=en("app.download_csv", label=en("segments.target_list"))
        ).click()
    download = download_info.value
    assert download.suggested_filename == "target_list_1.csv"
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    assert target.read_bytes().startswith(b"\xef\xbb\xbf")
    listed = pd.read_csv(target, encoding="utf-8-sig", dtype=str)
    assert len(listed) == int(chosen["customers"])
    assert listed[en("segments.column.segment")].eq(name).all()
    # The analyst has no contact grant: every phone number is masked in the file.
    phones = listed[en("segments.column.phone")].dropna()
    assert len(phones) and phones.str.contains(r"\*{4}").all()
    assert page.locator('[data-testid="stException"]').count() == 0
