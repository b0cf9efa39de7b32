"""The Spark jobs by name, as ``python -m core spark JOB`` runs them.

- ``features``: every customer's features, written to the store's features table.
- ``bills``: every customer's bill under every option it may choose, into
  ``<lake>/results/bills/``.
- ``forecasts``: every transformer area's and large customer's load forecast, into
  ``<lake>/results/forecasts/``.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa

from core import tariffs
from core.spark import bills, forecasts, lake
from core.spark import features as spark_features

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class JobResult:
    """What a job did, as the command line tells it.

    Attributes:
        job: the job's name.
        key: the catalog key of the sentence that tells it.
        values: the values of that sentence.
        summary: the job's own summary.
    """

    job: str
    key: str
    values: dict = field(default_factory=dict)
    summary: object = None


def _write(rows, folder: Path) -> int:
    """Writes a job's rows as Parquet into the lake (replacing the last run's) and counts them."""
    rows = rows.cache()
    try:
        rows.write.mode("overwrite").parquet(str(folder))
        return rows.count()
    finally:
        rows.unpersist()


def features_job(spark, engine: sa.Engine, lake_dir: str, progress: Progress | None = None):
    """The features of every customer of the lake, written to the store."""
    summary = spark_features.refresh(spark, engine, lake_dir, progress)
    return JobResult(
        "features",
        "spark.features_done",
        {
            "customers": f"{summary.customers:,}",
            "readings": f"{summary.readings:,}",
            "start": summary.period_start,
            "end": summary.period_end,
            "seconds": f"{summary.seconds:.1f}",
        },
        summary,
    )


def bills_job(spark, engine: sa.Engine, lake_dir: str, progress: Progress | None = None):
    """Every customer's bills under every option it may choose, into the lake's results."""
    started = dt.datetime.now()
    report = progress or (lambda _label, _fraction: None)
    report("lake", 0.0)
    rows, start, end = bills.run(spark, lake_dir, tariffs.load_catalog())
    folder = lake.results_folder(lake_dir, "bills")
    report("bills", 0.1)
    count = _write(rows, folder)
    written = spark.read.parquet(str(folder))
    customers = written.select("customer_id").distinct().count()
    failed = written.where("error IS NOT NULL").select("customer_id").distinct().count()
    report("done", 1.0)
    summary = bills.BillsSummary(
        customers,
        count,
        failed,
        start,
        end,
        str(folder),
        (dt.datetime.now() - started).total_seconds(),
    )
    return JobResult(
        "bills",
        "spark.bills_done",
        {
            "customers": f"{customers:,}",
            "rows": f"{count:,}",
            "failed": f"{failed:,}",
            "start": f"{start:%Y-%m}",
            "end": f"{end - dt.timedelta(days=1):%Y-%m}",
            "output": str(folder),
            "seconds": f"{summary.seconds:.1f}",
        },
        summary,
    )


def forecasts_job(
    spark,
    engine: sa.Engine,
    lake_dir: str,
    progress: Progress | None = None,
    *,
    horizon: str = forecasts.DEFAULT_HORIZON,
):
    """Every transformer area's and large customer's forecast, into the lake's results."""
    started = dt.datetime.now()
    report = progress or (lambda _label, _fraction: None)
    report("lake", 0.0)
    spark_features.register_lake(spark, lake_dir)
    rows = forecasts.run(spark, horizon)
    folder = lake.results_folder(lake_dir, "forecasts")
    report("forecasts", 0.1)
    count = _write(rows, folder)
    written = spark.read.parquet(str(folder))
    series = written.select("level", "key").distinct().count()
    failed = written.where("error IS NOT NULL").select("level", "key").distinct().count()
    report("done", 1.0)
    seconds = (dt.datetime.now() - started).total_seconds()
    summary = forecasts.ForecastsSummary(series, failed, count, horizon, str(folder), seconds)
    return JobResult(
        "forecasts",
        "spark.forecasts_done",
        {
            "series": f"{series:,}",
            "failed": f"{failed:,}",
            "horizon": horizon,
            "output": str(folder),
            "seconds": f"{seconds:.1f}",
        },
        summary,
    )


RUNNERS = {"features": features_job, "bills": bills_job, "forecasts": forecasts_job}
JOBS = tuple(RUNNERS)
