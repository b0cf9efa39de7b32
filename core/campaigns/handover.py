"""Reaching the members: contact lists per channel, the offline follow-up, outcomes coming back.

A contact list holds the treatment members of one channel (the control arm is never contacted).
Online channels hand over to the customer managers (线上未响应用户自动转线下跟进): a member
contacted by SMS, app push or WeChat who has not responded after the plan's number of days goes
on an offline follow-up list of their customer manager, who sees only their own customers. The
outcomes (contacted, responded, converted, value) come back through the import of
``campaign_members``, with its checks and rejected rows.
"""

import datetime as dt
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import sqlalchemy as sa

from core import access, ingest
from core.campaigns.evaluate import CONTROL_ARM
from core.store import frames, schema

ONLINE_CHANNELS = ("sms", "app_push", "wechat")
OFFLINE_CHANNELS = ("phone", "visit")
# Days an online contact is given to answer when the plan names none.
DEFAULT_FOLLOW_UP_DAYS = 7
# Business customers are visited; households are called.
FOLLOW_UP_CHANNEL = {"residential": "phone"}
CONTACT_COLUMNS = (
    "customer_id",
    "name",
    "phone",
    "customer_class",
    "region",
    "transformer_area",
    "manager_id",
    "arm",
    "offer",
    "channel",
    "contacted_at",
    "responded_at",
)


def _members_query(viewer: access.Viewer, campaign_id: str) -> sa.Select:
    members, customers, arms = schema.campaign_members, schema.customers, schema.campaign_arms
    return (
        sa.select(
            members.c.customer_id,
            customers.c.name,
            customers.c.phone,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.manager_id,
            members.c.arm,
            sa.func.coalesce(arms.c.offer, schema.campaigns.c.offer).label("offer"),
            sa.func.coalesce(members.c.channel, arms.c.channel).label("channel"),
            members.c.contacted_at,
            members.c.responded_at,
        )
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .join(schema.campaigns, schema.campaigns.c.campaign_id == members.c.campaign_id)
        .outerjoin(
            arms, sa.and_(arms.c.campaign_id == members.c.campaign_id, arms.c.arm == members.c.arm)
        )
        .where(
            members.c.campaign_id == campaign_id,
            members.c.arm != CONTROL_ARM,
            access.customer_scope(viewer, customers),
        )
        .order_by(members.c.customer_id)
    )


def contact_list(
    conn: sa.Connection, viewer: access.Viewer, campaign_id: str, channel: str | None = None
) -> pd.DataFrame:
    """The treatment members to contact over one channel (or every channel), in scope, masked.

    Returns:
        :data:`CONTACT_COLUMNS`, one row per member, in customer-id order.
    """
    query = _members_query(viewer, campaign_id)
    frame = frames.read_frame(conn, query)
    if channel is not None:
        frame = frame[frame["channel"] == channel].reset_index(drop=True)
    return access.mask_frame(viewer, frame[list(CONTACT_COLUMNS)])


def channels(conn: sa.Connection, viewer: access.Viewer, campaign_id: str) -> list[str]:
    """The channels the campaign's treatment members in scope are contacted over."""
    frame = frames.read_frame(conn, _members_query(viewer, campaign_id))
    return sorted(frame["channel"].dropna().astype(str).unique())


def follow_up_days(conn: sa.Connection, campaign_id: str) -> int:
    """The plan's days before a non-responder is handed over (the default without a plan)."""
    plans = schema.campaign_plans
    days = conn.execute(
        sa.select(plans.c.follow_up_days).where(plans.c.campaign_id == campaign_id)
    ).scalar_one_or_none()
    return int(days) if days else DEFAULT_FOLLOW_UP_DAYS


def follow_ups(
    conn: sa.Connection,
    viewer: access.Viewer,
    campaign_id: str,
    as_of: dt.datetime | None = None,
) -> pd.DataFrame:
    """The online non-responders due for an offline follow-up by their customer manager.

    Args:
        conn: a store connection.
        viewer: who asks; a customer manager sees their own customers only.
        campaign_id: the campaign.
        as_of: the moment the follow-up list is drawn up (default: now).

    Returns:
        :data:`CONTACT_COLUMNS` plus ``due_since`` (when the answer was due) and
        ``follow_up_channel`` (phone for households, visit for businesses), by manager and
        customer.
    """
    moment = as_of or access.now()
    days = follow_up_days(conn, campaign_id)
    frame = frames.read_frame(conn, _members_query(viewer, campaign_id))
    contacted = pd.to_datetime(frame["contacted_at"])
    due = contacted + pd.Timedelta(days=days)
    waiting = (
        frame["channel"].isin(ONLINE_CHANNELS)
        & contacted.notna()
        & frame["responded_at"].isna()
        & (due <= pd.Timestamp(moment))
    )
    chosen = frame[waiting].assign(due_since=due[waiting])
    chosen["follow_up_channel"] = (
        chosen["customer_class"].map(FOLLOW_UP_CHANNEL).fillna("visit").astype(str)
    )
    chosen = chosen.sort_values(["manager_id", "customer_id"], ignore_index=True)
    return access.mask_frame(viewer, chosen[[*CONTACT_COLUMNS, "due_since", "follow_up_channel"]])


def import_outcomes(
    engine: sa.Engine,
    viewer: access.Viewer,
    source: str | Path | BinaryIO,
    file_name: str | None = None,
) -> ingest.ImportResult:
    """Imports outcomes into ``campaign_members`` by the one import path (checks, rejected rows).

    Only the columns the file has change, for the members it names; rows of customers outside
    the viewer's scope are rejected.
    """
    return ingest.import_file(
        engine, "campaign_members", source, file_name=file_name, viewer=viewer
    )
