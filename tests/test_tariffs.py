"""Bill engine: hand-computed bills for every tariff feature, catalog and readings validation."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core import errors, tariffs

# A catalog of its own, so that editing the example prices in data/tariffs.toml cannot move the
# hand-computed figures below.
TEST_CATALOG = """
[tariffs.TIERED]
name = "Tiered"
name_zh = "阶梯"
customer_classes = ["residential"]
kind = "tiered"
tier_basis = "annual"
tiers = [
    { up_to_kwh = 2160, price = 0.558 },
    { up_to_kwh = 4800, price = 0.608 },
    { price = 0.858 },
]

[tariffs.MONTHLY_TIERS]
name = "Monthly tiers"
name_zh = "月阶梯"
customer_classes = ["residential"]
kind = "tiered"
tier_basis = "monthly"
tiers = [{ up_to_kwh = 180, price = 0.5 }, { price = 0.8 }]

[tariffs.RES_TOU]
name = "Residential TOU"
name_zh = "居民峰谷"
customer_classes = ["residential"]
kind = "tou"
tiers = [
    { up_to_kwh = 2160, surcharge = 0.0 },
    { up_to_kwh = 4800, surcharge = 0.05 },
    { surcharge = 0.30 },
]
[tariffs.RES_TOU.prices]
peak = 0.588
valley = 0.308
[[tariffs.RES_TOU.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
peak = [[8, 22]]
valley = [[22, 24], [0, 8]]

[tariffs.TOU]
name = "Commercial TOU"
name_zh = "工商业分时"
customer_classes = ["commercial"]
kind = "tou"
[tariffs.TOU.prices]
critical = 1.1011
peak = 0.9176
flat = 0.6117
valley = 0.2936
[[tariffs.TOU.schedule]]
months = [7, 8]
critical = [[20, 22]]
peak = [[9, 15]]
flat = [[7, 9], [15, 20], [22, 23]]
valley = [[23, 24], [0, 7]]
[[tariffs.TOU.schedule]]
months = [1, 2, 3, 4, 5, 6, 9, 10, 11, 12]
peak = [[9, 15], [20, 22]]
flat = [[7, 9], [15, 20], [22, 23]]
valley = [[23, 24], [0, 7]]

[tariffs.TWO_PART]
name = "Two-part"
name_zh = "两部制"
customer_classes = ["industrial"]
kind = "two_part"
capacity_price_kva = 28.0
demand_price_kw = 42.0
declared_demand_floor_share = 0.40
demand_excess_threshold = 1.05
demand_excess_multiplier = 2.0
power_factor_standard = 0.90
[tariffs.TWO_PART.prices]
peak = 0.8351
flat = 0.5567
valley = 0.2672
[[tariffs.TWO_PART.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
days = "workday"
peak = [[9, 15], [20, 22]]
flat = [[7, 9], [15, 20], [22, 23]]
valley = [[23, 24], [0, 7]]
[[tariffs.TWO_PART.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
days = "non_workday"
peak = [[9, 11], [15, 22]]
flat = [[7, 9], [22, 23]]
valley = [[23, 24], [0, 7], [11, 15]]

[tariffs.PF90]
name = "Flat, standard 0.90"
name_zh = "单一制 0.90"
customer_classes = ["commercial"]
kind = "flat"
price = 0.5
power_factor_standard = 0.90
power_factor_min_capacity_kva = 100

[tariffs.PF85]
name = "Flat, standard 0.85"
name_zh = "单一制 0.85"
customer_classes = ["commercial"]
kind = "flat"
price = 0.5
power_factor_standard = 0.85

[tariffs.PF80]
name = "Flat, standard 0.80"
name_zh = "单一制 0.80"
customer_classes = ["agricultural"]
kind = "flat"
price = 0.5
power_factor_standard = 0.80
"""


@pytest.fixture(scope="module")
def catalog(tmp_path_factory) -> dict[str, tariffs.Tariff]:
    path = tmp_path_factory.mktemp("catalog") / "tariffs.toml"
    path.write_text(TEST_CATALOG, encoding="utf-8")
    return tariffs.load_catalog(path)


def usage_rows(rows: list[dict]) -> pd.DataFrame:
    defaults = {
        "customer_id": "C1",
        "kwh_critical": 0.0,
        "kwh_peak": 0.0,
        "kwh_flat": 0.0,
        "kwh_valley": 0.0,
        "kvarh": math.nan,
        "max_demand_kw": math.nan,
        "demand_interval": None,
        "contract_capacity_kva": math.nan,
    }
    return pd.DataFrame([{**defaults, **row} for row in rows])


def hourly(start: str, end: str, kwh: float | np.ndarray = 10.0, **extra) -> pd.DataFrame:
    stamps = pd.date_range(start, end, freq="h", inclusive="left")
    return pd.DataFrame({"ts": stamps, "kwh": kwh, **extra})


def test_shipped_catalog_has_the_codes_the_demo_assigns():
    catalog = tariffs.load_catalog()
    assert {"RES_TIERED", "RES_TOU", "COM_TOU", "IND_TWO_PART", "AGR_FLAT"} <= set(catalog)
    assert catalog["RES_TIERED"].tiers[0] == tariffs.Tier(2160.0, 0.558)
    assert catalog["RES_TIERED"].tiers[1] == tariffs.Tier(4800.0, 0.608)
    assert catalog["IND_TWO_PART"].power_factor_standard == 0.90
    assert catalog["IND_TWO_PART"].has_day_types
    assert catalog["AGR_FLAT"].power_factor_standard == 0.80
    assert "critical" in catalog["COM_TOU"].periods_used
    assert catalog["COM_TOU"].customer_classes == ("commercial", "industrial")
    assert "examples to edit" in tariffs.DEFAULT_CATALOG.read_text(encoding="utf-8").lower()


def test_codes_for_class_lists_every_tariff_of_the_class_whatever_the_capacity():
    catalog = tariffs.load_catalog()
    commercial = tariffs.codes_for_class(catalog, "commercial")
    assert "COM_TOU" in commercial
    assert "RES_TIERED" not in commercial
    assert commercial == [code for code in catalog if code in commercial]
    industrial = tariffs.codes_for_class(catalog, "industrial")
    assert {"COM_TOU", "IND_TWO_PART"} <= set(industrial)
    assert not catalog["IND_TWO_PART"].eligible("industrial", None)
    assert tariffs.codes_for_class(catalog, "no such class") == []


def test_half_up_rounding_to_the_fen():
    # 12.5 kWh × 0.558 = 6.975 exactly; binary floats hold 6.97499..., a naive round gives 6.97.
    assert tariffs.to_fen(12.5 * 0.558) == 698
    assert tariffs.to_fen(0.125) == 13
    assert tariffs.to_fen(-0.125) == -13
    assert tariffs.to_fen(100 * 0.558) == 5580


def test_tou_with_critical_peak_across_a_month_boundary(catalog):
    readings = hourly("2024-06-30 00:00", "2024-07-02 00:00")
    bills = tariffs.bill(readings, catalog["TOU"]).set_index("period")
    june, july = bills.loc["2024-06"], bills.loc["2024-07"]
    # 30 June: peak 9-15 and 20-22 (8 h), flat 7-9, 15-20, 22-23 (8 h), valley 23-7 (8 h).
    assert (june.kwh_critical, june.kwh_peak, june.kwh_flat, june.kwh_valley) == (0, 80, 80, 80)
    assert june.charge_peak_cny == 73.41  # 80 × 0.9176 = 73.408
    assert june.charge_flat_cny == 48.94  # 80 × 0.6117 = 48.936
    assert june.charge_valley_cny == 23.49  # 80 × 0.2936 = 23.488
    assert june.amount_cny == 145.84
    # 1 July: critical 20-22 (2 h), peak 9-15 (6 h), flat 8 h, valley 8 h.
    assert (july.kwh_critical, july.kwh_peak, july.kwh_flat, july.kwh_valley) == (20, 60, 80, 80)
    assert july.charge_critical_cny == 22.02  # 20 × 1.1011 = 22.022
    assert july.charge_peak_cny == 55.06  # 60 × 0.9176 = 55.056
    assert july.amount_cny == 149.51
    assert july.energy_charge_cny == 149.51
    assert july.basic_charge_cny == 0 and july.pf_adjustment_cny == 0
    assert july.demand_interval == "hourly" and july.max_demand_kw == 10


def test_period_labels_follow_holidays_and_make_up_workdays(catalog):
    stamps = pd.DatetimeIndex(
        [
            "2024-02-04 12:00",  # Sunday, make-up workday for the Spring Festival
            "2024-02-10 12:00",  # Spring Festival
            "2024-10-01 12:00",  # National Day, a Tuesday
            "2024-10-08 12:00",  # ordinary Tuesday
            "2024-10-12 12:00",  # Saturday, make-up workday
            "2024-10-13 12:00",  # ordinary Sunday
        ]
    )
    labels = tariffs.period_labels(catalog["TWO_PART"], stamps)
    assert list(labels) == ["peak", "valley", "valley", "peak", "peak", "valley"]
    assert set(tariffs.period_labels(catalog["PF90"], stamps)) == {"flat"}


def test_annual_tiers_cross_thresholds_mid_month_and_restart_each_year(catalog):
    usage = usage_rows(
        [
            {"customer_id": "A", "period": "2024-03", "kwh_flat": 2500.0},
            {"customer_id": "B", "period": "2024-01", "kwh_flat": 100.0},
            {"customer_id": "A", "period": "2025-01", "kwh_flat": 100.0},
            {"customer_id": "A", "period": "2024-01", "kwh_flat": 2000.0},
            {"customer_id": "A", "period": "2024-02", "kwh_flat": 400.0},
        ]
    )
    usage.index = [50, 40, 30, 20, 10]
    bills = tariffs.bill_usage(catalog["TIERED"], usage)
    assert list(bills.index) == [50, 40, 30, 20, 10]
    march, b_january, next_january, january, february = (bills.loc[i] for i in usage.index)
    assert (january.tier1_kwh, january.tier2_kwh, january.amount_cny) == (2000, 0, 1116.00)
    # February: cumulative 2000 → 2400 crosses 2160: 160 × 0.558 + 240 × 0.608.
    assert (february.tier1_kwh, february.tier2_kwh) == (160, 240)
    assert (february.tier1_cny, february.tier2_cny, february.amount_cny) == (89.28, 145.92, 235.20)
    # March: 2400 → 4900 crosses 4800: 2400 × 0.608 + 100 × 0.858.
    assert (march.tier2_kwh, march.tier3_kwh, march.amount_cny) == (2400, 100, 1545.00)
    assert (next_january.tier1_kwh, next_january.amount_cny) == (100, 55.80)
    assert b_january.amount_cny == 55.80
    assert bills["charge_flat_cny"].eq(0).all()


def test_monthly_tiers_and_tou_tier_surcharge(catalog):
    monthly = tariffs.bill_usage(
        catalog["MONTHLY_TIERS"],
        usage_rows(
            [{"period": "2024-01", "kwh_flat": 200.0}, {"period": "2024-02", "kwh_flat": 100.0}]
        ),
    )
    assert list(monthly["amount_cny"]) == [106.00, 50.00]  # 180 × 0.5 + 20 × 0.8; 100 × 0.5
    surcharged = tariffs.bill_usage(
        catalog["RES_TOU"],
        usage_rows(
            [
                {"period": "2024-01", "kwh_valley": 2100.0},
                {"period": "2024-02", "kwh_peak": 100.0, "kwh_valley": 60.0},
            ]
        ),
    )
    february = surcharged.iloc[1]
    assert surcharged.iloc[0].amount_cny == 646.80  # 2100 × 0.308
    assert (february.charge_peak_cny, february.charge_valley_cny) == (58.80, 18.48)
    assert (february.tier2_kwh, february.tier2_cny) == (100, 5.00)  # 100 kWh over 2160 × 0.05
    assert february.amount_cny == 82.28


TWO_PART_ENERGY = {"kwh_peak": 30000.0, "kwh_flat": 40000.0, "kwh_valley": 30000.0}
ENERGY_CNY = 55337.00  # 30000 × 0.8351 + 40000 × 0.5567 + 30000 × 0.2672


@pytest.mark.parametrize(
    ("basis", "demand", "declared", "basic", "excess"),
    [
        ("capacity", 600.0, None, 28000.00, 0.0),  # 1000 kVA × 28
        ("demand", 600.0, None, 25200.00, 0.0),  # actual 600 kW × 42
        ("demand", 600.0, 500.0, 28350.00, 6300.00),  # 525 × 42 + (600 − 525) × 42 × 2
        ("demand", 600.0, 580.0, 24360.00, 0.0),  # 600 ≤ 609: the declared 580 × 42
        ("demand", 380.0, 300.0, 16800.00, 0.0),  # declared raised to 40 % of 1000 kVA: 400 × 42
    ],
)
def test_two_part_basic_charge_by_capacity_or_demand(
    catalog, basis, demand, declared, basic, excess
):
    row = {
        "period": "2024-03",
        **TWO_PART_ENERGY,
        "max_demand_kw": demand,
        "demand_interval": "15min",
        "contract_capacity_kva": 1000.0,
        "basic_basis": basis,
        "declared_demand_kw": math.nan if declared is None else declared,
    }
    result = tariffs.bill_usage(catalog["TWO_PART"], usage_rows([row])).iloc[0]
    assert result.energy_charge_cny == ENERGY_CNY
    assert result.basic_basis == basis
    assert result.basic_charge_cny == basic
    assert result.basic_excess_cny == excess
    assert result.amount_cny == round(ENERGY_CNY + basic, 2)


def test_two_part_defaults_to_the_tariff_basis_and_needs_what_its_basis_needs(catalog):
    row = {"period": "2024-03", **TWO_PART_ENERGY, "contract_capacity_kva": 800.0}
    result = tariffs.bill_usage(catalog["TWO_PART"], usage_rows([row])).iloc[0]
    assert (result.basic_basis, result.basic_charge_cny) == ("capacity", 22400.00)
    with pytest.raises(ValueError, match="customer C1 month 2024-03: the maximum demand is needed"):
        tariffs.bill_usage(catalog["TWO_PART"], usage_rows([{**row, "basic_basis": "demand"}]))
    with pytest.raises(ValueError, match="the contract capacity is needed"):
        tariffs.bill_usage(
            catalog["TWO_PART"], usage_rows([{**row, "contract_capacity_kva": math.nan}])
        )


@pytest.mark.parametrize(
    ("code", "kvarh", "factor", "adjustment"),
    [
        ("PF90", 0.0, 1.00, -3.75),  # -0.75 % of 500.00
        ("PF90", 426.0, 0.92, -1.50),  # -0.30 %
        ("PF90", 484.0, 0.90, 0.0),  # 1000 / √(1000² + 484²) = 0.9001
        ("PF90", 620.0, 0.85, 12.50),  # +2.5 %
        ("PF90", 1333.0, 0.60, 125.00),  # 15 % at 0.65, then 2 % per 0.01: +25 %
        ("PF85", 426.0, 0.92, -4.00),  # -0.80 %
        ("PF85", 620.0, 0.85, 0.0),
        ("PF85", 1020.0, 0.70, 37.50),  # 15 steps below 0.85 × 0.5 % = +7.5 %
        ("PF80", 620.0, 0.85, -2.50),  # -0.5 %
        ("PF80", 882.0, 0.75, 12.50),  # +2.5 %
        ("PF80", 426.0, 0.92, -6.50),  # -1.3 %
    ],
)
def test_power_factor_adjustment_bands(catalog, code, kvarh, factor, adjustment):
    row = {"period": "2024-05", "kwh_flat": 1000.0, "kvarh": kvarh, "contract_capacity_kva": 200.0}
    result = tariffs.bill_usage(catalog[code], usage_rows([row])).iloc[0]
    assert result.energy_charge_cny == 500.00
    assert result.power_factor == factor
    assert result.pf_adjustment_cny == adjustment
    assert result.amount_cny == round(500.00 + adjustment, 2)


def test_power_factor_adjustment_needs_metering_and_capacity(catalog):
    rows = usage_rows(
        [
            {"period": "2024-05", "kwh_flat": 1000.0, "kvarh": 1333.0, "contract_capacity_kva": 50},
            {"period": "2024-06", "kwh_flat": 1000.0, "contract_capacity_kva": 200.0},
        ]
    )
    result = tariffs.bill_usage(catalog["PF90"], rows)
    assert list(result["pf_adjustment_cny"]) == [0.0, 0.0]
    assert list(result["amount_cny"]) == [500.0, 500.0]


def test_power_factor_table_matches_the_published_figures():
    table = tariffs.power_factor_adjustment_percent
    assert list(table(np.array([0.95, 0.94, 0.91, 0.90, 0.89, 0.70, 0.65, 0.64]), 0.90)) == [
        -0.75,
        -0.60,
        -0.15,
        0.0,
        0.5,
        10.0,
        15.0,
        17.0,
    ]
    assert list(table(np.array([0.94, 0.90, 0.86, 0.65, 0.60, 0.59]), 0.85)) == [
        -1.10,
        -0.50,
        -0.10,
        10.0,
        15.0,
        17.0,
    ]
    assert list(table(np.array([1.0, 0.91, 0.81, 0.60, 0.55, 0.54]), 0.80)) == [
        -1.30,
        -1.15,
        -0.10,
        10.0,
        15.0,
        17.0,
    ]


def test_demand_from_fifteen_minute_hourly_and_daily_readings(catalog):
    stamps = pd.date_range("2024-03-01", "2024-03-02", freq="15min", inclusive="left")
    kwh = np.full(len(stamps), 5.0)
    kwh[40] = 50.0  # one quarter-hour at 200 kW
    quarter = tariffs.monthly_usage(pd.DataFrame({"ts": stamps, "kwh": kwh}), catalog["TOU"])
    assert quarter.iloc[0].demand_interval == "15min"
    assert quarter.iloc[0].max_demand_kw == 200.0
    assert quarter.iloc[0].kwh_critical + quarter.iloc[0].kwh_peak == pytest.approx(
        kwh[36:60].sum() + kwh[80:88].sum()
    )

    half_hour = pd.date_range("2024-03-01", "2024-03-02", freq="30min", inclusive="left")
    halves = np.full(len(half_hour), 10.0)
    halves[20] = 40.0  # the 10:00 hour holds 40 + 10 kWh
    usage = tariffs.monthly_usage(pd.DataFrame({"ts": half_hour, "kwh": halves}), catalog["TOU"])
    assert (usage.iloc[0].demand_interval, usage.iloc[0].max_demand_kw) == ("hourly", 50.0)

    days = pd.DataFrame({"ts": pd.date_range("2024-03-01", periods=3, freq="D"), "kwh": 240.0})
    daily = tariffs.monthly_usage(days, catalog["TOU"]).iloc[0]
    assert daily.demand_interval is None and math.isnan(daily.max_demand_kw)
    # Spread evenly over the hours: 8 of 24 hours are peak in March.
    assert (daily.kwh_peak, daily.kwh_flat, daily.kwh_valley) == (240.0, 240.0, 240.0)


def test_several_customers_and_reactive_energy(catalog):
    first = hourly("2024-05-01", "2024-05-03", 10.0, kvarh=4.0, customer_id="A")
    second = hourly("2024-05-01", "2024-05-02", 5.0, customer_id="B")
    usage = tariffs.monthly_usage(
        pd.concat([second, first]), catalog["PF90"], capacity_kva={"A": 250.0, "B": 50.0}
    )
    assert list(usage["customer_id"]) == ["A", "B"]
    assert list(usage["kvarh"].fillna(-1)) == [192.0, -1]
    assert list(usage["contract_capacity_kva"]) == [250.0, 50.0]
    billed = tariffs.bill_usage(catalog["PF90"], usage)
    # A: 480 kWh, 192 kvarh → cos φ = 0.9285 → 0.93 → -0.45 % of 240.00 = -1.08
    assert list(billed["power_factor"].fillna(-1)) == [0.93, -1]
    assert list(billed["amount_cny"]) == [238.92, 60.00]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"moment": ["2024-01-01"], "kwh": [1.0]}), "the file has no column for ts"),
        # Rows as a spreadsheet shows them: the header is row 1, the second reading row 3.
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "not a time"], "kwh": [1.0, 1.0]}),
            "row 3: ts is not a date or time",
        ),
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "2024-01-01 01:00"], "kwh": [1.0, -3.2]}),
            "row 3: kwh is negative",
        ),
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "2024-01-01 01:00"], "kwh": [1.0, "x"]}),
            "row 3: kwh is not a number",
        ),
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "2024-01-01 00:00"], "kwh": [1.0, 2.0]}),
            r"row 3: ts repeats an earlier row of the file \(row 2\)",
        ),
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "2024-01-01 01:00"], "kwh": [1.0, "inf"]}),
            "row 3: kwh is not a number",
        ),
        (
            pd.DataFrame({"ts": ["2024-01-01 00:00", "2024-01-01 01:00"], "kwh": [1.0, 1e308]}),
            r"row 3: kwh is more than any meter records in one interval \(10,000,000 kWh\)",
        ),
        (pd.DataFrame({"ts": ["2024-01-01 00:00"], "kwh": [1.0]}), "has one reading"),
        (pd.DataFrame({"ts": [], "kwh": []}), "there are no rows to use"),
    ],
)
def test_bad_readings_are_rejected_with_the_row(catalog, frame, message):
    with pytest.raises(ValueError, match=message):
        tariffs.bill(frame, catalog["TOU"], source="load.csv")


def test_bad_usage_is_rejected(catalog):
    with pytest.raises(ValueError, match="usage is missing column kvarh"):
        tariffs.bill_usage(
            catalog["TOU"], usage_rows([{"period": "2024-01"}]).drop(columns="kvarh")
        )
    with pytest.raises(ValueError, match="month '2024-13' must be written YYYY-MM"):
        tariffs.bill_usage(catalog["TOU"], usage_rows([{"period": "2024-13"}]))
    with pytest.raises(ValueError, match="has month 2024-01 twice"):
        tariffs.bill_usage(catalog["TOU"], usage_rows([{"period": "2024-01"}] * 2))


def _catalog_with(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    return path


BAD_HEADER = """
[tariffs.BAD]
name = "Bad"
name_zh = "错误"
customer_classes = ["commercial"]
kind = "tou"
"""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            """
[tariffs.BAD.prices]
peak = 0.9
valley = 0.3
[[tariffs.BAD.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
peak = [[8, 22]]
valley = [[21, 24], [0, 8]]
""",
            "tariff BAD: schedule entry 1: overlapping periods: hour 21:00 is both peak and valley",
        ),
        (
            """
[tariffs.BAD.prices]
peak = 0.9
valley = 0.3
[[tariffs.BAD.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
peak = [[8, 22]]
valley = [[22, 24], [0, 8]]
""",
            "tariff BAD: month 12 has no schedule for workday days",
        ),
        (
            """
[tariffs.BAD.prices]
peak = 0.9
valley = -0.3
[[tariffs.BAD.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
peak = [[8, 22]]
valley = [[22, 24], [0, 8]]
""",
            "tariff BAD: valley must be at least 0",
        ),
        (
            """
[tariffs.BAD.prices]
peak = 0.9
valley = 0.3
[[tariffs.BAD.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
peak = [[8, 22]]
valley = [[0, 8]]
""",
            "tariff BAD: schedule entry 1: hours 22:00, 23:00 belong to no period",
        ),
        (
            """
[tariffs.BAD.prices]
peak = 0.9
[[tariffs.BAD.schedule]]
months = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]
peak = [[8, 22]]
valley = [[22, 24], [0, 8]]
""",
            "tariff BAD: the schedule uses valley but \\[prices\\] has no valley price",
        ),
        ("\nprice = 0.5\n", "tariff BAD: a tou tariff takes prices per period"),
        ("\nrate = 0.5\n", "tariff BAD: unknown field rate"),
    ],
)
def test_bad_catalog_entries_are_rejected_with_the_entry_and_reason(tmp_path, body, message):
    with pytest.raises(ValueError, match=message):
        tariffs.load_catalog(_catalog_with(tmp_path, BAD_HEADER + body))


def test_bad_catalog_basics_are_rejected(tmp_path):
    with pytest.raises(ValueError, match="bad.toml: not a valid TOML file"):
        tariffs.load_catalog(_catalog_with(tmp_path, "[tariffs.X\n"))
    with pytest.raises(ValueError, match="customer class 'household' is not one of"):
        tariffs.load_catalog(
            _catalog_with(
                tmp_path,
                '[tariffs.X]\nname = "x"\nname_zh = "x"\ncustomer_classes = ["household"]\n'
                'kind = "flat"\nprice = 0.5\n',
            )
        )
    with pytest.raises(
        errors.UserError, match="tier 2: up_to_kwh 100 must be above the previous 200"
    ) as raised:
        tariffs.load_catalog(
            _catalog_with(
                tmp_path,
                '[tariffs.X]\nname = "x"\nname_zh = "x"\ncustomer_classes = ["residential"]\n'
                'kind = "tiered"\ntiers = [{up_to_kwh = 200, price = 0.5}, '
                "{up_to_kwh = 100, price = 0.6}, {price = 0.9}]\n",
            )
        )
    # The same message in Chinese, the entry's place in it too.
    assert (
        raised.value.text("zh") == "bad.toml：电价 X：第 2 档：up_to_kwh 100 应大于上一档的 200。"
    )
    with pytest.raises(FileNotFoundError):
        tariffs.load_catalog(tmp_path / "missing.toml")
