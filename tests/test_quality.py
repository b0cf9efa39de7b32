"""Data-quality figures on a store whose defects are known, on every backend."""

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import access, ingest, quality
from core.store import engine as store_engine
from core.store import schema

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
A, B, C, D = "3201000001", "3201000002", "3201000003", "3201000004"


def _customer(customer_id, customer_class, tariff_code, lat=30.22, phone="13900000000"):
    return {
        "customer_id": customer_id,
        "name": f"customer {customer_id}",
        "customer_class": customer_class,
        "industry": "retail",
        "voltage_kv": 0.4,
        "contract_capacity_kva": 50.0,
        "region": "黄石港区",
        "transformer_area": "黄石港-001",
        "lat": lat,
        "lon": 115.06,
        "tariff_code": tariff_code,
        "open_date": dt.date(2015, 1, 1),
        "manager_id": "M01",
        "phone": phone,
        "status": "active",
    }


def _hourly(customer_id, start, hours, kwh=1.0):
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "ts": pd.date_range(start, periods=hours, freq="h"),
            "kwh": kwh,
        }
    )


@pytest.fixture
def defective_store(store):
    """A: clean. B: tariff of another class, 12 readings missing, bill off its readings.
    C: outside the service area, no phone, stopped reporting 5 days early, one negative reading.
    D: no readings at all. One work order of an unknown customer; id conflicts in id_map."""
    customers = pd.DataFrame(
        [
            _customer(A, "residential", "RES_TIERED"),
            _customer(B, "commercial", "RES_TIERED"),
            _customer(C, "residential", "RES_TIERED", lat=31.5, phone=None),
            _customer(D, "industrial", "IND_TWO_PART"),
        ]
    )
    b_readings = _hourly(B, "2024-01-01", 48)
    c_readings = _hourly(C, "2023-12-28", 24)
    c_readings.loc[0, "kwh"] = -1.0
    readings = pd.concat(
        [_hourly(A, "2024-01-01", 48), b_readings.drop(index=range(30, 42)), c_readings]
    )
    bills = pd.DataFrame(
        {
            "customer_id": [A, B],
            "period": ["2024-01", "2024-01"],
            "kwh_peak": [10.0, 10.0],
            "kwh_flat": [20.0, 20.0],
            "kwh_valley": [18.0, 20.0],
            "kwh_total": [48.0, 50.0],
            "amount_cny": [26.78, 27.90],
            "due_date": [dt.date(2024, 2, 15)] * 2,
        }
    )
    work_orders = pd.DataFrame(
        {
            "order_id": ["W1", "W2"],
            "customer_id": [A, "3209999999"],
            "created_at": [dt.datetime(2024, 1, 2, 9), dt.datetime(2024, 1, 2, 10)],
            "type": ["repair", "billing"],
            "channel": ["95598", "95598"],
            "description": ["停电", "电费"],
        }
    )
    id_map = pd.DataFrame(
        [
            ("95598", "X1", A, True),
            ("95598", "X2", A, True),
            ("95598", "X2", B, True),
            ("contract", "H1", A, True),
            ("contract", "H2", A, True),
            ("contract", "H3", B, True),
            ("contract", "H0", B, False),
            ("app", "U1", "3209999999", True),
        ],
        columns=["system", "external_id", "customer_id", "active"],
    )
    with store.begin() as conn:
        for table, frame in [
            (schema.customers, customers),
            (schema.readings, readings),
            (schema.bills, bills),
            (schema.work_orders, work_orders),
            (schema.id_map, id_map),
        ]:
            store_engine.bulk_insert(conn, table, frame)
    return store


def _figure(report, metric, table_name, source_system=None):
    rows = report[(report["metric"] == metric) & (report["table_name"] == table_name)]
    if source_system is not None:
        rows = rows[rows["source_system"] == source_system]
    assert len(rows) == 1, rows
    return rows.iloc[0]


def test_figures_on_known_defects(defective_store):
    report = quality.report(defective_store, access.SYSTEM)
    expected = {
        ("fields_filled", "customers", None): (3, 4),
        ("readings_present", "readings", None): (108, 120),
        ("customers_reporting", "readings", None): (2, 4),
        ("bills_match_readings", "bills", None): (1, 2),
        ("tariff_matches_class", "customers", None): (3, 4),
        ("inside_service_area", "customers", None): (3, 4),
        ("ids_resolve", "work_orders", None): (1, 2),
        ("ids_resolve", "readings", None): (108, 108),
        ("id_map_resolves", "id_map", "95598"): (1, 2),
        ("id_map_resolves", "id_map", "contract"): (3, 3),
        ("id_map_resolves", "id_map", "app"): (0, 1),
        ("values_in_range", "readings", None): (107, 108),
        ("values_in_range", "customers", None): (4, 4),
    }
    for (metric, table_name, system), (numerator, denominator) in expected.items():
        figure = _figure(report, metric, table_name, system)
        assert (figure["numerator"], figure["denominator"]) == (numerator, denominator), metric
        assert figure["value"] == pytest.approx(numerator / denominator)
        assert figure["dimension"] == quality.METRICS[metric][0]
    assert set(report["dimension"]) == set(quality.DIMENSIONS)


def test_drill_downs_name_the_offenders(defective_store):
    def drill(metric, table_name, **options):
        return quality.drill_down(defective_store, access.SYSTEM, metric, table_name, **options)

    missing = drill("readings_present", "readings")
    assert missing[["customer_id", "missing", "per_day"]].values.tolist() == [[B, 12, 24]]
    stale = drill("customers_reporting", "readings")
    assert stale["customer_id"].tolist() == [D, C]
    assert stale.loc[stale["customer_id"] == C, "days_behind"].item() == pytest.approx(5.0)
    bills = drill("bills_match_readings", "bills")
    assert bills["customer_id"].tolist() == [B]
    assert bills["difference_kwh"].item() == pytest.approx(14.0)
    assert drill("tariff_matches_class", "customers")["customer_id"].tolist() == [B]
    assert drill("inside_service_area", "customers")["customer_id"].tolist() == [C]
    assert drill("fields_filled", "customers")["customer_id"].tolist() == [C]
    assert drill("ids_resolve", "work_orders")["customer_id"].tolist() == ["3209999999"]
    out_of_range = drill("values_in_range", "readings")
    assert out_of_range["kwh"].tolist() == [-1.0]
    app = drill("id_map_resolves", "id_map", source_system="app")
    assert app["external_id"].tolist() == ["U1"]
    with pytest.raises(ValueError, match="no quality figure"):
        drill("cleanliness", "readings")


def test_id_conflicts(defective_store):
    conflicts = quality.id_conflicts(defective_store, access.SYSTEM)
    shared = conflicts["shared_external_ids"]
    assert shared[["system", "external_id", "customer_id"]].values.tolist() == [
        ["95598", "X2", A],
        ["95598", "X2", B],
    ]
    contracts = conflicts["multiple_contracts"]
    assert contracts[["customer_id", "external_id"]].values.tolist() == [[A, "H1"], [A, "H2"]]


def test_viewer_scope_limits_the_figures(defective_store):
    with defective_store.begin() as conn:
        conn.execute(
            schema.customers.update()
            .where(schema.customers.c.customer_id == C)
            .values(region="大冶市")
        )
    viewer = access.Viewer(user_name="analyst", role="analyst", regions=("大冶市",))
    report = quality.report(defective_store, viewer)
    assert tuple(_figure(report, "readings_present", "readings")[["numerator", "denominator"]]) == (
        24,
        24,
    )
    assert quality.id_conflicts(defective_store, viewer)["multiple_contracts"].empty


def test_trend_over_imports(store):
    ingest.import_file(store, "customers", SAMPLES / "customers.csv")
    ingest.import_file(store, "readings", SAMPLES / "readings_long_dirty.tsv")
    ingest.import_file(store, "readings", SAMPLES / "readings_wide_24.csv")
    trend = quality.trend(store)
    accepted = trend[(trend["metric"] == "rows_accepted") & (trend["table_name"] == "readings")]
    # Accepted share over all readings imports: 48 of 57, then (48 + 2) of (57 + 5) rows.
    assert accepted["value"].tolist() == pytest.approx([48 / 57, 50 / 62])
    assert accepted["import_id"].is_monotonic_increasing
    lag = trend[trend["metric"] == "arrival_lag_hours"]["value"]
    assert (lag > 0).all() and np.isfinite(lag).all()
    history = quality.recent_imports(store, access.SYSTEM)
    assert history["rows_rejected"].tolist() == [3, 9, 0]


def test_which_fields_are_expected_depends_on_the_customer_class(store):
    household = {**_customer(A, "residential", "RES_TIERED"), "industry": None}
    shop = {**_customer(B, "commercial", "COM_TOU"), "industry": None}
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), [household, shop])
    figures = quality.report(store, access.SYSTEM)
    filled = figures[
        (figures["metric"] == "fields_filled") & (figures["table_name"] == "customers")
    ].iloc[0]
    # A household belongs to no industry; a shop without one is a gap in the archive.
    assert (filled["numerator"], filled["denominator"]) == (1, 2)
    missing = quality.drill_down(store, access.SYSTEM, "fields_filled", "customers")
    assert missing["customer_id"].tolist() == [B]
