"""Segments: fit and assignment time, on the default demo store and a million rows, and the ARI.

The adjusted Rand index tells how well the load-shape lens recovers the planted archetypes.

The default store is segmented end to end (features read from the store, k chosen, the fit, the
load shapes aggregated by the store and clustered, the run stored). The million rows are
synthetic features of the same columns drawn around the default store's own segment profiles,
fitted in memory the way a run fits them (mini-batch k-means above 20,000 rows), then assigned.

Run: ``python -m bench.bench_segments [--folder DIR] [--rows N]``. With ``--folder`` the demo
store is kept there and reused (``bench_features`` keeps its stores under the same names).
"""

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sklearn.metrics import adjusted_rand_score

from bench import common
from core import access, demo, features, segments
from core.segments import matrix, model, shapes
from core.store import engine as store_engine

MILLION = 1_000_000
SEED = model.DEFAULT_SEED


def _default_store(folder: Path) -> sa.Engine:
    size = common.DEMO_SIZES["default"]
    path = folder / f"bench_default_{size['customers']}x{size['years']}.duckdb"
    engine = store_engine.connect(f"duckdb:///{path}")
    if not store_engine.has_data(engine):
        demo.generate(engine, **size)
    store_engine.migrate(engine)
    with engine.connect() as conn:
        featured = conn.execute(sa.text("SELECT count(*) FROM features")).scalar_one()
    if not featured:
        features.refresh(engine, access.SYSTEM)
    return engine


def store_figures(folder: Path) -> dict[str, object]:
    """One run on the default store, its steps timed; the shapes' ARI against the archetypes."""
    engine = _default_store(folder)
    steps: dict[str, float] = {}
    last = [time.perf_counter(), "features"]

    def progress(step: str, _fraction: float) -> None:
        now = time.perf_counter()
        steps[last[1]] = steps.get(last[1], 0.0) + now - last[0]
        last[0], last[1] = now, step

    run = segments.fit(engine, access.SYSTEM, seed=SEED, progress=progress)
    with engine.connect() as conn:
        members = segments.members(conn, access.SYSTEM, run.run_id)
        planted = pd.read_sql("SELECT customer_id, archetype FROM demo_truth_customers", conn)
        raw = matrix.read_features(conn, access.SYSTEM)
    truth = members.merge(planted, on="customer_id")
    shaped = truth.dropna(subset=["shape_cluster"])
    # Assignment: every customer to the nearest of the run's centres.
    scaler = matrix.fit_scaler(raw)
    data = scaler.transform(raw)
    fitted = model.kmeans(data, run.choice.k, SEED)
    started = time.perf_counter()
    fitted.predict(data)
    assign_seconds = time.perf_counter() - started
    engine.dispose()
    return {
        "customers": run.customers,
        "k": run.choice.k,
        "silhouette": {k: v for k, v in run.choice.values.items()},
        "segments": [(s.segment_id, s.name_code, s.customers) for s in run.segments],
        "shape_k": run.shape_choice.k if run.shape_choice else None,
        "fit_seconds": run.seconds,
        "steps": steps,
        "assign_seconds": assign_seconds,
        "shape_ari": adjusted_rand_score(shaped["archetype"], shaped["shape_cluster"]),
        "segment_ari": adjusted_rand_score(truth["archetype"], truth["segment_id"]),
    }


def million_figures(folder: Path, rows: int) -> dict[str, float]:
    """Fit and assignment of ``rows`` synthetic customers drawn around the store's segments."""
    engine = _default_store(folder)
    with engine.connect() as conn:
        raw = matrix.read_features(conn, access.SYSTEM)
    engine.dispose()
    scaler = matrix.fit_scaler(raw)
    base = scaler.transform(raw)
    rng = np.random.default_rng(SEED)
    # Real customers resampled with noise of a tenth of a standard deviation: the store's own
    # structure, a million times over.
    picked = rng.integers(0, len(base), rows)
    data = base[picked] + rng.normal(0.0, 0.1, (rows, base.shape[1]))
    started = time.perf_counter()
    choice = model.choose_k(
        data, SEED, k_range=range(2, model.MAX_SEGMENTS + 1), min_share=model.MIN_SEGMENT_SHARE
    )
    choose_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fitted = model.kmeans(data, choice.k, SEED)
    fit_seconds = time.perf_counter() - started
    started = time.perf_counter()
    fitted.predict(data)
    assign_seconds = time.perf_counter() - started
    return {
        "rows": rows,
        "k": choice.k,
        "choose_seconds": choose_seconds,
        "fit_seconds": fit_seconds,
        "assign_seconds": assign_seconds,
        "megabytes": data.nbytes / 1e6,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=None, help="keep the demo store here and reuse it")
    parser.add_argument("--rows", type=int, default=MILLION, help="synthetic feature rows")
    args = parser.parse_args()
    with common.scratch_folder(args.folder, "bench_seg_") as folder:
        store = store_figures(folder)
        large = million_figures(folder, args.rows)
    steps = ", ".join(f"{name} {seconds:.1f} s" for name, seconds in store["steps"].items())
    print(f"Default demo store: {store['customers']:,} customers, k = {store['k']} by silhouette")
    silhouettes = ", ".join(
        f"{k}: {value:.3f}" if value is not None else f"{k}: rejected"
        for k, value in store["silhouette"].items()
    )
    print(f"  silhouette by k: {silhouettes}")
    print(f"  segments: {store['segments']}")
    shape_range = f"{shapes.SHAPE_K_RANGE.start}-{shapes.SHAPE_K_RANGE.stop - 1}"
    print(f"  load shapes: {store['shape_k']} (Calinski-Harabasz in {shape_range})")
    print()
    print("| data | rows | k | choose k (s) | fit (s) | assign (s) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    print(
        f"| default demo store, whole run ({steps}) | {store['customers']:,} | {store['k']} | "
        f"— | {store['fit_seconds']:.1f} | {store['assign_seconds']:.3f} |"
    )
    print(
        f"| synthetic features ({large['megabytes']:.0f} MB in memory) | {large['rows']:,} | "
        f"{large['k']} | {large['choose_seconds']:.1f} | {large['fit_seconds']:.1f} | "
        f"{large['assign_seconds']:.2f} |"
    )
    print()
    print(
        f"Load-shape lens ARI against demo_truth_customers.archetype: {store['shape_ari']:.3f} "
        f"(target ≥ 0.9); operable segments' ARI (not a target): {store['segment_ari']:.3f}"
    )


if __name__ == "__main__":
    main()
