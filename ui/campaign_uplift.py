"""The campaign page's uplift tab: what past campaigns teach about who to contact next."""

import pandas as pd
import streamlit as st

from core import access, errors, target_lists
from core.campaigns import uplift
from ui import campaign_charts, charts, downloads, session, tables

t = session.t
PERCENT = st.column_config.NumberColumn(format="percent")


@session.cached(max_entries=8)
def _uplift(who: access.Viewer, campaign_id: str) -> uplift.UpliftResult:
    with session.engine().connect() as conn:
        return uplift.fit(conn, who, campaign_id)


@session.cached(max_entries=8)
def _proposal(who: access.Viewer, campaign_id: str, model: str) -> pd.DataFrame:
    with session.engine().connect() as conn:
        return uplift.propose(conn, who, campaign_id, model)


def _label(name: str) -> str:
    return t(f"campaigns.col.{name}")


def view(viewer: access.Viewer, shown: pd.DataFrame) -> None:
    """The uplift tab: models learnt from a past campaign, their Qini curves, the next list."""
    st.caption(t("campaigns.uplift_intro"))
    if shown.empty:
        st.info(t("campaigns.no_campaigns"))
        return
    past = shown[shown["status"] == "finished"]
    if past.empty:
        st.info(t("campaigns.uplift_no_past"))
        return
    names = dict(zip(past["campaign_id"], past["name"], strict=True))
    campaign_id = st.selectbox(
        t("campaigns.uplift_campaign"),
        list(names),
        format_func=lambda key: f"{key} · {names[key]}",
        key="uplift_pick",
    )
    try:
        result = _uplift(viewer, campaign_id)
    except errors.UserError as error:
        session.show_error(error)
        return
    columns = st.columns(len(result.curves))
    for column, (model, curve) in zip(columns, result.curves.items(), strict=True):
        low, high = (f"{bound:,.1f}" for bound in curve.auuc_ci)
        column.metric(
            t("campaigns.auuc", model=t(f"campaigns.model.{model}")),
            f"{curve.auuc:,.1f}",
            t("campaigns.auuc_interval", low=low, high=high),
            delta_color="off",
        )
    st.caption(t("campaigns.auuc_caption", customers=f"{result.customers:,}"))
    charts.show(campaign_charts.qini(result.curves), key="campaign_qini")
    model = st.radio(
        t("campaigns.uplift_model"),
        list(uplift.MODELS),
        index=list(uplift.MODELS).index(result.best_model),
        format_func=lambda name: t(f"campaigns.model.{name}"),
        horizontal=True,
        key="uplift_model",
    )
    proposal = _proposal(viewer, campaign_id, model)
    if proposal.empty:
        st.info(t("campaigns.no_proposal"))
        return
    st.subheader(t("campaigns.proposal"))
    st.caption(
        t(
            "campaigns.proposal_caption",
            customers=f"{len(proposal):,}",
            conversions=f"{proposal['uplift'].sum():,.1f}",
            value=f"{proposal['net_value_cny'].sum():,.2f}",
            cost=f"{result.cost_per_contact:,.2f}",
        )
    )
    tables.show(proposal, _label, column_config={_label("uplift"): PERCENT}, height=360)
    downloads.offer(
        t("campaigns.download_proposal"),
        proposal,
        f"{campaign_id}_uplift_{model}",
        key="download_proposal",
        labels=_label,
    )
    if st.button(t("campaigns.save_proposal"), key="save_proposal"):
        name = t("campaigns.proposal_name", campaign_id=campaign_id)
        try:
            with session.engine().begin() as conn:
                list_id = target_lists.save(
                    conn,
                    viewer,
                    name,
                    proposal[["customer_id"]],
                    source="rule",
                    source_ref=f"uplift:{campaign_id}:{model}",
                )
        except errors.UserError as error:
            session.show_error(error)
            return
        st.success(t("campaigns.proposal_saved", name=name, list_id=list_id))
