"""The sign-in page: the form, the reasons a session ended, the demo's accounts on a demo store."""

import streamlit as st

from core import access
from core.demo import accounts as demo
from ui import session


def show() -> None:
    """Draws the sign-in page; a successful sign-in reruns the app at the address asked for."""
    t = session.t
    st.title(t("access.login_title"))
    if st.session_state.pop(session.EXPIRED_KEY, False):
        st.warning(t("access.session_expired", minutes=access.SESSION_IDLE_MINUTES))
    if st.session_state.pop(session.ENDED_KEY, False):
        st.warning(t("access.session_ended"))
    sso_error = st.session_state.get(session.SSO_ERROR_KEY)
    if sso_error:
        st.error(sso_error)

    with session.engine().connect() as conn:
        has_users = access.has_users(conn)
        demo_accounts = demo.demo_accounts(conn) if has_users else []

    if not has_users:
        st.info(t("access.no_users"))
        st.caption(t("access.demo_no_users"))
        st.stop()

    if session.sso_configured():
        st.button(t("access.sign_in_sso"), on_click=st.login, type="primary")
        st.caption(t("access.sso_or"))

    with st.form("sign_in"):
        user_name = st.text_input(t("access.user_name"), key="login_user_name")
        password = st.text_input(t("access.password"), type="password", key="login_password")
        submitted = st.form_submit_button(t("access.sign_in"), type="primary")

    if submitted:
        try:
            signed = access.authenticate(session.engine(), user_name, password)
        except access.AccessError as error:
            st.error(t(error.key, **error.values))
        else:
            session.sign_in(signed)
            st.rerun()

    if demo_accounts:
        st.info(t("access.demo_hint", password=demo.DEMO_PASSWORD))
        st.table(
            {
                t("access.column_user_name"): [account.user_name for account in demo_accounts],
                t("access.column_role"): [
                    session.role_name(account.role) for account in demo_accounts
                ],
                t("access.column_scope"): [
                    account.scope or t("access.demo_scope_all") for account in demo_accounts
                ],
            }
        )
