"""Campaigns (营销活动): plan with a randomized holdout, read results honestly, target by uplift.

The parts: :mod:`~core.campaigns.stats` (the statistics, from statsmodels and scipy) and
:mod:`~core.campaigns.evaluate` (each treatment arm against control). Callers use the names
below (``campaigns.evaluate``), not the parts.
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

__all__ = [
    "ALPHA",
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
