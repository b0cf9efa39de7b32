"""The abnormal-use and inspection page (AppTest), and the risk panel of Customer 360."""

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import access, i18n, inspection
from core.demo import accounts as demo_accounts
from core.risk import abnormal, models
from core.store import engine as store_engine
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
PAGE = str(ROOT / "pages" / "risk.py")
CUSTOMER_360 = str(ROOT / "pages" / "customer_360.py")
TIMEOUT = 120
INSPECTOR = "inspector_li"


def en(key: str, **values) -> str:
    return i18n.translate(key, "en", **values)


@pytest.fixture(scope="module")
def scored_file(demo_url, tmp_path_factory) -> Path:
    """The demo store with its accounts, an inspector, abnormal-use scores and risk models."""
    target = tmp_path_factory.mktemp("risk_page") / "scored.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    with engine.begin() as conn:
        demo_accounts.create_demo_accounts(conn)
        access.create_user(conn, access.SYSTEM, INSPECTOR, "inspect2024", "inspector")
    abnormal.refresh(engine)
    models.train_and_score(engine)
    engine.dispose()
    return target


@pytest.fixture
def page_url(scored_file, tmp_path) -> str:
    target = tmp_path / "page.duckdb"
    shutil.copyfile(scored_file, target)
    return f"duckdb:///{target}"


def app(url: str, monkeypatch, path: str = PAGE) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    return AppTest.from_file(path, default_timeout=TIMEOUT)


def _metric(at: AppTest, key: str) -> str:
    return next(metric.value for metric in at.metric if metric.label == en(key))


def _button(at: AppTest, label: str):
    return next(button for button in at.button if button.label == label)


def test_a_manager_orders_an_inspection_from_the_list_and_resolves_it(
    page_url, monkeypatch, signed_in
):
    at = app(page_url, monkeypatch)
    signed_in(at, "manager")
    at.run()
    assert not at.exception and not at.error
    assert at.title[0].value == en("risk.title")
    assert _metric(at, "risk.page.hit_rate") == "—"
    listed = at.dataframe[0].value
    assert len(listed) == 40
    assert listed[en("risk.column.reasons")].iloc[0]
    pick = at.multiselect(key="risk_pick")
    first = pick.options[0]
    pick.select(first).run()
    at.selectbox(key="risk_assignee").select(INSPECTOR).run()
    at.button(key="risk_create").click().run()
    assert not at.exception and not at.error
    assert at.success[0].value == en("risk.page.created", count=1, assignee=INSPECTOR)
    assert _metric(at, "risk.page.open_orders") == "1"
    for state in ("dispatched", "on_site"):
        label = en("risk.page.move_to", state=en(f"inspection.state.{state}"))
        _button(at, label).click().run()
        assert not at.error, [error.value for error in at.error]
    at.selectbox(key="risk_outcome").select("confirmed_theft")
    at.number_input(key="risk_amount").set_value(412.5)
    _button(at, en("risk.page.resolve")).click().run()
    assert not at.exception and not at.error
    assert _metric(at, "risk.page.hit_rate") == "100%"
    assert _metric(at, "risk.page.recovered") == "¥412.50"
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        order = conn.execute(sa.select(schema.inspection_orders)).one()
        audited = conn.execute(
            sa.select(sa.func.count()).where(
                schema.audit_log.c.action.in_(
                    ["inspection_order_created", "inspection_order_changed"]
                )
            )
        ).scalar_one()
    engine.dispose()
    assert (order.state, order.outcome, float(order.recovered_cny)) == (
        "resolved",
        "confirmed_theft",
        412.5,
    )
    assert audited == 4


def test_an_inspector_sees_only_the_order_board_and_their_worklist(
    page_url, monkeypatch, signed_in
):
    engine = store_engine.connect(page_url)
    planner = access.Viewer("manager", "manager")
    first, second = abnormal.ranked(engine, access.SYSTEM, 2)["customer_id"]
    due = access.now().date()
    mine = inspection.create_orders(engine, planner, [first], INSPECTOR, due)
    inspection.create_orders(engine, planner, [second], "manager", due)
    inspection.advance(engine, planner, mine[0], "dispatched")
    engine.dispose()
    at = app(page_url, monkeypatch)
    at.session_state["viewer"] = access.Viewer(INSPECTOR, "inspector")
    at.session_state["last_seen"] = access.now()
    at.run()
    assert not at.exception and not at.error
    assert [tab.label for tab in at.tabs] == [
        en("risk.page.tab_orders"),
        en("risk.page.tab_worklist"),
    ]
    board = at.dataframe[0].value
    assert board[en("risk.column.customer_id")].tolist() == [first]
    assert not any(button.key == "risk_create" for button in at.button)
    # The inspector goes on site; dispatching was the planner's.
    label = en("risk.page.move_to", state=en("inspection.state.on_site"))
    _button(at, label).click().run()
    assert not at.error
    # The worklist tab's table is the page's last.
    worklist = at.dataframe[-1].value
    assert first in set(worklist[en("risk.column.customer_id")])


def test_a_customer_manager_reads_the_list_of_their_customers_only(
    page_url, monkeypatch, signed_in
):
    engine = store_engine.connect(page_url)
    with engine.connect() as conn:
        manager_id = conn.execute(
            sa.select(schema.customers.c.manager_id)
            .group_by(schema.customers.c.manager_id)
            .order_by(sa.func.count().desc())
            .limit(1)
        ).scalar_one()
        own = set(
            conn.execute(
                sa.select(schema.customers.c.customer_id).where(
                    schema.customers.c.manager_id == manager_id
                )
            ).scalars()
        )
    engine.dispose()
    at = app(page_url, monkeypatch)
    signed_in(at, "customer_manager", manager_id=manager_id)
    at.run()
    assert not at.exception and not at.error
    listed = at.dataframe[0].value
    assert set(listed[en("risk.column.customer_id")]) <= own
    assert not any(
        button.key in ("risk_create", "risk_recompute", "risk_train") for button in at.button
    )


def test_customer_360_shows_the_customers_risk_scores(page_url, monkeypatch):
    engine = store_engine.connect(page_url)
    top = abnormal.ranked(engine, access.SYSTEM, 1)["customer_id"].iloc[0]
    engine.dispose()
    at = app(page_url, monkeypatch, CUSTOMER_360).run()
    at.text_input(key="c360_search").input(top).run()
    assert not at.exception
    assert en("risk.panel.title") in [header.value for header in at.subheader]
    labels = {metric.label: metric.value for metric in at.metric}
    for kind in ("abnormal", "arrears", "churn", "complaint"):
        assert en(f"risk.kind.{kind}") in labels
    assert labels[en("risk.kind.abnormal")].endswith("%")
    assert int(labels[en("risk.kind.abnormal")].rstrip("%")) >= 50
