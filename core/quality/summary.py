"""Data-quality figures: completeness, consistency, timeliness and validity, measured in the store.

Every figure is a share (1.0 = all good) or a lag, per table and where it applies per source
system, computed by SQL inside the store; each has a drill-down to the offending customers or
rows. A snapshot of the figures is recorded after every import, which gives the trend.
"""

import datetime as dt
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from core import access, calendars, service_area, tariffs
from core.store import functions, queries, rules, schema

Dimension = Literal["completeness", "consistency", "timeliness", "validity"]
DIMENSIONS: tuple[Dimension, ...] = ("completeness", "consistency", "timeliness", "validity")

# Rows a drill-down returns at most, so a badly broken table cannot flood the page.
DRILL_DOWN_LIMIT = 500
# A bill agrees with the readings of its month when the totals differ by at most this share
# (meter reading dates rarely fall exactly on the month boundary) or by 1 kWh.
BILL_TOLERANCE = 0.02
BILL_TOLERANCE_KWH = 1.0
# A customer whose last reading is more than this many days behind is not reporting.
STALE_DAYS = 2
# Readings per day for each interval the import detects; a customer's densest day tells which.
READINGS_PER_DAY = (1, 24, 48, 96)

# Fields a complete record has, beyond the ones the store requires.
EXPECTED_FIELDS = {
    "customers": (
        "voltage_kv",
        "contract_capacity_kva",
        "transformer_area",
        "lat",
        "lon",
        "open_date",
        "manager_id",
        "phone",
    ),
    "bills": ("kwh_peak", "kwh_flat", "kwh_valley", "due_date"),
    "work_orders": ("channel", "description"),
    "outages": ("end",),
}
# Fields only some customer classes have: a household belongs to no industry.
CLASS_FIELDS = {"customers": {"industry": ("commercial", "industrial", "agricultural")}}
# Tables whose rows name a customer; their ids must resolve to one.
CUSTOMER_ID_TABLES = (
    schema.readings,
    schema.bills,
    schema.work_orders,
    schema.channel_activity,
    schema.outages,
    schema.campaign_members,
)
CONTRACT_SYSTEM = "contract"

METRICS: dict[str, tuple[Dimension, str]] = {
    "fields_filled": ("completeness", "share of rows with every expected field filled"),
    "readings_present": ("completeness", "share of expected readings present"),
    "bills_match_readings": ("consistency", "share of bills within tolerance of the readings"),
    "tariff_matches_class": ("consistency", "share of customers on a tariff of their class"),
    "inside_service_area": ("consistency", "share of located customers inside the service area"),
    "ids_resolve": ("consistency", "share of rows whose customer id is a known customer"),
    "id_map_resolves": ("consistency", "share of external ids mapping to one known customer"),
    "arrival_lag_hours": ("timeliness", "hours from the newest record to its arrival"),
    "customers_reporting": ("timeliness", "share of customers with a recent reading"),
    "values_in_range": ("validity", "share of rows with every value in range"),
    "rows_accepted": ("validity", "share of imported rows accepted"),
}
METRIC_COLUMNS = [
    "dimension",
    "table_name",
    "source_system",
    "metric",
    "value",
    "numerator",
    "denominator",
]


def _metric(
    dimension: Dimension,
    table_name: str,
    metric: str,
    numerator: float,
    denominator: float,
    source_system: str | None = None,
) -> dict:
    value = numerator / denominator if denominator else None
    return {
        "dimension": dimension,
        "table_name": table_name,
        "source_system": source_system,
        "metric": metric,
        "value": value,
        "numerator": float(numerator),
        "denominator": float(denominator),
    }


def _count(conn: sa.Connection, query: sa.Select) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(query.subquery())).scalar_one()


def _in_scope(table: sa.Table, viewer: access.Viewer) -> sa.ColumnElement:
    if table is schema.customers:
        return access.customer_scope(viewer, table)
    return table.c.customer_id.in_(access.scoped_customer_ids(viewer))


def _fields_missing(table: sa.Table) -> sa.ColumnElement:
    missing = [table.c[name].is_(None) for name in EXPECTED_FIELDS[table.name]]
    for name, classes in CLASS_FIELDS.get(table.name, {}).items():
        missing.append(sa.and_(table.c.customer_class.in_(classes), table.c[name].is_(None)))
    return sa.or_(*missing)


def _rows_passing(
    conn: sa.Connection,
    viewer: access.Viewer,
    table: sa.Table,
    failing: sa.ColumnElement,
    dimension: str,
    metric: str,
) -> dict:
    """The metric of the viewer's rows of ``table``: those not matching ``failing`` pass."""
    rows = sa.select(sa.literal(1)).select_from(table).where(_in_scope(table, viewer))
    total = _count(conn, rows)
    failed = _count(conn, rows.where(failing))
    return _metric(dimension, table.name, metric, total - failed, total)


def readings_coverage(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """Per customer: readings present against the readings its interval and period expect.

    Args:
        conn: a connection to the store.
        viewer: who is asking.

    Returns:
        One row per customer with readings: ``customer_id``, ``readings``, ``days``,
        ``first_day``, ``last_day``, ``per_day`` (expected readings per day), ``expected``,
        ``missing`` and ``share``.
    """
    readings = schema.readings
    day = functions.day(readings.c.ts).label("day")
    daily = (
        sa.select(readings.c.customer_id, day, sa.func.count().label("n"))
        .where(readings.c.customer_id.in_(access.scoped_customer_ids(viewer)))
        .group_by(readings.c.customer_id, day)
        .subquery("daily")
    )
    rows = conn.execute(
        sa.select(
            daily.c.customer_id,
            sa.func.sum(daily.c.n).label("readings"),
            sa.func.count().label("days"),
            sa.func.min(daily.c.day).label("first_day"),
            sa.func.max(daily.c.day).label("last_day"),
            sa.func.max(daily.c.n).label("densest_day"),
        ).group_by(daily.c.customer_id)
    ).all()
    frame = pd.DataFrame(
        rows, columns=["customer_id", "readings", "days", "first_day", "last_day", "densest_day"]
    )
    if frame.empty:
        return frame.assign(per_day=[], expected=[], missing=[], share=[])
    first = pd.to_datetime(frame["first_day"])
    last = pd.to_datetime(frame["last_day"])
    span_days = (last - first).dt.days + 1
    densest = frame["densest_day"].astype("int64")
    per_day = pd.Series(READINGS_PER_DAY[-1], index=frame.index)
    for count in reversed(READINGS_PER_DAY):
        per_day = per_day.where(densest > count, count)
    frame["per_day"] = per_day
    frame["expected"] = span_days * per_day
    frame["readings"] = frame["readings"].astype("int64")
    frame["missing"] = (frame["expected"] - frame["readings"]).clip(lower=0)
    frame["share"] = frame["readings"] / frame["expected"]
    frame["first_day"] = first.dt.date
    frame["last_day"] = last.dt.date
    return frame.drop(columns="densest_day").sort_values("share").reset_index(drop=True)


def _readings_present(conn: sa.Connection, viewer: access.Viewer) -> dict:
    coverage = readings_coverage(conn, viewer)
    present = (
        float(coverage["readings"].clip(upper=coverage["expected"]).sum()) if len(coverage) else 0
    )
    expected = float(coverage["expected"].sum()) if len(coverage) else 0
    return _metric("completeness", "readings", "readings_present", present, expected)


def _bill_comparison(viewer: access.Viewer) -> sa.Select:
    readings, bills = schema.readings, schema.bills
    month = functions.month(readings.c.ts).label("period")
    monthly = (
        sa.select(readings.c.customer_id, month, sa.func.sum(readings.c.kwh).label("readings_kwh"))
        .where(readings.c.customer_id.in_(access.scoped_customer_ids(viewer)))
        .group_by(readings.c.customer_id, month)
        .subquery("monthly")
    )
    difference = sa.func.abs(bills.c.kwh_total - monthly.c.readings_kwh)
    allowed = functions.greatest(
        BILL_TOLERANCE * sa.func.abs(bills.c.kwh_total), BILL_TOLERANCE_KWH
    )
    return sa.select(
        bills.c.customer_id,
        bills.c.period,
        bills.c.kwh_total,
        monthly.c.readings_kwh,
        difference.label("difference_kwh"),
        (difference <= allowed).label("agrees"),
    ).select_from(
        bills.join(
            monthly,
            sa.and_(
                monthly.c.customer_id == bills.c.customer_id, monthly.c.period == bills.c.period
            ),
        )
    )


def _bills_match(conn: sa.Connection, viewer: access.Viewer) -> dict:
    compared = _bill_comparison(viewer).subquery()
    total, agreeing = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((compared.c.agrees, 1), else_=0)))
    ).one()
    return _metric("consistency", "bills", "bills_match_readings", agreeing or 0, total)


def _tariff_mismatches(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    customers = schema.customers
    frame = pd.DataFrame(
        conn.execute(
            sa.select(
                customers.c.customer_id,
                customers.c.name,
                customers.c.customer_class,
                customers.c.tariff_code,
            ).where(access.customer_scope(viewer, customers))
        ).all(),
        columns=["customer_id", "name", "customer_class", "tariff_code"],
    )
    catalog = tariffs.load_catalog()
    allowed = (
        frame.apply(
            lambda row: (
                row["tariff_code"] in catalog
                and row["customer_class"] in catalog[row["tariff_code"]].customer_classes
            ),
            axis=1,
        )
        if len(frame)
        else pd.Series(dtype=bool)
    )
    frame["matches"] = allowed.astype(bool) if len(frame) else []
    return frame


def _tariff_matches(conn: sa.Connection, viewer: access.Viewer) -> dict:
    frame = _tariff_mismatches(conn, viewer)
    return _metric(
        "consistency", "customers", "tariff_matches_class", int(frame["matches"].sum()), len(frame)
    )


def _outside_area(conn: sa.Connection) -> sa.ColumnElement:
    customers = schema.customers
    return service_area.of_store(conn).outside(customers.c.lat, customers.c.lon)


def _inside_area(conn: sa.Connection, viewer: access.Viewer) -> dict:
    customers = schema.customers
    located = sa.select(sa.literal(1)).where(
        access.customer_scope(viewer, customers),
        customers.c.lat.is_not(None),
        customers.c.lon.is_not(None),
    )
    total = _count(conn, located)
    outside = _count(conn, located.where(_outside_area(conn)))
    return _metric("consistency", "customers", "inside_service_area", total - outside, total)


def _ids_resolve(conn: sa.Connection, viewer: access.Viewer, table: sa.Table) -> dict:
    customers = schema.customers
    # Rows of unknown customers have no region, so only an unrestricted viewer sees them.
    if viewer.regions or viewer.manager_id is not None:
        known = _count(
            conn, sa.select(sa.literal(1)).select_from(table).where(_in_scope(table, viewer))
        )
        return _metric("consistency", table.name, "ids_resolve", known, known)
    total = _count(conn, sa.select(sa.literal(1)).select_from(table))
    orphans = _count(
        conn,
        sa.select(sa.literal(1))
        .select_from(table)
        .where(~sa.exists().where(customers.c.customer_id == table.c.customer_id)),
    )
    return _metric("consistency", table.name, "ids_resolve", total - orphans, total)


def _id_map_resolves(conn: sa.Connection, viewer: access.Viewer) -> list[dict]:
    id_map, customers = schema.id_map, schema.customers
    per_id = (
        sa.select(
            id_map.c.system,
            id_map.c.external_id,
            sa.func.count(sa.distinct(id_map.c.customer_id)).label("customers"),
            sa.func.sum(sa.case((customers.c.customer_id.is_(None), 1), else_=0)).label("unknown"),
        )
        .select_from(id_map.outerjoin(customers, customers.c.customer_id == id_map.c.customer_id))
        .where(id_map.c.active)
        .group_by(id_map.c.system, id_map.c.external_id)
        .subquery("per_id")
    )
    rows = conn.execute(
        sa.select(
            per_id.c.system,
            sa.func.count(),
            sa.func.sum(sa.case(((per_id.c.customers == 1) & (per_id.c.unknown == 0), 1), else_=0)),
        ).group_by(per_id.c.system)
    ).all()
    return [
        _metric("consistency", "id_map", "id_map_resolves", good or 0, total, source_system=system)
        for system, total, good in rows
    ]


def _latest_reading(conn: sa.Connection) -> dt.datetime | None:
    return conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar()


def last_readings(
    conn: sa.Connection, viewer: access.Viewer, as_of: dt.datetime | None = None
) -> pd.DataFrame:
    """Per customer: the last reading and how many days it lies behind ``as_of``.

    Args:
        conn: a connection to the store.
        viewer: who is asking.
        as_of: the moment to measure from; by default the newest reading in the store, so a
            meter that stopped reporting stands out in a store loaded from past exports.

    Returns:
        ``customer_id``, ``name``, ``last_reading``, ``days_behind``; customers without any
        reading have no last reading. Sorted by days behind, most first.
    """
    customers, readings = schema.customers, schema.readings
    as_of = as_of or _latest_reading(conn)
    last = (
        sa.select(readings.c.customer_id, sa.func.max(readings.c.ts).label("last_reading"))
        .group_by(readings.c.customer_id)
        .subquery("last")
    )
    frame = pd.DataFrame(
        conn.execute(
            sa.select(customers.c.customer_id, customers.c.name, last.c.last_reading)
            .select_from(customers.outerjoin(last, last.c.customer_id == customers.c.customer_id))
            .where(access.customer_scope(viewer, customers))
        ).all(),
        columns=["customer_id", "name", "last_reading"],
    )
    last_reading = pd.to_datetime(frame["last_reading"])
    frame["last_reading"] = last_reading
    if as_of is None:
        frame["days_behind"] = pd.Series(float("nan"), index=frame.index)
    else:
        frame["days_behind"] = (pd.Timestamp(as_of) - last_reading).dt.total_seconds() / 86_400
    return frame.sort_values("days_behind", ascending=False, na_position="first").reset_index(
        drop=True
    )


def _customers_reporting(
    conn: sa.Connection, viewer: access.Viewer, as_of: dt.datetime | None
) -> dict:
    frame = last_readings(conn, viewer, as_of)
    reporting = int((frame["days_behind"] <= STALE_DAYS).sum())
    return _metric("timeliness", "readings", "customers_reporting", reporting, len(frame))


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


# Tables whose stored rows are checked against the rule table, in the order they are shown.
RULE_TABLES = tuple(table for table in schema.ENTITY_TABLES if rules.for_table(table.name))


def vocabularies(conn: sa.Connection) -> dict[str, list[str]]:
    """The lists the rule table's Known rules check against: districts, tariff codes, arms."""
    region = schema.customers.c.region
    districts = conn.execute(sa.select(region).distinct().where(region.is_not(None)))
    return {
        "districts": [str(name) for (name,) in districts],
        "tariff_codes": list(tariffs.load_catalog()),
        "campaign_arms": queries.campaign_arm_names(conn),
    }


def _rule_rows(
    conn: sa.Connection, table: sa.Table, now: dt.datetime
) -> tuple[sa.FromClause, sa.ColumnElement[bool]]:
    """The rows of a table to check against its rules, and the condition that they break one.

    Readings are joined to their customer's capacity and interval for the capacity rule.
    """
    known = vocabularies(conn)
    rows: sa.FromClause = table
    capacity = interval = None
    if table is schema.readings:
        customers = schema.customers.alias("capacity_of")
        intervals = rules.interval_minutes(table)
        rows = table.outerjoin(customers, customers.c.customer_id == table.c.customer_id).outerjoin(
            intervals, intervals.c.customer_id == table.c.customer_id
        )
        capacity, interval = customers.c.contract_capacity_kva, intervals.c.minutes
    conditions = [
        condition
        for rule in rules.for_table(table.name)
        if (
            condition := rules.sql_violation(
                rule, table, now, known, capacity_kva=capacity, interval=interval
            )
        )
        is not None
    ]
    return rows, sa.or_(*conditions)


def _values_in_range(conn: sa.Connection, viewer: access.Viewer, table: sa.Table) -> dict:
    rows, broken = _rule_rows(conn, table, dt.datetime.now())
    scoped = sa.select(sa.literal(1)).select_from(rows)
    if "customer_id" in table.c:
        scoped = scoped.where(_in_scope(table, viewer))
    total = _count(conn, scoped)
    failed = _count(conn, scoped.where(broken))
    return _metric("validity", table.name, "values_in_range", total - failed, total)


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


def _table(name: str) -> sa.Table:
    return schema.metadata.tables[name]


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


def shared_external_ids(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """External ids that one system maps to more than one customer (active mappings).

    Args:
        conn: a connection to the store.
        viewer: who is asking; conflicts show when the viewer may see one of the customers.

    Returns:
        ``system``, ``external_id``, ``customer_id``, ``problem`` (``shared_external_id``) — one
        row per mapping involved.
    """
    id_map = schema.id_map
    shared = (
        sa.select(id_map.c.system, id_map.c.external_id)
        .where(id_map.c.active)
        .group_by(id_map.c.system, id_map.c.external_id)
        .having(sa.func.count(sa.distinct(id_map.c.customer_id)) > 1)
        .subquery("shared")
    )
    query = (
        sa.select(id_map.c.system, id_map.c.external_id, id_map.c.customer_id)
        .select_from(
            id_map.join(
                shared,
                sa.and_(
                    shared.c.system == id_map.c.system, shared.c.external_id == id_map.c.external_id
                ),
            )
        )
        .where(id_map.c.active, id_map.c.customer_id.in_(access.scoped_customer_ids(viewer)))
        .order_by(id_map.c.system, id_map.c.external_id, id_map.c.customer_id)
    )
    frame = pd.DataFrame(
        conn.execute(query).all(), columns=["system", "external_id", "customer_id"]
    )
    frame["problem"] = "shared_external_id"
    return frame


def multiple_contracts(
    conn: sa.Connection, viewer: access.Viewer, system: str = CONTRACT_SYSTEM
) -> pd.DataFrame:
    """Customers with more than one active contract number.

    Args:
        conn: a connection to the store.
        viewer: who is asking.
        system: the id_map system of contract numbers.

    Returns:
        ``customer_id``, ``name``, ``external_id`` — one row per active contract number of
        each such customer.
    """
    id_map, customers = schema.id_map, schema.customers
    several = (
        sa.select(id_map.c.customer_id)
        .where(id_map.c.system == system, id_map.c.active)
        .group_by(id_map.c.customer_id)
        .having(sa.func.count() > 1)
    )
    query = (
        sa.select(id_map.c.customer_id, customers.c.name, id_map.c.external_id)
        .select_from(id_map.outerjoin(customers, customers.c.customer_id == id_map.c.customer_id))
        .where(
            id_map.c.system == system,
            id_map.c.active,
            id_map.c.customer_id.in_(several),
            id_map.c.customer_id.in_(access.scoped_customer_ids(viewer)),
        )
        .order_by(id_map.c.customer_id, id_map.c.external_id)
    )
    return pd.DataFrame(conn.execute(query).all(), columns=["customer_id", "name", "external_id"])


def unknown_mapped_customers(conn: sa.Connection) -> pd.DataFrame:
    """Active id_map rows that point at a customer the store does not have."""
    id_map, customers = schema.id_map, schema.customers
    query = sa.select(id_map.c.system, id_map.c.external_id, id_map.c.customer_id).where(
        id_map.c.active, ~sa.exists().where(customers.c.customer_id == id_map.c.customer_id)
    )
    frame = pd.DataFrame(
        conn.execute(query).all(), columns=["system", "external_id", "customer_id"]
    )
    frame["problem"] = "unknown_customer"
    return frame


def id_conflicts(engine: sa.Engine, viewer: access.Viewer) -> dict[str, pd.DataFrame]:
    """The id conflicts someone has to fix.

    Args:
        engine: the store.
        viewer: who is asking.

    Returns:
        ``shared_external_ids`` (one external id mapped to several customers) and
        ``multiple_contracts`` (a customer with several active contract numbers), personal
        fields masked for the viewer.
    """
    with engine.connect() as conn:
        return {
            "shared_external_ids": access.mask_frame(viewer, shared_external_ids(conn, viewer)),
            "multiple_contracts": access.mask_frame(viewer, multiple_contracts(conn, viewer)),
        }
