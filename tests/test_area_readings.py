"""Transformer-area supply-meter readings: imported like readings, planted by the demo."""

import io

import pandas as pd
import sqlalchemy as sa

from core import ingest
from core.demo import truth
from core.store import schema

CSV = (
    "台区,采集时间,供电量(kWh)\n"
    "黄石港001号台区,2025-03-01 00:00,120.5\n"
    "黄石港001号台区,2025-03-01 01:00,98.25\n"
    "黄石港001号台区,2025-03-01 02:00,-4\n"
    "黄石港001号台区,2025-03-01 02:07,50\n"
    "下陆001号台区,2025-03-01 00:00,80\n"
)


def _import(engine, text: str = CSV) -> ingest.ImportResult:
    return ingest.import_file(
        engine, "area_readings", io.BytesIO(text.encode("utf-8")), file_name="area.csv"
    )


def _stored(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.read_sql(
            sa.select(schema.area_readings).order_by(
                schema.area_readings.c.transformer_area, schema.area_readings.c.ts
            ),
            conn,
        )


def test_chinese_headers_land_and_bad_rows_are_kept_with_their_reason(store):
    result = _import(store)
    assert result.mapping.columns == {
        "台区": "transformer_area",
        "采集时间": "ts",
        "供电量(kWh)": "kwh",
    }
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (5, 3, 2)
    codes = {code for code, _ in result.reason_counts}
    assert codes == {"negative", "off_grid"}
    stored = _stored(store)
    assert stored["kwh"].tolist() == [80.0, 120.5, 98.25]


def test_importing_the_same_file_twice_adds_nothing(store):
    _import(store)
    again = _import(store)
    assert again.rows_inserted == 0
    assert len(_stored(store)) == 3


def test_area_readings_replace_their_range(store):
    _import(store)
    # 00:00 to 02:00 again without 01:00: the stored 01:00 reading is in the range and goes.
    shorter = (
        "台区,采集时间,供电量\n黄石港001号台区,2025-03-01 00:00,121\n"
        "黄石港001号台区,2025-03-01 02:00,60\n"
    )
    check = ingest.import_file(
        store,
        "area_readings",
        io.BytesIO(shorter.encode()),
        file_name="area_fix.csv",
        replace_range=True,
        dry_run=True,
    )
    assert check.rows_removed == 1
    assert "area_readings" in ingest.RANGE_TABLES
    assert len(_stored(store)) == 3


def test_demo_area_meter_exceeds_its_customers_by_the_planted_loss(demo_store):
    customers, readings, area = schema.customers, schema.readings, schema.area_readings
    with demo_store.connect() as conn:
        metered = dict(
            conn.execute(
                sa.select(customers.c.transformer_area, sa.func.sum(readings.c.kwh))
                .select_from(
                    readings.join(customers, customers.c.customer_id == readings.c.customer_id)
                )
                .group_by(customers.c.transformer_area)
            ).all()
        )
        supplied = dict(
            conn.execute(
                sa.select(area.c.transformer_area, sa.func.sum(area.c.kwh)).group_by(
                    area.c.transformer_area
                )
            ).all()
        )
        rates = dict(conn.execute(sa.select(truth.area_loss)).all())
        dropped = (
            conn.execute(
                sa.select(customers.c.transformer_area)
                .join(truth.abnormal, truth.abnormal.c.customer_id == customers.c.customer_id)
                .where(truth.abnormal.c.kind == "sudden_drop")
            )
            .scalars()
            .all()
        )
    assert set(supplied) == set(metered) == set(rates)
    for name, total in supplied.items():
        loss = 1 - metered[name] / total
        if name in dropped:
            # The three quarters a dropped meter stops recording are on top of the technical loss.
            assert loss > rates[name]
        else:
            assert abs(loss - rates[name]) < 0.02, name
