"""Spark SQL as a SQLAlchemy dialect: the store's SQLAlchemy selects rendered for ``spark.sql``.

Only compilation: the dialect never connects. Statements are rendered with their values inline
(Spark SQL takes no bound parameters), identifiers in backticks, floats as double literals
(``0.5D``; a bare ``0.5`` is a DECIMAL in Spark), dates and timestamps as typed literals, strings
with Spark's backslash escapes. The portable functions of :mod:`core.store.functions` that Spark
spells differently get their Spark form here, as does ``EXTRACT(epoch ...)``.
"""

import datetime as dt
import decimal
import math

import sqlalchemy as sa
from sqlalchemy.engine import default
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import compiler

from core.store import functions

NAME = "spark"


class SparkIdentifierPreparer(compiler.IdentifierPreparer):
    """Every identifier in backticks: Spark reads double quotes as strings."""

    def __init__(self, dialect: sa.Dialect) -> None:
        super().__init__(dialect, initial_quote="`", escape_quote="`")

    def _requires_quotes(self, value: str) -> bool:
        return True


# Spark's spelling of the generic types the store's selects cast to.
_TYPE_NAMES = {
    "string": "STRING",
    "VARCHAR": "STRING",
    "unicode": "STRING",
    "text": "STRING",
    # The store's timestamps are naive local time: Spark's timestamp without time zone.
    "datetime": "TIMESTAMP_NTZ",
    "double": "DOUBLE",
    "DOUBLE": "DOUBLE",
    "float": "DOUBLE",
    "integer": "INT",
    "big_integer": "BIGINT",
    "boolean": "BOOLEAN",
}


class SparkTypeCompiler(compiler.GenericTypeCompiler):
    """Spark's type names in ``CAST`` (:data:`_TYPE_NAMES`; the others as SQL spells them)."""


for _visited, _spelled in _TYPE_NAMES.items():
    setattr(SparkTypeCompiler, f"visit_{_visited}", lambda self, type_, _s=_spelled, **kw: _s)


class SparkCompiler(compiler.SQLCompiler):
    """Spark SQL with every value rendered inline."""

    def render_literal_value(self, value, type_) -> str:
        """A Python value as a Spark SQL literal."""
        if value is None:
            return "NULL"
        if isinstance(value, bool):
            return "TRUE" if value else "FALSE"
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value) or math.isinf(value):
                return f"CAST('{value}' AS DOUBLE)"
            return f"{value!r}D"
        if isinstance(value, decimal.Decimal):
            return f"{value}BD"
        if isinstance(value, dt.datetime):
            return f"TIMESTAMP_NTZ '{value:%Y-%m-%d %H:%M:%S.%f}'"
        if isinstance(value, dt.date):
            return f"DATE '{value:%Y-%m-%d}'"
        if isinstance(value, str):
            escaped = value.replace("\\", "\\\\").replace("'", "\\'")
            return f"'{escaped}'"
        raise TypeError(f"no Spark SQL literal for {type(value).__name__}")

    def visit_extract(self, extract, **kw) -> str:
        """``EXTRACT``; epoch seconds (a DuckDB and PostgreSQL field) as Spark computes them."""
        if extract.field == "epoch":
            inner = self.process(extract.expr, **kw)
            # Seconds since 1970-01-01 00:00 of the naive value, read as UTC (the session's zone).
            return f"(unix_micros(CAST({inner} AS TIMESTAMP_LTZ)) / 1000000.0D)"
        return super().visit_extract(extract, **kw)


class SparkDialect(default.DefaultDialect):
    """Compiles SQLAlchemy Core statements to Spark SQL (never connects)."""

    name = NAME
    statement_compiler = SparkCompiler
    type_compiler_cls = SparkTypeCompiler
    preparer = SparkIdentifierPreparer
    supports_native_boolean = True
    supports_statement_cache = False
    # Spark's / divides integers as reals: no cast of the divisor needed.
    div_is_floordiv = False


@compiles(functions.month, NAME)
def _compile_month(element, compiler, **kw) -> str:
    return f"date_format({compiler.process(element.clauses, **kw)}, 'yyyy-MM')"


def to_sql(statement: sa.Select) -> str:
    """A select as Spark SQL text, its values inline."""
    return str(statement.compile(dialect=SparkDialect(), compile_kwargs={"literal_binds": True}))
