"""Features on Spark (local[2]) against the embedded DuckDB refresh of the same store.

Builds a demo store (or reuses one with ``--folder``), exports it to a lake, refreshes the
features in DuckDB, then runs the Spark features job on the lake twice (the first run includes
the JVM's warm-up), and prints readings per second for each. From the warm Spark rate per core it
projects a province: 30 million customers with 96 readings a day, the two years of readings a
refresh reads (the period and the year before it, for growth), in core-hours and in hours on a
cluster of ``--cluster-cores`` cores. The assumptions are in the README (Spark section).

Run: ``python -m bench.bench_spark [--customers 1000] [--years 2] [--master local[2]]
[--folder DIR] [--cluster-cores 400]``.
"""

import argparse
import shutil
import time
from pathlib import Path

import sqlalchemy as sa

from bench import common
from core import access, demo, features
from core.spark import features as spark_features
from core.spark import lake, session
from core.store import engine as store_engine
from core.store import schema

PROVINCE_CUSTOMERS = 30_000_000
READINGS_PER_DAY = 96
# A refresh reads its twelve months and the twelve before them.
DAYS_READ = 730
CLUSTER_CORES = 400


def _readings_read(engine: sa.Engine, plan: features.Plan) -> int:
    r = schema.readings
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).where(
                r.c.ts >= plan.readings_start.isoformat(), r.c.ts < plan.end.isoformat()
            )
        ).scalar_one()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--years", type=int, default=2)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--folder", default=None, help="keep the store and lake here")
    parser.add_argument("--cluster-cores", type=int, default=CLUSTER_CORES)
    args = parser.parse_args(argv)

    with common.scratch_folder(args.folder, "bench_spark_") as folder:
        path = folder / f"spark_{args.customers}x{args.years}.duckdb"
        url = f"duckdb:///{path}"
        engine = store_engine.connect(url)
        if not store_engine.has_data(engine):
            started = time.perf_counter()
            demo.generate(engine, customers=args.customers, years=args.years)
            print(f"demo store: {time.perf_counter() - started:.1f} s")
        lake_dir = Path(folder) / f"lake_{args.customers}x{args.years}"
        started = time.perf_counter()
        exported = lake.export(engine, lake_dir)
        seconds = time.perf_counter() - started
        readings = exported.rows[lake.READINGS]
        print(
            f"export-lake: {readings:,} readings in {seconds:.1f} s "
            f"({readings / seconds:,.0f} readings/s)"
        )

        started = time.perf_counter()
        summary = features.refresh(engine, access.SYSTEM)
        duckdb_seconds = time.perf_counter() - started
        plan = features.prepare(engine, access.SYSTEM, period_end=summary.period_end)
        read = _readings_read(engine, plan)
        duckdb_rate = read / duckdb_seconds
        print(
            f"DuckDB refresh: {summary.customers:,} customers, {read:,} readings read in "
            f"{duckdb_seconds:.1f} s ({duckdb_rate:,.0f} readings/s)"
        )

        started = time.perf_counter()
        spark = session.build(args.master)
        cores = spark.sparkContext.defaultParallelism
        took = time.perf_counter() - started
        print(f"Spark session ({args.master}, {cores} cores): {took:.1f} s")
        rates = []
        for run in ("cold", "warm"):
            result = spark_features.refresh(spark, engine, lake_dir)
            rate = result.readings / result.seconds
            rates.append(rate)
            print(
                f"Spark features ({run}): {result.customers:,} customers, {result.readings:,} "
                f"readings in {result.seconds:.1f} s ({rate:,.0f} readings/s)"
            )
        spark.stop()
        engine.dispose()
        if not args.folder:
            shutil.rmtree(lake_dir, ignore_errors=True)

    per_core = rates[-1] / max(cores, 1)
    province = PROVINCE_CUSTOMERS * READINGS_PER_DAY * DAYS_READ
    core_hours = province / per_core / 3600
    print(f"Spark vs DuckDB on this machine: {rates[-1] / duckdb_rate:.2f}×")
    print(
        f"Projection, {PROVINCE_CUSTOMERS:,} customers × {READINGS_PER_DAY} readings/day × "
        f"{DAYS_READ} days = {province:,.0f} readings a refresh, at {per_core:,.0f} readings/s "
        f"per core: {core_hours:,.0f} core-hours, {core_hours / args.cluster_cores:.1f} h on "
        f"{args.cluster_cores} cores"
    )


if __name__ == "__main__":
    main()
