"""Cost of access control: a sign-in (argon2id), masking a large export, a scoped customer list.

Prints milliseconds per sign-in with the library's default argon2id parameters, the time to mask
the personal fields of a 100,000-row frame, and a customer manager's scoped list on a demo store.
Run from the project root: ``.venv/bin/python -m bench.bench_access [rows]``.
"""

import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from core import access, demo
from core.demo import accounts as demo_accounts
from core.store import engine as store_engine

ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
SIGN_INS = 10
DEMO_CUSTOMERS = 3_000


def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        engine = store_engine.connect(f"duckdb:///{Path(folder) / 'bench.duckdb'}")
        demo.generate(engine, customers=DEMO_CUSTOMERS, years=1, seed=3)
        with engine.begin() as conn:
            access.create_demo_accounts(conn)

        timings = []
        for _ in range(SIGN_INS):
            start = time.perf_counter()
            viewer = access.authenticate(engine, "customer_manager", demo_accounts.DEMO_PASSWORD)
            timings.append(time.perf_counter() - start)
        print(
            f"sign-in (argon2id verify + audit entry): "
            f"median {statistics.median(timings) * 1000:.0f} ms over {SIGN_INS}"
        )

        start = time.perf_counter()
        with engine.connect() as conn:
            listed = access.visible_customers(conn, viewer, limit=DEMO_CUSTOMERS)
        print(
            f"customer manager's list of {len(listed):,} of {DEMO_CUSTOMERS:,} customers: "
            f"{(time.perf_counter() - start) * 1000:.0f} ms"
        )
        engine.dispose()

    rng = np.random.default_rng(1)
    frame = pd.DataFrame(
        {
            "customer_id": [f"42{number:08d}" for number in range(ROWS)],
            "name": rng.choice(["张三明", "李四", "欧阳小明", "黄石恒通科技有限公司"], ROWS),
            "customer_class": rng.choice(["residential", "commercial"], ROWS),
            "phone": [f"13{number:09d}" for number in rng.integers(0, 10**9, ROWS)],
        }
    )
    start = time.perf_counter()
    access.mask_frame(access.Viewer("analyst", "analyst"), frame)
    print(f"masking names and phones of {ROWS:,} rows: {time.perf_counter() - start:.2f} s")


if __name__ == "__main__":
    main()
