"""Parquet readings on DuckDB: the store checks the typed columns itself.

Each chunk of the file is handed to DuckDB as Arrow data and checked by set-based SQL built from
the same rule table as the pandas route (:mod:`core.store.rules`), so no value passes through
pandas; the rules and reasons are the same.
"""

from collections import Counter
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from core import calendars
from core.ingest import headers, reasons
from core.ingest.check_frame import Context
from core.ingest.rejected import REJECTED_INSERT_COLUMNS, Batch
from core.ingest.sources import Source
from core.store import engine as store_engine
from core.store import rules, schema

# Rows per chunk on the DuckDB route: each chunk is a few tens of MB of Arrow data, and fewer,
# larger chunks keep the per-statement overhead small.
SQL_CHUNK_ROWS = 2_000_000
# The name under which a chunk's Arrow data is visible to DuckDB while it is checked.
BATCH_VIEW = "import_batch"
GOOD_VIEW = "import_good"
# Readings columns the DuckDB route checks; a file with other mapped columns takes the pandas route.
SQL_ROUTE_COLUMNS = ("customer_id", "ts", "kwh", "kvarh")
# Whitespace trimmed from ids, as str.strip() does in the pandas route (ideographic space too).
WHITESPACE = " \t\n\r\x0b\x0c\xa0\u3000"


def _arrow_kind(column: str, kind: pa.DataType) -> bool:
    """Whether a Parquet column's type is one the DuckDB route checks without parsing text."""
    if pa.types.is_null(kind):
        return True
    if column == "customer_id":
        return (
            pa.types.is_string(kind)
            or pa.types.is_large_string(kind)
            or pa.types.is_string_view(kind)
            or pa.types.is_integer(kind)
        )
    if column == "ts":
        return pa.types.is_timestamp(kind) or pa.types.is_date(kind)
    return pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)


def route(
    conn: sa.Connection, source: Source, mapping: headers.ColumnMapping, table: sa.Table
) -> dict[str, str] | None:
    """The file headers of each readings column when the DuckDB route can check the file.

    Returns:
        Column → file header, or None when the file takes the pandas route (another backend,
        another format or table, the wide layout, text where the store expects typed values).
    """
    if (
        store_engine.backend(conn) != "duckdb"
        or source.parquet is None
        or table.name != "readings"
        or mapping.layout != "long"
    ):
        return None
    by_column = {column: header for header, column in mapping.columns.items()}
    if "ts" not in by_column:
        if "time" in by_column or "date" not in by_column:
            return None
        by_column["ts"] = by_column.pop("date")
    by_column.pop("date", None)
    if not set(by_column) <= set(SQL_ROUTE_COLUMNS):
        return None
    arrow_schema = source.parquet.schema_arrow
    for column, header in by_column.items():
        if not _arrow_kind(column, arrow_schema.field(header).type):
            return None
    return by_column


def _id_dictionary(values: pa.Array) -> pa.DictionaryArray:
    """Ids as a dictionary of distinct trimmed texts; empty ids become missing."""
    if not pa.types.is_dictionary(values.type):
        values = pc.dictionary_encode(pc.cast(values, pa.string()))
    text = pc.utf8_trim(pc.cast(values.dictionary, pa.string()), characters=WHITESPACE)
    distinct = pc.unique(pc.drop_null(pc.if_else(pc.equal(pc.utf8_length(text), 0), None, text)))
    # Two spellings that trim to the same id (" 3201", "3201") share one entry.
    positions = pc.index_in(text, value_set=distinct)
    indices = pc.take(positions, values.indices)
    return pa.DictionaryArray.from_arrays(pc.cast(indices, pa.int32()), distinct)


def arrow_batch(batch: pa.RecordBatch, by_column: dict[str, str], first_row: int) -> pa.Table:
    """One chunk with the store's column names, ids as trimmed text, times as local timestamps."""
    columns: dict[str, pa.Array] = {}
    for column, header in by_column.items():
        values = batch.column(header)
        kind = values.type
        if column == "customer_id":
            values = _id_dictionary(values)
        elif column == "ts":
            if pa.types.is_null(kind):
                values = pa.nulls(len(values), pa.timestamp("us"))
            elif pa.types.is_timestamp(kind) and kind.tz is not None:
                local = pc.cast(values, pa.timestamp(kind.unit, calendars.LOCAL_TIME.key))
                values = pc.cast(pc.local_timestamp(local), pa.timestamp("us"), safe=False)
            else:
                values = pc.cast(values, pa.timestamp("us"), safe=False)
        elif pa.types.is_null(kind):
            values = pa.nulls(len(values), pa.float64())
        elif pa.types.is_floating(kind):
            # NaN is how pandas and Parquet writers mark an empty cell.
            values = pc.if_else(pc.is_nan(values), pa.scalar(None, kind), values)
        columns[column] = values
    columns["source_row"] = pa.array(
        np.arange(first_row, first_row + batch.num_rows, dtype=np.int64)
    )
    return pa.table(columns)


@dataclass(frozen=True)
class SqlCheck:
    """One rule as SQL over an import batch: where it is broken, and the reason."""

    condition: sa.ColumnElement[bool]
    column: str
    code: str
    values: str

    @property
    def reason(self) -> str:
        """The reason in English, as stored beside the code."""
        return reasons.text(self.code, self.values)


def source_ids(source_system: str) -> sa.Subquery:
    """Each active external id of a source system with its customer and how many it names."""
    id_map = schema.id_map
    return (
        sa.select(
            id_map.c.external_id,
            sa.func.min(id_map.c.customer_id).label("customer_id"),
            sa.func.count(sa.distinct(id_map.c.customer_id)).label("customers"),
        )
        .where(id_map.c.system == source_system, id_map.c.active)
        .group_by(id_map.c.external_id)
        .subquery("source_ids")
    )


def sql_checks(
    batch: sa.TableClause, mapping: headers.ColumnMapping, context: Context
) -> tuple[list[SqlCheck], sa.FromClause, sa.ColumnElement[str]]:
    """The checks of :func:`core.ingest.check_frame.check` for long readings, as SQL.

    Returns:
        The checks, the chunk joined to what the checks need, and the resolved customer id.
    """
    table = schema.readings
    checks: list[SqlCheck] = []

    def check(condition: sa.ColumnElement[bool], column: str, code: str, **values: object) -> None:
        stored = reasons.values_json(mapping.header_of(column), **values)
        checks.append(SqlCheck(sa.func.coalesce(condition, False), column, code, stored))

    present = [column for column in table.columns if column.name in batch.c]
    for column in present:
        name = column.name
        length = getattr(column.type, "length", None)
        if isinstance(column.type, sa.Float | sa.Numeric):
            check(sa.func.isinf(batch.c[name]), name, reasons.NOT_NUMBER)
        elif length:
            check(sa.func.length(batch.c[name]) > length, name, reasons.TOO_LONG, length=length)
        if not column.nullable:
            check(batch.c[name].is_(None), name, reasons.EMPTY)
    for rule in rules.for_table(table.name):
        condition = rules.sql_violation(rule, batch, context.now, context.vocabularies)
        if condition is None:
            continue
        if isinstance(rule, rules.Range):
            # An infinite value is rejected as no number, not a second time as out of range.
            condition = condition & sa.not_(sa.func.isinf(batch.c[rule.column]))
        values = rules.reason_values(rule, "", context.now)
        values.pop("column")
        check(condition, rule.column, rule.code, **values)
    joined: sa.FromClause = batch
    resolved: sa.ColumnElement[str] = batch.c.customer_id
    if context.source_system is not None:
        ids = source_ids(context.source_system)
        joined = joined.outerjoin(ids, ids.c.external_id == batch.c.customer_id)
        check(ids.c.customers > 1, "customer_id", reasons.AMBIGUOUS)
        check(
            batch.c.customer_id.is_not(None) & ids.c.external_id.is_(None),
            "customer_id",
            reasons.UNRESOLVED,
            system=context.source_system,
        )
        resolved = sa.case((ids.c.customers == 1, ids.c.customer_id))
    known = schema.customers.alias("known")
    joined = joined.outerjoin(known, known.c.customer_id == resolved)
    # An id too long for the store is rejected as that, not a second time as unknown.
    fits = sa.func.length(batch.c.customer_id) <= schema.CUSTOMER_ID_LENGTH
    check(
        resolved.is_not(None) & known.c.customer_id.is_(None) & fits,
        "customer_id",
        reasons.UNKNOWN_CUSTOMER,
    )
    if context.in_scope is not None:
        check(
            known.c.customer_id.is_not(None) & sa.not_(context.in_scope(known)),
            "customer_id",
            reasons.OUT_OF_SCOPE,
        )
    return checks, joined, resolved


# Chunks of a file in which runs of the same customer are shorter than this on average are not
# ordered by customer: the duplicate check and the intervals are then left to the store.
MIN_MEAN_RUN = 64


def _names(ids: pa.DictionaryArray, positions: np.ndarray) -> np.ndarray:
    return ids.dictionary.take(ids.indices.take(pa.array(positions))).to_numpy(zero_copy_only=False)


class SeriesRuns:
    """Each customer's good readings in file order, summarised as runs of consecutive rows.

    Metering exports list one customer's readings after another, in time order. For such a
    file the runs prove without sorting or hashing every reading that no (customer, ts) repeats
    (every customer's times strictly increase through the file), and give the steps between
    consecutive readings that tell each customer's interval.
    """

    def __init__(self) -> None:
        self.runs: list[pd.DataFrame] = []
        self.steps: list[pd.DataFrame] = []
        self.ordered = True

    def add(self, chunk: pa.Table) -> None:
        """Adds the good rows of one chunk, in file order."""
        if not self.ordered:
            return
        source_rows = chunk.column("source_row").combine_chunks()
        ids = chunk.column("customer_id").combine_chunks()
        ts = chunk.column("ts").combine_chunks()
        count = len(ids)
        if count == 0:
            return
        times = ts.to_numpy(zero_copy_only=False).view("int64")
        # The chunk's dictionary holds each id once, so equal codes are equal ids.
        codes = ids.indices.to_numpy(zero_copy_only=False)
        same = codes[1:] == codes[:-1]
        starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
        if len(starts) > 1 and count // len(starts) < MIN_MEAN_RUN:
            self.ordered = False
            return
        ends = np.append(starts[1:], count) - 1
        increasing = np.ones(len(starts), dtype=bool)
        repeats = np.flatnonzero(same & (np.diff(times) <= 0))
        increasing[np.searchsorted(starts, repeats + 1, side="right") - 1] = False
        minutes = times // 60_000_000
        self.runs.append(
            pd.DataFrame(
                {
                    "customer_id": _names(ids, starts),
                    "first_row": source_rows.take(pa.array(starts)).to_numpy(),
                    "first_ts": times[starts],
                    "last_ts": times[ends],
                    "first_minute": minutes[starts],
                    "last_minute": minutes[ends],
                    "increasing": increasing,
                }
            )
        )
        # Step i is between rows i and i + 1; steps repeat along a run, so each stretch of equal
        # steps inside one run is counted once, with its length.
        step = np.diff(minutes)
        chosen = same & (step > 0)
        if not chosen.any():
            return
        before = np.concatenate([[False], chosen[:-1]])
        after = np.append(chosen[1:], False)
        step_before = np.concatenate([[0], step[:-1]])
        step_after = np.append(step[1:], 0)
        first = np.flatnonzero(chosen & (~before | (step != step_before)))
        last = np.flatnonzero(chosen & (~after | (step != step_after)))
        self.steps.append(
            pd.DataFrame(
                {
                    "customer_id": _names(ids, first),
                    "minutes": step[first],
                    "count": last - first + 1,
                }
            )
        )

    def finish(self) -> tuple[bool, pd.Series]:
        """Whether every customer's times strictly increase, and the (customer, minutes) counts."""
        if not self.ordered or not self.runs:
            return self.ordered and not self.runs, pd.Series(dtype="int64")
        runs = pd.concat(self.runs, ignore_index=True).sort_values(["customer_id", "first_row"])
        previous = runs.groupby("customer_id", sort=False)[["last_ts", "last_minute"]].shift()
        joined = previous["last_ts"].notna()
        unique = bool(runs["increasing"].all()) and bool(
            (runs.loc[joined, "first_ts"] > previous.loc[joined, "last_ts"]).all()
        )
        across = pd.DataFrame(
            {
                "customer_id": runs.loc[joined, "customer_id"],
                "minutes": runs.loc[joined, "first_minute"]
                - previous.loc[joined, "last_minute"].astype("int64"),
                "count": 1,
            }
        )
        steps = pd.concat([*self.steps, across[across["minutes"] > 0]], ignore_index=True)
        if steps.empty:
            return unique, pd.Series(dtype="int64")
        counts = steps.groupby(["customer_id", "minutes"])["count"].sum()
        return unique, counts


def stage(
    conn: sa.Connection,
    source: Source,
    by_column: dict[str, str],
    mapping: headers.ColumnMapping,
    context: Context,
    stage_table: sa.Table,
    batch_record: Batch,
    chunk_rows: int,
) -> tuple[pd.Series, Counter, bool]:
    """Checks and stages Parquet readings chunk by chunk inside DuckDB.

    Args:
        conn: the import's connection (DuckDB).
        source: the Parquet file.
        by_column: the file's header of each column (:func:`route`).
        mapping: how the headers map onto the table.
        context: what the checks know beyond the file.
        stage_table: the staging table the good rows go to.
        batch_record: the import these rows belong to; its ``rows_read`` grows.
        chunk_rows: rows per chunk.

    Returns:
        The (customer, minutes) step counts, the rejected values by reason, and whether the
        staged readings are known to hold no repeated (customer, ts).
    """
    assert source.parquet is not None
    raw = conn.connection.driver_connection
    names = [name for name in SQL_ROUTE_COLUMNS if name in by_column]
    batch = sa.table(BATCH_VIEW, *[sa.column(name) for name in names], sa.column("source_row"))
    checks, joined, resolved = sql_checks(batch, mapping, context)
    flags = [item.condition.label(f"problem_{index}") for index, item in enumerate(checks)]
    # The customer a rejected row is about decides who may see it; an id too long to be one
    # names nobody.
    customer = sa.func.coalesce(resolved, batch.c.customer_id)
    customer = sa.case((sa.func.length(customer) <= schema.CUSTOMER_ID_LENGTH, customer)).label(
        "row_customer"
    )
    checked = sa.select(*batch.c, customer, *flags).select_from(joined).subquery("checked")
    problem = [checked.c[f"problem_{index}"] for index in range(len(checks))]
    # Rejected rows are few: the rules are evaluated once over the chunk, and only the rows that
    # break one are spread over the list of checks to name each broken rule.
    bad = sa.select(checked).where(sa.or_(*problem)).subquery("bad")
    check_list = sa.values(sa.column("check_index", sa.Integer), name="check_list").data(
        [(index,) for index in range(len(checks))]
    )

    def per_check(values: list[sa.ColumnElement]) -> sa.ColumnElement:
        return sa.case(dict(enumerate(values)), value=check_list.c.check_index)

    rejected = schema.rejected_rows
    reject = rejected.insert().from_select(
        REJECTED_INSERT_COLUMNS,
        sa.select(
            sa.literal(batch_record.import_id, sa.Integer),
            sa.literal(batch_record.table, sa.String),
            sa.literal(batch_record.file_name, sa.String),
            bad.c.row_customer,
            bad.c.source_row,
            per_check([sa.literal(item.column, sa.String) for item in checks]),
            per_check([sa.cast(bad.c[item.column], sa.String) for item in checks]),
            per_check([sa.literal(item.reason, sa.String) for item in checks]),
            per_check([sa.literal(item.code, sa.String) for item in checks]),
            per_check([sa.literal(item.values, sa.String) for item in checks]),
            sa.literal(context.recorded, sa.DateTime),
        )
        .select_from(bad.join(check_list, sa.true()))
        .where(per_check([bad.c[f"problem_{index}"] for index in range(len(checks))])),
        # The id comes from the table's own sequence.
        include_defaults=False,
    )
    # Good rows are the chunk's rows without a rejected value: the chunk less the few rejected
    # source rows, instead of evaluating every rule a second time.
    good = sa.table(GOOD_VIEW, *[sa.column(name) for name in names], sa.column("source_row"))
    land_from: sa.FromClause = good
    land_id: sa.ColumnElement[str] = good.c.customer_id
    if context.source_system is not None:
        ids = source_ids(context.source_system)
        land_from = good.join(ids, ids.c.external_id == good.c.customer_id)
        land_id = ids.c.customer_id
    land = stage_table.insert().from_select(
        [*names, "source_row"],
        sa.select(
            *[land_id if name == "customer_id" else good.c[name] for name in names],
            good.c.source_row,
        ).select_from(land_from),
    )
    runs = SeriesRuns() if context.source_system is None else None
    rejected_in_chunk = (
        sa.select(rejected.c.row_number)
        .distinct()
        .where(
            rejected.c.import_id == batch_record.import_id,
            rejected.c.row_number >= sa.bindparam("first_row"),
        )
    )
    next_row = 1
    assert source.arrow_batches is not None
    for part in source.arrow_batches(list(by_column.values()), chunk_rows):
        chunk = arrow_batch(part, by_column, next_row)
        raw.register(BATCH_VIEW, chunk)
        try:
            conn.execute(reject)
        finally:
            raw.unregister(BATCH_VIEW)
        bad = pa.array(
            conn.execute(rejected_in_chunk, {"first_row": next_row}).scalars().all(), pa.int64()
        )
        if len(bad):
            chunk = chunk.filter(pc.invert(pc.is_in(chunk.column("source_row"), value_set=bad)))
        raw.register(GOOD_VIEW, chunk)
        try:
            conn.execute(land)
        finally:
            raw.unregister(GOOD_VIEW)
        if runs is not None:
            runs.add(chunk)
        next_row += part.num_rows
        batch_record.advance(part.num_rows)
    counted = Counter(
        {
            (code, values): count
            for code, values, count in conn.execute(
                sa.select(rejected.c.reason_code, rejected.c.reason_values, sa.func.count())
                .where(rejected.c.import_id == batch_record.import_id)
                .group_by(rejected.c.reason_code, rejected.c.reason_values)
            ).all()
        }
    )
    if runs is not None:
        unique, counts = runs.finish()
        if runs.ordered:
            return counts, counted, unique
    return sql_interval_counts(conn, stage_table), counted, False


def sql_interval_counts(conn: sa.Connection, stage: sa.Table) -> pd.Series:
    """Counts of (customer, minutes between consecutive readings of the file) in the store."""
    previous = sa.func.lag(stage.c.ts).over(
        partition_by=stage.c.customer_id, order_by=stage.c.source_row
    )
    steps = sa.select(
        stage.c.customer_id, sa.func.date_diff("minute", previous, stage.c.ts).label("minutes")
    ).subquery("steps")
    rows = conn.execute(
        sa.select(steps.c.customer_id, steps.c.minutes, sa.func.count())
        .where(steps.c.minutes > 0)
        .group_by(steps.c.customer_id, steps.c.minutes)
    ).all()
    if not rows:
        return pd.Series(dtype="int64")
    frame = pd.DataFrame(rows, columns=["customer_id", "minutes", "count"])
    return frame.set_index(["customer_id", "minutes"])["count"]
