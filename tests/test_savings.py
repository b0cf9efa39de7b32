"""Savings what-ifs: shift conservation and caps, plan and basis comparison, compensation payback,
the store profile and the ranking."""

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, savings, tariffs
from core.store import schema
from tests.test_tariffs import TEST_CATALOG, hourly, usage_rows


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> dict[str, tariffs.Tariff]:
    path = tmp_path_factory.mktemp("catalog") / "tariffs.toml"
    path.write_text(TEST_CATALOG, encoding="utf-8")
    return tariffs.load_catalog(path)


def test_period_hours_of_a_month(catalog):
    # July 2024: 31 days × (2 critical, 6 peak, 8 flat, 8 valley).
    assert savings.period_hours(catalog["TOU"], ["2024-07"]).tolist() == [[62, 186, 248, 248]]


@pytest.mark.parametrize("target", ["valley", "flat"])
def test_shift_conserves_energy_and_respects_the_cap(catalog, target):
    usage = usage_rows(
        [
            {"period": "2024-07", "kwh_critical": 620.0, "kwh_peak": 1860.0, "kwh_flat": 1000.0,
             "kwh_valley": 1240.0},
            {"period": "2024-08", "kwh_critical": 62.0, "kwh_peak": 186.0, "kwh_flat": 248.0,
             "kwh_valley": 2480.0},
        ]
    )  # fmt: skip
    shifted = savings.shift_usage(catalog["TOU"], usage, 0.5, target)
    energy = [f"kwh_{period}" for period in tariffs.PERIODS]
    np.testing.assert_allclose(shifted[energy].sum(axis=1), usage[energy].sum(axis=1))
    # July: valley base 1240 / 248 h = 5 kW; peak hours 248 × 5 = 1240 of 2480 may move;
    # half of 2480 = 1240 is within the cap.
    assert shifted["shifted_kwh"].iloc[0] == pytest.approx(1240.0)
    assert shifted[f"kwh_{target}"].iloc[0] == pytest.approx(usage[f"kwh_{target}"].iloc[0] + 1240)
    # August: valley base 10 kW is above the 1 kW at peak; nothing is shiftable.
    assert shifted["shifted_kwh"].iloc[1] == 0
    uncapped = savings.shift_usage(catalog["TOU"], usage, 0.5, target, cap_to_shape=False)
    assert uncapped["shifted_kwh"].iloc[1] == pytest.approx(124.0)


def test_shift_whatif_prices_the_move(catalog):
    usage = usage_rows([{"period": "2024-03", "kwh_peak": 1000.0, "kwh_valley": 0.0}])
    whatif = savings.shift_whatif(catalog["TOU"], usage, 0.25, cap_to_shape=False)
    row = whatif.iloc[0]
    # 1000 × 0.9176 = 917.60; after: 750 × 0.9176 + 250 × 0.2936 = 688.20 + 73.40 = 761.60.
    assert (row.amount_before_cny, row.amount_after_cny, row.saving_cny) == (917.60, 761.60, 156.0)
    assert row.kwh_valley_after == 250.0 and row.kwh_peak_after == 750.0


def test_shift_readings_moves_energy_hour_to_hour(catalog):
    readings = hourly("2024-03-01", "2024-03-03", 10.0)
    moved = savings.shift_readings(readings, [(10, 2, 0.5), (20, 23, 1.0)])
    assert moved["kwh"].sum() == pytest.approx(readings["kwh"].sum())
    by_hour = moved.groupby(moved["ts"].dt.hour)["kwh"].sum()
    assert (by_hour[10], by_hour[2], by_hour[20], by_hour[23]) == (10.0, 30.0, 0.0, 40.0)
    before = tariffs.bill(readings, catalog["TOU"])["amount_cny"].sum()
    after = tariffs.bill(moved, catalog["TOU"])["amount_cny"].sum()
    assert after < before
    with pytest.raises(ValueError, match="move 1: share 1.5 must be between 0 and 1"):
        savings.shift_readings(readings, [(10, 2, 1.5)])


def test_compare_plans_lists_every_choice_and_the_current_one(catalog):
    readings = hourly("2024-03-01", "2024-05-01", 50.0, kvarh=20.0)
    plans = savings.compare_plans(readings, catalog, "industrial", "TWO_PART", capacity_kva=400.0)
    assert set(zip(plans["code"], plans["basic_basis"], strict=True)) == {
        ("TWO_PART", "capacity"),
        ("TWO_PART", "demand"),
    }
    current = plans[plans["current"]].iloc[0]
    assert current.basic_basis == "capacity" and current.saving_cny == 0
    demand = plans[plans["basic_basis"] == "demand"].iloc[0]
    # Demand basis: 50 kW × 42 = 2100 a month against 400 kVA × 28 = 11200; two months.
    assert demand.basic_charge_cny == 4200.00
    assert plans["amount_cny"].is_monotonic_increasing


def test_basis_comparison_by_month(catalog):
    usage = usage_rows(
        [
            {"period": "2024-03", "kwh_flat": 1000.0, "max_demand_kw": 300.0,
             "contract_capacity_kva": 1000.0},
            {"period": "2024-04", "kwh_flat": 1000.0, "max_demand_kw": 800.0,
             "contract_capacity_kva": 1000.0},
        ]
    )  # fmt: skip
    comparison = savings.basis_comparison(catalog["TWO_PART"], usage)
    assert comparison["capacity_basic_cny"].tolist() == [28000.0, 28000.0]
    assert comparison["demand_basic_cny"].tolist() == [12600.0, 33600.0]
    assert comparison["demand_saving_cny"].tolist() == [15400.0, -5600.0]
    with pytest.raises(ValueError, match="has no basic charge"):
        savings.basis_comparison(catalog["TOU"], usage)


def test_compensation_payback(catalog):
    # 1000 kWh with 1333 kvarh: cos φ 0.60, +25 % of 500.00 under the 0.90 standard.
    usage = usage_rows(
        [{"period": "2024-05", "kwh_flat": 1000.0, "kvarh": 1333.0, "contract_capacity_kva": 200}]
    )
    result = savings.compensation_payback(catalog["PF90"], usage, 0.95, investment_cny=3000.0)
    row = result.monthly.iloc[0]
    assert (row.power_factor_before, row.power_factor_after) == (0.60, 0.95)
    assert (row.pf_adjustment_before_cny, row.pf_adjustment_after_cny) == (125.00, -3.75)
    assert row.saving_cny == 128.75
    assert result.annual_saving_cny == 1545.00  # one month scaled to twelve
    assert result.payback_years == pytest.approx(3000 / 1545)
    # (1333 − 1000 × tan(acos 0.95)) / 744 h in May = 1.35 → 2 kvar
    assert result.required_kvar == 2
    estimated = savings.compensation_payback(catalog["PF90"], usage, 0.95)
    assert estimated.investment_cny == 2 * savings.DEFAULT_COMPENSATION_COST_PER_KVAR
    with pytest.raises(ValueError, match="no reactive energy"):
        savings.compensation_payback(catalog["PF90"], usage.assign(kvarh=math.nan))


def test_typical_readings_sum_to_the_year():
    readings = savings.typical_readings("commercial", 120_000.0, 2024)
    assert len(readings) == 8784
    assert readings["kwh"].sum() == pytest.approx(120_000.0)
    with pytest.raises(ValueError, match="customer class 'shop'"):
        savings.typical_readings("shop", 1.0, 2024)


def _load_store(engine: sa.Engine, readings: pd.DataFrame) -> None:
    customers = pd.DataFrame(
        {
            "customer_id": ["A", "B"],
            "name": ["Plant A", "Office B"],
            "customer_class": ["industrial", "commercial"],
            "contract_capacity_kva": [1000.0, 80.0],
            "region": ["East", "West"],
            "tariff_code": ["TWO_PART", "TOU"],
        }
    )
    with engine.begin() as conn:
        conn.execute(schema.customers.insert(), customers.to_dict("records"))
        conn.execute(schema.readings.insert(), readings.to_dict("records"))


def test_store_profile_matches_the_bill_from_readings(store, catalog):
    # Over the Spring Festival: holidays, and the make-up workday Sunday 4 February.
    a = hourly("2024-02-01", "2024-03-01", 0.0, kvarh=10.0, customer_id="A")
    a["kwh"] = 20.0 + (a["ts"].dt.hour % 7) * 3.0
    b = hourly("2024-02-01", "2024-03-01", 4.0, customer_id="B")
    b["kvarh"] = None
    readings = pd.concat([a, b], ignore_index=True)
    readings["ts"] = readings["ts"].dt.to_pydatetime()
    _load_store(store, readings)
    profile, demand = savings.store_profiles(store, access.SYSTEM)
    capacity = {"A": 1000.0, "B": 80.0}
    for code in ("TWO_PART", "TOU"):
        from_store = savings.usage_from_profile(catalog[code], profile, demand, capacity)
        direct = tariffs.monthly_usage(readings, catalog[code], capacity)
        for column in [f"kwh_{period}" for period in tariffs.PERIODS] + ["kvarh"]:
            np.testing.assert_allclose(from_store[column], direct[column])
    assert demand.set_index("customer_id")["max_demand_kw"].to_dict() == {"A": 38.0}

    ranking = savings.rank_profiles(
        pd.DataFrame(
            {
                "customer_id": ["A", "B"],
                "name": ["Plant A", "Office B"],
                "customer_class": ["industrial", "commercial"],
                "region": ["East", "West"],
                "manager_id": [None, None],
                "tariff_code": ["TWO_PART", "TOU"],
                "contract_capacity_kva": [1000.0, 80.0],
            }
        ),
        profile,
        demand,
        catalog,
        savings.Assumptions(),
    )
    plant = ranking.set_index("customer_id").loc["A"]
    # 38 kW of demand against 1000 kVA of capacity: billing on demand is the saving, less the
    # power-factor reduction (cos φ 0.94: -0.60 %) that shrinks with the basic charge.
    assert plant.best_option == "basis"
    assert plant.switch_basic_basis == "demand"
    assert tariffs.bill(a, catalog["TWO_PART"], 1000.0)["power_factor"].tolist() == [0.94]
    assert plant.attainable_saving_cny == pytest.approx(
        (28000.0 - 38.0 * 42) * (1 - 0.006) * 12, abs=1.0
    )
    targets = savings.target_list(ranking, top=1)
    assert targets["customer_id"].tolist() == ["A"]


def test_ranking_on_the_demo_store(demo_store):
    ranking = savings.rank_savings(demo_store, access.SYSTEM)
    with demo_store.connect() as conn:
        customers = conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar()
    assert len(ranking) == customers
    ranked = ranking["attainable_saving_cny"].dropna()
    assert ranked.is_monotonic_decreasing
    assert (ranking["best_option"] != "none").any()
    assert set(ranking["best_option"]) <= set(savings.OPTIONS)
    # The annual bill follows from the same engine the demo billed with.
    assert (ranking["annual_bill_cny"].dropna() > 0).all()


def test_picker_lists_customers_with_readings_first_and_names_one_without(demo_url, tmp_path):
    import shutil
    from pathlib import Path

    from core import features
    from core.store import engine as store_engine

    copy = tmp_path / "picker.duckdb"
    shutil.copy(Path(sa.make_url(demo_url).database), copy)
    engine = store_engine.connect(f"duckdb:///{copy}")
    newcomer = {
        "customer_id": "0000000001",
        "name": "新装用户",
        "customer_class": "commercial",
        "region": "黄石港区",
        "tariff_code": "COM_TOU",
        "contract_capacity_kva": 50.0,
    }
    with engine.begin() as conn:
        conn.execute(schema.customers.insert(), [newcomer])
    features.refresh(engine)
    listed = savings.find_customers(engine, access.SYSTEM)
    # The newcomer sorts first by id but has nothing to bill, so it comes last.
    assert listed["customer_id"].iloc[0] != "0000000001"
    assert "0000000001" not in listed["customer_id"].head(len(listed) - 1).tolist()
    with pytest.raises(savings.NoReadingsError) as raised:
        savings.customer_readings(engine, access.SYSTEM, "0000000001")
    assert raised.value.customer_id == "0000000001"
    engine.dispose()
