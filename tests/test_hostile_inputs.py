"""A fixed corpus of hostile files fed through the command line and the page upload.

For each file: a message in words (never a traceback), not one stored row changed outside what
landed, nothing doubled; on every backend.
"""

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from core import cli, i18n, ingest
from core.store import engine as store_engine
from core.store import schema

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "data" / "samples"
HOUSEHOLD = "3201000001"
STEELWORKS = "3201000005"


def _hours(customer: str, start: str, hours: int, kwh: float) -> pd.DataFrame:
    ts = pd.date_range(start, periods=hours, freq="h").strftime("%Y-%m-%d %H:%M")
    return pd.DataFrame({"customer_id": customer, "ts": ts, "kwh": kwh})


def _csv(frame: pd.DataFrame) -> bytes:
    return frame.to_csv(index=False).encode("utf-8")


def _deep_bad_byte() -> bytes:
    """A UTF-8 file with Chinese in it and one stray byte on a line far past the first block."""
    good = _csv(_hours(STEELWORKS, "2025-03-01", 4000, 100.0).assign(备注="正常读数"))
    cut = good.index(b"\n", len(good) // 2) + 1
    return good[:cut] + b"\xff" + good[cut:]


BAD_BYTE_LINE = _deep_bad_byte().split(b"\xff")[0].count(b"\n") + 1


def _truncated_excel() -> bytes:
    whole = (SAMPLES / "readings_wide_96.xlsx").read_bytes()
    return whole[: len(whole) // 3]


# Files that cannot be read at all: (name, content, words the message says).
UNREADABLE = [
    ("empty.csv", b"", "is empty"),
    ("binary.csv", b"\x00\x01\x02\x03binary" * 100, "bytes that are no text"),
    (
        "deep_bad_byte.csv",
        _deep_bad_byte(),
        f"a byte that is not UTF-8 (0xFF) on line {BAD_BYTE_LINE}",
    ),
    ("truncated.xlsx", _truncated_excel(), "not a readable Excel file"),
    ("fake.parquet", b"PAR1 not really", "cannot be read as Parquet"),
    ("readings.json", b"{}", "files of type .json cannot be imported"),
    ("one_column.csv", b"customer_id\n3201000001\n", "has only one column"),
    ("customers.csv", (SAMPLES / "customers.csv").read_bytes(), "no column for ts"),
    ("twice.csv", b"customer_id,\xe6\x88\xb7\xe5\x8f\xb7,ts,kwh\n1,1,2025-01-01,1\n", "both mean"),
]


def _dirty() -> bytes:
    """Readings over stored keys: good values, impossible values, a repeat, junk."""
    rows = [
        (HOUSEHOLD, "2025-01-01 00:00", "0.9"),  # updates a stored reading
        (HOUSEHOLD, "2025-01-01 01:00", "-5"),  # rejected: the stored 01:00 stays
        (HOUSEHOLD, "2025-01-01 02:00", "9999999.9"),  # over 8 kVA: rejected
        (HOUSEHOLD, "2025-01-01 03:00", "1e308"),
        (HOUSEHOLD, "2025-01-01 04:00", "inf"),
        (HOUSEHOLD, "2025-01-01 05:00", "nan"),
        (HOUSEHOLD, "2025-01-01 06:07", "0.5"),
        (HOUSEHOLD, "1000-01-01 00:00", "0.5"),
        (HOUSEHOLD, "2099-01-01 00:00", "0.5"),
        (HOUSEHOLD, "2025-01-03 00:00", "0.4"),  # a new reading
        (HOUSEHOLD, "2025-01-03 00:00", "0.4"),  # its repeat
        ("=cmd|' /C calc'!A0", "2025-01-01 00:00", "1"),
        ("9999999999", "2025-01-01 00:00", "1"),
    ]
    return _csv(pd.DataFrame(rows, columns=["customer_id", "ts", "kwh"]))


DIRTY_LANDED = {
    (HOUSEHOLD, pd.Timestamp("2025-01-01 00:00")): 0.9,
    (HOUSEHOLD, pd.Timestamp("2025-01-03 00:00")): 0.4,
}
DIRTY_REJECTED_ROWS = 11


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    """Every row of every importable table, sorted: what a file may change."""
    with engine.connect() as conn:
        return {
            table.name: sorted(
                (tuple(str(value) for value in row) for row in conn.execute(sa.select(table))),
            )
            for table in schema.ENTITY_TABLES
        }


def _readings(engine: sa.Engine) -> dict[tuple[str, pd.Timestamp], float]:
    readings = schema.readings
    with engine.connect() as conn:
        rows = conn.execute(sa.select(readings.c.customer_id, readings.c.ts, readings.c.kwh)).all()
    found = {(customer, pd.Timestamp(ts)): kwh for customer, ts, kwh in rows}
    # Nothing doubled: one reading per customer and moment.
    assert len(found) == len(rows)
    return found


@pytest.fixture
def archive(store_url) -> str:
    """A store with the sample customers and two days of hourly readings of two of them."""
    engine = store_engine.connect(store_url)
    ingest.import_file(engine, "customers", SAMPLES / "customers.csv", refresh_features=False)
    days = pd.concat(
        [_hours(HOUSEHOLD, "2025-01-01", 48, 0.5), _hours(STEELWORKS, "2025-01-01", 48, 100.0)]
    )
    ingest.import_file(
        engine, "readings", io.BytesIO(_csv(days)), file_name="days.csv", refresh_features=False
    )
    engine.dispose()
    return store_url


def _cli(url: str, path: Path, capsys, *options: str) -> tuple[int, str, str]:
    code = cli.main(["import", "--table", "readings", str(path), "--database-url", url, *options])
    output = capsys.readouterr()
    return code, output.out, output.err


@pytest.mark.parametrize(
    ("name", "content", "words"), UNREADABLE, ids=[n for n, _, _ in UNREADABLE]
)
def test_an_unreadable_file_gets_words_and_changes_nothing(
    archive, tmp_path, capsys, monkeypatch, name, content, words
):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    engine = store_engine.connect(archive)
    before = _snapshot(engine)
    engine.dispose()
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = _cli(archive, path, capsys)
    assert code == 2
    assert words in err and "Traceback" not in err + out
    engine = store_engine.connect(archive)
    assert _snapshot(engine) == before
    engine.dispose()


def test_a_dirty_file_changes_only_what_landed(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "en")
    engine = store_engine.connect(archive)
    before = _readings(engine)
    customers = _snapshot(engine)["customers"]
    engine.dispose()
    path = tmp_path / "dirty.csv"
    path.write_bytes(_dirty())
    for _ in range(2):
        code, out, err = _cli(archive, path, capsys)
        assert code == 1 and "Traceback" not in err + out
        assert f"rejected {DIRTY_REJECTED_ROWS} rows" in out
    engine = store_engine.connect(archive)
    after = _readings(engine)
    assert after == {**before, **DIRTY_LANDED}
    assert _snapshot(engine)["customers"] == customers
    engine.dispose()


def test_a_chinese_user_reads_the_refusal_in_chinese(archive, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("WORKBENCH_LANGUAGE", "zh")
    path = tmp_path / "truncated.xlsx"
    path.write_bytes(_truncated_excel())
    code, _, err = _cli(archive, path, capsys)
    assert code == 2 and "不是可读取的 Excel 文件" in err


# The page on the embedded store: the same files through the upload.
PAGE_FILES = [
    ("truncated.xlsx", _truncated_excel(), "ingest.error.not_excel"),
    ("deep_bad_byte.csv", _deep_bad_byte(), "ingest.error.bad_utf8"),
    ("binary.csv", b"\x00\x01\x02\x03binary" * 100, "ingest.error.not_text"),
]


@pytest.fixture
def page_store(demo_url, tmp_path) -> str:
    target = tmp_path / "page.duckdb"
    shutil.copy(Path(sa.make_url(demo_url).database), target)
    return f"duckdb:///{target}"


def _page(url: str, monkeypatch, language: str = "en") -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("WORKBENCH_LANGUAGE", language)
    return AppTest.from_file(str(ROOT / "pages" / "data_quality.py"), default_timeout=90)


@pytest.mark.parametrize("language", ["en", "zh"])
def test_hostile_uploads_get_words_on_the_page(page_store, monkeypatch, language):
    engine = store_engine.connect(page_store)
    before = _snapshot(engine)
    engine.dispose()
    at = _page(page_store, monkeypatch, language).run()
    at.selectbox(key="import_table").set_value("readings")
    for name, content, key in PAGE_FILES:
        at.file_uploader(key="import_file").upload(name, content, "application/octet-stream")
        at.run()
        assert not at.exception
        shown = " ".join(error.value for error in at.error)
        # The message's own words, between the file's name and the first value filled in.
        words = i18n.catalogs()[language][key].split("}", 1)[1].split("{", 1)[0].strip()
        assert words and words in shown, (name, shown)
        assert "Traceback" not in shown
    engine = store_engine.connect(page_store)
    assert _snapshot(engine) == before
    engine.dispose()


def test_a_dirty_upload_lands_only_its_good_rows(page_store, monkeypatch):
    engine = store_engine.connect(page_store)
    with engine.connect() as conn:
        customer = (
            conn.execute(
                sa.select(schema.customers.c.customer_id).order_by(schema.customers.c.customer_id)
            )
            .scalars()
            .first()
        )
    before = _readings(engine)
    engine.dispose()
    dirty = _dirty().replace(HOUSEHOLD.encode(), customer.encode())
    at = _page(page_store, monkeypatch).run()
    at.selectbox(key="import_table").set_value("readings")
    at.file_uploader(key="import_file").upload("dirty.csv", dirty, "text/csv")
    at.run()
    at.button(key="import_button").click().run()
    assert not at.exception
    engine = store_engine.connect(page_store)
    after = _readings(engine)
    engine.dispose()
    changed = {key for key in after if after[key] != before.get(key)}
    assert {key[0] for key in changed} <= {customer}
    assert len(after) - len(before) <= 1
