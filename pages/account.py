import streamlit as st

from core import access
from ui import session

t = session.t
viewer = session.require_page("pages/account.py")

st.title(t("access.account_title"))
session.show_identity(viewer)

st.subheader(t("access.change_password"))
with st.form("change_password", clear_on_submit=True):
    current = st.text_input(t("access.current_password"), type="password")
    new = st.text_input(
        t("access.new_password"),
        type="password",
        help=t("access.password_rules", length=access.MIN_PASSWORD_LENGTH),
    )
    repeated = st.text_input(t("access.repeat_password"), type="password")
    submitted = st.form_submit_button(t("access.change_password"))

if submitted:
    if new != repeated:
        st.error(t("access.passwords_differ"))
    else:
        try:
            with session.engine().begin() as conn:
                access.change_password(conn, viewer, current, new)
        except access.AccessError as error:
            st.error(t(error.key, **error.values))
        else:
            st.success(t("access.password_changed"))
