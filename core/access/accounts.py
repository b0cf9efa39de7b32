"""Accounts: creation and changes by administrators, sign-in with lockout, session expiry."""

import datetime as dt
import random
import re
import time

import pandas as pd
import sqlalchemy as sa

from core.access.audit import now, record
from core.access.org import org_scope
from core.access.passwords import (
    MAX_PASSWORD_LENGTH,
    check_password_rules,
    hash_password,
    needs_rehash,
    password_matches,
)
from core.access.roles import (
    ROLES,
    SYSTEM,
    AccessError,
    Viewer,
    contact_grant_for,
    require_administrator,
)
from core.store import schema

# Five tries forgive a few typos yet make online guessing impractical; the lock then holds for a
# quarter of an hour. GB/T 22239-2019 (等级保护 2.0) asks for both: a cap on failed logins and
# a lock.
MAX_FAILED_LOGINS = 5
LOCKOUT_MINUTES = 15
# A workstation left signed in at a counter is the common leak; half an hour of inactivity ends
# the session while leaving a customer visit's preparation uninterrupted.
SESSION_IDLE_MINUTES = 30


# Every text an account is given fits its column; longer input is refused in words.
USER_NAME_LENGTH = schema.users.c.user_name.type.length
DISPLAY_NAME_LENGTH = schema.users.c.display_name.type.length
MANAGER_ID_LENGTH = schema.users.c.manager_id.type.length


def _bounded(value: str | None, length: int, key: str) -> None:
    if value is not None and len(value) > length:
        raise AccessError(key, length=length)


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
    _bounded(manager_id, MANAGER_ID_LENGTH, "access.manager_id_too_long")
    org_scope(conn, org_unit)


def end_sessions_of(conn: sa.Connection, user_name: str, *, at: dt.datetime | None = None) -> int:
    """Ends every open session of an account (disabled, password reset); returns how many."""
    table = schema.sessions
    ended = conn.execute(
        table.update()
        .where(table.c.user_name == user_name, table.c.ended_at.is_(None))
        .values(ended_at=at or now())
        .returning(table.c.token_hash)
    ).all()
    return len(ended)


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
    require_administrator(actor)
    user_name = user_name.strip()
    _bounded(user_name, USER_NAME_LENGTH, "access.user_name_too_long")
    if not re.fullmatch(rf"[A-Za-z0-9._@-]{{2,{USER_NAME_LENGTH}}}", user_name):
        raise AccessError("access.bad_user_name", user_name=user_name)
    _bounded(display_name, DISPLAY_NAME_LENGTH, "access.display_name_too_long")
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
    require_administrator(actor)
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
    if changes.get("active") is False:
        end_sessions_of(conn, user_name)
    detail = {name: {"from": getattr(row, name), "to": value} for name, value in changes.items()}
    action = "role_changed" if "role" in changes else "user_changed"
    record(conn, actor, action, user_name, detail)


def reset_password(conn: sa.Connection, actor: Viewer, user_name: str, new_password: str) -> None:
    """Sets an account's password on an administrator's behalf and lifts any lock.

    Raises:
        AccessError: not an administrator, unknown account, or a password breaking the rules.
    """
    require_administrator(actor)
    if _user_row(conn, user_name) is None:
        raise AccessError("access.unknown_user", user_name=user_name)
    check_password_rules(new_password)
    conn.execute(
        schema.users.update()
        .where(schema.users.c.user_name == user_name)
        .values(password_hash=hash_password(new_password), failed_logins=0, locked_until=None)
    )
    end_sessions_of(conn, user_name)
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

    The failure counter and the audit entries are committed even when the attempt fails. The
    counter moves by one atomic ``UPDATE`` per attempt, so attempts made at the same time all
    count and the lock holds under any number of them; on DuckDB, whose transactions conflict
    instead of waiting, a conflicting attempt is tried again. A wrong name, a wrong password, a
    disabled and a locked account get the same answer, in the same time: the answer does not
    tell which accounts exist.

    Args:
        engine: the store.
        user_name: the name typed in.
        password: the password typed in.
        at: the time of the attempt (default: now).

    Returns:
        The viewer to run the session as.

    Raises:
        AccessError: ``access.login_failed`` whatever the reason.
    """
    at = at or now()
    user_name = user_name.strip()
    if len(user_name) > USER_NAME_LENGTH:
        # Longer than any account's name can be: said so, and recorded by its first characters.
        with engine.begin() as conn:
            record(conn, user_name, "login_failed", user_name)
        raise AccessError("access.user_name_too_long", length=USER_NAME_LENGTH)
    if len(password) > MAX_PASSWORD_LENGTH:
        # No stored password is that long; not worth hashing.
        password = ""
    with engine.connect() as conn:
        row = _user_row(conn, user_name)
    locked = row is not None and row.locked_until is not None and row.locked_until > at
    # The hash is checked in every case, outside any transaction: same time for every answer.
    matches = password_matches(row.password_hash if row is not None else None, password)
    if row is not None and row.active and matches and not locked:
        viewer = _retrying(engine, lambda conn: _signed_in(conn, user_name, password, at))
        if viewer is not None:
            return viewer
        locked = True
    _retrying(engine, lambda conn: _failed(conn, user_name, row is not None, locked, at))
    raise AccessError("access.login_failed", attempts=MAX_FAILED_LOGINS, minutes=LOCKOUT_MINUTES)


# A sign-in whose transaction conflicts with another one on the same account (DuckDB) is tried
# again this many times, after a short random pause.
_CONFLICT_RETRIES = 20


def _retrying(engine: sa.Engine, work):
    for attempt in range(_CONFLICT_RETRIES + 1):
        try:
            with engine.begin() as conn:
                return work(conn)
        except sa.exc.DBAPIError as error:
            if attempt == _CONFLICT_RETRIES or not _conflict(error):
                raise
            time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
    raise AssertionError("unreachable")


def _conflict(error: sa.exc.DBAPIError) -> bool:
    # DuckDB refuses the second of two transactions writing one row; SQLite may give up waiting
    # for the write lock; PostgreSQL waits on the row and needs no retry.
    text = str(error.orig)
    return "Conflict on" in text or "database is locked" in text


def _signed_in(conn: sa.Connection, user_name: str, password: str, at: dt.datetime):
    users = schema.users
    unlocked = sa.or_(users.c.locked_until.is_(None), users.c.locked_until <= at)
    cleared = conn.execute(
        users.update()
        .where(users.c.user_name == user_name, users.c.active, unlocked)
        .values(failed_logins=0, locked_until=None)
        .returning(users.c.password_hash)
    ).first()
    if cleared is None:
        # Locked (or disabled) by an attempt made meanwhile.
        return None
    if needs_rehash(cleared.password_hash):
        conn.execute(
            users.update()
            .where(users.c.user_name == user_name)
            .values(password_hash=hash_password(password))
        )
    viewer = viewer_for(conn, user_name)
    record(conn, viewer, "login", user_name)
    return viewer


def _failed(
    conn: sa.Connection, user_name: str, known: bool, locked: bool, at: dt.datetime
) -> None:
    record(conn, user_name, "login_refused_locked" if locked else "login_failed", user_name)
    if not known:
        return
    users = schema.users
    # A lock that ran out starts a new count; the attempt that reaches the limit sets the lock.
    expired = sa.and_(users.c.locked_until.is_not(None), users.c.locked_until <= at)
    failures = sa.case((expired, 1), else_=users.c.failed_logins + 1)
    lock = sa.case((expired, None), else_=users.c.locked_until)
    counted = conn.execute(
        users.update()
        .where(users.c.user_name == user_name)
        .values(
            failed_logins=failures,
            locked_until=sa.case(
                (sa.and_(failures >= MAX_FAILED_LOGINS, lock.is_(None)), at + _lockout()),
                else_=lock,
            ),
        )
        .returning(users.c.failed_logins)
    ).first()
    if counted is not None and counted.failed_logins == MAX_FAILED_LOGINS:
        record(conn, user_name, "account_locked", user_name, {"failures": MAX_FAILED_LOGINS})


def _lockout() -> dt.timedelta:
    return dt.timedelta(minutes=LOCKOUT_MINUTES)


def session_expired(last_seen: dt.datetime | None, at: dt.datetime | None = None) -> bool:
    """Whether a session last used at ``last_seen`` has been idle too long at ``at``."""
    if last_seen is None:
        return True
    return (at or now()) - last_seen > dt.timedelta(minutes=SESSION_IDLE_MINUTES)


def users(conn: sa.Connection, viewer: Viewer) -> pd.DataFrame:
    """Every account without its password hash, for the administrators.

    ``contact_grant`` is what the account really gets (:func:`contact_grant_for`): ticked for a
    customer manager, who always sees their customers' contacts, unticked for an analyst.

    Raises:
        AccessError: the viewer is no administrator.
    """
    require_administrator(viewer)
    table = schema.users
    columns = [column for column in table.c if column.name != "password_hash"]
    rows = conn.execute(sa.select(*columns).order_by(table.c.user_name)).all()
    frame = pd.DataFrame(rows, columns=[column.name for column in columns])
    frame["contact_grant"] = [
        contact_grant_for(role, bool(granted))
        for role, granted in zip(frame["role"], frame["contact_grant"], strict=True)
    ]
    return frame.astype({"contact_grant": bool})


def create_administrator(conn: sa.Connection, user_name: str, password: str) -> None:
    """Creates the first administrator of a real deployment.

    Raises:
        AccessError: the name is taken or malformed, or the password breaks the rules.
    """
    create_user(conn, SYSTEM, user_name, password, "administrator", contact_grant=True)
