"""Alembic's environment: migrations run on the connection :mod:`core.store.engine` hands over.

``python -m core migrate`` (``core.store.engine.migrate``) passes an open connection in
``config.attributes["connection"]``. The ``alembic`` command line (``alembic.ini`` at the root,
for writing a new revision) opens the store given as ``-x url=...``.
"""

import sqlalchemy as sa
from alembic import context

# Importing the engine module also makes duckdb:// URLs use the DuckDB dialect of the store.
from core.store import engine as store_engine
from core.store import schema

config = context.config


def _run(connection: sa.Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=schema.metadata,
        include_object=store_engine.comparison_filter(connection.dialect),
        compare_type=True,
        # SQLite (and DuckDB for some changes) cannot ALTER a table in place; autogenerate then
        # writes batch operations, which copy the table.
        render_as_batch=connection.dialect.name in ("sqlite", "duckdb"),
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("name the store: alembic -x url=sqlite:///scratch.sqlite ...")
    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.connect() as opened:
        _run(opened)


if context.is_offline_mode():
    raise SystemExit("the workbench's migrations run against a store, not as offline SQL")
_main()
