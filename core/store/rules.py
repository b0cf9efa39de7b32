"""What a valid row of each table is: one declarative table of rules.

The import checks every value of a file against these rules, in pandas
(:mod:`core.ingest.check_frame`) or as SQL inside the store (:mod:`core.ingest.check_sql`), and
the data-quality figures count the stored rows that break them (:mod:`core.quality`). All three
derive from :data:`RULES`; adding a table to the import means adding its rules here, nothing
more. Every rule has a reason code, whose words live in the ingest catalog
(``ingest.reason.<code>``).
"""

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa

from core.store import functions, schema

# Physical limits past which a value is an error, not an unusual customer.
MAX_READING_KWH = 10_000_000.0
MAX_CAPACITY_KVA = 1_000_000.0
MAX_VOLTAGE_KV = 1000.0
TEMPERATURE_RANGE_C = (-60.0, 60.0)
SATISFACTION_RANGE = (1, 5)
# A transformer carries up to twice its rating for short spells; a whole interval above that is
# a meter or file error, never a customer's real use.
CAPACITY_MARGIN = 2.0
# Readings start on a quarter hour: the finest interval the metering system records.
READING_GRID_MINUTES = 15
# No record of the utility's archive predates this, and none lies further ahead than the
# horizon (planned outages, campaigns, weather forecasts): a date outside is a typing error.
EARLIEST_DATE = dt.date(1950, 1, 1)
LATEST_YEARS_AHEAD = 10
# Readings per day for each interval the store can hold, coarsest first; a customer's densest
# day tells which interval its readings come at.
INTERVAL_BY_READINGS_PER_DAY = ((1, 1440), (24, 60), (48, 30), (96, 15))


@dataclass(frozen=True)
class Rule:
    """One rule on one column of one table.

    Attributes:
        table: the table's name.
        column: the column the rule checks (and a rejection names).
        code: the reason code (``ingest.reason.<code>``).
        values: the values the reason's words show (limits, the allowed values).
    """

    table: str
    column: str
    code: str
    values: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Range(Rule):
    """A number between ``minimum`` and ``maximum`` (either may be None for open)."""

    minimum: float | None = None
    maximum: float | None = None
    # True: the minimum itself is not allowed (a capacity must be above 0, not 0).
    above_minimum: bool = False


@dataclass(frozen=True)
class Allowed(Rule):
    """One of a fixed list of codes."""

    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Known(Rule):
    """One of the values the store or the catalog knows (districts, tariff codes).

    ``vocabulary`` names the list; whoever checks supplies it (see :data:`VOCABULARIES`). A
    check without the list (an empty store has no districts yet) lets every value pass.
    """

    vocabulary: str = ""


@dataclass(frozen=True)
class NotFuture(Rule):
    """A moment that has happened: not after now."""


@dataclass(frozen=True)
class PlausibleDate(Rule):
    """A date from :data:`EARLIEST_DATE` to :data:`LATEST_YEARS_AHEAD` years from now."""


@dataclass(frozen=True)
class Order(Rule):
    """``column`` is not before ``earlier`` (a work order closes after it opens)."""

    earlier: str = ""


@dataclass(frozen=True)
class OnGrid(Rule):
    """A reading starts on a quarter hour."""

    minutes: int = READING_GRID_MINUTES


@dataclass(frozen=True)
class WithinCapacity(Rule):
    """A reading's energy fits the customer's contract capacity over its interval.

    ``kwh ≤ contract_capacity_kva × CAPACITY_MARGIN × interval hours``, where the interval is
    the customer's (from the densest day of its readings); customers without a capacity are
    held to :data:`MAX_READING_KWH` alone.
    """


def _limit(value: float) -> str:
    return f"{value:,.0f}"


def _negative(table: str, *columns: str) -> list[Rule]:
    return [Range(table, column, "negative", minimum=0.0) for column in columns]


# Lists a Known rule draws on, named for the reason's words.
VOCABULARIES = ("districts", "tariff_codes", "campaign_arms")

RULES: tuple[Rule, ...] = (
    *_negative("readings", "kwh", "kvarh"),
    Range(
        "readings",
        "kwh",
        "too_much_energy",
        {"limit": _limit(MAX_READING_KWH)},
        maximum=MAX_READING_KWH,
    ),
    WithinCapacity("readings", "kwh", "over_capacity", {"margin": f"{CAPACITY_MARGIN:g}"}),
    NotFuture("readings", "ts", "future"),
    OnGrid("readings", "ts", "off_grid", {"minutes": str(READING_GRID_MINUTES)}),
    *_negative("area_readings", "kwh"),
    Range(
        "area_readings",
        "kwh",
        "too_much_energy",
        {"limit": _limit(MAX_READING_KWH)},
        maximum=MAX_READING_KWH,
    ),
    NotFuture("area_readings", "ts", "future"),
    OnGrid("area_readings", "ts", "off_grid", {"minutes": str(READING_GRID_MINUTES)}),
    Range(
        "customers",
        "contract_capacity_kva",
        "not_capacity",
        {"limit": _limit(MAX_CAPACITY_KVA)},
        minimum=0.0,
        maximum=MAX_CAPACITY_KVA,
        above_minimum=True,
    ),
    Range(
        "customers",
        "voltage_kv",
        "not_voltage",
        {"limit": _limit(MAX_VOLTAGE_KV)},
        minimum=0.0,
        maximum=MAX_VOLTAGE_KV,
        above_minimum=True,
    ),
    Range("customers", "lat", "not_latitude", minimum=-90.0, maximum=90.0),
    Range("customers", "lon", "not_longitude", minimum=-180.0, maximum=180.0),
    Allowed(
        "customers",
        "customer_class",
        "not_allowed",
        {"allowed": ", ".join(schema.CUSTOMER_CLASSES)},
        allowed=schema.CUSTOMER_CLASSES,
    ),
    Known("customers", "region", "unknown_district", vocabulary="districts"),
    Known("customers", "tariff_code", "unknown_tariff", vocabulary="tariff_codes"),
    NotFuture("customers", "open_date", "future"),
    Range(
        "weather",
        "temperature_c",
        "temperature",
        {"low": f"{TEMPERATURE_RANGE_C[0]:.0f}", "high": f"{TEMPERATURE_RANGE_C[1]:.0f}"},
        minimum=TEMPERATURE_RANGE_C[0],
        maximum=TEMPERATURE_RANGE_C[1],
    ),
    Known("weather", "region", "unknown_district", vocabulary="districts"),
    *_negative("bills", "kwh_peak", "kwh_flat", "kwh_valley", "kwh_critical", "kwh_total"),
    *_negative("bills", "paid_cny"),
    NotFuture("bills", "paid_date", "future"),
    Range(
        "work_orders",
        "satisfaction",
        "satisfaction",
        {"low": str(SATISFACTION_RANGE[0]), "high": str(SATISFACTION_RANGE[1])},
        minimum=SATISFACTION_RANGE[0],
        maximum=SATISFACTION_RANGE[1],
    ),
    NotFuture("work_orders", "created_at", "future"),
    NotFuture("work_orders", "closed_at", "future"),
    Order("work_orders", "closed_at", "before", {"earlier": "created_at"}, earlier="created_at"),
    *_negative("channel_activity", "events"),
    NotFuture("channel_activity", "date", "future"),
    Order("outages", "end", "before", {"earlier": "start"}, earlier="start"),
    Allowed(
        "campaigns",
        "goal",
        "not_allowed",
        {"allowed": ", ".join(schema.CAMPAIGN_GOALS)},
        allowed=schema.CAMPAIGN_GOALS,
    ),
    *_negative("campaigns", "cost_per_contact_cny"),
    Order("campaigns", "end_date", "before", {"earlier": "start_date"}, earlier="start_date"),
    # Control or a treatment arm a campaign's plan names (or the plain "treatment").
    Known("campaign_members", "arm", "unknown_arm", vocabulary="campaign_arms"),
    *_negative("campaign_members", "value_cny"),
    NotFuture("campaign_members", "contacted_at", "future"),
    NotFuture("campaign_members", "responded_at", "future"),
    NotFuture("campaign_members", "converted_at", "future"),
    Order(
        "campaign_members",
        "responded_at",
        "before",
        {"earlier": "contacted_at"},
        earlier="contacted_at",
    ),
    Order(
        "campaign_members",
        "converted_at",
        "before",
        {"earlier": "contacted_at"},
        earlier="contacted_at",
    ),
    Allowed(
        "applications",
        "type",
        "not_allowed",
        {"allowed": ", ".join(schema.APPLICATION_TYPES)},
        allowed=schema.APPLICATION_TYPES,
    ),
    Allowed(
        "applications",
        "customer_class",
        "not_allowed",
        {"allowed": ", ".join(schema.CUSTOMER_CLASSES)},
        allowed=schema.CUSTOMER_CLASSES,
    ),
    Range(
        "applications",
        "requested_kva",
        "not_capacity",
        {"limit": _limit(MAX_CAPACITY_KVA)},
        minimum=0.0,
        maximum=MAX_CAPACITY_KVA,
        above_minimum=True,
    ),
    Known("applications", "region", "unknown_district", vocabulary="districts"),
    *(NotFuture("applications", f"{stage}_date", "future") for stage in schema.APPLICATION_STAGES),
    # Each stage is reached after the one before it and after the application was accepted.
    *(
        Order("applications", f"{later}_date", "before", {"earlier": earlier}, earlier=earlier)
        for position, later in enumerate(schema.APPLICATION_STAGES[1:])
        for earlier in dict.fromkeys(
            (f"{schema.APPLICATION_STAGES[position]}_date", "accepted_date")
        )
    ),
    Allowed(
        "org_units",
        "level",
        "not_allowed",
        {"allowed": ", ".join(schema.ORG_LEVELS)},
        allowed=schema.ORG_LEVELS,
    ),
    # Every date of every table the import fills is a plausible date.
    *(
        PlausibleDate(table.name, column.name, "implausible_date", {})
        for table in schema.ENTITY_TABLES
        for column in table.columns
        if isinstance(column.type, sa.Date | sa.DateTime)
    ),
)


def for_table(table_name: str) -> list[Rule]:
    """The rules of one table, in :data:`RULES` order."""
    return [rule for rule in RULES if rule.table == table_name]


def date_bounds(now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The earliest and latest plausible moment, seen from ``now``."""
    earliest = dt.datetime.combine(EARLIEST_DATE, dt.time())
    return earliest, now.replace(year=now.year + LATEST_YEARS_AHEAD)


def reason_values(rule: Rule, column_words: str, now: dt.datetime) -> dict[str, str]:
    """The values a rule's reason shows, with the column in the words of whoever reads it."""
    values = {"column": column_words, **rule.values}
    if isinstance(rule, PlausibleDate):
        earliest, latest = date_bounds(now)
        values.update(earliest=f"{earliest:%Y-%m-%d}", latest=f"{latest:%Y-%m-%d}")
    return values


def interval_minutes(readings: sa.FromClause) -> sa.Subquery:
    """Each customer's reading interval in minutes, from the densest day of ``readings``.

    Args:
        readings: the readings table or a table like it (``customer_id``, ``ts``).

    Returns:
        A subquery with ``customer_id`` and ``minutes``.
    """
    day = functions.day(readings.c.ts).label("day")
    daily = (
        sa.select(readings.c.customer_id, day, sa.func.count().label("per_day"))
        .group_by(readings.c.customer_id, day)
        .subquery("daily")
    )
    densest = sa.func.max(daily.c.per_day)
    minutes = sa.case(
        *[
            (densest <= per_day, interval)
            for per_day, interval in INTERVAL_BY_READINGS_PER_DAY[:-1]
        ],
        else_=INTERVAL_BY_READINGS_PER_DAY[-1][1],
    )
    return (
        sa.select(daily.c.customer_id, minutes.label("minutes"))
        .group_by(daily.c.customer_id)
        .subquery("intervals")
    )


def minutes_for_readings_per_day(densest: int) -> int:
    """The interval of a customer whose densest day has ``densest`` readings."""
    for per_day, minutes in INTERVAL_BY_READINGS_PER_DAY[:-1]:
        if densest <= per_day:
            return minutes
    return INTERVAL_BY_READINGS_PER_DAY[-1][1]


def capacity_limit_kwh(capacity_kva, minutes):
    """The most energy one interval of ``minutes`` can carry at a contract capacity.

    Works alike on SQL expressions and on numbers or arrays, so the store and pandas apply the
    same formula.
    """
    return capacity_kva * CAPACITY_MARGIN * minutes / 60.0


def sql_violation(
    rule: Rule,
    row: sa.FromClause,
    now: dt.datetime,
    vocabularies: Mapping[str, Iterable[str]] | None = None,
    *,
    capacity_kva: sa.ColumnElement | None = None,
    interval: sa.ColumnElement | None = None,
) -> sa.ColumnElement[bool] | None:
    """The SQL condition that is true where a row of ``row`` breaks ``rule``.

    Args:
        rule: the rule.
        row: the table (or a table like it: a staging table, an import batch) to check.
        now: the moment "the future" starts.
        vocabularies: the lists of :class:`Known` rules; a rule whose list is missing or empty
            passes every row.
        capacity_kva: for :class:`WithinCapacity`: the customer's contract capacity, joined in.
        interval: for :class:`WithinCapacity`: the customer's interval in minutes, joined in.

    Returns:
        The condition (never NULL: a missing value breaks no rule but "required"), or None when
        the row lacks a column the rule needs.
    """
    if rule.column not in row.c:
        return None
    value = row.c[rule.column]
    condition: sa.ColumnElement[bool]
    if isinstance(rule, Range):
        parts = []
        if rule.minimum is not None:
            parts.append(value <= rule.minimum if rule.above_minimum else value < rule.minimum)
        if rule.maximum is not None:
            parts.append(value > rule.maximum)
        condition = sa.or_(*parts)
    elif isinstance(rule, Allowed):
        condition = value.not_in(rule.allowed)
    elif isinstance(rule, Known):
        known = list((vocabularies or {}).get(rule.vocabulary) or ())
        if not known:
            return sa.false()
        condition = value.not_in(known)
    elif isinstance(rule, NotFuture):
        condition = value > now
    elif isinstance(rule, PlausibleDate):
        earliest, latest = date_bounds(now)
        condition = sa.or_(value < earliest, value > latest)
    elif isinstance(rule, Order):
        if rule.earlier not in row.c:
            return None
        condition = value < row.c[rule.earlier]
    elif isinstance(rule, OnGrid):
        minutes_into_day = sa.extract("hour", value) * 60 + sa.extract("minute", value)
        condition = sa.or_(minutes_into_day % rule.minutes != 0, sa.extract("second", value) != 0)
    elif isinstance(rule, WithinCapacity):
        if capacity_kva is None or interval is None:
            return None
        condition = value > capacity_limit_kwh(capacity_kva, interval)
    else:
        raise TypeError(f"no SQL form for {type(rule).__name__}")
    return sa.func.coalesce(condition, sa.false())
