"""The figures as a file: CSV (UTF-8 with a BOM, as the bureau's reports) or XLSX, one row a figure."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook
from openpyxl.styles import Font

from billing.outputs import BOM, replaced_on_success
from dispatcher.centre.figures import Figures
from dispatcher.centre.summary import period_label, summary_lines

HEADER = ("类别", "指标", "数值", "分子", "分母")


def rows(figures: Figures) -> list[tuple]:
    """One row per figure: section, name, value as shown, numerator and denominator (if any)."""
    return [(line.section, line.name, line.value, line.numerator, line.denominator)
            for line in summary_lines(figures)]


def csv_text(figures: Figures) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(("" if v is None else v for v in row) for row in rows(figures))
    return BOM + buffer.getvalue()


def write_operations(figures: Figures, fmt: str, path: Path) -> int:
    """Write the figures as `csv` or `xlsx` to `path` (replaced only on success); return the rows."""
    table = rows(figures)
    with replaced_on_success(path) as part:
        if fmt == "csv":
            part.write_text(csv_text(figures), encoding="utf-8")
        elif fmt == "xlsx":
            book = Workbook()
            sheet = book.active
            sheet.title = "运营统计"
            sheet.append([f"运营统计 {period_label(figures)}"])
            sheet.append(HEADER)
            for cell in sheet[2]:
                cell.font = Font(bold=True)
            for row in table:
                sheet.append(list(row))
            for letter, width in zip("ABCDE", (14, 34, 26, 10, 10), strict=True):
                sheet.column_dimensions[letter].width = width
            sheet.freeze_panes = "A3"
            book.save(part)
        else:
            raise ValueError(f"format: must be csv or xlsx, not {fmt!r}")
    return len(table)
