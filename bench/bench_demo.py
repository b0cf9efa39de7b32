"""Demo generation: seconds, readings per second and store size for two sizes.

Run: ``python -m bench.bench_demo [--sizes default,large] [--folder DIR]``.
The stores are written to a scratch folder and removed afterwards.
"""

import argparse
import time
from pathlib import Path

from bench import common
from core import demo
from core.store import engine as store_engine

SIZES = common.DEMO_SIZES


def _size_on_disk(path: Path) -> int:
    return sum(file.stat().st_size for file in path.parent.glob(path.name + "*"))


def run(size_names: list[str], folder: Path) -> list[dict[str, object]]:
    results = []
    for name in size_names:
        size = SIZES[name]
        path = folder / f"bench_{name}.duckdb"
        engine = store_engine.connect(f"duckdb:///{path}")
        started = time.perf_counter()
        summary = demo.generate(engine, **size)
        seconds = time.perf_counter() - started
        engine.dispose()
        results.append(
            {
                "size": common.size_label(size),
                "readings": summary.readings,
                "seconds": seconds,
                "readings_per_second": summary.readings / seconds,
                "store_mb": _size_on_disk(path) / 2**20,
            }
        )
        path.unlink(missing_ok=True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="default,large")
    parser.add_argument("--folder", default=None, help="scratch folder (default: a temporary one)")
    args = parser.parse_args()
    with common.scratch_folder(args.folder, "bench_demo_") as folder:
        results = run(args.sizes.split(","), folder)
    print("| demo size | readings | seconds | readings/s | DuckDB store on disk |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['size']} | {row['readings']:,} | {row['seconds']:.1f} | "
            f"{row['readings_per_second']:,.0f} | {row['store_mb']:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
