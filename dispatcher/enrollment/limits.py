"""What an enrollment file may be: its size, rows, columns and cells (`ImportLimits`), and a
workbook that is safe to parse (no DTD, nothing that unpacks or widens past the limits)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

MB = 1 << 20
# An XLSX is a zip: its parts may unpack to at most this many times the file size limit.
XLSX_UNPACKED_RATIO = 10
_PROLOG_BYTES = 4096
_SCAN_BYTES = 1 << 20
_CELL_PARTS = ("xl/sharedStrings.xml", "xl/worksheets/")


class ImportFileError(ValueError):
    """The whole file cannot be imported: unreadable, empty, bad header; nothing is written."""


@dataclass(frozen=True)
class ImportLimits:
    """How big an enrollment file may be; each limit is named by its setting in the errors."""

    max_bytes: int = 20 * MB
    max_rows: int = 200_000
    max_columns: int = 60
    max_cell_chars: int = 2000

    @classmethod
    def from_config(cls, config) -> ImportLimits:
        """The limits an app's configuration sets (VNH_IMPORT_MAX_*), defaults for the rest."""
        default = cls()
        return cls(
            max_bytes=config.get("IMPORT_MAX_MB", default.max_bytes // MB) * MB,
            max_rows=config.get("IMPORT_MAX_ROWS", default.max_rows),
            max_columns=config.get("IMPORT_MAX_COLUMNS", default.max_columns),
            max_cell_chars=config.get("IMPORT_MAX_CELL_CHARS", default.max_cell_chars),
        )

    def check_row(self, line: int, cells: list[str]) -> None:
        """Raise ImportFileError if a row has too many columns or too long a cell."""
        width = len(cells)
        while width and not cells[width - 1]:
            width -= 1
        if width > self.max_columns:
            raise ImportFileError(
                f"row {line} has {width} columns, more than the limit of {self.max_columns} "
                "(VNH_IMPORT_MAX_COLUMNS)"
            )
        if max(map(len, cells), default=0) > self.max_cell_chars:
            index, cell = next((i, c) for i, c in enumerate(cells) if len(c) > self.max_cell_chars)
            raise ImportFileError(
                f"row {line}, column {index + 1}: a cell of {len(cell)} characters, more than the "
                f"limit of {self.max_cell_chars} (VNH_IMPORT_MAX_CELL_CHARS)"
            )

    def too_many_rows(self) -> ImportFileError:
        return ImportFileError(
            f"more than {self.max_rows} rows, the limit (VNH_IMPORT_MAX_ROWS): split the file"
        )


def size_text(size: int) -> str:
    """A size for a message: in MB from 1 MB up, else in bytes."""
    return f"{size / MB:.1f} MB" if size >= MB else f"{size} bytes"


def bound_row_width(sheet, limits: ImportLimits) -> None:
    """Refuse a row with a value past the column limit before openpyxl pads it to full width.

    openpyxl's read-only sheet widens each row to its last cell (`_get_row`); a cell written at
    column XFD would make every row 16,384 cells. Its parsed cells are checked here first.
    """
    widen = sheet._get_row

    def bounded(row, min_col=1, max_col=None, values_only=False):
        if row and row[-1]["column"] > limits.max_columns:
            width = max((c["column"] for c in row if c["value"] not in (None, "")), default=0)
            if width > limits.max_columns:
                raise ImportFileError(
                    f"row {row[0].get('row') or '?'} has {width} columns, more than the limit "
                    f"of {limits.max_columns} (VNH_IMPORT_MAX_COLUMNS)"
                )
            max_col = limits.max_columns
        return widen(row, min_col, max_col, values_only)

    sheet._get_row = bounded


def check_package(path: Path, limits: ImportLimits) -> None:
    """Refuse a workbook that unpacks to too much, or whose XML declares a DTD (entity attacks)."""
    try:
        with zipfile.ZipFile(path) as package:
            parts = package.infolist()
            unpacked = sum(part.file_size for part in parts)
            if unpacked > limits.max_bytes * XLSX_UNPACKED_RATIO:
                raise ImportFileError(
                    f"the workbook unpacks to {size_text(unpacked)}, more than "
                    f"{XLSX_UNPACKED_RATIO} times the limit of {size_text(limits.max_bytes)} "
                    "(VNH_IMPORT_MAX_MB)"
                )
            for part in parts:
                if part.filename.endswith((".xml", ".rels")):
                    with package.open(part) as f:
                        prolog = f.read(_PROLOG_BYTES)
                        if b"<!DOCTYPE" in prolog or b"<!ENTITY" in prolog:
                            raise ImportFileError(
                                f"the workbook's part {part.filename} declares a DTD, which "
                                "spreadsheets never need: refused as unsafe"
                            )
                        if part.filename.startswith(_CELL_PARTS):
                            check_text_runs(part.filename, prolog, f, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError) as exc:
        raise ImportFileError(f"not a readable XLSX workbook ({exc})") from None


def check_text_runs(name: str, head: bytes, rest: BinaryIO, limits: ImportLimits) -> None:
    """Refuse a part holding a run of text longer than any cell within the limits can be.

    Text and attribute values cannot hold a raw `<`, so any of them longer than the limit is a
    run of bytes without one; measuring the runs here, chunk by chunk, keeps openpyxl from
    building a string of hundreds of megabytes before the cell could be measured.
    """
    # A character is at most 4 bytes of UTF-8, or 10 written as a reference (&#x10FFFF;).
    most = limits.max_cell_chars * 10 + 64
    carry = b""
    chunk = head
    while chunk:
        runs = (carry + chunk).split(b"<")
        if max(map(len, runs)) > most:
            raise ImportFileError(
                f"the workbook's part {name} holds a text of more than {most} bytes, longer "
                f"than a cell of {limits.max_cell_chars} characters can be "
                "(VNH_IMPORT_MAX_CELL_CHARS)"
            )
        carry = runs[-1]  # the run the next chunk continues
        chunk = rest.read(_SCAN_BYTES)


def xlsx_problems() -> tuple[type[BaseException], ...]:
    """What openpyxl raises on a broken or hostile workbook (imported only when one is met)."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from openpyxl.utils.exceptions import InvalidFileException

    return (
        InvalidFileException, zipfile.BadZipFile, DefusedXmlException, ParseError, SyntaxError,
        KeyError, IndexError, TypeError, AttributeError, OSError, EOFError, ValueError,
    )  # fmt: skip


def xlsx_problem(exc: BaseException) -> str:
    """Say what is wrong with a workbook openpyxl could not read."""
    from defusedxml import DefusedXmlException

    cause: BaseException | None = exc
    while cause is not None:  # openpyxl wraps what the parser raised in its own ValueError
        if isinstance(cause, DefusedXmlException):
            return "its XML declares entities or a DTD, which spreadsheets never need: refused as unsafe"
        cause = cause.__cause__ or cause.__context__
    return f"{type(exc).__name__}: {exc}"[:200]
