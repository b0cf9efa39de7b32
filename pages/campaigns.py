"""Campaigns (营销活动): results with their holdouts, planning with a randomized holdout, the
offline follow-up of online non-responders, and uplift targeting."""

import datetime as dt

import pandas as pd
import streamlit as st

from core import access, campaigns, errors, target_lists
from core.campaigns import handover, power, report
from ui import campaign_charts, campaign_uplift, charts, downloads, session, tables

t = session.t
viewer = session.require_page("pages/campaigns.py")
PERCENT = st.column_config.NumberColumn(format="percent")
RATE_COLUMNS = (
    "treatment_rate",
    "control_rate",
    "abs_lift",
    "abs_lift_low",
    "abs_lift_high",
    "rel_lift",
)
DEFAULT_ARM = {"name": "sms", "offer": "RES_TOU", "channel": "sms", "cost_per_contact_cny": 0.5}


@session.cached
def _overview(who: access.Viewer) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return report.overview(conn, who)


@session.cached(max_entries=16)
def _report(who: access.Viewer, campaign_id: str) -> report.CampaignReport | None:
    with session.engine().connect() as conn:
        return report.campaign_report(conn, who, campaign_id)


@session.cached(max_entries=16)
def _contacts(who: access.Viewer, campaign_id: str) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return handover.contact_list(conn, who, campaign_id)


@session.cached(max_entries=16)
def _follow_ups(who: access.Viewer, campaign_id: str) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return handover.follow_ups(conn, who, campaign_id)


@session.cached
def _lists(who: access.Viewer) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return target_lists.target_lists(conn, who)


@session.cached(max_entries=8)
def _targets(who: access.Viewer, kind: str, ref: str | None, ids: tuple[str, ...]) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return campaigns.targets(conn, who, kind, ref, list(ids))


@session.cached(max_entries=8)
def _spread(who: access.Viewer, ids: tuple[str, ...]) -> campaigns.UsageSpread:
    with session.engine().connect() as conn:
        return campaigns.usage_spread(conn, list(ids))


@session.cached
def _baseline(who: access.Viewer, goal: str) -> float | None:
    with session.engine().connect() as conn:
        return campaigns.baseline_rate(conn, who, goal)


def _label(name: str) -> str:
    return t(f"campaigns.col.{name}")


def _percent_config(frame: pd.DataFrame) -> dict:
    return {_label(name): PERCENT for name in frame.columns if name in RATE_COLUMNS}


def _show(frame: pd.DataFrame, **options) -> None:
    tables.show(frame, _label, column_config=_percent_config(frame), **options)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.2%}"


def _p(value: float | None) -> str:
    return "–" if value is None else f"{value:.3g}"


def _money(value: float | None) -> str:
    return "–" if value is None else f"¥{value:,.2f}"


def _notices(notices) -> None:
    for notice in notices:
        st.warning(notice.text(session.language()))


def _overview_view() -> str | None:
    shown = _overview(viewer)
    if shown.empty:
        st.info(t("campaigns.no_campaigns"))
        return None
    table = shown.assign(
        status=shown["status"].map(lambda value: t(f"campaigns.status.{value}")),
        goal=shown["goal"].map(lambda value: t(f"campaigns.goal.{value}")),
    )
    _show(table.drop(columns=["p_value_adjusted"]))
    names = dict(zip(shown["campaign_id"], shown["name"], strict=True))
    return st.selectbox(
        t("campaigns.pick"),
        list(names),
        format_func=lambda key: f"{key} · {names[key]}",
        key="campaign_pick",
    )


def _comparisons(result: report.CampaignReport) -> pd.DataFrame:
    rows = []
    for comparison in result.evaluation.comparisons:
        for measure in ("response", "conversion"):
            rate = getattr(comparison, measure)
            interval = rate.abs_lift_ci or (None, None)
            rows.append(
                {
                    "arm": campaign_charts.arm_name(comparison.arm),
                    "measure": t(f"campaigns.measure.{measure}"),
                    "treatment_n": rate.treatment_n,
                    "control_n": rate.control_n,
                    "treatment_rate": rate.treatment_rate,
                    "control_rate": rate.control_rate,
                    "abs_lift": rate.abs_lift,
                    "abs_lift_low": interval[0],
                    "abs_lift_high": interval[1],
                    "rel_lift": rate.rel_lift,
                    "p_value": rate.p_value,
                    "p_value_adjusted": rate.p_value_adjusted,
                    "incremental": rate.incremental,
                }
            )
    return pd.DataFrame(rows)


def _headline(result: report.CampaignReport) -> None:
    headline = result.evaluation.headline
    if headline is None:
        st.info(t("campaigns.no_headline"))
        return
    conversion = headline.conversion
    low, high = conversion.abs_lift_ci
    first, second, third, fourth = st.columns(4)
    first.metric(
        t("campaigns.metric.conversion", arm=campaign_charts.arm_name(headline.arm)),
        _pct(conversion.treatment_rate),
        t("campaigns.metric.against_control", rate=_pct(conversion.control_rate)),
        delta_color="off",
    )
    second.metric(
        t("campaigns.metric.lift"),
        _pct(conversion.abs_lift),
        t("campaigns.metric.interval", low=_pct(low), high=_pct(high)),
        delta_color="off",
    )
    third.metric(t("campaigns.metric.p_value"), _p(conversion.p_value_adjusted))
    fourth.metric(t("campaigns.metric.incremental"), f"{conversion.incremental:,.1f}")
    first, second, third, fourth = st.columns(4)
    first.metric(t("campaigns.metric.incremental_value"), _money(headline.value.incremental_total))
    second.metric(t("campaigns.metric.cost"), _money(headline.cost_cny))
    third.metric(
        t("campaigns.metric.cost_per_conversion"), _money(headline.cost_per_incremental_conversion)
    )
    fourth.metric(t("campaigns.metric.roi"), _pct(headline.roi))
    if conversion.significant:
        st.success(t("campaigns.significant"))
    else:
        st.info(t("campaigns.not_significant"))


def _checks(result: report.CampaignReport) -> None:
    ratio = result.evaluation.sample_ratio
    st.subheader(t("campaigns.checks"))
    if ratio.p_value is None:
        st.caption(t("campaigns.srm_unknown"))
    elif ratio.mismatch:
        st.error(t("campaigns.srm_flagged", p_value=_p(ratio.p_value)))
    else:
        st.caption(t("campaigns.srm_ok", p_value=_p(ratio.p_value)))
    arms = pd.DataFrame(
        {
            "arm": [campaign_charts.arm_name(arm) for arm in ratio.observed],
            "members": list(ratio.observed.values()),
            "planned_share": [ratio.planned_shares.get(arm) for arm in ratio.observed],
        }
    )
    tables.show(arms, _label, column_config={_label("planned_share"): PERCENT})
    if result.balance:
        balance = pd.DataFrame([row.as_json() for row in result.balance])
        balance["feature"] = balance["feature"].map(lambda name: t(f"campaigns.feature.{name}"))
        balance["arm"] = balance["arm"].map(campaign_charts.arm_name)
        balance["flagged"] = balance["flagged"].map(
            lambda flag: t("campaigns.flagged") if flag else ""
        )
        st.caption(t("campaigns.balance_caption", limit=campaigns.SMD_LIMIT))
        _show(balance)


def _energy(result: report.CampaignReport) -> None:
    if not result.energy:
        return
    st.subheader(t("campaigns.energy"))
    st.caption(t("campaigns.energy_caption"))
    rows = []
    for effect in result.energy:
        if not effect.enough:
            st.warning(
                t(
                    "campaigns.energy_too_few",
                    metric=t(f"campaigns.metric_name.{effect.metric}"),
                    minimum=campaigns.MIN_ARM_CUSTOMERS,
                )
            )
            continue
        scale = 100.0 if effect.metric == "peak_share" else 1.0
        for method in ("unadjusted", "cuped", "did"):
            estimate = getattr(effect, method)
            rows.append(
                {
                    "arm": campaign_charts.arm_name(effect.arm),
                    "metric": t(f"campaigns.metric_name.{effect.metric}"),
                    "method": t(f"campaigns.method.{method}"),
                    "effect": estimate.effect * scale,
                    "low": estimate.ci[0] * scale,
                    "high": estimate.ci[1] * scale,
                    "p_value": estimate.p_value,
                    "variance_reduction": effect.variance_reduction if method == "cuped" else None,
                }
            )
    if rows:
        frame = pd.DataFrame(rows)
        tables.show(
            frame,
            _label,
            column_config={
                _label("variance_reduction"): PERCENT,
                _label("effect"): st.column_config.NumberColumn(format="%.3f"),
                _label("low"): st.column_config.NumberColumn(format="%.3f"),
                _label("high"): st.column_config.NumberColumn(format="%.3f"),
            },
        )


def _groups(result: report.CampaignReport) -> None:
    evaluation = result.evaluation
    for by, groups in (("segment", evaluation.segments), ("channel", evaluation.channels)):
        if not groups:
            continue
        st.subheader(t(f"campaigns.by_{by}"))
        rows = []
        for group in groups:
            rate = group.conversion
            interval = rate.abs_lift_ci or (None, None)
            rows.append(
                {
                    "group": group.group,
                    "treatment_n": rate.treatment_n,
                    "control_n": rate.control_n,
                    "treatment_rate": rate.treatment_rate,
                    "control_rate": rate.control_rate,
                    "abs_lift": rate.abs_lift,
                    "abs_lift_low": interval[0],
                    "abs_lift_high": interval[1],
                    "p_value_adjusted": rate.p_value_adjusted,
                }
            )
        _show(pd.DataFrame(rows))
        if any(not group.conversion.enough for group in groups):
            st.caption(t("campaigns.groups_too_few", minimum=campaigns.MIN_ARM_CUSTOMERS))


def _import_outcomes(campaign_id: str) -> None:
    with st.expander(t("campaigns.import_title")):
        st.caption(t("campaigns.import_caption"))
        upload = st.file_uploader(
            t("campaigns.import_file"), type=["csv", "xlsx", "parquet"], key="outcomes_file"
        )
        if upload is None or not st.button(t("campaigns.import_run"), key="outcomes_run"):
            return
        try:
            result = handover.import_outcomes(session.engine(), viewer, upload, upload.name)
        except errors.UserError as error:
            session.show_error(error)
            return
        st.success(
            t(
                "campaigns.imported",
                landed=f"{result.rows_landed:,}",
                rejected=f"{result.rows_rejected:,}",
            )
        )
        if result.rows_rejected:
            tables.show(result.reason_summary(session.language()), _label)


def _detail(campaign_id: str) -> None:
    result = _report(viewer, campaign_id)
    if result is None:
        st.info(t("campaigns.no_members"))
        return
    st.header(campaign_id)
    _notices(result.evaluation.notices)
    _headline(result)
    comparisons = _comparisons(result)
    if not comparisons.empty:
        _show(comparisons)
    charts.show(campaign_charts.funnel(result.evaluation.arms), key="campaign_funnel")
    _checks(result)
    _energy(result)
    _groups(result)
    st.subheader(t("campaigns.downloads"))
    if not comparisons.empty:
        downloads.offer(
            t("campaigns.download_results"),
            comparisons,
            f"{campaign_id}_results",
            key="download_results",
            labels=_label,
        )
    contacts = _contacts(viewer, campaign_id)
    for channel in sorted(contacts["channel"].dropna().unique()):
        downloads.offer(
            t("campaigns.download_contacts", channel=t(f"campaigns.channel.{channel}")),
            contacts[contacts["channel"] == channel],
            f"{campaign_id}_{channel}_contacts",
            key=f"download_contacts_{channel}",
            labels=_label,
        )
    _import_outcomes(campaign_id)


def _results_view() -> None:
    picked = _overview_view()
    if picked is not None:
        _detail(picked)


def _arms_editor() -> tuple[campaigns.Arm, ...]:
    st.caption(t("campaigns.arms_caption"))
    edited = st.data_editor(
        pd.DataFrame([DEFAULT_ARM]),
        num_rows="dynamic",
        key="plan_arms",
        column_config={
            "name": st.column_config.TextColumn(_label("arm"), required=True),
            "offer": st.column_config.TextColumn(_label("offer"), required=True),
            "channel": st.column_config.SelectboxColumn(
                _label("channel"), options=list(campaigns.CHANNELS)
            ),
            "cost_per_contact_cny": st.column_config.NumberColumn(
                _label("cost_per_contact_cny"), min_value=0.0, format="%.2f"
            ),
        },
        hide_index=True,
        width="stretch",
    )
    arms = []
    for row in edited.dropna(how="all").to_dict("records"):
        arms.append(
            campaigns.Arm(
                name=str(row.get("name") or "").strip(),
                offer=str(row.get("offer") or "").strip(),
                channel=str(row.get("channel") or ""),
                cost_per_contact_cny=float(row.get("cost_per_contact_cny") or 0.0),
            )
        )
    return tuple(arms)


def _plan_source() -> tuple[str, str | None, tuple[str, ...]] | None:
    kinds = {
        "target_list": t("campaigns.source.target_list"),
        "customer_ids": t("campaigns.source.customer_ids"),
    }
    kind = st.radio(
        t("campaigns.source_label"),
        list(kinds),
        format_func=kinds.get,
        horizontal=True,
        key="plan_source",
    )
    if kind == "target_list":
        lists = _lists(viewer)
        if lists.empty:
            st.info(t("campaigns.no_target_lists"))
            return None
        names = {
            int(row.id): t("campaigns.target_list_option", name=row.name, customers=row.visible)
            for row in lists.itertuples()
        }
        chosen = st.selectbox(
            t("campaigns.target_list"), list(names), format_func=names.get, key="plan_list"
        )
        return kind, str(chosen), ()
    text = st.text_area(t("campaigns.customer_ids"), key="plan_ids")
    ids = tuple(sorted({part for part in text.replace(",", " ").split() if part}))
    if not ids:
        st.info(t("campaigns.customer_ids_hint"))
        return None
    return kind, None, ids


def _plan_view() -> None:
    st.caption(t("campaigns.plan_intro"))
    source = _plan_source()
    if source is None:
        return
    kind, ref, ids = source
    try:
        targets = _targets(viewer, kind, ref, ids)
    except errors.UserError as error:
        session.show_error(error)
        return
    st.caption(t("campaigns.targets", count=f"{len(targets):,}"))
    left, right = st.columns(2)
    name = left.text_input(t("campaigns.name"), key="plan_name")
    goal = right.selectbox(
        t("campaigns.goal_label"),
        list(campaigns.GOALS),
        format_func=lambda value: t(f"campaigns.goal.{value}"),
        key="plan_goal",
        index=3,
    )
    arms = _arms_editor()
    today = dt.date.today()
    first, second, third, fourth = st.columns(4)
    start = first.date_input(t("campaigns.start"), today + dt.timedelta(days=14), key="plan_start")
    end = second.date_input(t("campaigns.end"), today + dt.timedelta(days=74), key="plan_end")
    holdout = third.slider(t("campaigns.holdout"), 5, 50, 20, step=5, key="plan_holdout")
    seed = fourth.number_input(t("campaigns.seed"), 0, 2**31 - 1, 20240101, key="plan_seed")
    strata = st.multiselect(
        t("campaigns.strata"),
        list(campaigns.STRATA),
        default=["segment"],
        format_func=lambda value: t(f"campaigns.stratum.{value}"),
        key="plan_strata",
    )
    left, right = st.columns(2)
    follow_up = left.number_input(t("campaigns.follow_up_days"), 1, 60, 7, key="plan_follow_up")
    history = _baseline(viewer, goal)
    baseline = right.number_input(
        t("campaigns.baseline"),
        0.0,
        99.0,
        round(100 * history, 2) if history else 3.0,
        step=0.5,
        key="plan_baseline",
        help=t("campaigns.baseline_help"),
    )
    plan = campaigns.Plan(
        name=name,
        goal=goal,
        arms=arms,
        start_date=start,
        end_date=end,
        holdout_share=holdout / 100.0,
        seed=int(seed),
        strata=tuple(strata),
        source_kind=kind,
        source_ref=ref,
        follow_up_days=int(follow_up),
    )
    _power(plan, targets, baseline / 100.0)
    if st.button(t("campaigns.create"), type="primary", key="plan_create"):
        try:
            created = campaigns.create(session.engine(), viewer, plan, targets)
        except errors.UserError as error:
            session.show_error(error)
            return
        st.success(
            t("campaigns.created", campaign_id=created.campaign_id, members=len(created.assignment))
        )


def _power(plan: campaigns.Plan, targets: pd.DataFrame, baseline: float) -> None:
    if not plan.arms:
        return
    spread = None
    if campaigns.is_energy_offer(plan.offer):
        spread = _spread(viewer, tuple(targets["customer_id"]))
    check = campaigns.check_power(plan.shares(), len(targets), baseline, spread)
    st.subheader(t("campaigns.power"))
    sizes = power.arm_sizes_frame(check)
    sizes["arm"] = sizes["arm"].map(campaign_charts.arm_name)
    first, second, third = st.columns(3)
    first.metric(t("campaigns.metric.mde"), _pct(check.conversion_mde))
    second.metric(t("campaigns.metric.mde_relative"), _pct(check.conversion_mde_relative))
    if check.kwh_mde is not None:
        third.metric(
            t("campaigns.metric.kwh_mde"),
            f"{check.kwh_mde:.2f}",
            t("campaigns.metric.kwh_mde_adjusted", value=f"{check.kwh_mde_adjusted or 0:.2f}"),
            delta_color="off",
        )
    tables.show(sizes, _label)
    if check.too_small:
        for notice in check.notices:
            st.error(notice.text(session.language()))
    else:
        st.success(t("campaigns.power_ok"))


def _follow_up_view() -> None:
    shown = _overview(viewer)
    if shown.empty:
        st.info(t("campaigns.no_campaigns"))
        return
    names = dict(zip(shown["campaign_id"], shown["name"], strict=True))
    campaign_id = st.selectbox(
        t("campaigns.pick"),
        list(names),
        format_func=lambda key: f"{key} · {names[key]}",
        key="follow_up_pick",
    )
    due = _follow_ups(viewer, campaign_id)
    st.caption(t("campaigns.follow_up_caption"))
    if due.empty:
        st.info(t("campaigns.no_follow_ups"))
        return
    table = due.assign(
        follow_up_channel=due["follow_up_channel"].map(
            lambda value: t(f"campaigns.channel.{value}")
        ),
        channel=due["channel"].map(lambda value: t(f"campaigns.channel.{value}")),
    )
    tables.show(table, _label)
    downloads.offer(
        t("campaigns.download_follow_ups"),
        due,
        f"{campaign_id}_follow_ups",
        key="download_follow_ups",
        labels=_label,
    )


st.title(t("campaigns.title"))
st.caption(t("campaigns.intro"))
if viewer.role == "customer_manager":
    # A customer manager's part of a campaign is the follow-up of their own customers.
    _follow_up_view()
else:
    results_tab, plan_tab, follow_up_tab, uplift_tab = st.tabs(
        [
            t("campaigns.tab_results"),
            t("campaigns.tab_plan"),
            t("campaigns.tab_follow_ups"),
            t("campaigns.tab_uplift"),
        ],
        key="campaign_tab",
        on_change="rerun",
    )
    with results_tab:
        if results_tab.open:
            _results_view()
    with plan_tab:
        if plan_tab.open:
            _plan_view()
    with follow_up_tab:
        if follow_up_tab.open:
            _follow_up_view()
    with uplift_tab:
        if uplift_tab.open:
            campaign_uplift.view(viewer, _overview(viewer))
