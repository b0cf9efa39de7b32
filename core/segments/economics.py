"""Segment economics: what each segment is worth, and what a tariff change would do to its bills.

The figures per segment are sums and rates over the stored features, aggregated by the store. The
bill impact prices the members' own load of the last twelve months under each tariff they may
choose, through the bill engine (:func:`core.tariffs.bill_usage` on the load profile that
:func:`core.savings.load_profile` sums in the store), and compares it with their current tariff:
who would save and who would pay more — the question a TOU promotion starts from.
"""

from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, features, savings, tags, tariffs
from core.store import frames, schema

# A bill change smaller than a fen is no change.
UNCHANGED_CNY = 0.005
ECONOMICS_COLUMNS = (
    "customers",
    "annual_kwh",
    "annual_revenue_cny",
    "arrears_cny",
    "customers_in_arrears",
    "complaint_rate",
    "complaints_per_customer",
    "online_share",
    "late_payment_rate",
)
IMPACT_COLUMNS = (
    "tariff_code",
    "name",
    "name_zh",
    "kind",
    "eligible",
    "priced",
    "already_on",
    "savers",
    "payers",
    "current_bill_cny",
    "new_bill_cny",
    "change_cny",
    "median_change_cny",
)


def _figures(table: sa.Table) -> list[sa.ColumnElement]:
    def share(condition: sa.ColumnElement) -> sa.ColumnElement:
        return sa.func.avg(sa.case((condition, 1.0), else_=0.0))

    return [
        sa.func.count().label("customers"),
        sa.func.sum(table.c.annual_kwh).label("annual_kwh"),
        sa.func.sum(table.c.annual_revenue_cny).label("annual_revenue_cny"),
        sa.func.sum(table.c.arrears_cny).label("arrears_cny"),
        sa.func.sum(
            sa.case((table.c.arrears_cny > features.ARREARS_TOLERANCE_CNY, 1), else_=0)
        ).label("customers_in_arrears"),
        share(table.c.complaints > 0).label("complaint_rate"),
        sa.func.avg(sa.func.coalesce(table.c.complaints, 0.0)).label("complaints_per_customer"),
        sa.func.avg(table.c.online_share).label("online_share"),
        share(table.c.late_payments > 0).label("late_payment_rate"),
    ]


def summary(
    conn: sa.Connection, viewer: access.Viewer, run_id: int
) -> tuple[pd.DataFrame, pd.Series]:
    """Customers, kWh, revenue, arrears, complaint rate and online share of each segment.

    Args:
        conn: a store connection.
        viewer: whose customers are counted.
        run_id: the segment run.

    Returns:
        One row per segment (``segment_id`` and :data:`ECONOMICS_COLUMNS`) and the same figures
        for all the run's customers in scope. Rates are fractions; online share is the mean of
        the customers who used any channel.
    """
    members, stored, customers = schema.segment_members, schema.features, schema.customers
    source = members.join(stored, stored.c.customer_id == members.c.customer_id).join(
        customers, customers.c.customer_id == members.c.customer_id
    )
    where = sa.and_(members.c.run_id == int(run_id), access.customer_scope(viewer))
    query = (
        sa.select(members.c.segment_id, *_figures(stored))
        .select_from(source)
        .where(where)
        .group_by(members.c.segment_id)
        .order_by(members.c.segment_id)
    )
    per_segment = _numeric(frames.read_frame(conn, query))
    total = _numeric(
        frames.read_frame(conn, sa.select(*_figures(stored)).select_from(source).where(where))
    )
    return per_segment, total.iloc[0]


def _numeric(frame: pd.DataFrame) -> pd.DataFrame:
    for column in ECONOMICS_COLUMNS:
        frame[column] = pd.to_numeric(frame[column], errors="coerce").astype(float)
    return frame


def _segment_archive(
    conn: sa.Connection, viewer: access.Viewer, run_id: int, segment_id: int
) -> pd.DataFrame:
    members, customers = schema.segment_members, schema.customers
    query = (
        sa.select(
            customers.c.customer_id,
            customers.c.customer_class,
            customers.c.tariff_code,
            customers.c.contract_capacity_kva,
        )
        .join(members, members.c.customer_id == customers.c.customer_id)
        .where(
            members.c.run_id == int(run_id),
            members.c.segment_id == int(segment_id),
            access.customer_scope(viewer),
        )
        .order_by(customers.c.customer_id)
    )
    archive = frames.read_frame(conn, query)
    archive["contract_capacity_kva"] = pd.to_numeric(
        archive["contract_capacity_kva"], errors="coerce"
    ).astype(float)
    return archive


def _annual_bills(
    profile: savings.LoadProfile,
    tariff: tariffs.Tariff,
    customer_ids: list[str],
    capacity: Mapping[str, float],
) -> pd.Series:
    """Each customer's bill of a year under ``tariff``: the months priced scaled to twelve."""
    if not customer_ids:
        return pd.Series(dtype=float)
    usage = profile.usage(tariff, dict(capacity), customer_ids)
    if usage.empty:
        return pd.Series(dtype=float)
    if tariff.kind == "two_part":
        # The default basis needs its figure every month; a customer without it is not priced.
        needed = (
            "contract_capacity_kva" if tariff.default_basic_basis == "capacity" else "max_demand_kw"
        )
        complete = usage[needed].notna().groupby(usage["customer_id"]).transform("all")
        usage = usage[complete.to_numpy()]
        if usage.empty:
            return pd.Series(dtype=float)
    bills = tariffs.bill_usage(tariff, usage)
    grouped = bills.groupby(bills["customer_id"].astype(str), sort=True)
    return (grouped["amount_cny"].sum() * 12 / grouped["period"].count()).round(2)


def bill_impact(
    engine: sa.Engine,
    viewer: access.Viewer,
    run_id: int,
    segment_id: int,
    catalog: Mapping[str, tariffs.Tariff] | None = None,
    months: int = savings.MONTHS_RANKED,
) -> pd.DataFrame:
    """The bill change of moving a whole segment to each tariff its members may choose.

    Args:
        engine: the store.
        viewer: whose customers of the segment are priced.
        run_id: the segment run.
        segment_id: the segment.
        catalog: the tariff catalog; the default file when None.
        months: the months of readings priced (scaled to a year).

    Returns:
        One row per tariff some member may choose (:data:`IMPACT_COLUMNS`), the largest total
        saving first: how many members may choose it, how many were priced (those with
        readings), how many are on it already, how many would save and how many would pay
        more, their current and new annual bills, the total change (negative: a saving) and the
        median change per priced member.
    """
    catalog = catalog if catalog is not None else tariffs.load_catalog()
    with engine.connect() as conn:
        archive = _segment_archive(conn, viewer, run_id, segment_id)
    columns = list(IMPACT_COLUMNS)
    if archive.empty:
        return pd.DataFrame(columns=columns)
    ids = archive["customer_id"].astype(str).tolist()
    profile = savings.load_profile(engine, catalog, months, customer_ids=ids)
    capacity = dict(zip(ids, archive["contract_capacity_kva"], strict=True))
    current = pd.concat(
        [
            _annual_bills(
                profile, catalog[code], group["customer_id"].astype(str).tolist(), capacity
            )
            for code, group in archive.groupby("tariff_code")
            if code in catalog
        ]
        or [pd.Series(dtype=float)]
    )
    rows = []
    for code, tariff in catalog.items():
        eligible = [
            row.customer_id
            for row in archive.itertuples(index=False)
            if tariff.eligible(row.customer_class, row.contract_capacity_kva)
            or row.tariff_code == code
        ]
        if not eligible:
            continue
        already = set(archive.loc[archive["tariff_code"] == code, "customer_id"].astype(str))
        if len(already) == len(eligible):
            continue
        new = _annual_bills(profile, tariff, [str(value) for value in eligible], capacity)
        both = new.index.intersection(current.index)
        change = (new.loc[both] - current.loc[both]).round(2)
        rows.append(
            {
                "tariff_code": code,
                "name": tariff.name,
                "name_zh": tariff.name_zh,
                "kind": tariff.kind,
                "eligible": len(eligible),
                "priced": len(both),
                "already_on": len(already & set(both)),
                "savers": int((change < -UNCHANGED_CNY).sum()),
                "payers": int((change > UNCHANGED_CNY).sum()),
                "current_bill_cny": round(float(current.loc[both].sum()), 2),
                "new_bill_cny": round(float(new.loc[both].sum()), 2),
                "change_cny": round(float(change.sum()), 2),
                "median_change_cny": float(np.median(change)) if len(change) else np.nan,
            }
        )
    impact = pd.DataFrame(rows, columns=columns)
    return impact.sort_values(["change_cny", "tariff_code"], kind="stable").reset_index(drop=True)


def tag_shares(conn: sa.Connection, viewer: access.Viewer, run_id: int) -> pd.DataFrame:
    """The share of each segment's members carrying each tag, and of all members (row ``-1``).

    Evaluated by the store with the tags' own conditions (:func:`core.tags.condition`).

    Returns:
        Indexed by segment_id (``-1`` for all), one column per tag name, shares as fractions.
    """
    rules = tags.load_rules()
    members, stored, customers = schema.segment_members, schema.features, schema.customers
    source = members.join(stored, stored.c.customer_id == members.c.customer_id).join(
        customers, customers.c.customer_id == members.c.customer_id
    )
    shares = [
        sa.func.avg(sa.case((tags.condition(rule), 1.0), else_=0.0)).label(rule.name)
        for rule in rules
    ]
    where = sa.and_(members.c.run_id == int(run_id), access.customer_scope(viewer))
    per_segment = frames.read_frame(
        conn,
        sa.select(members.c.segment_id, *shares)
        .select_from(source)
        .where(where)
        .group_by(members.c.segment_id),
    )
    total = frames.read_frame(conn, sa.select(*shares).select_from(source).where(where))
    total.insert(0, "segment_id", -1)
    frame = pd.concat([per_segment, total], ignore_index=True)
    frame["segment_id"] = frame["segment_id"].astype("int64")
    return frame.set_index("segment_id").astype(float)
