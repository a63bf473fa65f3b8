"""CSV and Excel downloads of a table, with spreadsheet formulas neutralised.

A text cell that starts with =, +, -, @, a tab or a carriage return is
read as a formula by Excel and LibreOffice. Such a cell gets a leading
apostrophe, so the spreadsheet shows it as text (the OWASP advice on CSV
injection). Numbers, dates and empty cells are written unchanged, so a
negative quantity stays a number.
"""

from __future__ import annotations

import io
from datetime import datetime, timezone

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXCEL_SHEET_NAME_LIMIT = 31


def neutralise_cell(value):
    """Prefix an apostrophe to a text value that a spreadsheet would read as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy whose text cells and column names can no longer start a formula."""
    safe = frame.copy()
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise_cell)
    safe.columns = [neutralise_cell(str(name)) for name in safe.columns]
    return safe


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Write the table as UTF-8 CSV with a byte-order mark, which Excel needs to read UTF-8."""
    return neutralise_formulas(frame).to_csv(index=False).encode("utf-8-sig")


def _excel_ready(frame: pd.DataFrame) -> pd.DataFrame:
    # Excel stores no time zone, so instants are written as UTC wall times.
    ready = neutralise_formulas(frame)
    for column in ready.columns:
        if isinstance(ready[column].dtype, pd.DatetimeTZDtype):
            ready[column] = ready[column].dt.tz_convert("UTC").dt.tz_localize(None)
        elif ready[column].dtype == object:
            ready[column] = ready[column].map(
                lambda value: value.astimezone(timezone.utc).replace(tzinfo=None)
                if isinstance(value, datetime) and value.tzinfo else value
            )
    return ready


def to_excel_bytes(frame: pd.DataFrame, sheet_name: str = "data") -> bytes:
    """Write the table as one .xlsx sheet (openpyxl); instants with a time zone are written in UTC."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        _excel_ready(frame).to_excel(writer, sheet_name=sheet_name[:EXCEL_SHEET_NAME_LIMIT], index=False)
    return buffer.getvalue()
