"""File import: exact landed and rejected counts on the sample files, on every backend."""

import io
import threading
from collections import Counter
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from core import cli, ingest
from core.store import engine as store_engine
from core.store import schema

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def _rejected(engine: sa.Engine, import_id: int) -> pd.DataFrame:
    rejected = schema.rejected_rows
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                rejected.c.row_number, rejected.c.column_name, rejected.c.value, rejected.c.reason
            )
            .where(rejected.c.import_id == import_id)
            .order_by(rejected.c.row_number, rejected.c.reason)
        ).all()
    return pd.DataFrame(rows, columns=["row_number", "column_name", "value", "reason"])


def _import(engine, table, name, **options) -> ingest.ImportResult:
    return ingest.import_file(engine, table, SAMPLES / name, **options)


def test_good_customers_all_land(store):
    result = _import(store, "customers", "customers.csv")
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (8, 8, 0)
    assert _count(store, schema.customers) == 8
    with store.connect() as conn:
        status = conn.execute(sa.select(schema.customers.c.status).distinct()).scalars().all()
    assert status == ["active"]


def test_dirty_gbk_customers_keep_every_bad_row_with_its_reason(store):
    result = _import(store, "customers", "customers_dirty_gbk.csv")
    assert result.encoding == "gb18030"
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (10, 2, 8)
    assert result.mapping.columns["户号"] == "customer_id"
    assert result.mapping.columns["合同容量(kVA)"] == "contract_capacity_kva"
    rejected = _rejected(store, result.import_id)
    assert list(zip(rejected["row_number"], rejected["column_name"], strict=True)) == [
        (4, "tariff_code"),
        (5, "contract_capacity_kva"),
        (6, "customer_class"),
        (7, "open_date"),
        (8, "lat"),
        (9, "customer_id"),
        (10, "name"),
        (11, "contract_capacity_kva"),
    ]
    assert rejected.loc[rejected["row_number"] == 6, "value"].item() == "军用"
    assert rejected.loc[rejected["row_number"] == 9, "reason"].item() == (
        "customer_id repeats an earlier row of the file (row 2)"
    )
    with store.connect() as conn:
        landed = dict(
            conn.execute(sa.select(schema.customers.c.customer_id, schema.customers.c.name)).all()
        )
        classes = conn.execute(sa.select(schema.customers.c.customer_class)).scalars().all()
        voltage = conn.execute(sa.select(schema.customers.c.voltage_kv)).scalars().all()
    assert landed == {"3201000011": "刘德明", "3201000012": "华新水泥厂"}
    assert sorted(classes) == ["industrial", "residential"]
    assert sorted(voltage) == pytest.approx([0.22, 10.0])


def test_long_readings_dirty_file(store):
    _import(store, "customers", "customers.csv")
    result = _import(store, "readings", "readings_long_dirty.tsv")
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (57, 48, 9)
    assert result.customer_intervals == {"3201000001": 60, "3201000002": 15}
    assert result.intervals == {"hourly": 1, "15-minute": 1}
    assert result.reasons == {
        "kwh is negative": 1,
        "kwh is not a number": 1,
        "customer_id is not a known customer": 1,
        "ts is in the future": 1,
        "ts is not the start of a 15-minute interval": 1,
        "customer_id, ts repeats an earlier row of the file": 1,
        "kwh is empty but required": 1,
        "ts is not a date or time this import understands": 1,
        "the row has a different number of fields than the header (3 fields)": 1,
    }
    rejected = _rejected(store, result.import_id)
    assert rejected["row_number"].tolist() == list(range(50, 59))
    with store.connect() as conn:
        kept = conn.execute(
            sa.select(schema.readings.c.kwh).where(
                schema.readings.c.customer_id == "3201000001",
                schema.readings.c.ts == pd.Timestamp("2024-01-01 05:00").to_pydatetime(),
            )
        ).scalar_one()
    # The first of two readings with the same time is kept, the repeat rejected.
    assert kept == pytest.approx(0.8)


def test_wide_readings_24_and_96_columns(store):
    _import(store, "customers", "customers.csv")
    hourly = _import(store, "readings", "readings_wide_24.csv")
    assert hourly.mapping.layout == "wide"
    assert (hourly.rows_read, hourly.rows_landed, hourly.rows_rejected) == (5, 93, 3)
    assert hourly.reasons == {
        "13:00 is negative": 1,
        "2:00 is not a number": 1,
        "customer_id is not a known customer": 1,
    }
    assert hourly.customer_intervals == {"3201000003": 60, "3201000004": 60}
    quarter = _import(store, "readings", "readings_wide_96.xlsx")
    assert (quarter.rows_read, quarter.rows_landed, quarter.rows_rejected) == (2, 192, 0)
    assert quarter.customer_intervals == {"3201000005": 15, "3201000006": 15}
    with store.connect() as conn:
        last = conn.execute(
            sa.select(sa.func.max(schema.readings.c.ts)).where(
                schema.readings.c.customer_id == "3201000005"
            )
        ).scalar_one()
    assert pd.Timestamp(last) == pd.Timestamp("2024-01-01 23:45")


def test_daily_parquet_readings(store):
    _import(store, "customers", "customers.csv")
    result = _import(store, "readings", "readings_daily.parquet")
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (10, 10, 0)
    assert result.intervals == {"daily": 1}


def test_same_file_twice_adds_nothing_and_a_corrected_file_replaces(store, tmp_path):
    _import(store, "customers", "customers.csv")
    first = _import(store, "readings", "readings_long_dirty.tsv")
    second = _import(store, "readings", "readings_long_dirty.tsv")
    assert _count(store, schema.readings) == 48
    assert second.rows_landed == first.rows_landed and second.rows_replaced == 48
    # Only the latest import of a file keeps its rejected rows.
    assert _count(store, schema.rejected_rows) == 9
    corrected = tmp_path / "readings_long_dirty.tsv"
    lines = (SAMPLES / "readings_long_dirty.tsv").read_text(encoding="utf-8").splitlines()
    good = [line for line in lines[:49] if "01:00:00" not in line or "3201000002" in line]
    good = [line.replace("\t0.30", "\t0.35") if " 00:00:00" in line else line for line in good]
    corrected.write_text("\n".join(good) + "\n", encoding="utf-8")
    result = ingest.import_file(store, "readings", corrected)
    assert result.rows_rejected == 0
    assert _count(store, schema.readings) == 47
    assert _count(store, schema.rejected_rows) == 0
    with store.connect() as conn:
        midnight = conn.execute(
            sa.select(schema.readings.c.kwh).where(
                schema.readings.c.customer_id == "3201000001",
                schema.readings.c.ts == pd.Timestamp("2024-01-01 00:00").to_pydatetime(),
            )
        ).scalar_one()
    assert midnight == pytest.approx(0.35)


def test_failure_mid_import_leaves_the_store_as_it_was(store, monkeypatch):
    _import(store, "customers", "customers.csv")
    with store.connect() as conn:
        version = store_engine.data_version(conn)
    calls = Counter()
    real_insert = store_engine.bulk_insert

    def failing_insert(conn, table, rows):
        calls[table.name] += 1
        if table.name.startswith("import_stage") and calls[table.name] == 3:
            raise RuntimeError("disk full")
        return real_insert(conn, table, rows)

    monkeypatch.setattr(store_engine, "bulk_insert", failing_insert)
    with pytest.raises(RuntimeError, match="disk full"):
        _import(store, "readings", "readings_long_dirty.tsv", chunk_rows=10)
    assert calls["import_stage_readings"] == 3
    assert _count(store, schema.readings) == 0
    assert _count(store, schema.rejected_rows) == 0
    assert _count(store, schema.imports) == 1
    with store.connect() as conn:
        assert store_engine.data_version(conn) == version


def test_source_system_ids_resolve_through_id_map(store):
    _import(store, "customers", "customers.csv")
    id_map = _import(store, "id_map", "id_map.csv")
    assert (id_map.rows_read, id_map.rows_landed, id_map.rows_rejected) == (9, 8, 1)
    result = _import(store, "work_orders", "work_orders_95598.xlsx", source_system="95598")
    assert (result.rows_read, result.rows_landed, result.rows_rejected) == (6, 2, 4)
    assert result.reasons == {
        "customer_id maps to more than one customer in the id map of the source system": 1,
        "customer_id is not in the id map of the source system (95598)": 1,
        "closed_at is before created_at": 1,
        "satisfaction is not a satisfaction score 1 to 5": 1,
    }
    with store.connect() as conn:
        landed = dict(
            conn.execute(
                sa.select(schema.work_orders.c.order_id, schema.work_orders.c.customer_id)
            ).all()
        )
        system = (
            conn.execute(
                sa.select(schema.imports.c.source_system).order_by(schema.imports.c.id.desc())
            )
            .scalars()
            .first()
        )
    assert landed == {"GD240001": "3201000001", "GD240002": "3201000002"}
    assert system == "95598"


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("broken.csv", b"\xff\xfe\x00\x81\x82\x83" * 50, "neither UTF-8 nor GBK"),
        ("empty.csv", b"", "is empty"),
        ("readings.csv", b"customer_id,kwh\n3201000001,1.0\n", "no column for ts"),
        ("readings.json", b"{}", "cannot be imported"),
        ("fake.parquet", b"not parquet", "cannot be read as Parquet"),
    ],
)
def test_unreadable_file_gets_one_message_and_changes_nothing(tmp_path, name, content, message):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        ingest.import_file(engine, "readings", path)
    assert _count(engine, schema.imports) == 0
    engine.dispose()


def test_upload_object_and_progress(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    seen = []
    upload = io.BytesIO((SAMPLES / "customers.csv").read_bytes())
    result = ingest.import_file(
        engine,
        "customers",
        upload,
        file_name="archive.csv",
        chunk_rows=3,
        progress=lambda rows, share: seen.append((rows, share)),
    )
    assert result.file_name == "archive.csv" and result.rows_landed == 8
    assert [rows for rows, _ in seen] == [3, 6, 8]
    assert seen[-1][1] == pytest.approx(1.0)
    engine.dispose()


def test_cli_summary_and_exit_code(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    store_engine.migrate(store_engine.connect(url))
    good = cli.main(
        ["import", "--table", "customers", str(SAMPLES / "customers.csv"), "--database-url", url]
    )
    dirty = cli.main(
        [
            "import",
            "--table",
            "readings",
            str(SAMPLES / "readings_wide_24.csv"),
            "--database-url",
            url,
        ]
    )
    output = capsys.readouterr()
    assert (good, dirty) == (0, 1)
    assert "read 5 rows, landed 93 records, rejected 3 rows" in output.out
    assert "1 × 13:00 is negative" in output.out
    assert "rows read" in output.err
    missing = cli.main(
        ["import", "--table", "readings", str(tmp_path / "none.csv"), "--database-url", url]
    )
    assert missing == 2


def _hourly(start: str, hours: int) -> list[pd.Timestamp]:
    return list(pd.date_range(start, periods=hours, freq="h"))


def _dirty_parquet(path: Path) -> Path:
    """Readings as Parquet with typed columns, dirty in every way the store checks itself."""
    ids = ["3201000001"] * 8 + [" 3201000002 ", "9999999999", None, "", "3201000001", "x" * 25]
    ids += ["3201000002", "3201000002", "3201000001", "3201000002"]
    ts = _hourly("2024-01-01", 8) + _hourly("2024-01-01", 6)
    ts += [pd.Timestamp("2030-01-01"), pd.Timestamp("2024-01-01 00:07"), ts[5], ts[0]]
    ts[6] = None
    kwh = [0.5, -3.2, float("nan"), float("inf"), 2e7, 5.0, 1.0, 1.25] + [1.0] * 10
    kvarh = [-1.0] + [0.1] * 17
    table = pa.table(
        {
            "户号": pa.array(ids, pa.string()),
            "ts": pa.array(ts, pa.timestamp("ms")),
            "电量": pa.array(kwh),
            "kvarh": pa.array(kvarh),
        }
    )
    pq.write_table(table, path)
    return path


def _everything(engine: sa.Engine) -> tuple[list, list]:
    rejected = schema.rejected_rows
    readings = schema.readings
    with engine.connect() as conn:
        kept = conn.execute(
            sa.select(
                rejected.c.row_number, rejected.c.column_name, rejected.c.value, rejected.c.reason
            ).order_by(rejected.c.row_number, rejected.c.reason)
        ).all()
        landed = conn.execute(
            sa.select(
                readings.c.customer_id, readings.c.ts, readings.c.kwh, readings.c.kvarh
            ).order_by(readings.c.customer_id, readings.c.ts)
        ).all()
    # SQLite spells a time cast to text with microseconds; the value is the same.
    kept = [
        (number, column, value.removesuffix(".000000") if value else value, reason)
        for number, column, value, reason in kept
    ]
    return kept, [tuple(row) for row in landed]


@pytest.mark.parametrize("chunk_rows", [4, 1000])
def test_parquet_checked_by_duckdb_matches_the_pandas_route(tmp_path, chunk_rows):
    path = _dirty_parquet(tmp_path / "readings.parquet")
    outcomes = {}
    for backend in ("duckdb", "sqlite"):
        engine = store_engine.connect(f"{backend}:///{tmp_path / backend}.db")
        store_engine.migrate(engine)
        _import(engine, "customers", "customers.csv")
        result = ingest.import_file(engine, "readings", path, chunk_rows=chunk_rows)
        outcomes[backend] = (
            (result.rows_read, result.rows_landed, result.rows_rejected, result.rows_replaced),
            result.reasons,
            _everything(engine),
        )
        engine.dispose()
    assert outcomes["duckdb"] == outcomes["sqlite"]
    counts, reasons, (kept, landed) = outcomes["duckdb"]
    assert counts == (18, 4, 14, 0)
    assert reasons["customer_id, ts repeats an earlier row of the file"] == 2
    assert reasons["kwh is not a number"] == 1 and reasons["ts is in the future"] == 1
    assert ("3201000002", pd.Timestamp("2024-01-01").to_pydatetime(), 1.0, 0.1) in landed
    assert kept[-1][:3] == (18, "customer_id, ts", "3201000002, 2024-01-01 00:00:00")


def test_duckdb_route_checks_in_the_store_not_in_pandas(tmp_path, monkeypatch):
    path = _dirty_parquet(tmp_path / "readings.parquet")
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    _import(engine, "customers", "customers.csv")

    def no_pandas(*args, **kwargs):
        raise AssertionError("Parquet readings on DuckDB went through the pandas checks")

    monkeypatch.setattr(ingest, "_validate", no_pandas)
    seen = []
    result = ingest.import_file(
        engine, "readings", path, chunk_rows=5, progress=lambda rows, share: seen.append(rows)
    )
    assert (result.rows_landed, result.rows_rejected) == (4, 14)
    assert seen == [5, 10, 15, 18]
    engine.dispose()


def _ordered_parquet(
    path: Path,
    repeat_at: int | None = None,
    customers: tuple[str, ...] = ("3201000001", "3201000002", "3201000003"),
) -> Path:
    """Customers one after another, 200 hourly readings each (the metering export)."""
    ids, ts = [], []
    for customer in customers:
        ids += [customer] * 200
        ts += _hourly("2024-03-01", 200)
    if repeat_at is not None:
        ts[repeat_at] = ts[repeat_at - 99]
    kwh = [round(0.1 * (index % 17), 1) for index in range(len(ids))]
    pq.write_table(pa.table({"customer_id": ids, "ts": pa.array(ts), "kwh": kwh}), path)
    return path


def test_ordered_parquet_lands_in_chunks_and_a_repeat_across_chunks_is_found(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    _import(engine, "customers", "customers.csv")
    clean = ingest.import_file(
        engine, "readings", _ordered_parquet(tmp_path / "clean.parquet"), chunk_rows=250
    )
    assert (clean.rows_landed, clean.rows_rejected) == (600, 0)
    assert clean.customer_intervals == dict.fromkeys(("3201000001", "3201000002", "3201000003"), 60)
    again = ingest.import_file(
        engine, "readings", _ordered_parquet(tmp_path / "clean.parquet"), chunk_rows=250
    )
    assert (again.rows_landed, again.rows_replaced) == (600, 600)
    assert _count(engine, schema.readings) == 600
    # Row 301 (customer 2) repeats the time of row 202 (customer 2), which the first chunk held.
    repeated = ingest.import_file(
        engine, "readings", _ordered_parquet(tmp_path / "repeat.parquet", 300), chunk_rows=250
    )
    assert repeated.reasons == {"customer_id, ts repeats an earlier row of the file": 1}
    rejected = _rejected(engine, repeated.import_id)
    assert rejected["row_number"].tolist() == [301]
    assert rejected["reason"].item().endswith("(row 202)")
    # A customer whose block comes back later in the file repeats every time of its first block.
    returning = ingest.import_file(
        engine,
        "readings",
        _ordered_parquet(
            tmp_path / "returning.parquet", customers=("3201000001", "3201000002", "3201000001")
        ),
        chunk_rows=250,
    )
    assert (returning.rows_landed, returning.rows_rejected) == (400, 200)
    assert returning.reasons == {"customer_id, ts repeats an earlier row of the file": 200}
    engine.dispose()


def test_failure_mid_parquet_import_on_duckdb_leaves_the_store_as_it_was(tmp_path, monkeypatch):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    _import(engine, "customers", "customers.csv")
    path = _ordered_parquet(tmp_path / "readings.parquet")
    ingest.import_file(engine, "readings", path, chunk_rows=250)
    with engine.connect() as conn:
        version = store_engine.data_version(conn)
    real_batch = ingest._arrow_batch
    calls = Counter()

    def failing_batch(*args):
        calls["chunks"] += 1
        if calls["chunks"] == 3:
            raise RuntimeError("disk full")
        return real_batch(*args)

    monkeypatch.setattr(ingest, "_arrow_batch", failing_batch)
    with pytest.raises(RuntimeError, match="disk full"):
        ingest.import_file(engine, "readings", _dirty_parquet(tmp_path / "d.parquet"), chunk_rows=5)
    assert _count(engine, schema.readings) == 600
    assert _count(engine, schema.rejected_rows) == 0
    assert _count(engine, schema.imports) == 2
    with engine.connect() as conn:
        assert store_engine.data_version(conn) == version
    engine.dispose()


def test_reasons_are_kept_as_codes_and_read_in_chinese(store):
    _import(store, "customers", "customers.csv")
    wide = _import(store, "readings", "readings_wide_24.csv")
    long = _import(store, "readings", "readings_long_dirty.tsv")
    rejected = schema.rejected_rows
    with store.connect() as conn:
        stored = conn.execute(
            sa.select(rejected.c.reason, rejected.c.reason_code, rejected.c.reason_values).where(
                rejected.c.import_id == wide.import_id, rejected.c.column_name == "13:00"
            )
        ).one()
    assert tuple(stored) == ("13:00 is negative", "negative", '{"column": "13:00"}')
    chinese = ingest.rejected_rows(store, wide.import_id, language="zh")
    assert sorted(chinese["reason"]) == [
        "13:00 为负数",
        "2:00 不是数字",
        "customer_id 不是已建档的用户",
    ]
    reasons = set(ingest.rejected_rows(store, long.import_id, language="zh")["reason"])
    assert "customer_id, ts 与文件第 7 行重复" in reasons
    assert "ts 不是 15 分钟时段的起点" in reasons
    assert "该行的字段数与表头不一致（表头 3 个字段）" in reasons
    english = ingest.rejected_rows(store, long.import_id)
    assert "customer_id, ts repeats an earlier row of the file (row 7)" in set(english["reason"])
    # The downloaded file is the same frame: the Chinese reasons survive the CSV round trip.
    assert "13:00 为负数" in chinese.to_csv(index=False)
    summary = wide.reason_summary("zh")
    assert summary.values.tolist() == [
        ["13:00 为负数", 1],
        ["2:00 不是数字", 1],
        ["customer_id 不是已建档的用户", 1],
    ]
    assert (
        long.reason_summary("zh")
        .set_index("reason")["count"]
        .to_dict()["customer_id, ts 与文件中前面的行重复"]
        == 1
    )


def test_rows_kept_before_reason_codes_keep_their_english_words(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    with engine.begin() as conn:
        conn.execute(
            schema.rejected_rows.insert().values(
                import_id=1,
                table_name="readings",
                file_name="old.csv",
                row_number=2,
                column_name="kwh",
                value="-1",
                reason="kwh is negative",
                rejected_at=pd.Timestamp("2024-01-01").to_pydatetime(),
            )
        )
    assert ingest.rejected_rows(engine, language="zh")["reason"].tolist() == ["kwh is negative"]
    engine.dispose()


def test_cli_summary_in_the_workbench_language(tmp_path, capsys, monkeypatch):
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    store_engine.migrate(store_engine.connect(url))
    cli.main(
        ["import", "--table", "customers", str(SAMPLES / "customers.csv"), "--database-url", url]
    )
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    code = cli.main(
        [
            "import",
            "--table",
            "readings",
            str(SAMPLES / "readings_wide_24.csv"),
            "--database-url",
            url,
        ]
    )
    output = capsys.readouterr().out
    assert code == 1
    assert "读取 5 行，入库 93 条记录，拒收 3 行" in output
    assert "1 × 13:00 为负数" in output
    assert "各用户的采集间隔：每小时: 2" in output


def test_an_import_of_readings_refreshes_the_features(store):
    _import(store, "customers", "customers.csv")
    with store.connect() as conn:
        assert _count(store, schema.features) == 0
    result = _import(store, "readings", "readings_wide_24.csv")
    assert result.rows_landed > 0
    touched = set(result.customers_touched)
    assert 0 < len(touched) < 8
    # Only the customers the file brought readings for are recomputed.
    assert result.features_refreshed == len(touched)
    assert f"features of {len(touched)} customers recomputed" in result.describe("en")
    readings, features = schema.readings, schema.features
    with store.connect() as conn:
        landed = dict(
            conn.execute(
                sa.select(readings.c.customer_id, sa.func.sum(readings.c.kwh)).group_by(
                    readings.c.customer_id
                )
            ).all()
        )
        total = features.c.avg_daily_kwh * features.c.days_with_readings
        computed = dict(conn.execute(sa.select(features.c.customer_id, total)).all())
    assert set(landed) == touched == set(computed)
    for customer_id, kwh in landed.items():
        assert computed[customer_id] == pytest.approx(kwh)


def test_an_import_can_leave_the_features_for_later(store):
    _import(store, "customers", "customers.csv", refresh_features=False)
    result = _import(store, "readings", "readings_wide_24.csv", refresh_features=False)
    assert result.rows_landed > 0 and result.features_refreshed == 0
    assert _count(store, schema.features) == 0


def test_imports_from_two_sessions_at_once_both_land(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'shared.duckdb'}")
    store_engine.migrate(engine)
    _import(engine, "customers", "customers.csv")
    outcomes: dict[str, object] = {}

    def run(name: str) -> None:
        try:
            outcomes[name] = _import(engine, "readings", name)
        except Exception as error:  # noqa: BLE001 - the test reports whatever escaped
            outcomes[name] = error

    threads = [
        threading.Thread(target=run, args=(name,))
        for name in ("readings_wide_24.csv", "readings_long_dirty.tsv")
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(isinstance(outcome, ingest.ImportResult) for outcome in outcomes.values()), outcomes
    assert outcomes["readings_wide_24.csv"].rows_landed == 93
    assert outcomes["readings_long_dirty.tsv"].rows_landed == 48
    engine.dispose()


def test_a_write_conflict_is_told_in_words_and_keeps_nothing(store, monkeypatch):
    def conflicting(*args, **kwargs):
        raise sa.exc.DBAPIError("COMMIT", {}, RuntimeError("TransactionContext Error: Conflict"))

    monkeypatch.setattr(ingest, "_run_import", conflicting)
    with pytest.raises(ValueError, match="import it again"):
        _import(store, "customers", "customers.csv")
    assert _count(store, schema.customers) == 0


def test_a_file_for_another_table_says_which_table_it_fits(store):
    with pytest.raises(ValueError, match="it looks like a file for readings"):
        _import(store, "customers", "readings_long_dirty.tsv")
    headers = ["户号", "户名", "用电类别", "所属区县", "电价代码"]
    assert ingest.fitting_tables(headers) == ["customers"]
    assert ingest.fitting_tables(["something", "else"]) == []
    assert _count(store, schema.customers) == 0
