"""What the topic windows show, kept in the URL (``st.query_params``) so that a link can be sent.

``?window=collection&month=2025-11&drill=debtors&by_bucket=31_90&by_region=大冶市`` opens the
Collection window on November 2025 with the debtors behind the 31–90-day bucket of 大冶市;
``?screen=big`` opens the big-screen mode (``&window=...`` keeps it on one window, ``&refresh=N``
refreshes every N seconds).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import streamlit as st

WINDOW_KEY = "window"
MONTH_KEY = "month"
DRILL_KEY = "drill"
SCREEN_KEY = "screen"
REFRESH_KEY = "refresh"
BIG_SCREEN = "big"
# Selection values are kept as by_<dimension>: month and period are dimensions too.
SELECTION_PREFIX = "by_"


@dataclass(frozen=True)
class Drill:
    """A figure clicked: which one, and the values of the point clicked.

    Attributes:
        figure: the figure's code (:data:`ui.topic_windows.figures.FIGURES`).
        selection: dimension → value of the point.
    """

    figure: str
    selection: dict[str, str] = field(default_factory=dict)

    def items(self) -> tuple[tuple[str, str], ...]:
        """The selection as sorted pairs: hashable, for caching."""
        return tuple(sorted(self.selection.items()))


@dataclass(frozen=True)
class State:
    """The windows' state read from the URL.

    Attributes:
        window: the window's code, or None for the first one.
        month: the month shown (``YYYY-MM``), or None for the latest.
        drill: the figure drilled into, or None.
        big_screen: whether the page runs as a wall display.
        refresh_seconds: the refresh the URL asks for in big-screen mode, or None.
    """

    window: str | None
    month: str | None
    drill: Drill | None
    big_screen: bool
    refresh_seconds: int | None


def read(params: Mapping[str, str] | None = None) -> State:
    """The state in the URL's query parameters (``st.query_params`` by default)."""
    params = st.query_params if params is None else params
    selection = {
        key.removeprefix(SELECTION_PREFIX): str(value)
        for key, value in params.items()
        if key.startswith(SELECTION_PREFIX) and value
    }
    figure = params.get(DRILL_KEY)
    refresh = params.get(REFRESH_KEY)
    return State(
        window=params.get(WINDOW_KEY) or None,
        month=params.get(MONTH_KEY) or None,
        drill=Drill(str(figure), selection) if figure else None,
        big_screen=params.get(SCREEN_KEY) == BIG_SCREEN,
        refresh_seconds=int(refresh) if refresh and str(refresh).isdigit() else None,
    )


def _clear_drill() -> None:
    for key in list(st.query_params):
        if key == DRILL_KEY or key.startswith(SELECTION_PREFIX):
            del st.query_params[key]


def open_drill(window: str, figure: str, selection: Mapping[str, object]) -> None:
    """Puts a drill-down into the URL: the window, the figure and the point clicked."""
    _clear_drill()
    st.query_params[WINDOW_KEY] = window
    st.query_params[DRILL_KEY] = figure
    for name, value in selection.items():
        if value is not None and str(value) != "":
            st.query_params[f"{SELECTION_PREFIX}{name}"] = str(value)


def close_drill() -> None:
    """Takes the drill-down out of the URL."""
    _clear_drill()


def set_window(window: str) -> None:
    """Keeps the window shown in the URL; a drill-down of another window is closed."""
    if st.query_params.get(WINDOW_KEY) != window:
        _clear_drill()
    st.query_params[WINDOW_KEY] = window


def set_month(month: str) -> None:
    """Keeps the month shown in the URL; a drill-down of another month is closed."""
    if st.query_params.get(MONTH_KEY) != month:
        _clear_drill()
    st.query_params[MONTH_KEY] = month


def open_big_screen() -> None:
    """Turns the page into the wall display, the windows taking turns."""
    st.query_params.clear()
    st.query_params[SCREEN_KEY] = BIG_SCREEN


def leave_big_screen() -> None:
    """Turns the wall display back into the page."""
    for key in (SCREEN_KEY, REFRESH_KEY):
        if key in st.query_params:
            del st.query_params[key]


def chosen(options: Sequence[str], wanted: str | None) -> str:
    """The option the URL asks for, or the first when it asks for none or an unknown one."""
    return wanted if wanted in options else options[0]
