"""Stored values checked against the rule table, in SQL."""

import datetime as dt

import sqlalchemy as sa

from core import access, tariffs
from core.quality.metrics import _count, _in_scope, _metric
from core.store import queries, rules, schema

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
