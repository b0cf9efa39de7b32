"""Tables as a reader expects them: numbers in their unit's format, empty cells as a dash."""

from collections.abc import Callable

import pandas as pd
import streamlit as st

from ui import formatting

# What an empty cell shows instead of Streamlit's "None".
EMPTY = "—"
# Record times (imports, rejected rows, the audit log) carry their zone and show its offset, so
# nobody reads a UTC time for a local one.
ZONED_TIME = st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm:ss Z")


def zoned_times(frame: pd.DataFrame) -> dict:
    """A column config showing every zone-aware time column of ``frame`` with its offset."""
    return {
        name: ZONED_TIME
        for name in frame.columns
        if isinstance(frame[name].dtype, pd.DatetimeTZDtype)
    }


def _cell_text(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return EMPTY
    if isinstance(value, pd.Timestamp):
        return f"{value:%Y-%m-%d}" if value == value.normalize() else f"{value:%Y-%m-%d %H:%M}"
    return str(value)


def with_gaps_shown(frame: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, str]]:
    """The frame with every column that has empty cells turned into text, gaps as :data:`EMPTY`.

    Args:
        frame: the table, with its own column names.

    Returns:
        The new frame, and the number format kept in the text of each converted number column
        (``%,.2f`` for money ...), so the page can right-align those columns.
    """
    shown, converted = frame.copy(), {}
    for name in frame.columns:
        column = frame[name]
        if not column.isna().any():
            continue
        number_format = formatting.number_format(str(name))
        numeric = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        if numeric and number_format is None:
            number_format = "%,.0f" if (column.dropna() % 1 == 0).all() else "%,.2f"
        if numeric:
            # The printf pattern of the column config ("%,.2f") as a format spec (",.2f").
            spec = number_format.removeprefix("%")
            shown[name] = [EMPTY if pd.isna(value) else f"{value:{spec}}" for value in column]
            converted[name] = number_format
        else:
            shown[name] = [_cell_text(value) for value in column]
    return shown, converted


def show(
    frame: pd.DataFrame,
    label: Callable[[str], str] | None = None,
    *,
    column_config: dict | None = None,
    **options,
):
    """Draws a table: renamed for the reader, numbers formatted by unit, gaps shown as a dash.

    Args:
        frame: the table with its own column names (``amount_cny``, ``paid_date`` ...).
        label: how a column name is shown (a catalog lookup); the names as they are when None.
        column_config: further ``column_config`` entries, by shown label.
        **options: further ``st.dataframe`` arguments (``height``, ``on_select`` ...).

    Returns:
        What ``st.dataframe`` returns.
    """
    label = label or str
    shown, converted = with_gaps_shown(frame)
    config = formatting.table_formats(
        [name for name in frame.columns if name not in converted], label
    )
    for name in converted:
        config[label(name)] = st.column_config.TextColumn(alignment="right")
    config.update(column_config or {})
    options.setdefault("hide_index", True)
    options.setdefault("width", "stretch")
    return st.dataframe(shown.rename(columns=label), column_config=config, **options)
