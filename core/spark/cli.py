"""``python -m core export-lake`` and ``python -m core spark JOB``: Spark from the shell."""

import argparse
from collections.abc import Callable

from core import config, i18n


def add_commands(
    commands: argparse._SubParsersAction,
    add_database_url: Callable[[argparse.ArgumentParser], None],
) -> None:
    """Adds ``export-lake`` to the command line's subcommands."""
    from core.spark import lake
    from core.spark.jobs import JOBS

    export = commands.add_parser(
        "export-lake",
        help="write the store's readings as Parquet partitioned by month and customer bucket",
    )
    export.add_argument("--lake", required=True, help="the lake folder (replaced table by table)")
    export.add_argument(
        "--buckets",
        type=int,
        default=lake.DEFAULT_BUCKETS,
        help="customer hash buckets per month (default %(default)s)",
    )
    export.add_argument(
        "--chunk-rows",
        type=int,
        default=lake.CHUNK_ROWS,
        help="rows read from the store at a time (default %(default)s)",
    )
    add_database_url(export)
    export.set_defaults(handler=_command_export_lake)

    job = commands.add_parser("spark", help="run a batch job on Apache Spark over a readings lake")
    job.add_argument("job", choices=JOBS, help="the job")
    job.add_argument(
        "--master",
        default=None,
        help="local[2], spark://host:7077, ... (default: SPARK_MASTER, else local[2])",
    )
    job.add_argument("--lake", required=True, help="the lake folder (python -m core export-lake)")
    job.add_argument(
        "--horizon",
        choices=("day_ahead", "two_weeks", "three_months"),
        default="day_ahead",
        help="forecasts: the horizon (default %(default)s)",
    )
    add_database_url(job)
    job.set_defaults(handler=_command_spark)


def _language() -> str:
    language = config.setting("WORKBENCH_LANGUAGE")
    return language if language in config.LANGUAGES else "en"


def _progress(label: str, fraction: float) -> None:
    print(f"  {fraction:4.0%} {label}", flush=True)


def _command_export_lake(args: argparse.Namespace) -> int:
    from core.spark import lake
    from core.store import engine as store_engine

    engine = store_engine.connect(args.database_url or config.database_url())
    try:
        store_engine.check_schema(engine)
        summary = lake.export(
            engine, args.lake, buckets=args.buckets, chunk_rows=args.chunk_rows, progress=_progress
        )
    finally:
        engine.dispose()
    print(
        i18n.translate(
            "spark.lake_written",
            _language(),
            readings=f"{summary.rows[lake.READINGS]:,}",
            months=summary.months,
            buckets=summary.buckets,
            lake=str(summary.lake),
            seconds=f"{summary.seconds:.1f}",
        )
    )
    return 0


def _command_spark(args: argparse.Namespace) -> int:
    from core.spark import jobs, lake, session
    from core.store import engine as store_engine

    lake.manifest(args.lake)
    engine = store_engine.connect(args.database_url or config.database_url())
    options = {"horizon": args.horizon} if args.job == "forecasts" else {}
    try:
        store_engine.check_schema(engine)
        with session.running(args.master) as spark:
            result = jobs.RUNNERS[args.job](spark, engine, args.lake, _progress, **options)
    finally:
        engine.dispose()
    print(i18n.translate(result.key, _language(), **result.values))
    return 0
