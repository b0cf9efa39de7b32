"""Sign-in sessions that a browser finds again after a reload, by a random token.

The browser keeps the token (a cookie of the app's own address); the store keeps only its
SHA-256, with who signed in and when the session was last used. A token resumes a session while
the session is open, used within :data:`~core.access.accounts.SESSION_IDLE_MINUTES` and younger
than :data:`SESSION_MAX_HOURS`, and while its account is active: the same rules as a session that
was never reloaded.
"""

import datetime as dt
import hashlib
import secrets

import sqlalchemy as sa

from core.access.accounts import session_expired, viewer_for
from core.access.audit import now
from core.access.roles import AccessError, Viewer
from core.store import schema

# A working day: a session started in the morning is not resumed the next morning, however
# often it was used.
SESSION_MAX_HOURS = 12
# Marking a session used costs a write; once a minute is precise enough for a 30-minute timeout.
TOUCH_SECONDS = 60
# The tokens the browser keeps are this many random bytes, URL-safe.
TOKEN_BYTES = 32


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def start_session(conn: sa.Connection, viewer: Viewer, *, at: dt.datetime | None = None) -> str:
    """Opens a session for ``viewer`` and returns the token the browser keeps.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: who signed in.
        at: the moment (default: now).
    """
    at = at or now()
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(
        schema.sessions.insert().values(
            token_hash=_digest(token), user_name=viewer.user_name, started_at=at, last_seen=at
        )
    )
    return token


def resume_session(
    conn: sa.Connection, token: str | None, *, at: dt.datetime | None = None
) -> Viewer | None:
    """The viewer of an open session, marked used; None when the token resumes nothing.

    A session idle too long or older than :data:`SESSION_MAX_HOURS` is ended, as is one whose
    account was disabled meanwhile.

    Args:
        conn: a connection inside ``engine.begin()``.
        token: the token the browser sent (None or empty: no session).
        at: the moment (default: now).
    """
    if not token or len(token) > 2 * TOKEN_BYTES:
        return None
    at = at or now()
    table = schema.sessions
    digest = _digest(token)
    row = conn.execute(
        sa.select(table).where(table.c.token_hash == digest, table.c.ended_at.is_(None))
    ).first()
    if row is None:
        return None
    too_old = at - row.started_at > dt.timedelta(hours=SESSION_MAX_HOURS)
    if too_old or session_expired(row.last_seen, at):
        end_session(conn, token, at=at)
        return None
    try:
        viewer = viewer_for(conn, row.user_name)
    except AccessError:
        end_session(conn, token, at=at)
        return None
    touch_session(conn, token, at=at, last_seen=row.last_seen)
    return viewer


def touch_session(
    conn: sa.Connection,
    token: str | None,
    *,
    at: dt.datetime | None = None,
    last_seen: dt.datetime | None = None,
) -> None:
    """Marks a session used now (at most once per :data:`TOUCH_SECONDS`)."""
    if not token:
        return
    at = at or now()
    if last_seen is not None and at - last_seen < dt.timedelta(seconds=TOUCH_SECONDS):
        return
    table = schema.sessions
    stale = at - dt.timedelta(seconds=TOUCH_SECONDS)
    conn.execute(
        table.update()
        .where(table.c.token_hash == _digest(token), table.c.last_seen < stale)
        .values(last_seen=at)
    )


def end_session(conn: sa.Connection, token: str | None, *, at: dt.datetime | None = None) -> None:
    """Ends a session: its token resumes nothing any more."""
    if not token:
        return
    table = schema.sessions
    conn.execute(
        table.update()
        .where(table.c.token_hash == _digest(token), table.c.ended_at.is_(None))
        .values(ended_at=at or now())
    )
