"""Migrating an empty store to the newest revision, per backend: what every test store costs.

Prints the median and the slowest of several runs of ``core.store.engine.migrate`` on a fresh
DuckDB file, a fresh SQLite file and an emptied PostgreSQL database, the time of the check the
app makes when it opens a store, and the time to copy a migrated file (what the test fixtures do
for DuckDB and SQLite). Run from the project root:
``.venv/bin/python -m bench.bench_migrate [--runs 5] [--postgres-url URL | --skip-postgres]``.
"""

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from core.store import engine as store_engine

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _report(label: str, seconds: list[float]) -> None:
    print(
        f"{label}: median {statistics.median(seconds) * 1000:.0f} ms, "
        f"slowest {max(seconds) * 1000:.0f} ms over {len(seconds)} runs"
    )


def _embedded(backend: str, folder: Path, runs: int) -> None:
    migrations, checks, copies = [], [], []
    for run in range(runs):
        path = folder / f"{backend}_{run}.db"
        engine = store_engine.connect(f"{backend}:///{path}")
        migrations.append(_timed(lambda engine=engine: store_engine.migrate(engine)))
        checks.append(_timed(lambda engine=engine: store_engine.check_schema(engine)))
        engine.dispose()
        copies.append(_timed(lambda path=path: shutil.copyfile(path, path.with_suffix(".copy"))))
    _report(f"{backend}: migrate an empty store", migrations)
    _report(f"{backend}: schema check on opening", checks)
    _report(f"{backend}: copy a migrated file", copies)


def _postgresql(url: str, runs: int) -> None:
    engine = store_engine.connect(url)
    migrations, checks = [], []
    for _ in range(runs):
        with engine.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA public CASCADE"))
            conn.execute(sa.text("CREATE SCHEMA public"))
        migrations.append(_timed(lambda: store_engine.migrate(engine)))
        checks.append(_timed(lambda: store_engine.check_schema(engine)))
    engine.dispose()
    _report("postgresql: migrate an empty store", migrations)
    _report("postgresql: schema check on opening", checks)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--postgres-url",
        default=DEFAULT_POSTGRES,
        help="a server to make a scratch database on (dropped at the end)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        for backend in ("duckdb", "sqlite"):
            _embedded(backend, Path(folder), args.runs)
    if not args.skip_postgres:
        admin = sa.create_engine(args.postgres_url, isolation_level="AUTOCOMMIT")
        name = "workbench_bench_migrate"
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            scratch = sa.make_url(args.postgres_url).set(database=name)
            _postgresql(scratch.render_as_string(hide_password=False), args.runs)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
            admin.dispose()


if __name__ == "__main__":
    main()
