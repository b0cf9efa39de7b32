"""The one reader of tabular files and the one readings validator, at every entry point."""

import io
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from core import access, cli, ingest, load_series, tariffs
from core.errors import UserError
from core.ingest import sources
from core.store import engine as store_engine

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"


def _encoding(content: bytes, name: str = "f.csv") -> str:
    return sources.open_source(io.BytesIO(content), name).encoding


def test_latin_1_and_gbk_are_told_apart_on_the_whole_file():
    latin = "customer_id,name,region\n1,Müller Gärtner,Köln\n2,Søren Ærø,Århus\n"
    assert _encoding(latin.encode("latin-1")) == "cp1252"
    chinese = "户号,户名,区县\n1,刘德明,黄石港区\n2,华新水泥厂,下陆区\n"
    assert _encoding(chinese.encode("gbk")) == "gb18030"
    assert _encoding(chinese.encode("utf-8")) == "utf-8"
    assert _encoding(b"\xef\xbb\xbf" + chinese.encode("utf-8")) == "utf-8-sig"
    # A first block of plain ASCII does not decide: the encoding is that of the whole file.
    late = ("customer_id,name\n" + "1,plain\n" * 20_000 + "2,Müller\n").encode("latin-1")
    assert len(late) > sources.SNIFF_BYTES
    assert _encoding(late) == "cp1252"


def test_latin_1_names_land_as_written(tmp_path):
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    path = tmp_path / "kunden.csv"
    # A Latin-1 file has no Chinese district names; the district is spelt in pinyin here.
    path.write_bytes(
        b"customer_id,name,customer_class,region,tariff_code\n"
        + "3201000101,Müller Gärtner,commercial,Huangshigang,COM_TOU\n".encode("latin-1")
    )
    result = ingest.import_file(engine, "customers", path, refresh_features=False)
    assert result.encoding == "cp1252"
    assert "cp1252" in result.describe("en")
    with engine.connect() as conn:
        name = conn.execute(sa.text("SELECT name FROM customers")).scalar_one()
    assert name == "Müller Gärtner"
    engine.dispose()


def test_a_bad_byte_deep_in_a_utf8_file_is_reported_on_its_line():
    rows = "".join(f"320100{index:04d},用户{index},2024-01-01 00:00,1.0\n" for index in range(3000))
    content = ("customer_id,name,ts,kwh\n" + rows).encode("utf-8")
    assert len(content) > sources.SNIFF_BYTES
    line = 2500
    offset = sum(len(text) + 1 for text in content.split(b"\n")[: line - 1])
    broken = content[:offset] + b"\xff" + content[offset:]
    with pytest.raises(UserError, match=f"on line {line}") as raised:
        _encoding(broken)
    assert f"第 {line} 行" in raised.value.text("zh")


DIRTY = (
    "户号,数据时间,电量(kWh)\n"
    "3201000001,2025-01-01 00:00,0.5\n"
    "3201000001,2025-01-01 01:00,-3\n"
    "3201000001,2025-01-01 02:00,inf\n"
    "3201000001,2025-01-01 03:07,0.5\n"
    "3201000001,2025-01-01 04:00,1e308\n"
    "3201000001,2025-01-01 05:00,0.5\n"
    "3201000001,2025-01-01 05:00,0.6\n"
    "3201000001,not a time,0.5\n"
    "3201000001,2025-01-01 08:00,0.5\n"
)


def _verdict(problems: pd.DataFrame) -> list[tuple[int, str]]:
    return sorted(zip(problems["row_number"], problems["reason_code"], strict=True))


def test_the_same_dirty_file_gets_the_same_verdict_everywhere(tmp_path, capsys):
    path = tmp_path / "meter.csv"
    path.write_text(DIRTY, encoding="gbk")
    expected = [
        (3, "negative"),
        (4, "not_number"),
        (5, "off_grid"),
        (6, "too_much_energy"),
        (8, "duplicate"),
        (9, "not_date"),
    ]
    # The import keeps the good rows and the bad ones with their reason.
    engine = store_engine.connect(f"duckdb:///{tmp_path / 'store.duckdb'}")
    store_engine.migrate(engine)
    ingest.import_file(engine, "customers", SAMPLES / "customers.csv", refresh_features=False)
    result = ingest.import_file(engine, "readings", path, refresh_features=False)
    rows = ingest.rejected_rows(engine, access.SYSTEM, result.import_id)
    with engine.connect() as conn:
        codes = conn.execute(
            sa.text("SELECT row_number, reason_code FROM rejected_rows WHERE import_id = :i"),
            {"i": result.import_id},
        ).all()
    assert sorted(tuple(row) for row in codes) == expected
    assert len(rows) == len(expected)
    engine.dispose()
    # The tariff page's load upload and the bill command refuse it, naming the same rows.
    with pytest.raises(ingest.FileRejected) as tariff:
        ingest.read_readings(io.BytesIO(path.read_bytes()), "meter.csv", capacity_kva=8)
    assert _verdict(tariff.value.problems) == expected
    assert "row 3: 电量(kWh) is negative" in str(tariff.value)
    assert "第 3 行：电量(kWh) 为负数" in tariff.value.text("zh")
    code = cli.main(["bill", "--tariff", "RES_TIERED", "--readings", str(path), "--json"])
    assert code == 2
    assert "row 3: 电量(kWh) is negative" in capsys.readouterr().err
    # The forecast's file series refuses it the same way.
    with pytest.raises(ingest.FileRejected) as forecast:
        load_series.file_series(path)
    assert _verdict(forecast.value.problems) == expected


def test_the_tariff_upload_reads_what_the_import_reads():
    # The wide sample's bad cells are refused with the rows the import rejects them on.
    with pytest.raises(ingest.FileRejected) as wide:
        ingest.read_readings(SAMPLES / "readings_wide_24.csv")
    assert _verdict(wide.value.problems) == [(3, "negative"), (4, "not_number")]
    with pytest.raises(ingest.FileRejected) as raised:
        ingest.read_readings(SAMPLES / "readings_long_dirty.tsv")
    # Every row the import rejects but row 52, a customer only the store can say it lacks.
    assert raised.value.problems["row_number"].tolist() == [50, 51, *range(53, 59)]
    quarters = ingest.read_readings(SAMPLES / "readings_wide_96.xlsx")
    assert len(quarters) == 192
    one = quarters[quarters["customer_id"] == quarters["customer_id"].iloc[0]]
    bills = tariffs.bill(one, tariffs.load_catalog()["COM_TOU"], 80)
    assert bills["kwh_total"].sum() == pytest.approx(one["kwh"].sum())


def test_a_capacity_too_small_for_the_readings_is_named():
    hours = pd.DataFrame(
        {"ts": pd.date_range("2025-01-01", periods=24, freq="h"), "kwh": [1.0] * 23 + [30.0]}
    )
    with pytest.raises(ingest.FileRejected, match="row 25: kwh is more energy"):
        ingest.validate_readings(hours, "load.csv", capacity_kva=8)
    assert len(ingest.validate_readings(hours, "load.csv", capacity_kva=20)) == 24
