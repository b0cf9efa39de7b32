"""The service area comes from the store: any utility's customers are inside their own area."""

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, quality, service_area
from core.store import engine as store_engine
from core.store import schema


def _customers(rows: list[tuple[str, str, float | None, float | None]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "customer_id": customer_id,
                "name": f"customer {customer_id}",
                "customer_class": "residential",
                "region": region,
                "lat": lat,
                "lon": lon,
                "tariff_code": "RES_TIERED",
            }
            for customer_id, region, lat, lon in rows
        ]
    )


# A utility in Shenzhen: nothing of the demo city. One customer's coordinates are swapped, one
# has none.
SHENZHEN = [
    ("4403000001", "南山区", 22.53, 113.93),
    ("4403000002", "南山区", 22.55, 113.95),
    ("4403000003", "南山区", 22.51, 113.90),
    ("4403000004", "龙岗区", 22.72, 114.25),
    ("4403000005", "龙岗区", 22.69, 114.30),
    ("4403000006", "龙岗区", 114.27, 22.70),
    ("4403000007", "龙岗区", None, None),
]


def test_a_utility_elsewhere_is_inside_its_own_area_except_a_swapped_coordinate(store):
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, _customers(SHENZHEN))
    report = quality.report(store, access.SYSTEM)
    figure = report[report["metric"] == "inside_service_area"].iloc[0]
    assert (figure["numerator"], figure["denominator"]) == (5, 6)
    outside = quality.drill_down(store, access.SYSTEM, "inside_service_area", "customers")
    assert outside["customer_id"].tolist() == ["4403000006"]


def test_each_district_gets_a_box_around_its_customers():
    points = _customers(SHENZHEN).dropna(subset=["lat"])
    boxes = service_area.district_bounds(points)
    assert set(boxes) == {"南山区", "龙岗区"}
    nanshan = boxes["南山区"]
    # Centred on the median customer and at least MIN_RADIUS_KM wide each way.
    assert nanshan.lat_min < 22.53 < nanshan.lat_max
    half_km = (nanshan.lat_max - nanshan.lat_min) / 2 * service_area.KM_PER_DEGREE_LATITUDE
    assert half_km >= service_area.MIN_RADIUS_KM - 1e-9
    assert not nanshan.lat_min < 114.27 < nanshan.lat_max


def test_a_supplied_box_replaces_the_derived_one(store, monkeypatch):
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, _customers(SHENZHEN))
    # The utility says its area is Nanshan only: Longgang's located customers fall outside.
    monkeypatch.setenv(service_area.SETTING, "22.40,22.65,113.80,114.05")
    with store.connect() as conn:
        area = service_area.of_store(conn)
        customers = schema.customers
        outside = conn.execute(
            sa.select(customers.c.customer_id)
            .where(area.outside(customers.c.lat, customers.c.lon))
            .order_by(customers.c.customer_id)
        ).scalars()
        assert list(outside) == ["4403000004", "4403000005", "4403000006"]
    assert area.supplied


def test_a_malformed_supplied_box_says_what_is_wrong():
    with pytest.raises(ValueError, match="four numbers"):
        service_area.supplied_bounds("22.4,22.6")
    with pytest.raises(ValueError, match="not a latitude/longitude box"):
        service_area.supplied_bounds("22.6,22.4,113.8,114.0")


def test_the_demo_store_is_inside_its_derived_area(demo_store):
    report = quality.report(demo_store, access.SYSTEM)
    figure = report[report["metric"] == "inside_service_area"].iloc[0]
    assert figure["numerator"] == figure["denominator"] > 0
