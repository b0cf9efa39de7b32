"""Masking of personal fields: one rule for every table, search, brief and export."""

import re
from collections.abc import Mapping

import pandas as pd
import sqlalchemy as sa

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
# id_map systems whose external ids are personal data: the 95598 caller id is the phone number.
PERSONAL_SYSTEMS = {"95598": mask_phone}
# Frames that name, per row, the field a value came from: rejected import rows, search matches,
# id_map rows. Each value is masked as that field would be.
_FIELD_VALUE_COLUMNS = (
    ("column_name", "value"),
    ("matched_on", "matched_value"),
    ("system", "external_id"),
)


def mask_frame(viewer: Viewer, frame: pd.DataFrame) -> pd.DataFrame:
    """The frame as ``viewer`` may see it: personal fields masked unless they hold the grant.

    Call it on every frame that leaves core with customer fields: tables, search results,
    drill-downs, briefs and exports. Besides the :data:`PERSONAL_FIELDS` columns, a value next
    to the name of the field it came from (``column_name``/``value`` of rejected rows,
    ``matched_on``/``matched_value`` of a search, ``system``/``external_id`` of id_map rows) is
    masked as that field is.

    Args:
        viewer: who is asking.
        frame: rows with any of the :data:`PERSONAL_FIELDS` columns.

    Returns:
        The same frame for a viewer with the grant; otherwise a copy with those fields masked.
    """
    if viewer.contact_grant:
        return frame
    personal = (
        frame["customer_class"].eq(_PERSONAL_CLASS).fillna(False).to_numpy(dtype=bool)
        if "customer_class" in frame.columns
        else None
    )
    for field_column, value_column in _FIELD_VALUE_COLUMNS:
        if {field_column, value_column} <= set(frame.columns):
            frame = _mask_by_field(frame, field_column, value_column, personal)
    if not any(column in PERSONAL_FIELDS for column in frame.columns):
        return frame
    masked = frame.copy()
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


def _mask_by_field(
    frame: pd.DataFrame, field_column: str, value_column: str, personal
) -> pd.DataFrame:
    # A rejected row's value that belongs to no one column (a whole raw row) has its personal
    # numbers masked inside the text; a name is a person's only where the class says so.
    masks = {**PERSONAL_FIELDS, **PERSONAL_SYSTEMS}
    fields = frame[field_column].astype(object)
    values = frame[value_column].astype(object)
    residential = [True] * len(frame) if personal is None else list(personal)
    masked = []
    for field, value, is_personal in zip(fields, values, residential, strict=True):
        if field is None or pd.isna(field):
            masked.append(mask_text(value) if field_column == "column_name" else value)
        elif field in masks and (is_personal or field not in _NAME_FIELDS):
            masked.append(masks[field](value))
        else:
            masked.append(value)
    shown = pd.Series(masked, index=frame.index, dtype=frame[value_column].dtype)
    return frame.assign(**{value_column: shown})


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


def _visible_contains(mask, value: sa.ColumnElement, text: str) -> sa.ColumnElement:
    # The SQL counterpart of each mask: the parts of a value its mask leaves in the clear.
    length = sa.func.length(value)
    if mask is mask_phone:
        head = sa.func.substr(value, 1, 3)
        tail = sa.func.substr(value, length - 3, 4)
        short_tail = sa.func.substr(value, length - 1, 2)
        return sa.case(
            (
                length >= 8,
                sa.or_(head.contains(text, autoescape=True), tail.contains(text, autoescape=True)),
            ),
            (length <= 2, value.contains(text, autoescape=True)),
            else_=short_tail.contains(text, autoescape=True),
        )
    if mask is mask_name and len(text) == 1:
        # Latin names keep each word's initial; a letter with a case tells Latin from Chinese.
        latin = sa.and_(value.contains(" "), sa.func.lower(value) != sa.func.upper(value))
        return sa.or_(
            sa.func.substr(value, 1, 1) == text,
            sa.and_(~latin, length >= 3, sa.func.substr(value, length, 1) == text),
            sa.and_(latin, value.contains(" " + text, autoescape=True)),
        )
    return sa.false()


def search_match(
    viewer: Viewer,
    column: sa.ColumnElement,
    field: str,
    text: str,
    personal: sa.ColumnElement | None = None,
) -> sa.ColumnElement:
    """The condition that ``column`` contains ``text`` as ``viewer`` sees it.

    ``%`` and ``_`` are the characters typed, never wildcards. A viewer without the contact grant
    matches a masked field on its visible part only (``王`` finds ``王*红``, ``8138`` finds
    ``130****8138``, ``58138`` finds nothing) or on the whole value typed in full; searching
    cannot uncover what masking hides.

    Args:
        viewer: who is searching.
        column: the column searched.
        field: the field the column holds (a key of :data:`PERSONAL_FIELDS` or of
            :data:`PERSONAL_SYSTEMS` for a masked one).
        text: what was typed, stripped.
        personal: for a name field, the condition that the row is a person's (a residential
            customer); None masks every name, as :func:`mask_frame` does without the class.

    Returns:
        A boolean SQL expression.
    """
    contains = column.contains(text, autoescape=True)
    mask = {**PERSONAL_FIELDS, **PERSONAL_SYSTEMS}.get(field)
    if viewer.contact_grant or mask is None:
        return contains
    value = sa.func.trim(column)
    hidden = sa.or_(value == text, _visible_contains(mask, value, text))
    if field not in _NAME_FIELDS or personal is None:
        return hidden
    return sa.or_(sa.and_(personal, hidden), sa.and_(~personal, contains))


def is_personal(customer_class: sa.ColumnElement) -> sa.ColumnElement:
    """The SQL condition that a customer's name is a person's (``mask_frame``'s class rule)."""
    return sa.func.coalesce(customer_class, "") == _PERSONAL_CLASS


def external_id_match(
    viewer: Viewer, system: sa.ColumnElement, external_id: sa.ColumnElement, text: str
) -> sa.ColumnElement:
    """:func:`search_match` for id_map rows: personal systems' ids match on their visible part."""
    personal = list(PERSONAL_SYSTEMS)
    return sa.or_(
        sa.and_(system.not_in(personal), external_id.contains(text, autoescape=True)),
        *(
            sa.and_(system == name, search_match(viewer, external_id, name, text))
            for name in personal
        ),
    )
