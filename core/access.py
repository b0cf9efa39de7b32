"""Who is asking: the viewer every core query takes, and the rows a viewer may see."""

from dataclasses import dataclass
from typing import Literal

import sqlalchemy as sa

from core.store import schema

Role = Literal["administrator", "manager", "analyst", "customer_manager"]


@dataclass(frozen=True)
class Viewer:
    """The person a query runs for.

    Attributes:
        user_name: the account name, recorded in the audit log.
        role: what the person does; decides pages and contact-field masking.
        regions: the districts the person may see; empty means the whole service area.
        manager_id: for a customer manager, only the customers assigned to this id.
        contact_grant: whether personal contact fields are shown unmasked.
    """

    user_name: str
    role: Role
    regions: tuple[str, ...] = ()
    manager_id: str | None = None
    contact_grant: bool = False


# Batch jobs (demo generation, imports from the command line) run as the system.
SYSTEM = Viewer(user_name="system", role="administrator", contact_grant=True)


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
    if viewer.manager_id is not None:
        conditions.append(customers.c.manager_id == viewer.manager_id)
    return sa.and_(sa.true(), *conditions)
