"""Target lists (目标客户清单): the customers an analyst takes from a segment, a rule or a file.

A list is saved when it is exported, so that a campaign can be planned on exactly those customers.
Saving checks the writer's scope (nobody lists a customer they may not see) and goes to the audit
log; reading shows each viewer only the members in their own scope, contact fields masked.
"""

from typing import Literal, get_args

import pandas as pd
import sqlalchemy as sa

from core import access, errors
from core.store import schema

SourceKind = Literal["segment", "rule", "file"]
SOURCE_KINDS: tuple[SourceKind, ...] = get_args(SourceKind)

NAME_LENGTH = schema.target_lists.c.name.type.length
SEGMENT_LENGTH = schema.target_list_members.c.segment.type.length
OFFER_LENGTH = schema.target_list_members.c.offer.type.length
SOURCE_REF_LENGTH = schema.target_lists.c.source_ref.type.length
# The optional columns a saved frame may carry beside customer_id.
MEMBER_COLUMNS = ("segment", "reason", "offer")
# Customer ids named in a refusal: enough to find them, short enough to read.
REFUSED_IDS_LISTED = 3
# Members are written in chunks so that a row store's statement stays a reasonable size.
INSERT_CHUNK_ROWS = 10_000
# The members a person reads on screen or takes away at once.
MEMBERS_LIMIT = 1_000_000


class TargetListError(errors.UserError):
    """A target list that cannot be saved as given."""


def _visible_ids(conn: sa.Connection, viewer: access.Viewer, customer_ids: list[str]) -> set[str]:
    customers = schema.customers
    visible: set[str] = set()
    for start in range(0, len(customer_ids), INSERT_CHUNK_ROWS):
        chunk = customer_ids[start : start + INSERT_CHUNK_ROWS]
        rows = conn.execute(
            sa.select(customers.c.customer_id).where(
                customers.c.customer_id.in_(chunk), access.customer_scope(viewer)
            )
        ).scalars()
        visible.update(rows)
    return visible


def _text(value: object, length: int | None) -> str | None:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return None
    text = str(value).strip()
    if not text:
        return None
    return text[:length] if length else text


def save(
    conn: sa.Connection,
    viewer: access.Viewer,
    name: str,
    frame: pd.DataFrame,
    *,
    source: SourceKind,
    source_ref: str | None = None,
    note: str | None = None,
) -> int:
    """Saves a target list and its members, audited, inside the caller's transaction.

    Args:
        conn: a connection inside ``engine.begin()``.
        viewer: who saves it; every customer must be in their scope.
        name: the list's name, as people will find it again.
        frame: one row per customer: ``customer_id`` and optionally ``segment``, ``reason`` and
            ``offer`` (the recommended offer). A customer listed twice is kept once, first row.
        source: what the list came from: ``segment``, ``rule`` or ``file``.
        source_ref: which one (a run and segment, a rule's name, a file's name).
        note: a remark for whoever plans the campaign.

    Returns:
        The new list's id.

    Raises:
        TargetListError: no name, no customers, an unknown source kind, or customers outside
            the viewer's scope (or unknown), some of whose ids the message names.
    """
    title = _text(name, None)
    if title is None:
        raise TargetListError("target_lists.name_missing")
    if len(title) > NAME_LENGTH:
        raise TargetListError("target_lists.name_too_long", length=NAME_LENGTH)
    if source not in SOURCE_KINDS:
        raise TargetListError(
            "target_lists.unknown_source", source=source, kinds=", ".join(SOURCE_KINDS)
        )
    if "customer_id" not in frame.columns:
        raise TargetListError("target_lists.no_customer_column")
    rows = frame.assign(customer_id=frame["customer_id"].astype(str).str.strip())
    rows = rows[rows["customer_id"].ne("")].drop_duplicates("customer_id", keep="first")
    if rows.empty:
        raise TargetListError("target_lists.empty")
    ids = rows["customer_id"].tolist()
    visible = _visible_ids(conn, viewer, ids)
    refused = [customer_id for customer_id in ids if customer_id not in visible]
    if refused:
        raise TargetListError(
            "target_lists.out_of_scope",
            count=len(refused),
            examples=", ".join(refused[:REFUSED_IDS_LISTED]),
        )
    lists = schema.target_lists
    list_id = conn.execute(
        lists.insert().values(
            name=title,
            created_by=viewer.user_name,
            created_at=access.now(),
            source_kind=source,
            source_ref=_text(source_ref, SOURCE_REF_LENGTH),
            note=_text(note, None),
            customers=len(rows),
        )
    ).inserted_primary_key[0]
    lengths = {"segment": SEGMENT_LENGTH, "reason": None, "offer": OFFER_LENGTH}
    columns = {
        column: (
            [_text(value, lengths[column]) for value in rows[column]]
            if column in rows.columns
            else [None] * len(rows)
        )
        for column in MEMBER_COLUMNS
    }
    records = [
        {"list_id": list_id, "customer_id": customer_id, **dict(zip(columns, values, strict=True))}
        for customer_id, *values in zip(ids, *columns.values(), strict=True)
    ]
    insert = schema.target_list_members.insert()
    for start in range(0, len(records), INSERT_CHUNK_ROWS):
        conn.execute(insert, records[start : start + INSERT_CHUNK_ROWS])
    access.record(
        conn,
        viewer,
        "target_list_saved",
        f"target_list:{list_id}",
        {"name": title, "source": source, "source_ref": source_ref, "customers": len(rows)},
    )
    return int(list_id)


def _visible_members(viewer: access.Viewer) -> sa.Select:
    members, customers = schema.target_list_members, schema.customers
    return (
        sa.select(members.c.list_id, sa.func.count().label("visible"))
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .where(access.customer_scope(viewer))
        .group_by(members.c.list_id)
    )


def target_lists(conn: sa.Connection, viewer: access.Viewer) -> pd.DataFrame:
    """The target lists ``viewer`` may use: those with members in their scope, newest first.

    Args:
        conn: a store connection.
        viewer: who is asking.

    Returns:
        id, name, created_by, created_at, source_kind, source_ref, note, customers (all the
        list's members) and visible (those in the viewer's scope).
    """
    lists = schema.target_lists
    visible = _visible_members(viewer).subquery("visible_members")
    query = (
        sa.select(
            lists.c.id,
            lists.c.name,
            lists.c.created_by,
            lists.c.created_at,
            lists.c.source_kind,
            lists.c.source_ref,
            lists.c.note,
            lists.c.customers,
            visible.c.visible,
        )
        .join(visible, visible.c.list_id == lists.c.id)
        .order_by(lists.c.created_at.desc(), lists.c.id.desc())
    )
    rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    return frame.astype({"id": "int64", "customers": "int64", "visible": "int64"})


def members(
    conn: sa.Connection, viewer: access.Viewer, list_id: int, limit: int = MEMBERS_LIMIT
) -> pd.DataFrame:
    """The members of one target list that ``viewer`` may see, contact fields masked.

    Args:
        conn: a store connection.
        viewer: who is asking.
        list_id: the list.
        limit: at most this many members, in customer-id order.

    Returns:
        customer_id, name, phone, customer_class, region, transformer_area, manager_id,
        segment, reason, offer; empty for an unknown list or one with nobody in scope.
    """
    members_table, customers = schema.target_list_members, schema.customers
    query = (
        sa.select(
            members_table.c.customer_id,
            customers.c.name,
            customers.c.phone,
            customers.c.customer_class,
            customers.c.region,
            customers.c.transformer_area,
            customers.c.manager_id,
            members_table.c.segment,
            members_table.c.reason,
            members_table.c.offer,
        )
        .join(customers, customers.c.customer_id == members_table.c.customer_id)
        .where(members_table.c.list_id == int(list_id), access.customer_scope(viewer))
        .order_by(members_table.c.customer_id)
        .limit(limit)
    )
    rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=list(query.selected_columns.keys()))
    return access.mask_frame(viewer, frame)
