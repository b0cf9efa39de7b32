"""Row scope: the customers a viewer may see, and the look-ups that obey it."""

import pandas as pd
import sqlalchemy as sa

from core.access.audit import record
from core.access.masking import is_personal, mask_frame, search_match
from core.access.roles import Viewer
from core.store import schema

# A customer list a person reads on screen; searches narrow it further.
CUSTOMER_LIST_LIMIT = 500


def customer_scope(viewer: Viewer, customers: sa.Table = schema.customers) -> sa.ColumnElement:
    """The condition on ``customers`` that keeps the rows ``viewer`` may see.

    Args:
        viewer: who is asking.
        customers: the customers table or an alias of it.

    Returns:
        A boolean SQL expression to put in a ``WHERE``.
    """
    conditions = []
    if viewer.regions:
        conditions.append(customers.c.region.in_(viewer.regions))
    if viewer.transformer_areas:
        conditions.append(customers.c.transformer_area.in_(viewer.transformer_areas))
    if viewer.manager_id is not None:
        conditions.append(customers.c.manager_id == viewer.manager_id)
    return sa.and_(sa.true(), *conditions)


def scoped_customer_ids(viewer: Viewer) -> sa.Select:
    """The ids of the customers ``viewer`` may see, for ``column.in_(...)`` on other tables."""
    customers = schema.customers
    return sa.select(customers.c.customer_id).where(customer_scope(viewer, customers))


def visible_customers(
    conn: sa.Connection,
    viewer: Viewer,
    search: str | None = None,
    limit: int = CUSTOMER_LIST_LIMIT,
) -> pd.DataFrame:
    """The customers ``viewer`` may see, optionally searched, with personal fields masked.

    Args:
        conn: a store connection.
        viewer: who is asking.
        search: part of a customer id, name or phone number (of what the viewer sees of a
            masked name or phone; ``%`` and ``_`` are literal).
        limit: at most this many rows, in customer-id order.

    Returns:
        customer_id, name, customer_class, region, transformer_area, manager_id, phone.
    """
    customers = schema.customers
    query = sa.select(
        customers.c.customer_id,
        customers.c.name,
        customers.c.customer_class,
        customers.c.region,
        customers.c.transformer_area,
        customers.c.manager_id,
        customers.c.phone,
    ).where(customer_scope(viewer))
    if search and search.strip():
        text = search.strip()
        query = query.where(
            sa.or_(
                customers.c.customer_id.contains(text, autoescape=True),
                search_match(
                    viewer, customers.c.name, "name", text, is_personal(customers.c.customer_class)
                ),
                search_match(viewer, customers.c.phone, "phone", text),
            )
        )
    rows = conn.execute(query.order_by(customers.c.customer_id).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    return mask_frame(viewer, frame)


def may_see_customer(conn: sa.Connection, viewer: Viewer, customer_id: str) -> bool:
    """Whether ``customer_id`` is within ``viewer``'s row scope."""
    customers = schema.customers
    found = conn.execute(
        sa.select(customers.c.customer_id).where(
            customers.c.customer_id == customer_id, customer_scope(viewer)
        )
    ).first()
    return found is not None


def open_customer(conn: sa.Connection, viewer: Viewer, customer_id: str) -> bool:
    """Records that ``viewer`` opens one customer's full view, or refuses it outside their scope.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: who is asking.
        customer_id: the customer to open.

    Returns:
        True when the viewer may open it (audited as ``customer_opened``); False otherwise
        (audited as ``customer_refused``).
    """
    allowed = may_see_customer(conn, viewer, customer_id)
    record(conn, viewer, "customer_opened" if allowed else "customer_refused", customer_id)
    return allowed
