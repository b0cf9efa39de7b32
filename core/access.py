"""Who is asking and what they may see: accounts, roles, row scope, masking and the audit log.

Every core query takes a :class:`Viewer` and puts :func:`customer_scope` in its ``WHERE``; every
frame that leaves core with personal fields goes through :func:`mask_frame`. Pages, exports and the
command line therefore obey the same rules without repeating them.
"""

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Literal, get_args

import argon2
import pandas as pd
import sqlalchemy as sa

from core import calendars, config, errors
from core.store import schema

Role = Literal["administrator", "manager", "analyst", "customer_manager"]
ROLES: tuple[Role, ...] = get_args(Role)

LOCAL_TIME = calendars.LOCAL_TIME

# Five tries forgive a few typos yet make online guessing impractical; the lock then holds for a
# quarter of an hour. GB/T 22239-2019 (等级保护 2.0) asks for both: a cap on failed logins and
# a lock.
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
# A workstation left signed in at a counter is the common leak; half an hour of inactivity ends
# the session while leaving a customer visit's preparation uninterrupted.
SESSION_IDLE_MINUTES = 30
# Eight characters mixing letters and digits: the floor common enterprise password policies set,
# short enough that people do not write it down at the counter.
MIN_PASSWORD_LENGTH = 8
# The audit page and its export read at most this many entries at once to keep memory bounded.
AUDIT_ROWS_LIMIT = 50_000
# A customer list a person reads on screen; searches narrow it further.
CUSTOMER_LIST_LIMIT = 500

ORG_SEPARATOR = "/"

# One shared password for every demo account, printed on the login page of a demo store.
DEMO_PASSWORD = "demo1234"


class AccessError(errors.UserError):
    """A refusal a user can act on: who may do what, and why not."""


@dataclass(frozen=True)
class Viewer:
    """The person a query runs for.

    Attributes:
        user_name: the account name, recorded in the audit log.
        role: what the person does; decides pages and contact-field masking.
        regions: the districts the person may see; empty means the whole service area.
        manager_id: for a customer manager, only the customers assigned to this id.
        contact_grant: whether personal contact fields are shown unmasked.
        transformer_areas: for a service office, the transformer areas (台区) it serves; empty
            means every area of the districts in ``regions``.
    """

    user_name: str
    role: Role
    regions: tuple[str, ...] = ()
    manager_id: str | None = None
    contact_grant: bool = False
    transformer_areas: tuple[str, ...] = ()


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
    if viewer.transformer_areas:
        conditions.append(customers.c.transformer_area.in_(viewer.transformer_areas))
    if viewer.manager_id is not None:
        conditions.append(customers.c.manager_id == viewer.manager_id)
    return sa.and_(sa.true(), *conditions)


def scoped_customer_ids(viewer: Viewer) -> sa.Select:
    """The ids of the customers ``viewer`` may see, for ``column.in_(...)`` on other tables."""
    customers = schema.customers
    return sa.select(customers.c.customer_id).where(customer_scope(viewer, customers))


# Roles and pages

_EVERYONE: tuple[Role, ...] = ROLES
# What each page is for decides who sees it (DESIGN §1): administrators run the data and the
# accounts, managers read every window, analysts work on segments, forecasts, tariffs and
# campaigns, customer managers prepare visits to their own customers.
PAGE_ROLES: dict[str, tuple[Role, ...]] = {
    "pages/overview.py": _EVERYONE,
    "pages/account.py": _EVERYONE,
    "pages/customer_360.py": ("manager", "analyst", "customer_manager"),
    "pages/segments.py": ("manager", "analyst"),
    "pages/forecast.py": ("manager", "analyst"),
    "pages/tariffs.py": ("manager", "analyst", "customer_manager"),
    "pages/campaigns.py": ("manager", "analyst"),
    "pages/topic_windows.py": ("manager",),
    "pages/data_quality.py": ("administrator", "manager"),
    "pages/admin.py": ("administrator",),
}
# A page nobody has given roles yet stays with the administrators: new windows on customer data
# must be opened to other roles on purpose, never by default.
UNLISTED_PAGE_ROLES: tuple[Role, ...] = ("administrator",)


def page_roles(page_path: str) -> tuple[Role, ...]:
    """The roles that may open a page.

    Args:
        page_path: the page file relative to the project root (``pages/admin.py``).

    Returns:
        The roles; :data:`UNLISTED_PAGE_ROLES` for a page missing from :data:`PAGE_ROLES`.
    """
    return PAGE_ROLES.get(page_path.replace("\\", "/"), UNLISTED_PAGE_ROLES)


def may_open(viewer: Viewer, page_path: str) -> bool:
    """Whether ``viewer``'s role may open the page at ``page_path``."""
    return viewer.role in page_roles(page_path)


def pages_for(viewer: Viewer, page_paths: Iterable[str]) -> list[str]:
    """The pages of ``page_paths`` that ``viewer`` may open, in their order."""
    return [path for path in page_paths if may_open(viewer, path)]


# Organisation tree: city → district → service office


@dataclass(frozen=True)
class OrgUnit:
    """A node of the organisation tree.

    Attributes:
        path: ``""`` for the city, ``"<district>"``, or ``"<district>/<service office>"``.
        name: the unit's own name.
        level: ``city``, ``district`` or ``service_office``.
        parent: the parent's path; None for the city.
    """

    path: str
    name: str
    level: Literal["city", "district", "service_office"]
    parent: str | None


def city_name() -> str:
    """The name of the supply company's city (``WORKBENCH_CITY``, by default the demo's)."""
    return config.setting("WORKBENCH_CITY", "黄石市") or "黄石市"


# Transformer areas named as the metering system numbers them: "<district short><number>号台区".
_AREA_NUMBER = re.compile(r"(\d+)号?台区$")
# A service office (供电所) looks after a run of neighbouring transformer areas; eight consecutive
# numbers per office give a district of the default demo a handful of offices to scope to.
AREAS_PER_OFFICE = 8


def service_office_of(region: str, transformer_area: str | None) -> str | None:
    """The service office (供电所) serving a transformer area.

    Areas numbered ``<short><n>号台区`` belong to office ``(n - 1) // AREAS_PER_OFFICE + 1`` of
    their district (``黄石港区第2供电所``); areas named any other way belong to the district's own
    office (``黄石港区供电所``).

    Args:
        region: the district of the area.
        transformer_area: the transformer area's name.

    Returns:
        The office's name, or None when the area has no name.
    """
    if not transformer_area:
        return None
    match = _AREA_NUMBER.search(transformer_area.strip())
    if match is None or int(match.group(1)) < 1:
        return f"{region}供电所"
    return f"{region}第{(int(match.group(1)) - 1) // AREAS_PER_OFFICE + 1}供电所"


def org_units(conn: sa.Connection) -> list[OrgUnit]:
    """The organisation tree from the store: the city, its districts, their service offices.

    Districts are the ``customers.region`` values; service offices are derived from the
    transformer areas (:func:`service_office_of`).

    Args:
        conn: a store connection.

    Returns:
        The units, parents before children, districts and offices in name order.
    """
    units = [OrgUnit(path="", name=city_name(), level="city", parent=None)]
    rows = conn.execute(
        sa.select(schema.customers.c.region, schema.customers.c.transformer_area)
        .distinct()
        .order_by(schema.customers.c.region, schema.customers.c.transformer_area)
    ).all()
    offices: dict[str, set[str]] = {}
    for region, area in rows:
        office = service_office_of(region, area)
        offices.setdefault(region, set())
        if office:
            offices[region].add(office)
    for region in sorted(offices):
        units.append(OrgUnit(path=region, name=region, level="district", parent=""))
        for office in sorted(offices[region]):
            path = f"{region}{ORG_SEPARATOR}{office}"
            units.append(OrgUnit(path=path, name=office, level="service_office", parent=region))
    return units


def org_scope(conn: sa.Connection, org_unit: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The districts and transformer areas an organisation unit covers.

    Args:
        conn: a store connection.
        org_unit: a unit path (see :class:`OrgUnit`); None or ``""`` is the whole city.

    Returns:
        ``(regions, transformer_areas)``, each empty when it does not narrow the scope.

    Raises:
        AccessError: the unit is not in the organisation tree.
    """
    if not org_unit:
        return (), ()
    region, _, office = org_unit.partition(ORG_SEPARATOR)
    known = {unit.path for unit in org_units(conn)}
    if org_unit not in known:
        raise AccessError("access.unknown_org_unit", org_unit=org_unit)
    if not office:
        return (region,), ()
    areas = conn.execute(
        sa.select(schema.customers.c.transformer_area)
        .where(schema.customers.c.region == region)
        .distinct()
        .order_by(schema.customers.c.transformer_area)
    ).scalars()
    served = tuple(area for area in areas if service_office_of(region, area) == office)
    return (region,), served


# Passwords and accounts

_hasher = argon2.PasswordHasher()
# Verified against when the user name is unknown, so a wrong name takes as long as a wrong
# password and response times do not reveal which accounts exist.
_UNKNOWN_USER_HASH = _hasher.hash("no such account")


def now() -> dt.datetime:
    """The current local time (Asia/Shanghai), naive, to the second."""
    return dt.datetime.now(LOCAL_TIME).replace(tzinfo=None, microsecond=0)


def check_password_rules(password: str) -> None:
    """Checks a new password against the house rules.

    Raises:
        AccessError: the password is too short or lacks letters or digits.
    """
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError("access.password_too_short", length=MIN_PASSWORD_LENGTH)
    if not re.search(r"[A-Za-z]", password) or not re.search(r"\d", password):
        raise AccessError("access.password_letters_digits")


def hash_password(password: str) -> str:
    """The argon2id hash of a password, salted, in the encoded form the store keeps."""
    return _hasher.hash(password)


def password_matches(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` is the one ``password_hash`` was made from."""
    try:
        return _hasher.verify(password_hash or _UNKNOWN_USER_HASH, password)
    except (argon2.exceptions.VerificationError, argon2.exceptions.InvalidHashError):
        return False


def _require_administrator(viewer: Viewer) -> None:
    if viewer.role != "administrator":
        raise AccessError("access.administrators_only")


def _user_row(conn: sa.Connection, user_name: str) -> sa.Row | None:
    return conn.execute(
        sa.select(schema.users).where(schema.users.c.user_name == user_name)
    ).first()


def _check_assignment(
    conn: sa.Connection, role: str, org_unit: str | None, manager_id: str | None
) -> None:
    if role not in ROLES:
        raise AccessError("access.unknown_role", role=role, roles=", ".join(ROLES))
    if role == "customer_manager" and not manager_id:
        raise AccessError("access.manager_id_required")
    org_scope(conn, org_unit)


def has_users(conn: sa.Connection) -> bool:
    """Whether the store has at least one account."""
    return conn.execute(sa.select(schema.users.c.user_name).limit(1)).first() is not None


def create_user(
    conn: sa.Connection,
    actor: Viewer,
    user_name: str,
    password: str,
    role: str,
    *,
    display_name: str | None = None,
    org_unit: str | None = None,
    manager_id: str | None = None,
    contact_grant: bool = False,
) -> None:
    """Creates an account, recorded in the audit log.

    Args:
        conn: a connection inside ``engine.begin()``.
        actor: the administrator creating it.
        user_name: the sign-in name (letters, digits, ``. _ - @``).
        password: the initial password; must follow :func:`check_password_rules`.
        role: one of :data:`ROLES`.
        display_name: the name shown in the app.
        org_unit: the organisation unit that scopes the account's rows (None: the whole city).
        manager_id: for a customer manager, the id their customers carry in ``manager_id``.
        contact_grant: whether a manager or administrator sees contact fields unmasked.

    Raises:
        AccessError: the actor is no administrator, the name is taken or malformed, or the
            password, role, unit or manager id is not acceptable.
    """
    _require_administrator(actor)
    user_name = user_name.strip()
    if not re.fullmatch(r"[A-Za-z0-9._@-]{2,60}", user_name):
        raise AccessError("access.bad_user_name", user_name=user_name)
    if _user_row(conn, user_name) is not None:
        raise AccessError("access.user_exists", user_name=user_name)
    check_password_rules(password)
    _check_assignment(conn, role, org_unit, manager_id)
    conn.execute(
        schema.users.insert().values(
            user_name=user_name,
            display_name=display_name or user_name,
            password_hash=hash_password(password),
            role=role,
            org_unit=org_unit or None,
            manager_id=manager_id or None,
            contact_grant=contact_grant,
            failed_logins=0,
            created_at=now(),
            active=True,
        )
    )
    record(
        conn,
        actor,
        "user_created",
        user_name,
        {"role": role, "org_unit": org_unit or "", "manager_id": manager_id or ""},
    )


_UNCHANGED = object()


def update_user(
    conn: sa.Connection,
    actor: Viewer,
    user_name: str,
    *,
    role: str | object = _UNCHANGED,
    org_unit: str | None | object = _UNCHANGED,
    manager_id: str | None | object = _UNCHANGED,
    contact_grant: bool | object = _UNCHANGED,
    active: bool | object = _UNCHANGED,
) -> None:
    """Changes an account's role, scope, grant or status; the change goes to the audit log.

    Args:
        conn: a connection inside ``engine.begin()``.
        actor: the administrator making the change.
        user_name: the account.
        role: the new role.
        org_unit: the new organisation unit (None: the whole city).
        manager_id: the new customer-manager id.
        contact_grant: the new contact-field grant.
        active: False disables sign-in.

    Raises:
        AccessError: not an administrator, unknown account, an invalid assignment, or an
            administrator taking away their own administration.
    """
    _require_administrator(actor)
    row = _user_row(conn, user_name)
    if row is None:
        raise AccessError("access.unknown_user", user_name=user_name)
    requested = {
        "role": role,
        "org_unit": org_unit,
        "manager_id": manager_id,
        "contact_grant": contact_grant,
        "active": active,
    }
    changes = {
        name: value
        for name, value in requested.items()
        if value is not _UNCHANGED and value != getattr(row, name)
    }
    if not changes:
        return
    if "org_unit" in changes or "manager_id" in changes:
        changes = {
            name: (value or None) if name in ("org_unit", "manager_id") else value
            for name, value in changes.items()
        }
    merged = {name: changes.get(name, getattr(row, name)) for name in requested}
    _check_assignment(conn, merged["role"], merged["org_unit"], merged["manager_id"])
    if user_name == actor.user_name and (merged["role"] != "administrator" or not merged["active"]):
        raise AccessError("access.keep_own_administration")
    conn.execute(
        schema.users.update().where(schema.users.c.user_name == user_name).values(**changes)
    )
    detail = {name: {"from": getattr(row, name), "to": value} for name, value in changes.items()}
    action = "role_changed" if "role" in changes else "user_changed"
    record(conn, actor, action, user_name, detail)


def reset_password(conn: sa.Connection, actor: Viewer, user_name: str, new_password: str) -> None:
    """Sets an account's password on an administrator's behalf and lifts any lock.

    Raises:
        AccessError: not an administrator, unknown account, or a password breaking the rules.
    """
    _require_administrator(actor)
    if _user_row(conn, user_name) is None:
        raise AccessError("access.unknown_user", user_name=user_name)
    check_password_rules(new_password)
    conn.execute(
        schema.users.update()
        .where(schema.users.c.user_name == user_name)
        .values(password_hash=hash_password(new_password), failed_logins=0, locked_until=None)
    )
    record(conn, actor, "password_reset", user_name)


def change_password(
    conn: sa.Connection, viewer: Viewer, current_password: str, new_password: str
) -> None:
    """Changes the signed-in person's own password.

    Raises:
        AccessError: the current password is wrong, or the new one breaks the rules or repeats
            the current one.
    """
    row = _user_row(conn, viewer.user_name)
    if row is None or not password_matches(row.password_hash, current_password):
        raise AccessError("access.current_password_wrong")
    check_password_rules(new_password)
    if new_password == current_password:
        raise AccessError("access.password_unchanged")
    conn.execute(
        schema.users.update()
        .where(schema.users.c.user_name == viewer.user_name)
        .values(password_hash=hash_password(new_password))
    )
    record(conn, viewer, "password_changed", viewer.user_name)


def viewer_for(conn: sa.Connection, user_name: str) -> Viewer:
    """The viewer an account signs in as: its role, its organisation scope and its grant.

    Raises:
        AccessError: the account does not exist or is disabled.
    """
    row = _user_row(conn, user_name)
    if row is None or not row.active:
        raise AccessError("access.unknown_user", user_name=user_name)
    regions, areas = org_scope(conn, row.org_unit)
    return Viewer(
        user_name=row.user_name,
        role=row.role,
        regions=regions,
        manager_id=row.manager_id if row.role == "customer_manager" else None,
        contact_grant=contact_grant_for(row.role, bool(row.contact_grant)),
        transformer_areas=areas,
    )


def contact_grant_for(role: str, granted: bool) -> bool:
    """Whether a role sees contact fields unmasked, given the account's grant.

    Customer managers always do (their scope is their own customers), analysts never, managers
    and administrators only when granted.
    """
    if role == "customer_manager":
        return True
    if role == "analyst":
        return False
    return granted


def viewer_for_email(conn: sa.Connection, email: str) -> Viewer:
    """The viewer for a single-sign-on identity: the active account named by the e-mail address.

    Raises:
        AccessError: no active account is named by this address.
    """
    row = conn.execute(
        sa.select(schema.users.c.user_name).where(
            sa.func.lower(schema.users.c.user_name) == email.strip().lower()
        )
    ).first()
    if row is None:
        raise AccessError("access.no_account_for_email", email=email)
    return viewer_for(conn, row.user_name)


def authenticate(
    engine: sa.Engine, user_name: str, password: str, *, at: dt.datetime | None = None
) -> Viewer:
    """Signs a person in: checks the password, counts failures and locks, audits the attempt.

    The failure counter and the audit entries are committed even when the attempt fails.

    Args:
        engine: the store.
        user_name: the name typed in.
        password: the password typed in.
        at: the time of the attempt (default: now).

    Returns:
        The viewer to run the session as.

    Raises:
        AccessError: wrong name or password (one message for both), or the account is locked.
    """
    at = at or now()
    user_name = user_name.strip()
    with engine.begin() as conn:
        row = _user_row(conn, user_name)
        if row is not None and row.locked_until is not None and row.locked_until > at:
            record(conn, user_name, "login_refused_locked", user_name)
            refusal = AccessError("access.locked", until=f"{row.locked_until:%H:%M}")
        elif row is not None and row.active and password_matches(row.password_hash, password):
            if _hasher.check_needs_rehash(row.password_hash):
                conn.execute(
                    schema.users.update()
                    .where(schema.users.c.user_name == user_name)
                    .values(password_hash=hash_password(password))
                )
            conn.execute(
                schema.users.update()
                .where(schema.users.c.user_name == user_name)
                .values(failed_logins=0, locked_until=None)
            )
            viewer = viewer_for(conn, user_name)
            record(conn, viewer, "login", user_name)
            return viewer
        else:
            if row is None:
                password_matches(None, password)
            refusal = AccessError("access.login_failed")
            record(conn, user_name, "login_failed", user_name)
            if row is not None:
                failures = row.failed_logins + 1
                values: dict[str, object] = {"failed_logins": failures}
                if failures >= MAX_FAILED_LOGINS:
                    values = {"failed_logins": 0, "locked_until": at + _lockout()}
                    record(conn, user_name, "account_locked", user_name, {"failures": failures})
                    refusal = AccessError("access.locked", until=f"{values['locked_until']:%H:%M}")
                conn.execute(
                    schema.users.update()
                    .where(schema.users.c.user_name == user_name)
                    .values(**values)
                )
    raise refusal


def _lockout() -> dt.timedelta:
    return dt.timedelta(minutes=LOCKOUT_MINUTES)


def session_expired(last_seen: dt.datetime | None, at: dt.datetime | None = None) -> bool:
    """Whether a session last used at ``last_seen`` has been idle too long at ``at``."""
    if last_seen is None:
        return True
    return (at or now()) - last_seen > dt.timedelta(minutes=SESSION_IDLE_MINUTES)


def users(conn: sa.Connection, viewer: Viewer) -> pd.DataFrame:
    """Every account without its password hash, for the administrators.

    Raises:
        AccessError: the viewer is no administrator.
    """
    _require_administrator(viewer)
    table = schema.users
    columns = [column for column in table.c if column.name != "password_hash"]
    rows = conn.execute(sa.select(*columns).order_by(table.c.user_name)).all()
    return pd.DataFrame(rows, columns=[column.name for column in columns])


# Demo accounts

DEMO_ACCOUNTS: tuple[tuple[str, Role], ...] = (
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
    role: Role
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
    if not is_demo_store(conn):
        raise ValueError(
            "demo accounts are only created on a demo store (python -m core demo); "
            "create a real administrator with: python -m core users --create-admin NAME"
        )
    region, manager_id = demo_scopes(conn)
    if region is None or manager_id is None:
        raise ValueError("the store has no customers with a manager_id; build the demo first")
    scopes = {"district_manager": region, "customer_manager": manager_id}
    accounts = []
    for user_name, role in DEMO_ACCOUNTS:
        if _user_row(conn, user_name) is None:
            create_user(
                conn,
                SYSTEM,
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


def is_demo_store(conn: sa.Connection) -> bool:
    """Whether the store holds the synthetic demo utility (it has planted ground truth)."""
    from core.demo import truth

    return truth.is_demo_store(conn)


def demo_accounts(conn: sa.Connection) -> list[DemoAccount]:
    """The demo accounts of a demo store, for the login page; empty on a real deployment."""
    if not is_demo_store(conn):
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


def create_administrator(conn: sa.Connection, user_name: str, password: str) -> None:
    """Creates the first administrator of a real deployment.

    Raises:
        AccessError: the name is taken or malformed, or the password breaks the rules.
    """
    create_user(conn, SYSTEM, user_name, password, "administrator", contact_grant=True)


# Masking of personal fields


def mask_phone(value: str | None) -> str | None:
    """A phone number with its middle hidden: ``13812345678`` → ``138****5678``."""
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return "*" * max(len(text) - 2, 0) + text[-2:]


def mask_name(value: str | None) -> str | None:
    """A personal name with all but its first and last character hidden: ``张三明`` → ``张*明``.

    Two-character names keep the family name (``李四`` → ``李*``); Latin names keep each word's
    initial (``John Smith`` → ``J*** S****``).
    """
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if re.search(r"[A-Za-z]", text) and " " in text:
        return " ".join(word[:1] + "*" * (len(word) - 1) for word in text.split())
    if len(text) <= 1:
        return text
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_id_number(value: str | None) -> str | None:
    """An identity-card number with birth date and sequence hidden: first 4 and last 4 kept."""
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if len(text) >= 10:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return "*" * max(len(text) - 2, 0) + text[-2:]


# Column name → how to mask it. Names of companies are business information, not personal data:
# a customer's name is masked only for residential customers when the frame says the class.
PERSONAL_FIELDS = {
    "phone": mask_phone,
    "mobile": mask_phone,
    "contact_phone": mask_phone,
    "name": mask_name,
    "customer_name": mask_name,
    "contact_name": mask_name,
    "id_number": mask_id_number,
    "id_card": mask_id_number,
}
_NAME_FIELDS = ("name", "customer_name")
_PERSONAL_CLASS = "residential"


def mask_frame(viewer: Viewer, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as ``viewer`` may see it: personal fields masked unless they hold the grant.

    Call it on every frame that leaves core with customer fields: tables, search results,
    briefs and exports.

    Args:
        viewer: who is asking.
        frame: rows with any of the :data:`PERSONAL_FIELDS` columns.

    Returns:
        The same frame for a viewer with the grant; otherwise a copy with those fields masked.
    """
    if viewer.contact_grant:
        return frame
    if {"column_name", "value"} <= set(frame.columns):
        frame = _mask_named_values(frame)
    if not any(column in PERSONAL_FIELDS for column in frame.columns):
        return frame
    masked = frame.copy()
    personal = (
        masked["customer_class"].eq(_PERSONAL_CLASS).to_numpy()
        if "customer_class" in masked.columns
        else None
    )
    for column, mask in PERSONAL_FIELDS.items():
        if column not in masked.columns:
            continue
        values = masked[column].astype(object)
        hidden = values.map(mask)
        if column in _NAME_FIELDS and personal is not None:
            hidden = hidden.where(personal, values)
        masked[column] = hidden.astype(frame[column].dtype)
    return masked


# Mobile numbers and identity-card numbers inside free text (a rejected row kept whole).
_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def mask_text(value: str | None) -> str | None:
    """Free text with the mobile and identity-card numbers in it masked."""
    if value is None or pd.isna(value):
        return value
    text = _ID_IN_TEXT.sub(lambda match: mask_id_number(match.group()), str(value))
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), text)


def _mask_named_values(frame: pd.DataFrame) -> pd.DataFrame:
    # Rows that name their column (rejected import rows): mask each value by the column it came
    # from, and personal numbers inside values that belong to no one column (a whole raw row).
    values = frame["value"].astype(object)
    masked = [
        PERSONAL_FIELDS[column](value)
        if column in PERSONAL_FIELDS
        else mask_text(value)
        if column is None or pd.isna(column)
        else value
        for column, value in zip(frame["column_name"].astype(object), values, strict=True)
    ]
    return frame.assign(value=pd.Series(masked, index=frame.index, dtype=frame["value"].dtype))


def mask_record(viewer: Viewer, record_: Mapping[str, object]) -> dict[str, object]:
    """One customer's fields as ``viewer`` may see them (the single-row form of mask_frame).

    Fields keep their types; only the personal ones change.
    """
    shown = dict(record_)
    if viewer.contact_grant:
        return shown
    business = "customer_class" in shown and shown["customer_class"] != _PERSONAL_CLASS
    for column, mask in PERSONAL_FIELDS.items():
        if column in shown and not (column in _NAME_FIELDS and business):
            shown[column] = mask(shown[column])
    return shown


# Scoped customer look-ups


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
        search: part of a customer id, name or phone number.
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
        pattern = f"%{search.strip()}%"
        query = query.where(
            sa.or_(
                customers.c.customer_id.like(pattern),
                customers.c.name.like(pattern),
                customers.c.phone.like(pattern),
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


# Audit log

AUDIT_ACTIONS = (
    "login",
    "login_failed",
    "login_refused_locked",
    "account_locked",
    "logout",
    "session_expired",
    "password_changed",
    "password_reset",
    "user_created",
    "user_changed",
    "role_changed",
    "customer_opened",
    "customer_refused",
    "export",
    "import",
)


def record(
    conn: sa.Connection,
    viewer: Viewer | str,
    action: str,
    target: str | None = None,
    detail: str | Mapping[str, object] | None = None,
) -> None:
    """Appends one entry to the audit log inside the caller's transaction.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: who acted, or the user name typed in when nobody is signed in yet.
        action: one of :data:`AUDIT_ACTIONS`.
        target: what it was done to (a user name, a customer id, an export's name).
        detail: more about it; a mapping is stored as JSON.

    Raises:
        ValueError: the action is not one of :data:`AUDIT_ACTIONS`.
    """
    if action not in AUDIT_ACTIONS:
        raise ValueError(f"unknown audit action {action!r}; use one of {', '.join(AUDIT_ACTIONS)}")
    if isinstance(detail, Mapping):
        detail = json.dumps(detail, ensure_ascii=False, default=str, sort_keys=True)
    user_name = viewer if isinstance(viewer, str) else viewer.user_name
    conn.execute(
        schema.audit_log.insert().values(
            at=now(), user_name=user_name[:60], action=action, target=target, detail=detail
        )
    )


def record_export(conn: sa.Connection, viewer: Viewer, what: str, rows: int) -> None:
    """Records an export: what was exported and how many rows."""
    record(conn, viewer, "export", what, {"rows": int(rows)})


def audit_entries(
    conn: sa.Connection,
    viewer: Viewer,
    *,
    user_name: str | None = None,
    action: str | None = None,
    start: dt.datetime | None = None,
    end: dt.datetime | None = None,
    limit: int = AUDIT_ROWS_LIMIT,
) -> pd.DataFrame:
    """Audit entries, newest first, for the administrators.

    Args:
        conn: a store connection.
        viewer: who is asking; must be an administrator.
        user_name: only this person's entries.
        action: only this action.
        start: only entries at or after this time.
        end: only entries before this time.
        limit: at most this many entries.

    Returns:
        id, at, user_name, action, target, detail.

    Raises:
        AccessError: the viewer is no administrator.
    """
    _require_administrator(viewer)
    log = schema.audit_log
    query = sa.select(log.c.id, log.c.at, log.c.user_name, log.c.action, log.c.target, log.c.detail)
    if user_name:
        query = query.where(log.c.user_name == user_name)
    if action:
        query = query.where(log.c.action == action)
    if start is not None:
        query = query.where(log.c.at >= start)
    if end is not None:
        query = query.where(log.c.at < end)
    rows = conn.execute(query.order_by(log.c.at.desc(), log.c.id.desc()).limit(limit)).all()
    return pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
