"""Demo generation: seconds, readings per second and store size for two sizes.

Run: ``python -m bench.bench_demo [--sizes default,large] [--database-url-dir DIR]``.
The stores are written to a scratch folder and removed afterwards.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from core import demo
from core.store import engine as store_engine

SIZES = {
    "default": {"customers": demo.DEFAULT_CUSTOMERS, "years": demo.DEFAULT_YEARS},
    "large": {"customers": 20_000, "years": 1},
}


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
                "size": f"{size['customers']:,} customers × {size['years']} year(s) hourly",
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
    folder = Path(args.folder) if args.folder else Path(tempfile.mkdtemp(prefix="bench_demo_"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        results = run(args.sizes.split(","), folder)
    finally:
        if not args.folder:
            shutil.rmtree(folder, ignore_errors=True)
    print("| demo size | readings | seconds | readings/s | DuckDB store on disk |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for row in results:
        print(
            f"| {row['size']} | {row['readings']:,} | {row['seconds']:.1f} | "
            f"{row['readings_per_second']:,.0f} | {row['store_mb']:,.0f} MB |"
        )


if __name__ == "__main__":
    main()
