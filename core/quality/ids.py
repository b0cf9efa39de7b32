"""Customer ids that resolve: rows of known customers, external ids of exactly one."""

import pandas as pd
import sqlalchemy as sa

from core import access
from core.quality.metrics import CONTRACT_SYSTEM, _count, _in_scope, _metric
from core.store import schema


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
