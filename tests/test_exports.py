import datetime as dt
import io

import openpyxl
import pandas as pd
import pytest

from core import access, exports

HOSTILE = ["=cmd|' /C calc'!A0", "+SUM(A1:A9)", "-2+3", "@SUM(A1)", "\tx", "\rx"]
NO_GRANT = access.Viewer(user_name="a", role="analyst", contact_grant=False)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": ["4210000001", "4210000002"],
            "name": ['=HYPERLINK("http://x")', "王峰红"],
            "customer_class": ["residential", "residential"],
            "phone": ["13012348138", "13512345678"],
            "kwh": [1234.5, -3.0],
            "due_date": [dt.date(2025, 1, 15), dt.date(2025, 2, 15)],
            "created_at": pd.to_datetime(["2025-01-01 00:30", "2025-01-02 08:00"]).tz_localize(
                "UTC"
            ),
        }
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_every_formula_trigger_is_neutralised(value):
    assert exports.neutralise(value) == "'" + value
    assert exports.neutralise("plain") == "plain"
    assert exports.neutralise(-2.5) == -2.5


def test_csv_is_masked_formula_safe_and_readable_by_excel():
    data = exports.to_bytes(NO_GRANT, _frame(), "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    read = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    # A masked name still starting with "=" must not run either.
    assert all(not value.startswith(exports.FORMULA_TRIGGERS) for value in read["name"])
    assert read["phone"].tolist() == ["130****8138", "135****5678"]
    assert read["name"][1] == "王*红"
    assert read["kwh"].tolist() == ["1234.5", "-3.0"]


def test_labels_apply_after_masking():
    data = exports.to_bytes(NO_GRANT, _frame(), "csv", labels={"phone": "电话"})
    read = pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype=str)
    assert read["电话"].tolist() == ["130****8138", "135****5678"]


def test_excel_keeps_numbers_and_dates_typed_and_text_inert():
    data = exports.to_bytes(access.SYSTEM, _frame(), "xlsx", sheet_name="targets/2025")
    book = openpyxl.load_workbook(io.BytesIO(data))
    sheet = book.active
    assert sheet.title == "targets 2025"
    header = [cell.value for cell in sheet[1]]
    values = list(sheet.iter_rows(min_row=2, values_only=True))
    rows = {name: [row[i] for row in values] for i, name in enumerate(header)}
    assert rows["kwh"] == [1234.5, -3.0]
    assert isinstance(rows["due_date"][0], dt.datetime)
    # UTC 00:30 is 08:30 on the utility's clock.
    assert rows["created_at"][0] == dt.datetime(2025, 1, 1, 8, 30)
    for row in sheet.iter_rows(min_row=2):
        for cell in row:
            assert cell.data_type != "f"
    assert rows["name"][0].startswith("'=")


def test_write_picks_the_format_by_suffix(tmp_path):
    csv_path = exports.write(access.SYSTEM, _frame(), tmp_path / "out" / "list.csv")
    xlsx_path = exports.write(access.SYSTEM, _frame(), tmp_path / "list.xlsx")
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert openpyxl.load_workbook(xlsx_path).active.max_row == 3


def test_rounded_rounds_numbers_and_leaves_dates_and_text():
    frame = _frame().assign(kwh=[1.23456, 2.0])
    shown = exports.rounded(frame, 2)
    assert shown["kwh"].tolist() == [1.23, 2.0]
    assert shown["created_at"].equals(frame["created_at"])
