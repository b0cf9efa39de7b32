"""Opening one customer in Customer 360 on a DuckDB store of 100,000 customers × 1 year hourly.

The store is the demo utility of 5,000 customers copied 20 times under new ids (customers, ids,
readings, bills, work orders, channel activity, outages), which gives the size without waiting for
the generator; features are refreshed over all of it. Then, for a sample of customers, the figure
is the time of everything the page asks the core for: the search by an external id and the
customer's dossier (archive, features, tags, load views, bills, work orders, channel activity,
outages, peers and recommended actions), and how many connections that takes. The visit brief
(rendered only on download, from the same dossier) is timed separately.

Run: ``python -m bench.bench_customer360 [--folder DIR] [--sample N]``; the store is kept in
``--folder`` (default ``/tmp/bench_customer360``) and reused.
"""

import argparse
import random
import statistics
import time
from pathlib import Path

import duckdb
import sqlalchemy as sa

from core import access, customer360, demo, features, visit_brief
from core.store import engine as store_engine

BASE_CUSTOMERS = 5_000
COPIES = 20
# Tables copied with new customer ids, and the id-like columns that must stay unique per copy.
COPIED = {
    "customers": ("phone",),
    "id_map": ("external_id",),
    "readings": (),
    "bills": (),
    "work_orders": ("order_id",),
    "channel_activity": (),
    "outages": ("event_id",),
}


def _build(folder: Path) -> Path:
    base = folder / f"base_{BASE_CUSTOMERS}x1.duckdb"
    target = folder / f"customers_{BASE_CUSTOMERS * COPIES}x1.duckdb"
    if target.exists():
        return target
    if not base.exists():
        engine = store_engine.connect(f"duckdb:///{base}")
        demo.generate(engine, customers=BASE_CUSTOMERS, years=1)
        engine.dispose()
    engine = store_engine.connect(f"duckdb:///{target}")
    store_engine.migrate(engine)
    engine.dispose()
    conn = duckdb.connect(str(target))
    conn.execute(f"ATTACH '{base}' AS base (READ_ONLY)")
    conn.execute("INSERT INTO weather SELECT * FROM base.weather")
    for copy in range(COPIES):
        suffix = f"{copy:02d}"
        for table, unique in COPIED.items():
            columns = [row[0] for row in conn.execute(f"DESCRIBE base.{table}").fetchall()]
            chosen = []
            for column in columns:
                if column == "customer_id" or column in unique:
                    chosen.append(f"\"{column}\" || '{suffix}'")
                else:
                    chosen.append(f'"{column}"')
            quoted = ", ".join(f'"{column}"' for column in columns)
            order = " ORDER BY customer_id, ts" if table == "readings" else ""
            conn.execute(
                f"INSERT INTO {table} ({quoted}) SELECT {', '.join(chosen)} FROM base.{table}"
                + order
            )
        print(f"  copy {copy + 1}/{COPIES}", flush=True)
    conn.close()
    return target


def _open_customer(
    engine: sa.Engine, viewer: access.Viewer, external_id: str
) -> customer360.Dossier:
    found = customer360.search(engine, viewer, external_id)
    customer_id = str(found["customer_id"].iloc[0])
    return customer360.dossier(engine, viewer, customer_id)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default="/tmp/bench_customer360")
    parser.add_argument("--sample", type=int, default=30)
    args = parser.parse_args()
    folder = Path(args.folder)
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    path = _build(folder)
    print(f"store ready in {time.perf_counter() - started:.0f} s: {path}")
    engine = store_engine.connect(f"duckdb:///{path}")
    with engine.connect() as conn:
        customers = conn.execute(sa.text("SELECT count(*) FROM customers")).scalar_one()
        readings = conn.execute(sa.text("SELECT count(*) FROM readings")).scalar_one()
        has_features = conn.execute(sa.text("SELECT count(*) FROM features")).scalar_one()
        contracts = [
            row[0]
            for row in conn.execute(
                sa.text("SELECT external_id FROM id_map WHERE system = 'contract' AND active")
            )
        ]
    if has_features < customers:
        refreshed = features.refresh(engine, access.SYSTEM)
        print(f"features of {refreshed.customers:,} customers in {refreshed.seconds:.1f} s")
    viewer = access.SYSTEM
    sample = random.Random(7).sample(contracts, args.sample)
    _open_customer(engine, viewer, sample[0])  # connection and catalog warm-up
    checkouts = [0]
    sa.event.listen(engine, "checkout", lambda *_: checkouts.__setitem__(0, checkouts[0] + 1))
    timings, opened = [], []
    for external_id in sample:
        began = time.perf_counter()
        opened.append(_open_customer(engine, viewer, external_id))
        timings.append(time.perf_counter() - began)
    connections = checkouts[0] / len(sample)
    font = visit_brief.find_font()
    briefs = []
    for dossier in opened[:5]:
        began = time.perf_counter()
        visit_brief.render(dossier, viewer, "zh", font)
        briefs.append(time.perf_counter() - began)
    engine.dispose()
    timings.sort()
    p95 = timings[min(len(timings) - 1, round(0.95 * (len(timings) - 1)))]
    print(
        "| store | customers | readings | open a customer: median | p95 | max "
        "| connections per opening | brief PDF from the dossier |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| DuckDB | {customers:,} | {readings:,} | {statistics.median(timings):.2f} s | "
        f"{p95:.2f} s | {timings[-1]:.2f} s | {connections:.0f} | "
        f"{statistics.median(briefs):.2f} s |"
    )


if __name__ == "__main__":
    main()
