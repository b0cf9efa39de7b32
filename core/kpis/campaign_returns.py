"""The Campaigns window: what the latest campaigns brought, as :mod:`core.campaigns` reads them.

The figures are the campaign evaluation's own (incremental conversions against the control arm,
cost per incremental conversion, ROI); this module picks the latest campaigns, evaluates the
members the viewer may see, and lists the members behind a campaign.
"""

import pandas as pd
import sqlalchemy as sa

from core import access, campaigns
from core.campaigns import members as campaign_members
from core.campaigns import report
from core.kpis import drill
from core.store import schema

# The campaigns a window shows: the latest by start date.
LATEST_CAMPAIGNS = 6
RETURN_COLUMNS = (
    "campaign_id",
    "campaign_name",
    "goal",
    "offer",
    "start_date",
    "end_date",
    "arm",
    "members",
    "treatment_rate",
    "control_rate",
    "abs_lift",
    "incremental_conversions",
    "significant",
    "cost_cny",
    "cost_per_incremental_conversion",
    "incremental_value_cny",
    "roi",
)


def campaign_returns(
    conn: sa.Connection, viewer: access.Viewer, limit: int = LATEST_CAMPAIGNS
) -> pd.DataFrame:
    """The latest campaigns with their lift, costs and returns, over the viewer's members.

    Args:
        conn: a store connection.
        viewer: who is asking; only their customers' memberships count.
        limit: how many of the latest campaigns.

    Returns:
        One row per campaign with members in scope, latest first: ``campaign_name`` (not
        ``name``, which is a person's), the campaign's
        ``goal``, ``offer`` and dates, the headline treatment ``arm`` (the one with the most
        incremental conversions, else the first), ``members``, the arm's and control's
        conversion rates, and the evaluation's ``abs_lift``, ``incremental_conversions``,
        ``significant`` (Holm-adjusted), ``cost_cny``, ``cost_per_incremental_conversion``,
        ``incremental_value_cny`` and ``roi``, which are empty where the arms have too few
        customers to tell.
    """
    stored = report.stored_campaigns(conn).head(limit)
    if stored.empty:
        return pd.DataFrame(columns=list(RETURN_COLUMNS))
    ids = [str(campaign_id) for campaign_id in stored["campaign_id"]]
    members = campaign_members.stored_members(conn, viewer)
    members = members[members["campaign_id"].isin(ids)]
    evaluated = {
        item.campaign_id: item
        for item in campaigns.evaluate(members, campaign_members.designs(conn, ids))
    }
    rows = []
    for campaign in stored.itertuples(index=False):
        found = evaluated.get(str(campaign.campaign_id))
        if found is None:
            continue
        headline = found.headline
        conversion = headline.conversion if headline is not None else None
        # Without enough customers to compare, the arms' own rates still describe the campaign.
        treated = next((arm for arm in found.arms if arm.arm != campaigns.CONTROL_ARM), None)
        if headline is not None:
            treated = next(arm for arm in found.arms if arm.arm == headline.arm)
        held = next((arm for arm in found.arms if arm.arm == campaigns.CONTROL_ARM), None)
        compared = headline or next(
            (item for item in found.comparisons if treated and item.arm == treated.arm), None
        )
        rows.append(
            {
                "campaign_id": campaign.campaign_id,
                "campaign_name": campaign.name,
                "goal": campaign.goal,
                "offer": campaign.offer,
                "start_date": pd.Timestamp(campaign.start_date),
                "end_date": pd.Timestamp(campaign.end_date),
                "arm": treated.arm if treated is not None else None,
                "members": sum(arm.members for arm in found.arms),
                "treatment_rate": treated.rate("conversion") if treated is not None else None,
                "control_rate": held.rate("conversion") if held is not None else None,
                "abs_lift": conversion.abs_lift if conversion else None,
                "incremental_conversions": conversion.incremental if conversion else None,
                "significant": bool(conversion.significant) if conversion else False,
                "cost_cny": compared.cost_cny if compared else None,
                "cost_per_incremental_conversion": (
                    compared.cost_per_incremental_conversion if compared else None
                ),
                "incremental_value_cny": compared.value.incremental_total if compared else None,
                "roi": compared.roi if compared else None,
            }
        )
    frame = pd.DataFrame(rows, columns=list(RETURN_COLUMNS))
    numbers = [name for name in RETURN_COLUMNS[7:] if name != "significant"]
    frame[numbers] = frame[numbers].apply(pd.to_numeric, errors="coerce").astype(float)
    return frame


def campaign_customers(
    conn: sa.Connection,
    viewer: access.Viewer,
    campaign_id: str,
    selection: dict[str, str | None] | None = None,
) -> drill.DrillDown:
    """The members behind a campaign's figure: who was in which arm, contacted, converted.

    Args:
        conn: a store connection.
        viewer: who is asking.
        campaign_id: the campaign clicked.
        selection: values of ``arm`` and ``converted`` (``"1"`` converted, ``"0"`` not).

    Returns:
        One row per member: ``customer_id``, ``name``, ``customer_class``, ``region``, ``arm``,
        ``contacted_at``, ``responded_at``, ``converted_at``, ``converted`` and ``value_cny``;
        totals of ``converted`` and ``value_cny``.
    """
    members, customers = schema.campaign_members, schema.customers
    converted = sa.cast(sa.case((members.c.converted_at.is_not(None), 1), else_=0), sa.Integer)
    columns = {"arm": members.c.arm, "converted": sa.cast(converted, sa.String)}
    query = (
        sa.select(
            members.c.customer_id,
            customers.c.name,
            customers.c.customer_class,
            customers.c.region,
            members.c.arm,
            members.c.contacted_at,
            members.c.responded_at,
            members.c.converted_at,
            converted.label("converted"),
            members.c.value_cny,
        )
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .where(
            access.customer_scope(viewer, customers),
            members.c.campaign_id == campaign_id,
            *drill.matching(columns, selection or {}),
        )
    )
    return drill.drill_down(
        conn,
        viewer,
        query,
        sums=("converted", "value_cny"),
        order_by=(("converted", True), ("value_cny", True), ("customer_id", False)),
    )
