"""Features computed in the store against values worked out by hand, on every backend."""

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, features
from core.store import engine as store_engine
from core.store import schema

PERIOD_END = dt.date(2025, 1, 1)
MONDAY, SATURDAY = dt.date(2024, 3, 4), dt.date(2024, 3, 9)


def _customer(customer_id: str, **values) -> dict:
    row = {
        "customer_id": customer_id,
        "name": f"Customer {customer_id}",
        "customer_class": "commercial",
        "region": "R1",
        "tariff_code": "COM_TOU",
        "manager_id": "M1",
        "status": "active",
    }
    row.update(values)
    return row


def _hourly(customer_id: str, day: dt.date, kwh: list[float], kvarh=None) -> pd.DataFrame:
    start = dt.datetime.combine(day, dt.time())
    return pd.DataFrame(
        {
            "customer_id": customer_id,
            "ts": [start + dt.timedelta(hours=hour) for hour in range(24)],
            "kwh": kwh,
            "kvarh": kvarh if kvarh is not None else [None] * 24,
        }
    )


# C2 has one reading a day: 12 hot July days whose load rises 3 kWh per cooling degree-day,
# 5 mild June days at the base load, and 200 days of the year before at 50 kWh.
HOT_TEMPERATURES = list(range(27, 39))
MILD_TEMPERATURE = 22.0


def _c2_rows() -> tuple[pd.DataFrame, pd.DataFrame]:
    days, kwh, temperatures = [], [], []
    for offset, temperature in enumerate(HOT_TEMPERATURES):
        days.append(dt.date(2024, 7, 1) + dt.timedelta(days=offset))
        kwh.append(100 + 3 * (temperature - 26))
        temperatures.append(float(temperature))
    for offset in range(5):
        days.append(dt.date(2024, 6, 20) + dt.timedelta(days=offset))
        kwh.append(100.0)
        temperatures.append(MILD_TEMPERATURE)
    previous = [dt.date(2023, 3, 1) + dt.timedelta(days=offset) for offset in range(200)]
    readings = pd.DataFrame(
        {
            "customer_id": "C2",
            "ts": [dt.datetime.combine(day, dt.time()) for day in days + previous],
            "kwh": kwh + [50.0] * len(previous),
        }
    )
    weather = pd.DataFrame(
        {
            "region": "R2",
            "ts": [dt.datetime.combine(day, dt.time(12)) for day in days],
            "temperature_c": temperatures,
        }
    )
    return readings, weather


@pytest.fixture
def fixed_store(store):
    monday = [1.0] * 24
    monday[10] = 5.0
    c2_readings, c2_weather = _c2_rows()
    readings = pd.concat(
        [
            _hourly("C1", MONDAY, monday, kvarh=[0.5] * 24),
            _hourly("C1", SATURDAY, [0.5] * 24),
            c2_readings.assign(kvarh=None),
        ],
        ignore_index=True,
    )
    bills = pd.DataFrame(
        [
            ("C1", "2023-06", 150.0, dt.date(2023, 7, 15), dt.date(2023, 7, 1), 150.0),
            ("C1", "2024-01", 100.0, dt.date(2024, 2, 15), dt.date(2024, 2, 10), 100.0),
            ("C1", "2024-02", 200.0, dt.date(2024, 3, 15), dt.date(2024, 3, 20), 150.0),
            ("C1", "2024-11", 300.0, dt.date(2024, 12, 15), None, None),
            ("C1", "2024-12", 50.0, dt.date(2025, 1, 15), None, None),
        ],
        columns=["customer_id", "period", "amount_cny", "due_date", "paid_date", "paid_cny"],
    ).assign(kwh_total=1.0)
    activity = pd.DataFrame(
        [
            ("C1", dt.date(2024, 5, 1), "app", 5),
            ("C1", dt.date(2024, 5, 2), "counter", 2),
            ("C1", dt.date(2024, 6, 1), "wechat", 4),
            ("C1", dt.date(2023, 12, 31), "app", 100),
        ],
        columns=["customer_id", "date", "channel", "events"],
    )
    orders = pd.DataFrame(
        [
            ("W1", "C1", dt.datetime(2024, 12, 10, 10), "complaint"),
            ("W2", "C1", dt.datetime(2024, 11, 25, 9), "complaint"),
            ("W3", "C1", dt.datetime(2024, 12, 11, 9), "repair"),
            ("W4", "C1", dt.datetime(2023, 5, 1, 9), "complaint"),
        ],
        columns=["order_id", "customer_id", "created_at", "type"],
    )
    outages = pd.DataFrame(
        [
            ("O1", "C1", dt.datetime(2024, 12, 8, 8), dt.datetime(2024, 12, 8, 11, 30), False),
            ("O2", "C1", dt.datetime(2024, 6, 1, 0), dt.datetime(2024, 6, 1, 2), True),
            ("O3", "C1", dt.datetime(2023, 1, 1, 0), dt.datetime(2023, 1, 1, 5), True),
        ],
        columns=["event_id", "customer_id", "start", "end", "planned"],
    )
    customers = pd.DataFrame(
        [
            _customer("C1"),
            _customer(
                "C2",
                customer_class="residential",
                region="R2",
                tariff_code="RES_TIERED",
                manager_id="M2",
            ),
            _customer("C3", manager_id="M2"),
        ]
    )
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
        store_engine.bulk_insert(conn, schema.readings, readings)
        store_engine.bulk_insert(conn, schema.weather, c2_weather)
        store_engine.bulk_insert(conn, schema.bills, bills)
        store_engine.bulk_insert(conn, schema.channel_activity, activity)
        store_engine.bulk_insert(conn, schema.work_orders, orders)
        store_engine.bulk_insert(conn, schema.outages, outages)
    return store


def test_load_features_match_hand_computed_values(fixed_store):
    summary = features.refresh(fixed_store, period_end=PERIOD_END)
    assert summary.customers == 3
    assert (summary.period_start, summary.period_end) == (dt.date(2024, 1, 1), PERIOD_END)
    c1 = features.for_customer(fixed_store, access.SYSTEM, "C1")
    # Monday 23 × 1 kWh + 5 kWh at 10:00 = 28; Saturday 24 × 0.5 = 12.
    assert c1["days_with_readings"] == 2
    assert c1["annual_kwh"] == pytest.approx(40.0)
    assert c1["avg_daily_kwh"] == pytest.approx(20.0)
    assert c1["max_demand_kw"] == pytest.approx(5.0)
    assert c1["load_factor"] == pytest.approx((40 / 48) / 5)
    # March under COM_TOU: peak 9-15 and 20-22, flat 7-9, 15-20 and 22-23, valley 23-7.
    assert c1["peak_share"] == pytest.approx((7 + 5 + 8 * 0.5) / 40)
    assert c1["flat_share"] == pytest.approx((8 + 8 * 0.5) / 40)
    assert c1["valley_share"] == pytest.approx((8 + 8 * 0.5) / 40)
    assert c1["critical_share"] == pytest.approx(0.0)
    # Night 23-7: 12 kWh in 16 hourly readings; day: 28 kWh in 32.
    assert c1["night_day_ratio"] == pytest.approx((12 / 16) / (28 / 32))
    assert c1["weekday_weekend_ratio"] == pytest.approx(28 / 12)
    # Daily 28 and 12: mean 20, population standard deviation 8.
    assert c1["volatility"] == pytest.approx(0.4)
    assert c1["summer_ratio"] is None
    assert c1["yoy_growth"] is None
    # Only Monday has kvarh: 28 kWh against 12 kvarh.
    assert c1["power_factor"] == pytest.approx(28 / (28**2 + 12**2) ** 0.5)


def test_daily_readings_temperature_slope_and_growth(fixed_store):
    features.refresh(fixed_store, period_end=PERIOD_END)
    c2 = features.for_customer(fixed_store, access.SYSTEM, "C2")
    total = sum(100 + 3 * (t - 26) for t in HOT_TEMPERATURES) + 5 * 100
    assert c2["days_with_readings"] == 17
    assert c2["annual_kwh"] == pytest.approx(total)
    assert c2["cooling_kwh_per_degree_day"] == pytest.approx(3.0)
    assert c2["heating_kwh_per_degree_day"] is None
    assert c2["yoy_growth"] == pytest.approx((total / 17) / 50 - 1)
    # One reading a day is the day's average power.
    assert c2["max_demand_kw"] == pytest.approx((100 + 3 * 12) / 24)
    # A residential tiered tariff is described under the residential TOU schedule: 00:00 is valley.
    assert c2["valley_share"] == pytest.approx(1.0)
    assert c2["summer_ratio"] is None


def test_value_service_and_risk_features(fixed_store):
    features.refresh(fixed_store, period_end=PERIOD_END)
    c1 = features.for_customer(fixed_store, access.SYSTEM, "C1")
    assert c1["annual_revenue_cny"] == pytest.approx(650.0)
    assert c1["revenue_growth"] == pytest.approx(500 / 150)
    # Due within the period: January (on time), February (late), November (unpaid).
    assert c1["payment_punctuality"] == pytest.approx(1 / 3)
    assert c1["late_payments"] == 2
    assert c1["arrears_cny"] == pytest.approx(50 + 300)
    assert c1["arrears_days"] == pytest.approx((PERIOD_END - dt.date(2024, 3, 15)).days)
    assert c1["online_events"] == 9
    assert c1["online_share"] == pytest.approx(9 / 11)
    assert c1["counter_visits"] == 2
    assert c1["preferred_channel"] == "app"
    assert c1["complaints"] == 2
    assert c1["complaints_90d"] == 2
    assert c1["complaints_after_outage_90d"] == 1
    assert c1["outages"] == 2
    assert c1["outage_hours"] == pytest.approx(5.5)


def test_customer_without_data_gets_zero_counts_and_unknown_ratios(fixed_store):
    features.refresh(fixed_store, period_end=PERIOD_END)
    c3 = features.for_customer(fixed_store, access.SYSTEM, "C3")
    assert c3["days_with_readings"] == 0
    assert c3["complaints"] == 0
    assert c3["arrears_cny"] == 0
    assert c3["peak_share"] is None
    assert c3["preferred_channel"] is None


def test_refresh_is_scoped_to_the_viewer(fixed_store):
    features.refresh(fixed_store, period_end=PERIOD_END)
    manager = access.Viewer(user_name="m2", role="customer_manager", manager_id="M2")
    summary = features.refresh(fixed_store, manager, period_end=dt.date(2024, 12, 1))
    assert summary.customers == 2
    frame = features.table(fixed_store, access.SYSTEM)
    ends = dict(zip(frame["customer_id"], pd.to_datetime(frame["period_end"]).dt.date, strict=True))
    assert ends == {"C1": PERIOD_END, "C2": dt.date(2024, 12, 1), "C3": dt.date(2024, 12, 1)}
    assert features.for_customer(fixed_store, manager, "C1") is None
    assert list(features.table(fixed_store, manager)["customer_id"]) == ["C2", "C3"]


def test_default_period_ends_with_the_last_reading(fixed_store):
    summary = features.refresh(fixed_store)
    assert summary.period_end == dt.date(2024, 7, 13)
    with fixed_store.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.features)).scalar_one()
    assert count == 3


def test_unknown_tariff_code_is_reported(store):
    with store.begin() as conn:
        store_engine.bulk_insert(
            conn, schema.customers, pd.DataFrame([_customer("X1", tariff_code="NO_SUCH")])
        )
    with pytest.raises(ValueError, match="NO_SUCH"):
        features.refresh(store, period_end=PERIOD_END)
