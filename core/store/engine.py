"""Engine creation, schema set-up, bulk loads and the data-version counter."""

import contextlib
import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from core.store import schema

# Rows per COPY chunk on PostgreSQL: large enough to amortise the round trip, small enough that
# the CSV text of one chunk stays a few tens of MB.
COPY_CHUNK_ROWS = 500_000


def connect(url: str) -> sa.Engine:
    """Creates an engine for a store URL, making the folder of an embedded file if needed.

    Args:
        url: a SQLAlchemy URL (``duckdb:///data/workbench.duckdb``, ``postgresql+psycopg://...``,
            ``sqlite:///...``).

    Returns:
        The engine; nothing is created in the store until :func:`create_schema`.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("duckdb", "sqlite") and parsed.database not in (
        None,
        "",
        ":memory:",
    ):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    return sa.create_engine(parsed)


def backend(engine: sa.Engine | sa.Connection) -> str:
    """The backend name: ``duckdb``, ``postgresql`` or ``sqlite``."""
    return engine.dialect.name


@contextlib.contextmanager
def connected(bind: sa.Engine | sa.Connection) -> Iterator[sa.Connection]:
    """A connection to work on: the one given, or a new one of the engine given, closed after.

    Lets a function serve both a caller with an engine and one that reads several things on
    one connection (a customer's whole dossier).
    """
    if isinstance(bind, sa.Connection):
        yield bind
        return
    with bind.connect() as conn:
        yield conn


def describe(url: str) -> str:
    """A URL as it may be shown to a user: the password hidden, an embedded file by its path."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("duckdb", "sqlite"):
        return f"{parsed.get_backend_name()}: {parsed.database}"
    return parsed.render_as_string(hide_password=True)


def create_schema(engine: sa.Engine) -> None:
    """Creates every table that does not exist yet, new optional columns, the data-version row."""
    schema.metadata.create_all(engine)
    _add_missing_columns(engine)
    with engine.begin() as conn:
        if conn.execute(sa.select(schema.data_version.c.id)).first() is None:
            conn.execute(schema.data_version.insert().values(id=1, version=0, updated_at=_now()))


def _add_missing_columns(engine: sa.Engine) -> None:
    # A store made before the schema gained an optional column gets it empty, so older stores
    # keep working; required columns cannot be added this way and are never added later.
    preparer = engine.dialect.identifier_preparer
    with engine.begin() as conn:
        for table in schema.metadata.sorted_tables:
            # The columns a query returns: the same on every backend, unlike reflection.
            stored = sa.select(sa.text("*")).select_from(sa.table(table.name)).limit(0)
            names = set(conn.execute(stored).keys())
            for column in table.columns:
                if column.name in names or not column.nullable:
                    continue
                spec = sa.schema.CreateColumn(column).compile(dialect=engine.dialect)
                conn.execute(
                    sa.text(f"ALTER TABLE {preparer.format_table(table)} ADD COLUMN {spec}")
                )


def drop_schema(engine: sa.Engine) -> None:
    """Drops every table of the schema (the demo generator starts from an empty store)."""
    schema.metadata.drop_all(engine)


def has_data(engine: sa.Engine) -> bool:
    """Whether the store has its schema and at least one customer."""
    if not sa.inspect(engine).has_table(schema.customers.name):
        return False
    with engine.connect() as conn:
        return conn.execute(sa.select(schema.customers.c.customer_id).limit(1)).first() is not None


def bulk_insert(conn: sa.Connection, table: sa.Table, rows: pd.DataFrame | pa.Table) -> int:
    """Appends rows through the backend's fast path inside the caller's transaction.

    DuckDB scans the Arrow data directly, PostgreSQL receives it by COPY, other backends get one
    multi-row executemany.

    Args:
        conn: a connection inside ``engine.begin()``.
        table: the target table; the frame's columns must be a subset of its columns.
        rows: the rows, as a pandas DataFrame or an Arrow table.

    Returns:
        The number of rows written.

    Raises:
        ValueError: a column of ``rows`` is not a column of ``table``.
    """
    columns = list(rows.column_names if isinstance(rows, pa.Table) else rows.columns)
    unknown = [name for name in columns if name not in table.c]
    if unknown:
        raise ValueError(f"{table.name} has no column {', '.join(unknown)}")
    count = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
    if count == 0:
        return 0
    name = backend(conn)
    if name == "duckdb":
        _insert_duckdb(conn, table, rows, columns)
    elif name == "postgresql":
        _insert_postgresql(conn, table, rows, columns)
    else:
        frame = rows.to_pandas() if isinstance(rows, pa.Table) else rows
        records = frame.astype(object).where(frame.notna(), None).to_dict("records")
        conn.execute(table.insert(), records)
    return count


def _insert_duckdb(
    conn: sa.Connection, table: sa.Table, rows: pd.DataFrame | pa.Table, columns: list[str]
) -> None:
    raw = conn.connection.driver_connection
    view = f"bulk_{table.name}"
    arrow = rows if isinstance(rows, pa.Table) else pa.Table.from_pandas(rows, preserve_index=False)
    raw.register(view, arrow)
    try:
        quoted = ", ".join(f'"{name}"' for name in columns)
        raw.execute(f'INSERT INTO "{table.name}" ({quoted}) SELECT {quoted} FROM {view}')
    finally:
        raw.unregister(view)


def _insert_postgresql(
    conn: sa.Connection, table: sa.Table, rows: pd.DataFrame | pa.Table, columns: list[str]
) -> None:
    raw = conn.connection.driver_connection
    quoted = ", ".join(f'"{name}"' for name in columns)
    statement = f'COPY "{table.name}" ({quoted}) FROM STDIN WITH (FORMAT csv)'
    total = rows.num_rows if isinstance(rows, pa.Table) else len(rows)
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for start in range(0, total, COPY_CHUNK_ROWS):
            if isinstance(rows, pa.Table):
                chunk = rows.slice(start, COPY_CHUNK_ROWS).to_pandas()
            else:
                chunk = rows.iloc[start : start + COPY_CHUNK_ROWS]
            buffer = io.StringIO()
            chunk.to_csv(buffer, header=False, index=False)
            copy.write(buffer.getvalue())


def data_version(conn: sa.Connection) -> int:
    """The store's data version; it grows with every import."""
    return conn.execute(
        sa.select(schema.data_version.c.version).where(schema.data_version.c.id == 1)
    ).scalar_one()


def bump_data_version(conn: sa.Connection) -> int:
    """Increments the data version inside the caller's transaction and returns the new value."""
    conn.execute(
        schema.data_version.update()
        .where(schema.data_version.c.id == 1)
        .values(version=schema.data_version.c.version + 1, updated_at=_now())
    )
    return data_version(conn)


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)
