"""Features refresh on DuckDB: seconds for the default demo store and for 20,000 customers × 1 year.

Beside each refresh, the same core aggregation written by hand in DuckDB SQL (readings → days →
customers, with the TOU period of every hour) shows what the portable SQLAlchemy expressions
cost over DuckDB's own dialect.

Run: ``python -m bench.bench_features [--sizes default,large] [--folder DIR]``. With ``--folder``
the stores are kept there and reused by later runs (and by ``bench_customer360``).
"""

import argparse
import time
from pathlib import Path

import duckdb
import sqlalchemy as sa

from bench import common
from core import access, demo, features, tariffs
from core.store import engine as store_engine

SIZES = common.DEMO_SIZES

# The hand-written reference: the per-day fold with TOU periods, then the per-customer figures
# that dominate the refresh (shares, night/day, load factor, volatility, weekday/weekend).
HAND_SQL = """
CREATE TEMP TABLE hand_daily AS
SELECT r.customer_id, CAST(r.ts AS DATE) AS day, sum(r.kwh) AS kwh, max(r.kwh) AS max_kwh,
       count(*) AS n,
       sum(CASE WHEN hour(r.ts) IN (23,0,1,2,3,4,5,6) THEN r.kwh END) AS night_kwh,
       sum(CASE WHEN h.period = 'critical' THEN r.kwh END) AS critical_kwh,
       sum(CASE WHEN h.period = 'peak' THEN r.kwh END) AS peak_kwh,
       sum(CASE WHEN h.period = 'flat' THEN r.kwh END) AS flat_kwh,
       sum(CASE WHEN h.period = 'valley' THEN r.kwh END) AS valley_kwh
FROM readings r JOIN customers c USING (customer_id)
LEFT JOIN hand_hours h
  ON h.schedule_code = CASE WHEN c.tariff_code IN ('COM_TOU','IND_TWO_PART','RES_TOU')
                            THEN c.tariff_code
                            WHEN c.customer_class = 'residential' THEN 'RES_TOU'
                            ELSE 'COM_TOU' END
 AND h.hour_start = date_trunc('hour', r.ts)
WHERE r.ts >= $start AND r.ts < $end
GROUP BY 1, 2;
SELECT customer_id, count(*) AS days, sum(kwh) AS kwh, max(max_kwh) AS max_kw,
       sum(peak_kwh) / sum(kwh) AS peak_share, sum(valley_kwh) / sum(kwh) AS valley_share,
       sum(night_kwh) / sum(kwh) AS night_share, stddev_pop(kwh) / avg(kwh) AS volatility,
       avg(CASE WHEN k.workday THEN kwh END) / avg(CASE WHEN NOT k.workday THEN kwh END) AS wk
FROM hand_daily d LEFT JOIN hand_calendar k USING (day)
GROUP BY 1;
"""


def _hand_written(path: Path, start, end) -> float:
    catalog = tariffs.load_catalog()
    codes = sorted(features._schedule_codes(catalog))
    hours = features._hours_frame(catalog, codes, start, end)
    calendar = features._calendar_frame(start, end).assign(
        workday=lambda frame: frame["workday"].astype(bool)
    )
    conn = duckdb.connect(str(path))
    conn.execute("SET enable_progress_bar = false")
    try:
        conn.register("hand_hours_frame", hours)
        conn.register("hand_calendar_frame", calendar)
        conn.execute("CREATE TEMP TABLE hand_hours AS SELECT * FROM hand_hours_frame")
        conn.execute("CREATE TEMP TABLE hand_calendar AS SELECT * FROM hand_calendar_frame")
        started = time.perf_counter()
        first, second = [part for part in HAND_SQL.split(";") if part.strip()]
        conn.execute(first, {"start": start, "end": end})
        conn.execute(second).fetchall()
        return time.perf_counter() - started
    finally:
        conn.close()


def run(size_names: list[str], folder: Path) -> list[dict[str, object]]:
    results = []
    for name in size_names:
        size = SIZES[name]
        path = folder / f"bench_{name}_{size['customers']}x{size['years']}.duckdb"
        url = f"duckdb:///{path}"
        engine = store_engine.connect(url)
        if not store_engine.has_data(engine):
            demo.generate(engine, **size)
        with engine.connect() as conn:
            readings = conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one()
        # Each side twice, alternating, best of two: neither profits from a warmer cache.
        refreshes, hands = [], []
        for _ in range(2):
            summary = features.refresh(engine, access.SYSTEM)
            refreshes.append(summary.seconds)
            engine.dispose()
            # The refresh folds the year before too (for the growth): so does the reference.
            previous_start = features._years_before(summary.period_start, 1)
            hands.append(_hand_written(path, previous_start, summary.period_end))
        results.append(
            {
                "size": common.size_label(size),
                "readings": readings,
                "refresh_seconds": min(refreshes),
                "hand_sql_seconds": min(hands),
            }
        )
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="default,large")
    parser.add_argument("--folder", default=None, help="keep the stores here and reuse them")
    args = parser.parse_args()
    with common.scratch_folder(args.folder, "bench_feat_") as folder:
        results = run(args.sizes.split(","), folder)
    print("| store | readings | features refresh (s) | hand-written DuckDB SQL (s) | ratio |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in results:
        ratio = row["refresh_seconds"] / row["hand_sql_seconds"]
        print(
            f"| {row['size']} | {row['readings']:,} | {row['refresh_seconds']:.1f} | "
            f"{row['hand_sql_seconds']:.1f} | {ratio:.2f}× |"
        )


if __name__ == "__main__":
    main()
