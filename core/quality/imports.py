"""What the imports accepted, and how late their data arrived."""

import pandas as pd
import sqlalchemy as sa

from core import access, calendars
from core.quality.metrics import DRILL_DOWN_LIMIT, _metric
from core.store import schema


def imports_history(conn: sa.Connection, limit: int | None = None) -> pd.DataFrame:
    """The imports, newest first, with their acceptance share and arrival lag.

    Args:
        conn: a connection to the store.
        limit: at most this many imports.

    Returns:
        One row per import: ``import_id``, ``table_name``, ``file_name``, ``source_system``,
        ``finished_at``, ``rows_read``, ``rows_landed``, ``rows_rejected``, ``accepted_share``,
        ``data_end`` and ``lag_hours`` (from the newest record of the file to its arrival).
    """
    imports = schema.imports
    query = (
        sa.select(
            imports.c.id.label("import_id"),
            imports.c.table_name,
            imports.c.file_name,
            imports.c.source_system,
            imports.c.user_name,
            imports.c.finished_at,
            imports.c.rows_read,
            imports.c.rows_landed,
            imports.c.rows_rejected,
            imports.c.data_end,
        )
        .where(imports.c.finished_at.is_not(None))
        .order_by(imports.c.id.desc())
    )
    if limit is not None:
        query = query.limit(limit)
    frame = pd.DataFrame(conn.execute(query).mappings().all())
    if frame.empty:
        return pd.DataFrame(
            columns=[
                "import_id",
                "table_name",
                "file_name",
                "source_system",
                "user_name",
                "finished_at",
                "rows_read",
                "rows_landed",
                "rows_rejected",
                "data_end",
                "accepted_share",
                "lag_hours",
            ]
        )
    read = frame["rows_read"].astype("float64")
    frame["accepted_share"] = ((read - frame["rows_rejected"]) / read).where(read > 0)
    # Imports are stamped in UTC, the data in the utility's wall time.
    frame["finished_at"] = calendars.stored_as_local(frame["finished_at"])
    arrived = frame["finished_at"].dt.tz_localize(None)
    lag = arrived - pd.to_datetime(frame["data_end"])
    frame["lag_hours"] = lag.dt.total_seconds() / 3600
    return frame


def recent_imports(
    engine: sa.Engine, viewer: access.Viewer, limit: int = DRILL_DOWN_LIMIT
) -> pd.DataFrame:
    """The latest imports ``viewer`` may see, newest first (columns of :func:`imports_history`).

    A viewer scoped to part of the service area sees the imports they made themselves; the
    others name files of every district.
    """
    with engine.connect() as conn:
        history = imports_history(conn, None if _scoped(viewer) else limit)
    if _scoped(viewer):
        history = history[history["user_name"] == viewer.user_name].head(limit)
    return history.reset_index(drop=True)


def _scoped(viewer: access.Viewer) -> bool:
    return bool(viewer.regions or viewer.transformer_areas or viewer.manager_id is not None)


def _import_metrics(conn: sa.Connection, table_name: str | None = None) -> list[dict]:
    history = imports_history(conn)
    if table_name is not None:
        history = history[history["table_name"] == table_name]
    metrics = []
    groups = history.assign(source_system=history["source_system"].astype(object)).groupby(
        ["table_name", history["source_system"].fillna("")], sort=True
    )
    for (table, system), group in groups:
        system_name = system or None
        read, rejected = group["rows_read"].sum(), group["rows_rejected"].sum()
        metrics.append(
            _metric("validity", table, "rows_accepted", read - rejected, read, system_name)
        )
        latest = group.iloc[0]
        if pd.notna(latest["lag_hours"]):
            metrics.append(
                {
                    **_metric(
                        "timeliness",
                        table,
                        "arrival_lag_hours",
                        latest["lag_hours"],
                        1,
                        system_name,
                    ),
                    "numerator": float(latest["lag_hours"]),
                }
            )
    return metrics
