"""What the benchmarks share: the store sizes they measure and a scratch folder for the stores."""

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from core import demo

# The two sizes the issues set targets for: the default demo store and the large one.
DEMO_SIZES = {
    "default": {"customers": demo.DEFAULT_CUSTOMERS, "years": demo.DEFAULT_YEARS},
    "large": {"customers": 20_000, "years": 1},
}


def size_label(size: dict[str, int]) -> str:
    """``3,000 customers × 2 year(s) hourly``."""
    return f"{size['customers']:,} customers × {size['years']} year(s) hourly"


@contextlib.contextmanager
def scratch_folder(folder: str | None, prefix: str) -> Iterator[Path]:
    """The given folder (kept afterwards), or a temporary one removed at the end."""
    if folder:
        path = Path(folder)
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)
