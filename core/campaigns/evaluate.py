"""The results of randomized campaigns: each treatment arm against the control arm.

Every member of an arm counts in its denominator, contacted or not (intention to treat); a
response is a ``responded_at``, a conversion a ``converted_at``, an empty ``value_cny`` is 0.
The figures come from :mod:`core.campaigns.stats`; this module only counts.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.campaigns import stats
from core.errors import Notice

CONTROL_ARM = "control"
# The columns of a members frame: the import contract of campaign_members plus the optional
# segment and cost of each member.
MEMBER_COLUMNS = (
    "campaign_id",
    "customer_id",
    "arm",
    "contacted_at",
    "responded_at",
    "converted_at",
    "value_cny",
)
OPTIONAL_COLUMNS = ("channel", "segment", "cost_cny")
RATES = ("reach", "response", "conversion")
EVENT_COLUMNS = {"reach": "contacted_at", "response": "responded_at", "conversion": "converted_at"}


@dataclass(frozen=True)
class Design:
    """What the plan of a campaign says, as far as it is known.

    Attributes:
        planned_shares: the planned share of each arm (control included); empty when unknown.
        cost_per_contact: the cost of one contact by arm (CNY); missing arms cost
            ``default_cost_per_contact``.
        default_cost_per_contact: the campaign's cost per contact, None when unknown.
    """

    planned_shares: Mapping[str, float] = field(default_factory=dict)
    cost_per_contact: Mapping[str, float] = field(default_factory=dict)
    default_cost_per_contact: float | None = None

    def cost_of(self, arm: str) -> float | None:
        """The cost of one contact in ``arm``."""
        return self.cost_per_contact.get(arm, self.default_cost_per_contact)


@dataclass(frozen=True)
class ArmFigures:
    """One arm's funnel: members, contacted, responded, converted and their value.

    Attributes:
        arm: the arm's name.
        members: customers assigned to the arm.
        contacted: members with a contact.
        responded: members with a response.
        converted: members with a conversion.
        value_cny: the value of the arm's conversions (CNY).
        cost_cny: what contacting the arm cost (CNY), None when unknown.
    """

    arm: str
    members: int
    contacted: int
    responded: int
    converted: int
    value_cny: float
    cost_cny: float | None

    def rate(self, name: str) -> float | None:
        """``reach``, ``response`` or ``conversion`` as a share of the members."""
        count = {"reach": self.contacted, "response": self.responded, "conversion": self.converted}
        return count[name] / self.members if self.members else None

    def interval(self, name: str) -> stats.Interval | None:
        """The Wilson interval of :meth:`rate`."""
        count = {"reach": self.contacted, "response": self.responded, "conversion": self.converted}
        return stats.wilson(count[name], self.members)

    @property
    def value_per_customer(self) -> float | None:
        """The arm's value per member (intention to treat)."""
        return self.value_cny / self.members if self.members else None


@dataclass(frozen=True)
class ValueComparison:
    """The value of a treatment arm against the control arm, per customer and in total.

    Attributes:
        treatment_per_customer: value per treatment member (CNY).
        control_per_customer: value per control member (CNY).
        incremental_total: the difference per customer times the treatment members (CNY).
    """

    treatment_per_customer: float | None
    control_per_customer: float | None
    incremental_total: float | None

    def as_json(self) -> dict[str, object]:
        """The value in the ``evaluate-campaign`` JSON shape."""
        return {
            "treatment_per_customer": self.treatment_per_customer,
            "control_per_customer": self.control_per_customer,
            "incremental_total": self.incremental_total,
        }


@dataclass(frozen=True)
class ArmComparison:
    """One treatment arm against the control arm.

    Attributes:
        arm: the treatment arm.
        control: the control arm's name.
        response: the response rate compared.
        conversion: the conversion rate compared.
        value: the value compared.
        cost_cny: what contacting the arm cost, None when unknown.
        cost_per_incremental_conversion: cost over incremental conversions (None without a
            cost or without incremental conversions).
        roi: (incremental value − cost) / cost.
    """

    arm: str
    control: str
    response: stats.RateComparison
    conversion: stats.RateComparison
    value: ValueComparison
    cost_cny: float | None
    cost_per_incremental_conversion: float | None
    roi: float | None

    def as_json(self) -> dict[str, object]:
        """The comparison in the ``evaluate-campaign`` JSON shape."""
        return {
            "arm": self.arm,
            "control": self.control,
            "response": self.response.as_json(),
            "conversion": self.conversion.as_json(),
            "value": self.value.as_json(),
        }


@dataclass(frozen=True)
class GroupComparison:
    """The conversion of the treatment arms against control within one segment or channel.

    Attributes:
        by: ``segment`` or ``channel``.
        group: the segment's or channel's name.
        conversion: treatment members of the group against the control members of the group
            (segments) or against all control members (channels, which only treatment has).
    """

    by: str
    group: str
    conversion: stats.RateComparison


@dataclass(frozen=True)
class CampaignEvaluation:
    """The evaluation of one campaign.

    Attributes:
        campaign_id: the campaign.
        arms: each arm's funnel, control first.
        sample_ratio: the arms' sizes against the planned shares.
        comparisons: each treatment arm against control, Holm-adjusted over the arms.
        segments: conversion by segment, when the members carry one.
        channels: conversion by contact channel, when the members carry one.
        notices: what a reader must know (no control arm, too few customers, a mismatch).
    """

    campaign_id: str
    arms: list[ArmFigures]
    sample_ratio: stats.SampleRatio
    comparisons: list[ArmComparison]
    segments: list[GroupComparison] = field(default_factory=list)
    channels: list[GroupComparison] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)

    @property
    def headline(self) -> ArmComparison | None:
        """The treatment arm with the largest incremental conversions (the campaign's lift)."""
        shown = [item for item in self.comparisons if item.conversion.enough]
        if not shown:
            return None
        return max(shown, key=lambda item: item.conversion.incremental or 0.0)

    def as_json(self) -> dict[str, object]:
        """The campaign in the ``evaluate-campaign`` JSON shape."""
        return {
            "campaign_id": self.campaign_id,
            "srm_p_value": self.sample_ratio.p_value,
            "comparisons": [comparison.as_json() for comparison in self.comparisons],
        }


def _present(values: pd.Series) -> np.ndarray:
    """Whether each cell holds something (a time, a non-blank text)."""
    present = values.notna().to_numpy()
    if values.dtype == object or pd.api.types.is_string_dtype(values):
        present = present & values.astype(str).str.strip().ne("").to_numpy()
    return present


def _flags(members: pd.DataFrame) -> pd.DataFrame:
    """The members as numbers: one row per member with its events and value."""
    value = pd.to_numeric(members["value_cny"], errors="coerce").fillna(0.0).astype(float)
    flags = pd.DataFrame(
        {
            "campaign_id": members["campaign_id"].astype(str).to_numpy(),
            "arm": members["arm"].astype(str).to_numpy(),
            "members": 1,
            "contacted": _present(members["contacted_at"]).astype(int),
            "responded": _present(members["responded_at"]).astype(int),
            "converted": _present(members["converted_at"]).astype(int),
            "value_cny": value.to_numpy(),
        }
    )
    if "cost_cny" in members.columns:
        cost = pd.to_numeric(members["cost_cny"], errors="coerce")
        flags["cost_cny"] = cost.to_numpy(dtype=float)
    for column in ("segment", "channel"):
        if column in members.columns:
            flags[column] = members[column].astype(object).where(members[column].notna()).to_numpy()
    return flags


def _arm_figures(
    flags: pd.DataFrame, design: Design, has_cost_column: bool
) -> dict[str, ArmFigures]:
    sums = flags.groupby("arm", sort=True)[
        ["members", "contacted", "responded", "converted", "value_cny"]
    ].sum()
    if has_cost_column:
        stated = flags.groupby("arm", sort=True)["cost_cny"].agg(lambda cost: cost.sum(min_count=1))
    figures = {}
    for arm, row in sums.iterrows():
        cost: float | None = None
        if has_cost_column and pd.notna(stated.get(arm)):
            cost = float(stated[arm])
        elif arm != CONTROL_ARM and design.cost_of(str(arm)) is not None:
            cost = float(row["contacted"]) * float(design.cost_of(str(arm)))
        elif arm == CONTROL_ARM:
            cost = 0.0
        figures[str(arm)] = ArmFigures(
            arm=str(arm),
            members=int(row["members"]),
            contacted=int(row["contacted"]),
            responded=int(row["responded"]),
            converted=int(row["converted"]),
            value_cny=float(row["value_cny"]),
            cost_cny=cost,
        )
    return figures


def _value(treatment: ArmFigures, control: ArmFigures, enough: bool) -> ValueComparison:
    if not enough:
        return ValueComparison(None, None, None)
    treated, held = treatment.value_per_customer, control.value_per_customer
    incremental = None
    if treated is not None and held is not None:
        incremental = (treated - held) * treatment.members
    return ValueComparison(treated, held, incremental)


def _comparison(treatment: ArmFigures, control: ArmFigures) -> ArmComparison:
    response = stats.compare_rates(
        treatment.responded, treatment.members, control.responded, control.members
    )
    conversion = stats.compare_rates(
        treatment.converted, treatment.members, control.converted, control.members
    )
    value = _value(treatment, control, conversion.enough)
    cost = treatment.cost_cny
    per_conversion = roi = None
    if cost is not None and conversion.incremental is not None and conversion.incremental > 0:
        per_conversion = cost / conversion.incremental
    if cost is not None and cost > 0 and value.incremental_total is not None:
        roi = (value.incremental_total - cost) / cost
    return ArmComparison(
        arm=treatment.arm,
        control=control.arm,
        response=response,
        conversion=conversion,
        value=value,
        cost_cny=cost,
        cost_per_incremental_conversion=per_conversion,
        roi=roi,
    )


def _groups(flags: pd.DataFrame, by: str) -> list[GroupComparison]:
    """Conversion of the treatment members against control, group by group."""
    if by not in flags.columns or flags[by].isna().all():
        return []
    treated = flags[flags["arm"] != CONTROL_ARM]
    held = flags[flags["arm"] == CONTROL_ARM]
    if held.empty:
        return []
    treated_counts = treated.groupby(by, sort=True)[["members", "converted"]].sum()
    held_counts = held.groupby(by, sort=True)[["members", "converted"]].sum()
    whole_control = (int(held["members"].sum()), int(held["converted"].sum()))
    results = []
    for group, row in treated_counts.iterrows():
        # A channel is how treatment was delivered: control has none and is compared whole.
        if by == "segment":
            control_n = int(held_counts["members"].get(group, 0))
            control_count = int(held_counts["converted"].get(group, 0))
        else:
            control_n, control_count = whole_control
        comparison = stats.compare_rates(
            int(row["converted"]), int(row["members"]), control_count, control_n
        )
        results.append(GroupComparison(by, str(group), comparison))
    adjusted = stats.holm_adjusted([result.conversion for result in results])
    return [
        GroupComparison(result.by, result.group, conversion)
        for result, conversion in zip(results, adjusted, strict=True)
    ]


def evaluate_campaign(
    campaign_id: str, members: pd.DataFrame, design: Design | None = None
) -> CampaignEvaluation:
    """Evaluates one campaign's members.

    Args:
        campaign_id: the campaign.
        members: its members with the columns of :data:`MEMBER_COLUMNS` (and any of
            :data:`OPTIONAL_COLUMNS`).
        design: the plan's shares and costs, when known.

    Returns:
        The evaluation; a campaign without a control arm gets its arms' funnels and a notice.
    """
    design = design or Design()
    flags = _flags(members)
    figures = _arm_figures(flags, design, "cost_cny" in members.columns)
    notices: list[Notice] = []
    ordered = sorted(figures, key=lambda arm: (arm != CONTROL_ARM, arm))
    arms = [figures[arm] for arm in ordered]
    ratio = stats.sample_ratio(
        {arm.arm: arm.members for arm in arms},
        {arm: share for arm, share in design.planned_shares.items() if arm in figures},
    )
    if not design.planned_shares:
        notices.append(Notice("campaigns.notice.no_plan", campaign_id=campaign_id))
    elif ratio.mismatch:
        notices.append(
            Notice(
                "campaigns.notice.sample_ratio_mismatch",
                campaign_id=campaign_id,
                p_value=f"{ratio.p_value:.2g}",
            )
        )
    control = figures.get(CONTROL_ARM)
    if control is None:
        notices.append(Notice("campaigns.notice.no_control", campaign_id=campaign_id))
        return CampaignEvaluation(campaign_id, arms, ratio, [], notices=notices)
    compared = [_comparison(figures[arm], control) for arm in ordered if arm != CONTROL_ARM]
    responses = stats.holm_adjusted([item.response for item in compared])
    conversions = stats.holm_adjusted([item.conversion for item in compared])
    comparisons = [
        ArmComparison(
            arm=item.arm,
            control=item.control,
            response=response,
            conversion=conversion,
            value=item.value,
            cost_cny=item.cost_cny,
            cost_per_incremental_conversion=item.cost_per_incremental_conversion,
            roi=item.roi,
        )
        for item, response, conversion in zip(compared, responses, conversions, strict=True)
    ]
    for item in comparisons:
        if not item.conversion.enough:
            notices.append(
                Notice(
                    "campaigns.notice.too_few",
                    campaign_id=campaign_id,
                    arm=item.arm,
                    treatment_n=item.conversion.treatment_n,
                    control_n=item.conversion.control_n,
                    minimum=stats.MIN_ARM_CUSTOMERS,
                )
            )
    return CampaignEvaluation(
        campaign_id,
        arms,
        ratio,
        comparisons,
        segments=_groups(flags, "segment"),
        channels=_groups(flags, "channel"),
        notices=notices,
    )


def evaluate(
    members: pd.DataFrame, designs: Mapping[str, Design] | None = None
) -> list[CampaignEvaluation]:
    """Evaluates every campaign of a members frame, in campaign-id order.

    Args:
        members: members of one or more campaigns (see :func:`evaluate_campaign`).
        designs: the plan of each campaign, by campaign id, when known.

    Returns:
        One evaluation per campaign.
    """
    designs = designs or {}
    results = []
    for campaign_id, rows in members.groupby("campaign_id", sort=True):
        results.append(evaluate_campaign(str(campaign_id), rows, designs.get(str(campaign_id))))
    return results


def as_json(evaluations: Sequence[CampaignEvaluation]) -> dict[str, object]:
    """The ``evaluate-campaign`` output: ``{"campaigns": [...]}``."""
    return {"campaigns": [evaluation.as_json() for evaluation in evaluations]}
