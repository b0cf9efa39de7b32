"""The customers and readings savings are priced on, read from the store in the viewer's scope."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import sqlalchemy as sa

from core import access, errors
from core.store import engine as store_engine
from core.store import frames, schema

# A page shows one customer; the search list stays bounded.
CUSTOMER_SEARCH_LIMIT = 50
# Savings are priced on the latest whole calendar months of the store: a year of bills, every
# season once, the same months for every customer.
MONTHS_RANKED = 12
ARCHIVE_COLUMNS = (
    "customer_id",
    "name",
    "customer_class",
    "region",
    "manager_id",
    "tariff_code",
    "contract_capacity_kva",
)


class NoReadingsError(errors.UserError):
    """A customer has no meter readings in the months priced, so there is nothing to bill."""

    def __init__(self, customer_id: str) -> None:
        super().__init__("savings.error.no_readings", customer=customer_id)
        self.customer_id = customer_id


def find_customers(
    engine: sa.Engine, viewer: access.Viewer, text: str = "", limit: int = CUSTOMER_SEARCH_LIMIT
) -> pd.DataFrame:
    """Customers whose id or name contains ``text``, for a picker.

    Args:
        engine: the store.
        viewer: who is asking; only customers in their scope are listed.
        text: part of the customer id or name; empty lists the first customers.
        limit: most rows returned.

    Returns:
        ``customer_id``, ``name``, ``customer_class``, ``tariff_code``, ``contract_capacity_kva``.
    """
    c = schema.customers
    query = (
        sa.select(
            c.c.customer_id,
            c.c.name,
            c.c.customer_class,
            c.c.tariff_code,
            c.c.contract_capacity_kva,
        )
        .outerjoin(schema.features, schema.features.c.customer_id == c.c.customer_id)
        .where(access.customer_scope(viewer, c))
        # Customers with readings first, so the picker does not open on one with nothing to bill.
        .order_by(sa.func.coalesce(schema.features.c.days_with_readings, 0) == 0, c.c.customer_id)
        .limit(limit)
    )
    if text.strip():
        typed, personal = text.strip(), access.is_personal(c.c.customer_class)
        query = query.where(
            sa.or_(
                c.c.customer_id.contains(typed, autoescape=True),
                access.search_match(viewer, c.c.name, "name", typed, personal),
            )
        )
    with engine.connect() as conn:
        found = frames.read_frame(conn, query)
    return access.mask_frame(viewer, found)


def priced_window(
    conn: sa.Connection, months: int = MONTHS_RANKED
) -> tuple[dt.datetime, dt.datetime]:
    """The months savings are priced on: the latest ``months`` calendar months of the store.

    Args:
        conn: a connection to the store.
        months: how many calendar months.

    Returns:
        ``(start, end)``: the first instant and the instant after the last month.

    Raises:
        UserError: the store has no readings.
    """
    last = conn.execute(sa.select(sa.func.max(schema.readings.c.ts))).scalar_one()
    if last is None:
        raise errors.UserError("savings.error.store_without_readings")
    return window_ending(last, months)


def window_ending(
    last: dt.datetime, months: int = MONTHS_RANKED
) -> tuple[dt.datetime, dt.datetime]:
    """The ``months`` calendar months priced when the last reading is at ``last``.

    Returns:
        ``(start, end)``: the first instant and the instant after the month of ``last``.
    """
    end = (pd.Timestamp(last).normalize().replace(day=1) + pd.offsets.MonthBegin(1)).to_pydatetime()
    start = (pd.Timestamp(end) - pd.DateOffset(months=months)).to_pydatetime()
    return start, end


def customer_readings(
    engine: sa.Engine, viewer: access.Viewer, customer_id: str, months: int = MONTHS_RANKED
) -> tuple[dict, pd.DataFrame]:
    """One customer's archive entry and their readings over the months savings are priced on.

    Args:
        engine: the store.
        viewer: who is asking.
        customer_id: the customer.
        months: how many calendar months (see :func:`priced_window`).

    Returns:
        The customer (:data:`ARCHIVE_COLUMNS`) and their readings (``ts``, ``kwh``, ``kvarh``) in
        time order.

    Raises:
        UserError: the customer does not exist or is outside the viewer's scope.
        NoReadingsError: the customer has no readings in those months.
    """
    c = schema.customers
    with store_engine.connected(engine) as conn:
        customer = (
            conn.execute(
                sa.select(*(c.c[name] for name in ARCHIVE_COLUMNS)).where(
                    c.c.customer_id == customer_id, access.customer_scope(viewer, c)
                )
            )
            .mappings()
            .first()
        )
        if customer is None:
            raise errors.UserError("savings.error.unknown_customer", customer=customer_id)
        readings = priced_readings(conn, customer_id, months)
    return access.mask_record(viewer, dict(customer)), readings


def priced_readings(
    bind: sa.Engine | sa.Connection, customer_id: str, months: int = MONTHS_RANKED
) -> pd.DataFrame:
    """A customer's readings over the months savings are priced on (the caller checked scope).

    Args:
        bind: the store, or a connection to it.
        customer_id: the customer.
        months: how many calendar months (see :func:`priced_window`).

    Returns:
        ``ts``, ``kwh``, ``kvarh`` in time order.

    Raises:
        NoReadingsError: the customer has no readings in those months.
    """
    r = schema.readings
    with store_engine.connected(bind) as conn:
        try:
            start, end = priced_window(conn, months)
        except errors.UserError:
            raise NoReadingsError(customer_id) from None
        readings = frames.read_frame(
            conn,
            sa.select(r.c.ts, r.c.kwh, r.c.kvarh)
            .where(r.c.customer_id == customer_id, r.c.ts >= start, r.c.ts < end)
            .order_by(r.c.ts),
        )
    if readings.empty:
        raise NoReadingsError(customer_id)
    readings["ts"] = readings["ts"].astype("datetime64[ns]")
    for column in ("kwh", "kvarh"):
        readings[column] = pd.to_numeric(readings[column]).astype(float)
    return readings
