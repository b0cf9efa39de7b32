"""Customer 360 core: search, scope, load views against direct sums, peers, actions, briefs."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, cli, customer360, savings, tariffs, visit_brief
from core.store import engine as store_engine
from core.store import schema


@pytest.fixture(scope="module")
def engine(featured_demo_url):
    engine = store_engine.connect(featured_demo_url)
    yield engine
    engine.dispose()


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
    assert customer360.recommendations(engine, elsewhere, customer_id) == []
    with pytest.raises(ValueError, match="outside your scope"):
        visit_brief.render(engine, elsewhere, customer_id)


def test_peers_share_the_class_and_percentiles_are_fractions(engine):
    customer_id = _first(engine, sa.select(schema.customers.c.customer_id).limit(1))[0]
    peers = customer360.similar_customers(engine, access.SYSTEM, customer_id)
    assert peers["peers"] >= customer360.MIN_PEERS
    comparison = peers["comparison"].set_index("feature")
    assert list(comparison.index) == list(customer360.COMPARED_FEATURES)
    assert comparison["percentile"].dropna().between(0, 1).all()


def test_late_payers_get_the_arrears_or_autopay_action(engine):
    late = pd.read_sql(
        sa.select(schema.demo_truth_customers.c.customer_id).where(
            schema.demo_truth_customers.c.late_payer
        ),
        engine,
    )["customer_id"]
    codes = [
        {action.code for action in customer360.recommendations(engine, access.SYSTEM, cid)}
        for cid in late
    ]
    with_payment_action = [bool(found & {"offer_autopay", "collect_arrears"}) for found in codes]
    assert sum(with_payment_action) >= 0.6 * len(codes)
    action = next(
        action
        for cid in late
        for action in customer360.recommendations(engine, access.SYSTEM, cid)
        if action.code == "offer_autopay"
    )
    assert "late payments in 12 months" in customer360.describe(action, "en")


def test_bill_standing_counts_only_what_is_owed_past_due():
    bill_frame = pd.DataFrame(
        {
            "status": ["paid", "paid_late", "unpaid", "partly_paid", "not_due"],
            "outstanding_cny": [0.0, 0.0, 120.5, 30.25, 99.0],
        }
    )
    standing = customer360.bill_standing(bill_frame)
    assert standing.arrears_cny == 150.75
    assert standing.late_bills == 3
    assert customer360.bill_standing(bill_frame.iloc[:0]) == customer360.BillStanding(0.0, 0)


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
        point = next(
            action
            for action in customer360.recommendations(engine, access.SYSTEM, customer_id)
            if action.code == code
        )
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
    chinese = visit_brief.render(engine, access.SYSTEM, customer_id, "zh", font)
    assert chinese.startswith(b"%PDF")
    assert b"/Count 1\n" in chinese
    if font.cjk:
        assert b"WenQuanYi" in chinese or b"CJK" in chinese or b"uming" in chinese.lower()
    latin = visit_brief.render(
        engine, access.SYSTEM, customer_id, "zh", visit_brief.BriefFont(None, False)
    )
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
