"""Parses and checks one chunk of a file in pandas against types, rules, ids and scope.

Every value is checked against its column's type and against the rule table
(:mod:`core.store.rules`), ids against the store, rows against the writer's scope.

A chunk gives the good records (the table's columns plus ``source_row``) and the rejected values
(row, column, value, reason code and values). The reasons name the file's own headers.
"""

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from core import calendars
from core.ingest import headers, reasons
from core.ingest.sources import Chunk
from core.store import rules, schema

DATETIME_FORMATS = (
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d",
    "%Y%m%d",
    "%Y%m%d%H%M%S",
    "%Y年%m月%d日",
    "%Y年%m月%d日 %H:%M",
)
PROBLEM_COLUMNS = ("row_number", "column_name", "value", "reason_code", "reason_values")


@dataclass(frozen=True)
class WriteScope:
    """What a scoped writer may change: the customers they may see, and where new ones may go.

    Attributes:
        customers: the ids of the stored customers the writer may see.
        regions: the districts a customer row may name (empty: any).
        transformer_areas: the transformer areas a customer row may name (empty: any).
        manager_id: the customer manager a customer row must name (None: any).
    """

    customers: pd.Index
    regions: tuple[str, ...] = ()
    transformer_areas: tuple[str, ...] = ()
    manager_id: str | None = None


@dataclass
class Context:
    """What the checks of one file need to know beyond the file.

    Attributes:
        table: the target table.
        now: the moment the import runs; later moments are the future.
        source_system: the system whose ids the file's customer ids are.
        known_customers: the stored customers' ids (None: not checked, a file outside the store).
        id_lookup: external id → customer id of the source system (unambiguous ones).
        ambiguous_ids: external ids the source system maps to several customers.
        vocabularies: the lists of the rule table's Known rules (districts, tariff codes).
        scope: the writer's scope (None: unscoped).
        in_scope: the writer's scope as a condition on a customers table (SQL checks).
        recorded_at: the moment (UTC) the import's rejected rows are stamped with; None: ``now``.
    """

    table: sa.Table
    now: dt.datetime
    source_system: str | None = None
    known_customers: pd.Index | None = None
    id_lookup: pd.Series | None = None
    ambiguous_ids: pd.Index | None = None
    vocabularies: dict[str, pd.Index] = field(default_factory=dict)
    scope: WriteScope | None = None
    in_scope: Callable[[sa.FromClause], sa.ColumnElement[bool]] | None = None
    recorded_at: dt.datetime | None = None

    @property
    def recorded(self) -> dt.datetime:
        """The stamp of the import's own records."""
        return self.recorded_at or self.now


def _typed(raw: pd.Series, column: sa.Column | None) -> bool:
    """Whether a typed file column (Parquet, Excel numbers) already holds the column's type."""
    if column is None or isinstance(column.type, sa.String | sa.Boolean):
        return False
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return isinstance(column.type, sa.DateTime | sa.Date)
    numeric = pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype)
    return numeric and isinstance(column.type, sa.Float | sa.Numeric | sa.Integer)


def text_of(raw: pd.Series, column: sa.Column | None = None) -> pd.Series:
    """Cell values as stripped strings, empty cells as missing; typed values stay as they are."""
    if _typed(raw, column):
        return raw
    if pd.api.types.is_float_dtype(raw.dtype):
        # Ids exported as numbers (3201000001.0) keep their digits, not a decimal point.
        integral = raw.notna() & (raw == np.floor(raw))
        text = raw.astype(object).where(~integral, raw.where(integral).astype("Int64").astype(str))
        return text_of(text.where(raw.notna(), None).astype(object))
    if raw.dtype == object:
        if pd.api.types.infer_dtype(raw, skipna=True) == "string":
            return text_of(raw.astype("str"))
        converted = raw.map(_cell_text, na_action="ignore")
        return text_of(converted.astype("str"))
    text = raw.astype("str") if not pd.api.types.is_string_dtype(raw.dtype) else raw
    text = text.str.strip()
    return text.where(text.str.len() > 0)


def _cell_text(value: object) -> object:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _arrow_strings(text: pd.Series) -> pa.Array:
    return pa.array(text.to_numpy(dtype=object, na_value=None), type=pa.string())


def parse_number(raw: pd.Series, text: pd.Series) -> pd.Series:
    """Numbers of a column; text that is no finite number (``nan``, ``inf``, ``abc``) is missing."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("float64")
    else:
        try:
            values = pd.Series(
                _arrow_strings(text).cast(pa.float64()).to_numpy(zero_copy_only=False),
                index=text.index,
            )
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            cleaned = text.str.replace(
                r"[,\s]|(kwh|kvarh|kva|kw|kv|元|°c)$", "", regex=True, case=False
            )
            values = pd.to_numeric(cleaned, errors="coerce").astype("float64")
    return values.where(np.isfinite(values))


def parse_datetime(raw: pd.Series, text: pd.Series) -> pd.Series:
    """Moments of a column in local time; text that is no date or time is missing."""
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert(calendars.LOCAL_TIME).dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.astype("datetime64[us]")
    if raw.dtype == object:
        parsed = pd.to_datetime(raw.where(text.notna()), errors="coerce", format="mixed")
        if isinstance(parsed.dtype, pd.DatetimeTZDtype):
            parsed = parsed.dt.tz_convert(calendars.LOCAL_TIME).dt.tz_localize(None)
        return parsed.astype("datetime64[us]")
    strings = _arrow_strings(text)
    result = pa.nulls(len(strings), pa.timestamp("us"))
    for pattern in DATETIME_FORMATS:
        pending = pc.and_(pc.is_null(result), pc.is_valid(strings))
        if not pc.any(pending).as_py():
            break
        attempt = pc.strptime(strings, format=pattern, unit="us", error_is_null=True)
        result = pc.if_else(pending, attempt, result)
    values = pd.Series(result.to_numpy(zero_copy_only=False), index=text.index).astype(
        "datetime64[us]"
    )
    pending = values.isna() & text.notna()
    if pending.any():
        values[pending] = pd.to_datetime(text[pending], errors="coerce", format="mixed")
    return values


def _parse_boolean(text: pd.Series) -> pd.Series:
    lowered = text.str.lower()
    values = pd.Series(pd.NA, index=text.index, dtype="boolean")
    values[lowered.isin(headers.TRUE_WORDS)] = True
    values[lowered.isin(headers.FALSE_WORDS)] = False
    return values


def _parse_period(text: pd.Series) -> pd.Series:
    parts = text.str.extract(r"^(\d{4})\D?(\d{1,2})\D?$")
    month = pd.to_numeric(parts[1], errors="coerce")
    valid = parts[0].notna() & month.between(1, 12)
    formatted = parts[0] + "-" + month.astype("Int64").astype("str").str.zfill(2)
    return formatted.where(valid)


class Problems:
    """Rejected values of one chunk: (row, column, value, reason) collected vectorised.

    Attributes:
        row_numbers: each row's number in the file.
        bad: which rows have a rejected value.
    """

    def __init__(self, row_numbers: np.ndarray, mapping: headers.ColumnMapping) -> None:
        self.row_numbers = row_numbers
        self.mapping = mapping
        self.parts: list[pd.DataFrame] = []
        self.bad = np.zeros(len(row_numbers), dtype=bool)
        self.cells: dict[str, np.ndarray] = {}

    def add(
        self,
        mask: pd.Series | np.ndarray,
        column: str,
        values: pd.Series,
        code: str,
        **reason: object,
    ) -> None:
        """Rejects the rows of ``mask``: ``column`` broke the rule of ``code``.

        ``column`` is a store column or a file header; the reason's words get ``reason`` and the
        file's header for the column.
        """
        mask = np.asarray(mask, dtype=bool)
        # A value gets one reason, the first rule it breaks: 2099 is in the future, and that is
        # enough to say.
        cells = self.cells.setdefault(column, np.zeros(len(mask), dtype=bool))
        mask = mask & ~cells
        if not mask.any():
            return
        cells |= mask
        self.bad |= mask
        shown = values.to_numpy(dtype=object)[mask]
        stored = reasons.values_json(self.mapping.header_of(column), **reason)
        self.parts.append(
            pd.DataFrame(
                {
                    "row_number": self.row_numbers[mask],
                    "column_name": column,
                    "value": [None if pd.isna(value) else str(value) for value in shown],
                    "reason_code": code,
                    "reason_values": stored,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        """The rejected values.

        Returns:
            ``row_number``, ``column_name``, ``value``, ``reason_code``, ``reason_values``.
        """
        if not self.parts:
            return pd.DataFrame(columns=[*PROBLEM_COLUMNS])
        return pd.concat(self.parts, ignore_index=True)


def check(
    chunk: Chunk, mapping: headers.ColumnMapping, context: Context
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parses and checks one chunk.

    Args:
        chunk: the rows.
        mapping: how the file's headers map onto the table.
        context: what the checks know beyond the file.

    Returns:
        The good records (the table's columns the file gives, plus ``source_row``) and the
        rejected values (see :meth:`Problems.frame`).
    """
    table = context.table
    frame = chunk.frame
    problems = Problems(chunk.numbers(), mapping)
    raw = {
        column: frame[header].reset_index(drop=True) for header, column in mapping.columns.items()
    }
    texts = {column: text_of(values, table.c.get(column)) for column, values in raw.items()}
    if table.name == "id_map" and "system" not in texts and context.source_system:
        texts["system"] = pd.Series(context.source_system, index=range(len(frame)), dtype="str")
        raw["system"] = texts["system"]
    if table.name == "readings":
        _combine_date_time(raw, texts)
    parsed: dict[str, pd.Series] = {}
    filled = headers.defaults(table)
    for column in table.columns:
        name = column.name
        if name not in texts:
            continue
        text = texts[name]
        if name in filled:
            text = text.fillna(str(filled[name]))
        values = _parse_column(name, column, raw.get(name, text), text, problems)
        if not column.nullable:
            problems.add(text.isna(), name, text, reasons.EMPTY)
        parsed[name] = values
    apply_rules(parsed, texts, problems, context)
    for column in table.columns:
        if column.name in parsed and isinstance(column.type, sa.Integer):
            parsed[column.name] = parsed[column.name].astype("Int64")
    if "customer_id" in parsed:
        _resolve_customers(parsed, texts, problems, context)
    if context.scope is not None:
        _check_scope(parsed, texts, problems, context)
    if mapping.layout == "wide":
        records = _wide_records(frame, mapping, parsed, problems, context)
    else:
        good = ~problems.bad
        records = pd.DataFrame({name: values[good] for name, values in parsed.items()})
        records["source_row"] = problems.row_numbers[good]
        records = records.reset_index(drop=True)
    return records, _with_customers(problems, parsed, texts)


def _with_customers(
    problems: Problems, parsed: dict[str, pd.Series], texts: dict[str, pd.Series]
) -> pd.DataFrame:
    """The rejected values with the customer each row is about (who may see it follows)."""
    frame = problems.frame()
    ids = parsed.get("customer_id")
    if ids is None:
        frame["customer_id"] = None
        return frame
    named = ids.where(ids.notna(), texts["customer_id"]).astype(object)
    # An id too long to be one names nobody.
    named = named.where(named.str.len() <= schema.CUSTOMER_ID_LENGTH, None)
    by_row = pd.Series(named.to_numpy(), index=problems.row_numbers)
    frame["customer_id"] = by_row.reindex(frame["row_number"].to_numpy()).to_numpy()
    return frame


def _combine_date_time(raw: dict[str, pd.Series], texts: dict[str, pd.Series]) -> None:
    """Readings give their time as ts, as date + time, as date alone (daily) or as time alone."""
    if "ts" in texts:
        return
    date, time = texts.pop("date", None), texts.pop("time", None)
    raw.pop("date", None)
    raw.pop("time", None)
    if date is not None and time is not None:
        combined = (date + " " + time).where(date.notna() & time.notna())
    else:
        combined = date if date is not None else time
    if combined is not None:
        texts["ts"] = combined
        raw["ts"] = combined


def _parse_column(
    name: str, column: sa.Column, raw: pd.Series, text: pd.Series, problems: Problems
) -> pd.Series:
    kind = column.type
    if name in headers.VALUE_ALIASES:
        aliases = headers.VALUE_ALIASES[name]
        text = text.str.lower().map(lambda value: aliases.get(value, value), na_action="ignore")
        text = text.astype("str").where(text.notna())
    if name == "period":
        values = _parse_period(text)
        problems.add(text.notna() & values.isna(), name, text, reasons.BAD_PERIOD)
        return values
    if isinstance(kind, sa.Boolean):
        values = _parse_boolean(text)
        problems.add(text.notna() & values.isna(), name, text, reasons.NOT_BOOLEAN)
        return values
    if isinstance(kind, sa.DateTime | sa.Date):
        values = parse_datetime(raw, text)
        problems.add(text.notna() & values.isna(), name, text, reasons.NOT_DATE)
        if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            return values.dt.floor("D").dt.date.astype(object).where(values.notna(), None)
        return values
    if isinstance(kind, sa.Integer):
        values = parse_number(raw, text)
        problems.add(text.notna() & values.isna(), name, text, reasons.NOT_NUMBER)
        integral = values.notna() & (values != np.floor(values))
        problems.add(integral, name, text, reasons.NOT_INTEGER)
        # Integers are checked against the rules as numbers; wrong ones are rejected anyway.
        return values.where(~integral).round()
    if isinstance(kind, sa.Float | sa.Numeric):
        values = parse_number(raw, text)
        problems.add(text.notna() & values.isna(), name, text, reasons.NOT_NUMBER)
        if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
            values = values.round(kind.scale or 0)
        return values
    length = getattr(kind, "length", None)
    if length:
        problems.add(text.str.len() > length, name, text, reasons.TOO_LONG, length=length)
    return text


def violations(
    rule: rules.Rule,
    parsed: dict[str, pd.Series],
    now: dt.datetime,
    vocabularies: dict[str, pd.Index],
) -> pd.Series | None:
    """Where parsed values break a rule (pandas), or None when the values lack its columns.

    Capacity rules need every reading of a customer; they are checked over the staged file
    (:mod:`core.ingest.land`) or the whole frame (:mod:`core.ingest.readings`).
    """
    if rule.column not in parsed or isinstance(rule, rules.WithinCapacity):
        return None
    values = parsed[rule.column]
    if isinstance(rule, rules.Range):
        numbers = pd.to_numeric(values, errors="coerce").astype("float64")
        broken = pd.Series(False, index=values.index)
        if rule.minimum is not None:
            broken |= numbers <= rule.minimum if rule.above_minimum else numbers < rule.minimum
        if rule.maximum is not None:
            broken |= numbers > rule.maximum
        return broken.fillna(False)
    if isinstance(rule, rules.Allowed):
        return values.notna() & ~values.isin(rule.allowed)
    if isinstance(rule, rules.Known):
        known = vocabularies.get(rule.vocabulary)
        if known is None or len(known) == 0:
            return None
        return values.notna() & ~values.isin(known)
    if isinstance(rule, rules.NotFuture):
        return (pd.to_datetime(values) > pd.Timestamp(now)).fillna(False)
    if isinstance(rule, rules.PlausibleDate):
        earliest, latest = rules.date_bounds(now)
        moments = pd.to_datetime(values)
        return ((moments < pd.Timestamp(earliest)) | (moments > pd.Timestamp(latest))).fillna(False)
    if isinstance(rule, rules.Order):
        if rule.earlier not in parsed:
            return None
        first, second = pd.to_datetime(parsed[rule.earlier]), pd.to_datetime(values)
        return (second < first).fillna(False)
    if isinstance(rule, rules.OnGrid):
        ts = pd.to_datetime(values)
        minutes_into_day = ts.dt.hour * 60 + ts.dt.minute
        off_grid = (minutes_into_day % rule.minutes != 0) | (ts.dt.second != 0)
        return (ts.notna() & off_grid).fillna(False)
    raise TypeError(f"no pandas form for {type(rule).__name__}")


def apply_rules(
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: Problems,
    context: Context,
    *,
    table_name: str | None = None,
    column_name: str | None = None,
) -> None:
    """Rejects the values that break a rule of the table.

    Args:
        parsed: column → parsed values.
        texts: column → the cells as text (what a rejection shows).
        problems: where rejections go.
        context: the moment and the vocabularies.
        table_name: the rules of this table (default: the context's).
        column_name: the name rejections carry (default: the rule's column), e.g. a wide
            layout's value header.
    """
    for rule in rules.for_table(table_name or context.table.name):
        broken = violations(rule, parsed, context.now, context.vocabularies)
        if broken is None:
            continue
        values = rules.reason_values(rule, "", context.now)
        values.pop("column")
        if isinstance(rule, rules.Order):
            values["earlier"] = problems.mapping.header_of(rule.earlier)
        problems.add(broken, column_name or rule.column, texts[rule.column], rule.code, **values)


def _resolve_customers(
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: Problems,
    context: Context,
) -> None:
    ids = parsed["customer_id"]
    present = ids.notna()
    if context.id_lookup is not None and context.table.name != "id_map":
        problems.add(
            present & ids.isin(context.ambiguous_ids),
            "customer_id",
            texts["customer_id"],
            reasons.AMBIGUOUS,
        )
        resolved = ids.map(context.id_lookup)
        problems.add(
            present & resolved.isna() & ~ids.isin(context.ambiguous_ids),
            "customer_id",
            texts["customer_id"],
            reasons.UNRESOLVED,
            system=context.source_system,
        )
        ids = resolved.astype("str").where(resolved.notna())
        parsed["customer_id"] = ids
    if context.known_customers is not None and context.table.name != "customers":
        problems.add(
            ids.notna() & ~ids.isin(context.known_customers),
            "customer_id",
            texts["customer_id"],
            reasons.UNKNOWN_CUSTOMER,
        )


def _check_scope(
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: Problems,
    context: Context,
) -> None:
    """Rejects rows of customers the writer may not see, and customers moved out of reach."""
    scope = context.scope
    assert scope is not None
    ids = parsed.get("customer_id")
    if context.table is schema.applications:
        _check_applicant_scope(ids, parsed, texts, problems, scope)
    if ids is None:
        return
    known = context.known_customers if context.known_customers is not None else pd.Index([])
    stored = ids.notna() & ids.isin(known)
    problems.add(
        stored & ~ids.isin(scope.customers),
        "customer_id",
        texts["customer_id"],
        reasons.OUT_OF_SCOPE,
    )
    if context.table is not schema.customers:
        return
    # A customer row may only name the districts, areas and manager of the writer's scope.
    limits = {
        "region": scope.regions,
        "transformer_area": scope.transformer_areas,
        "manager_id": (scope.manager_id,) if scope.manager_id is not None else (),
    }
    for column, allowed in limits.items():
        if not allowed:
            continue
        values = parsed.get(column)
        if values is None:
            # A new customer without the column would land outside the writer's reach.
            problems.add(
                ids.notna() & ~stored, "customer_id", texts["customer_id"], reasons.OUT_OF_SCOPE
            )
            continue
        outside = values.notna() & ~values.isin(allowed)
        outside |= values.isna() & ~stored
        problems.add(outside, column, texts[column], reasons.OUT_OF_SCOPE)


def _check_applicant_scope(
    ids: pd.Series | None,
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: Problems,
    scope: WriteScope,
) -> None:
    """Rejects applicants who are no customer yet outside the writer's districts.

    Such an applicant belongs to a district only, as the windows scope them
    (:func:`core.kpis.business.application_scope`): a writer of some transformer areas or of
    their own customers may not add one, a district writer only in their districts.
    """
    regions = parsed.get("region")
    if regions is None:
        return
    applicant = ids.isna() if ids is not None else pd.Series(True, index=regions.index)
    if scope.transformer_areas or scope.manager_id is not None:
        outside = applicant
    elif scope.regions:
        outside = applicant & regions.notna() & ~regions.isin(scope.regions)
    else:
        return
    problems.add(outside, "region", texts["region"], reasons.OUT_OF_SCOPE)


def _wide_records(
    frame: pd.DataFrame,
    mapping: headers.ColumnMapping,
    parsed: dict[str, pd.Series],
    problems: Problems,
    context: Context,
) -> pd.DataFrame:
    """Unpivots wide readings: one record per customer, day and value column."""
    row_ok = ~problems.bad
    day = pd.to_datetime(parsed["ts"]).dt.floor("D")
    parts = []
    kwh_column = schema.readings.c.kwh
    for header, minutes in mapping.wide.items():
        raw = frame[header].reset_index(drop=True)
        text = text_of(raw, kwh_column)
        values = parse_number(raw, text)
        # Cells of a row rejected as a whole (unknown customer, bad date) are not checked again.
        cell = Problems(problems.row_numbers, mapping)
        ts = day + pd.Timedelta(minutes=minutes)
        cell.add(row_ok & (text.notna() & values.isna()), header, text, reasons.NOT_NUMBER)
        cell_parsed = {"kwh": values, "ts": ts}
        cell_texts = {"kwh": text, "ts": text}
        checked = Problems(problems.row_numbers, mapping)
        apply_rules(cell_parsed, cell_texts, checked, context, column_name=header)
        for part in checked.parts:
            keep_rows = np.isin(part["row_number"].to_numpy(), problems.row_numbers[row_ok])
            cell.parts.append(part[keep_rows])
        cell.bad |= checked.bad & row_ok
        problems.parts.extend(part for part in cell.parts if len(part))
        # An empty cell is a reading the collection system did not get: no record, no rejection.
        keep = row_ok & values.notna().to_numpy() & ~cell.bad
        parts.append(
            pd.DataFrame(
                {
                    "customer_id": parsed["customer_id"][keep],
                    "ts": ts[keep].astype("datetime64[us]"),
                    "kwh": values[keep],
                    "source_row": problems.row_numbers[keep],
                }
            )
        )
    records = pd.concat(parts, ignore_index=True).sort_values(["source_row", "ts"], kind="stable")
    return records.reset_index(drop=True)
