"""Rejected rows: kept with the file, row, column, value and reason.

They are read back in the reader's language, within the reader's scope.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from core import access, calendars
from core.ingest import reasons
from core.store import schema

# The columns a check fills in the rejected rows, in the order the inserts select them.
REJECTED_INSERT_COLUMNS = (
    "import_id",
    "table_name",
    "file_name",
    "customer_id",
    "row_number",
    "column_name",
    "value",
    "reason",
    "reason_code",
    "reason_values",
    "rejected_at",
)
# Rejected rows shown or downloaded at most at once.
REJECTED_ROWS_LIMIT = 100_000
SHOWN_COLUMNS = [
    "import_id",
    "table_name",
    "file_name",
    "row_number",
    "column_name",
    "value",
    "reason",
    "rejected_at",
]

Progress = Callable[[int, float], None]


@dataclass
class Batch:
    """The import that rows are checked for, and how far through the file it is.

    Attributes:
        import_id: the ``imports`` row.
        table: the target table.
        file_name: the file's name as recorded.
        estimated_rows: the rows the file is expected to hold (0: unknown).
        progress: told the rows read and the share done after each chunk.
        rows_read: data rows read so far.
    """

    import_id: int
    table: str
    file_name: str
    estimated_rows: int = 0
    progress: Progress | None = None
    rows_read: int = 0

    def advance(self, rows: int) -> None:
        """Counts ``rows`` more rows read and reports the share done.

        The share is an estimate until the file ends, so it stops short of 1 while reading.
        """
        self.rows_read += rows
        if self.progress is None:
            return
        share = self.rows_read / self.estimated_rows if self.estimated_rows else 0.0
        self.progress(self.rows_read, min(share, ESTIMATED_SHARE_CAP))


# The share shown while a file is still being read: an estimate of rows never says "done".
ESTIMATED_SHARE_CAP = 0.99


def frame_to_store(problems: pd.DataFrame, batch: Batch, now: dt.datetime) -> pd.DataFrame:
    """Rejected values of a check as rows of ``rejected_rows``."""
    frame = problems.copy()
    frame.insert(0, "import_id", batch.import_id)
    frame.insert(1, "table_name", batch.table)
    frame.insert(2, "file_name", batch.file_name)
    if "customer_id" not in frame.columns:
        frame["customer_id"] = None
    frame["reason"] = [
        reasons.text(code, values)
        for code, values in zip(frame["reason_code"], frame["reason_values"], strict=True)
    ]
    frame["rejected_at"] = pd.Timestamp(now)
    frame["row_number"] = frame["row_number"].astype("Int64")
    frame["value"] = frame["value"].astype("str")
    return frame[list(REJECTED_INSERT_COLUMNS)]


def visible(viewer: access.Viewer) -> sa.ColumnElement[bool]:
    """The rejected rows ``viewer`` may see, as a condition on ``rejected_rows``.

    Every row for an unscoped viewer; for a scoped one the rows of customers in their scope and
    the rows of the files they imported themselves.
    """
    rejected = schema.rejected_rows
    if not _scoped(viewer):
        return sa.true()
    own_imports = sa.select(schema.imports.c.id).where(
        schema.imports.c.user_name == viewer.user_name
    )
    return sa.or_(
        rejected.c.customer_id.in_(access.scoped_customer_ids(viewer)),
        rejected.c.import_id.in_(own_imports),
    )


def _scoped(viewer: access.Viewer) -> bool:
    return bool(viewer.regions or viewer.transformer_areas or viewer.manager_id is not None)


def rejected_rows(
    engine: sa.Engine,
    viewer: access.Viewer,
    import_id: int | None = None,
    limit: int = REJECTED_ROWS_LIMIT,
    language: str = "en",
) -> pd.DataFrame:
    """The rejected rows kept in the store that ``viewer`` may see, newest import first.

    Args:
        engine: the store.
        viewer: who is asking (see :func:`visible`).
        import_id: only the rows of this import.
        limit: at most this many rows.
        language: the language of the reasons (``en`` or ``zh``); rows kept before reasons had
            codes keep their English words.

    Returns:
        ``import_id``, ``table_name``, ``file_name``, ``row_number``, ``column_name``, ``value``,
        ``reason``, ``rejected_at`` (in :data:`core.calendars.LOCAL_TIME`, the zone attached).
    """
    rejected = schema.rejected_rows
    query = sa.select(
        *[rejected.c[name] for name in SHOWN_COLUMNS],
        rejected.c.reason_code,
        rejected.c.reason_values,
    ).where(visible(viewer))
    if import_id is not None:
        query = query.where(rejected.c.import_id == import_id)
    query = query.order_by(
        rejected.c.import_id.desc(), rejected.c.row_number, rejected.c.column_name
    ).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=[*SHOWN_COLUMNS, "reason_code", "reason_values"])
    coded = frame["reason_code"].notna()
    if coded.any():
        # Each distinct reason is put into words once, however many rows share it.
        pairs = frame.loc[coded, ["reason_code", "reason_values"]].drop_duplicates()
        words = {
            (code, values): reasons.text(code, values, language)
            for code, values in zip(pairs["reason_code"], pairs["reason_values"], strict=True)
        }
        frame.loc[coded, "reason"] = [
            words[pair]
            for pair in zip(
                frame.loc[coded, "reason_code"], frame.loc[coded, "reason_values"], strict=True
            )
        ]
    frame["rejected_at"] = calendars.stored_as_local(frame["rejected_at"])
    return frame[SHOWN_COLUMNS]
