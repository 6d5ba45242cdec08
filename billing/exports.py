"""Write report tables as CSV (UTF-8 with a BOM) or XLSX (openpyxl, write-only), streaming."""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter

from billing.money import fen_to_yuan

BOM = "\ufeff"
MONEY_FORMAT = "#,##0.00"
COUNT_FORMAT = "#,##0"
TOTAL_LABEL = "合计"
# OWASP's list: a text cell starting with one of these may run as a formula in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True)
class Column:
    """A report column: `money` values are integer fen, `count` values whole numbers."""

    key: str
    kind: str = "text"
    width: int = 12


@dataclass
class Table:
    """One sheet of a report: its columns and a one-pass iterable of row dicts."""

    title: str
    columns: list[Column]
    rows: Iterable[dict]


def neutralise(value):
    """Prefix a text cell that would start a formula with `'`, so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


def _text(value) -> str:
    # neutralise(), inlined: this runs for every text cell of every row.
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in _FORMULA_FIRST:
        return "'" + value
    return value


def _converter(column: Column):
    if column.kind == "money":
        return fen_to_yuan
    return int if column.kind == "count" else _text


def csv_lines(tables: list[Table], batch: int = 1000) -> Iterator[str]:
    """The tables as CSV text, one header (the first table's), then every table's rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    columns = tables[0].columns
    writer.writerow([c.key for c in columns])
    yield BOM + buffer.getvalue()
    cells = [(c.key, _converter(c)) for c in columns]
    rows: list[list] = []
    for table in tables:
        for row in table.rows:
            rows.append([convert(row[key]) for key, convert in cells])
            if len(rows) == batch:
                yield _csv_text(buffer, writer, rows)
                rows = []
    if rows:
        yield _csv_text(buffer, writer, rows)


def _csv_text(buffer: io.StringIO, writer, rows: list[list]) -> str:
    buffer.seek(0)
    buffer.truncate()
    writer.writerows(rows)
    return buffer.getvalue()


def _atomic_write(path: Path, write: Callable[[Path], int]) -> int:
    # Write beside the target and rename, so a failed export leaves no half-written file.
    path = Path(path)
    part = path.with_name(f".{path.name}.part")
    try:
        count = write(part)
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)
    return count


class _Counted:
    """Wrap tables so that the rows written can be counted as they stream past."""

    def __init__(self, tables: list[Table]):
        self.count = 0
        self.tables = [Table(t.title, t.columns, self._count(t.rows)) for t in tables]

    def _count(self, rows: Iterable[dict]) -> Iterator[dict]:
        for row in rows:
            self.count += 1
            yield row


def write_csv(tables: list[Table], path: Path) -> int:
    """Write the tables to a CSV file; return the number of data rows."""

    def write(target: Path) -> int:
        counted = _Counted(tables)
        with open(target, "w", encoding="utf-8", newline="") as out:
            out.writelines(csv_lines(counted.tables))
        return counted.count

    return _atomic_write(path, write)


_HEADER_FONT = Font(bold=True, color="FFFFFF")
_HEADER_FILL = PatternFill("solid", fgColor="2F5D50")
_TOTAL_FONT = Font(bold=True)
_TOTAL_BORDER = Border(top=Side(style="thin"), bottom=Side(style="double"))


def _yuan(fen: int) -> float:
    # The shortest repr of fen / 100 is the exact two-decimal amount, and Excel keeps doubles.
    return fen / 100


def _write_sheet(workbook: Workbook, table: Table) -> int:
    sheet = workbook.create_sheet(table.title)
    sheet.freeze_panes = "A2"
    for index, column in enumerate(table.columns, 1):
        sheet.column_dimensions[get_column_letter(index)].width = column.width
    header = []
    for column in table.columns:
        cell = WriteOnlyCell(sheet, value=column.key)
        cell.font, cell.fill = _HEADER_FONT, _HEADER_FILL
        cell.alignment = Alignment(horizontal="center")
        header.append(cell)
    sheet.append(header)
    # One styled cell per numeric column, reused row after row: write-only mode writes each
    # row as it is appended, and building styled cells per row is what costs the time.
    numeric = {}
    for column in table.columns:
        if column.kind in ("money", "count"):
            cell = WriteOnlyCell(sheet)
            cell.number_format = MONEY_FORMAT if column.kind == "money" else COUNT_FORMAT
            numeric[column.key] = cell
    totals = dict.fromkeys(numeric, 0)
    count = 0
    for row in table.rows:
        values = []
        for column in table.columns:
            value = row[column.key]
            if column.key in numeric:
                totals[column.key] += value
                cell = numeric[column.key]
                cell.value = _yuan(value) if column.kind == "money" else value
                values.append(cell)
            else:
                # An empty cell costs nothing in write-only mode; an empty string costs a <c>.
                values.append(neutralise(value) if value != "" else None)
        sheet.append(values)
        count += 1
    total_row = []
    for index, column in enumerate(table.columns):
        cell = WriteOnlyCell(sheet, value=TOTAL_LABEL if index == 0 else None)
        if column.key in numeric:
            cell.value = _yuan(totals[column.key]) if column.kind == "money" else totals[column.key]
            cell.number_format = numeric[column.key].number_format
        cell.font, cell.border = _TOTAL_FONT, _TOTAL_BORDER
        total_row.append(cell)
    sheet.append(total_row)
    return count


def write_xlsx(tables: list[Table], path: Path) -> int:
    """Write each table to its own sheet with a frozen header and a totals row."""

    def write(target: Path) -> int:
        workbook = Workbook(write_only=True)
        count = sum(_write_sheet(workbook, table) for table in tables)
        workbook.save(target)
        return count

    return _atomic_write(path, write)


def write_report(tables: list[Table], fmt: str, path: Path) -> int:
    """Write the tables as `csv` or `xlsx`; return the number of data rows."""
    if fmt == "csv":
        return write_csv(tables, path)
    if fmt == "xlsx":
        return write_xlsx(tables, path)
    raise ValueError(f"format: must be csv or xlsx, not {fmt!r}")
