"""The topic windows (主题视窗) page's parts: one module per window, the big screen, the URL state.

:mod:`~ui.topic_windows.state` keeps what is shown in the URL, :mod:`~ui.topic_windows.data`
reads the figures from :mod:`core.kpis`, :mod:`~ui.topic_windows.common` draws what the windows
share (freshness, charts that drill down, the rows behind a figure), and
:mod:`~ui.topic_windows.business`, :mod:`~ui.topic_windows.collection` and
:mod:`~ui.topic_windows.service` draw one window each; :mod:`~ui.topic_windows.big_screen` is
the wall display.
"""
