"""The big-screen mode (大屏): a wall display of the windows, dark and large, refreshing itself.

Opened by ``?screen=big`` on the topic windows page; ``&window=service`` stays on one window,
otherwise the windows take turns. The board is a fragment that reruns on its own every few
seconds or minutes, so only its content is redrawn, never the page around it. Lists on the wall
never show a name or a phone number, whoever signed the display in.
"""

import datetime as dt

import streamlit as st

from core import access
from ui import session
from ui.topic_windows import common, data, state, windows

t = session.t

# A window shown in turn stays this long; one window alone is redrawn this often (new data
# arrives through the data version: the figures are read again only after an import).
ROTATE_SECONDS = 30
REFRESH_SECONDS = 180
# The fastest refresh a URL may ask for: quicker would redraw before a chart has settled.
MIN_REFRESH_SECONDS = 3
TURN_KEY = "big_screen_turn"

# Dark, wide and without the app's frame: no sidebar, no header, no toolbar.
STYLE = """
<style>
[data-testid="stSidebar"], [data-testid="stSidebarCollapsedControl"],
[data-testid="stHeader"], [data-testid="stToolbar"], [data-testid="stDecoration"] {
  display: none !important;
}
.stApp, [data-testid="stAppViewContainer"], [data-testid="stMain"] {
  background-color: #0b1622 !important;
  color: #e6edf3 !important;
}
.stApp h1, .stApp h2, .stApp h3, .stApp p, .stApp span, .stApp label,
[data-testid="stMetricLabel"], [data-testid="stMetricValue"], [data-testid="stCaptionContainer"] {
  color: #e6edf3 !important;
}
[data-testid="stMetricValue"] { font-size: 3.2rem !important; }
[data-testid="stMetricLabel"] p { font-size: 1.3rem !important; }
[data-testid="stMetric"] { background-color: #13233a; border-radius: 0.6rem; }
.stApp h2, .stApp h3 { font-size: 1.8rem !important; }
.block-container, [data-testid="stMainBlockContainer"] {
  max-width: 100% !important;
  padding: 1.2rem 2.5rem !important;
}
</style>
"""


def interval(current: state.State, shown_windows: list[str]) -> int:
    """Seconds between two redraws: the URL's refresh, or the turn or refresh of the mode."""
    if current.refresh_seconds is not None:
        return max(MIN_REFRESH_SECONDS, current.refresh_seconds)
    return REFRESH_SECONDS if current.window in shown_windows else ROTATE_SECONDS


def render(viewer: access.Viewer, shown_windows: list[str], current: state.State) -> None:
    """Draws the board: one window, or each in turn, redrawn every :func:`interval` seconds."""
    st.markdown(STYLE, unsafe_allow_html=True)
    seconds = interval(current, shown_windows)

    @st.fragment(run_every=seconds)
    def board() -> None:
        turn = st.session_state.get(TURN_KEY, -1) + 1
        st.session_state[TURN_KEY] = turn
        shown = (
            current.window
            if current.window in shown_windows
            else shown_windows[turn % len(shown_windows)]
        )
        months = data.months()
        if not months:
            st.info(t("topic_windows.no_data"))
            return
        period = months[0]
        title, clock = st.columns([4, 1])
        title.title(
            t(
                "topic_windows.big_title",
                window=t(f"topic_windows.window.{shown}"),
                month=common.month_text(period),
            )
        )
        clock.metric(
            t("topic_windows.updated"), f"{dt.datetime.now():%H:%M:%S}", label_visibility="visible"
        )
        with st.container(key=f"big_screen_{shown}"):
            windows.RENDERERS[shown](viewer, period, current, big=True)
        st.caption(t("topic_windows.big_footer", seconds=seconds, turn=turn + 1))

    board()
    if st.button(t("topic_windows.leave_big_screen"), key="leave_big_screen", type="tertiary"):
        state.leave_big_screen()
        st.rerun()
