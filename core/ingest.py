"""File import with validation: good rows land, bad rows are kept with the reason, nothing twice.

An import reads a CSV (UTF-8 or GBK/GB18030, comma or tab), Excel (.xlsx) or Parquet file in
chunks, maps its headers (the store's column names or the common Chinese headers) onto one table
of the store, validates every value, and lands the good rows in one transaction:

1. good rows go to a temporary staging table, bad values to ``rejected_rows`` with the file, row
   number, column, value and the reason in words;
2. rows repeating an earlier row's key inside the file are rejected as duplicates;
3. the rows the file covers are deleted from the table (readings and weather: each series' time
   range; other tables: the same keys), then the staged rows are inserted, so importing a file
   again changes nothing and a corrected file replaces what it covers;
4. the ``imports`` row is completed and the data version bumped.

A failure anywhere rolls the whole import back. Readings arrive in the long layout (one row per
interval) or the wide layout collection systems export (one row per customer and day with 24 or
96 value columns); the interval (15/30/60 minutes or daily) is detected per customer.
"""

import codecs
import contextlib
import csv
import datetime as dt
import io
import json
import re
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import sqlalchemy as sa

from core import access, i18n, tariffs
from core.store import engine as store_engine
from core.store import schema

# Rows validated and staged at a time: bounds memory for multi-GB files while keeping the
# per-chunk overhead (one bulk insert, one round of vectorised checks) small.
CHUNK_ROWS = 500_000
# Bytes pyarrow parses per CSV block; a block of hourly readings is roughly 400,000 rows.
CSV_BLOCK_BYTES = 16 << 20
# Bytes read to detect the encoding and the delimiter.
SNIFF_BYTES = 1 << 16

# Physical limits past which a value is an error, not an unusual customer.
MAX_READING_KWH = 10_000_000.0
MAX_CAPACITY_KVA = 1_000_000.0
MAX_VOLTAGE_KV = 1000.0
TEMPERATURE_RANGE_C = (-60.0, 60.0)
SATISFACTION_RANGE = (1, 5)
# Readings start on a quarter hour: the finest interval the metering system records.
READING_GRID_MINUTES = 15
# The intervals readings come in, with a name in the ingest catalog.
INTERVAL_MINUTES = (15, 30, 60, 1440)
WIDE_COLUMN_MINUTES = {24: 60, 96: 15}

Layout = Literal["long", "wide"]
Progress = Callable[[int, float], None]

# Tables that refer to customers resolve source-system ids through id_map.
CUSTOMER_TABLES = (
    "readings",
    "bills",
    "work_orders",
    "channel_activity",
    "outages",
    "campaign_members",
)

# Common Chinese headers of marketing, metering and 95598 exports, after _normalise_header.
COMMON_HEADERS = {
    "户号": "customer_id",
    "用户编号": "customer_id",
    "用户号": "customer_id",
    "电力户号": "customer_id",
    "客户户号": "customer_id",
    "户名": "name",
    "用户名称": "name",
    "客户名称": "name",
    "用电类别": "customer_class",
    "用户类别": "customer_class",
    "客户类别": "customer_class",
    "行业": "industry",
    "行业分类": "industry",
    "电压等级": "voltage_kv",
    "供电电压": "voltage_kv",
    "合同容量": "contract_capacity_kva",
    "运行容量": "contract_capacity_kva",
    "区县": "region",
    "所属区县": "region",
    "供电区域": "region",
    "地区": "region",
    "台区": "transformer_area",
    "台区名称": "transformer_area",
    "纬度": "lat",
    "经度": "lon",
    "电价代码": "tariff_code",
    "电价编码": "tariff_code",
    "执行电价": "tariff_code",
    "立户日期": "open_date",
    "开户日期": "open_date",
    "客户经理": "manager_id",
    "客户经理编号": "manager_id",
    "电话": "phone",
    "联系电话": "phone",
    "手机号": "phone",
    "用户状态": "status",
    "状态": "status",
    "系统": "system",
    "来源系统": "system",
    "外部编号": "external_id",
    "外部标识": "external_id",
    "是否有效": "active",
    "有效": "active",
    "日期": "date",
    "数据日期": "date",
    "数据时间": "ts",
    "采集时间": "ts",
    "日期时间": "ts",
    "时间戳": "ts",
    "时间": "time",
    "时刻": "time",
    "电量": "kwh",
    "有功电量": "kwh",
    "用电量": "kwh",
    "正向有功电量": "kwh",
    "无功电量": "kvarh",
    "温度": "temperature_c",
    "气温": "temperature_c",
    "账期": "period",
    "电费年月": "period",
    "年月": "period",
    "峰电量": "kwh_peak",
    "平电量": "kwh_flat",
    "谷电量": "kwh_valley",
    "尖峰电量": "kwh_critical",
    "总电量": "kwh_total",
    "结算电量": "kwh_total",
    "电费": "amount_cny",
    "应收电费": "amount_cny",
    "电费金额": "amount_cny",
    "缴费截止日期": "due_date",
    "应缴日期": "due_date",
    "缴费日期": "paid_date",
    "实缴日期": "paid_date",
    "实收电费": "paid_cny",
    "实缴金额": "paid_cny",
    "工单编号": "order_id",
    "工单号": "order_id",
    "受理时间": "created_at",
    "创建时间": "created_at",
    "办结时间": "closed_at",
    "归档时间": "closed_at",
    "工单类型": "type",
    "业务类型": "type",
    "渠道": "channel",
    "受理渠道": "channel",
    "满意度": "satisfaction",
    "工单内容": "description",
    "内容": "description",
    "描述": "description",
    "次数": "events",
    "事件数": "events",
    "事件编号": "event_id",
    "停电编号": "event_id",
    "停电开始时间": "start",
    "开始时间": "start",
    "恢复时间": "end",
    "结束时间": "end",
    "计划停电": "planned",
    "是否计划": "planned",
    "活动编号": "campaign_id",
    "活动名称": "name",
    "目标": "goal",
    "活动目标": "goal",
    "权益": "offer",
    "优惠": "offer",
    "开始日期": "start_date",
    "结束日期": "end_date",
    "单次触达成本": "cost_per_contact_cny",
    "分组": "arm",
    "触达时间": "contacted_at",
    "响应时间": "responded_at",
    "转化时间": "converted_at",
    "转化价值": "value_cny",
}

# Values exports spell in Chinese, mapped onto the store's codes.
VALUE_ALIASES = {
    "customer_class": {
        "居民": "residential",
        "居民生活": "residential",
        "商业": "commercial",
        "一般工商业": "commercial",
        "工业": "industrial",
        "大工业": "industrial",
        "农业": "agricultural",
        "农业生产": "agricultural",
    },
    "goal": {"拉新": "acquire", "促活": "activate", "留存": "retain", "挽留": "retain"},
    "arm": {"实验组": "treatment", "处理组": "treatment", "对照组": "control"},
    "status": {"正常": "active", "在用": "active", "销户": "closed", "暂停": "suspended"},
}
ALLOWED_VALUES = {
    "customer_class": schema.CUSTOMER_CLASSES,
    "goal": schema.CAMPAIGN_GOALS,
    "arm": schema.CAMPAIGN_ARMS,
}
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "有效", "计划"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "无效", "非计划"}

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

# Numeric ranges: (table, column, minimum, maximum, reason code, reason values); None leaves that
# side open.
RANGES: tuple[tuple[str, str, float | None, float | None, str, dict[str, str]], ...] = (
    ("readings", "kwh", 0.0, None, "negative", {}),
    (
        "readings",
        "kwh",
        None,
        MAX_READING_KWH,
        "too_much_energy",
        {"limit": f"{MAX_READING_KWH:,.0f}"},
    ),
    ("readings", "kvarh", 0.0, None, "negative", {}),
    (
        "customers",
        "contract_capacity_kva",
        1e-9,
        MAX_CAPACITY_KVA,
        "not_capacity",
        {"limit": f"{MAX_CAPACITY_KVA:,.0f}"},
    ),
    (
        "customers",
        "voltage_kv",
        1e-9,
        MAX_VOLTAGE_KV,
        "not_voltage",
        {"limit": f"{MAX_VOLTAGE_KV:,.0f}"},
    ),
    ("customers", "lat", -90.0, 90.0, "not_latitude", {}),
    ("customers", "lon", -180.0, 180.0, "not_longitude", {}),
    (
        "weather",
        "temperature_c",
        *TEMPERATURE_RANGE_C,
        "temperature",
        {"low": f"{TEMPERATURE_RANGE_C[0]:.0f}", "high": f"{TEMPERATURE_RANGE_C[1]:.0f}"},
    ),
    ("bills", "kwh_peak", 0.0, None, "negative", {}),
    ("bills", "kwh_flat", 0.0, None, "negative", {}),
    ("bills", "kwh_valley", 0.0, None, "negative", {}),
    ("bills", "kwh_critical", 0.0, None, "negative", {}),
    ("bills", "kwh_total", 0.0, None, "negative", {}),
    ("bills", "paid_cny", 0.0, None, "negative", {}),
    (
        "work_orders",
        "satisfaction",
        *SATISFACTION_RANGE,
        "satisfaction",
        {"low": str(SATISFACTION_RANGE[0]), "high": str(SATISFACTION_RANGE[1])},
    ),
    ("channel_activity", "events", 0.0, None, "negative", {}),
    ("campaigns", "cost_per_contact_cny", 0.0, None, "negative", {}),
    ("campaign_members", "value_cny", 0.0, None, "negative", {}),
)

# Columns that record something that has happened, so they cannot lie in the future. Weather
# (forecasts), planned outages and campaign dates may.
PAST_COLUMNS = {
    "customers": ("open_date",),
    "readings": ("ts",),
    "bills": ("paid_date",),
    "work_orders": ("created_at", "closed_at"),
    "channel_activity": ("date",),
    "campaign_members": ("contacted_at", "responded_at", "converted_at"),
}

# (earlier, later) pairs that must be in this order.
ORDER_RULES = {
    "work_orders": (("created_at", "closed_at"),),
    "outages": (("start", "end"),),
    "campaigns": (("start_date", "end_date"),),
    "campaign_members": (("contacted_at", "responded_at"), ("contacted_at", "converted_at")),
}

# The key that identifies a row of each table inside a file; readings have no primary key.
ROW_KEYS = {"readings": ("customer_id", "ts")}
# Time-series tables: a file replaces each series' whole time range, so a corrected file that
# leaves out a wrong reading removes it.
SERIES_COLUMN = {"readings": "customer_id", "weather": "region"}

# Rejection reasons are stored as a code with its values (JSON) beside the English words, so
# they can be shown in the reader's language; the words live in the ingest catalog.
REASON_EMPTY = "empty"
REASON_NOT_NUMBER = "not_number"
REASON_NOT_INTEGER = "not_integer"
REASON_NOT_DATE = "not_date"
REASON_NOT_BOOLEAN = "not_boolean"
REASON_TOO_LONG = "too_long"
REASON_FUTURE = "future"
REASON_OFF_GRID = "off_grid"
REASON_UNKNOWN_CUSTOMER = "unknown_customer"
REASON_UNRESOLVED = "unresolved"
REASON_AMBIGUOUS = "ambiguous"
REASON_UNKNOWN_TARIFF = "unknown_tariff"
REASON_BAD_PERIOD = "bad_period"
REASON_DUPLICATE = "duplicate"
# The duplicates of a file counted together, without the row each repeats.
REASON_DUPLICATES = "duplicates"
REASON_MALFORMED = "malformed"
REASON_NOT_ALLOWED = "not_allowed"
REASON_BEFORE = "before"


def reason_values(column: str | None, **values: object) -> str:
    """A reason's values as the JSON stored with it, keys sorted so equal reasons store alike.

    Args:
        column: the column or file header the reason is about; None for a whole row.
        **values: the reason's other values (limits, the row repeated, ...).

    Returns:
        A JSON object of texts.
    """
    named = {"column": column} if column is not None else {}
    named.update({name: str(value) for name, value in values.items()})
    return json.dumps(named, ensure_ascii=False, sort_keys=True)


def reason_text(code: str, values: str | None, language: str = "en") -> str:
    """The words of a rejection reason in a language.

    Args:
        code: the reason's code (``negative``, ``unknown_customer``, ...).
        values: its values as stored (JSON), or None.
        language: ``en`` or ``zh``.

    Returns:
        The reason as a sentence for the reader.
    """
    filled = json.loads(values) if values else {}
    return i18n.translate(f"ingest.reason.{code}", language, **filled)


def interval_name(minutes: int, language: str = "en") -> str:
    """A reading interval in words (``hourly``, ``15-minute``)."""
    if minutes in INTERVAL_MINUTES:
        return i18n.translate(f"ingest.interval.minutes_{minutes}", language)
    return i18n.translate("ingest.interval.other", language, minutes=minutes)


@dataclass(frozen=True)
class ColumnMapping:
    """How a file's headers map onto a table's columns.

    Attributes:
        table: the target table's name.
        columns: file header → column name, for the headers that map onto a column.
        wide: for readings in the wide layout, file header → minutes after midnight.
        ignored: headers that map onto nothing and are not imported.
        layout: ``long`` (one row per record) or ``wide`` (readings: one row per customer-day).
    """

    table: str
    columns: dict[str, str]
    wide: dict[str, int]
    ignored: tuple[str, ...]
    layout: Layout

    def as_frame(self) -> pd.DataFrame:
        """The mapping as a table to show: one row per file header."""
        rows = [(header, column) for header, column in self.columns.items()]
        rows += [
            (header, f"kwh @ {minutes // 60:02d}:{minutes % 60:02d}")
            for header, minutes in self.wide.items()
        ]
        rows += [(header, None) for header in self.ignored]
        return pd.DataFrame(rows, columns=["file_header", "column"])


@dataclass
class ImportResult:
    """What an import did.

    Attributes:
        import_id: the ``imports`` row of this import.
        table: the target table.
        file_name: the file's name as recorded.
        encoding: the text encoding read (``utf-8``, ``gb18030``), or the format for binary files.
        mapping: how the headers were mapped.
        rows_read: data rows in the file.
        rows_landed: records written to the table (wide readings: one per value).
        rows_rejected: file rows with at least one rejected value.
        rows_replaced: records of earlier imports this file replaced.
        reasons: rejected values by reason, in English.
        reason_counts: rejected values by (reason code, reason values as JSON).
        intervals: readings: number of customers by detected interval (``hourly``, ...).
        customer_intervals: readings: each customer's detected interval in minutes.
        features_refreshed: customers whose features were recomputed after the import.
        customers_touched: the customers the landed rows belong to (up to
            :data:`FEATURE_REFRESH_ALL_ABOVE` and one more); None for tables without customers.
    """

    import_id: int
    table: str
    file_name: str
    encoding: str
    mapping: ColumnMapping
    rows_read: int = 0
    rows_landed: int = 0
    rows_rejected: int = 0
    rows_replaced: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    reason_counts: dict[tuple[str, str], int] = field(default_factory=dict)
    intervals: dict[str, int] = field(default_factory=dict)
    customer_intervals: dict[str, int] = field(default_factory=dict)
    features_refreshed: int = 0
    customers_touched: list[str] | None = None

    def reason_summary(self, language: str = "en") -> pd.DataFrame:
        """Rejected values by reason in a language, most frequent first: ``reason``, ``count``."""
        rows = [
            (reason_text(code, values, language), count)
            for (code, values), count in self.reason_counts.items()
        ]
        frame = pd.DataFrame(rows, columns=["reason", "count"])
        return frame.sort_values(["count", "reason"], ascending=[False, True], ignore_index=True)

    def interval_summary(self, language: str = "en") -> str:
        """Readings: customers by detected interval, in words (``hourly: 2, daily: 1``)."""
        counts = Counter(self.customer_intervals.values())
        return ", ".join(
            f"{interval_name(minutes, language)}: {count}"
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
                replaced=f"{self.rows_replaced:,}",
            ),
        ]
        summary = self.reason_summary(language).sort_values("reason")
        lines += [
            t("reason", count=f"{count:,}", reason=reason)
            for reason, count in zip(summary["reason"], summary["count"], strict=True)
        ]
        if self.customer_intervals:
            lines.append(t("intervals", intervals=self.interval_summary(language)))
        if self.features_refreshed:
            lines.append(t("features", customers=f"{self.features_refreshed:,}"))
        return "\n".join(lines)


@dataclass
class _Chunk:
    first_row: int
    frame: pd.DataFrame
    row_numbers: np.ndarray | None = None


@dataclass
class _Source:
    headers: list[str]
    encoding: str
    chunks: Callable[[], Iterator[_Chunk]]
    malformed: list[tuple[int | None, str]] = field(default_factory=list)
    # Set when the fast CSV reader gave up: read with the exact, line-numbering reader.
    exact: bool = False
    # Parquet files keep their typed columns, which the store can check without pandas.
    parquet: pq.ParquetFile | None = None
    # Record batches of the named columns, text columns dictionary-encoded (Parquet only).
    arrow_batches: Callable[[list[str], int], Iterator[pa.RecordBatch]] | None = None


class _MalformedRows(Exception):
    """The fast CSV reader met rows with the wrong number of fields; the exact reader takes over."""


@dataclass
class _Context:
    table: sa.Table
    file_name: str
    source_system: str | None
    now: dt.datetime
    known_customers: pd.Index | None
    id_lookup: pd.Series | None
    ambiguous_ids: pd.Index | None
    tariff_codes: pd.Index | None


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


# Imports from the sessions of one app process take turns: DuckDB refuses the second of two
# concurrent writers at commit, and the loser would have to start its file again.
_IMPORT_LOCK = threading.Lock()


@contextlib.contextmanager
def _one_import_at_a_time() -> Iterator[None]:
    """Serialises imports in this process; a writer in another process still conflicts."""
    with _IMPORT_LOCK:
        try:
            yield
        except sa.exc.DBAPIError as error:
            if "conflict" not in str(error.orig).lower():
                raise
            raise ValueError(
                "another change to the store was being saved at the same moment, so nothing of "
                "this file was kept: import it again"
            ) from error


# Past this many customers in one file, refreshing everyone's features is as quick as a subset.
FEATURE_REFRESH_ALL_ABOVE = 5_000


def tables() -> list[str]:
    """The tables a file can be imported into (DESIGN §4)."""
    return [table.name for table in schema.ENTITY_TABLES]


def _entity_table(name: str) -> sa.Table:
    for table in schema.ENTITY_TABLES:
        if table.name == name:
            return table
    raise ValueError(
        f"there is no table {name!r} to import into; choose one of {', '.join(tables())}"
    )


def _normalise_header(header: object) -> str:
    text = str(header).replace("\ufeff", "").strip().lower()
    # Units in brackets ("电量(kWh)", "合同容量（kVA）") do not change what a column is.
    text = re.sub(r"[(（\[][^)）\]]*[)）\]]", "", text)
    return re.sub(r"\s+", "", text)


def _wide_offsets(headers: list[str]) -> dict[str, int] | None:
    """Minutes after midnight for each wide-layout value header, or None when they are not one."""
    count = len(headers)
    if count not in WIDE_COLUMN_MINUTES:
        return None
    step = WIDE_COLUMN_MINUTES[count]
    times, numbers = {}, {}
    for header in headers:
        text = _normalise_header(header)
        clock = re.match(r"^\D*(\d{1,2}):(\d{2})", text)
        if clock:
            times[header] = int(clock.group(1)) * 60 + int(clock.group(2))
            continue
        number = re.fullmatch(r"\D*(\d{1,3})\D*", text)
        if number:
            numbers[header] = int(number.group(1))
    if len(times) == count:
        expected = set(range(0, 1440, step))
        return times if set(times.values()) == expected else None
    if len(numbers) == count:
        values = set(numbers.values())
        if values == set(range(count)):
            return {header: value * step for header, value in numbers.items()}
        if values == set(range(1, count + 1)):
            # Column 1 is the first interval of the day (00:00 to 00:15 or 01:00).
            return {header: (value - 1) * step for header, value in numbers.items()}
    return None


def map_columns(table_name: str, headers: list[str]) -> ColumnMapping:
    """Maps a file's headers onto a table's columns.

    Args:
        table_name: the target table.
        headers: the file's headers in file order.

    Returns:
        The mapping, with the headers that map onto nothing listed as ignored.

    Raises:
        ValueError: two headers map onto the same column, or a required column is missing (the
            message names the tables the file would fit, when it fits another).
    """
    mapping, missing = _map_headers(table_name, headers)
    if missing:
        fitting = [name for name in fitting_tables(headers) if name != table_name]
        hint = f"; it looks like a file for {' or '.join(fitting)}" if fitting else ""
        raise ValueError(
            f"the file has no column for {', '.join(missing)} (table {table_name}); "
            f"its headers are {', '.join(map(str, headers))}{hint}"
        )
    return mapping


def _map_headers(table_name: str, headers: list[str]) -> tuple[ColumnMapping, list[str]]:
    table = _entity_table(table_name)
    accepted = set(table.c.keys())
    if table_name == "readings":
        accepted |= {"date", "time"}
    columns: dict[str, str] = {}
    unmapped: list[str] = []
    for header in headers:
        key = _normalise_header(header)
        column = key if key in accepted else COMMON_HEADERS.get(key)
        if column is None or column not in accepted:
            unmapped.append(header)
            continue
        if column in columns.values():
            first = next(name for name, mapped in columns.items() if mapped == column)
            raise ValueError(
                f"the headers {first!r} and {header!r} both mean {column}; keep one of them"
            )
        columns[header] = column
    wide: dict[str, int] = {}
    layout: Layout = "long"
    mapped = set(columns.values())
    if table_name == "readings" and "ts" not in mapped and "kwh" not in mapped:
        offsets = _wide_offsets(unmapped)
        if offsets is not None and "date" in mapped:
            wide, unmapped, layout = offsets, [], "wide"
    missing = [name for name in _required_columns(table) if name not in _provided(columns, layout)]
    mapping = ColumnMapping(table_name, columns, wide, tuple(unmapped), layout)
    return mapping, missing


def fitting_tables(headers: list[str]) -> list[str]:
    """The tables whose required columns a file's headers all provide, in :func:`tables` order.

    Args:
        headers: the file's headers.

    Returns:
        The table names, for telling a user which table a file they picked wrongly is for.
    """
    fitting = []
    for name in tables():
        try:
            _, missing = _map_headers(name, headers)
        except ValueError:
            continue
        if not missing:
            fitting.append(name)
    return fitting


def _provided(columns: dict[str, str], layout: Layout) -> set[str]:
    provided = set(columns.values())
    if "date" in provided or "time" in provided:
        provided.add("ts")
    if layout == "wide":
        provided.add("kwh")
    return provided


def _required_columns(table: sa.Table) -> list[str]:
    return [
        column.name
        for column in table.columns
        if not column.nullable and column.server_default is None
    ]


def _defaults(table: sa.Table) -> dict[str, object]:
    """Values for empty cells of columns the store fills by default (status, active)."""
    defaults: dict[str, object] = {}
    for column in table.columns:
        if column.nullable or column.server_default is None or column.name == "id":
            continue
        if isinstance(column.type, sa.Boolean):
            defaults[column.name] = True
        else:
            defaults[column.name] = str(column.server_default.arg)
    return defaults


# Reading files.


def _open_binary(source: str | Path | BinaryIO) -> BinaryIO:
    if isinstance(source, str | Path):
        path = Path(source)
        if not path.is_file():
            raise ValueError(f"{path}: no such file")
        return path.open("rb")
    source.seek(0)
    return source


def _size(handle: BinaryIO) -> int:
    position = handle.tell()
    handle.seek(0, io.SEEK_END)
    size = handle.tell()
    handle.seek(position)
    return max(size, 1)


def _detect_encoding(head: bytes, file_name: str) -> str:
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        # GB18030 is a superset of GBK and GB2312; a cut multi-byte character at the end is fine.
        codecs.getincrementaldecoder("gb18030")().decode(head, final=False)
        return "gb18030"
    except UnicodeDecodeError:
        raise ValueError(
            f"{file_name} cannot be read: it is neither UTF-8 nor GBK/GB18030 text; "
            "save it as CSV UTF-8, Excel (.xlsx) or Parquet"
        ) from None


def _csv_source(handle: BinaryIO, file_name: str, chunk_rows: int, progress_total: int) -> _Source:
    head = handle.read(SNIFF_BYTES)
    if not head.strip():
        raise ValueError(f"{file_name} is empty")
    encoding = _detect_encoding(head, file_name)
    text = head.decode(encoding, errors="ignore")
    first_line = text.splitlines()[0] if text.splitlines() else ""
    delimiter = "\t" if first_line.count("\t") > first_line.count(",") else ","
    headers = next(csv.reader([first_line], delimiter=delimiter))
    headers = [header.strip() for header in headers]
    if len(headers) < 2:
        raise ValueError(
            f"{file_name} has only one column; separate the columns with commas or tabs"
        )
    source = _Source(headers=headers, encoding=encoding, chunks=lambda: iter(()))

    def fast_chunks() -> Iterator[_Chunk]:
        handle.seek(0)
        # Any parse problem (a row with too many or too few fields, a blank line) hands the file
        # to the exact reader, which reports such rows with their line numbers.
        try:
            reader = pa_csv.open_csv(
                handle,
                read_options=pa_csv.ReadOptions(
                    column_names=headers,
                    skip_rows=1,
                    encoding=encoding,
                    block_size=CSV_BLOCK_BYTES,
                ),
                parse_options=pa_csv.ParseOptions(delimiter=delimiter, ignore_empty_lines=False),
                convert_options=pa_csv.ConvertOptions(
                    column_types={header: pa.string() for header in headers},
                    strings_can_be_null=True,
                    quoted_strings_can_be_null=True,
                ),
            )
        except pa.ArrowInvalid as error:
            raise _MalformedRows from error
        next_row = 2
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as error:
                raise _MalformedRows from error
            for start in range(0, batch.num_rows, chunk_rows):
                part = batch.slice(start, chunk_rows)
                yield _Chunk(next_row, part.to_pandas())
                next_row += part.num_rows

    def exact_chunks() -> Iterator[_Chunk]:
        handle.seek(0)
        wrapper = io.TextIOWrapper(handle, encoding=encoding, newline="")
        try:
            reader = csv.reader(wrapper, delimiter=delimiter)
            next(reader)
            rows: list[list[str]] = []
            numbers: list[int] = []
            for row in reader:
                if not any(cell.strip() for cell in row):
                    continue
                if len(row) != len(headers):
                    source.malformed.append((reader.line_num, delimiter.join(row)))
                    continue
                rows.append(row)
                numbers.append(reader.line_num)
                if len(rows) >= chunk_rows:
                    yield _exact_chunk(rows, numbers, headers)
                    rows, numbers = [], []
            if rows:
                yield _exact_chunk(rows, numbers, headers)
        except UnicodeDecodeError as error:
            raise ValueError(f"{file_name} cannot be read: {error}") from error
        finally:
            wrapper.detach()

    def chunks() -> Iterator[_Chunk]:
        if source.exact:
            yield from exact_chunks()
        else:
            yield from fast_chunks()

    source.chunks = chunks
    return source


def _exact_chunk(rows: list[list[str]], numbers: list[int], headers: list[str]) -> _Chunk:
    frame = pd.DataFrame(rows, columns=headers, dtype="str")
    return _Chunk(numbers[0], frame, np.asarray(numbers, dtype=np.int64))


def _parquet_source(handle: BinaryIO, file_name: str, chunk_rows: int) -> _Source:
    try:
        parquet = pq.ParquetFile(handle)
    except (pa.ArrowInvalid, OSError) as error:
        raise ValueError(f"{file_name} cannot be read as Parquet: {error}") from error
    headers = list(parquet.schema_arrow.names)

    def chunks() -> Iterator[_Chunk]:
        next_row = 1
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield _Chunk(next_row, batch.to_pandas())
            next_row += batch.num_rows

    def arrow_batches(columns: list[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
        # Ids repeat on every reading: decoding them as a dictionary skips building millions of
        # strings, which costs more than everything else the import does with a chunk.
        text = [
            name
            for name in columns
            if pa.types.is_string(parquet.schema_arrow.field(name).type)
            or pa.types.is_large_string(parquet.schema_arrow.field(name).type)
        ]
        dictionary = pq.ParquetFile(handle, read_dictionary=text)
        yield from dictionary.iter_batches(batch_size=batch_rows, columns=columns)

    return _Source(
        headers=headers,
        encoding="parquet",
        chunks=chunks,
        parquet=parquet,
        arrow_batches=arrow_batches,
    )


def _excel_source(handle: BinaryIO, file_name: str, chunk_rows: int) -> _Source:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(handle, read_only=True, data_only=True)
    except Exception as error:  # noqa: BLE001 - openpyxl raises many kinds for a broken file
        raise ValueError(f"{file_name} cannot be read as Excel (.xlsx): {error}") from error
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        header_row = next(rows)
    except StopIteration:
        raise ValueError(f"{file_name} is empty") from None
    headers = [str(value).strip() if value is not None else "" for value in header_row]
    while headers and headers[-1] == "":
        headers.pop()

    def chunks() -> Iterator[_Chunk]:
        block: list[tuple] = []
        numbers: list[int] = []
        for number, row in enumerate(rows, start=2):
            values = tuple(row[: len(headers)])
            if all(value is None or str(value).strip() == "" for value in values):
                continue
            block.append(values + (None,) * (len(headers) - len(values)))
            numbers.append(number)
            if len(block) >= chunk_rows:
                yield _Chunk(
                    numbers[0],
                    pd.DataFrame(block, columns=headers, dtype=object),
                    np.asarray(numbers),
                )
                block, numbers = [], []
        if block:
            yield _Chunk(
                numbers[0], pd.DataFrame(block, columns=headers, dtype=object), np.asarray(numbers)
            )

    return _Source(headers=headers, encoding="xlsx", chunks=chunks)


def _source(handle: BinaryIO, file_name: str, chunk_rows: int) -> _Source:
    suffix = Path(file_name).suffix.lower()
    if suffix == ".parquet":
        return _parquet_source(handle, file_name, chunk_rows)
    if suffix in (".xlsx", ".xlsm"):
        return _excel_source(handle, file_name, chunk_rows)
    if suffix in (".csv", ".txt", ".tsv", ""):
        return _csv_source(handle, file_name, chunk_rows, _size(handle))
    raise ValueError(
        f"{file_name}: files of type {suffix} cannot be imported; use CSV, Excel (.xlsx) or Parquet"
    )


def preview_mapping(
    table_name: str, source: str | Path | BinaryIO, file_name: str | None = None
) -> ColumnMapping:
    """The column mapping a file would get, read from its header only.

    Args:
        table_name: the target table.
        source: a path or a binary file object.
        file_name: the name to use in messages (defaults to the path's name).

    Returns:
        The mapping.

    Raises:
        ValueError: the file cannot be read or lacks a required column.
    """
    handle = _open_binary(source)
    name = file_name or Path(getattr(handle, "name", "file")).name
    try:
        return map_columns(table_name, _source(handle, name, CHUNK_ROWS).headers)
    finally:
        if isinstance(source, str | Path):
            handle.close()


# Parsing and validation.


def _typed(raw: pd.Series, column: sa.Column | None) -> bool:
    """Whether a typed file column (Parquet, Excel numbers) already holds the column's type."""
    if column is None or isinstance(column.type, sa.String | sa.Boolean):
        return False
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return isinstance(column.type, sa.DateTime | sa.Date)
    numeric = pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype)
    return numeric and isinstance(column.type, sa.Float | sa.Numeric | sa.Integer)


def _text(raw: pd.Series, column: sa.Column | None = None) -> pd.Series:
    """Cell values as stripped strings, empty cells as missing; typed values stay as they are."""
    if _typed(raw, column):
        return raw
    if pd.api.types.is_float_dtype(raw.dtype):
        # Ids exported as numbers (3201000001.0) keep their digits, not a decimal point.
        integral = raw.notna() & (raw == np.floor(raw))
        text = raw.astype(object).where(~integral, raw.where(integral).astype("Int64").astype(str))
        return _text(text.where(raw.notna(), None).astype(object))
    if raw.dtype == object:
        if pd.api.types.infer_dtype(raw, skipna=True) == "string":
            return _text(raw.astype("str"))
        converted = raw.map(_cell_text, na_action="ignore")
        return _text(converted.astype("str"))
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


def _parse_number(raw: pd.Series, text: pd.Series) -> pd.Series:
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


def _parse_datetime(raw: pd.Series, text: pd.Series) -> pd.Series:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        return raw.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).astype("datetime64[us]")
    if pd.api.types.is_datetime64_any_dtype(raw.dtype):
        return raw.astype("datetime64[us]")
    if raw.dtype == object:
        parsed = pd.to_datetime(raw.where(text.notna()), errors="coerce", format="mixed")
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
    values[lowered.isin(TRUE_WORDS)] = True
    values[lowered.isin(FALSE_WORDS)] = False
    return values


def _parse_period(text: pd.Series) -> pd.Series:
    parts = text.str.extract(r"^(\d{4})\D?(\d{1,2})\D?$")
    month = pd.to_numeric(parts[1], errors="coerce")
    valid = parts[0].notna() & month.between(1, 12)
    formatted = parts[0] + "-" + month.astype("Int64").astype("str").str.zfill(2)
    return formatted.where(valid)


# The columns a check fills in the rejected rows, in the order the inserts select them.
REJECTED_INSERT_COLUMNS = (
    "import_id",
    "table_name",
    "file_name",
    "row_number",
    "column_name",
    "value",
    "reason",
    "reason_code",
    "reason_values",
    "rejected_at",
)
PROBLEM_COLUMNS = ("row_number", "column_name", "value", "reason", "reason_code", "reason_values")


class _Problems:
    """Rejected values of one chunk: (position, column, value, reason) collected vectorised."""

    def __init__(self, row_numbers: np.ndarray) -> None:
        self.row_numbers = row_numbers
        self.parts: list[pd.DataFrame] = []
        self.bad = np.zeros(len(row_numbers), dtype=bool)

    def add(
        self,
        mask: pd.Series | np.ndarray,
        column: str,
        values: pd.Series,
        code: str,
        **reason: object,
    ) -> None:
        mask = np.asarray(mask, dtype=bool)
        if not mask.any():
            return
        self.bad |= mask
        shown = values.to_numpy(dtype=object)[mask]
        stored = reason_values(column, **reason)
        self.parts.append(
            pd.DataFrame(
                {
                    "row_number": self.row_numbers[mask],
                    "column_name": column,
                    "value": [None if pd.isna(value) else str(value) for value in shown],
                    "reason": reason_text(code, stored),
                    "reason_code": code,
                    "reason_values": stored,
                }
            )
        )

    def frame(self) -> pd.DataFrame:
        if not self.parts:
            return pd.DataFrame(columns=[*PROBLEM_COLUMNS])
        return pd.concat(self.parts, ignore_index=True)


def _validate(
    chunk: _Chunk, mapping: ColumnMapping, context: _Context
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Parses and checks one chunk.

    Returns:
        The good records (the table's columns plus ``source_row``) and the rejected values.
    """
    table = context.table
    frame = chunk.frame
    row_numbers = (
        chunk.row_numbers
        if chunk.row_numbers is not None
        else np.arange(chunk.first_row, chunk.first_row + len(frame), dtype=np.int64)
    )
    problems = _Problems(row_numbers)
    raw = {
        column: frame[header].reset_index(drop=True) for header, column in mapping.columns.items()
    }
    texts = {column: _text(values, table.c.get(column)) for column, values in raw.items()}
    if context.table.name == "id_map" and "system" not in texts and context.source_system:
        texts["system"] = pd.Series(context.source_system, index=range(len(frame)), dtype="str")
        raw["system"] = texts["system"]
    if table.name == "readings":
        _combine_date_time(raw, texts)
    parsed: dict[str, pd.Series] = {}
    defaults = _defaults(table)
    for column in table.columns:
        name = column.name
        if name not in texts:
            continue
        text = texts[name]
        if name in defaults:
            text = text.fillna(str(defaults[name]))
        values = _parse_column(name, column, raw.get(name, text), text, problems, table.name)
        if not column.nullable:
            problems.add(text.isna(), name, text, REASON_EMPTY)
        parsed[name] = values
    _check_rules(parsed, texts, problems, context)
    if mapping.layout == "wide":
        return _wide_records(frame, mapping, parsed, texts, problems, context)
    good = ~problems.bad
    records = pd.DataFrame({name: values[good] for name, values in parsed.items()})
    records["source_row"] = row_numbers[good]
    return records.reset_index(drop=True), problems.frame()


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
    name: str,
    column: sa.Column,
    raw: pd.Series,
    text: pd.Series,
    problems: _Problems,
    table_name: str,
) -> pd.Series:
    kind = column.type
    if name in VALUE_ALIASES:
        lowered = text.str.lower()
        text = lowered.map(
            lambda value: VALUE_ALIASES[name].get(value, value), na_action="ignore"
        ).astype("str")
    if name == "period":
        values = _parse_period(text)
        problems.add(text.notna() & values.isna(), name, text, REASON_BAD_PERIOD)
        return values
    if isinstance(kind, sa.Boolean):
        values = _parse_boolean(text)
        problems.add(text.notna() & values.isna(), name, text, REASON_NOT_BOOLEAN)
        return values
    if isinstance(kind, sa.DateTime | sa.Date):
        values = _parse_datetime(raw, text)
        problems.add(text.notna() & values.isna(), name, text, REASON_NOT_DATE)
        if isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime):
            return values.dt.floor("D").dt.date.astype(object).where(values.notna(), None)
        return values
    if isinstance(kind, sa.Integer):
        values = _parse_number(raw, text)
        problems.add(text.notna() & values.isna(), name, text, REASON_NOT_NUMBER)
        problems.add(values.notna() & (values != np.floor(values)), name, text, REASON_NOT_INTEGER)
        return values.round().astype("Int64")
    if isinstance(kind, sa.Float | sa.Numeric):
        values = _parse_number(raw, text)
        problems.add(text.notna() & values.isna(), name, text, REASON_NOT_NUMBER)
        if isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float):
            values = values.round(kind.scale or 0)
        return values
    length = getattr(kind, "length", None)
    if length:
        problems.add(text.str.len() > length, name, text, REASON_TOO_LONG, length=length)
    return text


def _outside(values: pd.Series, low: float | None, high: float | None) -> pd.Series:
    outside = pd.Series(False, index=values.index)
    if low is not None:
        outside |= values < low
    if high is not None:
        outside |= values > high
    return outside.fillna(False)


def _check_rules(
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: _Problems,
    context: _Context,
) -> None:
    table_name = context.table.name
    for name, allowed in ALLOWED_VALUES.items():
        if name in parsed and (table_name != "campaign_members" or name == "arm"):
            values = parsed[name]
            problems.add(
                values.notna() & ~values.isin(allowed),
                name,
                texts[name],
                REASON_NOT_ALLOWED,
                allowed=", ".join(allowed),
            )
    for table, name, low, high, code, values in RANGES:
        if table == table_name and name in parsed:
            outside = _outside(parsed[name].astype("float64"), low, high)
            problems.add(outside, name, texts[name], code, **values)
    now = pd.Timestamp(context.now)
    for name in PAST_COLUMNS.get(table_name, ()):
        if name in parsed:
            values = pd.to_datetime(parsed[name])
            problems.add((values > now).fillna(False), name, texts[name], REASON_FUTURE)
    if table_name == "readings" and "ts" in parsed:
        ts = parsed["ts"]
        minutes_into_day = ts.dt.hour * 60 + ts.dt.minute
        off_grid = (minutes_into_day % READING_GRID_MINUTES != 0) | (ts.dt.second != 0)
        problems.add(
            ts.notna() & off_grid, "ts", texts["ts"], REASON_OFF_GRID, minutes=READING_GRID_MINUTES
        )
    for earlier, later in ORDER_RULES.get(table_name, ()):
        if earlier in parsed and later in parsed:
            first, second = pd.to_datetime(parsed[earlier]), pd.to_datetime(parsed[later])
            problems.add(
                (second < first).fillna(False), later, texts[later], REASON_BEFORE, earlier=earlier
            )
    if "tariff_code" in parsed and context.tariff_codes is not None:
        codes = parsed["tariff_code"]
        problems.add(
            codes.notna() & ~codes.isin(context.tariff_codes),
            "tariff_code",
            texts["tariff_code"],
            REASON_UNKNOWN_TARIFF,
        )
    if "customer_id" in parsed and table_name != "customers":
        _resolve_customers(parsed, texts, problems, context)


def _resolve_customers(
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: _Problems,
    context: _Context,
) -> None:
    ids = parsed["customer_id"]
    present = ids.notna()
    if context.id_lookup is not None:
        problems.add(
            present & ids.isin(context.ambiguous_ids),
            "customer_id",
            texts["customer_id"],
            REASON_AMBIGUOUS,
        )
        resolved = ids.map(context.id_lookup)
        problems.add(
            present & resolved.isna() & ~ids.isin(context.ambiguous_ids),
            "customer_id",
            texts["customer_id"],
            REASON_UNRESOLVED,
            system=context.source_system,
        )
        ids = resolved.astype("str").where(resolved.notna())
        parsed["customer_id"] = ids
    if context.known_customers is not None:
        problems.add(
            ids.notna() & ~ids.isin(context.known_customers),
            "customer_id",
            texts["customer_id"],
            REASON_UNKNOWN_CUSTOMER,
        )


def _wide_records(
    frame: pd.DataFrame,
    mapping: ColumnMapping,
    parsed: dict[str, pd.Series],
    texts: dict[str, pd.Series],
    problems: _Problems,
    context: _Context,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Unpivots wide readings: one record per customer, day and value column."""
    row_ok = ~problems.bad
    day = pd.to_datetime(parsed["ts"]).dt.floor("D")
    parts = []
    for header, minutes in mapping.wide.items():
        raw = frame[header].reset_index(drop=True)
        text = _text(raw, schema.readings.c.kwh)
        values = _parse_number(raw, text)
        # Cells of a row rejected as a whole (unknown customer, bad date) are not checked again.
        cell = _Problems(problems.row_numbers)
        ts = day + pd.Timedelta(minutes=minutes)
        cell.add(row_ok & (text.notna() & values.isna()), header, text, REASON_NOT_NUMBER)
        for table, name, low, high, code, reason in RANGES:
            if (table, name) == ("readings", "kwh"):
                cell.add(row_ok & _outside(values, low, high), header, text, code, **reason)
        cell.add(
            row_ok & (ts > pd.Timestamp(context.now)).fillna(False), header, text, REASON_FUTURE
        )
        problems.parts.extend(cell.parts)
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
    return records.reset_index(drop=True), problems.frame()


def _interval_counts(records: pd.DataFrame) -> pd.Series:
    """Counts of (customer, minutes between consecutive readings) in one chunk."""
    if records.empty:
        return pd.Series(dtype="int64")
    minutes = records["ts"].astype("int64") // 60_000_000
    steps = minutes.groupby(records["customer_id"].to_numpy(), sort=False).diff()
    positive = (steps > 0).to_numpy()
    pairs = pd.DataFrame(
        {"customer_id": records["customer_id"].to_numpy()[positive], "minutes": steps[positive]}
    )
    return pairs.value_counts()


def _detect_intervals(counts: pd.Series) -> dict[str, int]:
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


def _staged_columns(
    table: sa.Table, mapping: ColumnMapping, source_system: str | None
) -> list[str]:
    provided = _provided(mapping.columns, mapping.layout)
    if table.name == "id_map" and source_system:
        provided.add("system")
    return [column.name for column in table.columns if column.name in provided]


def _create_stage(conn: sa.Connection, table: sa.Table, names: list[str]) -> sa.Table:
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
        raise ValueError(
            f"the id map has no active ids of the source system {source_system!r}; "
            "import its id_map rows first or leave out --source-system"
        )


def _load_context(
    conn: sa.Connection,
    table: sa.Table,
    file_name: str,
    source_system: str | None,
    now: dt.datetime,
    mapping: ColumnMapping,
) -> _Context:
    known = None
    if table.name != "customers" and "customer_id" in table.c:
        known = pd.Index(
            conn.execute(sa.select(schema.customers.c.customer_id)).scalars().all(), dtype="str"
        )
    lookup = ambiguous = None
    if source_system and table.name in CUSTOMER_TABLES:
        _require_id_map(conn, table, source_system)
        pairs = pd.DataFrame(
            conn.execute(
                sa.select(schema.id_map.c.external_id, schema.id_map.c.customer_id).where(
                    schema.id_map.c.system == source_system, schema.id_map.c.active
                )
            ).all(),
            columns=["external_id", "customer_id"],
        ).drop_duplicates()
        repeated = pairs["external_id"].duplicated(keep=False)
        ambiguous = pd.Index(pairs.loc[repeated, "external_id"].unique(), dtype="str")
        unique = pairs[~repeated]
        lookup = pd.Series(unique["customer_id"].to_numpy(), index=unique["external_id"].to_numpy())
    codes = None
    if table.name == "customers" and "tariff_code" in mapping.columns.values():
        codes = pd.Index(list(tariffs.load_catalog()), dtype="str")
    return _Context(table, file_name, source_system, now, known, lookup, ambiguous, codes)


def _rejected_frame(
    problems: pd.DataFrame, import_id: int, table_name: str, file_name: str, now: dt.datetime
) -> pd.DataFrame:
    frame = problems.copy()
    frame.insert(0, "import_id", import_id)
    frame.insert(1, "table_name", table_name)
    frame.insert(2, "file_name", file_name)
    frame["rejected_at"] = pd.Timestamp(now)
    frame["row_number"] = frame["row_number"].astype("Int64")
    frame["value"] = frame["value"].astype("str")
    return frame


def _stage_chunks(
    conn: sa.Connection,
    source: _Source,
    mapping: ColumnMapping,
    context: _Context,
    stage: sa.Table,
    result: ImportResult,
    progress: Progress | None,
    fraction: Callable[[int], float],
) -> tuple[pd.Series, Counter]:
    intervals: list[pd.Series] = []
    reasons: Counter = Counter()
    names = [column.name for column in stage.columns if column.name != "source_row"]
    for chunk in source.chunks():
        records, problems = _validate(chunk, mapping, context)
        result.rows_read += len(chunk.frame)
        if not problems.empty:
            reasons.update(zip(problems["reason_code"], problems["reason_values"], strict=True))
            store_engine.bulk_insert(
                conn,
                schema.rejected_rows,
                _rejected_frame(
                    problems, result.import_id, result.table, result.file_name, context.now
                ),
            )
        if not records.empty:
            store_engine.bulk_insert(conn, stage, records[[*names, "source_row"]])
            if context.table.name == "readings":
                intervals.append(_interval_counts(records))
        if progress is not None:
            progress(result.rows_read, min(fraction(result.rows_read), 1.0))
    counts = pd.concat(intervals).groupby(level=[0, 1]).sum() if intervals else pd.Series()
    return counts, reasons


# Readings from Parquet on DuckDB: the store checks the typed columns itself. Each chunk of the
# file is handed to DuckDB as Arrow data and validated by set-based SQL, so no value passes
# through pandas; the rules and reasons are the same as above.

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


def _sql_route(
    conn: sa.Connection, source: _Source, mapping: ColumnMapping, table: sa.Table
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


def _arrow_batch(batch: pa.RecordBatch, headers: dict[str, str], first_row: int) -> pa.Table:
    """One chunk with the store's column names, ids as trimmed text, times as local timestamps."""
    columns: dict[str, pa.Array] = {}
    for column, header in headers.items():
        values = batch.column(header)
        kind = values.type
        if column == "customer_id":
            values = _id_dictionary(values)
        elif column == "ts":
            if pa.types.is_null(kind):
                values = pa.nulls(len(values), pa.timestamp("us"))
            elif pa.types.is_timestamp(kind) and kind.tz is not None:
                local = pc.cast(values, pa.timestamp(kind.unit, "Asia/Shanghai"))
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
class _SqlCheck:
    condition: sa.ColumnElement[bool]
    column: str
    code: str
    values: str

    @property
    def reason(self) -> str:
        return reason_text(self.code, self.values)


def _source_ids(source_system: str) -> sa.Subquery:
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


def _sql_checks(
    batch: sa.TableClause, source_system: str | None, now: dt.datetime
) -> tuple[list[_SqlCheck], sa.FromClause, sa.ColumnElement[str]]:
    """The rules of :func:`_validate` for long readings, as SQL over one chunk.

    Returns:
        The checks, the chunk joined to what the checks need, and the resolved customer id.
    """
    table = schema.readings
    checks: list[_SqlCheck] = []

    def check(condition: sa.ColumnElement[bool], column: str, code: str, **values: object) -> None:
        stored = reason_values(column, **values)
        checks.append(_SqlCheck(sa.func.coalesce(condition, False), column, code, stored))

    def finite(name: str) -> sa.ColumnElement[bool]:
        return sa.and_(batch.c[name].is_not(None), sa.not_(sa.func.isinf(batch.c[name])))

    present = [column for column in table.columns if column.name in batch.c]
    for column in present:
        name = column.name
        length = getattr(column.type, "length", None)
        if isinstance(column.type, sa.Float | sa.Numeric):
            check(sa.func.isinf(batch.c[name]), name, REASON_NOT_NUMBER)
        elif length:
            check(sa.func.length(batch.c[name]) > length, name, REASON_TOO_LONG, length=length)
        if not column.nullable:
            check(batch.c[name].is_(None), name, REASON_EMPTY)
    for table_name, name, low, high, code, values in RANGES:
        if table_name == table.name and name in batch.c:
            if low is not None:
                check(finite(name) & (batch.c[name] < low), name, code, **values)
            if high is not None:
                check(finite(name) & (batch.c[name] > high), name, code, **values)
    ts = batch.c.ts
    check(ts > now, "ts", REASON_FUTURE)
    minutes_into_day = sa.extract("hour", ts) * 60 + sa.extract("minute", ts)
    check(
        sa.or_(minutes_into_day % READING_GRID_MINUTES != 0, sa.extract("second", ts) != 0),
        "ts",
        REASON_OFF_GRID,
        minutes=READING_GRID_MINUTES,
    )
    joined: sa.FromClause = batch
    resolved: sa.ColumnElement[str] = batch.c.customer_id
    if source_system is not None:
        source_ids = _source_ids(source_system)
        joined = joined.outerjoin(source_ids, source_ids.c.external_id == batch.c.customer_id)
        check(source_ids.c.customers > 1, "customer_id", REASON_AMBIGUOUS)
        check(
            batch.c.customer_id.is_not(None) & source_ids.c.external_id.is_(None),
            "customer_id",
            REASON_UNRESOLVED,
            system=source_system,
        )
        resolved = sa.case((source_ids.c.customers == 1, source_ids.c.customer_id))
    known = schema.customers.alias("known")
    joined = joined.outerjoin(known, known.c.customer_id == resolved)
    check(
        resolved.is_not(None) & known.c.customer_id.is_(None),
        "customer_id",
        REASON_UNKNOWN_CUSTOMER,
    )
    return checks, joined, resolved


# Chunks of a file in which runs of the same customer are shorter than this on average are not
# ordered by customer: the duplicate check and the intervals are then left to the store.
MIN_MEAN_RUN = 64


def _names(ids: pa.DictionaryArray, positions: np.ndarray) -> np.ndarray:
    return ids.dictionary.take(ids.indices.take(pa.array(positions))).to_numpy(zero_copy_only=False)


class _SeriesRuns:
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


def _stage_sql(
    conn: sa.Connection,
    source: _Source,
    headers: dict[str, str],
    context: _Context,
    stage: sa.Table,
    result: ImportResult,
    progress: Progress | None,
    chunk_rows: int,
) -> tuple[pd.Series, Counter, bool]:
    """Checks and stages Parquet readings chunk by chunk inside DuckDB.

    Returns:
        The (customer, minutes) step counts, the rejected values by reason, and whether the
        staged readings are known to hold no repeated (customer, ts).
    """
    assert source.parquet is not None
    raw = conn.connection.driver_connection
    names = [name for name in SQL_ROUTE_COLUMNS if name in headers]
    batch = sa.table(BATCH_VIEW, *[sa.column(name) for name in names], sa.column("source_row"))
    checks, joined, resolved = _sql_checks(batch, context.source_system, context.now)
    flags = [item.condition.label(f"problem_{index}") for index, item in enumerate(checks)]
    checked = sa.select(*batch.c, *flags).select_from(joined).subquery("checked")
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
            sa.literal(result.import_id, sa.Integer),
            sa.literal(result.table, sa.String),
            sa.literal(result.file_name, sa.String),
            bad.c.source_row,
            per_check([sa.literal(item.column, sa.String) for item in checks]),
            per_check([sa.cast(bad.c[item.column], sa.String) for item in checks]),
            per_check([sa.literal(item.reason, sa.String) for item in checks]),
            per_check([sa.literal(item.code, sa.String) for item in checks]),
            per_check([sa.literal(item.values, sa.String) for item in checks]),
            sa.literal(context.now, sa.DateTime),
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
        source_ids = _source_ids(context.source_system)
        land_from = good.join(source_ids, source_ids.c.external_id == good.c.customer_id)
        land_id = source_ids.c.customer_id
    land = stage.insert().from_select(
        [*names, "source_row"],
        sa.select(
            *[land_id if name == "customer_id" else good.c[name] for name in names],
            good.c.source_row,
        ).select_from(land_from),
    )
    runs = _SeriesRuns() if context.source_system is None else None
    rejected_in_chunk = (
        sa.select(rejected.c.row_number)
        .distinct()
        .where(
            rejected.c.import_id == result.import_id,
            rejected.c.row_number >= sa.bindparam("first_row"),
        )
    )
    total = source.parquet.metadata.num_rows
    next_row = 1
    assert source.arrow_batches is not None
    for part in source.arrow_batches(list(headers.values()), chunk_rows):
        chunk = _arrow_batch(part, headers, next_row)
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
        result.rows_read += part.num_rows
        if progress is not None:
            progress(result.rows_read, min(result.rows_read / max(total, 1), 1.0))
    reasons = Counter(
        {
            (code, values): count
            for code, values, count in conn.execute(
                sa.select(rejected.c.reason_code, rejected.c.reason_values, sa.func.count())
                .where(rejected.c.import_id == result.import_id)
                .group_by(rejected.c.reason_code, rejected.c.reason_values)
            ).all()
        }
    )
    if runs is not None:
        unique, counts = runs.finish()
        if runs.ordered:
            return counts, reasons, unique
    return _sql_interval_counts(conn, stage), reasons, False


def _sql_interval_counts(conn: sa.Connection, stage: sa.Table) -> pd.Series:
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


def _key_columns(table: sa.Table) -> tuple[str, ...]:
    return ROW_KEYS.get(table.name) or tuple(column.name for column in table.primary_key.columns)


# Stands for the repeated row's number while the duplicate reason is split around it.
ROW_MARK = "\uffff"


def _reject_duplicates(
    conn: sa.Connection, stage: sa.Table, table: sa.Table, result: ImportResult, now: dt.datetime
) -> int:
    """Moves rows that repeat an earlier row's key from the staging table to the rejected rows."""
    key = _key_columns(table)
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
    # The English words and the JSON values around the row each duplicate repeats.
    stored = reason_values(", ".join(key), row=ROW_MARK)
    before_row, after_row = reason_text(REASON_DUPLICATE, stored).split(ROW_MARK)
    values_before, values_after = stored.split(ROW_MARK)
    reason = sa.literal(before_row) + first_row + sa.literal(after_row)
    values = sa.literal(values_before) + first_row + sa.literal(values_after)
    rejected = schema.rejected_rows
    conn.execute(
        rejected.insert().from_select(
            REJECTED_INSERT_COLUMNS,
            sa.select(
                sa.literal(result.import_id, sa.Integer),
                sa.literal(table.name, sa.String),
                sa.literal(result.file_name, sa.String),
                stage.c.source_row,
                sa.literal(", ".join(key), sa.String),
                value,
                reason,
                sa.literal(REASON_DUPLICATE, sa.String),
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


def _replace(
    conn: sa.Connection, table: sa.Table, stage: sa.Table, names: list[str]
) -> tuple[int, int]:
    """Deletes what the staged rows cover, inserts them; returns (replaced, landed)."""
    landed = conn.execute(sa.select(sa.func.count()).select_from(stage)).scalar_one()
    if not landed:
        return 0, 0
    series = SERIES_COLUMN.get(table.name)
    if series is not None:
        covering = (
            sa.select(
                stage.c[series],
                sa.func.min(stage.c.ts).label("first_ts"),
                sa.func.max(stage.c.ts).label("last_ts"),
            )
            .group_by(stage.c[series])
            .subquery("ranges")
        )
        matches = [
            covering.c[series] == table.c[series],
            table.c.ts.between(covering.c.first_ts, covering.c.last_ts),
        ]
    else:
        covering = stage
        matches = [stage.c[name] == table.c[name] for name in _key_columns(table)]
    if conn.dialect.name in ("duckdb", "postgresql"):
        # DELETE ... USING joins once; the correlated EXISTS form takes DuckDB seconds per
        # million stored readings even when the file covers a single day.
        delete = table.delete().where(*matches)
    else:
        delete = table.delete().where(
            sa.select(sa.literal(1)).select_from(covering).where(*matches).exists()
        )
    replaced = conn.execute(delete).rowcount
    conn.execute(table.insert().from_select(names, sa.select(*[stage.c[name] for name in names])))
    return max(replaced or 0, 0), landed


# The column whose range says which period a file's rows cover.
PERIOD_COLUMN = {
    "readings": "ts",
    "weather": "ts",
    "work_orders": "created_at",
    "channel_activity": "date",
    "outages": "start",
    "campaign_members": "contacted_at",
}


def _covered_period(
    conn: sa.Connection, stage: sa.Table, table: sa.Table
) -> tuple[dt.datetime | None, dt.datetime | None]:
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
    return pd.Timestamp(value).to_pydatetime()


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
) -> ImportResult:
    """Imports one file into one table in one transaction.

    Args:
        engine: the store.
        table_name: the target table (one of :func:`tables`).
        source: a path, or a binary file object such as an upload.
        file_name: the name recorded with the import and its rejected rows (defaults to the
            path's name).
        source_system: the system the file comes from; its customer ids are resolved through
            ``id_map`` (for id_map files it fills a missing ``system`` column).
        viewer: who imports, recorded with the import.
        progress: called after each chunk with the rows read so far and the share of the file
            done (0 to 1).
        chunk_rows: rows validated and staged at a time (by default
            :data:`CHUNK_ROWS`, or :data:`SQL_CHUNK_ROWS` for Parquet readings on DuckDB, which
            the store checks itself).
        record_quality: record the table's data-quality figures after the import (the trend
            over imports).
        refresh_features: recompute the customer features when the import landed rows of a
            table they are computed from, so tags and the Customer 360 view show the new data.

    Returns:
        What was read, landed, rejected and replaced.

    Raises:
        ValueError: the file cannot be read, lacks a required column, or the import is not
            possible as asked; the store is unchanged.
    """
    table = _entity_table(table_name)
    if source_system is not None and table_name not in (*CUSTOMER_TABLES, "id_map"):
        raise ValueError(
            f"{table_name} rows carry no customer ids of another system; "
            "leave out the source system"
        )
    handle = _open_binary(source)
    name = file_name or Path(getattr(handle, "name", "upload")).name
    try:
        source_reader = _source(handle, name, chunk_rows or CHUNK_ROWS)
        mapping = map_columns(table_name, source_reader.headers)
        with _one_import_at_a_time():
            result = _run_import(
                engine,
                table,
                source_reader,
                mapping,
                name,
                source_system,
                viewer,
                progress,
                handle,
                record_quality,
                chunk_rows or SQL_CHUNK_ROWS,
            )
            if refresh_features and result.rows_landed and table.name in FEATURE_SOURCE_TABLES:
                from core import features

                touched = result.customers_touched
                only = (
                    touched
                    if touched is not None and len(touched) <= FEATURE_REFRESH_ALL_ABOVE
                    else None
                )
                result.features_refreshed = features.refresh(
                    engine, access.SYSTEM, customer_ids=only
                ).customers
    finally:
        if isinstance(source, str | Path):
            handle.close()
    return result


def _fraction(source: _Source, handle: BinaryIO) -> Callable[[int], float]:
    if source.encoding == "parquet":
        total = pq.ParquetFile(handle).metadata.num_rows
        return lambda rows: rows / max(total, 1)
    size = _size(handle)
    if source.encoding == "xlsx":
        # Zipped XML gives no row count without reading it all; the chunks are small anyway.
        return lambda rows: 0.0
    return lambda rows: handle.tell() / size


def _run_import(
    engine: sa.Engine,
    table: sa.Table,
    source: _Source,
    mapping: ColumnMapping,
    file_name: str,
    source_system: str | None,
    viewer: access.Viewer,
    progress: Progress | None,
    handle: BinaryIO,
    record_quality: bool,
    sql_chunk_rows: int,
) -> ImportResult:
    now = dt.datetime.now().replace(microsecond=0)
    fraction = _fraction(source, handle)
    with engine.begin() as conn:
        sql_headers = _sql_route(conn, source, mapping, table)
        if sql_headers is None:
            context = _load_context(conn, table, file_name, source_system, now, mapping)
        else:
            # The store resolves and checks the ids itself; only the id map's presence is needed.
            _require_id_map(conn, table, source_system)
            context = _Context(table, file_name, source_system, now, None, None, None, None)
        import_id = conn.execute(
            schema.imports.insert().values(
                table_name=table.name,
                file_name=file_name,
                source_system=source_system,
                started_at=now,
                user_name=viewer.user_name,
            )
        ).inserted_primary_key[0]
        result = ImportResult(
            import_id=import_id,
            table=table.name,
            file_name=file_name,
            encoding=source.encoding,
            mapping=mapping,
        )
        names = _staged_columns(table, mapping, source_system)
        stage = _create_stage(conn, table, names)
        unique = False
        try:
            if sql_headers is not None:
                intervals, reasons, unique = _stage_sql(
                    conn, source, sql_headers, context, stage, result, progress, sql_chunk_rows
                )
            else:
                intervals, reasons = _stage_chunks(
                    conn, source, mapping, context, stage, result, progress, fraction
                )
        except _MalformedRows:
            # Rows with a wrong number of fields: read again with the exact reader, which knows
            # each row's line number.
            conn.execute(stage.delete())
            conn.execute(
                schema.rejected_rows.delete().where(schema.rejected_rows.c.import_id == import_id)
            )
            result.rows_read = 0
            source.exact = True
            intervals, reasons = _stage_chunks(
                conn, source, mapping, context, stage, result, progress, fraction
            )
        if source.malformed:
            malformed_values = reason_values(None, fields=len(source.headers))
            malformed = pd.DataFrame(
                {
                    "row_number": [number for number, _ in source.malformed],
                    "column_name": None,
                    "value": [text for _, text in source.malformed],
                    "reason": reason_text(REASON_MALFORMED, malformed_values),
                    "reason_code": REASON_MALFORMED,
                    "reason_values": malformed_values,
                }
            )
            store_engine.bulk_insert(
                conn,
                schema.rejected_rows,
                _rejected_frame(malformed, import_id, table.name, file_name, now),
            )
            reasons[(REASON_MALFORMED, malformed_values)] += len(malformed)
            result.rows_read += len(malformed)
        duplicates = 0 if unique else _reject_duplicates(conn, stage, table, result, now)
        if duplicates:
            key = ", ".join(_key_columns(table))
            reasons[(REASON_DUPLICATES, reason_values(key))] += duplicates
        data_start, data_end = _covered_period(conn, stage, table)
        if "customer_id" in stage.c:
            result.customers_touched = (
                conn.execute(
                    sa.select(stage.c.customer_id).distinct().limit(FEATURE_REFRESH_ALL_ABOVE + 1)
                )
                .scalars()
                .all()
            )
        result.rows_replaced, result.rows_landed = _replace(conn, table, stage, names)
        rejected = schema.rejected_rows
        result.rows_rejected = conn.execute(
            sa.select(sa.func.count(sa.distinct(rejected.c.row_number))).where(
                rejected.c.import_id == import_id
            )
        ).scalar_one()
        # A file imported again supersedes the rejected rows of its earlier imports.
        conn.execute(
            rejected.delete().where(
                rejected.c.table_name == table.name,
                rejected.c.file_name == file_name,
                rejected.c.import_id != import_id,
            )
        )
        conn.execute(
            schema.imports.update()
            .where(schema.imports.c.id == import_id)
            .values(
                finished_at=dt.datetime.now().replace(microsecond=0),
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
            viewer,
            "import",
            f"{table.name}: {file_name}",
            {
                "import_id": import_id,
                "rows_read": result.rows_read,
                "rows_landed": result.rows_landed,
                "rows_rejected": result.rows_rejected,
            },
        )
        if record_quality:
            from core import quality

            quality.record_snapshot(conn, import_id, table.name, source_system)
    result.reason_counts = dict(reasons)
    result.reasons = {reason_text(code, values): count for (code, values), count in reasons.items()}
    if table.name == "readings":
        result.customer_intervals = _detect_intervals(intervals)
        result.intervals = dict(
            Counter(interval_name(minutes) for minutes in result.customer_intervals.values())
        )
    return result


# Rejected rows shown or downloaded at most at once.
REJECTED_ROWS_LIMIT = 100_000


def rejected_rows(
    engine: sa.Engine,
    import_id: int | None = None,
    limit: int = REJECTED_ROWS_LIMIT,
    language: str = "en",
) -> pd.DataFrame:
    """The rejected rows kept in the store, newest import first, reasons in a language.

    Args:
        engine: the store.
        import_id: only the rows of this import.
        limit: at most this many rows.
        language: the language of the reasons (``en`` or ``zh``); rows kept before reasons had
            codes keep their English words.

    Returns:
        ``import_id``, ``table_name``, ``file_name``, ``row_number``, ``column_name``, ``value``,
        ``reason``, ``rejected_at``.
    """
    rejected = schema.rejected_rows
    columns = [
        "import_id",
        "table_name",
        "file_name",
        "row_number",
        "column_name",
        "value",
        "reason",
        "rejected_at",
    ]
    query = sa.select(
        *[rejected.c[name] for name in columns], rejected.c.reason_code, rejected.c.reason_values
    )
    if import_id is not None:
        query = query.where(rejected.c.import_id == import_id)
    query = query.order_by(
        rejected.c.import_id.desc(), rejected.c.row_number, rejected.c.column_name
    ).limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    frame = pd.DataFrame(rows, columns=[*columns, "reason_code", "reason_values"])
    coded = frame["reason_code"].notna()
    if coded.any():
        # Each distinct reason is put into words once, however many rows share it.
        pairs = frame.loc[coded, ["reason_code", "reason_values"]].drop_duplicates()
        words = {
            (code, values): reason_text(code, values, language)
            for code, values in zip(pairs["reason_code"], pairs["reason_values"], strict=True)
        }
        frame.loc[coded, "reason"] = [
            words[pair]
            for pair in zip(
                frame.loc[coded, "reason_code"], frame.loc[coded, "reason_values"], strict=True
            )
        ]
    return frame[columns]
