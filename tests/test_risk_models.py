"""Arrears, churn and complaint risk: holdout AUC floors, no leakage, stored scores, triage."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, i18n
from core.risk import models, reasons, snapshots
from core.risk import settings as risk_settings
from core.store import engine as store_engine
from core.store import schema

# Large enough that each holdout has dozens of positives; the session store's 120 customers
# leave single digits and an AUC that moves by 0.1 from one seed to the next.
MODEL_CUSTOMERS = 600
MODEL_SEED = 11
# The stated floors on the demo. Arrears: a late payer pays late about half the time, others
# one time in twenty, so even knowing who is a late payer gives about 0.7. Complaints: most
# follow outages that have not happened yet at the cut-off; what is knowable (class, a recent
# outage, a recent complaint) lifts the model above chance, not far.
AUC_FLOORS = {"arrears": 0.62, "churn": 0.7, "complaint": 0.51}
# A model fitted in a scrambled time order may match the honest one by chance, not beat it.
SHUFFLE_TOLERANCE = 0.02

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_url(tmp_path_factory) -> str:
    from core import demo

    path = tmp_path_factory.mktemp("models") / "models.duckdb"
    url = f"duckdb:///{path}"
    engine = store_engine.connect(url)
    demo.generate(engine, customers=MODEL_CUSTOMERS, seed=MODEL_SEED)
    engine.dispose()
    return url


@pytest.fixture(scope="module")
def model_store(model_url):
    engine = store_engine.connect(model_url)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def evaluations(model_store):
    found = {}
    with model_store.connect() as conn:
        for kind in models.KINDS:
            honest, _, _ = models.evaluate(conn, kind)
            shuffled, _, _ = models.evaluate(conn, kind, shuffle_time=True)
            found[kind] = (honest, shuffled)
    return found


@pytest.mark.parametrize("kind", models.KINDS)
def test_holdout_auc_is_above_its_floor(evaluations, kind):
    honest, _ = evaluations[kind]
    assert honest.auc >= AUC_FLOORS[kind], honest.auc
    assert honest.holdout_positives >= 10
    # Learnt only from snapshots whose outcomes were known before the holdout began.
    spec = models.SPECS[kind]
    first_holdout = honest.holdout_cutoffs[0]
    assert all(
        snapshots.month_start(day, spec.horizon_months) <= first_holdout
        for day in honest.train_cutoffs
    )
    predicted = honest.probabilities["predicted"]
    assert predicted.between(0, 1).all()
    # The calibration curve: the bins run from low to high predictions and cover the holdout.
    bins = honest.calibration
    assert len(bins) >= 2
    assert [b["predicted"] for b in bins] == sorted(b["predicted"] for b in bins)
    assert sum(b["rows"] for b in bins) == honest.holdout_rows


@pytest.mark.parametrize("kind", models.KINDS)
def test_a_model_fitted_in_shuffled_time_order_does_not_beat_the_honest_one(evaluations, kind):
    honest, shuffled = evaluations[kind]
    assert shuffled.holdout_rows == honest.holdout_rows
    assert shuffled.auc <= honest.auc + SHUFFLE_TOLERANCE, (shuffled.auc, honest.auc)


def _truncate(url: str, cutoff: dt.date) -> None:
    """Removes from a store everything that was not known before ``cutoff``."""
    engine = store_engine.connect(url)
    at = dt.datetime.combine(cutoff, dt.time())
    with engine.begin() as conn:
        bills, orders, outages = schema.bills, schema.work_orders, schema.outages
        conn.execute(schema.readings.delete().where(schema.readings.c.ts >= at))
        conn.execute(bills.delete().where(bills.c.due_date >= cutoff))
        conn.execute(
            bills.update().where(bills.c.paid_date >= cutoff).values(paid_date=None, paid_cny=None)
        )
        conn.execute(orders.delete().where(orders.c.created_at >= at))
        conn.execute(outages.delete().where(outages.c.start >= at))
        conn.execute(outages.update().where(outages.c.end >= at).values(end=None))
        conn.execute(
            schema.channel_activity.delete().where(schema.channel_activity.c.date >= cutoff)
        )
    engine.dispose()


def test_features_of_a_cutoff_are_what_was_known_before_it(demo_url, tmp_path):
    cutoff = dt.date(2025, 7, 1)
    engine = store_engine.connect(demo_url)
    with engine.connect() as conn:
        full = snapshots.features_at(conn, access.SYSTEM, cutoff)
    engine.dispose()
    target = tmp_path / "truncated.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    url = f"duckdb:///{target}"
    _truncate(url, cutoff)
    engine = store_engine.connect(url)
    with engine.connect() as conn:
        known = snapshots.features_at(conn, access.SYSTEM, cutoff)
    engine.dispose()
    assert len(full) == len(known) > 100
    pd.testing.assert_frame_equal(full, known)
    # And the features do move with what happened before: not a frame of constants.
    assert full["late_12m"].nunique() > 2 and full["usage_yoy_3m"].abs().sum() > 0


def test_training_stores_scores_with_version_and_model_figures(model_url, tmp_path):
    target = tmp_path / "trained.duckdb"
    shutil.copyfile(sa.make_url(model_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    summaries = models.train_and_score(engine)
    assert [summary.kind for summary in summaries] == list(models.KINDS)
    with engine.connect() as conn:
        stored = pd.read_sql(
            sa.select(schema.risk_scores).where(schema.risk_scores.c.kind.in_(models.KINDS)), conn
        )
        customers = conn.execute(sa.select(sa.func.count()).select_from(schema.customers))
        customer_count = customers.scalar_one()
    reports = models.model_reports(engine)
    assert set(reports["kind"]) == set(models.KINDS)
    assert reports["holdout_auc"].between(0.5, 1).all()
    for kind in models.KINDS:
        scores = stored[stored["kind"] == kind]
        assert len(scores) == customer_count
        assert scores["model_version"].nunique() == 1
        assert scores["model_version"].iloc[0].startswith(f"{kind}-lr-")
        assert (pd.to_datetime(scores["scored_on"]) == pd.Timestamp("2025-12-31")).all()
    arrears = stored[stored["kind"] == "arrears"]
    assert set(arrears["triage"].dropna()) <= {"assistance", "collection"}
    assert arrears["triage"].notna().sum() > 0
    # The likely late payers are flagged first: their score is higher than the rest's.
    assert arrears["score"].max() > 3 * arrears["score"].median()
    engine.dispose()


def test_a_customer_manager_sees_only_their_customers_risks(model_url, tmp_path):
    target = tmp_path / "scoped.duckdb"
    shutil.copyfile(sa.make_url(model_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    models.train_and_score(engine, ("arrears",))
    with engine.connect() as conn:
        owners = pd.read_sql(
            sa.select(schema.customers.c.customer_id, schema.customers.c.manager_id), conn
        )
    manager = owners["manager_id"].mode().iloc[0]
    viewer = access.Viewer(user_name="cm", role="customer_manager", manager_id=manager)
    listed = models.scored_list(engine, viewer, "arrears", 10_000)
    mine = set(owners.loc[owners["manager_id"] == manager, "customer_id"])
    assert set(listed["customer_id"]) == mine
    other = owners.loc[owners["manager_id"] != manager, "customer_id"].iloc[0]
    assert models.customer_scores(engine, viewer, other).empty
    own = next(iter(mine))
    scores = models.customer_scores(engine, viewer, own)
    assert scores["kind"].tolist() == ["arrears"]
    engine.dispose()


def test_triage_routes_who_cannot_pay_to_assistance():
    frame = pd.DataFrame(
        {
            "customer_id": ["falling", "first", "repeat", "business", "fine"],
            "customer_class": [
                "residential",
                "residential",
                "residential",
                "commercial",
                "residential",
            ],
            "arrears_cny": [120.0, 80.0, 300.0, 5000.0, 0.0],
            "usage_yoy_3m": [-0.3, 0.02, 0.01, -0.4, 0.0],
            "late_12m": [4.0, 1.0, 5.0, 6.0, 0.0],
        }
    )
    settings = risk_settings.load()
    routes = models.triage(frame, np.array([0.5, 0.2, 0.6, 0.7, 0.05]), settings)
    assert list(routes) == ["assistance", "assistance", "collection", "collection", None]


def test_every_feature_has_words_in_both_languages():
    for name in snapshots.FEATURES:
        factor = {"key": name, "values": {"value": 3.0}}
        english, chinese = reasons.factor_text(factor, "en"), reasons.factor_text(factor, "zh")
        assert f"risk.factor.{name}" in i18n.catalogs()["zh"]
        assert english != chinese
    assert reasons.factor_text({"key": "arrears_cny", "values": {"value": 1240}}, "en") == (
        "Arrears ¥1,240"
    )
