"""Every figure at once: the report, the snapshot after an import, the trend, the drill-down."""

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from core import access
from core.quality.consistency import (
    _bill_comparison,
    _bills_match,
    _inside_area,
    _outside_area,
    _tariff_matches,
    _tariff_mismatches,
)
from core.quality.ids import (
    _id_map_resolves,
    _ids_resolve,
    shared_external_ids,
    unknown_mapped_customers,
)
from core.quality.imports import _import_metrics, imports_history
from core.quality.metrics import (
    CUSTOMER_ID_TABLES,
    DRILL_DOWN_LIMIT,
    EXPECTED_FIELDS,
    METRIC_COLUMNS,
    METRICS,
    STALE_DAYS,
    _fields_missing,
    _in_scope,
    _rows_passing,
    _table,
)
from core.quality.readings import (
    _customers_reporting,
    _readings_present,
    last_readings,
    readings_coverage,
)
from core.quality.validity import RULE_TABLES, _rule_rows, _values_in_range
from core.store import schema


def _measure(
    conn: sa.Connection,
    viewer: access.Viewer,
    table_name: str | None = None,
    as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    def wanted(name: str) -> bool:
        return table_name is None or table_name == name

    rows: list[dict] = []
    for name in EXPECTED_FIELDS:
        if wanted(name):
            table = _table(name)
            failing = _fields_missing(table)
            rows.append(
                _rows_passing(conn, viewer, table, failing, "completeness", "fields_filled")
            )
    if wanted("readings"):
        rows.append(_readings_present(conn, viewer))
        rows.append(_customers_reporting(conn, viewer, as_of))
    if wanted("bills") or wanted("readings"):
        rows.append(_bills_match(conn, viewer))
    if wanted("customers"):
        rows.append(_tariff_matches(conn, viewer))
        rows.append(_inside_area(conn, viewer))
    for table in CUSTOMER_ID_TABLES:
        if wanted(table.name):
            rows.append(_ids_resolve(conn, viewer, table))
    if wanted("id_map") or wanted("customers"):
        rows.extend(_id_map_resolves(conn, viewer))
    for table in RULE_TABLES:
        if wanted(table.name):
            rows.append(_values_in_range(conn, viewer, table))
    rows.extend(_import_metrics(conn, table_name))
    return pd.DataFrame(rows, columns=METRIC_COLUMNS)


def report(
    engine: sa.Engine, viewer: access.Viewer, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Every quality figure of the store.

    Args:
        engine: the store.
        viewer: who is asking; figures about customers cover the customers the viewer may see.
        as_of: the moment timeliness is measured from (default: the newest reading).

    Returns:
        One row per figure: ``dimension``, ``table_name``, ``source_system``, ``metric`` (a key of
        :data:`METRICS`), ``value`` (a share from 0 to 1, or hours for the arrival lag; empty
        when there is nothing to measure), ``numerator`` and ``denominator``.
    """
    with engine.connect() as conn:
        return _measure(conn, viewer, as_of=as_of)


def record_snapshot(
    conn: sa.Connection, import_id: int, table_name: str, source_system: str | None
) -> int:
    """Records the figures of one table after an import, inside the import's transaction.

    Args:
        conn: the import's connection.
        import_id: the import the snapshot follows.
        table_name: the table imported into.
        source_system: the system the file came from.

    Returns:
        The number of figures recorded.
    """
    figures = _measure(conn, access.SYSTEM, table_name=table_name)
    figures = figures[figures["value"].notna()]
    if figures.empty:
        return 0
    taken_at = dt.datetime.now().replace(microsecond=0)
    conn.execute(
        schema.quality_snapshots.insert(),
        [
            {
                "import_id": import_id,
                "taken_at": taken_at,
                "dimension": row.dimension,
                "table_name": row.table_name,
                "source_system": row.source_system
                if isinstance(row.source_system, str)
                else source_system,
                "metric": row.metric,
                "value": float(row.value),
                "numerator": float(row.numerator),
                "denominator": float(row.denominator),
            }
            for row in figures.itertuples(index=False)
        ],
    )
    return len(figures)


def trend(engine: sa.Engine) -> pd.DataFrame:
    """The figures recorded after each import, oldest first: the trend over imports.

    Args:
        engine: the store.

    Returns:
        ``import_id``, ``taken_at``, ``file_name``, ``dimension``, ``table_name``,
        ``source_system``, ``metric``, ``value``.
    """
    snapshots, imports = schema.quality_snapshots, schema.imports
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                snapshots.c.import_id,
                snapshots.c.taken_at,
                imports.c.file_name,
                snapshots.c.dimension,
                snapshots.c.table_name,
                snapshots.c.source_system,
                snapshots.c.metric,
                snapshots.c.value,
            )
            .select_from(snapshots.outerjoin(imports, imports.c.id == snapshots.c.import_id))
            .order_by(snapshots.c.import_id, snapshots.c.id)
        ).all()
    return pd.DataFrame(
        rows,
        columns=[
            "import_id",
            "taken_at",
            "file_name",
            "dimension",
            "table_name",
            "source_system",
            "metric",
            "value",
        ],
    )


def drill_down(
    engine: sa.Engine,
    viewer: access.Viewer,
    metric: str,
    table_name: str,
    source_system: str | None = None,
    limit: int = DRILL_DOWN_LIMIT,
) -> pd.DataFrame:
    """The customers or rows behind a figure that fall short.

    Args:
        engine: the store.
        viewer: who is asking.
        metric: a key of :data:`METRICS`.
        table_name: the table of the figure.
        source_system: the source system of the figure, where it has one.
        limit: at most this many rows.

    Returns:
        The offending rows, worst first, personal fields masked for the viewer.

    Raises:
        ValueError: the metric is unknown.
    """
    if metric not in METRICS:
        raise ValueError(
            f"there is no quality figure {metric!r}; choose one of {', '.join(METRICS)}"
        )
    with engine.connect() as conn:
        frame = _drill_down(conn, viewer, metric, table_name, source_system, limit)
    return access.mask_frame(viewer, frame.head(limit).reset_index(drop=True))


def _drill_down(
    conn: sa.Connection,
    viewer: access.Viewer,
    metric: str,
    table_name: str,
    source_system: str | None,
    limit: int,
) -> pd.DataFrame:
    table = _table(table_name)
    if metric == "fields_filled":
        query = (
            sa.select(table).where(_in_scope(table, viewer), _fields_missing(table)).limit(limit)
        )
        return pd.DataFrame(conn.execute(query).mappings().all())
    if metric == "readings_present":
        coverage = readings_coverage(conn, viewer)
        return coverage[coverage["missing"] > 0]
    if metric == "bills_match_readings":
        compared = _bill_comparison(viewer).subquery()
        query = (
            sa.select(compared)
            .where(~compared.c.agrees)
            .order_by(compared.c.difference_kwh.desc())
            .limit(limit)
        )
        return pd.DataFrame(conn.execute(query).mappings().all())
    if metric == "tariff_matches_class":
        frame = _tariff_mismatches(conn, viewer)
        return frame[~frame["matches"]].drop(columns="matches")
    if metric == "inside_service_area":
        customers = schema.customers
        query = (
            sa.select(
                customers.c.customer_id,
                customers.c.name,
                customers.c.region,
                customers.c.lat,
                customers.c.lon,
            )
            .where(access.customer_scope(viewer, customers), _outside_area(conn))
            .limit(limit)
        )
        return pd.DataFrame(conn.execute(query).mappings().all())
    if metric == "ids_resolve":
        customers = schema.customers
        query = (
            sa.select(table.c.customer_id, sa.func.count().label("rows"))
            .where(~sa.exists().where(customers.c.customer_id == table.c.customer_id))
            .group_by(table.c.customer_id)
            .order_by(sa.func.count().desc())
            .limit(limit)
        )
        if viewer.regions or viewer.manager_id is not None:
            return pd.DataFrame(columns=["customer_id", "rows"])
        return pd.DataFrame(conn.execute(query).all(), columns=["customer_id", "rows"])
    if metric == "id_map_resolves":
        conflicts = shared_external_ids(conn, viewer)
        unknown = unknown_mapped_customers(conn)
        frame = pd.concat([conflicts, unknown], ignore_index=True)
        if source_system is not None:
            frame = frame[frame["system"] == source_system]
        return frame
    if metric == "customers_reporting":
        frame = last_readings(conn, viewer)
        return frame[~(frame["days_behind"] <= STALE_DAYS)]
    if metric == "values_in_range":
        rows, broken = _rule_rows(conn, table, dt.datetime.now())
        query = sa.select(*table.c).select_from(rows).where(broken).limit(limit)
        if "customer_id" in table.c:
            query = query.where(_in_scope(table, viewer))
        return pd.DataFrame(conn.execute(query).all(), columns=list(table.c.keys()))
    history = imports_history(conn)
    history = history[history["table_name"] == table_name]
    if source_system is not None:
        history = history[history["source_system"] == source_system]
    return history
