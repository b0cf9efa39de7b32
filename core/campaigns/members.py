"""Campaign members: read from a file with the import's checks, or from the store in scope.

A members file is read and checked the way an import into ``campaign_members`` is (the same
reader, header aliases, types and rules: a response before the contact is rejected), and besides
the table's columns it may carry each member's ``segment``, ``cost_cny`` and the arm's
``planned_share``. A file with any bad row is refused with its rows and reasons
(:class:`core.ingest.FileRejected`), never evaluated in part.
"""

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd
import sqlalchemy as sa

from core import access
from core.campaigns.evaluate import CONTROL_ARM, MEMBER_COLUMNS, Design
from core.errors import UserError
from core.ingest import FileRejected, check_frame, headers, reasons, sources
from core.store import queries, schema

# The file's own columns beyond the table's, by the headers that name them.
EXTRA_HEADERS = {
    "segment": ("segment", "分群", "客户分群", "细分", "用户分群"),
    "cost_cny": ("cost_cny", "cost", "成本", "触达成本"),
    "planned_share": ("planned_share", "计划占比", "分组占比"),
}
RESPONDED_WITHOUT_CONTACT = "responded_without_contact"
NOT_CAMPAIGN_ARM = "not_campaign_arm"
NOT_SHARE = "not_share"
SEGMENT_LENGTH = 60


@dataclass(frozen=True)
class MembersFile:
    """A members file that passed every check.

    Attributes:
        file_name: the file's name.
        members: one row per member: :data:`~core.campaigns.evaluate.MEMBER_COLUMNS`, ``channel``
            when given, and ``segment``, ``cost_cny`` when the file has them.
        planned_shares: the planned share of each arm by campaign, from a ``planned_share``
            column (empty when the file has none).
    """

    file_name: str
    members: pd.DataFrame
    planned_shares: dict[str, dict[str, float]]


def _extra_columns(given: list[str]) -> dict[str, str]:
    """The file's header of each extra column it has."""
    found = {}
    for header in given:
        key = headers.normalise_header(header)
        for column, names in EXTRA_HEADERS.items():
            if key in names and column not in found.values():
                found[header] = column
    return found


def _problem(row_numbers, column: str, values, code: str, **reason: object) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "row_number": np.asarray(row_numbers, dtype=np.int64),
            "column_name": column,
            "value": [None if pd.isna(value) else str(value) for value in values],
            "reason_code": code,
            "reason_values": reasons.values_json(column, **reason),
        }
    )


def _check_extras(
    chunk: sources.Chunk, extras: dict[str, str]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """The extra columns parsed, by row number, and their rejected values."""
    numbers = chunk.numbers()
    parsed = pd.DataFrame(index=pd.Index(numbers, name="source_row"))
    problems = []
    for header, column in extras.items():
        raw = chunk.frame[header].reset_index(drop=True)
        text = check_frame.text_of(raw)
        if column == "segment":
            too_long = (text.str.len() > SEGMENT_LENGTH).fillna(False).to_numpy()
            if too_long.any():
                problems.append(
                    _problem(
                        numbers[too_long],
                        header,
                        text[too_long],
                        reasons.TOO_LONG,
                        length=SEGMENT_LENGTH,
                    )
                )
            parsed[column] = text.to_numpy(dtype=object)
            continue
        values = check_frame.parse_number(raw, text)
        not_number = (text.notna() & values.isna()).to_numpy()
        if not_number.any():
            problems.append(
                _problem(numbers[not_number], header, text[not_number], reasons.NOT_NUMBER)
            )
        if column == "cost_cny":
            broken = (values < 0).fillna(False).to_numpy()
            code = "negative"
        else:
            broken = ((values <= 0) | (values > 1)).fillna(False).to_numpy()
            code = NOT_SHARE
        if broken.any():
            problems.append(_problem(numbers[broken], header, text[broken], code))
        parsed[column] = values.to_numpy(dtype=float)
    return parsed, problems


@dataclass(frozen=True)
class _StoreChecks:
    """What the store knows that a members file is checked against."""

    context: check_frame.Context
    arms_by_campaign: dict[str, set[str]]


def _store_checks(conn: sa.Connection, viewer: access.Viewer, now: dt.datetime) -> _StoreChecks:
    customers = schema.customers
    known = pd.Index(conn.execute(sa.select(customers.c.customer_id)).scalars().all(), dtype="str")
    context = check_frame.Context(
        table=schema.campaign_members,
        now=now,
        known_customers=known,
        vocabularies={
            "campaign_arms": pd.Index(queries.campaign_arm_names(conn), dtype="str"),
        },
    )
    if viewer.regions or viewer.transformer_areas or viewer.manager_id is not None:
        context.scope = check_frame.WriteScope(
            customers=pd.Index(
                conn.execute(access.scoped_customer_ids(viewer)).scalars().all(), dtype="str"
            )
        )
    arms = schema.campaign_arms
    planned: dict[str, set[str]] = {}
    for campaign_id, arm in conn.execute(sa.select(arms.c.campaign_id, arms.c.arm)):
        planned.setdefault(str(campaign_id), set()).add(str(arm))
    return _StoreChecks(context, planned)


def _row_problems(
    good: pd.DataFrame, mapping: headers.ColumnMapping, planned: dict[str, set[str]]
) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Rules across the columns of a row: a response needs a contact, an arm its campaign."""
    problems = []
    if "responded_at" in good.columns:
        contact = (
            good["contacted_at"].notna()
            if "contacted_at" in good.columns
            else pd.Series(False, index=good.index)
        )
        broken = (good["responded_at"].notna() & ~contact).to_numpy()
        if broken.any():
            problems.append(
                _problem(
                    good.loc[broken, "source_row"],
                    mapping.header_of("responded_at"),
                    good.loc[broken, "responded_at"],
                    RESPONDED_WITHOUT_CONTACT,
                    contact=mapping.header_of("contacted_at"),
                )
            )
    if planned:
        allowed = good["campaign_id"].map(lambda campaign: planned.get(str(campaign)))
        broken = np.array(
            [
                arms is not None and arm not in arms and arm != CONTROL_ARM
                for arms, arm in zip(allowed, good["arm"], strict=True)
            ],
            dtype=bool,
        )
        if broken.any():
            problems.append(
                _problem(
                    good.loc[broken, "source_row"],
                    mapping.header_of("arm"),
                    good.loc[broken, "arm"],
                    NOT_CAMPAIGN_ARM,
                )
            )
    bad_rows = set()
    for problem in problems:
        bad_rows |= set(problem["row_number"].tolist())
    return good[~good["source_row"].isin(bad_rows)], problems


def _duplicates(good: pd.DataFrame, mapping: headers.ColumnMapping) -> list[pd.DataFrame]:
    key = ["campaign_id", "customer_id"]
    repeated = good.duplicated(key, keep="first")
    if not repeated.any():
        return []
    first = good[~repeated].set_index(key)["source_row"]
    firsts = first.reindex(pd.MultiIndex.from_frame(good.loc[repeated, key])).to_numpy()
    words = ", ".join(mapping.header_of(name) for name in key)
    return [
        pd.DataFrame(
            {
                "row_number": good.loc[repeated, "source_row"].to_numpy(),
                "column_name": ", ".join(key),
                "value": good.loc[repeated, key].astype(str).agg(", ".join, axis=1).to_numpy(),
                "reason_code": reasons.DUPLICATE,
                "reason_values": [reasons.values_json(words, row=int(row)) for row in firsts],
            }
        )
    ]


def _check_file(
    source: sources.Source, store: _StoreChecks | None, now: dt.datetime
) -> tuple[pd.DataFrame, pd.DataFrame]:
    mapping = headers.map_columns("campaign_members", source.headers)
    extras = _extra_columns(list(mapping.ignored))
    context = (
        store.context if store is not None else check_frame.Context(schema.campaign_members, now)
    )
    records, problems = [], []
    for chunk in source.chunks():
        good, bad = check_frame.check(chunk, mapping, context)
        parsed, extra_problems = _check_extras(chunk, extras)
        problems += [bad.drop(columns="customer_id", errors="ignore"), *extra_problems]
        good = good.join(parsed, on="source_row")
        records.append(good)
    if source.malformed:
        problems.append(
            pd.DataFrame(
                {
                    "row_number": [number for number, _ in source.malformed],
                    "column_name": None,
                    "value": [text for _, text in source.malformed],
                    "reason_code": reasons.MALFORMED,
                    "reason_values": reasons.values_json(None, fields=len(source.headers)),
                }
            )
        )
    good = pd.concat(records, ignore_index=True) if records else pd.DataFrame()
    if not good.empty:
        good, row_problems = _row_problems(good, mapping, store.arms_by_campaign if store else {})
        problems += row_problems + _duplicates(good, mapping)
    problems = [problem for problem in problems if len(problem)]
    bad = pd.concat(problems, ignore_index=True) if problems else pd.DataFrame()
    return good, bad


def read_members(
    source: str | Path | BinaryIO,
    file_name: str | None = None,
    *,
    conn: sa.Connection | None = None,
    viewer: access.Viewer = access.SYSTEM,
    now: dt.datetime | None = None,
) -> MembersFile:
    """Reads and checks a members file.

    Args:
        source: a path or a binary file object (an upload).
        file_name: the name, which decides the format (default: the path's).
        conn: a store connection: customers must then be known to the store (and within the
            viewer's scope) and arms of planned campaigns must be among their arms; without it
            the file stands alone.
        viewer: whose scope the customers must be in (with ``conn``).
        now: the moment "the future" starts (default: now).

    Returns:
        The members, all good.

    Raises:
        FileRejected: rows that fail a check, with their row numbers and reasons.
        UserError: the file cannot be read, lacks a column or holds no members.
    """
    name = sources.file_label(source, file_name)
    handle = sources.open_binary(source, name)
    moment = now or access.now()
    try:
        opened = sources.open_source(handle, name)
        store = _store_checks(conn, viewer, moment) if conn is not None else None
        try:
            good, bad = _check_file(opened, store, moment)
        except sources.MalformedRows:
            opened.exact = True
            good, bad = _check_file(opened, store, moment)
    finally:
        if isinstance(source, str | Path):
            handle.close()
    if len(bad):
        raise FileRejected(opened.file_name, bad)
    if good.empty:
        raise UserError("ingest.error.no_rows", file_name=opened.file_name)
    shares: dict[str, dict[str, float]] = {}
    if "planned_share" in good.columns:
        given = good.dropna(subset=["planned_share"])
        for (campaign_id, arm), share in (
            given.groupby(["campaign_id", "arm"])["planned_share"].first().items()
        ):
            shares.setdefault(str(campaign_id), {})[str(arm)] = float(share)
    columns = [column for column in MEMBER_COLUMNS if column in good.columns]
    columns += [name for name in ("channel", "segment", "cost_cny") if name in good.columns]
    members = good[columns].reset_index(drop=True)
    for column in MEMBER_COLUMNS:
        if column not in members.columns:
            members[column] = None
    return MembersFile(opened.file_name, members, shares)


def designs(conn: sa.Connection, campaign_ids: list[str] | None = None) -> dict[str, Design]:
    """The plan of each stored campaign: planned shares from its arms, costs per contact.

    Args:
        conn: a store connection.
        campaign_ids: only these campaigns (default: all).

    Returns:
        Campaign id → design; campaigns without planned arms get their cost per contact only.
    """
    campaigns, arms = schema.campaigns, schema.campaign_arms
    query = sa.select(campaigns.c.campaign_id, campaigns.c.cost_per_contact_cny)
    arm_query = sa.select(
        arms.c.campaign_id, arms.c.arm, arms.c.planned_share, arms.c.cost_per_contact_cny
    )
    if campaign_ids is not None:
        query = query.where(campaigns.c.campaign_id.in_(campaign_ids))
        arm_query = arm_query.where(arms.c.campaign_id.in_(campaign_ids))
    shares: dict[str, dict[str, float]] = {}
    costs: dict[str, dict[str, float]] = {}
    for campaign_id, arm, share, cost in conn.execute(arm_query):
        shares.setdefault(campaign_id, {})[arm] = float(share)
        if cost is not None:
            costs.setdefault(campaign_id, {})[arm] = float(cost)
    result = {}
    for campaign_id, cost in conn.execute(query):
        result[campaign_id] = Design(
            planned_shares=shares.get(campaign_id, {}),
            cost_per_contact=costs.get(campaign_id, {}),
            default_cost_per_contact=None if cost is None else float(cost),
        )
    return result


def stored_members(
    conn: sa.Connection, viewer: access.Viewer, campaign_id: str | None = None
) -> pd.DataFrame:
    """The stored members the viewer may see, of one campaign or all.

    Returns:
        :data:`~core.campaigns.evaluate.MEMBER_COLUMNS` and ``channel``, by campaign and customer.
    """
    members, customers = schema.campaign_members, schema.customers
    query = (
        sa.select(*(members.c[name] for name in (*MEMBER_COLUMNS, "channel")))
        .join(customers, customers.c.customer_id == members.c.customer_id)
        .where(access.customer_scope(viewer, customers))
        .order_by(members.c.campaign_id, members.c.customer_id)
    )
    if campaign_id is not None:
        query = query.where(members.c.campaign_id == campaign_id)
    frame = pd.DataFrame(conn.execute(query).all(), columns=[*MEMBER_COLUMNS, "channel"])
    frame["value_cny"] = pd.to_numeric(frame["value_cny"], errors="coerce").astype(float)
    return frame
