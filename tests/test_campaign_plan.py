"""Planning a campaign: a stratified, reproducible draw, the power check, the plan in the store."""

import datetime as dt
import shutil

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa
from statsmodels.stats.power import NormalIndPower
from statsmodels.stats.proportion import proportion_effectsize

from core import access, campaigns, errors, target_lists
from core.campaigns import members as campaign_members
from core.campaigns import power
from core.store import engine as store_engine
from core.store import schema


def _people(count: int) -> pd.DataFrame:
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {
            "customer_id": [f"C{index:06d}" for index in range(count)],
            "segment": rng.choice(["a", "b", "c"], count, p=[0.6, 0.3, 0.1]),
            "usage_decile": rng.integers(1, 11, count),
        }
    )


SHARES = {"control": 0.2, "sms": 0.5, "app_push": 0.3}


def test_the_draw_is_reproducible_and_keeps_the_shares_in_every_stratum():
    people = _people(3000)
    first = campaigns.assign(people, SHARES, 7, ("segment", "usage_decile"))
    again = campaigns.assign(
        people.sample(frac=1.0, random_state=3), SHARES, 7, ("segment", "usage_decile")
    )
    other = campaigns.assign(people, SHARES, 8, ("segment", "usage_decile"))
    assert first.equals(again)
    assert not first.equals(other)
    joined = people.set_index("customer_id").join(first)
    for _, stratum in joined.groupby(["segment", "usage_decile"]):
        counts = stratum["arm"].value_counts()
        for arm, share in SHARES.items():
            assert abs(counts.get(arm, 0) - share * len(stratum)) <= 1.0 + 1e-9
    overall = first.value_counts(normalize=True)
    for arm, share in SHARES.items():
        assert overall[arm] == pytest.approx(share, abs=0.005)


def test_an_unstratified_draw_is_balanced_too():
    people = _people(1001)
    drawn = campaigns.assign(people, {"control": 0.5, "treatment": 0.5}, 1)
    counts = drawn.value_counts()
    assert abs(counts["control"] - counts["treatment"]) <= 1
    # Randomized: the arms do not follow the customer order.
    first_half = drawn.iloc[:500]
    assert 200 < (first_half == "control").sum() < 300


def test_conversion_mde_is_statsmodels_power_on_cohens_h():
    mde = power.conversion_mde(0.05, 1600, 400)
    h = NormalIndPower().solve_power(nobs1=1600, alpha=0.05, power=0.8, ratio=0.25)
    assert proportion_effectsize(0.05 + mde, 0.05) == pytest.approx(h)
    # Four times the customers halve the detectable lift, roughly.
    assert power.conversion_mde(0.05, 6400, 1600) == pytest.approx(mde / 2, rel=0.1)
    assert power.mean_mde(3.0, 1600, 400) == pytest.approx(3.0 * h)


def test_a_plan_too_small_says_so():
    small = power.check_power({"control": 0.2, "treatment": 0.8}, 100, 0.03)
    assert small.too_small
    assert {notice.key for notice in small.notices} >= {"campaigns.notice.plan_arm_too_small"}
    doubling = power.check_power({"control": 0.2, "treatment": 0.8}, 600, 0.02)
    assert doubling.too_small
    assert "campaigns.notice.plan_doubling" in {notice.key for notice in doubling.notices}
    large = power.check_power({"control": 0.2, "treatment": 0.8}, 20000, 0.05)
    assert not large.too_small and large.conversion_mde < 0.015
    hopeful = power.check_power({"control": 0.2, "treatment": 0.8}, 20000, 0.05, None, 0.001)
    assert hopeful.too_small


def test_a_bad_plan_is_refused_with_a_reason():
    arm = campaigns.Arm("sms", "RES_TOU", "sms", 0.5)
    good = campaigns.Plan("TOU", "upsell", (arm,), dt.date(2026, 3, 1), dt.date(2026, 4, 1))
    campaigns.plan.check(good)
    bad = {
        "campaigns.error.holdout": {"holdout_share": 0.9},
        "campaigns.error.dates": {"end_date": dt.date(2026, 1, 1)},
        "campaigns.error.goal": {"goal": "win"},
        "campaigns.error.no_arms": {"arms": ()},
        "campaigns.error.channel": {"arms": (campaigns.Arm("x", "RES_TOU", "fax", 1.0),)},
        "campaigns.error.arm_name": {"arms": (campaigns.Arm("control", "RES_TOU", "sms", 1.0),)},
        "campaigns.error.arm_twice": {"arms": (arm, arm)},
        "campaigns.error.strata": {"strata": ("age",)},
    }
    for key, change in bad.items():
        with pytest.raises(errors.UserError) as refused:
            campaigns.plan.check(campaigns.Plan(**{**good.__dict__, **change}))
        assert refused.value.key == key


@pytest.fixture
def writable(demo_url, tmp_path):
    target = tmp_path / "plan.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, target)
    engine = store_engine.connect(f"duckdb:///{target}")
    yield engine
    engine.dispose()


def _plan(**change) -> campaigns.Plan:
    arms = (
        campaigns.Arm("tou_sms", "RES_TOU", "sms", 0.5),
        campaigns.Arm("tou_wechat", "RES_TOU", "wechat", 0.3),
    )
    base = campaigns.Plan(
        name="峰谷电价推广 2026",
        goal="upsell",
        arms=arms,
        start_date=dt.date(2026, 3, 1),
        end_date=dt.date(2026, 4, 30),
        holdout_share=0.2,
        seed=42,
        strata=("segment",),
        source_kind="target_list",
    )
    return campaigns.Plan(**{**base.__dict__, **change})


def test_a_plan_from_a_target_list_is_written_with_its_arms_and_audited(writable):
    with writable.begin() as conn:
        ids = (
            conn.execute(
                sa.select(schema.customers.c.customer_id).where(
                    schema.customers.c.customer_class == "residential"
                )
            )
            .scalars()
            .all()
        )
        list_id = target_lists.save(
            conn,
            access.SYSTEM,
            "residential",
            pd.DataFrame({"customer_id": ids}),
            source="rule",
        )
    with writable.connect() as conn:
        targets = campaigns.targets(conn, access.SYSTEM, "target_list", str(list_id))
    assert sorted(targets["customer_id"]) == sorted(ids)
    assert targets["segment"].notna().all() and targets["usage_decile"].notna().any()
    plan = _plan(source_ref=str(list_id))
    created = campaigns.create(writable, access.SYSTEM, plan, targets)
    with writable.connect() as conn:
        stored = campaign_members.stored_members(conn, access.SYSTEM, created.campaign_id)
        arms = pd.DataFrame(
            conn.execute(
                sa.select(schema.campaign_arms).where(
                    schema.campaign_arms.c.campaign_id == created.campaign_id
                )
            ).all(),
            columns=list(schema.campaign_arms.c.keys()),
        )
        recorded = conn.execute(
            sa.select(schema.campaign_plans).where(
                schema.campaign_plans.c.campaign_id == created.campaign_id
            )
        ).one()
        audit = conn.execute(
            sa.select(schema.audit_log.c.action, schema.audit_log.c.target).where(
                schema.audit_log.c.action == "campaign_planned"
            )
        ).all()
        designs = campaign_members.designs(conn, [created.campaign_id])
    assert created.campaign_id.startswith("CMP2026")
    assert len(stored) == len(ids)
    assert set(stored["arm"]) == {"control", "tou_sms", "tou_wechat"}
    assert stored.loc[stored["arm"] == "tou_sms", "channel"].eq("sms").all()
    assert arms.set_index("arm")["planned_share"].sum() == pytest.approx(1.0)
    # An energy offer is also balanced by usage decile, and the draw is reproducible.
    assert recorded.strata == "segment,usage_decile" and recorded.seed == 42
    again = campaigns.assign(targets, plan.shares(), 42, ("segment", "usage_decile"))
    assert again.reindex(stored["customer_id"]).tolist() == stored["arm"].tolist()
    assert audit == [("campaign_planned", created.campaign_id)]
    # Nobody contacted yet; the arm sizes match the plan.
    [result] = campaigns.evaluate(stored, designs)
    assert not result.sample_ratio.mismatch
    with pytest.raises(errors.UserError) as taken:
        campaigns.create(writable, access.SYSTEM, _plan(campaign_id=created.campaign_id), targets)
    assert taken.value.key == "campaigns.error.campaign_exists"


def test_a_planner_cannot_plan_customers_outside_their_scope(writable):
    with writable.connect() as conn:
        rows = conn.execute(
            sa.select(schema.customers.c.customer_id, schema.customers.c.region)
        ).all()
    regions = sorted({region for _, region in rows})
    mine = access.Viewer("planner", "analyst", regions=(regions[0],))
    outside = [customer for customer, region in rows if region != regions[0]][:2]
    inside = [customer for customer, region in rows if region == regions[0]]
    with writable.connect() as conn, pytest.raises(errors.UserError) as refused:
        campaigns.targets(conn, mine, "customer_ids", customer_ids=inside + outside)
    assert refused.value.key == "campaigns.error.unknown_members"
    with writable.connect() as conn:
        targets = campaigns.targets(conn, mine, "customer_ids", customer_ids=inside)
    everyone = pd.DataFrame({"customer_id": [customer for customer, _ in rows], "segment": "x"})
    with pytest.raises(errors.UserError):
        campaigns.create(writable, mine, _plan(source_kind="customer_ids"), everyone)
    assert len(targets) == len(inside)


def test_the_store_gives_the_spread_of_daily_use(demo_store):
    with demo_store.connect() as conn:
        ids = conn.execute(sa.select(schema.customers.c.customer_id)).scalars().all()
        spread = campaigns.usage_spread(conn, ids)
        baseline = campaigns.baseline_rate(conn, access.SYSTEM, "retain")
        stored = campaign_members.stored_members(conn, access.SYSTEM)
        goals = dict(
            conn.execute(sa.select(schema.campaigns.c.campaign_id, schema.campaigns.c.goal)).all()
        )
    assert spread.customers > 100
    assert spread.spread > 0 and 0.5 < spread.correlation <= 1.0
    held = stored[(stored["arm"] == "control") & (stored["campaign_id"].map(goals) == "retain")]
    assert baseline == pytest.approx(held["converted_at"].notna().mean())
    check = campaigns.check_power({"control": 0.2, "treatment": 0.8}, 5000, baseline, spread)
    assert check.kwh_mde_adjusted < check.kwh_mde
