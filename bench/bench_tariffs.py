"""Bill engine throughput: 20,000 customers × one year of hourly readings priced.

Prints seconds for (1) splitting a year of hourly readings into monthly energy per tariff period
for every customer, and (2) pricing the resulting 240,000 customer-months under each tariff of
the catalog. Run from the project root: ``.venv/bin/python -m bench.bench_tariffs [customers]``.
"""

import sys
import time

import numpy as np
import pandas as pd

from core import savings, tariffs

CUSTOMERS = int(sys.argv[1]) if len(sys.argv) > 1 else 20_000
YEAR = 2024
# Customers per chunk: keeps the hourly matrix of a chunk near 200 MB of float64.
CHUNK = 2_500


def main() -> None:
    catalog = tariffs.load_catalog()
    hours = pd.date_range(f"{YEAR}-01-01", f"{YEAR + 1}-01-01", freq="h", inclusive="left")
    month_index = hours.month.to_numpy() - 1
    rng = np.random.default_rng(7)
    shape = np.asarray(savings.TYPICAL_SHAPES["commercial"])[hours.hour]
    ids = np.array([f"C{number:06d}" for number in range(CUSTOMERS)])
    periods = [f"{YEAR}-{month:02d}" for month in range(1, 13)]
    print(f"{CUSTOMERS:,} customers × {len(hours):,} hours = {CUSTOMERS * len(hours):,} readings")

    for code, tariff in catalog.items():
        started = time.perf_counter()
        labels = tariffs.period_index(tariff, hours)
        onehot = np.zeros((len(hours), 12 * len(tariffs.PERIODS)))
        onehot[np.arange(len(hours)), month_index * len(tariffs.PERIODS) + labels] = 1.0
        frames = []
        generated = 0.0
        for start in range(0, CUSTOMERS, CHUNK):
            size = min(CHUNK, CUSTOMERS - start)
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


if __name__ == "__main__":
    main()
