"""The batch analytics on Spark (local[2]) equal the embedded engine's on the demo store.

One Spark session serves the whole file (its start-up takes most of a minute on a busy machine);
the lake is exported once from the session's demo store.
"""

import datetime as dt
import shutil
import uuid
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as ds
import pytest
import sqlalchemy as sa

from core import access, cli, features, forecast, load_series, savings, tariffs
from core.errors import UserError
from core.spark import bills as spark_bills
from core.spark import dialect, lake, session
from core.spark import features as spark_features
from core.spark import forecasts as spark_forecasts
from core.store import engine as store_engine
from core.store import functions, schema

ROOT = Path(__file__).resolve().parent.parent
BUCKETS = 4
RELATIVE = 1e-9

pytestmark = pytest.mark.skipif(
    shutil.which("java") is None, reason="Spark needs Java 17 (make test installs it)"
)


@pytest.fixture(scope="session")
def spark():
    """The one Spark session of the test run, on local[2]."""
    spark_session = session.build("local[2]")
    yield spark_session
    spark_session.stop()


@pytest.fixture(scope="module")
def demo_lake(demo_url, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("lake") / "lake"
    engine = store_engine.connect(demo_url)
    lake.export(engine, folder, buckets=BUCKETS, chunk_rows=100_000)
    engine.dispose()
    return folder


@pytest.fixture
def demo_copy(demo_url, tmp_path) -> str:
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(sa.make_url(demo_url).database, path)
    return f"duckdb:///{path}"


# The lake -------------------------------------------------------------------------------------


def test_the_lake_holds_every_reading_by_month_and_customer_bucket(demo_lake, demo_store):
    readings = ds.dataset(demo_lake / lake.READINGS, partitioning="hive").to_table().to_pandas()
    r = schema.readings
    month = functions.month(r.c.ts)
    with demo_store.connect() as conn:
        count, kwh = conn.execute(sa.select(sa.func.count(), sa.func.sum(r.c.kwh))).one()
        months = conn.execute(sa.select(sa.func.count(sa.distinct(month)))).scalar_one()
    assert len(readings) == count
    assert readings["kwh"].sum() == pytest.approx(kwh, rel=1e-12)
    assert (readings["month"] == readings["ts"].dt.strftime("%Y-%m")).all()
    expected = readings["customer_id"].map(lambda cid: zlib.crc32(cid.encode()) % BUCKETS)
    assert (readings["bucket"].astype(int) == expected).all()
    assert readings["bucket"].nunique() == BUCKETS
    folders = {path.parent.parent.name for path in (demo_lake / lake.READINGS).rglob("*.parquet")}
    assert len(folders) == months
    manifest = lake.manifest(demo_lake)
    assert manifest["rows"]["readings"] == count
    assert manifest["rows"]["customers"] == 120


def test_the_export_streams_every_backend_and_is_audited(store, tmp_path):
    rows = pd.DataFrame(
        {
            "customer_id": ["C1"] * 3 + ["C2"] * 2,
            "ts": pd.to_datetime(
                [
                    "2025-01-31 23:00",
                    "2025-02-01 00:00",
                    "2025-02-01 01:00",
                    "2025-01-01 00:00",
                    "2025-03-01 12:15",
                ]
            ),
            "kwh": [1.5, 2.0, 2.5, 0.25, 4.0],
            "kvarh": [0.5, None, 0.1, None, 1.0],
        }
    )
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "name": ["甲", "乙"],
            "customer_class": ["commercial", "residential"],
            "region": ["R", "R"],
            "tariff_code": ["COM_TOU", "RES_TIERED"],
            "status": ["active", "active"],
        }
    )
    with store.begin() as conn:
        store_engine.bulk_insert(conn, schema.customers, customers)
        store_engine.bulk_insert(conn, schema.readings, rows)
    # Two rows a chunk: every month is read in several chunks.
    summary = lake.export(store, tmp_path / "lake", buckets=2, chunk_rows=2)
    assert summary.rows["readings"] == 5 and summary.months == 3
    written = ds.dataset(tmp_path / "lake" / lake.READINGS, partitioning="hive").to_table()
    frame = written.to_pandas().sort_values(["customer_id", "ts"], ignore_index=True)
    assert frame["kwh"].tolist() == [1.5, 2.0, 2.5, 0.25, 4.0]
    assert frame["kvarh"].isna().tolist() == [False, True, False, True, False]
    assert frame["ts"].tolist() == rows["ts"].tolist()
    assert sorted(frame["month"].unique()) == ["2025-01", "2025-02", "2025-03"]
    with store.connect() as conn:
        audited = conn.execute(
            sa.select(schema.audit_log.c.detail).where(schema.audit_log.c.action == "export")
        ).scalar_one()
    assert '"rows": 7' in audited
    # A second export replaces the first.
    lake.export(store, tmp_path / "lake", buckets=2)
    again = ds.dataset(tmp_path / "lake" / lake.READINGS, partitioning="hive").count_rows()
    assert again == 5


def test_an_export_of_a_store_without_readings_is_refused(store, tmp_path):
    with pytest.raises(UserError) as raised:
        lake.export(store, tmp_path / "lake")
    assert raised.value.key == "spark.error.no_readings"
    with pytest.raises(UserError):
        lake.export(store, tmp_path / "lake", buckets=0)


# Spark SQL ------------------------------------------------------------------------------------


def test_literals_reach_spark_as_the_values_they_were(spark):
    values = {
        "quoted": "it's a \\ backslash",
        "day": dt.date(2025, 2, 28),
        "at": dt.datetime(2025, 3, 1, 23, 59, 30),
        "tiny": 1e-05,
        "third": 1 / 3,
        "whole": 7,
    }
    select = sa.select(*(sa.literal(value).label(name) for name, value in values.items()))
    row = spark.sql(dialect.to_sql(select)).collect()[0].asDict()
    assert row == values
    epoch = sa.select(sa.extract("epoch", sa.literal(dt.datetime(1970, 1, 2, 1, 0, 0))))
    assert spark.sql(dialect.to_sql(epoch)).collect()[0][0] == 90000.0


# Features -------------------------------------------------------------------------------------


def test_spark_features_equal_the_store_refresh(spark, demo_lake, demo_copy, featured_demo_store):
    engine = store_engine.connect(demo_copy)
    summary = spark_features.refresh(spark, engine, demo_lake)
    on_spark = features.table(engine, access.SYSTEM).set_index("customer_id")
    in_store = features.table(featured_demo_store, access.SYSTEM).set_index("customer_id")
    engine.dispose()
    assert summary.customers == len(in_store) == 120
    assert summary.readings > 1_000_000
    assert on_spark.index.tolist() == in_store.index.tolist()
    for column in ("period_start", "period_end", "preferred_channel"):
        assert on_spark[column].fillna("-").tolist() == in_store[column].fillna("-").tolist()
    for name in schema.FEATURE_COLUMNS:
        spark_values = on_spark[name].to_numpy(float)
        store_values = in_store[name].to_numpy(float)
        assert (np.isnan(spark_values) == np.isnan(store_values)).all(), name
        known = ~np.isnan(store_values)
        np.testing.assert_allclose(
            spark_values[known], store_values[known], rtol=RELATIVE, atol=0, err_msg=name
        )
    # Features that must not be all empty on the demo store, so the comparison compared numbers.
    for name in ("annual_kwh", "peak_share", "yoy_growth", "power_factor", "arrears_cny"):
        assert in_store[name].notna().sum() > 10, name


def test_the_spark_command_names_a_missing_lake(tmp_path, demo_copy, capsys):
    code = cli.main(["spark", "features", "--lake", str(tmp_path), "--database-url", demo_copy])
    assert code == 2
    assert "export-lake" in capsys.readouterr().err


# Bills ----------------------------------------------------------------------------------------


def test_spark_bills_equal_the_tariff_pages_to_the_fen(spark, demo_lake, demo_store):
    catalog = tariffs.load_catalog()
    rows, start, end = spark_bills.run(spark, str(demo_lake), catalog)
    on_spark = rows.toPandas()
    expected = []
    with demo_store.connect() as conn:
        assert (start, end) == savings.priced_window(conn)
        for customer in savings.store_archive(demo_store).itertuples():
            try:
                readings = savings.priced_readings(conn, customer.customer_id)
            except savings.NoReadingsError:
                continue
            capacity = customer.contract_capacity_kva
            plans = savings.compare_plans(
                readings,
                catalog,
                customer.customer_class,
                customer.tariff_code,
                None if pd.isna(capacity) else float(capacity),
            )
            expected.append(plans.assign(customer_id=customer.customer_id))
    in_app = pd.concat(expected, ignore_index=True)
    assert on_spark["error"].isna().all()
    key = ["customer_id", "code", "basic_basis"]
    merged = in_app.assign(basic_basis=in_app["basic_basis"].fillna("-")).merge(
        on_spark.assign(basic_basis=on_spark["basic_basis"].fillna("-")),
        on=key,
        how="outer",
        suffixes=("_app", "_spark"),
        indicator=True,
    )
    assert (merged["_merge"] == "both").all()
    assert len(merged) == len(in_app) > 120
    for column in ("amount_cny", "saving_cny", "energy_charge_cny", "basic_charge_cny"):
        fen = np.round(merged[f"{column}_app"] * 100) - np.round(merged[f"{column}_spark"] * 100)
        assert (fen == 0).all(), column
    assert (merged["current_app"] == merged["current_spark"]).all()
    assert merged.loc[merged["current_app"], "customer_id"].nunique() == len(expected)


def test_a_customer_that_cannot_be_billed_says_why():
    customer = pd.DataFrame(
        [
            {
                "customer_id": "X1",
                "customer_class": "commercial",
                "tariff_code": "NO_SUCH_TARIFF",
                "contract_capacity_kva": 50.0,
            }
        ]
    )
    readings = pd.DataFrame(
        {"ts": pd.date_range("2025-01-01", periods=48, freq="h"), "kwh": 1.0, "kvarh": np.nan}
    )
    rows = spark_bills.customer_plans(customer, readings, tariffs.load_catalog())
    assert rows["customer_id"].tolist() == ["X1"]
    assert "NO_SUCH_TARIFF" in rows["error"].iloc[0]
    assert spark_bills.customer_plans(customer, readings.iloc[0:0], {}).empty


# Forecasts ------------------------------------------------------------------------------------


def test_spark_forecasts_equal_the_apps_for_a_large_customer(spark, demo_lake, demo_store):
    with demo_store.connect() as conn:
        customer_id = conn.execute(
            sa.select(schema.customers.c.customer_id)
            .where(schema.customers.c.contract_capacity_kva >= spark_forecasts.LARGE_CUSTOMER_KVA)
            .order_by(schema.customers.c.customer_id)
            .limit(1)
        ).scalar_one()
        load = load_series.hourly_load(conn, access.SYSTEM, "customer", customer_id)
        temperature = load_series.hourly_temperature(
            conn, load_series.level_regions(conn, access.SYSTEM, "customer", customer_id)
        )
    horizon = "three_months"
    steps, freq, history, future, _ = load_series.series_inputs(load, temperature, horizon)
    options = spark_forecasts.horizon_options(horizon, folds=0)
    expected = forecast.forecast(history, horizon=steps, freq=freq, future=future, **options)

    spark_features.register_lake(spark, demo_lake)
    rows = spark_forecasts.run(
        spark, horizon, levels=("customer",), keys=[customer_id], folds=0
    ).toPandas()
    assert rows["key"].unique().tolist() == [customer_id]
    assert rows["error"].isna().all()
    rows = rows.sort_values("ds", ignore_index=True)
    frame = expected.frame
    assert rows["ds"].astype("datetime64[ns]").tolist() == frame["ds"].tolist()
    for column in ("yhat", "yhat_seasonal_naive", "yhat_gbm", "yhat_prophet"):
        np.testing.assert_allclose(rows[column], frame[column], rtol=1e-6, err_msg=column)


def test_a_series_too_short_to_forecast_comes_back_with_its_reason():
    load = pd.DataFrame(
        {
            "level": "transformer_area",
            "key": "T1",
            "ds": pd.date_range("2025-01-01", periods=48, freq="h"),
            "y": 10.0,
        }
    )
    weather = pd.DataFrame(columns=["level", "key", "ds", "temperature_c"])
    rows = spark_forecasts.series_forecast(load, weather, "day_ahead", {"folds": 0})
    assert rows["key"].tolist() == ["T1"]
    assert rows["error"].iloc[0]


# The app on PostgreSQL ------------------------------------------------------------------------


@pytest.fixture(scope="module")
def postgres_demo_url(postgres_server_url) -> str:
    """The demo store on a PostgreSQL database of its own (other tests reset the shared one)."""
    from core import demo
    from tests.conftest import DEMO_TEST_CUSTOMERS, DEMO_TEST_SEED

    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    name = f"workbench_spark_{uuid.uuid4().hex[:10]}"
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(postgres_server_url).set(database=name).render_as_string(hide_password=False)
    engine = store_engine.connect(url)
    demo.generate(engine, customers=DEMO_TEST_CUSTOMERS, seed=DEMO_TEST_SEED)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(
            sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
            {"name": name},
        )
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
    admin.dispose()


def _customer_360(url: str, customer_id: str, monkeypatch) -> list[tuple[str, object]]:
    """What the Customer 360 page shows of a customer: every text, figure and table."""
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    at = AppTest.from_file(str(ROOT / "pages" / "customer_360.py"), default_timeout=120).run()
    at.text_input(key="c360_search").input(customer_id).run()
    assert not at.exception
    assert not at.error
    shown = []
    for kind in ("subheader", "markdown", "caption", "info", "warning", "metric"):
        for element in getattr(at, kind):
            shown.append((kind, getattr(element, "label", None), element.value))
    for frame in at.dataframe:
        shown.append(("dataframe", None, frame.value.to_json(date_format="iso")))
    return shown


def test_the_app_on_postgresql_shows_the_same_customer_360_with_spark_features(
    spark, postgres_demo_url, tmp_path, monkeypatch, capsys
):
    engine = store_engine.connect(postgres_demo_url)
    lake_dir = str(tmp_path / "lake")
    export = ["export-lake", "--lake", lake_dir, "--buckets", str(BUCKETS)]
    assert cli.main([*export, "--database-url", postgres_demo_url]) == 0
    job = ["spark", "features", "--lake", lake_dir, "--master", "local[2]"]
    assert cli.main([*job, "--database-url", postgres_demo_url]) == 0
    assert "Features of 120 customers computed on Spark" in capsys.readouterr().out
    # The command borrowed the running session and left it running.
    assert spark.sql("SELECT 1").collect()[0][0] == 1
    with engine.connect() as conn:
        chosen = (
            conn.execute(
                sa.select(schema.features.c.customer_id)
                .where(schema.features.c.annual_kwh > 0)
                .order_by(schema.features.c.arrears_cny.desc(), schema.features.c.customer_id)
                .limit(1)
            )
            .scalars()
            .all()
        )

    def shown() -> dict:
        return {
            customer: _customer_360(postgres_demo_url, customer, monkeypatch) for customer in chosen
        }

    from_spark = shown()
    features.refresh(engine)
    from_store = shown()
    for customer in chosen:
        assert any(kind == "metric" for kind, _, _ in from_spark[customer])
        assert from_spark[customer] == from_store[customer]
    # The page does show the features: other figures, another page.
    table = schema.features
    with engine.begin() as conn:
        conn.execute(
            table.update()
            .where(table.c.customer_id == chosen[0])
            .values(annual_kwh=table.c.annual_kwh * 2, peak_share=table.c.peak_share / 2)
        )
        store_engine.bump_data_version(conn)
    engine.dispose()
    assert _customer_360(postgres_demo_url, chosen[0], monkeypatch) != from_store[chosen[0]]
