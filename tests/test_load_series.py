"""Level series from the store: hourly sums by SQL on every backend, scope, weather, climatology."""

import datetime as dt
import io

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, forecast, ingest, load_series
from core.errors import UserError
from core.store import engine as store_engine
from core.store import schema


def _customer(customer_id: str, region: str, customer_class: str) -> dict:
    return {
        "customer_id": customer_id,
        "name": f"Customer {customer_id}",
        "customer_class": customer_class,
        "region": region,
        "tariff_code": "demo",
    }


@pytest.fixture
def small_store(store):
    """Two districts, three customers; quarter-hour and hourly readings; weather per district."""
    start = dt.datetime(2024, 3, 1)
    quarter = [start + dt.timedelta(minutes=15 * i) for i in range(8)]
    hourly = [start + dt.timedelta(hours=i) for i in range(2)]
    readings = pd.DataFrame(
        {
            "customer_id": ["A"] * 8 + ["B"] * 2 + ["C"] * 2,
            "ts": quarter + hourly + hourly,
            "kwh": [1.0] * 8 + [10.0, 20.0] + [100.0, 200.0],
        }
    )
    weather = pd.DataFrame(
        {
            "region": ["East"] * 2 + ["West"] * 2,
            "ts": hourly * 2,
            "temperature_c": [10.0, 12.0, 20.0, 22.0],
        }
    )
    with store.begin() as conn:
        conn.execute(
            schema.customers.insert(),
            [
                _customer("A", "East", "residential"),
                _customer("B", "East", "commercial"),
                _customer("C", "West", "commercial"),
            ],
        )
        store_engine.bulk_insert(conn, schema.readings, readings)
        store_engine.bulk_insert(conn, schema.weather, weather)
    return store


def test_hourly_sums_on_every_backend(small_store):
    with small_store.connect() as conn:
        area = load_series.hourly_load(conn, access.SYSTEM, "service_area")
        east = load_series.hourly_load(conn, access.SYSTEM, "district", "East")
        commercial = load_series.hourly_load(conn, access.SYSTEM, "customer_class", "commercial")
        one = load_series.hourly_load(conn, access.SYSTEM, "customer", "A")
        by_class = load_series.hourly_load_by(conn, access.SYSTEM, "customer_class")
    assert area["ds"].tolist() == [
        pd.Timestamp("2024-03-01 00:00"),
        pd.Timestamp("2024-03-01 01:00"),
    ]
    # four quarter-hours of A make one hour
    assert area["y"].tolist() == [4 + 10 + 100, 4 + 20 + 200]
    assert east["y"].tolist() == [14, 24]
    assert commercial["y"].tolist() == [110, 220]
    assert one["y"].tolist() == [4, 4]
    assert by_class.groupby("key")["y"].sum().to_dict() == {"commercial": 330, "residential": 8}


def test_scope_limits_the_series(small_store):
    west_only = access.Viewer(user_name="w", role="analyst", regions=("West",))
    with small_store.connect() as conn:
        area = load_series.hourly_load(conn, west_only, "service_area")
        assert area["y"].tolist() == [100, 200]
        assert load_series.level_keys(conn, west_only, "district") == ["West"]
        with pytest.raises(ValueError, match="no readings for A that you may see"):
            load_series.hourly_load(conn, west_only, "customer", "A")


def test_temperature_is_the_mean_over_the_level_districts(small_store):
    with small_store.connect() as conn:
        regions = load_series.level_regions(conn, access.SYSTEM, "service_area")
        area = load_series.hourly_temperature(conn, regions)
        series = load_series.level_series(conn, access.SYSTEM, "customer", "C")
    assert regions == ["East", "West"]
    assert area["temperature_c"].tolist() == [15.0, 17.0]
    assert series["temperature_c"].tolist() == [20.0, 22.0]


def test_bad_level_and_missing_key(small_store):
    with small_store.connect() as conn:
        with pytest.raises(ValueError, match="Level planet is not known"):
            load_series.hourly_load(conn, access.SYSTEM, "planet", "x")
        with pytest.raises(ValueError, match="Pick which district, class or customer"):
            load_series.hourly_load(conn, access.SYSTEM, "district")


def test_demo_districts_add_up_to_the_service_area(demo_store):
    with demo_store.connect() as conn:
        area = load_series.hourly_load(conn, access.SYSTEM, "service_area")
        districts = load_series.hourly_load_by(conn, access.SYSTEM, "district")
        total = conn.execute(sa.select(sa.func.sum(schema.readings.c.kwh))).scalar_one()
        keys = load_series.level_keys(conn, access.SYSTEM, "district")
    summed = districts.groupby("ds")["y"].sum()
    np.testing.assert_allclose(summed.loc[area["ds"]].to_numpy(), area["y"].to_numpy())
    assert area["y"].sum() == pytest.approx(total)
    assert sorted(districts["key"].unique()) == keys


def test_climatology_for_the_future_follows_the_seasons(demo_store):
    with demo_store.connect() as conn:
        series = load_series.level_series(conn, access.SYSTEM, "service_area")
        last = series["ds"].max()
        july = pd.date_range(f"{last.year + 1}-07-15", periods=24, freq="h")
        january = pd.date_range(f"{last.year + 1}-01-15", periods=24, freq="h")
        summer = load_series.future_temperature(conn, access.SYSTEM, "service_area", None, july)
        winter = load_series.future_temperature(conn, access.SYSTEM, "service_area", None, january)
    assert summer["temperature_c"].mean() > winter["temperature_c"].mean() + 15
    # warmest in the afternoon
    assert summer["temperature_c"].idxmax() in range(12, 18)


@pytest.mark.slow
def test_three_month_forecast_of_a_district(demo_store):
    with demo_store.connect() as conn:
        district = load_series.level_keys(conn, access.SYSTEM, "district")[0]
        level_forecast = load_series.forecast_level(
            conn, access.SYSTEM, "district", district, "three_months"
        )
        result = level_forecast.result
        history = forecast.to_daily(
            load_series.hourly_load(conn, access.SYSTEM, "district", district)
        )
    assert level_forecast.temperature_source == "climatology"
    assert level_forecast.freq == "D"
    assert len(result.frame) == 91
    assert result.frame["ds"].iloc[0] == history["ds"].max() + pd.Timedelta(days=1)
    assert result.backtest is not None
    assert (
        len(result.backtest.predictions["fold"].unique())
        == load_series.BACKTEST_FOLDS["three_months"]
    )
    level = history["y"].tail(365).mean()
    assert 0.5 * level < result.frame["yhat"].mean() < 1.5 * level


@pytest.mark.slow
def test_a_supplied_temperature_forecast_is_used_when_it_covers_the_horizon(demo_store):
    with demo_store.connect() as conn:
        last = load_series.hourly_load(conn, access.SYSTEM, "service_area")["ds"].max()
        hours = pd.date_range(last + pd.Timedelta(hours=1), periods=91 * 24, freq="h")
        supplied = pd.DataFrame({"ds": hours, "temperature_c": 20.0})
        covered = load_series.forecast_level(
            conn, access.SYSTEM, "service_area", None, "three_months", weather_forecast=supplied
        )
        short = load_series.forecast_level(
            conn,
            access.SYSTEM,
            "service_area",
            None,
            "three_months",
            weather_forecast=supplied.iloc[:24],
        )
    assert covered.temperature_source == "supplied"
    assert short.temperature_source == "climatology"
    # a mild 20 °C quarter needs neither heating nor cooling: less energy than the normal winter
    assert covered.result.frame["yhat_prophet"].sum() < short.result.frame["yhat_prophet"].sum()


def test_weather_from_an_upload():
    content = b"TS,Temperature_C\n2024-01-01 00:00,3.5\n2024-01-01 01:00,4.0\n"
    weather = load_series.weather_to_hourly(ingest.read_weather(io.BytesIO(content), "w.csv"))
    assert weather["temperature_c"].tolist() == [3.5, 4.0]
    with pytest.raises(UserError, match="files of type .pdf cannot be imported"):
        ingest.read_weather(io.BytesIO(b"%PDF"), "forecast.pdf")
