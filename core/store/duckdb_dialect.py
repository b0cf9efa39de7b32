"""The DuckDB dialect of duckdb_engine, with schema reflection read from DuckDB's own catalog.

duckdb_engine reflects through PostgreSQL's ``pg_catalog`` queries, which DuckDB does not fully
emulate: with SQLAlchemy 2.1 reading columns fails on ``pg_collation``, primary, unique and
foreign keys on ``REGCLASS``, and indexes are not reflected at all (duckdb_engine issues 1285,
1388, 1391). Alembic's comparison of the migrations with ``schema.metadata`` needs all of them,
so this dialect answers them from ``duckdb_columns()``, ``duckdb_constraints()`` and
``duckdb_indexes()``. :func:`register` (called by :mod:`core.store.engine`) makes every
``duckdb:///`` URL use it. Alembic needs an implementation class per dialect name as well.
"""

import re
from typing import Any

import sqlalchemy as sa
from alembic.ddl.impl import DefaultImpl
from duckdb_engine import Dialect as DuckDBEngineDialect
from sqlalchemy.engine import default

# DuckDB's own spellings of types that PostgreSQL's names (the dialect's ischema_names) lack.
_DUCKDB_TYPES: dict[str, type[sa.types.TypeEngine]] = {
    "double": sa.DOUBLE,
    "decimal": sa.NUMERIC,
    "float": sa.FLOAT,
    "blob": sa.LargeBinary,
}
_TYPE_PATTERN = re.compile(r"^(?P<name>[^(]+?)\s*(\((?P<args>[^)]*)\))?$")


class Dialect(DuckDBEngineDialect):
    """duckdb_engine's dialect, reflecting tables from DuckDB's catalog functions."""

    # As duckdb_engine's: SQLAlchemy asks every dialect class to state it.
    supports_statement_cache = False

    def _schema_name(self, connection: sa.Connection, schema: str | None) -> str:
        if schema is not None:
            return schema
        return connection.exec_driver_sql("SELECT current_schema()").scalar_one()

    def _type(self, data_type: str) -> sa.types.TypeEngine:
        match = _TYPE_PATTERN.match(data_type.strip())
        name = (match.group("name") if match else data_type).lower()
        arguments = [int(value) for value in re.findall(r"\d+", (match and match["args"]) or "")]
        kind = _DUCKDB_TYPES.get(name) or self.ischema_names.get(name)
        if kind is None:
            return sa.types.NULLTYPE
        return kind(*arguments) if arguments else kind()

    def get_columns(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """The table's columns from ``duckdb_columns()``, in their order."""
        rows = connection.execute(
            sa.text(
                "SELECT column_name, data_type, is_nullable, column_default FROM duckdb_columns() "
                "WHERE schema_name = :schema AND table_name = :table ORDER BY column_index"
            ),
            {"schema": self._schema_name(connection, schema), "table": table_name},
        ).all()
        if not rows:
            raise sa.exc.NoSuchTableError(table_name)
        return [
            {
                "name": row.column_name,
                "type": self._type(row.data_type),
                "nullable": bool(row.is_nullable),
                "default": row.column_default,
                "autoincrement": False,
            }
            for row in rows
        ]

    def _constraints(
        self, connection: sa.Connection, table_name: str, schema: str | None, kind: str
    ) -> list[sa.Row]:
        return connection.execute(
            sa.text(
                "SELECT constraint_name, constraint_column_names, referenced_table, "
                "referenced_column_names FROM duckdb_constraints() "
                "WHERE schema_name = :schema AND table_name = :table AND constraint_type = :kind "
                "ORDER BY constraint_index"
            ),
            {"schema": self._schema_name(connection, schema), "table": table_name, "kind": kind},
        ).all()

    def get_pk_constraint(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """The primary key's columns from ``duckdb_constraints()``."""
        rows = self._constraints(connection, table_name, schema, "PRIMARY KEY")
        if not rows:
            return {"constrained_columns": [], "name": None}
        return {"constrained_columns": list(rows[0].constraint_column_names), "name": None}

    def get_unique_constraints(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """The unique constraints from ``duckdb_constraints()``."""
        return [
            {"name": row.constraint_name, "column_names": list(row.constraint_column_names)}
            for row in self._constraints(connection, table_name, schema, "UNIQUE")
        ]

    def get_foreign_keys(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """The foreign keys from ``duckdb_constraints()``."""
        return [
            {
                "name": row.constraint_name,
                "constrained_columns": list(row.constraint_column_names),
                "referred_schema": None,
                "referred_table": row.referenced_table,
                "referred_columns": list(row.referenced_column_names),
                "options": {},
            }
            for row in self._constraints(connection, table_name, schema, "FOREIGN KEY")
        ]

    def get_indexes(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """The indexes from ``duckdb_indexes()`` (the ART indexes a table was given)."""
        rows = connection.execute(
            sa.text(
                "SELECT index_name, is_unique, expressions FROM duckdb_indexes() "
                "WHERE schema_name = :schema AND table_name = :table ORDER BY index_name"
            ),
            {"schema": self._schema_name(connection, schema), "table": table_name},
        ).all()
        indexes = []
        for row in rows:
            # ``expressions`` lists the indexed columns as text, quoted when they need it.
            columns = re.findall(r'"((?:[^"]|"")*)"|([^\s,\[\]\']+)', row.expressions or "")
            names = [quoted.replace('""', '"') or bare for quoted, bare in columns]
            indexes.append(
                {"name": row.index_name, "column_names": names, "unique": bool(row.is_unique)}
            )
        return indexes

    def get_check_constraints(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> list[dict[str, Any]]:
        """None are reflected: the schema declares no check constraints."""
        return []

    def get_table_options(
        self, connection: sa.Connection, table_name: str, schema: str | None = None, **kw: Any
    ) -> dict[str, Any]:
        """DuckDB tables have no options to reflect."""
        return {}

    # duckdb_engine inherits PostgreSQL's multi-table queries; the defaults call the methods above
    # once per table, which is quick for a schema of a few dozen tables.
    get_multi_columns = default.DefaultDialect.get_multi_columns
    get_multi_pk_constraint = default.DefaultDialect.get_multi_pk_constraint
    get_multi_unique_constraints = default.DefaultDialect.get_multi_unique_constraints
    get_multi_foreign_keys = default.DefaultDialect.get_multi_foreign_keys
    get_multi_indexes = default.DefaultDialect.get_multi_indexes
    get_multi_check_constraints = default.DefaultDialect.get_multi_check_constraints
    get_multi_table_options = default.DefaultDialect.get_multi_table_options


class AlembicImpl(DefaultImpl):
    """Alembic's operations on DuckDB: the generic SQL, in one transaction per migration run."""

    __dialect__ = "duckdb"
    transactional_ddl = True
    # DuckDB stores TEXT as VARCHAR, and FLOAT is its name for REAL.
    type_synonyms = (*DefaultImpl.type_synonyms, {"VARCHAR", "TEXT"}, {"FLOAT", "REAL"})


def register() -> None:
    """Makes ``duckdb://`` URLs use :class:`Dialect`; registered names take precedence."""
    sa.dialects.registry.register("duckdb", __name__, "Dialect")
