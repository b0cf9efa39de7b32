"""Portable SQL functions: one expression, compiled for DuckDB, PostgreSQL and SQLite."""

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import expression


class day(expression.FunctionElement):
    """The calendar day of a timestamp."""

    type = sa.Date()
    inherit_cache = True
    name = "day"


@compiles(day)
def _compile_day(element, compiler, **kw) -> str:
    return f"CAST({compiler.process(element.clauses, **kw)} AS DATE)"


@compiles(day, "sqlite")
def _compile_day_sqlite(element, compiler, **kw) -> str:
    return f"date({compiler.process(element.clauses, **kw)})"


class hour_start(expression.FunctionElement):
    """A timestamp truncated to the start of its hour."""

    type = sa.DateTime()
    inherit_cache = True
    name = "hour_start"


@compiles(hour_start)
def _compile_hour_start(element, compiler, **kw) -> str:
    return f"date_trunc('hour', {compiler.process(element.clauses, **kw)})"


@compiles(hour_start, "sqlite")
def _compile_hour_start_sqlite(element, compiler, **kw) -> str:
    # The text form SQLAlchemy stores DateTime values in on SQLite, so equality joins match.
    return f"strftime('%Y-%m-%d %H:00:00.000000', {compiler.process(element.clauses, **kw)})"


class month(expression.FunctionElement):
    """The billing period (``YYYY-MM``) of a timestamp or date."""

    type = sa.String()
    inherit_cache = True
    name = "billing_month"


@compiles(month)
def _compile_month(element, compiler, **kw) -> str:
    return f"strftime({compiler.process(element.clauses, **kw)}, '%Y-%m')"


@compiles(month, "postgresql")
def _compile_month_postgresql(element, compiler, **kw) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'YYYY-MM')"


@compiles(month, "sqlite")
def _compile_month_sqlite(element, compiler, **kw) -> str:
    return f"strftime('%Y-%m', {compiler.process(element.clauses, **kw)})"


class greatest(expression.FunctionElement):
    """The larger of two values."""

    type = sa.Float()
    inherit_cache = True
    name = "greatest"


@compiles(greatest)
def _compile_greatest(element, compiler, **kw) -> str:
    return f"greatest({compiler.process(element.clauses, **kw)})"


@compiles(greatest, "sqlite")
def _compile_greatest_sqlite(element, compiler, **kw) -> str:
    # SQLite's two-argument max() is the scalar other backends call greatest().
    return f"max({compiler.process(element.clauses, **kw)})"


class days_between(expression.FunctionElement):
    """Whole calendar days from the second date to the first: ``days_between(later, earlier)``."""

    type = sa.Integer()
    inherit_cache = True
    name = "days_between"


@compiles(days_between)
def _compile_days_between(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"date_diff('day', CAST({earlier} AS DATE), CAST({later} AS DATE))"


@compiles(days_between, "postgresql")
def _compile_days_between_postgresql(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST({later} AS DATE) - CAST({earlier} AS DATE))"


@compiles(days_between, "sqlite")
def _compile_days_between_sqlite(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(julianday(date({later})) - julianday(date({earlier})) AS INTEGER)"


class hours_between(expression.FunctionElement):
    """Hours (with their fraction) from the second timestamp to the first."""

    type = sa.Float()
    inherit_cache = True
    name = "hours_between"


@compiles(hours_between)
def _compile_hours_between(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return (
        f"(CAST(epoch(CAST({later} AS TIMESTAMP)) AS DOUBLE)"
        f" - CAST(epoch(CAST({earlier} AS TIMESTAMP)) AS DOUBLE)) / 3600.0"
    )


@compiles(hours_between, "postgresql")
def _compile_hours_between_postgresql(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    span = f"CAST({later} AS TIMESTAMP) - CAST({earlier} AS TIMESTAMP)"
    return f"EXTRACT(EPOCH FROM ({span})) / 3600.0"


@compiles(hours_between, "sqlite")
def _compile_hours_between_sqlite(element, compiler, **kw) -> str:
    later, earlier = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(julianday({later}) - julianday({earlier})) * 24.0"
