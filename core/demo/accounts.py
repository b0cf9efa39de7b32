"""The demo's accounts: one per role, one shared password, shown on a demo store's login page.

Demo passwords never go on real data: the accounts are created only on a store that holds the
demo's planted truth (:func:`core.demo.truth.is_demo_store`), and only such a store lists them.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from core import access
from core.demo import truth
from core.store import schema

# One shared password for every demo account, printed on the login page of a demo store.
DEMO_PASSWORD = "demo1234"

DEMO_ACCOUNTS: tuple[tuple[str, access.Role], ...] = (
    ("admin", "administrator"),
    ("manager", "manager"),
    ("district_manager", "manager"),
    ("analyst", "analyst"),
    ("customer_manager", "customer_manager"),
)


@dataclass(frozen=True)
class DemoAccount:
    """A demo account as the login page describes it.

    Attributes:
        user_name: the sign-in name.
        role: the account's role.
        scope: the district or customer-manager id it is limited to; empty for the whole city.
    """

    user_name: str
    role: access.Role
    scope: str


def demo_scopes(conn: sa.Connection) -> tuple[str | None, str | None]:
    """The scopes of the demo's district manager and customer manager.

    Returns:
        The district with the most customers and the ``manager_id`` with the most customers
        (ties broken by name); None when the store has none.
    """
    customers = schema.customers
    count = sa.func.count().label("customers")
    region = conn.execute(
        sa.select(customers.c.region, count)
        .group_by(customers.c.region)
        .order_by(count.desc(), customers.c.region)
        .limit(1)
    ).scalar()
    manager_id = conn.execute(
        sa.select(customers.c.manager_id, count)
        .where(customers.c.manager_id.is_not(None))
        .group_by(customers.c.manager_id)
        .order_by(count.desc(), customers.c.manager_id)
        .limit(1)
    ).scalar()
    return region, manager_id


def create_demo_accounts(conn: sa.Connection) -> list[DemoAccount]:
    """Creates one account per role on a demo store, all with :data:`DEMO_PASSWORD`.

    The district manager is scoped to the district with the most customers, the customer
    manager to the ``manager_id`` with the most customers. Accounts that exist are left as they
    are.

    Args:
        conn: a connection inside ``engine.begin()`` on a store with customers.

    Returns:
        The demo accounts.

    Raises:
        ValueError: the store is not a demo store (demo passwords never go on real data), or has
            no customers with a manager to build the accounts on.
    """
    if not truth.is_demo_store(conn):
        raise ValueError(
            "demo accounts are only created on a demo store (python -m core demo); "
            "create a real administrator with: python -m core users --create-admin NAME"
        )
    region, manager_id = demo_scopes(conn)
    if region is None or manager_id is None:
        raise ValueError("the store has no customers with a manager_id; build the demo first")
    scopes = {"district_manager": region, "customer_manager": manager_id}
    existing = set(
        conn.execute(
            sa.select(schema.users.c.user_name).where(
                schema.users.c.user_name.in_([name for name, _ in DEMO_ACCOUNTS])
            )
        ).scalars()
    )
    accounts = []
    for user_name, role in DEMO_ACCOUNTS:
        if user_name not in existing:
            access.create_user(
                conn,
                access.SYSTEM,
                user_name,
                DEMO_PASSWORD,
                role,
                display_name=user_name.replace("_", " ").title(),
                org_unit=region if user_name == "district_manager" else None,
                manager_id=manager_id if role == "customer_manager" else None,
                contact_grant=role == "administrator",
            )
        accounts.append(DemoAccount(user_name, role, scopes.get(user_name, "")))
    return accounts


def demo_accounts(conn: sa.Connection) -> list[DemoAccount]:
    """The demo accounts of a demo store, for the login page; empty on a real deployment."""
    if not truth.is_demo_store(conn):
        return []
    names = [name for name, _ in DEMO_ACCOUNTS]
    rows = conn.execute(
        sa.select(
            schema.users.c.user_name,
            schema.users.c.role,
            schema.users.c.org_unit,
            schema.users.c.manager_id,
        ).where(schema.users.c.user_name.in_(names), schema.users.c.active)
    ).all()
    found = {row.user_name: row for row in rows}
    return [
        DemoAccount(name, found[name].role, found[name].org_unit or found[name].manager_id or "")
        for name in names
        if name in found
    ]
