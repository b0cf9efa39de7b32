"""The risk panel of Customer 360: the customer's scores, their top factors and arrears triage."""

import pandas as pd
import streamlit as st

from core import access
from core.risk import models, reasons
from ui import session


@session.cached
def _scores(who: access.Viewer, customer_id: str) -> pd.DataFrame:
    return models.customer_scores(session.engine(), who, customer_id)


def show(who: access.Viewer, customer_id: str) -> None:
    """Draws the customer's stored risk scores with the reasons behind each."""
    t = session.t
    st.subheader(t("risk.panel.title"))
    scores = _scores(who, customer_id)
    if scores.empty:
        st.caption(t("risk.panel.none"))
        return
    language = session.language()
    columns = st.columns(len(scores))
    for column, row in zip(columns, scores.itertuples(index=False), strict=True):
        with column:
            st.metric(t(f"risk.kind.{row.kind}"), f"{row.score:.0%}")
            if row.kind == "abnormal":
                texts = reasons.texts(row.factors, language)
                if row.revenue_at_risk_cny:
                    st.caption(t("risk.panel.at_risk", amount=f"¥{row.revenue_at_risk_cny:,.2f}"))
            else:
                texts = reasons.factor_texts(row.factors, language)
            if isinstance(row.triage, str):
                st.markdown(f"**{t(f'risk.triage.{row.triage}')}**")
            for text in texts[:3]:
                st.caption(f"· {text}")
    st.caption(
        t(
            "risk.panel.scored",
            day=f"{scores['scored_on'].max()}",
            versions=", ".join(sorted(scores["model_version"].unique())),
        )
    )
