"""Business expansion (业扩报装): the applications table, its import and the demo's applications."""

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, ingest
from core.kpis import limits as time_limits
from core.store import schema

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _table(engine: sa.Engine, table: sa.Table) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(sa.select(table)).mappings().all())


def test_a_business_expansion_export_with_chinese_headers_lands_on_every_backend(store):
    ingest.import_file(store, "customers", SAMPLES / "customers.csv", refresh_features=False)
    result = ingest.import_file(
        store, "applications", SAMPLES / "applications_gbk.csv", refresh_features=False
    )
    assert result.encoding == "gb18030"
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (10, 5, 5)
    assert result.mapping.columns["受理时间"] == "accepted_date"
    assert result.mapping.columns["申请容量(kVA)"] == "requested_kva"
    assert result.mapping.columns["所属区县"] == "region"
    stored = _table(store, schema.applications).set_index("application_id")
    assert sorted(stored.index) == [
        "YK2025030001",
        "YK2025030002",
        "YK2025030003",
        "YK2025030004",
        "YK2025040001",
    ]
    assert stored.loc["YK2025030001", "type"] == "new_connection"
    assert stored.loc["YK2025030003", "type"] == "capacity_increase"
    assert stored.loc["YK2025030004", "type"] == "capacity_decrease"
    assert stored.loc["YK2025040001", "type"] == "temporary"
    assert stored.loc["YK2025030003", "customer_class"] == "industrial"
    # A new connection names its applicant and has no customer id until it is connected.
    assert pd.isna(stored.loc["YK2025030001", "customer_id"])
    assert stored.loc["YK2025030003", "customer_id"] == "3201000005"
    assert pd.Timestamp(stored.loc["YK2025030001", "connected_date"]).date() == dt.date(2025, 4, 4)
    assert pd.isna(stored.loc["YK2025030002", "inspected_date"])
    with store.connect() as conn:
        rejected = conn.execute(
            sa.select(schema.rejected_rows.c.row_number, schema.rejected_rows.c.column_name)
            .where(schema.rejected_rows.c.import_id == result.import_id)
            .order_by(schema.rejected_rows.c.row_number)
        ).all()
    assert [tuple(row) for row in rejected] == [
        (7, "type"),
        (8, "requested_kva"),
        (9, "surveyed_date"),
        (10, "customer_id"),
        (11, "application_id"),
    ]


def test_importing_the_same_export_twice_adds_nothing(store):
    ingest.import_file(store, "customers", SAMPLES / "customers.csv", refresh_features=False)
    for _ in range(2):
        ingest.import_file(
            store, "applications", SAMPLES / "applications_gbk.csv", refresh_features=False
        )
    assert len(_table(store, schema.applications)) == 5


def test_a_district_writer_lands_only_the_applications_of_their_district(store):
    ingest.import_file(store, "customers", SAMPLES / "customers.csv", refresh_features=False)
    daye = access.Viewer(user_name="daye", role="manager", regions=("大冶市",))
    result = ingest.import_file(
        store,
        "applications",
        SAMPLES / "applications_gbk.csv",
        viewer=daye,
        refresh_features=False,
    )
    stored = set(_table(store, schema.applications)["application_id"])
    # 大冶市: an applicant and a customer of the district; the others are outside it.
    assert stored == {"YK2025030001", "YK2025030003"}
    with store.connect() as conn:
        refused = conn.execute(
            sa.select(schema.rejected_rows.c.row_number, schema.rejected_rows.c.column_name)
            .where(
                schema.rejected_rows.c.import_id == result.import_id,
                schema.rejected_rows.c.reason_code == "out_of_scope",
            )
            .order_by(schema.rejected_rows.c.row_number)
        ).all()
    # 黄石港区's applicant, 下陆区's customer, then the building sites of the other districts.
    assert [tuple(row) for row in refused] == [
        (3, "region"),
        (5, "customer_id"),
        *((row, "region") for row in (6, 7, 8, 9)),
    ]


@pytest.fixture(scope="module")
def demo_applications(demo_url) -> tuple[pd.DataFrame, pd.DataFrame]:
    from core.store import engine as store_engine

    engine = store_engine.connect(demo_url)
    try:
        return _table(engine, schema.applications), _table(engine, schema.customers)
    finally:
        engine.dispose()


def _dates(frame: pd.DataFrame, stage: str) -> pd.Series:
    return pd.to_datetime(frame[f"{stage}_date"])


def test_every_customer_connected_in_the_demo_came_through_a_new_connection(demo_applications):
    applications, customers = demo_applications
    opened = customers[pd.to_datetime(customers["open_date"]) >= pd.Timestamp("2024-01-01")]
    assert len(opened) > 0
    connections = applications[
        (applications["type"] == "new_connection") & applications["customer_id"].notna()
    ].set_index("customer_id")
    assert set(opened["customer_id"]) == set(connections.index)
    for customer in opened.itertuples(index=False):
        connected = pd.Timestamp(connections.loc[customer.customer_id, "connected_date"])
        assert connected == pd.Timestamp(customer.open_date)
    # Those still under way have no customer yet.
    open_ones = applications[
        (applications["type"] == "new_connection") & applications["connected_date"].isna()
    ]
    assert len(open_ones) >= 2 and open_ones["customer_id"].isna().all()


def test_demo_stages_follow_each_other_and_some_run_past_their_limit(demo_applications):
    applications, _ = demo_applications
    limits = time_limits.load()
    assert set(applications["type"]) == set(schema.APPLICATION_TYPES)
    assert applications["application_id"].is_unique
    late = 0
    for row in applications.itertuples(index=False):
        kind = row.type
        previous = pd.Timestamp(row.accepted_date)
        for stage in time_limits.TIMED_STAGES:
            reached = getattr(row, f"{stage}_date")
            if stage not in limits.stages[kind]:
                assert pd.isna(reached), (row.application_id, stage)
                continue
            if pd.isna(reached):
                continue
            reached = pd.Timestamp(reached)
            assert reached >= previous, (row.application_id, stage)
            group = (
                "residential"
                if row.customer_class == "residential"
                else "high_voltage"
                if row.requested_kva >= limits.high_voltage_from_kva
                else "low_voltage"
            )
            late += (reached - previous).days > limits.stage_days[group][stage]
            previous = reached
    assert late > 0
    months = _dates(applications, "accepted").dt.to_period("M")
    assert months.nunique() >= 12
    assert applications["region"].nunique() >= 4
