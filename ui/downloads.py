"""Download buttons: every table a person takes away leaves through core.exports, CSV and Excel."""

import pandas as pd
import streamlit as st

from core import exports
from ui import session

FORMAT_KEYS = {"csv": "app.download_csv", "xlsx": "app.download_xlsx"}


def offer(
    label: str,
    frame: pd.DataFrame,
    stem: str,
    *,
    key: str,
    labels: exports.Labels = None,
) -> None:
    """CSV and Excel buttons for ``frame``, masked for the session's viewer, each take audited.

    Args:
        label: what the download is, in the user's language ("Target list").
        frame: the rows with the product's column names, so masking recognises personal fields.
        stem: the file name without its suffix.
        key: the widget key prefix, unique on the page.
        labels: the column names the reader sees.
    """
    who = session.viewer()
    for column, format in zip(st.columns(len(exports.FORMATS)), exports.FORMATS, strict=True):
        name = exports.file_name(stem, format)

        def produce(format: exports.Format = format) -> bytes:
            return exports.to_bytes(who, frame, format, labels=labels, sheet_name=stem)

        column.download_button(
            session.t(FORMAT_KEYS[format], label=label),
            data=session.audited_export(name, len(frame), produce),
            file_name=name,
            mime=exports.MIME_TYPES[format],
            on_click="ignore",
            key=f"{key}_{format}",
            icon=":material/download:",
            width="stretch",
        )
