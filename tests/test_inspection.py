"""Inspection orders: one step at a time, reopening with a reason, who may do what, routes."""

import dataclasses
import datetime as dt
import shutil

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, errors, inspection
from core.demo import truth
from core.risk import abnormal
from core.risk import settings as risk_settings
from core.store import engine as store_engine
from core.store import schema

PLANNER = access.Viewer(user_name="planner", role="manager")
INSPECTOR = access.Viewer(user_name="inspector_li", role="inspector")
OTHER_INSPECTOR = access.Viewer(user_name="inspector_wang", role="inspector")
PASSWORD = "inspect2024"


@pytest.fixture(scope="module")
def scored_file(demo_url, tmp_path_factory):
    """A copy of the demo store with abnormal-use scores and two inspector accounts."""
    target = tmp_path_factory.mktemp("inspection") / "scored.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    abnormal.refresh(engine)
    with engine.begin() as conn:
        for viewer in (INSPECTOR, OTHER_INSPECTOR):
            access.create_user(conn, access.SYSTEM, viewer.user_name, PASSWORD, "inspector")
        access.create_user(conn, access.SYSTEM, PLANNER.user_name, PASSWORD, "manager")
    engine.dispose()
    return target


@pytest.fixture
def store_copy(scored_file, tmp_path):
    target = tmp_path / "orders.duckdb"
    shutil.copyfile(scored_file, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    yield engine
    engine.dispose()


def _listed(engine, count: int = 3) -> list[str]:
    return abnormal.ranked(engine, access.SYSTEM, count)["customer_id"].tolist()


def _due() -> dt.date:
    return access.now().date() + dt.timedelta(days=7)


def _state(engine, order_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(schema.inspection_orders.c.state).where(
                schema.inspection_orders.c.id == order_id
            )
        ).scalar_one()


def test_an_order_moves_one_step_at_a_time_and_every_change_is_audited(store_copy):
    customer = _listed(store_copy, 1)[0]
    (order_id,) = inspection.create_orders(store_copy, PLANNER, [customer], "inspector_li", _due())
    assert _state(store_copy, order_id) == "created"
    with pytest.raises(errors.UserError) as skipped:
        inspection.advance(store_copy, PLANNER, order_id, "on_site")
    assert skipped.value.key == "inspection.error.no_skipping"
    inspection.advance(store_copy, PLANNER, order_id, "dispatched")
    with pytest.raises(errors.UserError):
        inspection.advance(store_copy, INSPECTOR, order_id, "resolved", outcome="meter_fault")
    inspection.advance(store_copy, INSPECTOR, order_id, "on_site")
    with pytest.raises(errors.UserError) as no_outcome:
        inspection.advance(store_copy, INSPECTOR, order_id, "resolved")
    assert no_outcome.value.key == "inspection.error.outcome_needed"
    with pytest.raises(errors.UserError) as negative:
        inspection.advance(
            store_copy, INSPECTOR, order_id, "resolved", outcome="meter_fault", recovered_cny=-5
        )
    assert negative.value.key == "inspection.error.recovered_amount"
    inspection.advance(
        store_copy, INSPECTOR, order_id, "resolved", outcome="confirmed_theft", recovered_cny=412.5
    )
    with pytest.raises(errors.UserError):
        inspection.advance(store_copy, PLANNER, order_id, "dispatched")
    with pytest.raises(errors.UserError) as no_reason:
        inspection.reopen(store_copy, PLANNER, order_id, "  ")
    assert no_reason.value.key == "inspection.error.reason_needed"
    inspection.reopen(store_copy, PLANNER, order_id, "customer disputes the finding")
    assert _state(store_copy, order_id) == "dispatched"
    history = inspection.events(store_copy, PLANNER, order_id)
    assert history["to_state"].tolist() == [
        "created",
        "dispatched",
        "on_site",
        "resolved",
        "dispatched",
    ]
    assert history["note"].iloc[-1] == "customer disputes the finding"
    assert history["recovered_cny"].iloc[3] == pytest.approx(412.5)
    with store_copy.connect() as conn:
        entries = access.audit_entries(conn, access.SYSTEM)
    changed = entries[entries["action"] == "inspection_order_changed"]
    assert len(changed) == 4 and set(changed["target"]) == {customer}
    assert (entries["action"] == "inspection_order_created").sum() == 1


def test_an_order_keeps_the_evidence_it_was_made_on(store_copy):
    top, *_ = _listed(store_copy, 1)
    last = abnormal.ranked(store_copy, access.SYSTEM, 10_000)["customer_id"].iloc[-1]
    ids = inspection.create_orders(store_copy, PLANNER, [top, last], "inspector_li", _due())
    board = inspection.orders(store_copy, PLANNER).set_index("id")
    assert board.loc[ids[0], "score"] > board.loc[ids[1], "score"]
    assert board.loc[ids[0], "reasons"], "the reasons go with the order"
    with store_copy.connect() as conn:
        propensity = dict(
            conn.execute(
                sa.select(
                    schema.inspection_orders.c.id, schema.inspection_orders.c.selection_propensity
                )
            ).all()
        )
    assert propensity[ids[0]] == 1.0
    assert propensity[ids[1]] < 1.0
    with pytest.raises(errors.UserError) as twice:
        inspection.create_orders(store_copy, PLANNER, [top], "inspector_li", _due())
    assert twice.value.key == "inspection.error.already_open"


def test_orders_are_checked_before_they_are_made(store_copy):
    customer = _listed(store_copy, 1)[0]
    with pytest.raises(errors.UserError) as past:
        inspection.create_orders(
            store_copy, PLANNER, [customer], "inspector_li", dt.date(2020, 1, 1)
        )
    assert past.value.key == "inspection.error.due_in_past"
    with pytest.raises(errors.UserError) as nobody:
        inspection.create_orders(store_copy, PLANNER, [customer], "nobody", _due())
    assert nobody.value.key == "inspection.error.unknown_assignee"
    with pytest.raises(access.AccessError):
        inspection.create_orders(store_copy, INSPECTOR, [customer], "inspector_li", _due())
    with store_copy.connect() as conn:
        region = conn.execute(
            sa.select(schema.customers.c.region).where(schema.customers.c.customer_id == customer)
        ).scalar_one()
    elsewhere = access.Viewer("district", "manager", regions=("no such district",))
    with pytest.raises(access.AccessError) as outside:
        inspection.create_orders(store_copy, elsewhere, [customer], "inspector_li", _due())
    assert outside.value.key == "inspection.error.out_of_scope"
    assert region


def test_an_inspector_sees_and_moves_only_their_own_orders(store_copy):
    first, second, third = _listed(store_copy, 3)
    mine = inspection.create_orders(store_copy, PLANNER, [first, second], "inspector_li", _due())
    theirs = inspection.create_orders(store_copy, PLANNER, [third], "inspector_wang", _due())
    assert set(inspection.orders(store_copy, INSPECTOR)["id"]) == set(mine)
    assert set(inspection.orders(store_copy, OTHER_INSPECTOR)["id"]) == set(theirs)
    inspection.advance(store_copy, PLANNER, theirs[0], "dispatched")
    with pytest.raises(access.AccessError) as refused:
        inspection.advance(store_copy, INSPECTOR, theirs[0], "on_site")
    assert refused.value.key == "inspection.error.not_yours"
    # Dispatching is the planners' step, not the inspector's.
    with pytest.raises(access.AccessError):
        inspection.advance(store_copy, INSPECTOR, mine[0], "dispatched")
    assert inspection.events(store_copy, INSPECTOR, theirs[0]).empty
    with store_copy.connect() as conn:
        manager_id = conn.execute(
            sa.select(schema.customers.c.manager_id).where(schema.customers.c.customer_id == first)
        ).scalar_one()
    customer_manager = access.Viewer("cm", "customer_manager", manager_id=manager_id)
    seen = inspection.orders(store_copy, customer_manager)
    assert first in set(seen["customer_id"])
    with store_copy.connect() as conn:
        own = set(
            conn.execute(
                sa.select(schema.customers.c.customer_id).where(
                    schema.customers.c.manager_id == manager_id
                )
            ).scalars()
        )
    assert set(seen["customer_id"]) <= own
    with pytest.raises(access.AccessError) as read_only:
        inspection.advance(store_copy, customer_manager, mine[0], "dispatched")
    assert read_only.value.key == "inspection.error.read_only"


def test_hit_rate_and_recovered_revenue_follow_the_outcomes(store_copy):
    assert inspection.results(store_copy, PLANNER)["hit_rate"] is None
    ids = inspection.create_orders(store_copy, PLANNER, _listed(store_copy, 3), "planner", _due())
    for order_id, outcome, amount in zip(
        ids, ("confirmed_theft", "no_issue", "meter_fault"), (300.0, 0.0, 120.25), strict=True
    ):
        for state in ("dispatched", "on_site"):
            inspection.advance(store_copy, PLANNER, order_id, state)
        if outcome != "meter_fault":
            inspection.advance(
                store_copy, PLANNER, order_id, "resolved", outcome=outcome, recovered_cny=amount
            )
    figures = inspection.results(store_copy, PLANNER)
    assert (figures["resolved"], figures["hits"], figures["open"]) == (2, 1, 1)
    assert figures["hit_rate"] == pytest.approx(0.5)
    assert figures["recovered_cny"] == pytest.approx(300.0)
    inspection.advance(
        store_copy, PLANNER, ids[2], "resolved", outcome="meter_fault", recovered_cny=120.25
    )
    figures = inspection.results(store_copy, PLANNER)
    assert figures["hit_rate"] == pytest.approx(2 / 3)
    assert figures["recovered_cny"] == pytest.approx(420.25)
    assert figures["by_outcome"] == {
        "confirmed_theft": 1,
        "meter_fault": 1,
        "vacancy": 0,
        "no_issue": 1,
    }


def test_the_route_visits_the_nearest_stop_next():
    stops = pd.DataFrame(
        {
            "id": [1, 2, 3, 4],
            "lat": [30.30, 30.10, 30.20, None],
            "lon": [115.0, 115.0, 115.0, None],
        }
    )
    route = inspection.route(stops, (30.0, 115.0))
    assert route["id"].tolist() == [2, 3, 1, 4]
    assert route["stop"].tolist() == [1, 2, 3, 4]
    # 0.1° of latitude is 11.1 km: three legs of it, the stop without coordinates last.
    assert route["leg_km"].iloc[:3].tolist() == pytest.approx([11.12, 11.12, 11.12], abs=0.01)
    assert route["route_km"].iloc[2] == pytest.approx(33.36, abs=0.02)


def test_a_worklist_is_the_assignees_open_orders_in_route_order(store_copy):
    ids = inspection.create_orders(
        store_copy, PLANNER, _listed(store_copy, 4), "inspector_li", _due()
    )
    inspection.advance(store_copy, PLANNER, ids[0], "dispatched")
    worklist = inspection.worklist(store_copy, INSPECTOR)
    assert set(worklist["id"]) == set(ids)
    assert worklist["stop"].tolist() == [1, 2, 3, 4]
    assert worklist["route_km"].is_monotonic_increasing
    assert inspection.worklist(store_copy, OTHER_INSPECTOR).empty


def test_confirmed_outcomes_become_labels_for_the_next_ranking(store_copy):
    with store_copy.connect() as conn:
        planted = set(conn.execute(sa.select(truth.abnormal.c.customer_id)).scalars())
    ranked = abnormal.ranked(store_copy, access.SYSTEM, 12)["customer_id"].tolist()
    for customer in ranked:
        (order_id,) = inspection.create_orders(store_copy, PLANNER, [customer], "planner", _due())
        for state in ("dispatched", "on_site"):
            inspection.advance(store_copy, PLANNER, order_id, state)
        outcome = "confirmed_theft" if customer in planted else "no_issue"
        inspection.advance(store_copy, PLANNER, order_id, "resolved", outcome=outcome)
    defaults = risk_settings.load()
    few = dataclasses.replace(
        defaults,
        labels={"min_labels": 10.0, "min_each_outcome": 3.0, "full_weight_at": 12.0},
    )
    with store_copy.connect() as conn:
        before = abnormal.score(conn, settings=defaults)
        after = abnormal.score(conn, settings=few)
    assert not before.model_version.endswith("+labels")
    assert after.model_version.endswith("+labels")
    old = before.frame.set_index("customer_id")["score"]
    new = after.frame.set_index("customer_id")["score"]
    misses = [customer for customer in ranked if customer not in planted]
    hits = [customer for customer in ranked if customer in planted]
    # The inspected customers who had nothing wrong fall, the confirmed ones stay on top.
    assert new[misses].mean() < old[misses].mean()
    assert new[hits].min() > new[misses].max()
