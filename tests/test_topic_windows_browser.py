"""The big screen in Chromium: it redraws itself in place, takes turns, shows no personal data."""

import re

import pytest
import sqlalchemy as sa

from core import i18n
from core.store import engine as store_engine
from core.store import schema
from tests.conftest import wait_until_idle

pytestmark = pytest.mark.browser


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


def _personal_values(url: str) -> set[str]:
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        customers = conn.execute(sa.select(schema.customers.c.name, schema.customers.c.phone)).all()
        applicants = conn.execute(sa.select(schema.applications.c.name)).scalars().all()
    engine.dispose()
    return {value for row in customers for value in row if value} | {
        name for name in applicants if name
    }


def test_the_big_screen_refreshes_in_place_and_takes_turns(running_app, page, demo_url):
    running_app.sign_in(page, "manager")
    page.get_by_role("link", name=en("nav.topic_windows")).click()
    page.get_by_role("heading", name=en("topic_windows.title")).wait_for()
    wait_until_idle(page)
    page.get_by_role("button", name=en("topic_windows.big_screen")).click()
    first = re.compile(rf"^{re.escape(en('topic_windows.window.business'))} · ")
    page.get_by_role("heading", name=first).wait_for()
    page.get_by_text(en("topic_windows.big_footer", seconds=30, turn=1)).wait_for()
    wait_until_idle(page)
    assert "screen=big" in page.url
    # A mark on the page: a reload or a full rerun of the page would lose it.
    page.evaluate("window.__boardMark = 'kept'")
    main = page.get_by_test_id("stMain")
    main.evaluate("node => { node.dataset.boardMark = 'kept'; }")

    # The board's fragment redraws itself: the next window comes without anyone clicking.
    page.get_by_text(en("topic_windows.big_footer", seconds=30, turn=2)).wait_for()
    second = re.compile(rf"^{re.escape(en('topic_windows.window.collection'))} · ")
    page.get_by_role("heading", name=second).wait_for()
    assert page.evaluate("window.__boardMark") == "kept"
    assert main.evaluate("node => node.dataset.boardMark") == "kept"
    # The wall display has no sidebar and no header, and no error.
    assert not page.get_by_test_id("stSidebar").is_visible()
    assert not page.get_by_test_id("stHeader").is_visible()
    assert page.get_by_test_id("stException").count() == 0
    page.get_by_test_id("stMetric").first.wait_for()
    text = page.inner_text("body")
    assert not {value for value in _personal_values(demo_url) if value in text}
