"""Landing staged rows: an import changes exactly the keys it lands and the columns the file has.

Good rows of a file are staged in a temporary table first. From there, inside the import's
transaction:

1. rows repeating an earlier row's key inside the file move to the rejected rows;
2. readings whose energy the customer's contract capacity cannot carry move there too (the
   rule needs each customer's interval, which only the whole file tells);
3. only when asked (:func:`remove_range`, "replace this range"), stored rows of each series'
   time range that the file does not carry are deleted, and counted;
4. stored rows with a staged key get the file's values in the file's columns, other columns
   untouched; staged rows with a new key are inserted.

Importing the same file again changes nothing; a file never deletes a stored row by leaving it
out, by an empty cell or by a rejected value.
"""

import datetime as dt
import zlib

import sqlalchemy as sa

from core.ingest import headers, reasons
from core.ingest.rejected import REJECTED_INSERT_COLUMNS, Batch
from core.store import rules, schema

# Time-series tables: "replace this range" works on each series' time range.
SERIES_COLUMN = {
    "readings": "customer_id",
    "weather": "region",
    "area_readings": "transformer_area",
}
# The column whose range says which period a file's rows cover.
PERIOD_COLUMN = {
    "readings": "ts",
    "weather": "ts",
    "area_readings": "ts",
    "work_orders": "created_at",
    "channel_activity": "date",
    "outages": "start",
    "campaign_members": "contacted_at",
}
# Stands for the repeated row's number while the duplicate reason is split around it.
ROW_MARK = "\uffff"


def create_stage(conn: sa.Connection, table: sa.Table, names: list[str]) -> sa.Table:
    """A temporary table for the good rows of a file: the given columns and ``source_row``."""
    columns = [
        sa.Column(column.name, column.type) for column in table.columns if column.name in names
    ]
    stage = sa.Table(
        f"import_stage_{table.name}",
        sa.MetaData(),
        *columns,
        sa.Column("source_row", sa.Integer, nullable=False),
        prefixes=["TEMPORARY"],
    )
    stage.create(conn)
    return stage


def take_turns(conn: sa.Connection, table: sa.Table) -> None:
    """Makes concurrent imports into one table take turns on PostgreSQL.

    Two imports of the same new keys would both insert them, and the second would fail on the
    unique index when the first commits. A transaction-level advisory lock makes the second
    wait for the first; it then finds the keys stored and updates them. DuckDB and SQLite let
    one writer at a time into the store anyway.
    """
    if conn.dialect.name == "postgresql":
        key = zlib.crc32(f"import:{table.name}".encode())
        conn.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))


def _customer_of(stage: sa.Table) -> sa.ColumnElement:
    if "customer_id" in stage.c:
        return stage.c.customer_id
    return sa.null()


def reject_duplicates(
    conn: sa.Connection,
    stage: sa.Table,
    table: sa.Table,
    mapping: headers.ColumnMapping,
    batch: Batch,
    now: dt.datetime,
) -> int:
    """Moves rows that repeat an earlier row's key from the staging table to the rejected rows.

    Returns:
        How many rows were moved.
    """
    key = headers.key_columns(table)
    key_columns = [stage.c[name] for name in key]
    firsts = (
        sa.select(*key_columns, sa.func.min(stage.c.source_row).label("first_row"))
        .group_by(*key_columns)
        .having(sa.func.count() > 1)
        .subquery("firsts")
    )
    same_key = sa.and_(*[stage.c[name] == firsts.c[name] for name in key])
    later = stage.c.source_row > firsts.c.first_row
    duplicates = (
        sa.select(stage.c.source_row).select_from(stage.join(firsts, same_key)).where(later)
    )
    count = conn.execute(sa.select(sa.func.count()).select_from(duplicates.subquery())).scalar_one()
    if count == 0:
        return 0
    value = sa.cast(stage.c[key[0]], sa.String)
    for name in key[1:]:
        value = value + sa.literal(", ") + sa.cast(stage.c[name], sa.String)
    first_row = sa.cast(firsts.c.first_row, sa.String)
    words = ", ".join(mapping.header_of(name) for name in key)
    # The English words and the JSON values around the row each duplicate repeats.
    stored = reasons.values_json(words, row=ROW_MARK)
    before_row, after_row = reasons.text(reasons.DUPLICATE, stored).split(ROW_MARK)
    values_before, values_after = stored.split(ROW_MARK)
    reason = sa.literal(before_row) + first_row + sa.literal(after_row)
    values = sa.literal(values_before) + first_row + sa.literal(values_after)
    conn.execute(
        schema.rejected_rows.insert().from_select(
            REJECTED_INSERT_COLUMNS,
            sa.select(
                sa.literal(batch.import_id, sa.Integer),
                sa.literal(table.name, sa.String),
                sa.literal(batch.file_name, sa.String),
                _customer_of(stage),
                stage.c.source_row,
                sa.literal(", ".join(key), sa.String),
                value,
                reason,
                sa.literal(reasons.DUPLICATE, sa.String),
                values,
                sa.literal(now, sa.DateTime),
            )
            .select_from(stage.join(firsts, same_key))
            .where(later),
        )
    )
    match = (
        sa.select(sa.literal(1))
        .select_from(firsts)
        .where(
            *[stage.c[name] == firsts.c[name] for name in key],
            stage.c.source_row > firsts.c.first_row,
        )
    )
    conn.execute(stage.delete().where(match.exists()))
    return count


CAPACITY_RULE = next(rule for rule in rules.RULES if isinstance(rule, rules.WithinCapacity))


def reject_over_capacity(
    conn: sa.Connection,
    stage: sa.Table,
    mapping: headers.ColumnMapping,
    batch: Batch,
    now: dt.datetime,
) -> int:
    """Moves staged readings the customer's contract capacity cannot carry to the rejected rows.

    Returns:
        How many readings were moved.
    """
    if batch.table != CAPACITY_RULE.table or "kwh" not in stage.c:
        return 0
    customers = schema.customers
    intervals = rules.interval_minutes(stage)
    broken = rules.sql_violation(
        CAPACITY_RULE,
        stage,
        now,
        capacity_kva=customers.c.contract_capacity_kva,
        interval=intervals.c.minutes,
    )
    assert broken is not None
    joined = stage.join(customers, customers.c.customer_id == stage.c.customer_id).join(
        intervals, intervals.c.customer_id == stage.c.customer_id
    )
    over = sa.select(stage.c.source_row).select_from(joined).where(broken)
    count = conn.execute(sa.select(sa.func.count()).select_from(over.subquery())).scalar_one()
    if count == 0:
        return 0
    stored = reasons.values_json(mapping.header_of("kwh"), **CAPACITY_RULE.values)
    conn.execute(
        schema.rejected_rows.insert().from_select(
            REJECTED_INSERT_COLUMNS,
            sa.select(
                sa.literal(batch.import_id, sa.Integer),
                sa.literal(batch.table, sa.String),
                sa.literal(batch.file_name, sa.String),
                stage.c.customer_id,
                stage.c.source_row,
                sa.literal("kwh", sa.String),
                sa.cast(stage.c.kwh, sa.String),
                sa.literal(reasons.text(CAPACITY_RULE.code, stored), sa.String),
                sa.literal(CAPACITY_RULE.code, sa.String),
                sa.literal(stored, sa.String),
                sa.literal(now, sa.DateTime),
            )
            .select_from(joined)
            .where(broken),
        )
    )
    rejected = schema.rejected_rows
    moved = sa.select(rejected.c.row_number).where(
        rejected.c.import_id == batch.import_id, rejected.c.reason_code == CAPACITY_RULE.code
    )
    conn.execute(stage.delete().where(stage.c.source_row.in_(moved)))
    return count


def _same_key(table: sa.Table, stage: sa.Table) -> list[sa.ColumnElement[bool]]:
    return [table.c[name] == stage.c[name] for name in headers.key_columns(table)]


def _series_ranges(stage: sa.Table, series: str) -> sa.Subquery:
    return (
        sa.select(
            stage.c[series],
            sa.func.min(stage.c.ts).label("first_ts"),
            sa.func.max(stage.c.ts).label("last_ts"),
        )
        .group_by(stage.c[series])
        .subquery("ranges")
    )


def _outside_file(table: sa.Table, stage: sa.Table, series: str) -> tuple[sa.Subquery, list]:
    """The stored rows of each staged series' time range that the file does not carry."""
    ranges = _series_ranges(stage, series)
    in_file = (
        sa.select(sa.literal(1)).select_from(stage).where(*_same_key(table, stage)).correlate(table)
    )
    conditions = [
        table.c[series] == ranges.c[series],
        table.c.ts.between(ranges.c.first_ts, ranges.c.last_ts),
        ~in_file.exists(),
    ]
    return ranges, conditions


def remove_range(conn: sa.Connection, table: sa.Table, stage: sa.Table) -> int:
    """Deletes the stored rows of each staged series' time range that the file does not carry.

    This is "replace this range": for readings, each customer's readings from the file's first
    to its last reading of that customer; for weather, each district's. Callers say how many
    rows this removes and ask before it is done (see ``import_file(replace_range=...)``).

    Returns:
        How many stored rows were deleted.

    Raises:
        KeyError: the table is not a time series.
    """
    series = SERIES_COLUMN[table.name]
    ranges, conditions = _outside_file(table, stage, series)
    doomed = (
        sa.select(sa.literal(1))
        .select_from(table.join(ranges, conditions[0]))
        .where(*conditions[1:])
    )
    count = conn.execute(sa.select(sa.func.count()).select_from(doomed.subquery())).scalar_one()
    if count:
        conn.execute(
            table.delete().where(
                sa.select(sa.literal(1)).select_from(ranges).where(*conditions).exists()
            )
        )
    return count


def land(
    conn: sa.Connection, table: sa.Table, stage: sa.Table, names: list[str]
) -> tuple[int, int]:
    """Writes the staged rows: the file's columns of stored keys updated, new keys inserted.

    Args:
        conn: the import's connection.
        table: the target table.
        stage: the staging table.
        names: the table's columns the file gives (keys included).

    Returns:
        (stored records updated, new records inserted).
    """
    staged = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    if not staged:
        return 0, 0
    matches = _same_key(table, stage)
    updated = conn.execute(
        sa.select(sa.func.count())
        .select_from(stage)
        .where(sa.select(sa.literal(1)).select_from(table).where(*matches).exists())
    ).scalar_one()
    key = headers.key_columns(table)
    changed = [name for name in names if name not in key]
    if updated and changed:
        conn.execute(
            table.update().values({name: stage.c[name] for name in changed}).where(*matches)
        )
    new_rows = sa.select(*[stage.c[name] for name in names]).where(
        ~sa.select(sa.literal(1)).select_from(table).where(*matches).exists()
    )
    conn.execute(table.insert().from_select(names, new_rows))
    return updated, staged - updated


def covered_period(
    conn: sa.Connection, stage: sa.Table, table: sa.Table
) -> tuple[dt.datetime | None, dt.datetime | None]:
    """The first and last moment the staged rows cover (None for tables without a period)."""
    name = PERIOD_COLUMN.get(table.name)
    if name is None or name not in stage.c:
        return None, None
    first, last = conn.execute(
        sa.select(sa.func.min(stage.c[name]), sa.func.max(stage.c[name]))
    ).one()
    return _as_datetime(first), _as_datetime(last)


def _as_datetime(value: object) -> dt.datetime | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time())
    import pandas as pd

    return pd.Timestamp(value).to_pydatetime()
