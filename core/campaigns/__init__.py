"""Campaigns (营销活动): plan with a randomized holdout, read results honestly, target by uplift.

The parts: :mod:`~core.campaigns.stats` (the statistics, from statsmodels and scipy),
:mod:`~core.campaigns.evaluate` (each treatment arm against control), :mod:`~core.campaigns.members`
(members files and stored members), :mod:`~core.campaigns.usage` (use before and after, in the
store), :mod:`~core.campaigns.energy` (CUPED and difference-in-differences),
:mod:`~core.campaigns.balance` (pre-campaign balance), :mod:`~core.campaigns.report` (all of it
for a campaign), :mod:`~core.campaigns.plan` (targets, the stratified draw, writing a plan) and
:mod:`~core.campaigns.power` (what a plan can detect), :mod:`~core.campaigns.handover`
(contact lists, follow-ups, outcomes) and :mod:`~core.campaigns.uplift` (who to target next).
Callers use the names below (``campaigns.evaluate``), not the parts.
"""

from core.campaigns.evaluate import (
    CONTROL_ARM,
    MEMBER_COLUMNS,
    OPTIONAL_COLUMNS,
    ArmComparison,
    ArmFigures,
    CampaignEvaluation,
    Design,
    GroupComparison,
    ValueComparison,
    as_json,
    evaluate,
    evaluate_campaign,
)
from core.campaigns.plan import (
    CHANNELS,
    GOALS,
    SOURCE_KINDS,
    STRATA,
    Arm,
    Created,
    Plan,
    assign,
    create,
    targets,
)
from core.campaigns.power import PowerCheck, UsageSpread, baseline_rate, check_power, usage_spread
from core.campaigns.stats import (
    ALPHA,
    MIN_ARM_CUSTOMERS,
    SMD_LIMIT,
    SRM_ALPHA,
    RateComparison,
    SampleRatio,
    compare_rates,
    holm,
    sample_ratio,
    standardized_mean_difference,
    wilson,
)
from core.campaigns.usage import is_energy_offer

__all__ = [
    "ALPHA",
    "CHANNELS",
    "GOALS",
    "is_energy_offer",
    "SOURCE_KINDS",
    "STRATA",
    "Arm",
    "Created",
    "Plan",
    "PowerCheck",
    "UsageSpread",
    "assign",
    "baseline_rate",
    "check_power",
    "create",
    "targets",
    "usage_spread",
    "CONTROL_ARM",
    "MEMBER_COLUMNS",
    "MIN_ARM_CUSTOMERS",
    "OPTIONAL_COLUMNS",
    "SMD_LIMIT",
    "SRM_ALPHA",
    "ArmComparison",
    "ArmFigures",
    "CampaignEvaluation",
    "Design",
    "GroupComparison",
    "RateComparison",
    "SampleRatio",
    "ValueComparison",
    "as_json",
    "compare_rates",
    "evaluate",
    "evaluate_campaign",
    "holm",
    "sample_ratio",
    "standardized_mean_difference",
    "wilson",
]
