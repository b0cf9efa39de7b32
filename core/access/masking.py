"""Masking of personal fields: one rule for every table, search, brief and export."""

import re
from collections.abc import Mapping

import pandas as pd

from core.access.roles import Viewer


def mask_phone(value: str | None) -> str | None:
    """A phone number with its middle hidden: ``13812345678`` → ``138****5678``."""
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if len(text) >= 8:
        return text[:3] + "*" * (len(text) - 7) + text[-4:]
    return "*" * max(len(text) - 2, 0) + text[-2:]


def mask_name(value: str | None) -> str | None:
    """A personal name with all but its first and last character hidden: ``张三明`` → ``张*明``.

    Two-character names keep the family name (``李四`` → ``李*``); Latin names keep each word's
    initial (``John Smith`` → ``J*** S****``).
    """
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if re.search(r"[A-Za-z]", text) and " " in text:
        return " ".join(word[:1] + "*" * (len(word) - 1) for word in text.split())
    if len(text) <= 1:
        return text
    if len(text) == 2:
        return text[0] + "*"
    return text[0] + "*" * (len(text) - 2) + text[-1]


def mask_id_number(value: str | None) -> str | None:
    """An identity-card number with birth date and sequence hidden: first 4 and last 4 kept."""
    if value is None or pd.isna(value):
        return value
    text = str(value).strip()
    if len(text) >= 10:
        return text[:4] + "*" * (len(text) - 8) + text[-4:]
    return "*" * max(len(text) - 2, 0) + text[-2:]


# Column name → how to mask it. Names of companies are business information, not personal data:
# a customer's name is masked only for residential customers when the frame says the class.
PERSONAL_FIELDS = {
    "phone": mask_phone,
    "mobile": mask_phone,
    "contact_phone": mask_phone,
    "name": mask_name,
    "customer_name": mask_name,
    "contact_name": mask_name,
    "id_number": mask_id_number,
    "id_card": mask_id_number,
}
_NAME_FIELDS = ("name", "customer_name")
_PERSONAL_CLASS = "residential"


def mask_frame(viewer: Viewer, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as ``viewer`` may see it: personal fields masked unless they hold the grant.

    Call it on every frame that leaves core with customer fields: tables, search results,
    briefs and exports.

    Args:
        viewer: who is asking.
        frame: rows with any of the :data:`PERSONAL_FIELDS` columns.

    Returns:
        The same frame for a viewer with the grant; otherwise a copy with those fields masked.
    """
    if viewer.contact_grant:
        return frame
    if {"column_name", "value"} <= set(frame.columns):
        frame = _mask_named_values(frame)
    if not any(column in PERSONAL_FIELDS for column in frame.columns):
        return frame
    masked = frame.copy()
    personal = (
        masked["customer_class"].eq(_PERSONAL_CLASS).to_numpy()
        if "customer_class" in masked.columns
        else None
    )
    for column, mask in PERSONAL_FIELDS.items():
        if column not in masked.columns:
            continue
        values = masked[column].astype(object)
        hidden = values.map(mask)
        if column in _NAME_FIELDS and personal is not None:
            hidden = hidden.where(personal, values)
        masked[column] = hidden.astype(frame[column].dtype)
    return masked


# Mobile numbers and identity-card numbers inside free text (a rejected row kept whole).
_PHONE_IN_TEXT = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Za-z])\d{17}[\dXx](?![0-9A-Za-z])")


def mask_text(value: str | None) -> str | None:
    """Free text with the mobile and identity-card numbers in it masked."""
    if value is None or pd.isna(value):
        return value
    text = _ID_IN_TEXT.sub(lambda match: mask_id_number(match.group()), str(value))
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group()), text)


def _mask_named_values(frame: pd.DataFrame) -> pd.DataFrame:
    # Rows that name their column (rejected import rows): mask each value by the column it came
    # from, and personal numbers inside values that belong to no one column (a whole raw row).
    values = frame["value"].astype(object)
    masked = [
        PERSONAL_FIELDS[column](value)
        if column in PERSONAL_FIELDS
        else mask_text(value)
        if column is None or pd.isna(column)
        else value
        for column, value in zip(frame["column_name"].astype(object), values, strict=True)
    ]
    return frame.assign(value=pd.Series(masked, index=frame.index, dtype=frame["value"].dtype))


def mask_record(viewer: Viewer, record_: Mapping[str, object]) -> dict[str, object]:
    """One customer's fields as ``viewer`` may see them (the single-row form of mask_frame).

    Fields keep their types; only the personal ones change.
    """
    shown = dict(record_)
    if viewer.contact_grant:
        return shown
    business = "customer_class" in shown and shown["customer_class"] != _PERSONAL_CLASS
    for column, mask in PERSONAL_FIELDS.items():
        if column in shown and not (column in _NAME_FIELDS and business):
            shown[column] = mask(shown[column])
    return shown
