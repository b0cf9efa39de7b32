"""Savings what-ifs: shift conservation and caps, plan and basis comparison, compensation payback,
the store profile and the ranking."""

import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, errors, features, i18n, savings, tariffs
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
    with pytest.raises(errors.UserError) as raised:
        savings.shift_readings(readings, [(10, 2, 1.5)])
    assert (raised.value.key, raised.value.values) == (
        "savings.error.move_share",
        {"move": 1, "share": "1.5"},
    )


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
    with pytest.raises(errors.UserError) as raised:
        savings.basis_comparison(catalog["TOU"], usage)
    assert raised.value.key == "savings.error.not_two_part"


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
    with pytest.raises(errors.UserError) as raised:
        savings.compensation_payback(catalog["PF90"], usage.assign(kvarh=math.nan))
    assert raised.value.key == "savings.error.no_reactive_energy"


def test_typical_readings_sum_to_the_year():
    readings = savings.typical_readings("commercial", 120_000.0, 2024)
    assert len(readings) == 8784
    assert readings["kwh"].sum() == pytest.approx(120_000.0)
    with pytest.raises(errors.UserError) as raised:
        savings.typical_readings("shop", 1.0, 2024)
    assert raised.value.values["customer_class"] == "shop"


def _load_store(engine: sa.Engine, customers: pd.DataFrame, readings: pd.DataFrame) -> None:
    rows = readings.assign(ts=readings["ts"].dt.to_pydatetime())
    rows = rows.astype(object).where(rows.notna(), None)
    with engine.begin() as conn:
        conn.execute(schema.customers.insert(), customers.to_dict("records"))
        conn.execute(schema.readings.insert(), rows.to_dict("records"))


def _readings(customer_id: str, freq: str, hours_per_reading: float, base: float, **extra):
    # Over the Spring Festival: holidays, and the make-up workday Sunday 4 February.
    stamps = pd.date_range("2024-01-20", "2024-03-01", freq=freq, inclusive="left")
    kwh = (base + (stamps.hour.to_numpy() % 7) * 3.0 + stamps.minute.to_numpy() / 30) * (
        hours_per_reading
    )
    return pd.DataFrame({"customer_id": customer_id, "ts": stamps, "kwh": kwh, **extra})


STORE_CUSTOMERS = pd.DataFrame(
    {
        "customer_id": ["A", "B", "Q", "H", "D"],
        "name": ["Plant A", "Office B", "Plant Q", "Shop H", "Farm D"],
        "customer_class": ["industrial", "commercial", "industrial", "commercial", "commercial"],
        "contract_capacity_kva": [1000.0, 80.0, 400.0, 150.0, 50.0],
        "region": ["East", "West", "East", "West", "West"],
        "manager_id": ["M1", "M2", "M1", "M2", None],
        "tariff_code": ["TWO_PART", "TOU", "TWO_PART", "PF90", "TOU"],
    }
)


@pytest.fixture
def interval_store(store):
    """Hourly, 15-minute, 30-minute and daily customers, with and without reactive energy."""
    a = _readings("A", "h", 1.0, 20.0)
    a["kvarh"] = a["kwh"] * 0.5
    b = _readings("B", "h", 1.0, 4.0, kvarh=np.nan)
    q = _readings("Q", "15min", 0.25, 30.0)
    q["kvarh"] = q["kwh"] * 0.9
    h = _readings("H", "30min", 0.5, 12.0)
    h["kvarh"] = h["kwh"] * 1.2
    d = _readings("D", "D", 24.0, 2.0, kvarh=np.nan)
    readings = pd.concat([a, b, q, h, d], ignore_index=True)
    _load_store(store, STORE_CUSTOMERS, readings)
    return store, readings


def test_store_profile_bills_every_interval_as_the_readings_do(interval_store, catalog):
    store, readings = interval_store
    profile = savings.load_profile(store, catalog)
    capacity = STORE_CUSTOMERS.set_index("customer_id")["contract_capacity_kva"].to_dict()
    # Hourly and 15-minute readings are summed in the store; 30-minute and daily ones are read.
    assert set(profile.sums["customer_id"]) == {"A", "B", "Q"}
    assert set(profile.readings["customer_id"]) == {"H", "D"}
    for code, tariff in catalog.items():
        from_store = profile.usage(tariff, capacity)
        direct = tariffs.monthly_usage(readings, tariff, capacity)
        assert from_store["customer_id"].tolist() == direct["customer_id"].tolist(), code
        assert from_store["period"].tolist() == direct["period"].tolist(), code
        columns = [f"kwh_{period}" for period in tariffs.PERIODS]
        columns += ["kvarh", "max_demand_kw", "interval_minutes", "contract_capacity_kva"]
        np.testing.assert_allclose(from_store[columns], direct[columns], rtol=1e-12, err_msg=code)
        assert from_store["demand_interval"].tolist() == direct["demand_interval"].tolist()
        pd.testing.assert_frame_equal(
            tariffs.bill_usage(tariff, from_store.drop(columns="interval_minutes")),
            tariffs.bill_usage(tariff, direct.drop(columns="interval_minutes")),
            check_dtype=False,
        )
    peaks = profile.usage(catalog["TWO_PART"]).set_index(["customer_id", "period"])
    # 15-minute demand of Q: its largest reading, four to the hour.
    assert peaks.loc[("Q", "2024-02"), "max_demand_kw"] == pytest.approx(
        readings[readings.customer_id.eq("Q") & readings.ts.dt.month.eq(2)]["kwh"].max() * 4
    )
    assert peaks.loc[("Q", "2024-02"), "demand_interval"] == "15min"


def test_store_ranking_and_one_customer_agree_to_the_fen(interval_store, catalog):
    store, readings = interval_store
    ranking = savings.rank_store(store, catalog=catalog).set_index("customer_id")
    for customer in STORE_CUSTOMERS.to_dict("records"):
        own = readings[readings["customer_id"] == customer["customer_id"]].drop(
            columns="customer_id"
        )
        alone = savings.savings_of_readings(own, customer, catalog=catalog)
        row = ranking.loc[customer["customer_id"]]
        for column in savings.RANKING_COLUMNS[6:]:
            left, right = row[column], alone.figures[column]
            if isinstance(left, str) or left is None or isinstance(right, str):
                assert left == right, (customer["customer_id"], column)
            else:
                assert left == pytest.approx(right, nan_ok=True), (customer["customer_id"], column)
        best = alone.best
        assert (best.option if best else "none") == row["best_option"]
        if best is not None:
            assert best.saving_cny == row["attainable_saving_cny"]


def test_ranking_prices_each_option_by_hand(interval_store, catalog):
    store, readings = interval_store
    ranking = savings.rank_store(store, catalog=catalog).set_index("customer_id")
    plant = ranking.loc["A"]
    # Plant A on two-part by capacity: its demand (at most 38 kW) is far below its 1000 kVA, so
    # billing the basic charge on demand is the saving.
    assert plant.best_option == "basis"
    assert plant.switch_basic_basis == "demand"
    assert plant.basis_saving_cny == plant.attainable_saving_cny > 0
    # Two months of readings (20 January to 29 February) are scaled to a year.
    assert plant.months == 2
    by_capacity = tariffs.bill(readings[readings.customer_id == "A"], catalog["TWO_PART"], 1000.0)
    assert plant.annual_bill_cny == pytest.approx(by_capacity["amount_cny"].sum() * 6, abs=0.01)
    # The 30-minute shop has a power factor of 0.64: compensation pays back quickly.
    shop = ranking.loc["H"]
    assert shop.compensation_kvar > 0 and shop.compensation_payback_years < 1
    assert shop.compensation_investment_cny == shop.compensation_kvar * 120
    # The farm's daily readings are spread over their hours: the shift has nothing to move.
    assert ranking.loc["D", "shifted_kwh"] == 0
    targets = savings.target_list(ranking.reset_index(), top=1)
    assert targets["customer_id"].tolist() == [ranking.index[0]]


def test_target_list_filters_by_district_class_and_manager(interval_store, catalog):
    store, _ = interval_store
    ranking = savings.rank_store(store, catalog=catalog)
    everyone = savings.target_list(ranking)
    assert "manager_id" in everyone.columns
    east = savings.target_list(ranking, regions=["East"])
    assert set(east["region"]) == {"East"} and len(east) < len(everyone)
    mine = savings.target_list(ranking, managers=["M2"], classes=["commercial"])
    assert set(mine["manager_id"]) <= {"M2"}
    assert set(mine["customer_class"]) <= {"commercial"}
    with pytest.raises(errors.UserError):
        savings.target_list(ranking, min_saving_cny=-1)


def test_visible_ranking_keeps_the_viewer_scope_and_masks(interval_store, catalog):
    store, _ = interval_store
    ranking = savings.rank_store(store, catalog=catalog)
    manager = access.Viewer(user_name="m2", role="customer_manager", manager_id="M2")
    own = savings.visible_ranking(store, manager, ranking)
    assert set(own["customer_id"]) == {"B", "H"}
    west = access.Viewer(user_name="w", role="manager", regions=("West",))
    assert set(savings.visible_ranking(store, west, ranking)["customer_id"]) == {"B", "H", "D"}


@pytest.mark.parametrize(
    ("code", "capacity", "kvarh_share", "reason"),
    [
        ("TOU", 200.0, 0.8, "no_standard"),
        ("PF90", 50.0, 0.8, "below_capacity"),
        ("PF90", 200.0, 0.2, "at_target"),
        ("PF85", 200.0, 0.35, "best_adjustment"),
    ],
)
def test_compensation_says_why_it_never_pays_back(catalog, code, capacity, kvarh_share, reason):
    # cos φ of kvarh share 0.35: 0.94, where the 0.85 table already gives its largest reduction.
    usage = usage_rows(
        [
            {
                "period": "2024-05",
                "kwh_flat": 1000.0,
                "kvarh": 1000.0 * kvarh_share,
                "contract_capacity_kva": capacity,
            }
        ]
    )
    result = savings.compensation_payback(catalog[code], usage, 0.95)
    assert result.payback_years == math.inf
    assert result.no_payback_reason == reason
    text = i18n.translate(f"savings.no_payback.{reason}", "zh", **result.no_payback_values)
    assert "{" not in text


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


def test_one_customer_has_the_ranking_figures_and_the_features_peak_share(featured_demo_store):
    ranking = savings.rank_store(featured_demo_store).set_index("customer_id")
    table = features.table(featured_demo_store, access.SYSTEM).set_index("customer_id")
    # The two largest savings, and a customer on a tariff without hours of its own (its peak
    # share is told under its class's reference schedule).
    untimed = ranking.index[ranking["tariff_code"].isin(["RES_TIERED", "COM_FLAT", "AGR_FLAT"])]
    chosen = [*ranking.index[:2], untimed[0]]
    for customer_id in chosen:
        mine = savings.customer_savings(featured_demo_store, access.SYSTEM, customer_id)
        row = ranking.loc[customer_id]
        assert mine.figures["attainable_saving_cny"] == row["attainable_saving_cny"]
        assert (mine.best.option if mine.best else "none") == row["best_option"]
        # One figure for the peak share: the features' definition over the same twelve months.
        assert mine.figures["peak_share"] == pytest.approx(table.loc[customer_id, "peak_share"])


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
