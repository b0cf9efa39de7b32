"""The readings lake: a store's tables as Parquet, in the layout a meter-data platform exports.

``<lake>/readings/month=YYYY-MM/bucket=N/part-*.parquet`` holds the interval readings, one folder
per calendar month and customer hash bucket (``crc32(customer_id) mod buckets``, the value Spark's
``crc32`` gives too, so a job can find one customer's files); the archive and the other tables the
jobs read sit beside it, one folder each (``<lake>/customers/`` ...). ``<lake>/lake.json`` says
what was exported when, from which store.

The export streams: readings are read month by month, each month in chunks of
:data:`CHUNK_ROWS` (DuckDB hands over Arrow batches, the other backends a server-side cursor),
and every chunk goes to the Parquet writer before the next is read, so memory holds a chunk and
the row groups being filled, never a table.
"""

import datetime as dt
import json
import shutil
import uuid
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlalchemy as sa

from core import access
from core.errors import UserError
from core.store import engine as store_engine
from core.store import queries, schema

Progress = Callable[[str, float], None]

# Rows fetched from the store per chunk: a few tens of MB of Arrow data.
CHUNK_ROWS = 500_000
# Customer hash buckets per month: files of a few hundred MB each at province scale
# (30 million customers × 2,976 readings a month ÷ 64 buckets ≈ 1.4 billion rows).
DEFAULT_BUCKETS = 16
# Parquet row groups: large enough for efficient scans, small enough that one per open file fits.
ROW_GROUP_ROWS = 131_072
MANIFEST = "lake.json"
READINGS = "readings"
# What the jobs write back into the lake: <lake>/results/<job>/.
RESULTS = "results"
# The tables the Spark jobs read besides the readings: the archive, bills, service records,
# weather. The readings are the big one; these are exported whole.
TABLES = ("customers", "bills", "work_orders", "channel_activity", "outages", "weather")
# The share of an export's progress the readings take; the other tables share the rest.
READINGS_SHARE = 0.9
PARTITIONS = pa.schema([("month", pa.string()), ("bucket", pa.int32())])


@dataclass(frozen=True)
class LakeSummary:
    """What an export wrote.

    Attributes:
        lake: the lake folder.
        rows: rows written per table.
        months: calendar months of readings.
        buckets: customer hash buckets per month.
        seconds: wall time.
    """

    lake: Path
    rows: dict[str, int]
    months: int
    buckets: int
    seconds: float


def arrow_type(column: sa.Column) -> pa.DataType:
    """The Arrow (and Parquet) type a store column is exported as."""
    kind = column.type
    if isinstance(kind, sa.DateTime):
        return pa.timestamp("us")
    if isinstance(kind, sa.Date):
        return pa.date32()
    if isinstance(kind, sa.Boolean):
        return pa.bool_()
    if isinstance(kind, sa.Integer):
        return pa.int64()
    if isinstance(kind, sa.Float):
        return pa.float64()
    if isinstance(kind, sa.Numeric):
        return pa.decimal128(kind.precision or 38, kind.scale or 0)
    return pa.string()


def arrow_schema(table: sa.Table) -> pa.Schema:
    """The Arrow schema of a store table."""
    return pa.schema([(column.name, arrow_type(column)) for column in table.columns])


def bucket_of(customer_ids: pa.Array | pa.ChunkedArray, buckets: int) -> pa.Array:
    """The hash bucket of each customer id: ``crc32(id) mod buckets``, Spark's ``crc32`` too.

    Each distinct id of a chunk is hashed once (a chunk holds a few thousand customers).
    """
    encoded = pc.dictionary_encode(customer_ids)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    distinct = encoded.dictionary.to_pylist()
    hashes = np.array([zlib.crc32(value.encode("utf-8")) % buckets for value in distinct])
    return pa.array(hashes[encoded.indices.to_numpy(zero_copy_only=False)], pa.int32())


def stream(
    conn: sa.Connection, query: sa.Select, target: pa.Schema, chunk_rows: int = CHUNK_ROWS
) -> Iterator[pa.RecordBatch]:
    """A query's rows in Arrow batches of at most ``chunk_rows``, read as they are needed.

    Args:
        conn: a store connection.
        query: a select whose columns are named and ordered as ``target``.
        target: the schema of the batches.
        chunk_rows: rows per batch.
    """
    if store_engine.backend(conn) == "duckdb":
        compiled = query.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        parameters = [compiled.params[name] for name in compiled.positiontup or ()]
        raw = conn.connection.driver_connection
        reader = raw.sql(str(compiled), params=parameters).to_arrow_reader(chunk_rows)
        for batch in reader:
            yield _cast(batch, target)
        return
    result = conn.execution_options(stream_results=True, yield_per=chunk_rows).execute(query)
    for rows in result.partitions(chunk_rows):
        columns = list(zip(*rows, strict=True)) if rows else [[] for _ in target]
        arrays = [
            pa.array(values, type=field.type) for values, field in zip(columns, target, strict=True)
        ]
        yield pa.RecordBatch.from_arrays(arrays, schema=target)


def _cast(batch: pa.RecordBatch, target: pa.Schema) -> pa.RecordBatch:
    arrays = [column.cast(field.type) for column, field in zip(batch.columns, target, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=target)


def _tally(batches: Iterator[pa.RecordBatch], rows: dict[str, int], name: str):
    """Passes the batches on, counting their rows into ``rows[name]``."""
    rows[name] = 0
    for batch in batches:
        rows[name] += batch.num_rows
        yield batch


def _months(first: dt.datetime, last: dt.datetime) -> list[dt.datetime]:
    month = dt.datetime(first.year, first.month, 1)
    months = []
    while month <= last:
        months.append(month)
        month = dt.datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
    return months


def _readings_batches(
    conn: sa.Connection,
    months: list[dt.datetime],
    buckets: int,
    chunk_rows: int,
    progress: Progress,
) -> Iterator[pa.RecordBatch]:
    readings = schema.readings
    columns = arrow_schema(readings)
    target = pa.schema([*columns, *PARTITIONS])
    for number, start in enumerate(months):
        end = dt.datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        query = sa.select(*readings.columns).where(readings.c.ts >= start, readings.c.ts < end)
        label = f"{start:%Y-%m}"
        for batch in stream(conn, query, columns, chunk_rows):
            if batch.num_rows == 0:
                continue
            month = pa.array(np.full(batch.num_rows, label), pa.string())
            bucket = bucket_of(batch.column("customer_id"), buckets)
            yield pa.RecordBatch.from_arrays([*batch.columns, month, bucket], schema=target)
        progress(READINGS, READINGS_SHARE * (number + 1) / len(months))


def _write(
    folder: Path,
    batches: Iterator[pa.RecordBatch],
    target: pa.Schema,
    partitioning: ds.Partitioning | None = None,
) -> None:
    ds.write_dataset(
        pa.RecordBatchReader.from_batches(target, batches),
        folder,
        format="parquet",
        partitioning=partitioning,
        basename_template="part-{i}.parquet",
        min_rows_per_group=ROW_GROUP_ROWS,
        max_rows_per_group=ROW_GROUP_ROWS * 8,
        existing_data_behavior="error",
    )
    if not any(folder.rglob("*.parquet")):
        # An empty table still has its columns: Spark reads the schema from the file.
        folder.mkdir(parents=True, exist_ok=True)
        pq.write_table(target.empty_table(), folder / "part-0.parquet")


def _replace(folder: Path, written: Path) -> None:
    """Puts a freshly written folder in place of the old one."""
    old = folder.with_name(f".{folder.name}.old-{uuid.uuid4().hex[:8]}")
    if folder.exists():
        folder.rename(old)
    written.rename(folder)
    shutil.rmtree(old, ignore_errors=True)


def export(
    engine: sa.Engine,
    lake: str | Path,
    *,
    buckets: int = DEFAULT_BUCKETS,
    chunk_rows: int = CHUNK_ROWS,
    progress: Progress | None = None,
) -> LakeSummary:
    """Writes the store's readings and the tables the jobs read into a lake folder.

    An existing lake in the folder is replaced table by table once each table is written, so a
    failed export leaves the previous one readable. The export is a bulk export of every
    customer's data: it runs as the system and goes to the audit log.

    Args:
        engine: the store.
        lake: the lake folder (made when missing).
        buckets: customer hash buckets per month.
        chunk_rows: rows per chunk read from the store.
        progress: called with a table name and the fraction of the export done.

    Returns:
        What was written.

    Raises:
        UserError: the store has no readings, or ``buckets`` is below one.
    """
    started = dt.datetime.now()
    report = progress or (lambda _label, _fraction: None)
    if buckets < 1:
        raise UserError("spark.error.buckets", buckets=buckets)
    root = Path(lake)
    root.mkdir(parents=True, exist_ok=True)
    rows: dict[str, int] = {}
    with engine.connect() as conn:
        period = queries.data_period(conn)
        if period is None:
            raise UserError("spark.error.no_readings", store=store_engine.describe(engine.url))
        months = _months(*period)
        staging = root / f".{READINGS}.new-{uuid.uuid4().hex[:8]}"
        batches = _readings_batches(conn, months, buckets, chunk_rows, report)
        target = pa.schema([*arrow_schema(schema.readings), *PARTITIONS])
        partitioning = ds.partitioning(PARTITIONS, flavor="hive")
        _write(staging, _tally(batches, rows, READINGS), target, partitioning)
        _replace(root / READINGS, staging)
        for number, name in enumerate(TABLES, start=1):
            table = schema.metadata.tables[name]
            target = arrow_schema(table)
            staging = root / f".{name}.new-{uuid.uuid4().hex[:8]}"
            batches = stream(conn, sa.select(*table.columns), target, chunk_rows)
            _write(staging, _tally(batches, rows, name), target)
            _replace(root / name, staging)
            report(name, READINGS_SHARE + (1 - READINGS_SHARE) * number / len(TABLES))
    seconds = (dt.datetime.now() - started).total_seconds()
    manifest = {
        "exported_at": started.replace(microsecond=0).isoformat(),
        "store": store_engine.describe(engine.url),
        "buckets": buckets,
        "first_reading": period[0].isoformat(),
        "last_reading": period[1].isoformat(),
        "rows": rows,
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
    with engine.begin() as conn:
        access.record_export(conn, access.SYSTEM, f"lake {root}", sum(rows.values()))
    return LakeSummary(root, rows, len(months), buckets, seconds)


def manifest(lake: str | Path) -> dict:
    """What the lake's export wrote (:data:`MANIFEST`).

    Raises:
        UserError: the folder holds no lake.
    """
    path = Path(lake) / MANIFEST
    if not path.exists():
        raise UserError("spark.error.no_lake", lake=str(lake))
    return json.loads(path.read_text(encoding="utf-8"))


def results_folder(lake: str | Path, job: str) -> Path:
    """Where a job's rows are written in the lake: ``<lake>/results/<job>``."""
    return Path(lake) / RESULTS / job
