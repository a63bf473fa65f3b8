"""CSV and Excel downloads neutralise cells a spreadsheet would read as formulas; no database."""

from __future__ import annotations

import io
from datetime import date, datetime, timezone
from decimal import Decimal

import pandas as pd
from openpyxl import load_workbook

from services.reports.downloads import neutralise_formulas, to_csv_bytes, to_excel_bytes


def sample() -> pd.DataFrame:
    return pd.DataFrame({
        "customer": ["=HYPERLINK(\"http://x\")", "+1+2", "-2+3", "@SUM(A1)", "\tTab", "Acme"],
        "qty": [Decimal("1.5"), Decimal("-2"), Decimal("0"), Decimal("3"), Decimal("4"), Decimal("5")],
        "due": [date(2026, 3, 2)] * 6,
    })


def test_formula_cells_get_an_apostrophe():
    safe = neutralise_formulas(sample())

    assert safe["customer"].tolist() == [
        "'=HYPERLINK(\"http://x\")", "'+1+2", "'-2+3", "'@SUM(A1)", "'\tTab", "Acme",
    ]


def test_numbers_stay_numbers():
    safe = neutralise_formulas(sample())

    assert safe["qty"].tolist() == [Decimal("1.5"), Decimal("-2"), Decimal("0"), Decimal("3"), Decimal("4"), Decimal("5")]


def test_formula_column_name_is_neutralised():
    safe = neutralise_formulas(pd.DataFrame({"=cmd": [1]}))

    assert list(safe.columns) == ["'=cmd"]


def test_csv_download_is_neutralised():
    lines = to_csv_bytes(sample()).decode("utf-8-sig").splitlines()

    assert lines[0] == "customer,qty,due"
    assert lines[1] == "\"'=HYPERLINK(\"\"http://x\"\")\",1.5,2026-03-02"
    assert lines[3] == "'-2+3,0,2026-03-02"
    assert lines[6] == "Acme,5,2026-03-02"


def test_excel_download_is_neutralised():
    frame = sample()
    frame["at"] = datetime(2026, 3, 2, 15, 30, tzinfo=timezone.utc)

    sheet = load_workbook(io.BytesIO(to_excel_bytes(frame, sheet_name="backlog"))).active

    assert sheet.title == "backlog"
    assert sheet["A2"].value == "'=HYPERLINK(\"http://x\")"
    assert sheet["A2"].data_type == "s"
    assert sheet["B3"].value == -2
    assert sheet["D2"].value == datetime(2026, 3, 2, 15, 30)
    assert sheet["A7"].value == "Acme"
