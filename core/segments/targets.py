"""Target lists from segments and rule segments, with the reason and the offer for each customer.

A row names the customer, their contacts as the viewer may see them, the segment, why they are in
it (the figures behind the segment's name, or the rule) and the offer that fits the segment.
"""

import pandas as pd
import sqlalchemy as sa

from core import access, i18n, target_lists
from core.segments import rules, runs

# The offer that fits each segment name (its text is ``segments.offer.<offer>``): a TOU switch
# for the peak-heavy, an EV valley tariff for night chargers, a service recovery call for the
# complaint-prone, and so on (the seeds' strategies for their four groups).
OFFERS = {
    "night_chargers": "ev_valley_tariff",
    "seasonal_irrigation": "seasonal_capacity",
    "seasonal_production": "seasonal_capacity",
    "continuous_industry": "demand_basis_review",
    "service_sensitive": "service_recovery",
    "payment_risk": "payment_plan",
    "high_value_stable": "key_account_care",
    "low_activity": "online_activation",
    "price_sensitive": "tou_switch",
    "weekday_business": "energy_audit",
    "residential_base": "online_activation",
    "commercial_base": "energy_audit",
    "industrial_base": "demand_basis_review",
    "agricultural_base": "seasonal_capacity",
    "mixed": "energy_audit",
}
TARGET_COLUMNS = (
    "customer_id",
    "name",
    "phone",
    "customer_class",
    "region",
    "transformer_area",
    "segment",
    "reason",
    "offer",
)


def offer_text(name_code: str, language: str) -> str:
    """The recommended offer for a segment of this name, in ``language``."""
    return i18n.translate(f"segments.offer.{OFFERS.get(name_code, 'energy_audit')}", language)


def segment_targets(
    conn: sa.Connection,
    viewer: access.Viewer,
    run_id: int,
    segment_ids: list[int],
    language: str,
) -> pd.DataFrame:
    """The target list of some segments of a run: one row per customer in ``viewer``'s scope.

    Returns:
        :data:`TARGET_COLUMNS`, contact fields masked for a viewer without the grant.
    """
    shown = runs.segments_of(conn, viewer, run_id)
    names = runs.display_names(shown, language)
    reasons = runs.reasons(shown, language)
    codes = dict(zip(shown["segment_id"], shown["name_code"], strict=True))
    members = runs.members(conn, viewer, run_id, segment_ids)
    return members.assign(
        segment=members["segment_id"].map(names),
        reason=members["segment_id"].map(reasons),
        offer=members["segment_id"].map(lambda key: offer_text(codes[key], language)),
    )[list(TARGET_COLUMNS)]


def rule_targets(
    conn: sa.Connection, viewer: access.Viewer, name: str, expression: str, language: str
) -> pd.DataFrame:
    """The target list of a rule segment: its customers, the rule as the reason.

    Raises:
        RuleError: the rule cannot be read.
    """
    members = rules.members(conn, viewer, expression)
    reason = i18n.translate("segments.rule_reason", language, rule=expression.strip())
    return members.assign(segment=name, reason=reason, offer=None)[list(TARGET_COLUMNS)]


def save_segment_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    name: str,
    targets: pd.DataFrame,
    run_id: int,
    segment_ids: list[int],
    note: str | None = None,
) -> int:
    """Records a segment target list (who, when, which run and segments, the customers).

    Returns:
        The list's id.
    """
    reference = f"run {int(run_id)} / segment {', '.join(str(int(s)) for s in segment_ids)}"
    return target_lists.save(
        conn, viewer, name, targets, source="segment", source_ref=reference, note=note
    )


def save_rule_list(
    conn: sa.Connection,
    viewer: access.Viewer,
    name: str,
    targets: pd.DataFrame,
    rule_name: str,
    note: str | None = None,
) -> int:
    """Records a rule segment's target list; its source is the rule's name."""
    return target_lists.save(
        conn, viewer, name, targets, source="rule", source_ref=rule_name, note=note
    )
