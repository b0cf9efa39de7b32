"""Tariff figures: the bill engine against NREL PySAM, the savings ranking, bulk pricing.

1. The in-memory bill engine (``tariffs.bill``) on 102 customer-years of hourly readings under a
   three-period time-of-use tariff, against NREL PySAM's Utilityrate5 (C++) billing the same loads
   under the same tariff in the same run: milliseconds per customer-year, and the largest
   difference between the two annual bills (PySAM does not round its lines to the fen).
2. The savings ranking (``savings.rank_store``: the store's load profile read in one aggregation,
   then every option priced for every customer) on the default demo store and on 20,000
   customers × 1 year, against the targets of 3 s and 15 s.
3. Bulk pricing: 20,000 customers × one year of hourly readings split by period and priced
   under each tariff of the catalog.

PySAM is a benchmark-only dependency: ``make bench`` installs ``bench/requirements.txt``.

Run: ``python -m bench.bench_tariffs [--sizes default,large] [--folder DIR] [--skip-pricing]``.
With ``--folder`` the demo stores are kept there and reused by later runs.
"""

import argparse
import dataclasses
import time

import numpy as np
import pandas as pd
import sqlalchemy as sa

from bench import common
from core import demo, savings, tariffs
from core.store import engine as store_engine
from core.store import schema

# The comparison the issue measured: 102 customer-years of one three-period TOU tariff.
CUSTOMER_YEARS = 102
# A year PySAM's 8,760-hour arrays fit (not a leap year).
YEAR = 2025
PRICING_CUSTOMERS = 20_000
# Customers per chunk: keeps the hourly matrix of a chunk near 200 MB of float64.
CHUNK = 2_500
TARGETS = {"default": 3.0, "large": 15.0}


def three_period_tariff() -> tariffs.Tariff:
    """The catalog's commercial time-of-use tariff with its critical peak billed as peak."""
    commercial = tariffs.load_catalog()["COM_TOU"]
    return dataclasses.replace(
        commercial,
        code="BENCH_TOU3",
        prices=(0.0, *commercial.prices[1:]),
        schedule=tuple(day.replace("c", "p") for day in commercial.schedule),
        power_factor_standard=None,
    )


def synthetic_loads(count: int, hours: pd.DatetimeIndex) -> np.ndarray:
    rng = np.random.default_rng(7)
    shape = np.asarray(savings.TYPICAL_SHAPES["commercial"])[hours.hour]
    level = rng.gamma(4.0, 5.0, size=(count, 1))
    return shape * level * rng.uniform(0.8, 1.2, size=(count, len(hours)))


def _pysam_bill(load: np.ndarray, tariff: tariffs.Tariff) -> float:
    import PySAM.Utilityrate5 as utilityrate

    model = utilityrate.new()
    model.Lifetime.analysis_period = 1
    model.Lifetime.inflation_rate = 0
    model.Lifetime.system_use_lifetime_output = 0
    model.SystemOutput.gen = [0.0] * len(load)
    model.SystemOutput.degradation = [0.0]
    model.Load.load = load.tolist()
    rates = model.ElectricityRates
    rates.en_electricity_rates = 1
    rates.rate_escalation = [0.0]
    rates.ur_metering_option = 0
    rates.ur_monthly_fixed_charge = 0
    rates.ur_monthly_min_charge = 0
    rates.ur_annual_min_charge = 0
    rates.ur_dc_enable = 0
    rates.ur_en_ts_sell_rate = 0
    rates.ur_en_ts_buy_rate = 0
    rates.ur_sell_eq_buy = 0
    rates.ur_nm_yearend_sell_rate = 0
    rates.ur_yearzero_usage_peaks = [0.0] * 12
    numbers = {"p": 1, "f": 2, "v": 3}
    schedule = [[numbers[letter] for letter in tariff.schedule[2 * month]] for month in range(12)]
    rates.ur_ec_sched_weekday = schedule
    rates.ur_ec_sched_weekend = schedule
    rates.ur_ec_tou_mat = [
        [number, 1, 1e38, 0, tariff.price(period), 0]
        for period, number in (("peak", 1), ("flat", 2), ("valley", 3))
    ]
    model.execute(0)
    return float(model.Outputs.utility_bill_w_sys[1])


def bench_engine() -> None:
    tariff = three_period_tariff()
    hours = pd.date_range(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", freq="h", inclusive="left")
    loads = synthetic_loads(CUSTOMER_YEARS, hours)
    ids = np.repeat([f"C{number:04d}" for number in range(CUSTOMER_YEARS)], len(hours))
    readings = pd.DataFrame(
        {"customer_id": ids, "ts": np.tile(hours, CUSTOMER_YEARS), "kwh": loads.ravel()}
    )
    raw = readings.assign(ts=readings["ts"].astype(str))
    print(f"## Bill engine: {CUSTOMER_YEARS} customer-years of hourly readings, 3-period TOU")
    timings = {}
    started = time.perf_counter()
    bills = tariffs.bill(readings, tariff)
    timings["tariffs.bill, typed readings"] = time.perf_counter() - started
    started = time.perf_counter()
    tariffs.bill(raw, tariff)
    timings["tariffs.bill, readings as text (validated first)"] = time.perf_counter() - started
    try:
        started = time.perf_counter()
        reference = [_pysam_bill(load, tariff) for load in loads]
        timings["NREL PySAM Utilityrate5"] = time.perf_counter() - started
    except ImportError:
        reference = None
        print("PySAM is not installed: pip install -r bench/requirements.txt")
    print("| engine | ms per customer-year |")
    print("| --- | ---: |")
    for name, seconds in timings.items():
        print(f"| {name} | {seconds / CUSTOMER_YEARS * 1000:.2f} |")
    if reference is not None:
        ours = bills.groupby("customer_id")["amount_cny"].sum().to_numpy()
        difference = np.abs(ours - np.asarray(reference))
        print(
            f"Annual bills: ours ¥{ours.sum():,.2f}, PySAM ¥{sum(reference):,.2f}; largest "
            f"difference per customer-year ¥{difference.max():.2f} (PySAM keeps fractions of a "
            "fen on every line)"
        )


def bench_ranking(size_names: list[str], folder) -> None:
    print("## Savings ranking")
    print("| store | readings | load profile (s) | pricing (s) | ranking (s) | target (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    catalog = tariffs.load_catalog()
    for name in size_names:
        size = common.DEMO_SIZES[name]
        path = folder / f"bench_{name}_{size['customers']}x{size['years']}.duckdb"
        engine = store_engine.connect(f"duckdb:///{path}")
        if not store_engine.has_data(engine):
            demo.generate(engine, **size)
        with engine.connect() as conn:
            readings = conn.execute(
                sa.select(sa.func.count()).select_from(schema.readings)
            ).scalar_one()
        started = time.perf_counter()
        profile = savings.load_profile(engine, catalog)
        read = time.perf_counter() - started
        ranking = savings.rank_store(engine, catalog=catalog, profile=profile)
        total = time.perf_counter() - started
        engine.dispose()
        print(
            f"| {common.size_label(size)} | {readings:,} | {read:.2f} | {total - read:.2f} | "
            f"{total:.2f} | {TARGETS[name]:.0f} |"
        )
        best = ranking["best_option"].value_counts().to_dict()
        print(f"  {len(ranking):,} customers ranked; best options {best}")


def bench_pricing() -> None:
    catalog = tariffs.load_catalog()
    hours = pd.date_range(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", freq="h", inclusive="left")
    month_index = hours.month.to_numpy() - 1
    rng = np.random.default_rng(7)
    shape = np.asarray(savings.TYPICAL_SHAPES["commercial"])[hours.hour]
    ids = np.array([f"C{number:06d}" for number in range(PRICING_CUSTOMERS)])
    periods = [f"{YEAR}-{month:02d}" for month in range(1, 13)]
    print(
        f"## Bulk pricing: {PRICING_CUSTOMERS:,} customers × {len(hours):,} hours = "
        f"{PRICING_CUSTOMERS * len(hours):,} readings"
    )
    for code, tariff in catalog.items():
        started = time.perf_counter()
        labels = tariffs.period_index(tariff, hours)
        onehot = np.zeros((len(hours), 12 * len(tariffs.PERIODS)))
        onehot[np.arange(len(hours)), month_index * len(tariffs.PERIODS) + labels] = 1.0
        frames = []
        generated = 0.0
        for start in range(0, PRICING_CUSTOMERS, CHUNK):
            size = min(CHUNK, PRICING_CUSTOMERS - start)
            made = time.perf_counter()
            kwh = shape * rng.gamma(4.0, 5.0, size=(size, 1)) * rng.uniform(0.8, 1.2, (size, 1))
            generated += time.perf_counter() - made
            by_period = (kwh @ onehot).reshape(size, 12, len(tariffs.PERIODS))
            peak_hourly = np.maximum.reduceat(
                kwh, np.flatnonzero(np.diff(month_index, prepend=-1)), axis=1
            )
            frame = pd.DataFrame(
                {
                    "customer_id": np.repeat(ids[start : start + size], 12),
                    "period": np.tile(periods, size),
                    "kvarh": (by_period.sum(axis=2) * 0.4).ravel(),
                    "max_demand_kw": peak_hourly.ravel(),
                    "demand_interval": "hourly",
                    "contract_capacity_kva": 630.0,
                }
            )
            for position, period in enumerate(tariffs.PERIODS):
                frame[f"kwh_{period}"] = by_period[:, :, position].ravel()
            frames.append(frame)
        usage = pd.concat(frames, ignore_index=True)
        split = time.perf_counter() - started - generated
        priced_at = time.perf_counter()
        bills = tariffs.bill_usage(tariff, usage)
        priced = time.perf_counter() - priced_at
        print(
            f"{code:<13} split readings {split:6.2f} s  price {len(bills):,} customer-months "
            f"{priced:5.2f} s  total {split + priced:6.2f} s  "
            f"(billed ¥{bills['amount_cny'].sum():,.0f})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="default,large")
    parser.add_argument("--folder", default=None, help="keep the stores here and reuse them")
    parser.add_argument("--skip-pricing", action="store_true", help="leave out bulk pricing")
    args = parser.parse_args()
    bench_engine()
    with common.scratch_folder(args.folder, "bench_tariffs_") as folder:
        bench_ranking([name for name in args.sizes.split(",") if name], folder)
    if not args.skip_pricing:
        bench_pricing()


if __name__ == "__main__":
    main()
