"""Customer features on Spark: the store's refresh plan, compiled to Spark SQL, over the lake.

:func:`core.features.prepare` holds every feature definition as SQLAlchemy selects. Here the same
selects are rendered by :mod:`core.spark.dialect` and run by ``spark.sql`` over temporary views
named as the store's tables (the lake's readings and archive, the plan's work tables), and the
rows are written to the store's features table. No formula is written twice.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import sqlalchemy as sa

from core import access
from core import features as store_features
from core.errors import UserError
from core.spark import dialect, lake
from core.store import schema

Progress = Callable[[str, float], None]
# The plan's step that folds the readings into customer-days, and its count of readings.
READINGS_STEP = "readings"
READINGS_COUNT = "readings"


@dataclass(frozen=True)
class SparkRefreshSummary:
    """What a features job did.

    Attributes:
        customers: rows written to the store's features table.
        readings: readings in the lake's months the job read.
        period_start: first day covered.
        period_end: the day after the last day covered.
        seconds: wall time of the job (the session already running).
    """

    customers: int
    readings: int
    period_start: dt.date
    period_end: dt.date
    seconds: float


def _month_label(day: dt.date) -> str:
    return f"{day:%Y-%m}"


def register_lake(spark, lake_dir: str | Path, months: tuple[str, str] | None = None) -> None:
    """Temporary views over the lake named as the store's tables (``readings``, ``customers``...).

    Args:
        spark: the session.
        lake_dir: the lake folder (:mod:`core.spark.lake`).
        months: only the readings of these calendar months, ``(first, last)`` as ``YYYY-MM``
            (the month partitions outside are not read).

    Raises:
        UserError: the folder holds no lake.
    """
    lake.manifest(lake_dir)
    root = Path(lake_dir)
    readings = spark.read.parquet(str(root / lake.READINGS))
    if months is not None:
        readings = readings.where(
            (readings["month"] >= months[0]) & (readings["month"] <= months[1])
        )
    readings.select(*(column.name for column in schema.readings.columns)).createOrReplaceTempView(
        schema.readings.name
    )
    for name in lake.TABLES:
        spark.read.parquet(str(root / name)).createOrReplaceTempView(name)


def register_frame(spark, table: sa.Table, frame) -> None:
    """A pandas frame as a temporary view named as ``table``, in the table's column types."""
    arrow = pa.Table.from_pandas(frame, preserve_index=False).select(
        [column.name for column in table.columns]
    )
    spark.createDataFrame(arrow.cast(lake.arrow_schema(table))).createOrReplaceTempView(table.name)


def run_plan(spark, plan: store_features.Plan) -> tuple[pa.Table, int]:
    """Runs a refresh plan on Spark over the registered views.

    Each work table is computed once and kept (memory, then disk) while the features select
    reads it.

    Args:
        spark: the session, with :func:`register_lake` done.
        plan: the refresh (:func:`core.features.prepare`).

    Returns:
        The features rows in the store's column types, and how many readings were read (the
        readings step's count per customer and day, summed).
    """
    from pyspark import StorageLevel

    for table, frame in plan.frames:
        register_frame(spark, table, frame)
    kept = []
    for step in plan.steps:
        names = [column.name for column in step.table.columns]
        frame = spark.sql(dialect.to_sql(step.select)).toDF(*names)
        frame.persist(StorageLevel.MEMORY_AND_DISK)
        frame.createOrReplaceTempView(step.table.name)
        kept.append(frame)
    try:
        daily = next(step for step in plan.steps if step.label == READINGS_STEP)
        counted = spark.sql(f"SELECT sum(`{READINGS_COUNT}`) FROM `{daily.table.name}`").collect()[
            0
        ][0]
        rows = spark.sql(dialect.to_sql(plan.select)).toArrow()
    finally:
        for frame in kept:
            frame.unpersist()
    target = lake.arrow_schema(schema.features)
    return rows.select(target.names).cast(target), int(counted or 0)


def lake_period_end(lake_dir: str | Path) -> dt.date:
    """The day after the lake's last reading (from its manifest)."""
    last = lake.manifest(lake_dir).get("last_reading")
    if last is None:
        raise UserError("spark.error.lake_without_readings")
    return store_features.period_for(dt.datetime.fromisoformat(last))[1]


def refresh(
    spark,
    engine: sa.Engine,
    lake_dir: str | Path,
    progress: Progress | None = None,
    *,
    period_end: dt.date | None = None,
) -> SparkRefreshSummary:
    """Computes every customer's features on Spark from the lake and stores them.

    Args:
        spark: the session.
        engine: the store the features are written to (its tariff codes are checked first).
        lake_dir: the lake exported from that store.
        progress: called with a step label and the fraction done.
        period_end: the day after the last day to cover; by default the day after the lake's
            last reading.

    Returns:
        How many customers were written, how many readings read, the period covered.
    """
    started = dt.datetime.now()
    report = progress or (lambda _label, _fraction: None)
    report("lake", 0.0)
    if period_end is None:
        period_end = lake_period_end(lake_dir)
    plan = store_features.prepare(engine, access.SYSTEM, period_end=period_end, computed_at=started)
    register_lake(spark, lake_dir, (_month_label(plan.readings_start), _month_label(plan.end)))
    report("features", 0.1)
    rows, readings = run_plan(spark, plan)
    report("store", 0.9)
    with engine.begin() as conn:
        count = store_features.replace_rows(conn, plan, rows)
    report("done", 1.0)
    return SparkRefreshSummary(
        count, readings, plan.start, plan.end, (dt.datetime.now() - started).total_seconds()
    )
