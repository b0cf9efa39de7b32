"""A campaign's whole reading: the evaluation, and what the store adds (balance, segments).

Without a store a members file is evaluated on its own. With one, the pre-campaign balance of
the arms is checked, members without a segment of their own are broken down by the store's
customer class, and energy offers get their effect on use (:mod:`core.campaigns.energy`).
"""

import datetime as dt
from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa

from core import access, tariffs
from core.campaigns import balance, energy, members, usage
from core.campaigns.balance import BalanceRow
from core.campaigns.energy import EnergyEffect
from core.campaigns.evaluate import CampaignEvaluation, Design, evaluate, evaluate_campaign
from core.store import schema


@dataclass(frozen=True)
class CampaignReport:
    """One campaign's evaluation and the figures the store adds.

    Attributes:
        evaluation: each treatment arm against control.
        campaign: the campaign's stored row (name, goal, offer, dates), None when not stored.
        balance: pre-campaign balance rows; None without a store.
        energy: the effect on use for energy offers; None without a store or for other offers.
    """

    evaluation: CampaignEvaluation
    campaign: dict | None = None
    balance: list[BalanceRow] | None = None
    energy: list[EnergyEffect] | None = None
    notices: list = field(default_factory=list)

    def as_json(self) -> dict[str, object]:
        """The campaign in the ``evaluate-campaign`` JSON shape, with the store's additions."""
        shape = self.evaluation.as_json()
        if self.balance is None:
            return shape
        shape["balance"] = [row.as_json() for row in self.balance]
        shape["segments"] = [
            {"segment": group.group, "conversion": group.conversion.as_json()}
            for group in self.evaluation.segments
        ]
        shape["energy"] = None if self.energy is None else [item.as_json() for item in self.energy]
        return shape


def stored_campaigns(conn: sa.Connection, campaign_ids: list[str] | None = None) -> pd.DataFrame:
    """The stored campaigns: campaign_id, name, goal, offer, channel, dates, cost per contact."""
    campaigns = schema.campaigns
    query = sa.select(campaigns).order_by(campaigns.c.start_date.desc(), campaigns.c.campaign_id)
    if campaign_ids is not None:
        query = query.where(campaigns.c.campaign_id.in_(campaign_ids))
    return pd.DataFrame(conn.execute(query).all(), columns=list(campaigns.c.keys()))


def _dates(campaign: dict | None, members: pd.DataFrame) -> tuple[dt.date, dt.date] | None:
    """The campaign's dates, or those of its first and last contact when it is not stored."""
    if campaign is not None and campaign.get("start_date") and campaign.get("end_date"):
        return campaign["start_date"], campaign["end_date"]
    contacts = pd.to_datetime(members["contacted_at"]).dropna()
    if contacts.empty:
        return None
    return contacts.min().date(), contacts.max().date()


def _store_segments(conn: sa.Connection, members: pd.DataFrame) -> pd.DataFrame:
    """Members without a segment of their own take their customer class from the store."""
    if "segment" in members.columns and members["segment"].notna().any():
        return members
    customers = schema.customers
    ids = sorted(set(members["customer_id"].astype(str)))
    classes = dict(
        conn.execute(
            sa.select(customers.c.customer_id, customers.c.customer_class).where(
                customers.c.customer_id.in_(ids)
            )
        ).all()
    )
    return members.assign(segment=members["customer_id"].map(classes))


def report(
    members: pd.DataFrame,
    designs: dict[str, Design] | None = None,
    conn: sa.Connection | None = None,
    catalog: dict | None = None,
) -> list[CampaignReport]:
    """Evaluates every campaign of a members frame, with the store's figures when given one.

    Args:
        members: the members (see :func:`core.campaigns.evaluate.evaluate_campaign`).
        designs: each campaign's plan, by campaign id.
        conn: a store connection; None evaluates the members on their own.
        catalog: the tariff catalog (default: the product's).

    Returns:
        One report per campaign, in campaign-id order.
    """
    designs = designs or {}
    reports = []
    stored: dict[str, dict] = {}
    last = None
    if conn is not None:
        catalog = catalog if catalog is not None else tariffs.load_catalog()
        ids = sorted(set(members["campaign_id"].astype(str)))
        stored = {row["campaign_id"]: row for row in stored_campaigns(conn, ids).to_dict("records")}
        last = usage.last_reading(conn)
    for campaign_id, rows in members.groupby("campaign_id", sort=True):
        key = str(campaign_id)
        campaign = stored.get(key)
        if conn is None:
            evaluation = evaluate_campaign(key, rows, designs.get(key))
            reports.append(CampaignReport(evaluation))
            continue
        rows = _store_segments(conn, rows)
        evaluation = evaluate_campaign(key, rows, designs.get(key))
        arms = rows.set_index(rows["customer_id"].astype(str))["arm"].astype(str)
        dates = _dates(campaign, rows)
        balance_rows: list[BalanceRow] = []
        effects = None
        if dates is not None:
            spans = usage.windows(dates[0], dates[1], last)
            offer = campaign.get("offer") if campaign else None
            use = usage.usage(conn, arms.index, spans, offer, catalog)
            covariates = balance.history(conn, list(arms.index), dates[0]).merge(
                use[["customer_id", "pre_kwh_per_day", "pre_peak_share"]],
                on="customer_id",
                how="left",
            )
            balance_rows = balance.balance(covariates, arms)
            if usage.is_energy_offer(offer, catalog):
                effects = energy.effects(use, arms)
        reports.append(CampaignReport(evaluation, campaign, balance_rows, effects))
    return reports


STATUSES = ("planned", "running", "finished")


def status(start_date: dt.date | None, end_date: dt.date | None, today: dt.date) -> str:
    """``planned`` before the start, ``running`` until the end, ``finished`` after it."""
    if start_date is not None and today < start_date:
        return "planned"
    if end_date is None or today <= end_date:
        return "running"
    return "finished"


OVERVIEW_COLUMNS = (
    "campaign_id",
    "name",
    "goal",
    "offer",
    "start_date",
    "end_date",
    "status",
    "members",
    "treatment_rate",
    "control_rate",
    "abs_lift",
    "abs_lift_low",
    "abs_lift_high",
    "p_value_adjusted",
    "incremental_conversions",
)


def overview(
    conn: sa.Connection, viewer: access.Viewer, today: dt.date | None = None
) -> pd.DataFrame:
    """Every campaign with its status and headline lift over the members in the viewer's scope.

    The headline is the treatment arm with the most incremental conversions; a campaign whose
    arms are too small shows no lift.

    Returns:
        :data:`OVERVIEW_COLUMNS`, newest campaign first.
    """
    today = today or access.now().date()
    stored = stored_campaigns(conn)
    everyone = members.stored_members(conn, viewer)
    designs = members.designs(conn)
    evaluations = {item.campaign_id: item for item in evaluate(everyone, designs)}
    rows = []
    for campaign in stored.to_dict("records"):
        evaluation = evaluations.get(campaign["campaign_id"])
        headline = evaluation.headline if evaluation is not None else None
        conversion = headline.conversion if headline is not None else None
        interval = conversion.abs_lift_ci if conversion is not None else None
        rows.append(
            {
                **{key: campaign[key] for key in ("campaign_id", "name", "goal", "offer")},
                "start_date": campaign["start_date"],
                "end_date": campaign["end_date"],
                "status": status(campaign["start_date"], campaign["end_date"], today),
                "members": sum(arm.members for arm in evaluation.arms) if evaluation else 0,
                "treatment_rate": conversion.treatment_rate if conversion else None,
                "control_rate": conversion.control_rate if conversion else None,
                "abs_lift": conversion.abs_lift if conversion else None,
                "abs_lift_low": interval[0] if interval else None,
                "abs_lift_high": interval[1] if interval else None,
                "p_value_adjusted": conversion.p_value_adjusted if conversion else None,
                "incremental_conversions": conversion.incremental if conversion else None,
            }
        )
    frame = pd.DataFrame(rows, columns=list(OVERVIEW_COLUMNS))
    # Campaigns none of whose members the viewer may see are not theirs to read.
    return frame[frame["members"] > 0].reset_index(drop=True)


def campaign_report(
    conn: sa.Connection, viewer: access.Viewer, campaign_id: str
) -> CampaignReport | None:
    """One stored campaign read in full over the members in the viewer's scope (None: none)."""
    stored = members.stored_members(conn, viewer, campaign_id)
    if stored.empty:
        return None
    designs = members.designs(conn, [campaign_id])
    [result] = report(stored, designs, conn)
    return result
