"""Topic windows (主题视窗): business and 业扩报装, collection, 95598, campaigns; the big screen."""

import streamlit as st

from ui import session
from ui.topic_windows import big_screen, data, state, windows

t = session.t

TAB_KEY = "topic_window"
MONTH_KEY = "topic_month"


def _tab_changed(labels: dict[str, str]) -> None:
    chosen = st.session_state.get(TAB_KEY)
    code = next((code for code, label in labels.items() if label == chosen), None)
    if code is not None:
        state.set_window(code)


def _month_changed() -> None:
    state.set_month(st.session_state[MONTH_KEY])


viewer = session.require_page("pages/topic_windows.py")
current = state.read()
months = data.months()
shown = data.available_windows(viewer)
if not months or not shown:
    st.title(t("topic_windows.title"))
    st.info(t("topic_windows.no_data"))
    st.stop()

if current.big_screen:
    big_screen.render(viewer, shown, current)
    st.stop()

st.title(t("topic_windows.title"))
st.caption(t("topic_windows.subtitle"))
top, link = st.columns([3, 1])
with top:
    period = st.selectbox(
        t("topic_windows.month"),
        months,
        index=months.index(state.chosen(months, current.month)),
        key=MONTH_KEY,
        on_change=_month_changed,
    )
with link:
    # The same session, so the display stays signed in; the URL it gets can be bookmarked.
    if st.button(t("topic_windows.big_screen"), icon=":material/tv:", key="open_big_screen"):
        state.open_big_screen()
        st.rerun()

labels = {code: t(f"topic_windows.window.{code}") for code in shown}
opened = state.chosen(shown, current.window)
tabs = st.tabs(
    list(labels.values()),
    default=labels[opened],
    key=TAB_KEY,
    on_change=_tab_changed,
    args=(labels,),
)
for tab, code in zip(tabs, shown, strict=True):
    if tab.open is False:
        continue
    with tab:
        windows.RENDERERS[code](viewer, period, current)
