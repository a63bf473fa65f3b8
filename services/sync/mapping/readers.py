"""Read the rows of a foreign export: CSV through the csv module, Excel .xlsx through openpyxl.

open_export checks the whole file before anything is loaded: it must have a
header, decode in the mapping's encoding and parse as CSV. A file that fails
raises FileRejected with a message that names the file and the fix.
"""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from services.sync.canonical import FileRejected
from services.sync.mapping.convert import Row, cell_text
from services.sync.mapping.spec import ExportFormat

EXCEL_SUFFIXES = (".xlsx", ".xlsm")
BYTE_ORDER_MARK = "\ufeff"


@dataclass(frozen=True)
class ExportFile:
    """An export that passed the checks: its header, and a way to read its rows again."""

    path: Path
    export: ExportFormat
    mapping_name: str
    format: str
    header: tuple[str, ...]

    def rows(self) -> Iterator[Row]:
        """Yield the data rows; a row whose cells are all empty is not a record and is skipped."""
        if self.format == "xlsx":
            yield from _excel_rows(self.path, self.export, self.mapping_name)
        else:
            yield from _csv_rows(self.path, self.export)


def export_format_of(path: Path, export: ExportFormat) -> str:
    if export.format:
        return export.format
    return "xlsx" if path.suffix.lower() in EXCEL_SUFFIXES else "csv"


def open_export(path: Path, export: ExportFormat, mapping_name: str) -> ExportFile:
    """Check that the export can be read as the mapping describes it and return its header."""
    path = Path(path)
    if not path.is_file():
        raise FileRejected(f"export file {path} does not exist; check the path")
    file_format = export_format_of(path, export)
    if file_format == "xlsx":
        header = _excel_header(path, export, mapping_name)
    else:
        header = _csv_header(path, export, mapping_name)
    if not header:
        raise FileRejected(f"{path.name} is empty; export it again with a header row and its records")
    return ExportFile(path, export, mapping_name, file_format, header)


def _clean_header(cells) -> tuple[str, ...]:
    names = [cell_text(cell) for cell in cells]
    if names and names[0].startswith(BYTE_ORDER_MARK):
        names[0] = names[0][len(BYTE_ORDER_MARK):].strip()
    while names and not names[-1]:
        names.pop()
    return tuple(names)


def _open_csv(path: Path, export: ExportFormat):
    return path.open("r", encoding=export.encoding, newline="")


def _csv_header(path: Path, export: ExportFormat, mapping_name: str) -> tuple[str, ...]:
    """Read the header, then every row once, so a decoding or CSV error rejects the file before loading."""
    header: tuple[str, ...] = ()
    with _open_csv(path, export) as handle:
        reader = csv.reader(handle, delimiter=export.delimiter)
        try:
            for cells in reader:
                if not header:
                    header = _clean_header(cells)
        except UnicodeDecodeError as error:
            raise FileRejected(_decode_message(path, export, mapping_name, error)) from None
        except csv.Error as error:
            raise FileRejected(f"{path.name} is not a readable CSV file at line {reader.line_num}: {error}") from None
    return header


def _decode_message(path: Path, export: ExportFormat, mapping_name: str, error: UnicodeDecodeError) -> str:
    """Name the first byte the encoding cannot decode, with its offset and line in the file."""
    data = path.read_bytes()
    offset = error.start
    try:
        data.decode(export.encoding)
    except UnicodeDecodeError as whole_file_error:
        # The reader's error counts from the start of its buffer; this one from the start of the file.
        offset = whole_file_error.start
    byte = data[offset]
    before = data[:offset].decode(export.encoding, errors="replace")
    line = len((before + "x").splitlines())
    return (
        f"{path.name} is not {export.encoding} text: byte 0x{byte:02x} at offset {offset} (line {line}) cannot be "
        f"decoded; set encoding in the [export] section of {mapping_name} to the export's encoding, "
        "such as \"latin-1\" or \"cp1252\""
    )


def _csv_rows(path: Path, export: ExportFormat) -> Iterator[Row]:
    with _open_csv(path, export) as handle:
        reader = csv.reader(handle, delimiter=export.delimiter)
        header = None
        for cells in reader:
            if header is None:
                header = _clean_header(cells)
                continue
            if not any(cell.strip() for cell in cells):
                continue
            yield Row(f"line {reader.line_num}", dict(zip(header, cells)))


def _load_workbook(path: Path):
    from openpyxl import load_workbook

    try:
        return load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as error:
        raise FileRejected(f"{path.name} is not a readable Excel .xlsx workbook: {error}") from None


def _sheet(workbook, path: Path, export: ExportFormat, mapping_name: str):
    if export.sheet is None:
        return workbook.worksheets[0]
    if export.sheet not in workbook.sheetnames:
        raise FileRejected(
            f"{path.name} has no sheet {export.sheet!r} that {mapping_name} names; its sheets are "
            f"{', '.join(repr(name) for name in workbook.sheetnames)}"
        )
    return workbook[export.sheet]


def _excel_header(path: Path, export: ExportFormat, mapping_name: str) -> tuple[str, ...]:
    workbook = _load_workbook(path)
    try:
        sheet = _sheet(workbook, path, export, mapping_name)
        first = next(sheet.iter_rows(values_only=True), ())
        return _clean_header(first)
    finally:
        workbook.close()


def _excel_rows(path: Path, export: ExportFormat, mapping_name: str) -> Iterator[Row]:
    workbook = _load_workbook(path)
    try:
        sheet = _sheet(workbook, path, export, mapping_name)
        header = None
        for number, cells in enumerate(sheet.iter_rows(values_only=True), start=1):
            if header is None:
                header = _clean_header(cells)
                continue
            if all(cell is None or cell_text(cell) == "" for cell in cells):
                continue
            yield Row(f"row {number}", dict(zip(header, cells)))
    finally:
        workbook.close()
