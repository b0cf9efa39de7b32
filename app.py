"""Entry point: frames the app, lists the pages that work, routes to them."""

import streamlit as st

from core import config
from core.store import engine as store_engine
from core.store import queries
from ui import login, session

st.set_page_config(page_title="Power Marketing Workbench", page_icon="⚡", layout="wide")
t = session.t

with st.sidebar:
    languages = {"zh": "中文", "en": "English"}
    st.selectbox(
        t("app.language"),
        options=list(config.LANGUAGES),
        index=config.LANGUAGES.index(session.language()),
        format_func=languages.get,
        key="language",
    )
    st.caption(t("app.store_in_use", store=store_engine.describe(session.database_url())))
    with session.engine().connect() as conn:
        period = queries.data_period(conn)
    if period is None:
        st.caption(t("app.no_data"))
    else:
        st.caption(t("app.data_period", start=f"{period[0]:%Y-%m-%d}", end=f"{period[1]:%Y-%m-%d}"))

signed = session.gate()
pages = [
    st.Page(
        "pages/overview.py",
        title=t("nav.overview"),
        icon=":material/dashboard:",
        default=signed is not None,
    ),
    st.Page("pages/customer_360.py", title=t("nav.customer_360"), icon=":material/person_search:"),
    st.Page("pages/segments.py", title=t("nav.segments"), icon=":material/groups:"),
    st.Page("pages/topic_windows.py", title=t("nav.topic_windows"), icon=":material/monitoring:"),
    st.Page("pages/tariffs.py", title=t("nav.tariffs"), icon=":material/savings:"),
    st.Page("pages/forecast.py", title=t("nav.forecast"), icon=":material/insights:"),
    st.Page("pages/campaigns.py", title=t("nav.campaigns"), icon=":material/campaign:"),
    st.Page("pages/risk.py", title=t("nav.risk"), icon=":material/policy:"),
    st.Page("pages/account.py", title=t("nav.account"), icon=":material/account_circle:"),
    st.Page("pages/data_quality.py", title=t("nav.data_quality"), icon=":material/fact_check:"),
    st.Page("pages/admin.py", title=t("nav.admin"), icon=":material/admin_panel_settings:"),
]
# Nobody reaches a page without signing in: until then every address shows the sign-in page,
# and the page asked for (a link to a customer) opens once signed in.
if signed is None:
    session.sign_in_first(login.show, pages)
    st.stop()
with st.sidebar:
    session.account_box()
# A role sees links to its pages only; a page refuses a role it is not for (session.require_page).
session.navigate(pages)
