"""Segments: reproducible fits, k by criterion and business rules, stable ids, names and rules."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, features, i18n, segments
from core.segments import matrix, model, naming
from core.store import engine as store_engine
from core.store import schema

SEED = 7


def _copy(url: str, folder, name: str) -> sa.Engine:
    target = folder / name
    shutil.copyfile(sa.make_url(url).database, target)
    return store_engine.connect(f"duckdb:///{target}")


@pytest.fixture
def featured_copy(featured_demo_url, tmp_path) -> sa.Engine:
    """A writable copy of the demo store with features."""
    engine = _copy(featured_demo_url, tmp_path, "segments.duckdb")
    yield engine
    engine.dispose()


def _memberships(engine: sa.Engine, run_id: int) -> pd.DataFrame:
    with engine.connect() as conn:
        frame = segments.members(conn, access.SYSTEM, run_id)
    return frame.set_index("customer_id")[["segment_id", "shape_cluster"]]


def test_the_same_seed_on_the_same_data_gives_the_same_run(featured_demo_url, tmp_path):
    first_store = _copy(featured_demo_url, tmp_path, "first.duckdb")
    second_store = _copy(featured_demo_url, tmp_path, "second.duckdb")
    first = segments.fit(first_store, seed=SEED)
    second = segments.fit(second_store, seed=SEED)
    assert first.choice == second.choice
    assert [(s.segment_id, s.name_code, s.customers) for s in first.segments] == [
        (s.segment_id, s.name_code, s.customers) for s in second.segments
    ]
    pd.testing.assert_frame_equal(
        _memberships(first_store, first.run_id), _memberships(second_store, second.run_id)
    )
    first_store.dispose()
    second_store.dispose()


def test_k_is_chosen_by_the_silhouette_within_the_business_rules(featured_copy):
    run = segments.fit(featured_copy, seed=SEED)
    assert run.choice.chosen_by == "criterion" and run.choice.criterion == "silhouette"
    assert set(run.choice.values) == set(range(2, segments.MAX_SEGMENTS + 1))
    allowed = {
        k: value
        for k, value in run.choice.values.items()
        if value is not None and k >= model.MIN_SEGMENTS
    }
    assert run.choice.k == max(allowed, key=allowed.get)
    for k, value in run.choice.values.items():
        if value is None:
            assert run.choice.smallest_share[k] < segments.MIN_SEGMENT_SHARE
    assert len(run.segments) == run.choice.k
    assert sum(segment.customers for segment in run.segments) == run.customers
    assert {segment.segment_id for segment in run.segments} == set(range(1, run.choice.k + 1))


def test_a_refit_on_the_same_data_keeps_every_id_and_name(featured_copy):
    first = segments.fit(featured_copy, seed=SEED)
    second = segments.fit(featured_copy, seed=SEED)
    assert second.previous_run_id == first.run_id
    assert all(segment.kept for segment in second.segments)
    assert [(s.segment_id, s.name_code) for s in first.segments] == [
        (s.segment_id, s.name_code) for s in second.segments
    ]
    pd.testing.assert_frame_equal(
        _memberships(featured_copy, first.run_id), _memberships(featured_copy, second.run_id)
    )
    with featured_copy.connect() as conn:
        moves = segments.migration(conn, access.SYSTEM, second.run_id)
    sizes = {segment.segment_id: segment.customers for segment in first.segments}
    assert list(moves.index) == list(moves.columns) == sorted(sizes)
    assert np.array_equal(np.diag(moves.to_numpy()), [sizes[key] for key in sorted(sizes)])
    assert moves.to_numpy().sum() == first.customers


def test_a_refit_with_one_more_month_keeps_most_customers_in_their_segment(featured_copy):
    with featured_copy.connect() as conn:
        period_end = conn.execute(sa.select(sa.func.max(schema.features.c.period_end))).scalar()
    month_earlier = pd.Timestamp(period_end).date() - dt.timedelta(days=31)
    features.refresh(featured_copy, period_end=month_earlier)
    before = segments.fit(featured_copy, seed=SEED, k=5)
    features.refresh(featured_copy, period_end=pd.Timestamp(period_end).date())
    after = segments.fit(featured_copy, seed=SEED, k=5)
    assert after.choice.chosen_by == "analyst"
    assert sum(segment.kept for segment in after.segments) >= 4
    old, new = _memberships(featured_copy, before.run_id), _memberships(featured_copy, after.run_id)
    stayed = (old["segment_id"] == new.loc[old.index, "segment_id"]).mean()
    assert stayed >= 0.9
    with featured_copy.connect() as conn:
        moves = segments.migration(conn, access.SYSTEM, after.run_id)
    assert np.trace(moves.to_numpy()) == pytest.approx(stayed * len(old), abs=len(old) * 0.1)
    assert moves.to_numpy().sum() == len(old)


def test_the_planted_night_chargers_get_their_own_named_segment(featured_copy):
    run = segments.fit(featured_copy, seed=SEED)
    with featured_copy.connect() as conn:
        planted = pd.read_sql("SELECT customer_id, archetype FROM demo_truth_customers", conn)
        members = segments.members(conn, access.SYSTEM, run.run_id)
        shown = segments.segments_of(conn, access.SYSTEM, run.run_id)
    chargers = [s for s in run.segments if s.name_code == "night_chargers"]
    assert len(chargers) == 1
    in_segment = set(members.loc[members["segment_id"] == chargers[0].segment_id, "customer_id"])
    ev = set(planted.loc[planted["archetype"] == "res_ev", "customer_id"])
    assert len(in_segment & ev) / len(ev) >= 0.8 and len(in_segment & ev) / len(in_segment) >= 0.8
    reasons = segments.reasons(shown, "en")[chargers[0].segment_id]
    assert reasons.startswith("Night/day ratio") and "overall" in reasons
    assert "全体为" in segments.reasons(shown, "zh")[chargers[0].segment_id]


BASE = {
    "annual_kwh": 5000.0,
    "load_factor": 0.2,
    "peak_share": 0.30,
    "valley_share": 0.27,
    "night_day_ratio": 0.45,
    "weekday_weekend_ratio": 1.0,
    "volatility": 0.25,
    "summer_ratio": 1.15,
    "winter_ratio": 1.1,
    "yoy_growth": 0.03,
    "annual_revenue_cny": 3000.0,
    "payment_punctuality": 0.95,
    "arrears_cny": 10.0,
    "online_share": 0.6,
    "complaints": 0.1,
    "late_payments": 0.4,
}


@pytest.mark.parametrize(
    ("changes", "customer_class", "code"),
    [
        ({"night_day_ratio": 3.2, "valley_share": 0.65}, "residential", "night_chargers"),
        ({"summer_ratio": 2.8, "winter_ratio": 0.2}, "agricultural", "seasonal_irrigation"),
        ({"winter_ratio": 0.3}, "industrial", "seasonal_production"),
        ({"load_factor": 0.65, "weekday_weekend_ratio": 1.1}, "industrial", "continuous_industry"),
        ({"complaints": 1.2}, "residential", "service_sensitive"),
        ({"late_payments": 4.0, "arrears_cny": 900.0}, "residential", "payment_risk"),
        (
            {"annual_revenue_cny": 300_000.0, "payment_punctuality": 1.0, "volatility": 0.15},
            "commercial",
            "high_value_stable",
        ),
        # Large, punctual but volatile: not stable.
        (
            {"annual_revenue_cny": 300_000.0, "volatility": 0.6, "weekday_weekend_ratio": 3.0},
            "commercial",
            "weekday_business",
        ),
        ({"annual_kwh": 1500.0, "online_share": 0.2}, "residential", "low_activity"),
        ({"yoy_growth": -0.2}, "commercial", "low_activity"),
        ({"peak_share": 0.41}, "residential", "price_sensitive"),
        ({"peak_share": 0.33}, "residential", "residential_base"),
        ({}, None, "mixed"),
    ],
)
def test_names_follow_the_rules_on_hand_made_centroids(changes, customer_class, code):
    named = naming.name({**BASE, **changes}, BASE, customer_class)
    assert named.code == code
    assert named.facts, "every name shows the figures behind it"
    assert i18n.translate(f"segments.name.{code}", "zh") != f"segments.name.{code}"


def test_a_fact_reads_value_against_the_base():
    assert naming.fact_text("peak_share", 0.41, 0.29, "en") == "Peak share 41% vs 29% overall"
    assert naming.fact_text("late_payments", 0.0, 0.5, "en").endswith("0.0 vs 0.5 overall")
    assert naming.fact_text("peak_share", 0.41, 0.29, "zh") == "峰时电量占比 41%，全体为 29%"


def test_the_dominant_class_needs_half_the_members():
    assert naming.dominant_class({"residential": 0.7, "commercial": 0.3}) == "residential"
    assert naming.dominant_class({"commercial": 0.4, "industrial": 0.35, "x": 0.25}) is None


def test_hungarian_matching_keeps_ids_of_moved_clusters_and_numbers_new_ones():
    previous = np.array([[0.0, 0.0], [5.0, 5.0], [10.0, 0.0]])
    current = np.array([[5.2, 4.9], [0.1, -0.2], [-8.0, 9.0]])
    ids = model.match_ids(previous, [3, 7, 9], current, next_id=10, sizes=np.array([5, 9, 2]))
    assert ids == [7, 3, 10]
    assert model.match_ids(np.empty((0, 2)), [], current, 1, np.array([5, 9, 2])) == [2, 1, 3]


def test_choose_k_rejects_segments_below_the_smallest_share():
    rng = np.random.default_rng(0)
    centres = np.array([[0, 0], [8, 0], [0, 8], [8, 8], [30, 30]], dtype=float)
    counts = [300, 300, 300, 300, 6]
    data = np.vstack([rng.normal(c, 0.5, (n, 2)) for c, n in zip(centres, counts, strict=True)])
    choice = model.choose_k(data, 0, k_range=range(2, 7), min_share=0.02, min_k=2)
    assert choice.k == 4
    assert choice.values[5] is None and choice.smallest_share[5] < 0.02
    loose = model.choose_k(data, 0, k_range=range(2, 7), min_share=0.0, min_k=2)
    assert loose.k == 5


def test_the_scaler_logs_sizes_and_survives_missing_values():
    raw = pd.DataFrame(
        {
            "annual_kwh": [100.0, 1_000.0, 10_000.0, np.nan],
            "online_share": [0.5, np.nan, 1.0, 0.0],
        }
    )
    scaler = matrix.fit_scaler(raw, ("annual_kwh", "online_share"))
    assert scaler.fill == (1_000.0, 0.0)
    standard = scaler.transform(raw)
    assert np.isfinite(standard).all() and standard.shape == (4, 2)
    # Standard units back to raw units: the round trip of a centroid.
    centroid = scaler.to_transformed(standard[:1])
    back = matrix.untransformed(centroid, scaler.features)
    assert back[0] == pytest.approx([100.0, 0.5])
    restored = matrix.Scaler.from_dict(scaler.as_dict())
    assert np.array_equal(restored.transform(raw), standard)


def test_an_analyst_k_out_of_range_and_too_few_customers_are_refused(featured_copy, store):
    with pytest.raises(segments.SegmentError) as refused:
        segments.fit(featured_copy, k=1)
    assert refused.value.key == "segments.bad_k"
    with pytest.raises(segments.SegmentError) as empty:
        segments.fit(store)
    assert empty.value.key == "segments.too_few_customers"


def test_a_district_viewer_segments_and_sees_only_their_district(featured_copy):
    with featured_copy.connect() as conn:
        regions = conn.execute(
            sa.select(schema.customers.c.region, sa.func.count())
            .group_by(schema.customers.c.region)
            .order_by(sa.func.count().desc())
        ).all()
    district = access.Viewer("district", "manager", regions=(regions[0][0],))
    other = access.Viewer("other", "analyst", regions=(regions[1][0],))
    run = segments.fit(featured_copy, district, seed=SEED, k=4)
    assert run.customers == regions[0][1]
    with featured_copy.connect() as conn:
        seen = segments.members(conn, district, run.run_id)
        unseen = segments.members(conn, other, run.run_id)
        log = access.audit_entries(conn, access.SYSTEM, action="segment_run")
    assert len(seen) == run.customers and seen["region"].eq(regions[0][0]).all()
    assert unseen.empty
    assert log.loc[0, "user_name"] == "district"
    # The manager has no contact grant: phone numbers are masked.
    assert seen["phone"].str.contains(r"\*").all()
