"""File import with validation: good rows land, bad rows are kept with the reason, nothing twice.

An import reads a CSV, Excel or Parquet file in chunks (:mod:`~core.ingest.sources`), maps its
headers onto one table of the store (:mod:`~core.ingest.headers`), checks every value against
its type and the rule table (:mod:`~core.ingest.check_frame`, :mod:`~core.ingest.check_sql`,
:mod:`core.store.rules`) and lands the good rows in one transaction
(:mod:`~core.ingest.land`, :mod:`~core.ingest.run`): an import changes exactly the keys it
lands, in the columns the file has. Bad values are kept in ``rejected_rows`` with the file, row,
column and reason (:mod:`~core.ingest.rejected`). Outside an import, the tariff and forecast
pages and the command lines read readings and weather files with the same reader and checks
(:mod:`~core.ingest.validate`).

Importing another table takes its schema (``core/store/schema.py``), its header aliases
(:data:`~core.ingest.headers.COMMON_HEADERS`) and its rules (:data:`core.store.rules.RULES`).
"""

from core.ingest.headers import ColumnMapping, fitting_tables, map_columns, tables
from core.ingest.land import SERIES_COLUMN
from core.ingest.reasons import interval_name
from core.ingest.reasons import text as reason_text
from core.ingest.rejected import REJECTED_ROWS_LIMIT, rejected_rows
from core.ingest.run import ImportResult, import_file, preview_mapping
from core.ingest.validate import (
    SINGLE_SERIES,
    FileRejected,
    interval_minutes,
    read_readings,
    read_weather,
    validate_readings,
)

# The tables whose stored rows a file may replace over its time range ("replace this range").
RANGE_TABLES = tuple(SERIES_COLUMN)

__all__ = [
    "RANGE_TABLES",
    "REJECTED_ROWS_LIMIT",
    "SINGLE_SERIES",
    "ColumnMapping",
    "FileRejected",
    "ImportResult",
    "fitting_tables",
    "import_file",
    "interval_minutes",
    "interval_name",
    "map_columns",
    "preview_mapping",
    "read_readings",
    "read_weather",
    "reason_text",
    "rejected_rows",
    "tables",
    "validate_readings",
]
