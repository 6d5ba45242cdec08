"""Write report tables as CSV (UTF-8 with a BOM) or XLSX (sheet XML streamed into the zip)."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from billing.language import in_language
from billing.money import fen_to_yuan
from billing.outputs import BOM, FORMULA_STARTS, neutralise, replaced_on_success
from billing.xlsx import Sheet, write_workbook

__all__ = ["BOM", "Column", "Table", "csv_lines", "neutralise", "write_csv", "write_report",
           "write_xlsx"]

TOTAL_LABEL = "合计"


@dataclass(frozen=True)
class Column:
    """A report column: `money` values are integer fen, `count` values whole numbers."""

    key: str
    kind: str = "text"
    width: int = 12


@dataclass
class Table:
    """One sheet of a report: its columns and a one-pass iterable of rows, each a sequence of
    values in column order."""

    title: str
    columns: list[Column]
    rows: Iterable[Sequence]

    @classmethod
    def from_records(cls, title: str, columns: list[Column], records: Iterable[dict]) -> Table:
        """A table whose rows are taken from dicts keyed by column."""
        keys = [c.key for c in columns]
        return cls(title, columns, [tuple(r[k] for k in keys) for r in records])

    def records(self) -> Iterator[dict]:
        """The rows as dicts keyed by column (one pass, like `rows`)."""
        keys = [c.key for c in self.columns]
        return (dict(zip(keys, row, strict=True)) for row in self.rows)


_FORMULA_FIRST = frozenset(FORMULA_STARTS)


class _YuanTexts(dict):
    """fen -> "48.00", remembered: a month's amounts repeat, and formatting them is the cost."""

    def __missing__(self, fen: int) -> str:
        if len(self) >= 65536:
            self.clear()  # bounded, so memory stays flat however varied the amounts
        text = self[fen] = fen_to_yuan(fen)
        return text


def _cells(columns: list[Column]) -> Callable[[Sequence], list]:
    """A function from a row to its cells as written: yuan text for money, text neutralised."""
    money = [i for i, c in enumerate(columns) if c.kind == "money"]
    text = [i for i, c in enumerate(columns) if c.kind == "text"]
    yuan = _YuanTexts()

    def cells(row: Sequence) -> list:
        # neutralise(), inlined: this runs for every text cell of every row.
        values = list(row)
        for i in money:
            values[i] = yuan[values[i]]
        for i in text:
            value = values[i]
            if value is None:
                values[i] = ""
            elif isinstance(value, str) and value[:1] in _FORMULA_FIRST:
                values[i] = "'" + value
        return values

    return cells


def csv_lines(tables: list[Table], batch: int = 1000, lang: str = "en") -> Iterator[str]:
    """The tables as CSV text, one header (the first table's), then every table's rows.

    `lang="zh"` writes the headers and coded values in Chinese (billing.language)."""
    tables = in_language(tables, lang)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([c.key for c in tables[0].columns])
    yield BOM + buffer.getvalue()
    for table in tables:
        cells = _cells(table.columns)
        rows: list[list] = []
        for row in table.rows:
            rows.append(cells(row))
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
    with replaced_on_success(path) as part:
        return write(part)


def write_csv(tables: list[Table], path: Path, lang: str = "en") -> int:
    """Write the tables to a CSV file; return the number of data rows."""
    tables = in_language(tables, lang)

    def write(target: Path) -> int:
        count = 0
        with open(target, "w", encoding="utf-8", newline="") as out:
            out.write(BOM)
            writer = csv.writer(out)
            writer.writerow([c.key for c in tables[0].columns])
            for table in tables:
                cells = _cells(table.columns)
                for row in table.rows:
                    writer.writerow(cells(row))
                    count += 1
        return count

    return _atomic_write(path, write)


class _SheetFeed:
    """Feed one table to the XLSX writer, adding up its numeric columns on the way past."""

    def __init__(self, table: Table):
        self.table = table
        self.count = 0
        self.numeric = [i for i, c in enumerate(table.columns) if c.kind != "text"]
        self.sums = [0] * len(table.columns)

    def rows(self) -> Iterator[list]:
        cells, numeric, sums = _cells(self.table.columns), self.numeric, self.sums
        for row in self.table.rows:
            for i in numeric:
                sums[i] += row[i]
            self.count += 1
            yield cells(row)

    def totals(self) -> list:
        values: list = [TOTAL_LABEL] + [None] * (len(self.table.columns) - 1)
        for i in self.numeric:
            kind = self.table.columns[i].kind
            values[i] = fen_to_yuan(self.sums[i]) if kind == "money" else self.sums[i]
        return values

    def sheet(self) -> Sheet:
        columns = self.table.columns
        return Sheet(self.table.title, [c.key for c in columns], [c.kind for c in columns],
                     [c.width for c in columns], self.rows(), self.totals)


def write_xlsx(tables: list[Table], path: Path, lang: str = "en") -> int:
    """Write each table to its own sheet with a styled frozen header and a totals row."""
    tables = in_language(tables, lang)

    def write(target: Path) -> int:
        feeds = [_SheetFeed(t) for t in tables]
        write_workbook(target, [f.sheet() for f in feeds])
        return sum(f.count for f in feeds)

    return _atomic_write(path, write)


def write_report(tables: list[Table], fmt: str, path: Path, lang: str = "en") -> int:
    """Write the tables as `csv` or `xlsx` in `lang` (zh or en); return the number of rows."""
    if fmt == "csv":
        return write_csv(tables, path, lang)
    if fmt == "xlsx":
        return write_xlsx(tables, path, lang)
    raise ValueError(f"format: must be csv or xlsx, not {fmt!r}")
