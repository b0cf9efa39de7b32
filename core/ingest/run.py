"""One import of one file into one table, in one transaction.

The file is read (:mod:`core.ingest.sources`), its headers mapped (:mod:`core.ingest.headers`),
every value checked in pandas (:mod:`core.ingest.check_frame`) or, for Parquet readings on
DuckDB, by the store (:mod:`core.ingest.check_sql`); good rows are staged and landed
(:mod:`core.ingest.land`), bad ones kept with their reason. A failure anywhere rolls the whole
import back.
"""

import contextlib
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd
import sqlalchemy as sa

from core import access, calendars, i18n
from core.errors import UserError
from core.ingest import check_frame, check_sql, headers, land, reasons, sources
from core.ingest.rejected import Batch, Progress, frame_to_store
from core.store import engine as store_engine
from core.store import queries, schema

# Rows per chunk on the DuckDB route: each chunk is a few tens of MB of Arrow data, and fewer,
# larger chunks keep the per-statement overhead small.
SQL_CHUNK_ROWS = 2_000_000
# Past this many customers in one file, refreshing everyone's features is as quick as a subset.
FEATURE_REFRESH_ALL_ABOVE = 5_000
# Tables that refer to customers resolve source-system ids through id_map.
CUSTOMER_TABLES = tuple(
    table.name
    for table in schema.ENTITY_TABLES
    if "customer_id" in table.c and table.name != "id_map" and table is not schema.customers
)
# The tables the customer features are computed from: an import into one of them refreshes them.
FEATURE_SOURCE_TABLES = (
    "customers",
    "readings",
    "weather",
    "bills",
    "work_orders",
    "channel_activity",
    "outages",
)
# The audit log's target names the table and the file; a long file name is shortened to fit.
AUDIT_TARGET_LENGTH = schema.audit_log.c.target.type.length
FILE_NAME_LENGTH = schema.imports.c.file_name.type.length


@dataclass
class ImportResult:
    """What an import did.

    Attributes:
        import_id: the ``imports`` row of this import (0 for a dry run).
        table: the target table.
        file_name: the file's name as recorded.
        encoding: the text encoding read (``utf-8``, ``gb18030``, ``cp1252``), or the format
            for binary files.
        mapping: how the headers were mapped.
        rows_read: data rows in the file.
        rows_landed: records written to the table (wide readings: one per value).
        rows_rejected: file rows with at least one rejected value.
        rows_updated: stored records the file gave new values (in the file's columns).
        rows_inserted: records the store did not have.
        rows_removed: stored records deleted by "replace this range" (0 otherwise).
        dry_run: nothing was kept: the counts say what the import would do.
        reason_counts: rejected values by (reason code, reason values as JSON).
        customer_intervals: readings: each customer's detected interval in minutes.
        features_refreshed: customers whose features were recomputed after the import.
        customers_touched: the customers the landed rows belong to (up to
            :data:`FEATURE_REFRESH_ALL_ABOVE` and one more); None for tables without customers.
    """

    import_id: int
    table: str
    file_name: str
    encoding: str
    mapping: headers.ColumnMapping
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rows_updated: int = 0
    rows_inserted: int = 0
    rows_removed: int = 0
    dry_run: bool = False
    reason_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    customer_intervals: dict[str, int] = field(default_factory=dict)
    features_refreshed: int = 0
    customers_touched: list[str] | None = None

    @property
    def reasons(self) -> dict[str, int]:
        """Rejected values by reason, in English."""
        return {
            reasons.text(code, values): count
            for (code, values), count in self.reason_counts.items()
        }

    @property
    def intervals(self) -> dict[str, int]:
        """Readings: number of customers by detected interval, in English (``hourly``, ...)."""
        return dict(
            Counter(reasons.interval_name(minutes) for minutes in self.customer_intervals.values())
        )

    def reason_summary(self, language: str = "en") -> pd.DataFrame:
        """Rejected values by reason in a language, most frequent first: ``reason``, ``count``."""
        rows = [
            (reasons.text(code, values, language), count)
            for (code, values), count in self.reason_counts.items()
        ]
        frame = pd.DataFrame(rows, columns=["reason", "count"])
        return frame.sort_values(["count", "reason"], ascending=[False, True], ignore_index=True)

    def interval_summary(self, language: str = "en") -> str:
        """Readings: customers by detected interval, in words (``hourly: 2, daily: 1``)."""
        counts = Counter(self.customer_intervals.values())
        return ", ".join(
            f"{reasons.interval_name(minutes, language)}: {count}"
            for minutes, count in sorted(counts.items())
        )

    def describe(self, language: str = "en") -> str:
        """A few lines for the command line: rows read, landed, rejected by reason."""

        def t(key: str, **values: object) -> str:
            return i18n.translate(f"ingest.summary.{key}", language, **values)

        lines = [
            t(
                "file",
                table=self.table,
                file_name=self.file_name,
                encoding=self.encoding,
                layout=i18n.translate(f"ingest.layout.{self.mapping.layout}", language),
            ),
            t(
                "counts",
                read=f"{self.rows_read:,}",
                landed=f"{self.rows_landed:,}",
                rejected=f"{self.rows_rejected:,}",
                updated=f"{self.rows_updated:,}",
                inserted=f"{self.rows_inserted:,}",
            ),
        ]
        if self.rows_removed or self.dry_run:
            lines.append(t("removed", removed=f"{self.rows_removed:,}"))
        summary = self.reason_summary(language).sort_values("reason")
        lines += [
            t("reason", count=f"{count:,}", reason=reason)
            for reason, count in zip(summary["reason"], summary["count"], strict=True)
        ]
        if self.customer_intervals:
            lines.append(t("intervals", intervals=self.interval_summary(language)))
        if self.features_refreshed:
            lines.append(t("features", customers=f"{self.features_refreshed:,}"))
        if self.dry_run:
            lines.append(t("dry_run"))
        return "\n".join(lines)


# Imports from the sessions of one app process take turns: DuckDB refuses the second of two
# concurrent writers at commit, and the loser would have to start its file again.
_IMPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_import_at_a_time() -> Iterator[None]:
    """Serialises imports in this process; a writer elsewhere still conflicts, told in words."""
    with _IMPORT_LOCK:
        try:
            yield
        except sa.exc.IntegrityError as error:
            raise UserError("ingest.error.conflict") from error
        except sa.exc.DBAPIError as error:
            if "conflict" not in str(error.orig).lower():
                raise
            raise UserError("ingest.error.conflict") from error


def bounded(text: str, length: int) -> str:
    """``text`` shortened in the middle to at most ``length`` characters, its end kept."""
    if len(text) <= length:
        return text
    suffix = Path(text).suffix if len(Path(text).suffix) < length // 2 else ""
    return text[: length - len(suffix) - 1] + "…" + suffix


def preview_mapping(
    table_name: str, source: str | Path | BinaryIO, file_name: str | None = None
) -> headers.ColumnMapping:
    """The column mapping a file would get, read from its header only.

    Args:
        table_name: the target table.
        source: a path or a binary file object.
        file_name: the name to use in messages (defaults to the path's name).

    Returns:
        The mapping.

    Raises:
        UserError: the file cannot be read or lacks a required column.
    """
    name = sources.file_label(source, file_name)
    handle = sources.open_binary(source, name)
    try:
        return headers.map_columns(table_name, sources.open_source(handle, name).headers)
    finally:
        if isinstance(source, str | Path):
            handle.close()


def import_file(
    engine: sa.Engine,
    table_name: str,
    source: str | Path | BinaryIO,
    *,
    file_name: str | None = None,
    source_system: str | None = None,
    viewer: access.Viewer = access.SYSTEM,
    progress: Progress | None = None,
    chunk_rows: int | None = None,
    record_quality: bool = True,
    refresh_features: bool = True,
    replace_range: bool = False,
    confirm_removals: int | None = None,
    dry_run: bool = False,
) -> ImportResult:
    """Imports one file into one table in one transaction.

    An import changes exactly the keys it lands and, for those, only the columns the file has.
    Deleting stored rows takes ``replace_range``: ask with ``dry_run=True`` first, show the
    count of rows it removes, and pass that count as ``confirm_removals``.

    Args:
        engine: the store.
        table_name: the target table (one of :func:`core.ingest.headers.tables`).
        source: a path, or a binary file object such as an upload.
        file_name: the name recorded with the import and its rejected rows (defaults to the
            path's name).
        source_system: the system the file comes from; its customer ids are resolved through
            ``id_map`` (for id_map files it fills a missing ``system`` column).
        viewer: who imports: rows of customers outside their scope are rejected, and only an
            administrator imports tables without customers; recorded with the import.
        progress: called after each chunk with the rows read so far and the share of the file
            done (0 to 1, an estimate below 1 until the end).
        chunk_rows: rows validated and staged at a time (by default
            :data:`core.ingest.sources.CHUNK_ROWS`, or :data:`SQL_CHUNK_ROWS` for Parquet
            readings on DuckDB, which the store checks itself).
        record_quality: record the table's data-quality figures after the import (the trend
            over imports).
        refresh_features: recompute the customer features when the import landed rows of a
            table they are computed from, so tags and the Customer 360 view show the new data.
        replace_range: readings and weather: also delete the stored rows of each series' time
            range (from the file's first to its last row of that customer or district) that
            the file does not carry.
        confirm_removals: with ``replace_range``: the number of rows the user agreed to remove
            (from a dry run); the import stops if it would remove another number.
        dry_run: check and count everything, keep nothing.

    Returns:
        What was read, landed, rejected, updated, inserted and removed.

    Raises:
        UserError: the file cannot be read, lacks a required column, the import is not
            possible as asked, or the store changed under it; the store is unchanged.
        core.access.AccessError: the viewer may not import into this table.
    """
    table = headers.entity_table(table_name)
    _check_request(table, source_system, viewer, replace_range, confirm_removals, dry_run)
    name = bounded(sources.file_label(source, file_name), FILE_NAME_LENGTH)
    handle = sources.open_binary(source, name)
    try:
        source_reader = sources.open_source(handle, name, chunk_rows or sources.CHUNK_ROWS)
        mapping = headers.map_columns(table_name, source_reader.headers)
        request = _Request(
            table=table,
            source=source_reader,
            mapping=mapping,
            source_system=source_system,
            viewer=viewer,
            progress=progress,
            record_quality=record_quality and not dry_run,
            sql_chunk_rows=chunk_rows or SQL_CHUNK_ROWS,
            replace_range=replace_range,
            confirm_removals=confirm_removals,
            dry_run=dry_run,
        )
        with _one_import_at_a_time():
            result = _run(engine, request)
            if (
                refresh_features
                and not dry_run
                and result.rows_landed + result.rows_removed
                and table.name in FEATURE_SOURCE_TABLES
            ):
                result.features_refreshed = _refresh_features(engine, result)
    finally:
        if isinstance(source, str | Path):
            handle.close()
    if progress is not None:
        progress(result.rows_read, 1.0)
    return result


def _check_request(
    table: sa.Table,
    source_system: str | None,
    viewer: access.Viewer,
    replace_range: bool,
    confirm_removals: int | None,
    dry_run: bool,
) -> None:
    if source_system is not None:
        if table.name not in (*CUSTOMER_TABLES, "id_map"):
            raise UserError("ingest.error.no_source_system", table=table.name)
        limit = schema.imports.c.source_system.type.length
        if len(source_system) > limit:
            raise UserError("ingest.error.source_system_too_long", limit=limit)
    if "customer_id" not in table.c and viewer.role != "administrator":
        raise access.AccessError("ingest.error.administrators_only", table=table.name)
    if replace_range:
        if table.name not in land.SERIES_COLUMN:
            raise UserError(
                "ingest.error.no_range", table=table.name, tables=", ".join(land.SERIES_COLUMN)
            )
        if confirm_removals is None and not dry_run:
            raise UserError("ingest.error.confirm_removals")


def _refresh_features(engine: sa.Engine, result: ImportResult) -> int:
    # Imported when used: features reads the store through this package's callers, not the
    # other way round.
    from core import features

    touched = result.customers_touched
    only = touched if touched is not None and len(touched) <= FEATURE_REFRESH_ALL_ABOVE else None
    return features.refresh(engine, access.SYSTEM, customer_ids=only).customers


@dataclass
class _Request:
    table: sa.Table
    source: sources.Source
    mapping: headers.ColumnMapping
    source_system: str | None
    viewer: access.Viewer
    progress: Progress | None
    record_quality: bool
    sql_chunk_rows: int
    replace_range: bool
    confirm_removals: int | None
    dry_run: bool


def _scoped(viewer: access.Viewer) -> bool:
    return bool(viewer.regions or viewer.transformer_areas or viewer.manager_id is not None)


def _require_id_map(conn: sa.Connection, table: sa.Table, source_system: str | None) -> None:
    if not source_system or table.name not in CUSTOMER_TABLES:
        return
    id_map = schema.id_map
    found = conn.execute(
        sa.select(id_map.c.external_id)
        .where(id_map.c.system == source_system, id_map.c.active)
        .limit(1)
    ).first()
    if found is None:
        raise UserError("ingest.error.no_id_map", system=source_system)


def _ids(conn: sa.Connection, query: sa.Select) -> pd.Index:
    return pd.Index(conn.execute(query).scalars().all(), dtype="str")


def _context(
    conn: sa.Connection, request: _Request, now: dt.datetime, *, in_store: bool
) -> check_frame.Context:
    """What the checks need: the store's ids, vocabularies and the writer's scope.

    ``in_store``: the store checks ids itself (the SQL route), so they are not loaded.
    """
    table, viewer = request.table, request.viewer
    customers = schema.customers
    context = check_frame.Context(table=table, now=now, source_system=request.source_system)
    _require_id_map(conn, table, request.source_system)
    scoped = _scoped(viewer) and "customer_id" in table.c
    if scoped:
        context.in_scope = lambda known: access.customer_scope(viewer, known)
    if in_store:
        return context
    if "customer_id" in table.c and (table is not customers or scoped):
        context.known_customers = _ids(conn, sa.select(customers.c.customer_id))
    if scoped:
        context.scope = check_frame.WriteScope(
            customers=_ids(conn, access.scoped_customer_ids(viewer)),
            regions=viewer.regions,
            transformer_areas=viewer.transformer_areas,
            manager_id=viewer.manager_id,
        )
    if request.source_system and table.name in CUSTOMER_TABLES:
        pairs = pd.DataFrame(
            conn.execute(
                sa.select(schema.id_map.c.external_id, schema.id_map.c.customer_id).where(
                    schema.id_map.c.system == request.source_system, schema.id_map.c.active
                )
            ).all(),
            columns=["external_id", "customer_id"],
        ).drop_duplicates()
        repeated = pairs["external_id"].duplicated(keep=False)
        context.ambiguous_ids = pd.Index(pairs.loc[repeated, "external_id"].unique(), dtype="str")
        unique = pairs[~repeated]
        context.id_lookup = pd.Series(
            unique["customer_id"].to_numpy(), index=unique["external_id"].to_numpy()
        )
    provided = request.mapping.provided()
    if "region" in provided:
        context.vocabularies["districts"] = known_districts(conn)
    if table is schema.campaign_members and "arm" in provided:
        context.vocabularies["campaign_arms"] = pd.Index(
            queries.campaign_arm_names(conn), dtype="str"
        )
    if table is customers and "tariff_code" in provided:
        # Imported when used: the tariff engine reads its load files through this package.
        from core import tariffs

        context.vocabularies["tariff_codes"] = pd.Index(list(tariffs.load_catalog()), dtype="str")
    return context


def known_districts(conn: sa.Connection) -> pd.Index:
    """The utility's districts: those its customers are in (none in an empty store)."""
    region = schema.customers.c.region
    return _ids(conn, sa.select(region).distinct().where(region.is_not(None)))


def _staged_columns(request: _Request) -> list[str]:
    provided = request.mapping.provided()
    if request.table.name == "id_map" and request.source_system:
        provided.add("system")
    return [column.name for column in request.table.columns if column.name in provided]


def _stage_chunks(
    conn: sa.Connection,
    request: _Request,
    context: check_frame.Context,
    stage: sa.Table,
    batch: Batch,
) -> tuple[pd.Series, Counter]:
    """Checks the file chunk by chunk in pandas and stages the good rows."""
    intervals: list[pd.Series] = []
    counted: Counter = Counter()
    names = [column.name for column in stage.columns if column.name != "source_row"]
    for chunk in request.source.chunks():
        records, problems = check_frame.check(chunk, request.mapping, context)
        if not problems.empty:
            counted.update(zip(problems["reason_code"], problems["reason_values"], strict=True))
            store_engine.bulk_insert(
                conn, schema.rejected_rows, frame_to_store(problems, batch, context.recorded)
            )
        if not records.empty:
            store_engine.bulk_insert(conn, stage, records[[*names, "source_row"]])
            if request.table is schema.readings:
                intervals.append(interval_counts(records))
        batch.advance(len(chunk.frame))
    counts = pd.concat(intervals).groupby(level=[0, 1]).sum() if intervals else pd.Series()
    return counts, counted


def interval_counts(records: pd.DataFrame) -> pd.Series:
    """Counts of (customer, minutes between consecutive readings) in one chunk."""
    if records.empty:
        return pd.Series(dtype="int64")
    minutes = records["ts"].astype("datetime64[us]").astype("int64") // 60_000_000
    steps = minutes.groupby(records["customer_id"].to_numpy(), sort=False).diff()
    positive = (steps > 0).to_numpy()
    pairs = pd.DataFrame(
        {"customer_id": records["customer_id"].to_numpy()[positive], "minutes": steps[positive]}
    )
    return pairs.value_counts()


def detect_intervals(counts: pd.Series) -> dict[str, int]:
    """Each customer's interval: the most frequent step between consecutive readings."""
    if counts.empty:
        return {}
    frame = (
        counts.rename("count")
        .reset_index()
        .sort_values(["customer_id", "count", "minutes"], ascending=[True, False, True])
    )
    first = frame.drop_duplicates("customer_id")
    return {
        customer: int(minutes)
        for customer, minutes in zip(first["customer_id"], first["minutes"], strict=True)
    }


def _malformed_rows(source: sources.Source, batch: Batch, now: dt.datetime) -> pd.DataFrame:
    values = reasons.values_json(None, fields=len(source.headers))
    problems = pd.DataFrame(
        {
            "row_number": [number for number, _ in source.malformed],
            "column_name": None,
            "value": [text for _, text in source.malformed],
            "reason_code": reasons.MALFORMED,
            "reason_values": values,
        }
    )
    return frame_to_store(problems, batch, now)


def _run(engine: sa.Engine, request: _Request) -> ImportResult:
    # The checks read the file's times on the utility's wall clock; the import's own records
    # (the import, its rejected rows) are stamped in UTC.
    now = calendars.utc_now()
    table, source = request.table, request.source
    with engine.connect() as conn, conn.begin() as transaction:
        by_column = check_sql.route(conn, source, request.mapping, table)
        context = _context(conn, request, calendars.local_now(), in_store=by_column is not None)
        context.recorded_at = now
        import_id = conn.execute(
            schema.imports.insert().values(
                table_name=table.name,
                file_name=source.file_name,
                source_system=request.source_system,
                started_at=now,
                user_name=request.viewer.user_name,
            )
        ).inserted_primary_key[0]
        result = ImportResult(
            import_id=0 if request.dry_run else import_id,
            table=table.name,
            file_name=source.file_name,
            encoding=source.encoding,
            mapping=request.mapping,
            dry_run=request.dry_run,
        )
        batch = Batch(
            import_id=import_id,
            table=table.name,
            file_name=source.file_name,
            estimated_rows=source.estimated_rows,
            progress=request.progress,
        )
        names = _staged_columns(request)
        stage = land.create_stage(conn, table, names)
        unique = False
        try:
            if by_column is not None:
                intervals, counted, unique = check_sql.stage(
                    conn,
                    source,
                    by_column,
                    request.mapping,
                    context,
                    stage,
                    batch,
                    request.sql_chunk_rows,
                )
            else:
                intervals, counted = _stage_chunks(conn, request, context, stage, batch)
        except sources.MalformedRows:
            # Rows with a wrong number of fields: read again with the exact reader, which knows
            # each row's line number.
            conn.execute(stage.delete())
            rejected = schema.rejected_rows
            conn.execute(rejected.delete().where(rejected.c.import_id == import_id))
            batch.rows_read = 0
            source.exact = True
            intervals, counted = _stage_chunks(conn, request, context, stage, batch)
        if source.malformed:
            store_engine.bulk_insert(
                conn, schema.rejected_rows, _malformed_rows(source, batch, now)
            )
            values = reasons.values_json(None, fields=len(source.headers))
            counted[(reasons.MALFORMED, values)] += len(source.malformed)
            batch.rows_read += len(source.malformed)
        result.rows_read = batch.rows_read
        land.take_turns(conn, table)
        duplicates = (
            0 if unique else land.reject_duplicates(conn, stage, table, request.mapping, batch, now)
        )
        if duplicates:
            words = ", ".join(
                request.mapping.header_of(name) for name in headers.key_columns(table)
            )
            counted[(reasons.DUPLICATES, reasons.values_json(words))] += duplicates
        over = land.reject_over_capacity(conn, stage, request.mapping, batch, now)
        if over:
            rule = land.CAPACITY_RULE
            counted[
                (rule.code, reasons.values_json(request.mapping.header_of("kwh"), **rule.values))
            ] += over
        data_start, data_end = land.covered_period(conn, stage, table)
        if "customer_id" in stage.c:
            result.customers_touched = (
                conn.execute(
                    sa.select(stage.c.customer_id).distinct().limit(FEATURE_REFRESH_ALL_ABOVE + 1)
                )
                .scalars()
                .all()
            )
        if request.replace_range:
            result.rows_removed = land.remove_range(conn, table, stage)
            confirmed = request.confirm_removals
            if not request.dry_run and confirmed != result.rows_removed:
                raise UserError(
                    "ingest.error.removals_changed",
                    confirmed=f"{confirmed:,}",
                    removed=f"{result.rows_removed:,}",
                )
        result.rows_updated, result.rows_inserted = land.land(conn, table, stage, names)
        result.rows_landed = result.rows_updated + result.rows_inserted
        rejected = schema.rejected_rows
        result.rows_rejected = conn.execute(
            sa.select(sa.func.count(sa.distinct(rejected.c.row_number))).where(
                rejected.c.import_id == import_id
            )
        ).scalar_one()
        result.reason_counts = dict(counted)
        if table is schema.readings:
            result.customer_intervals = detect_intervals(intervals)
        if request.dry_run:
            transaction.rollback()
            return result
        # A file imported again supersedes the rejected rows of its earlier imports.
        conn.execute(
            rejected.delete().where(
                rejected.c.table_name == table.name,
                rejected.c.file_name == source.file_name,
                rejected.c.import_id != import_id,
            )
        )
        conn.execute(
            schema.imports.update()
            .where(schema.imports.c.id == import_id)
            .values(
                finished_at=calendars.utc_now(),
                rows_read=result.rows_read,
                rows_landed=result.rows_landed,
                rows_rejected=result.rows_rejected,
                data_start=data_start,
                data_end=data_end,
            )
        )
        stage.drop(conn)
        store_engine.bump_data_version(conn)
        access.record(
            conn,
            request.viewer,
            "import",
            bounded(f"{table.name}: {source.file_name}", AUDIT_TARGET_LENGTH),
            {
                "import_id": import_id,
                "rows_read": result.rows_read,
                "rows_landed": result.rows_landed,
                "rows_rejected": result.rows_rejected,
                "rows_updated": result.rows_updated,
                "rows_inserted": result.rows_inserted,
                "rows_removed": result.rows_removed,
            },
        )
        if request.record_quality:
            # Imported when used: quality reads the rule table, not the import.
            from core import quality

            quality.record_snapshot(conn, import_id, table.name, request.source_system)
    return result
