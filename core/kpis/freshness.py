"""How fresh each window's data is: the newest reading, bill, work order or application."""

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa

from core import access
from core.kpis import limits as time_limits
from core.kpis.business import application_scope
from core.kpis.periods import month_bounds
from core.store import schema

# The sources each window's figures come from.
WINDOW_SOURCES: dict[str, tuple[str, ...]] = {
    "business": ("readings", "bills", "applications"),
    "collection": ("bills",),
    "service": ("work_orders",),
    "campaigns": ("campaigns",),
    "abnormal": ("abnormal",),
}

# The source without which a window has nothing to show.
WINDOW_DATA = {
    "business": "bills",
    "collection": "bills",
    "service": "work_orders",
    "campaigns": "campaigns",
    "abnormal": "abnormal",
}


@dataclass(frozen=True)
class Freshness:
    """The newest record of one source, and whether it is too old.

    Attributes:
        source: ``readings``, ``bills``, ``work_orders`` or ``applications``.
        latest: the moment the newest record covers (a bill: the end of its month); None when
            the viewer has no records of the source.
        age_days: days from ``latest`` to now; None without records.
        stale_after_days: the setting the age is compared with.
    """

    source: str
    latest: dt.datetime | None
    age_days: float | None
    stale_after_days: float

    @property
    def stale(self) -> bool:
        """Whether the newest record is older than the setting allows (or there is none)."""
        return self.age_days is None or self.age_days > self.stale_after_days


def _restricted(viewer: access.Viewer) -> bool:
    return bool(viewer.regions or viewer.transformer_areas or viewer.manager_id is not None)


def _newest(conn: sa.Connection, columns: list[sa.ColumnElement], scope: sa.ColumnElement):
    found = conn.execute(sa.select(*(sa.func.max(column) for column in columns)).where(scope)).one()
    known = [_moment(value) for value in found if value is not None]
    return max(known) if known else None


def _latest(conn: sa.Connection, viewer: access.Viewer, source: str) -> dt.datetime | None:
    if source == "applications":
        applications = schema.applications
        dates = [applications.c[f"{stage}_date"] for stage in schema.APPLICATION_STAGES]
        return _newest(conn, dates, application_scope(viewer, applications))
    if source == "abnormal":
        scores, orders = schema.risk_scores, schema.inspection_orders
        in_scope = access.scoped_customer_ids(viewer)
        scored = _newest(
            conn,
            [scores.c.computed_at],
            sa.and_(scores.c.kind == "abnormal", scores.c.customer_id.in_(in_scope)),
        )
        ordered = _newest(conn, [orders.c.updated_at], orders.c.customer_id.in_(in_scope))
        known = [moment for moment in (scored, ordered) if moment is not None]
        return max(known) if known else None
    if source == "campaigns":
        members = schema.campaign_members
        events = [members.c.contacted_at, members.c.responded_at, members.c.converted_at]
        scope = members.c.customer_id.in_(access.scoped_customer_ids(viewer))
        return _newest(conn, events, scope if _restricted(viewer) else sa.true())
    table, column = {
        "readings": (schema.readings, schema.readings.c.ts),
        "bills": (schema.bills, schema.bills.c.period),
        "work_orders": (schema.work_orders, schema.work_orders.c.created_at),
    }[source]
    query = sa.select(sa.func.max(column))
    if _restricted(viewer):
        query = query.where(table.c.customer_id.in_(access.scoped_customer_ids(viewer)))
    value = conn.execute(query).scalar()
    if value is None:
        return None
    if source == "bills":
        _, following = month_bounds(str(value))
        return _moment(following) - dt.timedelta(seconds=1)
    return _moment(value)


def _moment(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    return dt.datetime.fromisoformat(str(value))


def freshness(
    conn: sa.Connection,
    viewer: access.Viewer,
    sources: Sequence[str],
    now: dt.datetime,
    limits: time_limits.TimeLimits | None = None,
) -> list[Freshness]:
    """The newest record of each source the viewer sees, and its age at ``now``.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers' records count.
        sources: of :data:`~core.kpis.limits.FRESHNESS_SOURCES` (a window's are in
            :data:`WINDOW_SOURCES`).
        now: the moment ages are measured at.
        limits: the settings; ``data/time_limits.toml`` by default.

    Returns:
        One :class:`Freshness` per source, in the order asked.
    """
    limits = limits or time_limits.load()
    found = []
    for source in sources:
        latest = _latest(conn, viewer, source)
        age = None if latest is None else (now - latest).total_seconds() / 86400.0
        found.append(Freshness(source, latest, age, limits.stale_after_days[source]))
    return found


def windows_with_data(
    conn: sa.Connection, viewer: access.Viewer, windows: Sequence[str]
) -> list[str]:
    """The windows of ``windows`` whose data the viewer has, in their order.

    A window without the records its figures come from (:data:`WINDOW_DATA`) is not listed.
    """
    latest = {source: _latest(conn, viewer, source) for source in set(WINDOW_DATA.values())}
    return [window for window in windows if latest.get(WINDOW_DATA.get(window, "")) is not None]
