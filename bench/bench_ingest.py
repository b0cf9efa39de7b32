"""Import speed: rows/s for hourly readings from CSV and Parquet into DuckDB and PostgreSQL.

    python bench/bench_ingest.py [--rows 10000000] [--postgres-url URL] [--skip-postgres]

The files are generated under bench/out/ (git-ignored). Every row goes through the full import:
header mapping, parsing, validation (known customers, ranges, grid, future), staging, the
in-file duplicate check, replacement of the covered range and the insert, in one transaction.
Parquet into DuckDB is checked by the store itself; the other routes parse and check in pandas.
Besides the wall time it prints the CPU time the import used (all threads), which says more
than the wall time when other work shares the machine.
"""

import argparse
import resource
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy as sa

from core import ingest
from core.store import engine as store_engine
from core.store import schema

OUT = Path(__file__).resolve().parent / "out"
HOURS_PER_YEAR = 8760
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _customers(count: int) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": [f"51{index:08d}" for index in range(count)],
            "name": "bench",
            "customer_class": "residential",
            "region": "黄石港区",
            "tariff_code": "RES_TIERED",
        }
    )


def _write_files(rows: int) -> tuple[Path, Path, pd.DataFrame]:
    customers = _customers(-(-rows // HOURS_PER_YEAR))
    csv_path, parquet_path = OUT / f"readings_{rows}.csv", OUT / f"readings_{rows}.parquet"
    if csv_path.exists() and parquet_path.exists():
        return csv_path, parquet_path, customers
    OUT.mkdir(parents=True, exist_ok=True)
    ids = np.repeat(customers["customer_id"].to_numpy(), HOURS_PER_YEAR)[:rows]
    hours = np.tile(np.arange(HOURS_PER_YEAR), len(customers))[:rows]
    ts = np.datetime64("2024-01-01T00:00") + hours.astype("timedelta64[h]")
    kwh = np.round(np.random.default_rng(1).gamma(2.0, 0.4, rows), 3)
    table = pa.table(
        {
            "customer_id": pa.array(ids, pa.string()),
            "ts": pa.array(ts.astype("datetime64[s]")),
            "kwh": pa.array(kwh),
        }
    )
    pq.write_table(table, parquet_path, row_group_size=1_000_000)
    pa_csv.write_csv(
        table.set_column(1, "ts", pa.compute.strftime(table["ts"], "%Y-%m-%d %H:%M:%S")),
        csv_path,
    )
    return csv_path, parquet_path, customers


def _fresh_store(url: str, customers: pd.DataFrame) -> sa.Engine:
    engine = store_engine.connect(url)
    store_engine.drop_schema(engine)
    store_engine.migrate(engine)
    with engine.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
    return engine


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _run(label: str, url: str, path: Path, customers: pd.DataFrame) -> None:
    engine = _fresh_store(url, customers)
    started, cpu_started = time.perf_counter(), _cpu_seconds()
    result = ingest.import_file(engine, "readings", path, record_quality=False)
    seconds, cpu = time.perf_counter() - started, _cpu_seconds() - cpu_started
    engine.dispose()
    print(
        f"{label:<24} {result.rows_landed:>12,} rows {seconds:>8.1f} s "
        f"{result.rows_landed / seconds:>12,.0f} rows/s {cpu:>8.1f} s CPU here"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--postgres-url", default=DEFAULT_POSTGRES)
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    started = time.perf_counter()
    csv_path, parquet_path, customers = _write_files(args.rows)
    print(
        f"files: {csv_path.stat().st_size / 1e6:,.0f} MB CSV, "
        f"{parquet_path.stat().st_size / 1e6:,.0f} MB Parquet "
        f"({time.perf_counter() - started:.1f} s)"
    )
    duckdb_url = f"duckdb:///{OUT / 'bench_ingest.duckdb'}"
    _run("Parquet -> DuckDB", duckdb_url, parquet_path, customers)
    _run("CSV -> DuckDB", duckdb_url, csv_path, customers)
    if args.skip_postgres:
        return
    admin = sa.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
    name = f"bench_ingest_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    postgres_url = sa.make_url(args.postgres_url).set(database=name)
    try:
        url = postgres_url.render_as_string(hide_password=False)
        _run("Parquet -> PostgreSQL", url, parquet_path, customers)
        _run("CSV -> PostgreSQL", url, csv_path, customers)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
