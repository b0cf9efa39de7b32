"""The batch analytics on Apache Spark, for stores too large for one machine.

- :mod:`core.spark.lake`: ``python -m core export-lake`` writes a store's readings (and the
  tables the jobs read) as Parquet partitioned by month and customer hash bucket.
- :mod:`core.spark.session`: the Spark session, master from ``--master`` or ``SPARK_MASTER``.
- :mod:`core.spark.cli`: the commands.

Nothing here imports pyspark at import time: the rest of the workbench runs without it.
"""
