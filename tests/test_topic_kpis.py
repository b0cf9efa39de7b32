"""The topic windows' figures: each against the tables read directly, on every backend.

The expected figures are worked out in pandas from the raw rows, as a reviewer would check them by
hand; the hand-made rows test the edges of the ageing buckets and of the time limits.
"""

import datetime as dt
import os
import uuid

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, features, kpis
from core.kpis import business, collection, drill, freshness, service
from core.kpis import limits as time_limits
from core.store import engine as store_engine
from core.store import schema
from tests.conftest import DEFAULT_POSTGRES_URL

PERIOD = "2025-12"
AS_OF = dt.date(2025, 11, 30)
COPIED = (
    schema.customers,
    schema.bills,
    schema.work_orders,
    schema.outages,
    schema.applications,
)
DISTRICT = "大冶市"


def _frame(conn: sa.Connection, table: sa.Table) -> pd.DataFrame:
    frame = pd.DataFrame(conn.execute(sa.select(table)).mappings().all())
    for column in table.columns:
        if column.name not in frame.columns:
            continue
        if isinstance(column.type, sa.Numeric | sa.Float):
            frame[column.name] = frame[column.name].astype(float)
        elif isinstance(column.type, sa.Date | sa.DateTime):
            frame[column.name] = pd.to_datetime(frame[column.name])
    return frame


@pytest.fixture(scope="module")
def raw(demo_url) -> dict[str, pd.DataFrame]:
    """The demo store's tables as they are stored."""
    engine = store_engine.connect(demo_url)
    with engine.connect() as conn:
        tables = {table.name: _frame(conn, table) for table in (*COPIED, schema.readings)}
    engine.dispose()
    return tables


def _copy(engine: sa.Engine, raw: dict[str, pd.DataFrame]) -> None:
    store_engine.migrate(engine)
    readings = raw["readings"]
    # The newest readings are what the windows' freshness reads; the rest is not needed.
    latest = readings[readings["ts"] >= readings["ts"].max() - pd.Timedelta(days=1)]
    with engine.begin() as conn:
        for table in COPIED:
            store_engine.bulk_insert(conn, table, raw[table.name])
        store_engine.bulk_insert(conn, schema.readings, latest)


@pytest.fixture(scope="module", params=["duckdb", "sqlite", "postgresql"])
def demo_everywhere(request, raw, demo_url, tmp_path_factory):
    """The demo store's figures' tables on each backend (readings cut to the last day)."""
    if request.param == "duckdb":
        engine = store_engine.connect(demo_url)
        yield engine
        engine.dispose()
        return
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("topic") / "demo.sqlite"
        engine = store_engine.connect(f"sqlite:///{path}")
        _copy(engine, raw)
        yield engine
        engine.dispose()
        return
    admin_url = os.environ.get("WORKBENCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    try:
        admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as error:  # noqa: BLE001 - any failure to connect means "not reachable"
        if os.environ.get("WORKBENCH_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL not reachable: {error}")
        pytest.skip(f"PostgreSQL not reachable: {error}")
    name = f"workbench_topic_{uuid.uuid4().hex[:12]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    engine = store_engine.connect(url)
    try:
        _copy(engine, raw)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _scoped(raw: dict[str, pd.DataFrame], regions: tuple[str, ...]) -> dict[str, pd.DataFrame]:
    if not regions:
        return raw
    customers = raw["customers"][raw["customers"]["region"].isin(regions)]
    ids = set(customers["customer_id"])
    scoped = {name: frame[frame["customer_id"].isin(ids)] for name, frame in raw.items()}
    scoped["customers"] = customers
    applications = raw["applications"]
    scoped["applications"] = applications[
        applications["customer_id"].isin(ids)
        | (applications["customer_id"].isna() & applications["region"].isin(regions))
    ]
    return scoped


VIEWERS = {
    "everyone": (access.SYSTEM, ()),
    "district": (access.Viewer("district", "manager", regions=(DISTRICT,)), (DISTRICT,)),
}


@pytest.fixture(params=list(VIEWERS))
def viewer_and_tables(request, raw):
    viewer, regions = VIEWERS[request.param]
    return viewer, _scoped(raw, regions)


# --- business ------------------------------------------------------------------------------


def test_sales_by_month_class_and_district_against_last_year(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    with demo_everywhere.connect() as conn:
        shown = business.sales(conn, viewer, PERIOD, 12)
    bills = tables["bills"].merge(
        tables["customers"][["customer_id", "customer_class", "region"]], on="customer_id"
    )
    grouped = bills.groupby(["period", "customer_class", "region"])[["kwh_total", "amount_cny"]]
    expected = grouped.sum().reset_index()
    assert shown["period"].nunique() == 12 and shown["period"].max() == PERIOD
    for row in shown.itertuples(index=False):
        match = expected[
            (expected["period"] == row.period)
            & (expected["customer_class"] == row.customer_class)
            & (expected["region"] == row.region)
        ]
        assert row.energy_kwh == pytest.approx(match["kwh_total"].iloc[0])
        assert row.revenue_cny == pytest.approx(match["amount_cny"].iloc[0], abs=0.01)
        year_before = kpis.shift_period(row.period, -12)
        before = expected[
            (expected["period"] == year_before)
            & (expected["customer_class"] == row.customer_class)
            & (expected["region"] == row.region)
        ]
        assert row.energy_kwh_last_year == pytest.approx(before["kwh_total"].iloc[0])
    current = expected[expected["period"] > kpis.shift_period(PERIOD, -12)]
    assert len(shown) == len(current)


def test_sales_drill_down_totals_equal_the_bar(demo_everywhere):
    with demo_everywhere.connect() as conn:
        bars = business.sales(conn, access.SYSTEM, PERIOD, 12, by=("period", "region"))
        bar = bars[(bars["period"] == "2025-07") & (bars["region"] == DISTRICT)].iloc[0]
        behind = business.sales_customers(conn, access.SYSTEM, "2025-07", {"region": DISTRICT})
    assert behind.totals["energy_kwh"] == pytest.approx(bar["energy_kwh"])
    assert behind.totals["revenue_cny"] == pytest.approx(bar["revenue_cny"], abs=0.01)
    assert behind.rows["energy_kwh"].sum() == pytest.approx(bar["energy_kwh"])
    assert set(behind.rows["region"]) == {DISTRICT}
    assert behind.rows["energy_kwh"].is_monotonic_decreasing


def _window(applications: pd.DataFrame, months: int) -> pd.DataFrame:
    first = pd.Timestamp(f"{kpis.shift_period(PERIOD, -(months - 1))}-01")
    last = pd.Timestamp(f"{PERIOD}-01") + pd.offsets.MonthEnd(0)
    accepted = applications["accepted_date"]
    return applications[(accepted >= first) & (accepted <= last)]


def test_applications_and_added_capacity_by_district_and_industry(
    demo_everywhere, viewer_and_tables
):
    viewer, tables = viewer_and_tables
    with demo_everywhere.connect() as conn:
        shown = business.application_volume(conn, viewer, PERIOD, 24)
    rows = _window(tables["applications"], 24).copy()
    rows["added"] = np.where(
        rows["type"].isin(["new_connection", "capacity_increase"]), rows["requested_kva"], 0.0
    )
    expected = (
        rows.assign(industry=rows["industry"].fillna(drill.NONE_VALUE))
        .groupby(["region", "industry"])
        .agg(applications=("application_id", "size"), added_kva=("added", "sum"))
    )
    assert len(shown) == len(expected) > 0
    for row in shown.itertuples(index=False):
        key = (row.region, drill.NONE_VALUE if pd.isna(row.industry) else row.industry)
        assert row.applications == expected.loc[key, "applications"]
        assert row.added_kva == pytest.approx(expected.loc[key, "added_kva"])
    assert shown["applications"].sum() == len(rows)


def test_application_drill_down_totals_equal_the_figure(demo_everywhere):
    with demo_everywhere.connect() as conn:
        figures = business.application_volume(conn, access.SYSTEM, PERIOD, 24, by=("region",))
        figure = figures.sort_values("applications").iloc[-1]
        behind = business.application_list(
            conn, access.SYSTEM, PERIOD, 24, {"region": figure["region"]}
        )
        unknown_industry = business.application_list(
            conn, access.SYSTEM, PERIOD, 24, {"industry": drill.NONE_VALUE}
        )
    assert behind.total_rows == figure["applications"] == len(behind.rows)
    assert behind.totals["added_kva"] == pytest.approx(figure["added_kva"])
    assert unknown_industry.total_rows > 0 and unknown_industry.rows["industry"].isna().all()


def _expected_stages(applications: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Every stage started by ``as_of`` worked out row by row from the limits file."""
    limits = time_limits.load()
    rows = []
    for row in applications.itertuples(index=False):
        passed = limits.stages[row.type]
        if row.customer_class == "residential":
            group = "residential"
        elif row.requested_kva >= limits.high_voltage_from_kva:
            group = "high_voltage"
        else:
            group = "low_voltage"
        previous = "accepted"
        for stage in passed:
            started = getattr(row, f"{previous}_date")
            previous = stage
            if pd.isna(started) or started > as_of:
                break
            reached = getattr(row, f"{stage}_date")
            done = not pd.isna(reached) and reached <= as_of
            days = ((reached if done else as_of) - started).days
            limit = limits.stage_days[group][stage]
            rows.append(
                {
                    "application_id": row.application_id,
                    "stage": stage,
                    "finished": reached if done else pd.NaT,
                    "done": done,
                    "days": days,
                    "late": days > limit,
                }
            )
            if not done:
                break
    return pd.DataFrame(rows)


def test_stage_durations_and_time_limit_compliance(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    months = 12
    with demo_everywhere.connect() as conn:
        shown = business.stage_compliance(conn, viewer, PERIOD, months).set_index("stage")
        overdue = business.overdue_applications(conn, viewer, PERIOD, months)
    as_of = pd.Timestamp(f"{PERIOD}-01") + pd.offsets.MonthEnd(0)
    first = pd.Timestamp(f"{kpis.shift_period(PERIOD, -(months - 1))}-01")
    stages = _expected_stages(tables["applications"], as_of)
    done = stages[stages["done"] & (stages["finished"] >= first)]
    pending = stages[~stages["done"]]
    assert len(done) > 0
    for stage, group in done.groupby("stage"):
        row = shown.loc[stage]
        assert row["completed"] == len(group)
        assert row["on_time"] == (~group["late"]).sum()
        assert row["compliance"] == pytest.approx((~group["late"]).mean())
        assert row["mean_days"] == pytest.approx(group["days"].mean())
    assert shown["pending"].sum() == len(pending)
    assert shown["overdue"].sum() == pending["late"].sum()
    late = pd.concat([done[done["late"]], pending[pending["late"]]])
    assert overdue.total_rows == len(late) > 0
    assert set(zip(overdue.rows["application_id"], overdue.rows["stage"], strict=True)) == set(
        zip(late["application_id"], late["stage"], strict=True)
    )
    assert (overdue.rows["days"] > overdue.rows["limit_days"]).all()


def test_stage_drill_down_totals_equal_the_figure(demo_everywhere):
    with demo_everywhere.connect() as conn:
        figures = business.stage_compliance(conn, access.SYSTEM, PERIOD, 12).set_index("stage")
        behind = business.stage_list(
            conn, access.SYSTEM, PERIOD, 12, {"stage": "surveyed", "status": "done"}
        )
    assert behind.total_rows == figures.loc["surveyed", "completed"]
    late = figures.loc["surveyed", "completed"] - figures.loc["surveyed", "on_time"]
    assert behind.totals["late"] == late


# --- collection -----------------------------------------------------------------------------


def _expected_overdue(tables: dict[str, pd.DataFrame], as_of: dt.date) -> pd.DataFrame:
    bills = tables["bills"].merge(
        tables["customers"][["customer_id", "customer_class", "region"]], on="customer_id"
    )
    day = pd.Timestamp(as_of)
    bills = bills[bills["due_date"] <= day].copy()
    unpaid_then = bills["paid_date"].isna() | (bills["paid_date"] > day)
    bills["owed"] = np.where(
        unpaid_then, bills["amount_cny"], bills["amount_cny"] - bills["paid_cny"].fillna(0)
    )
    bills = bills[bills["owed"] > features.ARREARS_TOLERANCE_CNY]
    days = (day - bills["due_date"]).dt.days
    bills["bucket"] = pd.cut(
        days, [-1, 30, 90, 180, np.inf], labels=list(collection.BUCKETS)
    ).astype(str)
    return bills


def test_outstanding_by_ageing_bucket_district_and_class(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    with demo_everywhere.connect() as conn:
        shown = collection.outstanding_by_age(conn, viewer, AS_OF)
        headline = {kpi.name: kpi.value for kpi in kpis.headline(conn, viewer, "2025-11")}
    overdue = _expected_overdue(tables, AS_OF)
    expected = overdue.groupby(["region", "customer_class", "bucket"])["owed"].agg(["sum", "size"])
    assert len(shown) == len(expected) > 0
    for row in shown.itertuples(index=False):
        key = (row.region, row.customer_class, str(row.bucket))
        assert row.outstanding_cny == pytest.approx(expected.loc[key, "sum"], abs=0.01)
        assert row.bills == expected.loc[key, "size"]
    # The buckets add up to the Overview's arrears of the month.
    assert shown["outstanding_cny"].sum() == pytest.approx(headline["arrears_cny"], abs=0.01)


def test_debtors_behind_a_bucket_total_the_bucket(demo_everywhere):
    with demo_everywhere.connect() as conn:
        buckets = collection.outstanding_by_age(conn, access.SYSTEM, AS_OF, by=("bucket",))
        biggest = buckets.sort_values("outstanding_cny").iloc[-1]
        behind = collection.debtors(conn, access.SYSTEM, AS_OF, {"bucket": str(biggest["bucket"])})
        top = collection.debtors(conn, access.SYSTEM, AS_OF, limit=collection.TOP_DEBTORS)
    assert behind.totals["outstanding_cny"] == pytest.approx(biggest["outstanding_cny"], abs=0.01)
    assert behind.rows["outstanding_cny"].sum() == pytest.approx(
        biggest["outstanding_cny"], abs=0.01
    )
    assert behind.totals["bills"] == biggest["bills"]
    assert top.rows["outstanding_cny"].is_monotonic_decreasing
    assert len(top.rows) <= collection.TOP_DEBTORS


def test_recovery_rate_by_month(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    as_of = dt.date(2025, 12, 31)
    with demo_everywhere.connect() as conn:
        shown = collection.recovery_by_month(conn, viewer, "2025-01", PERIOD, as_of)
        behind = collection.period_bills(conn, viewer, "2025-10", as_of)
    bills = tables["bills"]
    day = pd.Timestamp(as_of)
    for row in shown.itertuples(index=False):
        month = bills[bills["period"] == row.period]
        paid = month["paid_date"].notna() & (month["paid_date"] <= day)
        in_due_month = month["paid_date"].dt.to_period("M") <= month["due_date"].dt.to_period("M")
        recovered = month.loc[paid & in_due_month, "paid_cny"].sum()
        assert row.billed_cny == pytest.approx(month["amount_cny"].sum(), abs=0.01)
        assert row.recovered_cny == pytest.approx(recovered, abs=0.01)
        assert row.recovery_rate == pytest.approx(recovered / month["amount_cny"].sum())
        assert row.measured == (month["due_date"].max() + pd.offsets.MonthEnd(0) <= day)
    october = shown.set_index("period").loc["2025-10"]
    assert behind.totals["amount_cny"] == pytest.approx(october["billed_cny"], abs=0.01)
    assert behind.totals["recovered_cny"] == pytest.approx(october["recovered_cny"], abs=0.01)
    assert not shown.set_index("period").loc[PERIOD, "measured"]


# --- service --------------------------------------------------------------------------------


def _expected_orders(tables: dict[str, pd.DataFrame], months: int) -> pd.DataFrame:
    limits = time_limits.load()
    orders = tables["work_orders"].merge(
        tables["customers"][["customer_id", "region"]], on="customer_id"
    )
    first = pd.Timestamp(f"{kpis.shift_period(PERIOD, -(months - 1))}-01")
    following = pd.Timestamp(f"{PERIOD}-01") + pd.offsets.MonthBegin(1)
    orders = orders[(orders["created_at"] >= first) & (orders["created_at"] < following)].copy()
    hours = (orders["closed_at"] - orders["created_at"]).dt.total_seconds() / 3600
    limit = orders["type"].map(limits.order_hours).fillna(limits.default_order_hours)
    orders["on_time"] = orders["closed_at"].notna() & (hours <= limit)
    outages = tables["outages"]
    window = pd.Timedelta(hours=features.OUTAGE_COMPLAINT_WINDOW_HOURS)
    after = []
    for order in orders.itertuples(index=False):
        theirs = outages[outages["customer_id"] == order.customer_id]
        started = theirs["start"]
        hit = ((started <= order.created_at) & (order.created_at - started < window)).any()
        after.append(bool(order.type == "complaint" and hit))
    orders["after_outage"] = after
    return orders


def test_work_orders_by_type_with_closing_times_satisfaction_and_outages(
    demo_everywhere, viewer_and_tables
):
    viewer, tables = viewer_and_tables
    months = 12
    with demo_everywhere.connect() as conn:
        shown = service.work_orders(conn, viewer, PERIOD, months).set_index("type")
        by_channel = service.work_orders(conn, viewer, PERIOD, months, by=("channel", "region"))
    orders = _expected_orders(tables, months)
    assert shown["orders"].sum() == len(orders) > 0
    for kind, group in orders.groupby("type"):
        row = shown.loc[kind]
        assert row["orders"] == len(group)
        assert row["on_time"] == group["on_time"].sum()
        assert row["after_outage"] == group["after_outage"].sum()
        assert row["satisfaction"] == pytest.approx(group["satisfaction"].mean())
        assert row["satisfied_rate"] == pytest.approx((group["satisfaction"] >= 4).mean())
    if not viewer.regions:
        assert shown.loc["complaint", "after_outage"] > 0
    expected = orders.groupby(["channel", "region"]).size()
    for row in by_channel.itertuples(index=False):
        assert row.orders == expected.loc[(row.channel, row.region)]


def test_order_drill_down_totals_equal_the_figure(demo_everywhere):
    with demo_everywhere.connect() as conn:
        figures = service.work_orders(conn, access.SYSTEM, PERIOD, 12).set_index("type")
        behind = service.order_list(conn, access.SYSTEM, PERIOD, 12, {"type": "complaint"})
        late = service.order_list(
            conn, access.SYSTEM, PERIOD, 12, {"type": "repair", "on_time": "0"}
        )
    assert behind.total_rows == figures.loc["complaint", "orders"]
    assert behind.totals["after_outage"] == figures.loc["complaint", "after_outage"]
    repairs = figures.loc["repair"]
    assert late.total_rows == repairs["orders"] - repairs["on_time"]


def test_complaints_per_ten_thousand_customers(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    with demo_everywhere.connect() as conn:
        shown = service.complaint_rate(conn, viewer, PERIOD, 12).set_index("region")
    orders = _expected_orders(tables, 12)
    complaints = orders[orders["type"] == "complaint"].groupby("region").size()
    following = pd.Timestamp("2026-01-01")
    customers = tables["customers"]
    connected = customers[customers["open_date"].isna() | (customers["open_date"] < following)]
    counts = connected.groupby("region").size()
    assert set(shown.index) == set(counts.index)
    for region, row in shown.iterrows():
        assert row["customers"] == counts.loc[region]
        assert row["complaints"] == complaints.get(region, 0)
        assert row["per_10k"] == pytest.approx(10_000 * complaints.get(region, 0) / counts[region])


def test_repeat_complainants(demo_everywhere, viewer_and_tables):
    viewer, tables = viewer_and_tables
    with demo_everywhere.connect() as conn:
        shown = {
            period: service.repeat_complainants(conn, viewer, period)
            for period in ("2025-03", "2025-06", "2025-09", PERIOD)
        }
    orders = tables["work_orders"]
    complaints = orders[orders["type"] == "complaint"]
    for period, found in shown.items():
        following = pd.Timestamp(f"{period}-01") + pd.offsets.MonthBegin(1)
        recent = complaints[
            (complaints["created_at"] >= following - pd.Timedelta(days=90))
            & (complaints["created_at"] < following)
        ]
        counts = recent.groupby("customer_id").size()
        repeat = counts[counts >= service.REPEAT_COMPLAINTS]
        assert dict(zip(found.rows["customer_id"], found.rows["complaints"], strict=True)) == (
            repeat.to_dict()
        )
    if not viewer.regions:
        assert any(found.total_rows for found in shown.values())


def test_freshness_of_every_source(demo_everywhere, raw):
    now = dt.datetime(2026, 1, 2, 12, 0)
    with demo_everywhere.connect() as conn:
        found = {
            item.source: item
            for item in freshness.freshness(conn, access.SYSTEM, time_limits.FRESHNESS_SOURCES, now)
        }
    assert found["readings"].latest == raw["readings"]["ts"].max().to_pydatetime()
    assert found["work_orders"].latest == raw["work_orders"]["created_at"].max().to_pydatetime()
    assert found["bills"].latest == dt.datetime(2025, 12, 31, 23, 59, 59)
    stages = raw["applications"][[f"{s}_date" for s in schema.APPLICATION_STAGES]]
    assert found["applications"].latest == stages.max().max().to_pydatetime()
    assert found["readings"].age_days == pytest.approx(
        (now - found["readings"].latest).total_seconds() / 86400
    )
    # Readings two days behind are fresh; work orders four and a half days behind are stale.
    assert not found["readings"].stale and not found["bills"].stale
    assert found["work_orders"].stale
    with demo_everywhere.connect() as conn:
        later = freshness.freshness(conn, access.SYSTEM, ("bills",), dt.datetime(2026, 3, 1))
    assert later[0].stale


# --- hand-made rows -------------------------------------------------------------------------


def _insert(conn: sa.Connection, table: sa.Table, rows: list[dict]) -> None:
    # One statement for rows of different fields: each gets every field, empty where it has none.
    names = {name for row in rows for name in row}
    conn.execute(table.insert(), [{name: row.get(name) for name in names} for row in rows])


def _customer(customer_id: str, region: str = "North", **fields) -> dict:
    return {
        "customer_id": customer_id,
        "name": f"Customer {customer_id}",
        "customer_class": "commercial",
        "region": region,
        "tariff_code": "COM_TOU",
        "transformer_area": f"{region}-1",
        **fields,
    }


def test_ageing_buckets_at_their_edges_on_every_backend(store):
    as_of = dt.date(2025, 6, 30)
    # Days past due at the end of as_of: 0, 30, 31, 90, 91, 180, 181, and one not yet due.
    ages = {"B0": 0, "B30": 30, "B31": 31, "B90": 90, "B91": 91, "B180": 180, "B181": 181, "F": -1}
    bills = [
        {
            "customer_id": "C1",
            "period": f"2020-{index + 1:02d}",
            "kwh_total": 1.0,
            "amount_cny": 100.0 + index,
            "due_date": as_of - dt.timedelta(days=days),
        }
        for index, days in enumerate(ages.values())
    ]
    # Paid in part by then: owes 40 of its 100; paid in full after as_of: owes all of it then.
    partly = {"customer_id": "C2", "period": "2020-01", "kwh_total": 1.0, "amount_cny": 100.0}
    partly.update(due_date=as_of - dt.timedelta(days=10), paid_date=as_of, paid_cny=60.0)
    later = {"customer_id": "C2", "period": "2020-02", "kwh_total": 1.0, "amount_cny": 70.0}
    later.update(due_date=as_of - dt.timedelta(days=40), paid_date=as_of + dt.timedelta(days=1))
    later["paid_cny"] = 70.0
    settled = {"customer_id": "C2", "period": "2020-03", "kwh_total": 1.0, "amount_cny": 50.0}
    settled.update(due_date=as_of - dt.timedelta(days=200), paid_date=as_of, paid_cny=50.0)
    with store.begin() as conn:
        _insert(conn, schema.customers, [_customer("C1"), _customer("C2", "South")])
        _insert(conn, schema.bills, [*bills, partly, later, settled])
    with store.connect() as conn:
        shown = collection.outstanding_by_age(conn, access.SYSTEM, as_of, by=("bucket",))
        behind = collection.debtors(conn, access.SYSTEM, as_of, {"bucket": "31_90"})
        south = collection.outstanding_by_age(conn, access.SYSTEM, as_of, by=("region", "bucket"))
    totals = dict(zip(shown["bucket"].astype(str), shown["outstanding_cny"], strict=True))
    # B0 (100) + B30 (101) + the part unpaid (40); B31 (102) + B90 (103) + the bill paid later (70).
    assert totals == pytest.approx(
        {"0_30": 241.0, "31_90": 275.0, "91_180": 104.0 + 105.0, "over_180": 106.0}
    )
    assert list(shown["bucket"].astype(str)) == list(collection.BUCKETS)
    assert behind.totals["outstanding_cny"] == pytest.approx(275.0)
    assert dict(zip(behind.rows["customer_id"], behind.rows["outstanding_cny"], strict=True)) == (
        pytest.approx({"C1": 205.0, "C2": 70.0})
    )
    assert set(south[south["region"] == "South"]["bucket"].astype(str)) == {"0_30", "31_90"}


def _application(application_id: str, kind: str, **dates) -> dict:
    return {
        "application_id": application_id,
        "type": kind,
        "region": "North",
        "customer_class": "commercial",
        "requested_kva": 50.0,
        **{name: dt.date.fromisoformat(value) for name, value in dates.items()},
    }


def test_time_limit_compliance_at_the_limit_on_every_backend(store):
    limits = time_limits.load()
    survey = limits.stage_days["low_voltage"]["surveyed"]
    connect = limits.stage_days["low_voltage"]["connected"]
    start = dt.date(2025, 6, 2)

    def day(offset: int) -> str:
        return (start + dt.timedelta(days=offset)).isoformat()

    rows = [
        # Surveyed exactly at the limit: on time; connected a day past it: late.
        _application(
            "A1",
            "capacity_decrease",
            accepted_date=day(0),
            surveyed_date=day(survey),
            connected_date=day(survey + connect + 1),
        ),
        # Surveyed a day past the limit; the connection still to come, waiting within its limit.
        _application(
            "A2", "capacity_decrease", accepted_date=day(0), surveyed_date=day(survey + 1)
        ),
        # Never surveyed: pending since it was accepted, long past the limit.
        _application("A3", "capacity_decrease", accepted_date="2025-05-01"),
        # Accepted after the month ends: not yet anything.
        _application("A4", "capacity_decrease", accepted_date="2025-07-03"),
    ]
    with store.begin() as conn:
        _insert(conn, schema.applications, rows)
    with store.connect() as conn:
        shown = business.stage_compliance(conn, access.SYSTEM, "2025-06").set_index("stage")
        overdue = business.overdue_applications(conn, access.SYSTEM, "2025-06")
    surveyed, connected = shown.loc["surveyed"], shown.loc["connected"]
    assert (surveyed["completed"], surveyed["on_time"], surveyed["pending"]) == (2, 1, 1)
    assert surveyed["overdue"] == 1 and surveyed["compliance"] == pytest.approx(0.5)
    assert surveyed["mean_days"] == pytest.approx(survey + 0.5)
    assert (connected["completed"], connected["on_time"], connected["pending"]) == (1, 0, 1)
    assert connected["overdue"] == (30 - (survey + 1) > connect)
    late = overdue.rows.set_index(["application_id", "stage"])["days_over"].to_dict()
    assert late[("A1", "connected")] == 1
    assert late[("A2", "surveyed")] == 1
    assert late[("A3", "surveyed")] == (dt.date(2025, 6, 30) - dt.date(2025, 5, 1)).days - survey
    assert "A4" not in set(overdue.rows["application_id"])


def test_applicants_follow_their_district_and_customers_their_scope(store):
    with store.begin() as conn:
        _insert(
            conn,
            schema.customers,
            [_customer("C1", manager_id="M1"), _customer("C2", "South", manager_id="M2")],
        )
        rows = [
            {
                **_application("A1", "capacity_increase", accepted_date="2025-06-01"),
                "customer_id": "C1",
            },
            {
                **_application("A2", "capacity_increase", accepted_date="2025-06-01"),
                "customer_id": "C2",
                "region": "South",
            },
            _application("A3", "new_connection", accepted_date="2025-06-01"),
        ]
        _insert(conn, schema.applications, rows)
    viewers = {
        "whole area": (access.SYSTEM, {"A1", "A2", "A3"}),
        "north": (access.Viewer("n", "manager", regions=("North",)), {"A1", "A3"}),
        "manager": (access.Viewer("m", "customer_manager", manager_id="M1"), {"A1"}),
        "area": (
            access.Viewer("a", "manager", regions=("South",), transformer_areas=("South-1",)),
            {"A2"},
        ),
    }
    with store.connect() as conn:
        for name, (viewer, expected) in viewers.items():
            found = business.application_list(conn, viewer, "2025-06", 1)
            assert set(found.rows["application_id"]) == expected, name


def test_public_screens_drop_personal_fields():
    frame = pd.DataFrame(
        {"customer_id": ["1"], "name": ["王伟"], "phone": ["13800000000"], "region": ["北"]}
    )
    assert list(drill.without_personal_fields(frame).columns) == ["customer_id", "region"]


def test_a_limits_file_missing_an_entry_is_refused_with_its_name(tmp_path):
    from core import errors

    broken = tmp_path / "limits.toml"
    text = time_limits.DEFAULT_LIMITS.read_text(encoding="utf-8")
    broken.write_text(text.replace("inspected = 45\n", ""), encoding="utf-8")
    with pytest.raises(errors.UserError) as refused:
        time_limits.load(broken)
    assert refused.value.key == "kpis.error.limits_missing"
    assert "applications.days.high_voltage.inspected" in refused.value.text("zh")
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace("closure = [", "demolition = ["), encoding="utf-8")
    with pytest.raises(errors.UserError) as refused:
        time_limits.load(unknown)
    assert refused.value.key == "kpis.error.limits_unknown"


def test_campaign_returns_are_the_campaign_evaluation_on_every_backend(store):
    from core import campaigns

    customers = [
        _customer(f"C{index:03d}", "North" if index % 2 else "South") for index in range(160)
    ]
    start = dt.datetime(2025, 3, 1, 9)
    members = []
    for index, customer in enumerate(customers):
        treated = index < 120
        # 30 of 120 contacted customers convert, 4 of 40 in control: 21 incremental conversions.
        converted = (index < 30) if treated else (index < 124)
        members.append(
            {
                "campaign_id": "CMP1",
                "customer_id": customer["customer_id"],
                "arm": "treatment" if treated else "control",
                "contacted_at": start if treated else None,
                "responded_at": start + dt.timedelta(days=1) if treated and converted else None,
                "converted_at": start + dt.timedelta(days=3) if converted else None,
                "value_cny": 50.0 if converted else None,
            }
        )
    campaign = {
        "campaign_id": "CMP1",
        "name": "代扣签约",
        "goal": "retain",
        "start_date": dt.date(2025, 3, 1),
        "end_date": dt.date(2025, 4, 30),
        "cost_per_contact_cny": 2.0,
    }
    with store.begin() as conn:
        _insert(conn, schema.customers, customers)
        _insert(conn, schema.campaigns, [campaign])
        _insert(conn, schema.campaign_members, members)
    with store.connect() as conn:
        returns = kpis.campaign_returns.campaign_returns(conn, access.SYSTEM)
        behind = kpis.campaign_returns.campaign_customers(
            conn, access.SYSTEM, "CMP1", {"arm": "treatment", "converted": "1"}
        )
        north = kpis.campaign_returns.campaign_returns(
            conn, access.Viewer("n", "manager", regions=("North",))
        )
        stored = campaigns.members.stored_members(conn, access.SYSTEM)
        designs = campaigns.members.designs(conn)
    (evaluation,) = campaigns.evaluate(stored, designs)
    headline = evaluation.headline
    row = returns.iloc[0]
    assert row["incremental_conversions"] == pytest.approx(headline.conversion.incremental)
    assert row["incremental_conversions"] == pytest.approx(30 - 120 * 4 / 40)
    assert row["cost_cny"] == pytest.approx(240.0)
    assert row["cost_per_incremental_conversion"] == pytest.approx(240.0 / 18)
    assert row["roi"] == pytest.approx(headline.roi)
    assert row["treatment_rate"] == pytest.approx(0.25) and row["control_rate"] == pytest.approx(
        0.1
    )
    assert behind.total_rows == 30 and behind.totals["value_cny"] == pytest.approx(1500.0)
    assert north.iloc[0]["members"] == 80


def _order(customer_id: str, state: str, **fields) -> dict:
    created = dt.datetime(2025, 5, 2, 9)
    return {
        "customer_id": customer_id,
        "state": state,
        "assignee": "inspector",
        "due_date": dt.date(2025, 5, 20),
        "created_at": created,
        "created_by": "manager",
        "updated_at": created,
        **fields,
    }


def test_inspection_outcomes_open_orders_and_recovery_on_every_backend(store):
    resolved = dt.datetime(2025, 5, 15, 16)
    orders = [
        _order(
            "C1", "resolved", outcome="confirmed_theft", recovered_cny=1200.0, resolved_at=resolved
        ),
        _order("C2", "resolved", outcome="meter_fault", recovered_cny=300.5, resolved_at=resolved),
        _order("C3", "resolved", outcome="no_issue", resolved_at=resolved),
        _order("C4", "resolved", outcome="vacancy", resolved_at=dt.datetime(2025, 6, 3)),
        _order("C1", "dispatched"),
        _order("C2", "on_site", due_date=dt.date(2025, 7, 1)),
        # Another district's order, and one resolved before the months asked for.
        _order("C9", "created"),
        _order(
            "C3",
            "resolved",
            outcome="confirmed_theft",
            recovered_cny=99.0,
            resolved_at=dt.datetime(2024, 1, 5),
        ),
    ]
    customers = [_customer(f"C{index}") for index in (1, 2, 3, 4)] + [_customer("C9", "South")]
    north = access.Viewer("n", "manager", regions=("North",))
    with store.begin() as conn:
        _insert(conn, schema.customers, customers)
        _insert(conn, schema.inspection_orders, orders)
    today = dt.date(2025, 6, 10)
    with store.connect() as conn:
        monthly = kpis.abnormal_use.inspection_figures(conn, north, "2025-06", 12)
        by_outcome = kpis.abnormal_use.inspection_figures(
            conn, north, "2025-06", 12, by=("outcome",)
        ).set_index("outcome")
        opened = kpis.abnormal_use.open_orders(conn, north, today).set_index("state")
        everyone = kpis.abnormal_use.open_orders(conn, access.SYSTEM, today).set_index("state")
        behind = kpis.abnormal_use.order_list(conn, north, today, {"month": "2025-05"})
        late = kpis.abnormal_use.order_list(conn, north, today, {"overdue": "1"})
    may = monthly.set_index("month").loc["2025-05"]
    assert (may["resolved"], may["hits"]) == (3, 2)
    assert may["hit_rate"] == pytest.approx(2 / 3)
    assert may["recovered_revenue_cny"] == pytest.approx(1500.5)
    assert monthly["resolved"].sum() == 4
    assert by_outcome.loc["vacancy", "hits"] == 0
    assert list(opened.index) == ["created", "dispatched", "on_site"]
    assert opened["orders"].tolist() == [0, 1, 1] and opened["overdue"].tolist() == [0, 1, 0]
    assert everyone.loc["created", "orders"] == 1
    assert behind.total_rows == may["resolved"]
    assert behind.totals["recovered_revenue_cny"] == pytest.approx(may["recovered_revenue_cny"])
    assert behind.totals["hit"] == may["hits"]
    assert late.total_rows == 1 and late.rows["state"].tolist() == ["dispatched"]


def test_the_arrears_risk_list_is_the_scores_of_the_viewers_customers(store):
    scored = dt.date(2025, 6, 30)
    rows = [
        {
            "customer_id": customer_id,
            "kind": kind,
            "score": score,
            "model_version": "m1",
            "scored_on": scored,
            "computed_at": dt.datetime(2025, 7, 1),
            "triage": "collection",
        }
        for customer_id, kind, score in (
            ("C1", "arrears", 0.4),
            ("C2", "arrears", 0.9),
            ("C9", "arrears", 0.95),
            ("C1", "abnormal", 0.99),
        )
    ]
    with store.begin() as conn:
        _insert(
            conn, schema.customers, [_customer("C1"), _customer("C2"), _customer("C9", "South")]
        )
        _insert(conn, schema.risk_scores, rows)
    with store.connect() as conn:
        listed = kpis.collection.arrears_risk(
            conn, access.Viewer("n", "manager", regions=("North",))
        )
        nothing = kpis.collection.arrears_risk(
            conn, access.Viewer("x", "manager", regions=("East",))
        )
    assert listed["customer_id"].tolist() == ["C2", "C1"]
    assert listed["score"].tolist() == pytest.approx([0.9, 0.4])
    assert nothing.empty
