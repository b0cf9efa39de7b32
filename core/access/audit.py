"""The audit log: appended inside the caller's transaction, read by administrators only."""

import datetime as dt
import json
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

from core import calendars
from core.access.roles import Viewer, require_administrator
from core.store import schema


def now() -> dt.datetime:
    """The current time in UTC, naive, to the second: what the audit log and accounts store."""
    return calendars.utc_now()


# The audit page and its export read at most this many entries at once to keep memory bounded.
AUDIT_ROWS_LIMIT = 50_000


AUDIT_ACTIONS = (
    "login",
    "login_failed",
    "login_refused_locked",
    "account_locked",
    "logout",
    "session_expired",
    "session_ended",
    "session_resumed",
    "password_changed",
    "password_reset",
    "user_created",
    "user_changed",
    "role_changed",
    "customer_opened",
    "customer_refused",
    "export",
    "import",
    "target_list_saved",
    "segment_run",
    "segment_rule_saved",
    "campaign_planned",
    "inspection_order_created",
    "inspection_order_changed",
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
    log = schema.audit_log
    conn.execute(
        log.insert().values(
            at=now(),
            user_name=user_name[: log.c.user_name.type.length],
            action=action,
            target=None if target is None else target[: log.c.target.type.length],
            detail=detail,
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
        start: only entries at or after this time (naive: UTC, as stored; or zone-aware).
        end: only entries before this time (likewise).
        limit: at most this many entries.

    Returns:
        id, at (in :data:`core.calendars.LOCAL_TIME`, the zone attached), user_name, action,
        target, detail.

    Raises:
        AccessError: the viewer is no administrator.
    """
    require_administrator(viewer)
    log = schema.audit_log
    query = sa.select(log.c.id, log.c.at, log.c.user_name, log.c.action, log.c.target, log.c.detail)
    if user_name:
        query = query.where(log.c.user_name == user_name)
    if action:
        query = query.where(log.c.action == action)
    if start is not None:
        query = query.where(log.c.at >= _as_stored(start))
    if end is not None:
        query = query.where(log.c.at < _as_stored(end))
    rows = conn.execute(query.order_by(log.c.at.desc(), log.c.id.desc()).limit(limit)).all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    return frame.assign(at=calendars.stored_as_local(frame["at"]))


def _as_stored(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(dt.UTC).replace(tzinfo=None)
