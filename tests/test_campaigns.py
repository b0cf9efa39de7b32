"""Campaign evaluation: textbook statistics, intention to treat, Holm, SRM and balance."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import (
    confint_proportions_2indep,
    proportion_confint,
    proportions_ztest,
)

from core import campaigns


def test_wilson_interval_is_newcombes_textbook_value():
    # Newcombe (1998), Stat. Med. 17:857, example: 81 of 263 has the score interval 0.2553-0.3662.
    low, high = campaigns.wilson(81, 263)
    assert low == pytest.approx(0.2553, abs=5e-5)
    assert high == pytest.approx(0.3662, abs=5e-5)


def test_a_rate_comparison_is_what_statsmodels_computes():
    # Newcombe (1998), Stat. Med. 17:873, example (a): 56/70 against 48/80, hybrid score
    # interval of the difference 0.0524 to 0.3339.
    result = campaigns.compare_rates(56, 70, 48, 80)
    assert result.enough
    assert result.treatment_rate == pytest.approx(0.8)
    assert result.control_rate == pytest.approx(0.6)
    assert result.abs_lift == pytest.approx(0.2)
    assert result.abs_lift_ci == pytest.approx((0.0524, 0.3339), abs=5e-5)
    assert result.treatment_ci == pytest.approx(proportion_confint(56, 70, method="wilson"))
    assert result.control_ci == pytest.approx(proportion_confint(48, 80, method="wilson"))
    _, p_value = proportions_ztest([56, 48], [70, 80])
    assert result.p_value == pytest.approx(p_value)
    # The pooled z statistic by hand: p = 104/150.
    pooled = 104 / 150
    z = 0.2 / np.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    assert result.p_value == pytest.approx(2 * scipy_stats.norm.sf(z))
    ratio = confint_proportions_2indep(56, 70, 48, 80, compare="ratio")
    assert result.rel_lift == pytest.approx(0.8 / 0.6 - 1)
    assert result.rel_lift_ci == pytest.approx((ratio[0] - 1, ratio[1] - 1))
    assert result.incremental == pytest.approx(0.2 * 70)


def test_holm_matches_statsmodels_and_keeps_missing_tests_out():
    p_values = [0.01, 0.04, None, 0.03]
    expected = multipletests([0.01, 0.04, 0.03], method="holm")[1]
    adjusted = campaigns.holm(p_values)
    assert adjusted[2] is None
    assert adjusted[0] == pytest.approx(expected[0]) == pytest.approx(0.03)
    assert adjusted[1] == pytest.approx(expected[1]) == pytest.approx(0.06)
    assert adjusted[3] == pytest.approx(expected[2])


def test_too_few_customers_give_no_figures():
    small = campaigns.compare_rates(3, 20, 1, 25)
    assert not small.enough
    assert small.treatment_n == 20 and small.control_n == 25
    assert small.abs_lift is None and small.p_value is None and small.treatment_rate is None
    assert all(value is None for key, value in small.as_json().items() if not key.endswith("_n"))
    no_events = campaigns.compare_rates(1, 500, 0, 500)
    assert not no_events.enough


def test_sample_ratio_mismatch_flags_a_planted_55_45_of_a_planned_50_50():
    planned = {"treatment": 0.5, "control": 0.5}
    skewed = campaigns.sample_ratio({"treatment": 1100, "control": 900}, planned)
    assert skewed.mismatch
    assert skewed.p_value == pytest.approx(scipy_stats.chisquare([900, 1100]).pvalue)
    fair = campaigns.sample_ratio({"treatment": 1012, "control": 988}, planned)
    assert not fair.mismatch and fair.p_value > 0.5
    unknown = campaigns.sample_ratio({"treatment": 10, "control": 8}, {})
    assert unknown.p_value is None and not unknown.mismatch


def test_standardized_mean_difference():
    treatment = np.array([1.0, 2.0, 3.0, 4.0])
    control = np.array([2.0, 3.0, 4.0, 5.0])
    spread = np.sqrt((treatment.var(ddof=1) + control.var(ddof=1)) / 2)
    assert campaigns.standardized_mean_difference(treatment, control) == pytest.approx(
        -1.0 / spread
    )
    assert campaigns.standardized_mean_difference([1.0, np.nan, 1.0], [1.0, 1.0]) == 0.0
    assert campaigns.standardized_mean_difference([1.0], [1.0, 2.0]) is None


def _members(arms: dict[str, tuple[int, int, int]], campaign_id: str = "C1") -> pd.DataFrame:
    """Members of a campaign: per arm (members, responders, converters), value 10 per conversion.

    Treatment members are contacted (except one in ten); responders come from the contacted.
    """
    rows = []
    contact = pd.Timestamp("2025-03-02 09:00")
    for arm, (count, responded, converted) in arms.items():
        for index in range(count):
            contacted = arm != "control" and index % 10 != 9
            rows.append(
                {
                    "campaign_id": campaign_id,
                    "customer_id": f"{arm[:2]}{index:05d}",
                    "arm": arm,
                    "contacted_at": contact if contacted else None,
                    "responded_at": contact + pd.Timedelta(hours=2)
                    if contacted and index < responded
                    else None,
                    "converted_at": contact + pd.Timedelta(days=3) if index < converted else None,
                    "value_cny": 10.0 if index < converted else None,
                }
            )
    return pd.DataFrame(rows)


def test_a_campaign_is_evaluated_by_intention_to_treat():
    members = _members({"treatment": (800, 120, 80), "control": (200, 0, 8)})
    design = campaigns.Design({"treatment": 0.8, "control": 0.2}, {"treatment": 0.5})
    [result] = campaigns.evaluate(members, {"C1": design})
    assert [arm.arm for arm in result.arms] == ["control", "treatment"]
    treatment = result.arms[1]
    assert (treatment.members, treatment.contacted, treatment.converted) == (800, 720, 80)
    [comparison] = result.comparisons
    conversion = comparison.conversion
    # Every member counts, contacted or not.
    assert conversion.treatment_n == 800 and conversion.control_n == 200
    assert conversion.treatment_rate == pytest.approx(0.1)
    assert conversion.control_rate == pytest.approx(0.04)
    assert conversion.incremental == pytest.approx((0.1 - 0.04) * 800)
    # One arm: Holm changes nothing.
    assert conversion.p_value_adjusted == pytest.approx(conversion.p_value)
    assert comparison.value.treatment_per_customer == pytest.approx(1.0)
    assert comparison.value.control_per_customer == pytest.approx(0.4)
    assert comparison.value.incremental_total == pytest.approx(0.6 * 800)
    assert comparison.cost_cny == pytest.approx(720 * 0.5)
    assert comparison.cost_per_incremental_conversion == pytest.approx(360 / 48)
    assert comparison.roi == pytest.approx((480 - 360) / 360)
    assert not result.sample_ratio.mismatch
    shape = campaigns.as_json([result])
    assert list(shape) == ["campaigns"]
    assert list(shape["campaigns"][0]) == ["campaign_id", "srm_p_value", "comparisons"]
    assert list(shape["campaigns"][0]["comparisons"][0]) == [
        "arm",
        "control",
        "response",
        "conversion",
        "value",
    ]


def test_several_arms_are_holm_adjusted_within_the_campaign():
    members = _members(
        {"sms": (500, 60, 45), "app_push": (500, 50, 30), "control": (500, 0, 20)}, "C2"
    )
    [result] = campaigns.evaluate(members)
    raw = [comparison.conversion.p_value for comparison in result.comparisons]
    expected = multipletests(raw, method="holm")[1]
    adjusted = [comparison.conversion.p_value_adjusted for comparison in result.comparisons]
    assert adjusted == pytest.approx(list(expected))
    assert [comparison.arm for comparison in result.comparisons] == ["app_push", "sms"]
    assert result.headline.arm == "sms"
    assert any(notice.key == "campaigns.notice.no_plan" for notice in result.notices)


def test_a_planted_mismatch_is_flagged_in_the_evaluation():
    members = _members({"treatment": (1100, 100, 60), "control": (900, 0, 30)})
    design = campaigns.Design({"treatment": 0.5, "control": 0.5})
    [result] = campaigns.evaluate(members, {"C1": design})
    assert result.sample_ratio.mismatch
    assert any(n.key == "campaigns.notice.sample_ratio_mismatch" for n in result.notices)


def test_a_small_arm_says_it_is_too_small_and_a_missing_control_says_so():
    members = _members({"treatment": (200, 20, 20), "control": (12, 0, 1)})
    [result] = campaigns.evaluate(members)
    assert not result.comparisons[0].conversion.enough
    assert result.comparisons[0].value.incremental_total is None
    assert result.headline is None
    assert any(notice.key == "campaigns.notice.too_few" for notice in result.notices)
    [alone] = campaigns.evaluate(_members({"treatment": (200, 20, 20)}))
    assert alone.comparisons == []
    assert any(notice.key == "campaigns.notice.no_control" for notice in alone.notices)


def test_segments_compare_within_the_segment_and_channels_against_all_control():
    members = _members({"treatment": (800, 120, 80), "control": (400, 0, 16)})
    members["segment"] = np.where(np.arange(len(members)) % 2 == 0, "a", "b")
    members["channel"] = np.where(members["arm"] == "control", None, "sms")
    [result] = campaigns.evaluate(members)
    by_segment = {group.group: group.conversion for group in result.segments}
    assert set(by_segment) == {"a", "b"}
    assert by_segment["a"].treatment_n + by_segment["b"].treatment_n == 800
    assert by_segment["a"].control_n + by_segment["b"].control_n == 400
    [channel] = result.channels
    assert channel.group == "sms" and channel.conversion.control_n == 400
