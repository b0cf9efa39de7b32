"""Abnormal use and risk models on the default demo store: recall, AUCs, seconds.

Prints the recall of ``demo_truth_abnormal`` in the top 50 of the inspection list (the issue's
target: 0.8 or more), the seconds of a scoring refresh and of ``python -m core abnormal``'s
work, and each risk model's holdout AUC and Brier score with its training time.

Run: ``python -m bench.bench_risk [--sizes default] [--folder DIR]``; with ``--folder`` the
store is kept there and reused by later runs (it is the one ``bench_features`` builds).
"""

import argparse
import time

import sqlalchemy as sa

from bench import common
from core import access, demo
from core.demo import truth
from core.risk import abnormal, models
from core.store import engine as store_engine

TOP = 50


def run(size_name: str, folder) -> dict[str, object]:
    size = common.DEMO_SIZES[size_name]
    path = folder / f"bench_{size_name}_{size['customers']}x{size['years']}.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    if not store_engine.has_data(engine) or not sa.inspect(engine).has_table("area_readings"):
        demo.generate(engine, **size)
    summary = abnormal.refresh(engine, access.SYSTEM)
    started = time.perf_counter()
    listed = abnormal.ranked(engine, access.SYSTEM, TOP)
    read_seconds = time.perf_counter() - started
    with engine.connect() as conn:
        planted = set(conn.execute(sa.select(truth.abnormal.c.customer_id)).scalars())
    found = len(planted & set(listed["customer_id"]))
    trained = models.train_and_score(engine)
    engine.dispose()
    return {
        "size": common.size_label(size),
        "planted": len(planted),
        "found": found,
        "recall": found / len(planted) if planted else float("nan"),
        "refresh_seconds": summary.seconds,
        "read_seconds": read_seconds,
        "models": trained,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="default")
    parser.add_argument("--folder", default=None, help="keep the stores here and reuse them")
    args = parser.parse_args()
    with common.scratch_folder(args.folder, "bench_risk_") as folder:
        results = [run(name, folder) for name in args.sizes.split(",")]
    print(
        f"| store | planted | in top {TOP} | recall@{TOP} | scoring refresh (s) | list read (s) |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['size']} | {row['planted']} | {row['found']} | {row['recall']:.2f} | "
            f"{row['refresh_seconds']:.1f} | {row['read_seconds']:.2f} |"
        )
    print()
    print("| store | model | holdout AUC | Brier | train + score (s) |")
    print("| --- | --- | ---: | ---: | ---: |")
    for row in results:
        for model in row["models"]:
            print(
                f"| {row['size']} | {model.kind} | {model.auc:.3f} | {model.brier:.3f} | "
                f"{model.seconds:.1f} |"
            )


if __name__ == "__main__":
    main()
