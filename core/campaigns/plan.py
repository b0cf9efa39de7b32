"""Planning a campaign: who is in it, which arm each member gets, and whether it can learn.

Members come from a target list, a segment or a list of customer ids, always within the
planner's scope. The draw is stratified (by segment, and by usage decile for energy offers): in
each stratum the members are put in a random order and dealt to the arms by their shares from a
random starting point, so every stratum keeps the planned shares to within one member. The seed
is recorded with the plan and reproduces the draw exactly.
"""

import datetime as dt
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access, tariffs
from core.campaigns import usage
from core.campaigns.evaluate import CONTROL_ARM
from core.errors import UserError
from core.store import engine as store_engine
from core.store import frames, schema

SOURCE_KINDS = ("target_list", "segment", "customer_ids")
GOALS = schema.CAMPAIGN_GOALS
CHANNELS = schema.CAMPAIGN_CHANNELS
STRATA = ("segment", "usage_decile")
# The holdout a plan may keep: below 5 % the control arm is too small to compare against, above
# half it costs more lost conversions than it buys certainty.
HOLDOUT_RANGE = (0.05, 0.5)
ARM_NAME_LENGTH = schema.campaign_arms.c.arm.type.length
CAMPAIGN_ID_LENGTH = schema.campaigns.c.campaign_id.type.length
USAGE_DECILES = 10
# Ids named in a refusal: enough to find them, short enough to read.
LISTED_IDS = 3
# Ids per IN (...) list: a row store's statement stays a reasonable size.
IN_CHUNK = 10_000


@dataclass(frozen=True)
class Arm:
    """One treatment arm: an offer over a channel.

    Attributes:
        name: the arm's name (what members files call it).
        offer: the offer (a tariff code, a service).
        channel: one of :data:`core.store.schema.CAMPAIGN_CHANNELS`.
        cost_per_contact_cny: what one contact over the channel costs.
        weight: the arm's share of the treated members, relative to the other arms.
    """

    name: str
    offer: str
    channel: str
    cost_per_contact_cny: float
    weight: float = 1.0


@dataclass(frozen=True)
class Plan:
    """What a planner asks for.

    Attributes:
        name: the campaign's name.
        goal: one of :data:`core.store.schema.CAMPAIGN_GOALS`.
        arms: the treatment arms.
        start_date: the first day of contacts.
        end_date: the last day the campaign counts conversions.
        holdout_share: the share of members kept as the control arm.
        seed: the random seed of the draw.
        strata: the strata to balance within, of :data:`STRATA`.
        source_kind: one of :data:`SOURCE_KINDS`.
        source_ref: the target list's id, the segment (``run:segment``), or None.
        follow_up_days: days after which online non-responders go to their customer managers.
        campaign_id: the campaign's id; a new one is made when None.
    """

    name: str
    goal: str
    arms: tuple[Arm, ...]
    start_date: dt.date
    end_date: dt.date
    holdout_share: float = 0.2
    seed: int = 20240101
    strata: tuple[str, ...] = ("segment",)
    source_kind: str = "customer_ids"
    source_ref: str | None = None
    follow_up_days: int | None = 7
    campaign_id: str | None = None

    @property
    def offer(self) -> str:
        """The offer of the first arm: the campaign's offer."""
        return self.arms[0].offer

    def shares(self) -> dict[str, float]:
        """The planned share of each arm, control included, summing to 1."""
        total = sum(arm.weight for arm in self.arms)
        shares = {arm.name: (1.0 - self.holdout_share) * arm.weight / total for arm in self.arms}
        return {CONTROL_ARM: self.holdout_share, **shares}


def check(plan: Plan) -> None:
    """Refuses a plan that cannot be run as given, saying what to change.

    Raises:
        UserError: the first problem found.
    """
    if not plan.name.strip():
        raise UserError("campaigns.error.no_name")
    if plan.goal not in schema.CAMPAIGN_GOALS:
        raise UserError(
            "campaigns.error.goal", goal=plan.goal, allowed=", ".join(schema.CAMPAIGN_GOALS)
        )
    if not plan.arms:
        raise UserError("campaigns.error.no_arms")
    names = [arm.name.strip() for arm in plan.arms]
    for arm, name in zip(plan.arms, names, strict=True):
        if not name or name == CONTROL_ARM or len(name) > ARM_NAME_LENGTH:
            raise UserError("campaigns.error.arm_name", arm=name, length=ARM_NAME_LENGTH)
        if arm.channel not in schema.CAMPAIGN_CHANNELS:
            raise UserError(
                "campaigns.error.channel",
                arm=name,
                channel=arm.channel,
                allowed=", ".join(schema.CAMPAIGN_CHANNELS),
            )
        if not arm.offer or not str(arm.offer).strip():
            raise UserError("campaigns.error.no_offer", arm=name)
        if not (arm.cost_per_contact_cny >= 0) or not math.isfinite(arm.cost_per_contact_cny):
            raise UserError("campaigns.error.cost", arm=name)
        if not (arm.weight > 0):
            raise UserError("campaigns.error.weight", arm=name)
    if len(set(names)) != len(names):
        raise UserError("campaigns.error.arm_twice")
    low, high = HOLDOUT_RANGE
    if not low <= plan.holdout_share <= high:
        raise UserError("campaigns.error.holdout", low=f"{low:.0%}", high=f"{high:.0%}")
    if plan.end_date < plan.start_date:
        raise UserError("campaigns.error.dates")
    unknown = [name for name in plan.strata if name not in STRATA]
    if unknown:
        raise UserError("campaigns.error.strata", strata=", ".join(unknown))
    if plan.source_kind not in SOURCE_KINDS:
        raise UserError("campaigns.error.source", source=plan.source_kind)
    if plan.follow_up_days is not None and plan.follow_up_days < 1:
        raise UserError("campaigns.error.follow_up")
    if plan.campaign_id is not None and (
        not plan.campaign_id.strip() or len(plan.campaign_id) > CAMPAIGN_ID_LENGTH
    ):
        raise UserError("campaigns.error.campaign_id", length=CAMPAIGN_ID_LENGTH)


def assign(
    members: pd.DataFrame,
    shares: dict[str, float],
    seed: int,
    strata: tuple[str, ...] = (),
) -> pd.Series:
    """Draws each member's arm, stratified, reproducibly.

    Args:
        members: one row per customer: ``customer_id`` and the strata columns.
        shares: the planned share of each arm (summing to 1).
        seed: the random seed; the same members, shares and seed give the same draw.
        strata: the columns to balance within (a missing value is a stratum of its own).

    Returns:
        The arm of each member, indexed by customer id (in customer-id order).
    """
    ordered = members.sort_values("customer_id", kind="stable").reset_index(drop=True)
    rng = np.random.default_rng(seed)
    count = len(ordered)
    if strata:
        keys = ordered[list(strata)].astype(str).where(ordered[list(strata)].notna(), "")
        stratum = pd.MultiIndex.from_frame(keys).factorize()[0] if len(strata) > 1 else None
        if stratum is None:
            stratum = pd.factorize(keys.iloc[:, 0], sort=True)[0]
    else:
        stratum = np.zeros(count, dtype=np.int64)
    order = np.lexsort((rng.random(count), stratum))
    sizes = np.bincount(stratum)
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    # Rank within the stratum of each member, in the random order.
    position = np.empty(count, dtype=np.int64)
    position[order] = np.arange(count) - starts[stratum[order]]
    offset = rng.random(len(sizes))
    # Systematic allocation: the k-th member of a stratum in random order sits at (k + u) / n of
    # the way through it, and gets the arm whose share interval holds that point.
    point = (position + offset[stratum]) / sizes[stratum]
    names = list(shares)
    edges = np.cumsum([shares[name] for name in names])
    edges = edges / edges[-1]
    chosen = np.minimum(np.searchsorted(edges, point, side="right"), len(names) - 1)
    return pd.Series(
        np.asarray(names, dtype=object)[chosen], index=ordered["customer_id"], name="arm"
    )


def _checked_ids(conn: sa.Connection, viewer: access.Viewer, customer_ids: list[str]) -> list[str]:
    """The ids, each once; refuses ids the store does not know or the viewer may not see."""
    wanted = sorted({str(value).strip() for value in customer_ids if str(value).strip()})
    if not wanted:
        raise UserError("campaigns.error.no_members")
    customers = schema.customers
    visible: set[str] = set()
    for start in range(0, len(wanted), IN_CHUNK):
        chunk = wanted[start : start + IN_CHUNK]
        visible |= set(
            conn.execute(
                sa.select(customers.c.customer_id).where(
                    customers.c.customer_id.in_(chunk), access.customer_scope(viewer)
                )
            ).scalars()
        )
    missing = [value for value in wanted if value not in visible]
    if missing:
        raise UserError(
            "campaigns.error.unknown_members",
            count=len(missing),
            ids=", ".join(missing[:LISTED_IDS]),
        )
    return wanted


def targets(
    conn: sa.Connection,
    viewer: access.Viewer,
    source_kind: str,
    source_ref: str | None = None,
    customer_ids: list[str] | None = None,
) -> pd.DataFrame:
    """The customers a plan draws from, with their segment and usage decile.

    Args:
        conn: a store connection.
        viewer: the planner: only customers in their scope are taken.
        source_kind: ``target_list`` (``source_ref`` its id), ``segment`` (``source_ref``
            ``run_id:segment_id``) or ``customer_ids``.
        source_ref: which list or segment.
        customer_ids: the ids, for ``customer_ids``.

    Returns:
        customer_id, segment, usage_decile (1-10 by daily use over the last quarter among the
        targets, missing without readings), customer_class, in customer-id order.

    Raises:
        UserError: an unknown source, an empty one, or ids outside the store or the scope.
    """
    if source_kind == "target_list":
        from core import target_lists

        listed = target_lists.members(conn, viewer, int(source_ref or 0))
        frame = listed[["customer_id", "segment"]]
    elif source_kind == "segment":
        from core import segments

        run_id, _, segment_id = str(source_ref or "").partition(":")
        found = segments.members(conn, viewer, int(run_id), [int(segment_id)])
        frame = pd.DataFrame(
            {"customer_id": found["customer_id"], "segment": found["segment_id"].astype(str)}
        )
    elif source_kind == "customer_ids":
        frame = pd.DataFrame(
            {"customer_id": _checked_ids(conn, viewer, customer_ids or []), "segment": None}
        )
    else:
        raise UserError("campaigns.error.source", source=source_kind)
    if frame.empty:
        raise UserError("campaigns.error.no_members")
    frame = frame.drop_duplicates("customer_id").astype({"customer_id": str})
    return _with_strata(conn, frame).sort_values("customer_id", ignore_index=True)


def _with_strata(conn: sa.Connection, frame: pd.DataFrame) -> pd.DataFrame:
    """Each target's segment (its own, the latest run's, else its class) and usage decile."""
    customers = schema.customers
    ids = frame["customer_id"].tolist()
    parts = []
    for start in range(0, len(ids), IN_CHUNK):
        chunk = ids[start : start + IN_CHUNK]
        parts.append(
            frames.read_frame(
                conn,
                sa.select(customers.c.customer_id, customers.c.customer_class).where(
                    customers.c.customer_id.in_(chunk)
                ),
            )
        )
    known = pd.concat(parts, ignore_index=True).astype({"customer_id": str})
    recent = usage.recent_usage(conn, ids)[["customer_id", "post_kwh_per_day"]]
    merged = frame.merge(known, on="customer_id", how="left").merge(
        recent.rename(columns={"post_kwh_per_day": "recent_kwh_per_day"}),
        on="customer_id",
        how="left",
    )
    runs = schema.segment_runs
    latest = conn.execute(sa.select(sa.func.max(runs.c.id))).scalar_one_or_none()
    segment = merged["segment"].astype(object)
    if latest is not None and segment.isna().any():
        members_table = schema.segment_members
        stored = dict(
            conn.execute(
                sa.select(members_table.c.customer_id, members_table.c.segment_id).where(
                    members_table.c.run_id == latest
                )
            ).all()
        )
        from_run = merged["customer_id"].map(stored)
        segment = segment.where(segment.notna(), from_run.map(_segment_label))
    merged["segment"] = segment.where(segment.notna(), merged["customer_class"])
    use = pd.to_numeric(merged["recent_kwh_per_day"], errors="coerce")
    ranked = use.rank(method="first")
    deciles = np.ceil(ranked / ranked.count() * USAGE_DECILES) if ranked.count() else ranked
    merged["usage_decile"] = pd.array(deciles, dtype="Int64")
    return merged[["customer_id", "segment", "usage_decile", "customer_class"]]


def _segment_label(value: object) -> object:
    return None if value is None or pd.isna(value) else f"segment {int(value)}"


def _new_campaign_id(conn: sa.Connection, start_date: dt.date) -> str:
    """``CMP<year><nn>``: the next number of the year not taken yet."""
    campaigns = schema.campaigns
    prefix = f"CMP{start_date:%Y}"
    taken = set(
        conn.execute(
            sa.select(campaigns.c.campaign_id).where(campaigns.c.campaign_id.like(f"{prefix}%"))
        ).scalars()
    )
    number = len(taken) + 1
    while f"{prefix}{number:02d}" in taken:
        number += 1
    return f"{prefix}{number:02d}"


@dataclass(frozen=True)
class Created:
    """A plan written to the store.

    Attributes:
        campaign_id: the new campaign.
        assignment: each member's arm, indexed by customer id.
    """

    campaign_id: str
    assignment: pd.Series


def create(engine: sa.Engine, viewer: access.Viewer, plan: Plan, members: pd.DataFrame) -> Created:
    """Draws the members' arms and writes the campaign, its plan, arms and members, audited.

    Args:
        engine: the store.
        viewer: the planner; every member must be in their scope.
        plan: what to plan.
        members: :func:`targets` (customer_id and the strata columns).

    Returns:
        The campaign id and the draw.

    Raises:
        UserError: the plan cannot be run as given, the campaign id is taken, a member is
            outside the planner's scope.
    """
    check(plan)
    if usage.is_energy_offer(plan.offer, tariffs.load_catalog()) and "usage_decile" not in (
        plan.strata
    ):
        plan = Plan(**{**plan.__dict__, "strata": (*plan.strata, "usage_decile")})
    channel_of = {arm.name: arm.channel for arm in plan.arms}
    with engine.begin() as conn:
        _checked_ids(conn, viewer, members["customer_id"].astype(str).tolist())
        assignment = assign(members, plan.shares(), plan.seed, plan.strata)
        campaign_id = plan.campaign_id or _new_campaign_id(conn, plan.start_date)
        exists = conn.execute(
            sa.select(schema.campaigns.c.campaign_id).where(
                schema.campaigns.c.campaign_id == campaign_id
            )
        ).first()
        if exists is not None:
            raise UserError("campaigns.error.campaign_exists", campaign_id=campaign_id)
        first = plan.arms[0]
        conn.execute(
            schema.campaigns.insert().values(
                campaign_id=campaign_id,
                name=plan.name.strip(),
                goal=plan.goal,
                offer=first.offer,
                channel=first.channel if len(plan.arms) == 1 else None,
                start_date=plan.start_date,
                end_date=plan.end_date,
                cost_per_contact_cny=first.cost_per_contact_cny,
            )
        )
        conn.execute(
            schema.campaign_plans.insert().values(
                campaign_id=campaign_id,
                holdout_share=plan.holdout_share,
                seed=int(plan.seed),
                strata=",".join(plan.strata) or None,
                source_kind=plan.source_kind,
                source_ref=plan.source_ref,
                follow_up_days=plan.follow_up_days,
                created_by=viewer.user_name,
                created_at=access.now(),
            )
        )
        shares = plan.shares()
        conn.execute(
            schema.campaign_arms.insert(),
            [
                {
                    "campaign_id": campaign_id,
                    "arm": CONTROL_ARM,
                    "offer": None,
                    "channel": None,
                    "cost_per_contact_cny": 0.0,
                    "planned_share": shares[CONTROL_ARM],
                },
                *(
                    {
                        "campaign_id": campaign_id,
                        "arm": arm.name,
                        "offer": arm.offer,
                        "channel": arm.channel,
                        "cost_per_contact_cny": arm.cost_per_contact_cny,
                        "planned_share": shares[arm.name],
                    }
                    for arm in plan.arms
                ),
            ],
        )
        store_engine.bulk_insert(
            conn,
            schema.campaign_members,
            pd.DataFrame(
                {
                    "campaign_id": campaign_id,
                    "customer_id": assignment.index.to_numpy(),
                    "arm": assignment.to_numpy(),
                    "channel": assignment.map(channel_of).to_numpy(),
                }
            ),
        )
        access.record(
            conn,
            viewer,
            "campaign_planned",
            campaign_id,
            {"members": len(assignment), "seed": int(plan.seed), "arms": len(plan.arms)},
        )
        store_engine.bump_data_version(conn)
    return Created(campaign_id, assignment)
