"""Reading enrollment files as the bureau keeps them: CSV (UTF-8, UTF-8 with BOM, GB18030) or XLSX.

A file is read as a stream of rows, never whole: its encoding is found by a first pass in
fixed-size chunks, then rows are yielded one at a time. The header row may sit below title rows
and may use the English names of DESIGN.md or their Chinese equivalents.

A file cannot exhaust the machine: its size, its rows, its columns and each cell's length have
limits (`ImportLimits`), counted while reading rather than taken from what the file declares; an
XLSX is parsed through defusedxml and refused if any of its parts declares a DTD.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import BinaryIO

from dispatcher.enrollment.limits import (
    ImportFileError,
    ImportLimits,
    bound_row_width,
    check_package,
    size_text,
    xlsx_problem,
    xlsx_problems,
)

__all__ = ["ImportFileError", "ImportLimits", "RowSource", "SourceRow", "open_rows"]

HEADER_SEARCH_ROWS = 10
MAX_LINE_CHARS = 1 << 20
_CHUNK_BYTES = 1 << 20
_SNIFF_CHARS = 1 << 16
_EXACT_DIGITS = 15  # a spreadsheet keeps 15 significant digits of a number
_INVISIBLE = "\u200b\u200c\u200d\ufeff"

CHINESE_HEADERS: dict[str, dict[str, str]] = {
    "elders": {
        "身份证号": "id_number", "身份证号码": "id_number", "公民身份号码": "id_number",
        "姓名": "name", "性别": "gender", "出生日期": "birth_date",
        "电话": "phone", "联系电话": "phone", "其他电话": "other_phones",
        "地址": "address", "住址": "address", "家庭住址": "address", "街道": "street",
        "社区": "community", "纬度": "latitude", "经度": "longitude", "老人类别": "elder_class",
        "失能等级": "disability_level", "独居": "lives_alone", "是否独居": "lives_alone",
        "紧急联系人": "emergency_contact_name", "紧急联系电话": "emergency_contact_phone",
    },
    "providers": {
        "编号": "code", "服务商编号": "code", "名称": "name", "服务商名称": "name",
        "营业执照号": "license_no", "统一社会信用代码": "license_no", "派单电话": "dispatch_phone",
        "地址": "address", "纬度": "latitude", "经度": "longitude",
        "服务半径(公里)": "service_radius_km", "服务半径(km)": "service_radius_km",
        "日接单量": "capacity_per_day", "营业时间": "hours",
    },
    "offerings": {
        "服务商编号": "provider_code", "服务项目编号": "item_code", "项目编号": "item_code",
        "价格(元)": "price_yuan", "价格": "price_yuan",
    },
    "workers": {
        "服务商编号": "provider_code", "姓名": "name", "手机": "phone", "手机号": "phone",
        "身份证号": "id_number", "服务项目": "items", "工号": "work_number",
    },
}  # fmt: skip


@dataclass
class SourceRow:
    """One data row: its row number as a person sees it, its values, and problems found reading."""

    line: int
    values: dict[str, str]
    problems: list[tuple[str, str]] = field(default_factory=list)


class RowSource:
    """Rows of an enrollment file after its header; `position` and `total` measure progress."""

    description: str
    header_line: int
    total: int

    def position(self) -> int:
        raise NotImplementedError

    def __iter__(self) -> Iterator[SourceRow]:
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> RowSource:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_rows(
    path: Path,
    kind: str,
    columns: tuple[str, ...],
    optional: frozenset[str] = frozenset(),
    limits: ImportLimits | None = None,
) -> RowSource:
    """Open an enrollment file for reading rows of `columns`; raise ImportFileError if it can't be.

    Columns in `optional` may be missing from the header; their values are then blank. Reading
    raises ImportFileError as soon as the file passes one of `limits`.
    """
    path = Path(path)
    limits = limits or ImportLimits()
    try:
        with path.open("rb") as f:
            magic = f.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise ImportFileError(f"cannot read the file: {exc.strerror}") from None
    if not magic:
        raise ImportFileError("the file is empty")
    if size > limits.max_bytes:
        raise ImportFileError(
            f"the file is {size_text(size)}, more than the limit of "
            f"{size_text(limits.max_bytes)} (VNH_IMPORT_MAX_MB): split the file"
        )
    if magic.startswith(b"\xd0\xcf\x11\xe0"):
        raise ImportFileError("this is an old Excel .xls workbook: save it as .xlsx or CSV UTF-8")
    headers = _HeaderMap(kind, columns, optional)
    if magic.startswith(b"PK\x03\x04"):
        return _XlsxRows(path, headers, limits)
    return _CsvRows(path, headers, detect_encoding(path), limits)


def detect_encoding(path: Path) -> str:
    """Return "utf-8-sig" or "gb18030" for a text file; raise ImportFileError for anything else.

    UTF-8 is tried strictly first (a GBK file is almost never valid UTF-8), then GB18030; the
    file is read in chunks, so a large file is never held in memory.
    """
    with Path(path).open("rb") as f:
        head = f.read(4)
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            raise ImportFileError(
                "the file is UTF-16 text (Excel's 'Unicode text'): save it as CSV UTF-8"
            )
    problem = _decode_problem(path, "utf-8-sig")
    if problem is None:
        return "utf-8-sig"
    gb_problem = _decode_problem(path, "gb18030")
    if gb_problem is None:
        if not _looks_chinese(path):
            raise ImportFileError(
                "the file is neither UTF-8 nor GB18030 Chinese text (it reads as GB18030 only "
                "as nonsense: perhaps Big5 or another encoding); save it as CSV UTF-8"
            )
        return "gb18030"
    raise ImportFileError(
        f"the file is neither UTF-8 ({problem}) nor GB18030 ({gb_problem}) text: "
        "save it as CSV UTF-8 or XLSX"
    )


def normalise_header(text: str) -> str:
    """Fold a header cell for matching: full-width to half-width, no spaces, no required-marks."""
    folded = unicodedata.normalize("NFKC", text).strip().strip(_INVISIBLE)
    return "".join(folded.split()).strip("*").lower()


def clean_text(text: str) -> str:
    return text.strip().strip(_INVISIBLE).strip()


class _HeaderMap:
    """Which header cell names which column, for one kind of file."""

    def __init__(self, kind: str, columns: tuple[str, ...], optional: frozenset[str]):
        self.columns = columns
        self.required = [c for c in columns if c not in optional]
        self.names = {normalise_header(c): c for c in columns}
        self.names.update(
            (normalise_header(alias), column) for alias, column in CHINESE_HEADERS[kind].items()
        )

    def locate(self, candidates: list[tuple[int, list[str]]]) -> tuple[int, dict[str, int]]:
        """Pick the header among the first rows; return its line and {column: cell index}."""
        best: tuple[int, int, list[str]] | None = None
        for line, cells in candidates:
            known = {self.names.get(normalise_header(c)) for c in cells} - {None}
            if not set(self.required) - known:
                return line, self._positions(line, cells)
            if len(known) >= 2 and (best is None or len(known) > best[0]):
                best = (len(known), line, cells)
        if best is None:
            expected = ", ".join(self.required[:4])
            raise ImportFileError(
                f"no header row in the first {HEADER_SEARCH_ROWS} rows: expected columns such "
                f"as {expected} (or their Chinese names)"
            )
        _, line, cells = best
        known = {self.names.get(normalise_header(c)) for c in cells}
        missing = [c for c in self.required if c not in known]
        raise ImportFileError(
            f"missing required columns: {', '.join(missing)} (header on row {line})"
        )

    def _positions(self, line: int, cells: list[str]) -> dict[str, int]:
        positions: dict[str, int] = {}
        seen: dict[str, list[str]] = {}
        for index, cell in enumerate(cells):
            column = self.names.get(normalise_header(cell))
            if column is None:
                continue
            seen.setdefault(column, []).append(cell.strip())
            positions.setdefault(column, index)
        doubled = {c: cells for c, cells in seen.items() if len(cells) > 1}
        if doubled:
            named = "; ".join(f"{c} ({', '.join(cells)})" for c, cells in doubled.items())
            raise ImportFileError(f"duplicate columns in the header on row {line}: {named}")
        return positions


class _CountingReader(io.RawIOBase):
    """A binary file that counts the bytes read through it, for a progress bar."""

    def __init__(self, raw: BinaryIO):
        self.raw = raw
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        n = self.raw.readinto(buffer)
        self.count += n or 0
        return n

    def close(self) -> None:
        self.raw.close()
        super().close()


class _CsvRows(RowSource):
    def __init__(self, path: Path, headers: _HeaderMap, encoding: str, limits: ImportLimits):
        self._limits = limits
        # The most characters a row within the limits can take, quotes and commas included.
        self._record_chars = limits.max_columns * (limits.max_cell_chars + 3) + 2
        self._fed = self._read = 0
        self._row_limit = limits.max_rows + HEADER_SEARCH_ROWS  # until the header is found
        self._record_line = 1
        self.description = "CSV, " + {"utf-8-sig": "UTF-8", "gb18030": "GB18030"}[encoding]
        self.total = path.stat().st_size
        self._counter = _CountingReader(path.open("rb"))
        self._text = io.TextIOWrapper(
            io.BufferedReader(self._counter), encoding=encoding, newline=""
        )
        self._reader = csv.reader(self._lines())
        try:
            candidates = []
            for line, cells in self._numbered():
                if any(clean_text(c) for c in cells):
                    candidates.append((line, cells))
                if len(candidates) == HEADER_SEARCH_ROWS:
                    break
            if not candidates:
                raise ImportFileError("the file is empty")
            self.header_line, self._where = headers.locate(candidates)
            # Rows after the header that were read while looking for it come first.
            self._pending = [c for c in candidates if c[0] > self.header_line]
            # The row limit counts the rows after the header.
            self._read, self._row_limit = len(self._pending), limits.max_rows
            if self._read > self._row_limit:
                raise limits.too_many_rows()
        except BaseException:
            self.close()
            raise
        self._columns = headers.columns

    def position(self) -> int:
        return self._counter.count

    def _lines(self) -> Iterator[str]:
        # Read line by line with a cap, so that a file without line breaks is not read whole,
        # and a row (which may span lines inside quotes) no longer than a row can be.
        while line := self._text.readline(MAX_LINE_CHARS):
            if len(line) == MAX_LINE_CHARS and not line.endswith(("\n", "\r")):
                raise ImportFileError(
                    f"row {self._reader.line_num + 1}: a line longer than {MAX_LINE_CHARS} "
                    "characters: this does not look like an enrollment file"
                )
            self._fed += len(line)
            if self._fed > self._record_chars:
                limits = self._limits
                raise ImportFileError(
                    f"row {self._record_line}: longer than {limits.max_columns} columns "
                    f"of {limits.max_cell_chars} characters can be (VNH_IMPORT_MAX_COLUMNS, "
                    "VNH_IMPORT_MAX_CELL_CHARS): a quote left open?"
                )
            yield line

    def _numbered(self) -> Iterator[tuple[int, list[str]]]:
        line = self._reader.line_num
        while True:
            self._fed, self._record_line = 0, line + 1
            try:
                cells = next(self._reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise ImportFileError(f"row {line + 1}: {_csv_problem(exc)}") from None
            self._read += 1
            if self._read > self._row_limit:
                raise self._limits.too_many_rows()
            self._limits.check_row(line + 1, cells)
            yield line + 1, cells
            line = self._reader.line_num

    def __iter__(self) -> Iterator[SourceRow]:
        rows = 0
        for line, cells in itertools.chain(self._pending, self._numbered()):
            if not any(clean_text(c) for c in cells):
                continue
            rows += 1
            yield SourceRow(line, self._values(cells))
        if not rows:
            raise ImportFileError(f"the file has a header (row {self.header_line}) but no rows")

    def _values(self, cells: list[str]) -> dict[str, str]:
        values = dict.fromkeys(self._columns, "")
        for column, index in self._where.items():
            if index < len(cells):
                values[column] = clean_text(cells[index])
        return values

    def close(self) -> None:
        self._text.close()


class _XlsxRows(RowSource):
    def __init__(self, path: Path, headers: _HeaderMap, limits: ImportLimits):
        from openpyxl import DEFUSEDXML, load_workbook

        if not DEFUSEDXML:
            raise ImportFileError(
                "XLSX files are read only with the defusedxml package installed: install it, "
                "or save the sheet as CSV UTF-8"
            )
        check_package(path, limits)
        self.description = "XLSX"
        self._limits = limits
        self._read = 0
        self._row_limit = limits.max_rows + HEADER_SEARCH_ROWS  # until the header is found
        try:
            self._book = load_workbook(path, read_only=True, data_only=False)
        except xlsx_problems() as exc:
            raise ImportFileError(f"not a readable XLSX workbook ({xlsx_problem(exc)})") from None
        try:
            if not self._book.worksheets:
                raise ImportFileError("the workbook has no sheets")
            sheet = self._book.worksheets[0]
            self.total = sheet.max_row or 0
            # The dimension the sheet declares may be wrong, or a lie: read what is there.
            sheet.reset_dimensions()
            self._rows = self._numbered(sheet)
            candidates = []
            for line, cells in self._rows:
                if any(text for text, _ in cells):
                    candidates.append((line, cells))
                if len(candidates) == HEADER_SEARCH_ROWS:
                    break
            if not candidates:
                raise ImportFileError(f"the first sheet ({sheet.title}) is empty")
            self.header_line, self._where = headers.locate(
                [(line, [text for text, _ in cells]) for line, cells in candidates]
            )
            self._pending = [c for c in candidates if c[0] > self.header_line]
            # The row limit counts the rows after the header.
            self._read, self._row_limit = len(self._pending), limits.max_rows
            if self._read > self._row_limit:
                raise limits.too_many_rows()
            self._position = self.header_line
        except BaseException:
            self.close()
            raise
        self._columns = headers.columns

    def position(self) -> int:
        return self._position

    def _numbered(self, sheet) -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
        try:
            yield from self._read_rows(sheet)
        except ImportFileError:
            raise
        except xlsx_problems() as exc:
            raise ImportFileError(f"not a readable XLSX workbook ({xlsx_problem(exc)})") from None

    def _read_rows(self, sheet) -> Iterator[tuple[int, list[tuple[str, str | None]]]]:
        limits = self._limits
        line = 0
        bound_row_width(sheet, limits)
        for cells in sheet.iter_rows():
            line = next((c.row for c in cells if hasattr(c, "row")), line + 1)
            self._read += 1
            if self._read > self._row_limit:
                raise limits.too_many_rows()
            converted = []
            for cell in cells:
                if cell.data_type == "f":
                    raise ImportFileError(
                        f"cell {cell.coordinate} holds a formula ({cell.value}): save the sheet "
                        "with values only (copy, paste as values) and import again"
                    )
                converted.append(_cell_text(cell))
            limits.check_row(line, [text for text, _ in converted])
            yield line, converted

    def __iter__(self) -> Iterator[SourceRow]:
        rows = 0
        for line, cells in itertools.chain(self._pending, self._rows):
            self._position = line
            if not any(text for text, _ in cells):
                continue
            rows += 1
            row = SourceRow(line, dict.fromkeys(self._columns, ""))
            for column, index in self._where.items():
                if index < len(cells):
                    text, problem = cells[index]
                    row.values[column] = text
                    if problem:
                        row.problems.append((column, problem))
            yield row
        if not rows:
            raise ImportFileError(f"the sheet has a header (row {self.header_line}) but no rows")

    def close(self) -> None:
        self._book.close()


def _cell_text(cell) -> tuple[str, str | None]:
    """A cell's value as the text a CSV would hold, and a problem if it cannot be trusted."""
    value = cell.value
    if value is None:
        return "", None
    if cell.data_type == "e":
        return str(value), f"the cell holds the spreadsheet error {value}"
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int | float):
        if abs(value) >= 10**_EXACT_DIGITS:
            return str(value), (
                "the spreadsheet stores this as a number, which keeps only 15 digits: format "
                "the column as text and type the value again"
            )
        if isinstance(value, float) and value.is_integer():
            return str(int(value)), None
        return str(value), None
    if isinstance(value, datetime):
        return (value.date().isoformat() if value.time() == time() else value.isoformat(" ")), None
    if isinstance(value, date):
        return value.isoformat(), None
    if isinstance(value, time):
        return value.strftime("%H:%M"), None
    return clean_text(str(value)), None


def _csv_problem(exc: csv.Error) -> str:
    text = str(exc)
    if "field larger than field limit" in text:
        return (
            f"a cell is longer than {csv.field_size_limit()} characters: this does not look "
            "like an enrollment file (a quote left open?)"
        )
    if "NUL" in text:
        return "the file holds binary data (NUL bytes): it is not a CSV text file"
    return text


def _decode_problem(path: Path, encoding: str) -> str | None:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK_BYTES):
            if b"\x00" in chunk:
                where = offset + chunk.index(b"\x00")
                raise ImportFileError(
                    f"the file holds binary data (a NUL byte at byte {where}): it is not a "
                    "CSV text file"
                )
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as exc:
                return f"{exc.reason} at byte {offset + exc.start}"
            offset += len(chunk)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            return f"{exc.reason} at the end of the file"
    return None


def _looks_chinese(path: Path) -> bool:
    """Whether GB18030 text reads as Chinese rather than as the kana and symbols of Big5 bytes."""
    with path.open("rb") as f:
        sample = f.read(_SNIFF_CHARS * 2).decode("gb18030", errors="ignore")
    wide = [ch for ch in sample if ord(ch) > 0x7F]
    if len(wide) < 10:
        return True
    odd = sum(1 for ch in wide if not _is_plausible(ch))
    return odd / len(wide) < 0.1


def _is_plausible(ch: str) -> bool:
    code = ord(ch)
    return (
        0x4E00 <= code <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= code <= 0x4DBF  # extension A
        or 0x3000 <= code <= 0x303F  # CJK punctuation
        or 0xFF00 <= code <= 0xFFEF  # full-width forms
        or 0x2010 <= code <= 0x206F  # general punctuation: dashes, quotes, ellipsis
        or ch in "·×÷°℃№"
        or 0xA0 <= code <= 0xFF
    )
