"""What the topic windows' figures share: typed result frames and the rows behind a figure.

Every figure of a window drills down to the customers, applications or work orders behind it. A
drill-down is the figure's own query without its grouping: its totals are summed by the store
over every row of the selection, so they equal the figure clicked, while the rows a person reads
are capped.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from core import access
from core.store import frames

# Rows of a drill-down a person reads on screen or takes away; the totals count every row.
DRILL_DOWN_LIMIT = 2_000
# A selection value that means "no value": the rows of a group whose key is empty.
NONE_VALUE = "__none__"


@dataclass(frozen=True)
class DrillDown:
    """The rows behind one figure.

    Attributes:
        rows: at most :data:`DRILL_DOWN_LIMIT` rows, in the order a reader wants them, personal
            fields masked for the viewer.
        total_rows: how many rows the selection has in all.
        totals: the sums of the selection's figures over all its rows (``energy_kwh`` ...).
    """

    rows: pd.DataFrame
    total_rows: int
    totals: dict[str, float] = field(default_factory=dict)

    @property
    def truncated(self) -> bool:
        """Whether more rows exist than :attr:`rows` holds."""
        return self.total_rows > len(self.rows)


def read(conn: sa.Connection, query: sa.Select) -> pd.DataFrame:
    """A query's rows with numbers as floats or integers and dates as timestamps, on any backend."""
    frame = frames.read_frame(conn, query)
    for column in query.selected_columns:
        name, kind = column.key, column.type
        if name not in frame.columns:
            continue
        if isinstance(kind, sa.Boolean):
            frame[name] = frame[name].astype(bool)
        elif isinstance(kind, sa.Integer):
            frame[name] = pd.to_numeric(frame[name]).fillna(0).astype("int64")
        elif isinstance(kind, sa.Numeric | sa.Float):
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype(float)
        elif isinstance(kind, sa.Date | sa.DateTime):
            frame[name] = pd.to_datetime(frame[name])
    return frame


def drill_down(
    conn: sa.Connection,
    viewer: access.Viewer,
    query: sa.Select,
    *,
    sums: Sequence[str] = (),
    order_by: Sequence[tuple[str, bool]] = (),
    limit: int = DRILL_DOWN_LIMIT,
) -> DrillDown:
    """The rows of ``query`` with their count and sums over all of them.

    Args:
        conn: a store connection.
        viewer: who is asking; personal fields are masked for them.
        query: the rows behind a figure, already scoped by the viewer.
        sums: columns summed over every row.
        order_by: ``(column, descending)`` pairs the rows are sorted by.
        limit: at most this many rows are returned.

    Returns:
        The drill-down.
    """
    selection = query.subquery("selection")
    totals = conn.execute(
        sa.select(
            sa.func.count(),
            *(sa.func.coalesce(sa.func.sum(selection.c[name]), 0) for name in sums),
        )
    ).one()
    ordering = [
        selection.c[name].desc() if descending else selection.c[name].asc()
        for name, descending in order_by
    ]
    rows = read(conn, sa.select(selection).order_by(*ordering).limit(limit))
    rows = access.mask_frame(viewer, rows)
    return DrillDown(
        rows=rows.reset_index(drop=True),
        total_rows=int(totals[0]),
        totals={name: float(value) for name, value in zip(sums, totals[1:], strict=True)},
    )


def matching(
    columns: Mapping[str, sa.ColumnElement], selection: Mapping[str, str | None]
) -> list[sa.ColumnElement[bool]]:
    """Conditions keeping the rows of one group: each named column equal to its selected value.

    Args:
        columns: dimension name → the SQL expression of that dimension.
        selection: dimension name → the value clicked; None leaves the dimension open and
            :data:`NONE_VALUE` keeps the rows without a value.

    Returns:
        One condition per selected dimension.

    Raises:
        KeyError: the selection names a dimension the figure does not have.
    """
    conditions = []
    for name, value in selection.items():
        if value is None:
            continue
        column = columns[name]
        conditions.append(column.is_(None) if value == NONE_VALUE else column == value)
    return conditions


def without_personal_fields(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame without any personal column (names, phones, id numbers), for public screens."""
    return frame.drop(columns=[name for name in frame.columns if name in access.PERSONAL_FIELDS])
