"""Customer 360 core: search, scope, load views against direct sums, peers, actions, briefs."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, cli, customer360, savings, tariffs, visit_brief
from core.demo import truth
from core.store import engine as store_engine
from core.store import schema


@pytest.fixture(scope="module")
def engine(featured_demo_url):
    engine = store_engine.connect(featured_demo_url)
    yield engine
    engine.dispose()


def _actions(engine, customer_id):
    return customer360.dossier(engine, access.SYSTEM, customer_id).actions


def _first(engine, query):
    with engine.connect() as conn:
        return conn.execute(query).first()


def test_search_finds_a_customer_by_every_kind_of_id(engine):
    rows = pd.read_sql(sa.select(schema.id_map).where(schema.id_map.c.active), engine)
    for system, group in rows.groupby("system"):
        external_id, customer_id = group[["external_id", "customer_id"]].iloc[-1]
        found = customer360.search(engine, access.SYSTEM, external_id)
        assert found["customer_id"].iloc[0] == customer_id, system
        assert found["matched_on"].iloc[0] in (system, "phone")
    name, customer_id = _first(
        engine, sa.select(schema.customers.c.name, schema.customers.c.customer_id).limit(1)
    )
    assert customer_id in set(customer360.search(engine, access.SYSTEM, name)["customer_id"])


def test_search_masks_phones_for_a_viewer_without_the_grant(engine):
    phone, customer_id = _first(
        engine,
        sa.select(schema.customers.c.phone, schema.customers.c.customer_id).where(
            schema.customers.c.customer_class == "residential"
        ),
    )
    analyst = access.Viewer(user_name="a", role="analyst")
    found = customer360.search(engine, analyst, phone)
    row = found[found["customer_id"] == customer_id].iloc[0]
    assert row["phone"] != phone and "*" in row["phone"]
    assert "*" in row["matched_value"]
    shown = dict(
        (system, external)
        for system, external, _ in customer360.archive(engine, analyst, customer_id)["external_ids"]
    )
    assert shown["95598"] != phone and "*" in shown["95598"]


def test_load_views_add_up_to_the_readings(engine):
    customer_id = _first(engine, sa.select(schema.customers.c.customer_id).limit(1))[0]
    views = customer360.load_views(engine, access.SYSTEM, customer_id)
    total = _first(
        engine,
        sa.select(sa.func.sum(schema.readings.c.kwh)).where(
            schema.readings.c.customer_id == customer_id
        ),
    )[0]
    assert views["daily"]["kwh"].sum() == pytest.approx(total, rel=1e-6)
    assert views["weekly"]["kwh"].sum() == pytest.approx(total, rel=1e-6)
    assert views["monthly"]["kwh"].sum() == pytest.approx(total, rel=1e-6)
    assert views["heatmap"]["day"].nunique() == customer360.HEATMAP_DAYS
    assert set(views["heatmap"]["hour"]) == set(range(24))


def test_out_of_scope_customer_is_invisible_everywhere(engine):
    customer_id, region = _first(
        engine, sa.select(schema.customers.c.customer_id, schema.customers.c.region).limit(1)
    )
    elsewhere = access.Viewer(user_name="x", role="analyst", regions=(f"not {region}",))
    assert customer360.archive(engine, elsewhere, customer_id) is None
    assert customer360.load_views(engine, elsewhere, customer_id) is None
    assert customer360.bills(engine, elsewhere, customer_id).empty
    assert customer360.work_orders(engine, elsewhere, customer_id).empty
    assert customer360.similar_customers(engine, elsewhere, customer_id) is None
    assert customer360.dossier(engine, elsewhere, customer_id) is None


def test_peers_share_the_class_and_percentiles_are_fractions(engine):
    customer_id = _first(engine, sa.select(schema.customers.c.customer_id).limit(1))[0]
    peers = customer360.similar_customers(engine, access.SYSTEM, customer_id)
    assert peers["peers"] >= customer360.MIN_PEERS
    comparison = peers["comparison"].set_index("feature")
    assert list(comparison.index) == list(customer360.COMPARED_FEATURES)
    assert comparison["percentile"].dropna().between(0, 1).all()


def test_late_payers_get_the_arrears_or_autopay_action(engine):
    late = pd.read_sql(
        sa.select(truth.customers.c.customer_id).where(truth.customers.c.late_payer),
        engine,
    )["customer_id"]
    codes = [{action.code for action in _actions(engine, cid)} for cid in late]
    with_payment_action = [bool(found & {"offer_autopay", "collect_arrears"}) for found in codes]
    assert sum(with_payment_action) >= 0.6 * len(codes)
    action = next(
        action for cid in late for action in _actions(engine, cid) if action.code == "offer_autopay"
    )
    assert "late payments in 12 months" in customer360.describe(action, "en")


def test_bill_standing_is_the_payment_features():
    standing = customer360.bill_standing({"arrears_cny": 150.754, "late_payments": 3.0})
    assert standing == customer360.BillStanding(150.75, 3)
    assert customer360.bill_standing({"arrears_cny": None, "late_payments": None}) == (
        customer360.BillStanding(0.0, 0)
    )
    assert customer360.bill_standing(None) is None


def test_the_savings_talking_point_is_the_tariff_pages_best_action(engine):
    ranking = savings.rank_savings(engine, access.SYSTEM).set_index("customer_id")
    # One customer whose best action is not a shift, one whose best is: the talking point follows
    # the ranking either way, with its figures.
    chosen = [
        ranking.index[ranking["best_option"] == option][0]
        for option in ("switch", "shift")
        if (ranking["best_option"] == option).any()
    ]
    assert chosen
    for customer_id in chosen:
        best = savings.customer_savings(engine, access.SYSTEM, customer_id).best
        code, values = savings.talking_point(best)
        point = next(action for action in _actions(engine, customer_id) if action.code == code)
        assert best.saving_cny == ranking.loc[customer_id, "attainable_saving_cny"]
        assert point.values["saving"] == f"{best.saving_cny:,.0f}" == values["saving"]
        for language in ("en", "zh"):
            text = customer360.describe(point, language)
            assert f"¥{values['saving']}" in text and "{" not in text
        if best.option == "switch":
            tariff = tariffs.load_catalog()[best.figures["tariff_code"]]
            assert tariff.name_zh in customer360.describe(point, "zh")


def test_brief_is_a_one_page_pdf_in_chinese_and_falls_back_without_a_cjk_font(engine):
    customer_id = _first(engine, sa.select(schema.customers.c.customer_id).limit(1))[0]
    font = visit_brief.find_font()
    found = customer360.dossier(engine, access.SYSTEM, customer_id)
    chinese = visit_brief.render(found, access.SYSTEM, "zh", font)
    assert chinese.startswith(b"%PDF")
    assert b"/Count 1\n" in chinese
    if font.cjk:
        assert b"WenQuanYi" in chinese or b"CJK" in chinese or b"uming" in chinese.lower()
    latin = visit_brief.render(found, access.SYSTEM, "zh", visit_brief.BriefFont(None, False))
    assert b"/Count 1\n" in latin
    assert b"/BaseFont /Helvetica" in latin


def test_visit_briefs_command_writes_one_pdf_per_customer(featured_demo_url, tmp_path, monkeypatch):
    # The batch is under test here, not the font: the core PDF font keeps it quick.
    monkeypatch.setattr(visit_brief, "find_font", lambda: visit_brief.BriefFont(None, False))
    with store_engine.connect(featured_demo_url).connect() as conn:
        manager_id, count = conn.execute(
            sa.select(schema.customers.c.manager_id, sa.func.count())
            .group_by(schema.customers.c.manager_id)
            .order_by(sa.func.count(), schema.customers.c.manager_id)
            .limit(1)
        ).one()
    out = tmp_path / "briefs"
    code = cli.main(
        [
            "visit-briefs",
            "--manager",
            manager_id,
            "--out",
            str(out),
            "--database-url",
            featured_demo_url,
        ]
    )
    assert code == 0
    files = sorted(out.glob("*.pdf"))
    assert len(files) == count
    assert all(path.read_bytes().startswith(b"%PDF") for path in files)
    assert (
        cli.main(
            [
                "visit-briefs",
                "--manager",
                "NOBODY",
                "--out",
                str(out),
                "--database-url",
                featured_demo_url,
            ]
        )
        == 2
    )


def test_channel_activity_sums_events_by_month_on_every_backend(store):
    customer = {
        "customer_id": "4200000001",
        "name": "王伟",
        "customer_class": "residential",
        "region": "黄石港区",
        "tariff_code": "RES_TIERED",
    }
    events = [
        ("2025-03-04", "app", 2),
        ("2025-03-29", "app", 3),
        ("2025-03-30", "wechat", 4),
        ("2025-11-01", "app", 1),
    ]
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), [customer])
        conn.execute(
            schema.channel_activity.insert(),
            [
                {
                    "customer_id": "4200000001",
                    "date": dt.date.fromisoformat(day),
                    "channel": c,
                    "events": n,
                }
                for day, c, n in events
            ],
        )
    frame = customer360.channel_activity(store, access.SYSTEM, "4200000001")
    assert frame.to_dict("records") == [
        {"month": "2025-03", "channel": "app", "events": 5},
        {"month": "2025-03", "channel": "wechat", "events": 4},
        {"month": "2025-11", "channel": "app", "events": 1},
    ]
    outsider = access.Viewer(user_name="other", role="customer_manager", manager_id="CM999")
    assert customer360.channel_activity(store, outsider, "4200000001").empty


def test_peer_median_and_rank_agree_when_the_middle_values_are_far_apart():
    # The peers of customer 4210000041 of the default demo store: six, with a gap in the middle.
    values = [83_592.0, 128_702.0, 137_394.0, 598_804.0, 639_077.0, 748_483.0]
    peers = pd.DataFrame({name: values for name in customer360.COMPARED_FEATURES})
    customer = pd.Series({name: 199_366.0 for name in customer360.COMPARED_FEATURES})
    row = customer360.compare_with_peers(customer, peers).set_index("feature").loc["annual_kwh"]
    assert row["percentile"] == pytest.approx(0.5)
    # Higher than half of the peers, so not below their median.
    assert row["peer_median"] == 137_394.0
    assert row["customer"] >= row["peer_median"]


@pytest.mark.parametrize("count", [5, 6, 7, 8])
def test_above_the_median_is_higher_than_half_and_below_it_is_not(count):
    values = [10.0 * 2**index for index in range(count)]
    peers = pd.DataFrame({name: values for name in customer360.COMPARED_FEATURES})
    for probe in [1.0, *(value + 1 for value in values), *values]:
        customer = pd.Series({name: probe for name in customer360.COMPARED_FEATURES})
        row = customer360.compare_with_peers(customer, peers).iloc[0]
        if row["customer"] > row["peer_median"]:
            assert row["percentile"] >= 0.5
        if row["customer"] < row["peer_median"]:
            assert row["percentile"] < 0.5


BILL_AS_OF = dt.date(2026, 1, 1)


def _bill(period: str, due: str, paid: str | None, paid_cny: float | None, amount=100.0) -> dict:
    return {
        "customer_id": "B1",
        "period": period,
        "kwh_total": 100.0,
        "amount_cny": amount,
        "due_date": dt.date.fromisoformat(due),
        "paid_date": dt.date.fromisoformat(paid) if paid else None,
        "paid_cny": paid_cny,
    }


def test_one_late_payment_rule_for_the_bill_list_the_features_and_the_page_figures(store):
    """December's bill is not yet due; the late bill of a year before is outside the period."""
    customer = {
        "customer_id": "B1",
        "name": "账单测试",
        "customer_class": "commercial",
        "region": "R1",
        "tariff_code": "COM_TOU",
        "status": "active",
    }
    bills = [
        _bill("2025-12", "2026-01-20", None, None),
        _bill("2025-11", "2025-12-20", "2025-12-28", 100.0),
        _bill("2025-10", "2025-11-20", "2025-11-18", 60.0),
        _bill("2025-09", "2025-10-20", None, None),
        _bill("2025-08", "2025-09-20", "2025-09-01", 100.0),
        _bill("2024-10", "2024-11-20", "2024-11-28", 100.0),
    ]
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), [customer])
        conn.execute(schema.bills.insert(), bills)
    from core import features

    features.refresh(store, access.SYSTEM, period_end=BILL_AS_OF)
    listed = customer360.bills(store, access.SYSTEM, "B1").set_index("period")
    assert listed["status"].to_dict() == {
        "2025-12": "not_due",
        "2025-11": "paid_late",
        "2025-10": "partly_paid",
        "2025-09": "unpaid",
        "2025-08": "paid",
        "2024-10": "paid_late",
    }
    assert listed.loc["2025-10", "outstanding_cny"] == pytest.approx(40.0)
    assert listed.loc["2025-12", "outstanding_cny"] == pytest.approx(100.0)
    row = features.for_customer(store, access.SYSTEM, "B1")
    assert row["late_payments"] == 3
    assert row["payment_punctuality"] == pytest.approx(1 / 4)
    assert row["arrears_cny"] == pytest.approx(140.0)
    found = customer360.dossier(store, access.SYSTEM, "B1")
    assert found.standing == customer360.BillStanding(140.0, 3)
