"""Nothing is lost and nobody writes where they don't belong: imports on every backend."""

import datetime as dt
import io
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, ingest
from core.errors import UserError
from core.store import engine as store_engine
from core.store import rules, schema

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
HOUSEHOLD = "3201000001"  # 8 kVA, 黄石港区
STEELWORKS = "3201000005"  # 6300 kVA, 大冶市
IRRIGATION = "3201000007"  # 100 kVA, 阳新县
DAYE = access.Viewer(user_name="daye", role="manager", regions=("大冶市",))


def _csv(tmp_path: Path, name: str, frame: pd.DataFrame) -> Path:
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def _hours(customer: str, start: str, hours: int, kwh: float = 0.5) -> pd.DataFrame:
    ts = pd.date_range(start, periods=hours, freq="h")
    return pd.DataFrame({"customer_id": customer, "ts": ts.strftime("%Y-%m-%d %H:%M"), "kwh": kwh})


def _readings(engine: sa.Engine, customer: str) -> dict[pd.Timestamp, float]:
    readings = schema.readings
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(readings.c.ts, readings.c.kwh).where(readings.c.customer_id == customer)
        ).all()
    return {pd.Timestamp(ts): kwh for ts, kwh in rows}


@pytest.fixture
def archive(store) -> sa.Engine:
    """The store with the eight sample customers and 48 hourly readings of the household."""
    ingest.import_file(store, "customers", SAMPLES / "customers.csv", refresh_features=False)
    return store


def _import(engine, table, path, **options) -> ingest.ImportResult:
    return ingest.import_file(engine, table, path, refresh_features=False, **options)


def test_a_file_changes_exactly_the_keys_it_lands(archive, tmp_path):
    _import(archive, "readings", _csv(tmp_path, "day.csv", _hours(HOUSEHOLD, "2025-01-01", 48)))
    ends = _hours(HOUSEHOLD, "2025-01-01", 48, kwh=0.9).iloc[[0, 47]]
    two = _import(archive, "readings", _csv(tmp_path, "ends.csv", ends))
    assert (two.rows_updated, two.rows_inserted, two.rows_removed) == (2, 0, 0)
    stored = _readings(archive, HOUSEHOLD)
    assert len(stored) == 48
    assert stored[pd.Timestamp("2025-01-01 00:00")] == pytest.approx(0.9)
    assert stored[pd.Timestamp("2025-01-01 01:00")] == pytest.approx(0.5)
    # A rejected value leaves the stored reading at its time alone.
    bad = _hours(HOUSEHOLD, "2025-01-01 01:00", 1, kwh=-5.0)
    rejected = _import(archive, "readings", _csv(tmp_path, "bad.csv", bad))
    assert (rejected.rows_rejected, rejected.rows_landed) == (1, 0)
    assert _readings(archive, HOUSEHOLD)[pd.Timestamp("2025-01-01 01:00")] == pytest.approx(0.5)
    # An empty cell of a wide row is a reading not collected: the stored one stays.
    wide = {"户号": HOUSEHOLD, "日期": "2025-01-01"}
    wide |= {f"{hour}:00": ("" if hour == 5 else 0.7) for hour in range(24)}
    _import(archive, "readings", _csv(tmp_path, "wide.csv", pd.DataFrame([wide])))
    stored = _readings(archive, HOUSEHOLD)
    assert len(stored) == 48
    assert stored[pd.Timestamp("2025-01-01 05:00")] == pytest.approx(0.5)
    assert stored[pd.Timestamp("2025-01-01 06:00")] == pytest.approx(0.7)


def test_replacing_a_range_says_how_many_rows_it_removes_and_asks(archive, tmp_path):
    _import(archive, "readings", _csv(tmp_path, "day.csv", _hours(HOUSEHOLD, "2025-01-01", 48)))
    ends = _csv(tmp_path, "ends.csv", _hours(HOUSEHOLD, "2025-01-01", 48).iloc[[0, 47]])
    check = _import(archive, "readings", ends, replace_range=True, dry_run=True)
    assert (check.rows_removed, check.rows_landed, check.dry_run) == (46, 2, True)
    assert "removed 46 stored records" in check.describe("en")
    assert len(_readings(archive, HOUSEHOLD)) == 48
    with pytest.raises(UserError, match="check first how many"):
        _import(archive, "readings", ends, replace_range=True)
    with pytest.raises(UserError, match="would now remove 46 rows, not the 40 confirmed"):
        _import(archive, "readings", ends, replace_range=True, confirm_removals=40)
    assert len(_readings(archive, HOUSEHOLD)) == 48
    done = _import(archive, "readings", ends, replace_range=True, confirm_removals=46)
    assert done.rows_removed == 46
    assert sorted(_readings(archive, HOUSEHOLD)) == [
        pd.Timestamp("2025-01-01 00:00"),
        pd.Timestamp("2025-01-02 23:00"),
    ]
    audit = schema.audit_log
    with archive.connect() as conn:
        detail = conn.execute(
            sa.select(audit.c.detail).where(audit.c.action == "import").order_by(audit.c.id.desc())
        ).first()[0]
    assert json.loads(detail)["rows_removed"] == 46
    with pytest.raises(UserError, match="only a time series"):
        _import(archive, "customers", SAMPLES / "customers.csv", replace_range=True, dry_run=True)


def test_a_partial_customers_file_updates_only_its_columns(archive, tmp_path):
    customers = schema.customers
    with archive.begin() as conn:
        conn.execute(
            customers.update()
            .where(customers.c.customer_id == HOUSEHOLD)
            .values(manager_id="CM01", transformer_area="黄石港-001")
        )
    partial = pd.DataFrame(
        [[HOUSEHOLD, "王建国（新）", "residential", "黄石港区", "RES_TIERED"]],
        columns=["customer_id", "name", "customer_class", "region", "tariff_code"],
    )
    result = _import(archive, "customers", _csv(tmp_path, "partial.csv", partial))
    assert (result.rows_updated, result.rows_inserted) == (1, 0)
    with archive.connect() as conn:
        row = conn.execute(sa.select(customers).where(customers.c.customer_id == HOUSEHOLD)).one()
    assert row.name == "王建国（新）"
    assert (row.manager_id, row.transformer_area, row.phone) == (
        "CM01",
        "黄石港-001",
        "13900000001",
    )
    assert (row.contract_capacity_kva, row.voltage_kv) == pytest.approx((8.0, 0.22))
    # An empty cell under a column the file has clears that value, on purpose.
    cleared = partial.assign(phone="")
    _import(archive, "customers", _csv(tmp_path, "cleared.csv", cleared))
    with archive.connect() as conn:
        row = conn.execute(sa.select(customers).where(customers.c.customer_id == HOUSEHOLD)).one()
    assert row.phone is None and row.manager_id == "CM01"


def test_physically_impossible_values_are_rejected(archive, tmp_path):
    hours = _hours(HOUSEHOLD, "2025-01-01", 24)
    hours.loc[5, "kwh"] = 9_999_999.9
    # 8 kVA can carry at most 16 kWh in an hour (twice the rating); 15 kWh is a heavy hour.
    hours.loc[6, "kwh"] = 15.0
    result = _import(archive, "readings", _csv(tmp_path, "spike.csv", hours))
    assert result.reasons == {
        "kwh is more energy than the customer's contract capacity can carry in one interval "
        "(more than 2 × the capacity)": 1
    }
    assert len(_readings(archive, HOUSEHOLD)) == 23
    odd = pd.DataFrame(
        [
            ["3201000090", "火星客户", "commercial", "火星区", "COM_TOU", "50", "2015-01-01"],
            ["3201000091", "古人", "residential", "大冶市", "RES_TIERED", "8", "1000-01-01"],
            ["3201000092", "无容量", "commercial", "大冶市", "COM_TOU", "nan", "2015-01-01"],
            ["3201000093", "正常", "commercial", "大冶市", "COM_TOU", "", "2015-01-01"],
        ],
        columns=[
            "customer_id",
            "name",
            "customer_class",
            "region",
            "tariff_code",
            "contract_capacity_kva",
            "open_date",
        ],
    )
    customers = _import(archive, "customers", _csv(tmp_path, "odd.csv", odd))
    assert customers.rows_rejected == 3 and customers.rows_inserted == 1
    _, latest = rules.date_bounds(dt.datetime.now())
    assert set(customers.reasons) == {
        "region is not one of the utility's districts",
        f"open_date is not a plausible date (1950-01-01 to {latest:%Y-%m-%d})",
        "contract_capacity_kva is not a number",
    }


def test_imports_check_the_importers_scope(archive, tmp_path):
    both = pd.concat([_hours(STEELWORKS, "2025-01-01", 5), _hours(IRRIGATION, "2025-01-01", 7)])
    result = _import(archive, "readings", _csv(tmp_path, "two.csv", both), viewer=DAYE)
    assert (result.rows_landed, result.rows_rejected) == (5, 7)
    assert result.reasons == {"customer_id is a customer outside the importer's scope": 7}
    assert _readings(archive, IRRIGATION) == {}
    moves = pd.DataFrame(
        [
            [IRRIGATION, "阳新灌溉站", "agricultural", "大冶市", "AGR_FLAT"],
            ["3201000095", "新户", "residential", "阳新县", "RES_TIERED"],
            ["3201000096", "新户二", "residential", "大冶市", "RES_TIERED"],
            [STEELWORKS, "大冶特钢二车间", "industrial", "铁山区", "IND_TWO_PART"],
        ],
        columns=["customer_id", "name", "customer_class", "region", "tariff_code"],
    )
    customers = _import(archive, "customers", _csv(tmp_path, "moves.csv", moves), viewer=DAYE)
    assert (customers.rows_inserted, customers.rows_updated, customers.rows_rejected) == (1, 0, 3)
    with archive.connect() as conn:
        regions = dict(
            conn.execute(sa.select(schema.customers.c.customer_id, schema.customers.c.region)).all()
        )
    assert regions[IRRIGATION] == "阳新县" and regions[STEELWORKS] == "大冶市"
    assert "3201000095" not in regions and regions["3201000096"] == "大冶市"
    weather = pd.DataFrame({"region": ["大冶市"], "ts": ["2025-01-01 00:00"], "temperature_c": [3]})
    with pytest.raises(access.AccessError, match="only an administrator imports weather"):
        _import(archive, "weather", _csv(tmp_path, "weather.csv", weather), viewer=DAYE)


def test_rejected_rows_are_scoped_like_every_customer_query(archive, tmp_path):
    spikes = pd.concat(
        [_hours(STEELWORKS, "2025-01-01", 1, -1.0), _hours(IRRIGATION, "2025-01-01", 1, -1.0)]
    )
    _import(archive, "readings", _csv(tmp_path, "admin.csv", spikes))
    everything = ingest.rejected_rows(archive, access.SYSTEM)
    assert len(everything) == 2
    seen = ingest.rejected_rows(archive, DAYE)
    assert seen["value"].tolist() == ["-1.0"]
    assert seen["row_number"].tolist() == [2]
    # A scoped importer sees the rows of their own file, whoever they name.
    mine = _import(
        archive,
        "readings",
        _csv(tmp_path, "mine.csv", _hours(IRRIGATION, "2025-02-01", 2)),
        viewer=DAYE,
    )
    assert len(ingest.rejected_rows(archive, DAYE, mine.import_id)) == 2


def test_a_long_file_name_is_bounded_to_its_column(archive, tmp_path):
    name = "抄表数据" * 70 + ".csv"
    upload = io.BytesIO(_hours(HOUSEHOLD, "2025-01-01", 2).to_csv(index=False).encode())
    result = _import(archive, "readings", upload, file_name=name)
    assert result.rows_landed == 2
    assert len(result.file_name) == schema.imports.c.file_name.type.length
    assert result.file_name.endswith("….csv")
    with archive.connect() as conn:
        target = (
            conn.execute(
                sa.select(schema.audit_log.c.target)
                .where(schema.audit_log.c.action == "import")
                .order_by(schema.audit_log.c.id.desc())
            )
            .scalars()
            .first()
        )
    assert len(target) <= schema.audit_log.c.target.type.length
    with pytest.raises(UserError, match="longer than 40 characters"):
        _import(archive, "readings", upload, file_name="x.csv", source_system="s" * 41)


def test_a_truncated_excel_file_is_told_in_words(archive, tmp_path):
    whole = (SAMPLES / "readings_wide_96.xlsx").read_bytes()
    cut = tmp_path / "cut.xlsx"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(UserError, match="not a readable Excel file") as raised:
        _import(archive, "readings", cut)
    assert "不是可读取的 Excel 文件" in raised.value.text("zh")
    with pytest.raises(UserError, match="not a readable Excel file"):
        ingest.read_readings(cut)


def test_two_identical_command_line_imports_at_once_on_postgresql(postgres_server_url, tmp_path):
    engine = store_engine.connect(postgres_server_url)
    store_engine.drop_schema(engine)
    store_engine.migrate(engine)
    ingest.import_file(engine, "customers", SAMPLES / "customers.csv", refresh_features=False)
    path = _csv(tmp_path, "day.csv", _hours(STEELWORKS, "2025-01-01", 2000, kwh=100.0))
    command = [
        sys.executable,
        "-m",
        "core",
        "import",
        "--table",
        "readings",
        str(path),
        "--database-url",
        postgres_server_url,
    ]
    runs = [
        subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    outcomes = [run.communicate(timeout=600) for run in runs]
    codes = [run.returncode for run in runs]
    for (_, err), code in zip(outcomes, codes, strict=True):
        assert code == 0, err.decode()
        assert b"UniqueViolation" not in err and b"Traceback" not in err
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(schema.readings)).scalar_one()
    assert count == 2000
    engine.dispose()
