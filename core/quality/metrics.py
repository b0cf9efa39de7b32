"""The quality figures and their limits, and the counting every figure shares."""

from typing import Literal

import sqlalchemy as sa

from core import access
from core.store import schema

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


def _table(name: str) -> sa.Table:
    return schema.metadata.tables[name]
