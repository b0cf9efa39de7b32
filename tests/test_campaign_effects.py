"""The demo's planted campaign effects are recovered: conversion lifts and the energy shift."""

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access
from core.campaigns import energy, members, report, usage
from core.demo import truth
from core.store import engine as store_engine
from core.store import functions, schema

# Large enough for the time-of-use campaign's holdout to measure the shift of peak energy; the
# session's small demo store gives its control arm a few dozen customers only.
EFFECT_CUSTOMERS = 1000
EFFECT_SEED = 11


@pytest.fixture(scope="module")
def effect_store(tmp_path_factory):
    from core import demo

    path = tmp_path_factory.mktemp("effects") / "effects.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    demo.generate(engine, customers=EFFECT_CUSTOMERS, seed=EFFECT_SEED)
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def reports(effect_store):
    with effect_store.connect() as conn:
        stored = members.stored_members(conn, access.SYSTEM)
        return {
            item.evaluation.campaign_id: item
            for item in report.report(stored, members.designs(conn), conn)
        }, stored


def _frame(conn, table: sa.Table) -> pd.DataFrame:
    return pd.DataFrame(conn.execute(sa.select(table)).all(), columns=list(table.c.keys()))


def test_each_campaigns_lift_interval_holds_the_planted_effect(effect_store, reports):
    by_campaign, stored = reports
    with effect_store.connect() as conn:
        planted = _frame(conn, truth.customers).set_index("customer_id")
        classes = _frame(conn, schema.customers).set_index("customer_id")["customer_class"]
        effects = _frame(conn, truth.campaign_effects)
    segment_of = {
        "peak_shiftable": lambda ids: np.where(
            planted.loc[ids, "peak_shiftable"], "peak_shiftable", "other"
        ),
        "late_payer": lambda ids: np.where(
            planted.loc[ids, "late_payer"], "late_payer", "punctual"
        ),
        "residential": lambda ids: np.where(
            classes.loc[ids] == "residential", "residential", "business"
        ),
    }
    for campaign_id, item in by_campaign.items():
        uplift = effects[effects["campaign_id"] == campaign_id].set_index("segment")["uplift"]
        rule = next(rule for name, rule in segment_of.items() if name in uplift.index)
        treated = stored[(stored["campaign_id"] == campaign_id) & (stored["arm"] == "treatment")]
        reached = treated["contacted_at"].notna().mean()
        # The effect works on the contacted: by intention to treat it is diluted by the reach.
        expected = reached * uplift.reindex(rule(treated["customer_id"])).to_numpy().mean()
        [comparison] = item.evaluation.comparisons
        low, high = comparison.conversion.abs_lift_ci
        assert low <= expected <= high, (campaign_id, expected, (low, high))
        assert not item.evaluation.sample_ratio.mismatch
        assert not any(row.flagged and abs(row.smd) > 0.3 for row in item.balance)


def test_the_planted_energy_shift_is_recovered_with_cuped_and_did(effect_store, reports):
    by_campaign, stored = reports
    campaign_id = min(by_campaign)
    item = by_campaign[campaign_id]
    assert item.campaign["offer"] == "RES_TOU"
    assert item.energy is not None
    with effect_store.connect() as conn:
        shifts = _frame(conn, truth.energy_shifts).set_index("customer_id")
        spans = usage.windows(
            item.campaign["start_date"], item.campaign["end_date"], usage.last_reading(conn)
        )
        use = usage.usage(conn, stored["customer_id"], spans, "RES_TOU")
    use = use.set_index("customer_id").dropna()
    arms = stored[stored["campaign_id"] == campaign_id].set_index("customer_id")["arm"]
    use = use[use.index.isin(arms.index)]
    # A shifter's day keeps its energy and loses share s of its peak: the peak share it would have
    # had is its measured one over (1 - s).
    share = shifts["peak_shift_share"].reindex(use.index).fillna(0.0)
    change = -use["post_peak_share"] * share / (1.0 - share)
    treated = arms.reindex(use.index) == "treatment"
    planted = change[treated].mean() - change[~treated].mean()
    assert planted < -0.001
    peak = next(effect for effect in item.energy if effect.metric == "peak_share")
    kwh = next(effect for effect in item.energy if effect.metric == "kwh_per_day")
    assert peak.enough and peak.treatment_n == int(treated.sum())
    assert peak.cuped.ci[0] <= planted <= peak.cuped.ci[1]
    assert peak.did.ci[0] <= planted <= peak.did.ci[1]
    assert peak.cuped.ci[1] < 0
    # The pre-period covariate removes most of the variance of the plain comparison.
    assert peak.variance_reduction > 0.5
    assert peak.cuped.std_error < peak.unadjusted.std_error
    # Energy was moved, not saved: no change of kWh per day is planted.
    assert kwh.cuped.ci[0] <= 0.0 <= kwh.cuped.ci[1]


def test_cuped_and_did_recover_a_known_effect_from_a_synthetic_panel():
    rng = np.random.default_rng(3)
    count = 4000
    level = rng.lognormal(2.0, 0.5, count)
    treated = (rng.random(count) < 0.5).astype(float)
    pre = level * rng.lognormal(0.0, 0.05, count)
    post = 1.05 * level * rng.lognormal(0.0, 0.05, count) - 0.4 * treated
    effect = energy.estimate(pre, post, treated, "treatment", "kwh_per_day")
    assert effect.cuped.ci[0] < -0.4 < effect.cuped.ci[1]
    assert effect.did.ci[0] < -0.4 < effect.did.ci[1]
    assert effect.unadjusted.ci[0] < -0.4 < effect.unadjusted.ci[1]
    assert effect.variance_reduction > 0.9
    small = energy.estimate(pre[:20], post[:20], treated[:20], "treatment", "kwh_per_day")
    assert not small.enough and small.cuped is None


def test_the_moved_energy_keeps_every_days_total(effect_store):
    readings, planted = schema.readings, truth.energy_shifts
    day = sa.cast(readings.c.ts, sa.Date)
    with effect_store.connect() as conn:
        shifter = conn.execute(
            sa.select(planted.c.customer_id, planted.c.from_day).order_by(planted.c.customer_id)
        ).first()
        totals = conn.execute(
            sa.select(schema.bills.c.period, schema.bills.c.kwh_total).where(
                schema.bills.c.customer_id == shifter.customer_id
            )
        ).all()
        month = functions.month(readings.c.ts).label("month")
        monthly = dict(
            conn.execute(
                sa.select(month, sa.func.sum(readings.c.kwh))
                .where(readings.c.customer_id == shifter.customer_id)
                .group_by(month)
            ).all()
        )
        peak = sa.func.sum(
            sa.case((sa.extract("hour", readings.c.ts).between(8, 21), readings.c.kwh), else_=0.0)
        ) / sa.func.sum(readings.c.kwh)
        mine = readings.c.customer_id == shifter.customer_id
        shares = {
            after: conn.execute(
                sa.select(peak).where(mine, (day >= shifter.from_day) == after)
            ).scalar_one()
            for after in (True, False)
        }
    for period, kwh_total in totals:
        assert monthly[period] == pytest.approx(kwh_total, abs=0.01)
    assert shares[True] < shares[False] - 0.05


def test_uplift_models_rank_the_planted_responsive_segment_first(effect_store):
    from core.campaigns import uplift

    with effect_store.connect() as conn:
        planted = _frame(conn, truth.customers).set_index("customer_id")
        direct_debit = conn.execute(
            sa.select(schema.campaigns.c.campaign_id).where(
                schema.campaigns.c.offer == "direct_debit"
            )
        ).scalar_one()
        result = uplift.fit(conn, access.SYSTEM, direct_debit)
        proposal = uplift.propose(conn, access.SYSTEM, direct_debit)
    scores = result.scores.join(planted["late_payer"])
    assert result.customers == len(scores) == EFFECT_CUSTOMERS
    base_share = scores["late_payer"].mean()
    for model in uplift.MODELS:
        by_segment = scores.groupby("late_payer")[model].mean()
        assert by_segment[True] > by_segment[False], model
        top = scores.sort_values(model, ascending=False).head(len(scores) // 10)
        assert top["late_payer"].mean() > 2 * base_share, model
        curve = result.curves[model]
        assert curve.auuc_ci[0] <= curve.auuc <= curve.auuc_ci[1]
        assert curve.targeted[0] == 0 and curve.targeted[-1] == 1
    assert max(curve.auuc for curve in result.curves.values()) > 0
    # The proposal pays for its contacts, best first, and reaches late payers first.
    assert (proposal["net_value_cny"] > 0).all()
    assert proposal["net_value_cny"].is_monotonic_decreasing
    head = planted.loc[proposal["customer_id"].head(50), "late_payer"].mean()
    assert head > 2 * base_share


def test_the_auuc_of_a_perfect_ranking_excludes_zero_and_a_random_one_does_not():
    from core.campaigns import uplift

    rng = np.random.default_rng(5)
    count = 6000
    responsive = rng.random(count) < 0.2
    treated = (rng.random(count) < 0.5).astype(float)
    rate = 0.03 + np.where(responsive & (treated == 1), 0.2, 0.0)
    converted = (rng.random(count) < rate).astype(float)
    perfect = uplift.qini_curve("oracle", responsive + rng.random(count) * 1e-6, treated, converted)
    shuffled = np.random.default_rng(2).random(count)
    random = uplift.qini_curve("random", shuffled, treated, converted)
    assert perfect.beats_random
    assert perfect.auuc > random.auuc
    assert random.auuc_ci[0] < 0 < random.auuc_ci[1]
    # The curve ends at the campaign's incremental conversions, whatever the order.
    assert perfect.incremental[-1] == pytest.approx(random.incremental[-1])
