"""The Spark session the batch jobs run in: the master from the command line or ``SPARK_MASTER``.

The defaults suit one machine (``local[2]``) and the test suite: few shuffle partitions, no web
UI, warnings only in the log. Every timestamp is the store's naive local time; the session runs in
UTC so Spark never shifts one (a time zone would move the wall clock of every reading).
"""

import contextlib
import os
import sys
import warnings
from collections.abc import Iterator

from core import config

DEFAULT_MASTER = "local[2]"
# Shuffle partitions: two per core of the default master. A cluster job sets its own with
# SPARK_SHUFFLE_PARTITIONS (a few per executor core).
DEFAULT_SHUFFLE_PARTITIONS = 4
APP_NAME = "power-marketing-workbench"
# pyspark 4 announces that it is not tested with pandas 3 on every conversion; the conversions
# the jobs use (Arrow both ways, pandas UDFs on float, string, date and timestamp columns) are
# checked by tests/test_spark.py.
_PANDAS_3_NOTICE = "PySpark does not yet fully support pandas >= 3.0.0"


def master(requested: str | None = None) -> str:
    """The Spark master: the one asked for, else ``SPARK_MASTER``, else :data:`DEFAULT_MASTER`."""
    return requested or config.setting("SPARK_MASTER") or DEFAULT_MASTER


def is_local(spark_master: str) -> bool:
    """Whether a master runs its executors on this machine: ``local``, ``local[N]``."""
    return spark_master == "local" or spark_master.startswith("local[")


def build(requested_master: str | None = None, *, app_name: str = APP_NAME):
    """Starts (or returns the running) Spark session.

    Args:
        requested_master: ``local[2]``, ``spark://host:7077``, ...; None reads ``SPARK_MASTER``.
        app_name: the application name the cluster shows.

    Returns:
        The ``pyspark.sql.SparkSession``.
    """
    quiet_pandas_notice()
    from pyspark.sql import SparkSession

    chosen = master(requested_master)
    if is_local(chosen):
        # Local Python workers run this interpreter, whose environment has pandas and the app;
        # on a cluster the executors' PYSPARK_PYTHON is the cluster's to set.
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    partitions = config.setting("SPARK_SHUFFLE_PARTITIONS", str(DEFAULT_SHUFFLE_PARTITIONS))
    builder = (
        SparkSession.builder.master(chosen)
        .appName(app_name)
        .config("spark.sql.shuffle.partitions", partitions)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.timestampType", "TIMESTAMP_NTZ")
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.sql.execution.arrow.pyspark.fallback.enabled", "false")
        .config("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
        .config("spark.driver.extraJavaOptions", "-Dlog4j2.level=WARN")
    )
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("WARN")
    return session


@contextlib.contextmanager
def running(requested_master: str | None = None) -> Iterator:
    """A session for one command: stopped at the end unless it was running already.

    Args:
        requested_master: as for :func:`build`.
    """
    from pyspark.sql import SparkSession

    already = SparkSession.getActiveSession()
    spark = build(requested_master)
    try:
        yield spark
    finally:
        if already is None:
            spark.stop()


def quiet_pandas_notice() -> None:
    """Hides pyspark's notice that it is not tested with pandas 3 (see :data:`_PANDAS_3_NOTICE`)."""
    warnings.filterwarnings("ignore", message=_PANDAS_3_NOTICE, category=FutureWarning)
