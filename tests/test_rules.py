"""Every rule of the rule table is enforced by the pandas route, the SQL route and the quality
figures: a value that breaks it is rejected by an import and counted by quality."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from core import access, ingest, quality
from core.ingest import check_frame
from core.store import engine as store_engine
from core.store import rules, schema

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
HOUSEHOLD = "3201000001"
NOW = dt.datetime.now().replace(microsecond=0)
# Districts come from the customers themselves until the store has an organisation table, so a
# stored customer's district is known by definition; the import checks it against the others.
QUALITY_CANNOT_SEE = {("customers", "region")}


def _base(table: str, index: int) -> dict:
    """A row of ``table`` that breaks no rule; ``index`` keeps its key apart from the others."""
    day = dt.datetime(2024, 1, 1) + dt.timedelta(days=index)
    return {
        "customers": {
            "customer_id": f"39{index:08d}",
            "name": f"rule {index}",
            "customer_class": "commercial",
            "region": "黄石港区",
            "tariff_code": "COM_TOU",
            "contract_capacity_kva": 50.0,
            "voltage_kv": 0.4,
            "lat": 30.2,
            "lon": 115.0,
            "open_date": dt.date(2015, 1, 1),
        },
        "readings": {"customer_id": HOUSEHOLD, "ts": day, "kwh": 1.0, "kvarh": 0.1},
        "weather": {"region": "黄石港区", "ts": day, "temperature_c": 5.0},
        "org_units": {"path": f"区{index}", "name": f"区{index}", "level": "district"},
        "area_readings": {"transformer_area": f"TA{index:04d}", "ts": day, "kwh": 10.0},
        "applications": {
            "application_id": f"YK{index:06d}",
            "customer_id": HOUSEHOLD,
            "type": "new_connection",
            "customer_class": "commercial",
            "region": "黄石港区",
            "requested_kva": 50.0,
            "accepted_date": day.date(),
            "surveyed_date": (day + dt.timedelta(days=1)).date(),
            "answered_date": (day + dt.timedelta(days=2)).date(),
            "inspected_date": (day + dt.timedelta(days=3)).date(),
            "connected_date": (day + dt.timedelta(days=4)).date(),
        },
        "bills": {
            "customer_id": HOUSEHOLD,
            "period": f"{2000 + index}-01",
            "kwh_peak": 1.0,
            "kwh_flat": 1.0,
            "kwh_valley": 1.0,
            "kwh_critical": 0.0,
            "kwh_total": 3.0,
            "amount_cny": 2.0,
            "due_date": dt.date(2024, 2, 15),
            "paid_date": dt.date(2024, 2, 10),
            "paid_cny": 2.0,
        },
        "work_orders": {
            "order_id": f"GD{index}",
            "customer_id": HOUSEHOLD,
            "created_at": day,
            "closed_at": day + dt.timedelta(hours=4),
            "type": "complaint",
            "channel": "95598",
            "satisfaction": 4,
            "description": "x",
        },
        "channel_activity": {
            "customer_id": HOUSEHOLD,
            "date": day.date(),
            "channel": "app",
            "events": 2,
        },
        "outages": {
            "event_id": f"TD{index}",
            "customer_id": HOUSEHOLD,
            "start": day,
            "end": day + dt.timedelta(hours=2),
            "planned": True,
        },
        "campaigns": {
            "campaign_id": f"HD{index}",
            "name": "rule",
            "goal": "retain",
            "offer": "x",
            "channel": "sms",
            "start_date": dt.date(2024, 1, 1),
            "end_date": dt.date(2024, 2, 1),
            "cost_per_contact_cny": 1.0,
        },
        "campaign_members": {
            "campaign_id": f"HD{index}",
            "customer_id": HOUSEHOLD,
            "arm": "control",
            "channel": "sms",
            "contacted_at": day,
            "responded_at": day + dt.timedelta(days=1),
            "converted_at": day + dt.timedelta(days=2),
            "value_cny": 10.0,
        },
    }[table]


def _is_date(table: str, column: str) -> bool:
    kind = schema.metadata.tables[table].c[column].type
    return isinstance(kind, sa.Date) and not isinstance(kind, sa.DateTime)


def _breaking(rule: rules.Rule, index: int) -> dict:
    """A row that breaks ``rule`` and no rule before it."""
    row = _base(rule.table, index)
    column = rule.column
    if isinstance(rule, rules.Range):
        if rule.minimum is not None:
            row[column] = rule.minimum if rule.above_minimum else rule.minimum - 1
        else:
            row[column] = rule.maximum * 10
    elif isinstance(rule, rules.Allowed):
        row[column] = "bogus"
    elif isinstance(rule, rules.Known):
        # A district of its own per table: a stored customer's district becomes a known one.
        row[column] = f"{rule.table}区" if rule.vocabulary == "districts" else "NO_SUCH_TARIFF"
    elif isinstance(rule, rules.NotFuture):
        later = NOW + dt.timedelta(days=400)
        row[column] = later.date() if _is_date(rule.table, column) else later
    elif isinstance(rule, rules.PlausibleDate):
        ancient = dt.datetime(1000, 1, 1)
        row[column] = ancient.date() if _is_date(rule.table, column) else ancient
        # A moment that must follow another one stays in order, so only the date is wrong.
        for other in rules.for_table(rule.table):
            if isinstance(other, rules.Order) and other.column == column:
                row[other.earlier] = row[column]
            if isinstance(other, rules.Order) and other.earlier == column:
                row[other.column] = row[column]
    elif isinstance(rule, rules.Order):
        row[column] = row[rule.earlier] - dt.timedelta(days=1)
    elif isinstance(rule, rules.OnGrid):
        row[column] = row[column] + dt.timedelta(minutes=7)
    elif isinstance(rule, rules.WithinCapacity):
        # One reading a day is a daily interval: 8 kVA carry at most 8 × 2 × 24 = 384 kWh.
        row[column] = 5000.0
    return row


def _cases() -> dict[str, list[tuple[rules.Rule, dict]]]:
    cases: dict[str, list[tuple[rules.Rule, dict]]] = {}
    for index, rule in enumerate(rules.RULES, start=1):
        cases.setdefault(rule.table, []).append((rule, _breaking(rule, index)))
    return cases


def _text(value: object) -> object:
    if isinstance(value, dt.datetime):
        return f"{value:%Y-%m-%d %H:%M:%S}"
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _store(url: str) -> sa.Engine:
    engine = store_engine.connect(url)
    store_engine.migrate(engine)
    ingest.import_file(engine, "customers", SAMPLES / "customers.csv", refresh_features=False)
    return engine


def _rejected_codes(engine: sa.Engine, import_id: int) -> set[tuple[int, str, str]]:
    rejected = schema.rejected_rows
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(rejected.c.row_number, rejected.c.column_name, rejected.c.reason_code).where(
                rejected.c.import_id == import_id
            )
        ).all()
    return {tuple(row) for row in rows}


def test_every_rule_is_enforced_by_the_pandas_route_and_counted_by_quality(tmp_path):
    engine = _store(f"sqlite:///{tmp_path / 'rules.sqlite'}")
    covered = []
    for table, cases in _cases().items():
        frame = pd.DataFrame(
            [{key: _text(value) for key, value in row.items()} for _, row in cases]
        )
        path = tmp_path / f"{table}.csv"
        frame.to_csv(path, index=False)
        result = ingest.import_file(engine, table, path, refresh_features=False)
        codes = _rejected_codes(engine, result.import_id)
        for number, (rule, _) in enumerate(cases, start=2):
            assert (number, rule.column, rule.code) in codes, (table, rule)
        # The same rows stored by another way than the import: quality finds each of them.
        key = list(ingest.headers.key_columns(schema.metadata.tables[table]))
        with engine.begin() as conn:
            conn.execute(schema.metadata.tables[table].insert(), [row for _, row in cases])
        found = quality.drill_down(engine, access.SYSTEM, "values_in_range", table, limit=1000)
        flagged = {tuple(_text(value) for value in values) for values in found[key].to_numpy()}
        for rule, row in cases:
            if (rule.table, rule.column) in QUALITY_CANNOT_SEE:
                continue
            assert tuple(_text(row[name]) for name in key) in flagged, (table, rule)
            covered.append(rule)
    assert len(covered) == len(rules.RULES) - len(QUALITY_CANNOT_SEE)
    engine.dispose()


def test_every_readings_rule_is_enforced_by_the_sql_route(tmp_path, monkeypatch):
    engine = _store(f"duckdb:///{tmp_path / 'rules.duckdb'}")
    cases = _cases()["readings"]
    columns = {name: [row[name] for _, row in cases] for name in ("customer_id", "ts", "kwh")}
    columns["kvarh"] = [row["kvarh"] for _, row in cases]
    path = tmp_path / "readings.parquet"
    pq.write_table(
        pa.table(
            {
                "customer_id": pa.array(columns["customer_id"], pa.string()),
                "ts": pa.array(columns["ts"], pa.timestamp("us")),
                "kwh": pa.array(columns["kwh"], pa.float64()),
                "kvarh": pa.array(columns["kvarh"], pa.float64()),
            }
        ),
        path,
    )

    def no_pandas(*args, **kwargs):
        raise AssertionError("Parquet readings on DuckDB went through the pandas checks")

    monkeypatch.setattr(check_frame, "check", no_pandas)
    result = ingest.import_file(engine, "readings", path, refresh_features=False)
    codes = _rejected_codes(engine, result.import_id)
    # Parquet rows count from 1.
    for number, (rule, _) in enumerate(cases, start=1):
        assert (number, rule.column, rule.code) in codes, rule
    engine.dispose()


@pytest.mark.parametrize("rule", rules.RULES, ids=lambda rule: f"{rule.table}.{rule.column}")
def test_every_rule_has_words_in_both_languages(rule):
    from core import i18n

    for language in ("en", "zh"):
        assert f"ingest.reason.{rule.code}" in i18n.catalogs()[language]
