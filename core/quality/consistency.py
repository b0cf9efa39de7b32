"""Records that agree: bills with readings, tariffs with class, locations with the area."""

import pandas as pd
import sqlalchemy as sa

from core import access, service_area, tariffs
from core.quality.metrics import BILL_TOLERANCE, BILL_TOLERANCE_KWH, _count, _metric
from core.store import functions, schema


def _bill_comparison(viewer: access.Viewer) -> sa.Select:
    readings, bills = schema.readings, schema.bills
    month = functions.month(readings.c.ts).label("period")
    monthly = (
        sa.select(readings.c.customer_id, month, sa.func.sum(readings.c.kwh).label("readings_kwh"))
        .where(readings.c.customer_id.in_(access.scoped_customer_ids(viewer)))
        .group_by(readings.c.customer_id, month)
        .subquery("monthly")
    )
    difference = sa.func.abs(bills.c.kwh_total - monthly.c.readings_kwh)
    allowed = functions.greatest(
        BILL_TOLERANCE * sa.func.abs(bills.c.kwh_total), BILL_TOLERANCE_KWH
    )
    return sa.select(
        bills.c.customer_id,
        bills.c.period,
        bills.c.kwh_total,
        monthly.c.readings_kwh,
        difference.label("difference_kwh"),
        (difference <= allowed).label("agrees"),
    ).select_from(
        bills.join(
            monthly,
            sa.and_(
                monthly.c.customer_id == bills.c.customer_id, monthly.c.period == bills.c.period
            ),
        )
    )


def _bills_match(conn: sa.Connection, viewer: access.Viewer) -> dict:
    compared = _bill_comparison(viewer).subquery()
    total, agreeing = conn.execute(
        sa.select(sa.func.count(), sa.func.sum(sa.case((compared.c.agrees, 1), else_=0)))
    ).one()
    return _metric("consistency", "bills", "bills_match_readings", agreeing or 0, total)


def _tariff_mismatches(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    customers = schema.customers
    frame = pd.DataFrame(
        conn.execute(
            sa.select(
                customers.c.customer_id,
                customers.c.name,
                customers.c.customer_class,
                customers.c.tariff_code,
            ).where(access.customer_scope(viewer, customers))
        ).all(),
        columns=["customer_id", "name", "customer_class", "tariff_code"],
    )
    catalog = tariffs.load_catalog()
    allowed = (
        frame.apply(
            lambda row: (
                row["tariff_code"] in catalog
                and row["customer_class"] in catalog[row["tariff_code"]].customer_classes
            ),
            axis=1,
        )
        if len(frame)
        else pd.Series(dtype=bool)
    )
    frame["matches"] = allowed.astype(bool) if len(frame) else []
    return frame


def _tariff_matches(conn: sa.Connection, viewer: access.Viewer) -> dict:
    frame = _tariff_mismatches(conn, viewer)
    return _metric(
        "consistency", "customers", "tariff_matches_class", int(frame["matches"].sum()), len(frame)
    )


def _outside_area(conn: sa.Connection) -> sa.ColumnElement:
    customers = schema.customers
    return service_area.of_store(conn).outside(customers.c.lat, customers.c.lon)


def _inside_area(conn: sa.Connection, viewer: access.Viewer) -> dict:
    customers = schema.customers
    located = sa.select(sa.literal(1)).where(
        access.customer_scope(viewer, customers),
        customers.c.lat.is_not(None),
        customers.c.lon.is_not(None),
    )
    total = _count(conn, located)
    outside = _count(conn, located.where(_outside_area(conn)))
    return _metric("consistency", "customers", "inside_service_area", total - outside, total)
