"""The one writer of every download and command-line export: masked, formula-safe, CSV or Excel.

A spreadsheet program runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` as a formula, so a
customer named ``=HYPERLINK(...)`` or a user name typed at the sign-in form could act on the machine
of whoever opens the export. Every text cell that starts with one of OWASP's trigger characters
(those four, tab and carriage return) gets a leading apostrophe, which makes it plain text in Excel,
WPS and LibreOffice alike. Numbers stay numbers and dates stay dates, so nothing needs neutralising
there and the Excel file keeps typed columns.
"""

import datetime as dt
import io
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

import pandas as pd

from core import access, calendars

Format = Literal["csv", "xlsx"]
FORMATS: tuple[Format, ...] = ("csv", "xlsx")
MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Excel's own limit on the length of a sheet name.
SHEET_NAME_LENGTH = 31
# Excel shows at most this many rows on one sheet; a larger export is refused rather than cut.
EXCEL_MAX_ROWS = 1_048_575
# Characters Excel forbids in a sheet name.
_SHEET_FORBIDDEN = str.maketrans({character: " " for character in "[]:*?/\\"})


def neutralise(value: object) -> object:
    """``value`` made safe to open in a spreadsheet: text starting a formula gets an apostrophe."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def safe_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells (and column names) cannot run as formulas."""
    safe = frame.copy()
    for column in safe.columns:
        values = safe[column]
        if values.dtype == object or pd.api.types.is_string_dtype(values):
            safe[column] = values.astype(object).map(neutralise)
    safe.columns = [neutralise(str(name)) for name in safe.columns]
    return safe


Labels = Mapping[str, str] | Callable[[str], str] | None


def rounded(frame: pd.DataFrame, decimals: int) -> pd.DataFrame:
    """``frame`` with its number columns rounded to ``decimals`` places for a reader."""
    numbers = frame.select_dtypes("number").columns
    return frame.round(dict.fromkeys(numbers, decimals))


def prepare(viewer: access.Viewer, frame: pd.DataFrame, labels: Labels = None) -> pd.DataFrame:
    """The frame as it may leave the product for ``viewer``: masked, labelled, formula-safe.

    Masking goes first because it recognises personal fields by their column names
    (``phone``, ``name``); the labels a reader sees come after it.
    """
    masked = access.mask_frame(viewer, frame)
    if labels is not None:
        masked = masked.rename(columns=labels)
    return safe_frame(masked)


def to_bytes(
    viewer: access.Viewer,
    frame: pd.DataFrame,
    format: Format,
    *,
    labels: Labels = None,
    sheet_name: str = "data",
) -> bytes:
    """The export of ``frame`` for ``viewer`` as a file's bytes.

    Args:
        viewer: whose masking applies.
        frame: the rows, with the product's column names (``customer_id``, ``phone``).
        format: ``csv`` (UTF-8 with a byte-order mark, which Excel needs to read Chinese) or
            ``xlsx`` (numbers as numbers, dates as dates).
        labels: the column names the reader sees, as a mapping or a function of the name.
        sheet_name: the sheet's name in an Excel file.

    Returns:
        The file's content.

    Raises:
        ValueError: an Excel export of more rows than a sheet holds.
    """
    safe = prepare(viewer, frame, labels)
    if format == "csv":
        return safe.to_csv(index=False).encode("utf-8-sig")
    if len(safe) > EXCEL_MAX_ROWS:
        raise ValueError(f"{len(safe):,} rows do not fit one Excel sheet; export CSV instead")
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _excel_ready(safe).to_excel(writer, sheet_name=_sheet_name(sheet_name), index=False)
    return buffer.getvalue()


def file_name(stem: str, format: Format) -> str:
    """The download's file name: ``stem`` with the format's suffix."""
    return f"{stem}.{format}"


def write(
    viewer: access.Viewer, frame: pd.DataFrame, path: str | Path, labels: Labels = None
) -> Path:
    """Writes a command-line export; the format follows the suffix (``.xlsx``, else CSV).

    Returns:
        The path written.
    """
    target = Path(path)
    format: Format = "xlsx" if target.suffix.lower() == ".xlsx" else "csv"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(to_bytes(viewer, frame, format, labels=labels, sheet_name=target.stem))
    return target


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    # Excel stores no time zone: aware timestamps are written as the local wall time they show.
    ready = frame.copy()
    for column in ready.columns:
        values = ready[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            ready[column] = values.dt.tz_convert(calendars.LOCAL_TIME).dt.tz_localize(None)
        elif values.dtype == object:
            ready[column] = values.map(_naive)
    return ready


def _naive(value: object) -> object:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(calendars.LOCAL_TIME).replace(tzinfo=None)
    return value


def _sheet_name(name: str) -> str:
    cleaned = name.translate(_SHEET_FORBIDDEN).strip() or "data"
    return cleaned[:SHEET_NAME_LENGTH]
