"""Headline KPIs against figures worked out independently from the raw tables."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, kpis
from core.store import engine as store_engine
from core.store import schema


def _table(conn: sa.Connection, table: sa.Table) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(sa.select(table)).mappings().all())


def expected_figures(conn: sa.Connection, period: str, regions: tuple[str, ...] = ()) -> dict:
    """The KPI definitions spelled out in pandas, as a reviewer would check them by hand."""
    customers = _table(conn, schema.customers)
    if regions:
        customers = customers[customers["region"].isin(regions)]
    ids = set(customers["customer_id"])
    bills = _table(conn, schema.bills)
    bills = bills[bills["customer_id"].isin(ids)]
    orders = _table(conn, schema.work_orders)
    orders = orders[orders["customer_id"].isin(ids)]
    first = pd.Timestamp(f"{period}-01")
    following = first + pd.offsets.MonthBegin(1)
    month_end = (following - pd.Timedelta(days=1)).date()
    in_month = bills[bills["period"] == period]
    overdue = bills[bills["due_date"] <= month_end]
    unpaid_then = overdue["paid_date"].isna() | (overdue["paid_date"] > month_end)
    arrears = (
        overdue.loc[unpaid_then, "amount_cny"].astype(float).sum()
        + (
            overdue.loc[~unpaid_then, "amount_cny"].astype(float)
            - overdue.loc[~unpaid_then, "paid_cny"].astype(float)
        ).sum()
    )
    created = pd.to_datetime(orders["created_at"])
    month_orders = orders[(created >= first) & (created < following)]
    opened = pd.to_datetime(customers["open_date"]) < following
    return {
        "customers": float(opened.sum()),
        "energy_kwh": float(in_month["kwh_total"].sum()),
        "revenue_cny": float(in_month["amount_cny"].astype(float).sum()),
        "arrears_cny": float(arrears),
        "work_orders": float(len(month_orders)),
        "complaints": float((month_orders["type"] == "complaint").sum()),
    }


def test_month_helpers():
    assert kpis.shift_period("2025-01", -1) == "2024-12"
    assert kpis.shift_period("2024-12", 13) == "2026-01"
    assert kpis.month_bounds("2024-02") == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))


def test_latest_complete_month_is_the_last_billed_full_month(demo_store):
    with demo_store.connect() as conn:
        assert kpis.latest_complete_month(conn) == "2025-12"
        months = kpis.billed_months(conn)
    assert months[0] == "2025-12" and months[-1] == "2024-01" and len(months) == 24


def test_a_month_cut_short_is_not_complete(store):
    customer = {
        "customer_id": "4200000001",
        "name": "王伟",
        "customer_class": "residential",
        "region": "黄石港区",
        "tariff_code": "RES_TIERED",
    }
    readings = pd.DataFrame(
        {
            "customer_id": "4200000001",
            "ts": pd.date_range("2025-01-01", "2025-02-14 23:00", freq="h"),
            "kwh": 0.5,
        }
    )
    bill = {"customer_id": "4200000001", "kwh_total": 10.0, "amount_cny": 5.0}
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), [customer])
        store_engine.bulk_insert(conn, schema.readings, readings)
        conn.execute(
            schema.bills.insert(), [{**bill, "period": "2025-01"}, {**bill, "period": "2025-02"}]
        )
    with store.connect() as conn:
        assert kpis.latest_complete_month(conn) == "2025-01"


@pytest.mark.parametrize("period", ["2025-12", "2025-02", "2024-07"])
def test_headline_matches_the_tables(demo_store, period):
    with demo_store.connect() as conn:
        figures = {kpi.name: kpi for kpi in kpis.headline(conn, access.SYSTEM, period)}
        expected = expected_figures(conn, period)
        previous = expected_figures(conn, kpis.shift_period(period, -1))
    for name, value in expected.items():
        assert figures[name].value == pytest.approx(value, abs=0.01), name
        assert figures[name].previous_month == pytest.approx(previous[name], abs=0.01), name
    assert figures["energy_kwh"].value > 0 and figures["arrears_cny"].value > 0


def test_no_comparison_before_the_data_starts(demo_store):
    with demo_store.connect() as conn:
        figures = kpis.headline(conn, access.SYSTEM, "2024-06")
    assert all(kpi.last_year is None for kpi in figures)
    assert all(kpi.change_vs_last_year is None for kpi in figures)
    assert figures[1].change_vs_previous is not None


def test_a_district_viewer_sees_only_their_district(demo_store):
    viewer = access.Viewer(user_name="district", role="manager", regions=("大冶市",))
    with demo_store.connect() as conn:
        scoped = {kpi.name: kpi.value for kpi in kpis.headline(conn, viewer, "2025-12")}
        everyone = {kpi.name: kpi.value for kpi in kpis.headline(conn, access.SYSTEM, "2025-12")}
        expected = expected_figures(conn, "2025-12", regions=("大冶市",))
        points = kpis.map_points(conn, viewer, "2025-12")
        trend = kpis.monthly_trend(conn, viewer, "2025-12", 12)
        whole_trend = kpis.monthly_trend(conn, access.SYSTEM, "2025-12", 12)
    assert 0 < scoped["customers"] < everyone["customers"]
    assert scoped == pytest.approx(expected, abs=0.01)
    assert set(points["region"]) == {"大冶市"}
    assert 0 < trend["energy_kwh"].sum() < whole_trend["energy_kwh"].sum()


def test_trend_and_map_cover_the_store(demo_store):
    with demo_store.connect() as conn:
        trend = kpis.monthly_trend(conn, access.SYSTEM, "2025-12", 24)
        points = kpis.map_points(conn, access.SYSTEM, "2025-12")
        by_class = kpis.customers_by_class(conn, access.SYSTEM, "2025-12")
        december = expected_figures(conn, "2025-12")
    assert trend["period"].nunique() == 24
    assert trend.loc[trend["period"] == "2025-12", "energy_kwh"].sum() == pytest.approx(
        december["energy_kwh"]
    )
    assert len(points) == by_class["customers"].sum()
    assert points["annual_kwh"].is_monotonic_decreasing
    assert set(by_class["customer_class"]) == set(schema.CUSTOMER_CLASSES)


def test_district_outlines_enclose_their_customers_on_every_backend(store):
    rows = []
    for index in range(12):
        rows.append(
            {
                "customer_id": f"A{index:02d}",
                "name": f"A{index}",
                "customer_class": "residential",
                "region": "North",
                "tariff_code": "RES_TIERED",
                "lat": 30.0 + 0.01 * (index % 4),
                "lon": 115.0 + 0.01 * (index // 4),
            }
        )
    rows.append(
        {
            "customer_id": "B01",
            "name": "B",
            "customer_class": "commercial",
            "region": "South",
            "tariff_code": "COM_TOU",
            "lat": 29.5,
            "lon": 115.5,
        }
    )
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), rows)
    with store.connect() as conn:
        outlines = kpis.district_outlines(conn, access.SYSTEM).set_index("region")
    north = outlines.loc["North"]
    assert north["customers"] == 12
    ring = north["outline"]
    assert ring[0] == ring[-1]
    lons = [lon for lon, _ in ring]
    lats = [lat for _, lat in ring]
    half = kpis.OUTLINE_GRID_DEG / 2
    assert min(lats) == pytest.approx(30.0 - half) and max(lats) == pytest.approx(30.03 + half)
    assert min(lons) == pytest.approx(115.0 - half) and max(lons) == pytest.approx(115.02 + half)
    assert north["lat"] == pytest.approx(30.015) and north["lon"] == pytest.approx(115.01)
    # One customer encloses no area: the district keeps its place for its name, without outline.
    assert outlines.loc["South", "outline"] == []
    assert outlines.loc["South", "lat"] == pytest.approx(29.5)
    district = access.Viewer(user_name="d", role="manager", regions=("South",))
    with store.connect() as conn:
        assert list(kpis.district_outlines(conn, district)["region"]) == ["South"]
