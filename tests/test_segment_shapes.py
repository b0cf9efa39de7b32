"""The load-shape lens: profiles aggregated by the store on every backend, archetypes recovered."""

import datetime as dt

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score

from core import access
from core.segments import shapes
from core.store import engine as store_engine
from core.store import schema

# 2025-07-04 is a Friday (workday), 07-05 and 07-06 the weekend; 2025-01-06 a winter Monday.
DAYS = (dt.date(2025, 7, 4), dt.date(2025, 7, 5), dt.date(2025, 7, 6), dt.date(2025, 1, 6))


def _readings(customer_id: str, level: float, evening: bool) -> pd.DataFrame:
    rows = []
    for day in DAYS:
        for quarter in range(96):
            ts = dt.datetime.combine(day, dt.time()) + dt.timedelta(minutes=15 * quarter)
            kwh = level * (3.0 if evening and 18 <= ts.hour < 22 else 1.0)
            if day.weekday() >= 5:
                kwh *= 0.5
            rows.append((customer_id, ts, kwh))
    return pd.DataFrame(rows, columns=["customer_id", "ts", "kwh"])


@pytest.fixture
def metered(store) -> sa.Engine:
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B", "C"],
            "name": ["a", "b", "c"],
            "customer_class": ["residential", "residential", "commercial"],
            "region": ["East", "West", "East"],
            "tariff_code": ["RES_TIER"] * 3,
        }
    )
    readings = pd.concat(
        [_readings("A", 0.2, True), _readings("B", 2.0, True), _readings("C", 1.0, False)]
    )
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
        store_engine.bulk_insert(conn, schema.readings, readings)
    return store


def test_profiles_are_aggregated_by_the_store_and_normalized(metered):
    period = (dt.date(2025, 1, 1), dt.date(2026, 1, 1))
    with metered.connect() as conn:
        profile = shapes.profiles(conn, access.SYSTEM, period)
        east = shapes.profiles(conn, access.Viewer("east", "analyst", regions=("East",)), period)
    assert list(profile.index) == ["A", "B", "C"] and profile.shape[1] == shapes.POINTS
    assert np.allclose(profile.mean(axis=1), 1.0)
    # Size does not matter, shape does: A and B differ ten times in level only.
    assert np.allclose(profile.loc["A"], profile.loc["B"])
    summer, winter = shapes.SEASONS.index("summer"), shapes.SEASONS.index("winter")
    workday, rest = shapes.DAY_TYPES.index("workday"), shapes.DAY_TYPES.index("rest_day")
    a = profile.loc["A"]
    assert a[(summer, workday, 19)] == pytest.approx(3 * a[(summer, workday, 3)])
    assert a[(summer, rest, 3)] == pytest.approx(0.5 * a[(summer, workday, 3)])
    # No shoulder-month readings: those points take the hour's mean of the other curves.
    shoulder = shapes.SEASONS.index("shoulder")
    hour_mean = np.mean([a[(s, d, 3)] for s in (summer, winter) for d in (workday, rest)])
    assert a[(shoulder, workday, 3)] == pytest.approx(hour_mean)
    assert not np.allclose(profile.loc["A"], profile.loc["C"])
    assert list(east.index) == ["A", "C"]


def test_without_readings_in_the_period_there_are_no_profiles(metered):
    with metered.connect() as conn:
        profile = shapes.profiles(conn, access.SYSTEM, (dt.date(2020, 1, 1), dt.date(2021, 1, 1)))
    assert profile.empty and profile.shape[1] == shapes.POINTS


# The rarest archetypes are about 1 % of the customers: at 600 each has several members, so a
# typical shape is a group and not one customer's noise (the session's 120-customer store leaves
# single customers of a kind, whose shapes any small change of the data moves).
SHAPES_STORE_CUSTOMERS = 600
SHAPES_STORE_SEED = 11


@pytest.fixture(scope="module")
def demo_profiles(tmp_path_factory) -> tuple[pd.DataFrame, dict[str, str]]:
    from core import demo, features

    path = tmp_path_factory.mktemp("shapes") / "shapes.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    demo.generate(engine, customers=SHAPES_STORE_CUSTOMERS, years=1, seed=SHAPES_STORE_SEED)
    features.refresh(engine, access.SYSTEM)
    with engine.connect() as conn:
        profile = shapes.profiles(conn, access.SYSTEM)
        planted = dict(
            conn.execute(sa.text("SELECT customer_id, archetype FROM demo_truth_customers")).all()
        )
    engine.dispose()
    return profile, planted


def test_the_lens_recovers_the_planted_archetypes(demo_profiles):
    profile, planted = demo_profiles
    found = shapes.cluster(profile, seed=20240101)
    assert found.choice.criterion == "calinski_harabasz"
    assert found.choice.k in shapes.SHAPE_K_RANGE
    truth = [planted[customer_id] for customer_id in found.customer_ids]
    assert adjusted_rand_score(truth, found.labels) >= 0.9


def test_shapes_carry_their_spread_and_an_analyst_k(demo_profiles):
    profile, _ = demo_profiles
    found = shapes.cluster(profile, seed=3, k=6)
    assert found.choice.k == 6 and found.choice.chosen_by == "analyst"
    assert found.centroids.shape == found.low.shape == found.high.shape == (6, shapes.POINTS)
    data = profile.to_numpy()
    for index in range(6):
        members = data[found.labels == index]
        inside = (members >= found.low[index] - 1e-9) & (members <= found.high[index] + 1e-9)
        # The band holds the middle 80 % of the shape's customers (quantiles of a handful of
        # customers interpolate between them).
        if len(members) >= 20:
            assert inside.mean() == pytest.approx(0.8, abs=0.05)
    assert np.allclose(found.centroids.mean(axis=1), 1.0)
