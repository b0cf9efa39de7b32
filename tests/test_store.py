"""The store on every backend: schema, bulk loads through the fast path, data version."""

import datetime as dt

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from core.store import engine as store_engine
from core.store import queries, schema


def test_schema_has_every_entity_and_app_table(store):
    tables = set(sa.inspect(store).get_table_names())
    expected = {table.name for table in schema.ENTITY_TABLES}
    expected |= {"imports", "rejected_rows", "users", "audit_log", "data_version"}
    assert expected <= tables
    # A store of real data has none of the demo's planted truth.
    assert not {name for name in tables if name.startswith("demo_truth")}


def test_migrating_twice_keeps_data(store):
    with store.begin() as conn:
        store_engine.bump_data_version(conn)
    store_engine.migrate(store)
    with store.connect() as conn:
        assert store_engine.data_version(conn) == 1


def _readings(count: int) -> pd.DataFrame:
    hours = pd.date_range("2025-01-01", periods=count, freq="h")
    return pd.DataFrame(
        {
            "customer_id": ["4200000001"] * count,
            "ts": hours,
            "kwh": np.round(np.arange(count) * 0.125, 3),
            "kvarh": [None if index % 2 else 0.5 for index in range(count)],
        }
    )


@pytest.mark.parametrize("as_arrow", [False, True])
def test_bulk_insert_round_trips_values_and_nulls(store, as_arrow):
    frame = _readings(48)
    rows = pa.Table.from_pandas(frame, preserve_index=False) if as_arrow else frame
    with store.begin() as conn:
        assert store_engine.bulk_insert(conn, schema.readings, rows) == 48
    with store.connect() as conn:
        stored = pd.DataFrame(
            conn.execute(sa.select(schema.readings).order_by(schema.readings.c.ts)).all(),
            columns=["customer_id", "ts", "kwh", "kvarh"],
        )
    assert stored["kwh"].tolist() == frame["kwh"].tolist()
    assert stored["kvarh"].isna().sum() == 24
    assert pd.Timestamp(stored["ts"].iloc[-1]) == pd.Timestamp("2025-01-02 23:00")


def test_bulk_insert_rolls_back_with_the_transaction(store):
    with pytest.raises(RuntimeError), store.begin() as conn:
        store_engine.bulk_insert(conn, schema.readings, _readings(10))
        raise RuntimeError("failure after the load")
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.readings)).scalar() == 0


def test_bulk_insert_names_an_unknown_column(store):
    frame = _readings(2).assign(voltage=1.0)
    with pytest.raises(ValueError, match="readings has no column voltage"), store.begin() as conn:
        store_engine.bulk_insert(conn, schema.readings, frame)


def test_data_version_grows_and_period_follows_readings(store):
    with store.connect() as conn:
        assert queries.data_period(conn) is None
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.readings, _readings(30))
        assert store_engine.bump_data_version(conn) == 1
        assert store_engine.bump_data_version(conn) == 2
    with store.connect() as conn:
        first, last = queries.data_period(conn)
    assert first == dt.datetime(2025, 1, 1, 0)
    assert last == dt.datetime(2025, 1, 2, 5)


def test_has_data_only_with_customers(store):
    assert not store_engine.has_data(store)
    customer = {
        "customer_id": "4200000001",
        "name": "王伟",
        "customer_class": "residential",
        "region": "黄石港区",
        "tariff_code": "RES_TIERED",
        "status": "active",
    }
    with store.begin() as conn:
        conn.execute(schema.customers.insert(), [customer])
    assert store_engine.has_data(store)


def test_describe_hides_passwords():
    shown = store_engine.describe("postgresql+psycopg://marketing:secret@db:5432/workbench")
    assert "secret" not in shown
    assert "db:5432/workbench" in shown
    assert store_engine.describe("duckdb:///data/workbench.duckdb") == (
        "duckdb: data/workbench.duckdb"
    )
