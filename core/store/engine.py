"""Engine creation, schema migrations and their state, bulk loads and the data-version counter."""

import contextlib
import datetime as dt
import functools
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import alembic.autogenerate
import alembic.command
import alembic.config
import alembic.migration
import alembic.script
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from core.errors import UserError
from core.store import duckdb_dialect, schema

# Rows per COPY chunk on PostgreSQL: large enough to amortise the round trip, small enough that
# the CSV text of one chunk stays a few tens of MB.
COPY_CHUNK_ROWS = 500_000


MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# The command a person runs to bring a store's schema up to date; messages name it.
MIGRATE_COMMAND = "python -m core migrate"
# The first revision: a store made before the schema was versioned is taken to be at it.
BASELINE_REVISION = "0001_baseline"

SchemaStatus = Literal["empty", "behind", "current", "ahead"]

duckdb_dialect.register()


def connect(url: str | sa.URL) -> sa.Engine:
    """Creates an engine for a store URL, making the folder of an embedded file if needed.

    A pooled PostgreSQL connection is tested before use, so one the server dropped (a restart,
    ``pg_terminate_backend``) is replaced instead of failing the next query.

    Args:
        url: a SQLAlchemy URL (``duckdb:///data/workbench.duckdb``, ``postgresql+psycopg://...``,
            ``sqlite:///...``).

    Returns:
        The engine; nothing is created in the store until :func:`migrate`.
    """
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("duckdb", "sqlite") and parsed.database not in (
        None,
        "",
        ":memory:",
    ):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(parsed, pool_pre_ping=True)
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


def describe(url: str | sa.URL) -> str:
    """A URL as it may be shown to a user: the password hidden, an embedded file by its path."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() in ("duckdb", "sqlite"):
        return f"{parsed.get_backend_name()}: {parsed.database}"
    return parsed.render_as_string(hide_password=True)


def _alembic_config(conn: sa.Connection | None = None) -> alembic.config.Config:
    config = alembic.config.Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["connection"] = conn
    return config


@functools.cache
def _scripts() -> alembic.script.ScriptDirectory:
    return alembic.script.ScriptDirectory.from_config(_alembic_config())


def head_revision() -> str:
    """The newest revision of the migrations: the schema :mod:`core.store.schema` declares.

    Raises:
        RuntimeError: the revisions do not form one line (two revisions share a parent).
    """
    heads = _scripts().get_heads()
    if len(heads) != 1:
        raise RuntimeError(
            f"the migrations have {len(heads)} heads ({', '.join(sorted(heads))}); "
            "set down_revision so that they form one line"
        )
    return heads[0]


def revision(conn: sa.Connection) -> str | None:
    """The revision a store's schema is at; None for a store without versioned schema."""
    return alembic.migration.MigrationContext.configure(conn).get_current_revision()


def schema_status(engine: sa.Engine) -> SchemaStatus:
    """Whether a store's schema is ``current``, ``behind`` the code, ``empty`` or ``ahead``.

    ``behind`` also covers a store made before its schema was versioned; ``ahead`` is a store
    migrated by a newer version of the workbench than this one.
    """
    with engine.connect() as conn:
        current = revision(conn)
        if current is None:
            return "behind" if sa.inspect(conn).has_table(schema.customers.name) else "empty"
    if current == head_revision():
        return "current"
    known = {script.revision for script in _scripts().walk_revisions()}
    return "behind" if current in known else "ahead"


def check_schema(engine: sa.Engine) -> None:
    """Refuses a store whose schema is not the one this code expects.

    Raises:
        UserError: ``store.schema_empty``, ``store.schema_behind`` (both name
            :data:`MIGRATE_COMMAND`) or ``store.schema_ahead``; ``store.locked`` or
            ``store.unavailable`` when the store cannot be opened.
    """
    store = describe(engine.url)
    try:
        status = schema_status(engine)
        if status == "ahead":
            with engine.connect() as conn:
                current = revision(conn)
    except sa.exc.DBAPIError as error:
        explained = unavailable(error, engine.url)
        if explained is None:
            raise
        raise explained from error
    if status == "ahead":
        raise UserError("store.schema_ahead", store=store, revision=current)
    if status == "empty":
        raise UserError("store.schema_empty", store=store, command=MIGRATE_COMMAND)
    if status == "behind":
        raise UserError("store.schema_behind", store=store, command=MIGRATE_COMMAND)


def comparison_filter(dialect: sa.Dialect) -> Callable[..., bool]:
    """Alembic's ``include_object`` hook: which schema items to compare with a store.

    An index the schema creates only on some backends (``Index.ddl_if(dialect=...)``, kept by
    SQLAlchemy as ``_ddl_if``) is compared only on those.
    """

    def compared(item: object, name: str, kind: str, reflected: bool, compare_to: object) -> bool:
        condition = getattr(item, "_ddl_if", None)
        if kind != "index" or reflected or condition is None or condition.dialect is None:
            return True
        names = condition.dialect
        return dialect.name == names if isinstance(names, str) else dialect.name in names

    return compared


def schema_differences(engine: sa.Engine) -> list:
    """What Alembic's autogenerate finds between the store and ``schema.metadata``.

    Empty when the migrations' head creates exactly the declared schema; a table or column
    declared without a migration shows up here.
    """
    with engine.connect() as conn:
        context = alembic.migration.MigrationContext.configure(
            conn,
            opts={"include_object": comparison_filter(conn.dialect), "compare_type": True},
        )
        return alembic.autogenerate.compare_metadata(context, schema.metadata)


def migrate(engine: sa.Engine, target: str = "head") -> tuple[str | None, str]:
    """Brings a store's schema to the newest revision (or ``target``), in one transaction.

    An empty store gets every table; a store made before the schema was versioned is first
    recorded as being at :data:`BASELINE_REVISION`, which is what it holds.

    Returns:
        The revision before (None for an empty store) and the revision now.
    """
    with engine.begin() as conn:
        previous = revision(conn)
        config = _alembic_config(conn)
        if previous is None and sa.inspect(conn).has_table(schema.customers.name):
            alembic.command.stamp(config, BASELINE_REVISION)
            previous = BASELINE_REVISION
        alembic.command.upgrade(config, target)
        return previous, revision(conn)


def unavailable(error: sa.exc.DBAPIError, url: str | sa.URL) -> UserError | None:
    """The words for a store that cannot be used, or None when ``error`` is of another kind.

    Returns:
        ``store.locked`` for an embedded file another process holds (DuckDB lets one process
        write at a time), ``store.unavailable`` for a server that cannot be reached or dropped
        the connection; None for any other database error.
    """
    store = describe(url)
    if "Could not set lock" in str(error.orig):
        return UserError("store.locked", store=store)
    # PostgreSQL: no SQLSTATE (the connection failed or broke), connection exceptions (08),
    # the server shutting down or terminating the backend (57P01 and kin).
    sqlstate = getattr(error.orig, "sqlstate", None) or ""
    lost = sa.make_url(url).get_backend_name() == "postgresql" and (
        isinstance(error, sa.exc.OperationalError) and sqlstate[:2] in ("", "08", "57")
    )
    if error.connection_invalidated or lost:
        return UserError("store.unavailable", store=store)
    return None


def drop_schema(engine: sa.Engine) -> None:
    """Drops every table of the schema and the record of its revision (the demo starts empty)."""
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE IF EXISTS alembic_version"))


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
