"""How a file's headers map onto a table's columns: the store's names or the usual Chinese ones.

A header is normalised (case, spaces, a unit in brackets) and looked up among the table's column
names and :data:`COMMON_HEADERS`. Readings also come in the wide layout metering systems export:
one row per customer and day with 24 or 96 value columns.
"""

import re
from dataclasses import dataclass
from typing import Literal

import pandas as pd
import sqlalchemy as sa

from core.errors import UserError
from core.store import schema

Layout = Literal["long", "wide"]
WIDE_COLUMN_MINUTES = {24: 60, 96: 15}

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
    "台区编号": "transformer_area",
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
    "供电量": "kwh",
    "台区供电量": "kwh",
    "总表电量": "kwh",
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

# Headers that mean another column in one table than in the others: a business-expansion
# export's 受理时间 is when the application was accepted, not when a work order was opened.
TABLE_HEADERS = {
    "applications": {
        "申请编号": "application_id",
        "申请单号": "application_id",
        "业扩编号": "application_id",
        "流程编号": "application_id",
        "申请人": "name",
        "申请户名": "name",
        "申请类型": "type",
        "业务类型": "type",
        "申请容量": "requested_kva",
        "报装容量": "requested_kva",
        "受理时间": "accepted_date",
        "受理日期": "accepted_date",
        "勘查时间": "surveyed_date",
        "勘查日期": "surveyed_date",
        "现场勘查日期": "surveyed_date",
        "答复时间": "answered_date",
        "答复日期": "answered_date",
        "方案答复日期": "answered_date",
        "供电方案答复日期": "answered_date",
        "验收时间": "inspected_date",
        "验收日期": "inspected_date",
        "竣工验收日期": "inspected_date",
        "装表接电时间": "connected_date",
        "装表接电日期": "connected_date",
        "接电日期": "connected_date",
        "送电日期": "connected_date",
    },
    # An organisation export: each unit with its level and the path of the unit above it.
    "org_units": {
        "路径": "path",
        "单位路径": "path",
        "单位名称": "name",
        "机构名称": "name",
        "名称": "name",
        "层级": "level",
        "机构层级": "level",
        "上级": "parent",
        "上级路径": "parent",
        "上级单位": "parent",
    },
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
    "type": {
        "新装": "new_connection",
        "增容": "capacity_increase",
        "减容": "capacity_decrease",
        "临时用电": "temporary",
        "临时接电": "temporary",
        "销户": "closure",
    },
}
TRUE_WORDS = {"true", "t", "yes", "y", "1", "1.0", "是", "有效", "计划"}
FALSE_WORDS = {"false", "f", "no", "n", "0", "0.0", "否", "无效", "非计划"}
# Headers a readings file may give its time in besides ts: a date and a time of day apart.
READINGS_TIME_PARTS = ("date", "time")


def tables() -> list[str]:
    """The tables a file can be imported into (DESIGN §4)."""
    return [table.name for table in schema.ENTITY_TABLES]


def entity_table(name: str) -> sa.Table:
    """The importable table of this name.

    Raises:
        UserError: no importable table has that name.
    """
    for table in schema.ENTITY_TABLES:
        if table.name == name:
            return table
    raise UserError("ingest.error.no_table", table=name, tables=", ".join(tables()))


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

    def header_of(self, column: str) -> str:
        """The file's header for a column (``日期 + 时间`` when the time comes in two parts)."""
        by_column = {mapped: header for header, mapped in self.columns.items()}
        if column in by_column:
            return by_column[column]
        if column == "ts" and self.table == "readings":
            parts = [by_column[part] for part in READINGS_TIME_PARTS if part in by_column]
            if parts:
                return " + ".join(parts)
        if column == "kwh" and self.wide:
            return ", ".join(list(self.wide)[:1]) + " …"
        return column

    def provided(self) -> set[str]:
        """The table's columns the file gives values for."""
        provided = set(self.columns.values())
        if self.table != "readings":
            return provided
        if provided & set(READINGS_TIME_PARTS):
            provided.add("ts")
        if self.layout == "wide":
            provided.add("kwh")
        return provided - set(READINGS_TIME_PARTS)


def normalise_header(header: object) -> str:
    """A header as compared: no BOM, no spaces, lower case, no unit in brackets."""
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
        text = normalise_header(header)
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
        UserError: two headers map onto the same column, or a required column is missing (the
            message names the tables the file would fit, when it fits another).
    """
    mapping, missing = map_headers(table_name, headers)
    if missing:
        fitting = [name for name in fitting_tables(headers) if name != table_name]
        found = ", ".join(map(str, headers))
        if fitting:
            raise UserError(
                "ingest.error.missing_columns_fits",
                columns=", ".join(missing),
                table=table_name,
                headers=found,
                fitting=" / ".join(fitting),
            )
        raise UserError(
            "ingest.error.missing_columns",
            columns=", ".join(missing),
            table=table_name,
            headers=found,
        )
    return mapping


def map_headers(table_name: str, headers: list[str]) -> tuple[ColumnMapping, list[str]]:
    """The mapping of a file's headers and the required columns it lacks (see map_columns)."""
    table = entity_table(table_name)
    accepted = set(table.c.keys())
    if table_name == "readings":
        accepted |= set(READINGS_TIME_PARTS)
    columns: dict[str, str] = {}
    unmapped: list[str] = []
    aliases = {**COMMON_HEADERS, **TABLE_HEADERS.get(table_name, {})}
    for header in headers:
        key = normalise_header(header)
        column = key if key in accepted else aliases.get(key)
        if column is None or column not in accepted:
            unmapped.append(header)
            continue
        if column in columns.values():
            first = next(name for name, mapped in columns.items() if mapped == column)
            raise UserError("ingest.error.same_column", first=first, second=header, column=column)
        columns[header] = column
    wide: dict[str, int] = {}
    layout: Layout = "long"
    mapped = set(columns.values())
    if table_name == "readings" and "ts" not in mapped and "kwh" not in mapped:
        offsets = _wide_offsets(unmapped)
        if offsets is not None and "date" in mapped:
            wide, unmapped, layout = offsets, [], "wide"
    mapping = ColumnMapping(table_name, columns, wide, tuple(unmapped), layout)
    missing = [name for name in required_columns(table) if name not in mapping.provided()]
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
            _, missing = map_headers(name, headers)
        except UserError:
            continue
        if not missing:
            fitting.append(name)
    return fitting


def required_columns(table: sa.Table) -> list[str]:
    """The columns a new row of the table must have a value for."""
    return [
        column.name
        for column in table.columns
        if not column.nullable and column.server_default is None
    ]


def key_columns(table: sa.Table) -> tuple[str, ...]:
    """The columns that identify a row: the primary key, or readings' customer and time."""
    if table is schema.readings:
        return ("customer_id", "ts")
    return tuple(column.name for column in table.primary_key.columns)


def defaults(table: sa.Table) -> dict[str, object]:
    """Values for empty cells of columns the store fills by default (status, active)."""
    filled: dict[str, object] = {}
    for column in table.columns:
        if column.nullable or column.server_default is None or column.name == "id":
            continue
        if isinstance(column.type, sa.Boolean):
            filled[column.name] = True
        else:
            filled[column.name] = str(column.server_default.arg)
    return filled
