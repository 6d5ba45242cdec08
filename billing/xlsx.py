"""A streaming XLSX writer: each worksheet's XML is written straight into the zip, row by row.

An XLSX file is a zip of XML parts. openpyxl's write-only mode builds a cell object and an XML
element per cell, which at a hundred thousand rows of twenty columns costs a minute; here a row
is one string, so the time goes into the zip's compression instead. The parts written are the
minimum Excel, LibreOffice and openpyxl need: content types, relationships, the workbook, one
stylesheet (a styled header, two number formats, a bold totals row) and the sheets.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import quoteattr

from openpyxl.utils import get_column_letter

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE_RELATIONSHIPS = "http://schemas.openxmlformats.org/package/2006/relationships"
_CONTENT = "application/vnd.openxmlformats-officedocument.spreadsheetml"
_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'

# Cell styles: the index of each entry of <cellXfs> in STYLES.
PLAIN, HEADER, MONEY, COUNT, TOTAL_TEXT, TOTAL_MONEY, TOTAL_COUNT = range(7)
# Excel's built-in number formats 3 and 4 are "#,##0" and "#,##0.00".
STYLES = _HEAD + f"""<styleSheet xmlns="{MAIN}">
<fonts count="3"><font><sz val="11"/><name val="Calibri"/></font>\
<font><b/><color rgb="FFFFFFFF"/><sz val="11"/><name val="Calibri"/></font>\
<font><b/><sz val="11"/><name val="Calibri"/></font></fonts>
<fills count="3"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill>\
<fill><patternFill patternType="solid"><fgColor rgb="FF2F5D50"/></patternFill></fill></fills>
<borders count="2"><border><left/><right/><top/><bottom/><diagonal/></border>\
<border><left/><right/><top style="thin"/><bottom style="double"/><diagonal/></border></borders>
<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>
<cellXfs count="7"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>\
<xf numFmtId="0" fontId="1" fillId="2" borderId="0" xfId="0" applyFont="1" applyFill="1" \
applyAlignment="1"><alignment horizontal="center"/></xf>\
<xf numFmtId="4" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>\
<xf numFmtId="0" fontId="2" fillId="0" borderId="1" xfId="0" applyFont="1" applyBorder="1"/>\
<xf numFmtId="4" fontId="2" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" \
applyFont="1" applyBorder="1"/>\
<xf numFmtId="3" fontId="2" fillId="0" borderId="1" xfId="0" applyNumberFormat="1" \
applyFont="1" applyBorder="1"/></cellXfs>
<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles>
</styleSheet>"""

_TITLE_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
# Characters XML 1.0 cannot carry are dropped; &, <, > and a carriage return are escaped.
_NEEDS_ESCAPE = re.compile("[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]")
_UNWRITABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")
_BATCH = 500


def xml_text(value: str) -> str:
    """Escape text for an XML element."""
    if _NEEDS_ESCAPE.search(value) is None:
        return value
    return (_UNWRITABLE.sub("", value).replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace("\r", "&#13;"))


@dataclass(frozen=True)
class Sheet:
    """A worksheet. `kinds` holds each column's kind: "text", "money" (a yuan amount already
    written as decimal text, e.g. "48.00") or "count". `rows` yields each row's values in
    column order; `totals` is called once the rows are written, for the totals row's values."""

    title: str
    header: Sequence[str]
    kinds: Sequence[str]
    widths: Sequence[int]
    rows: Iterable[Sequence]
    totals: Callable[[], Sequence]


def _check_title(title: str) -> str:
    if not title or len(title) > 31 or _TITLE_FORBIDDEN.search(title):
        raise ValueError(f"sheet title: at most 31 characters and none of []:*?/\\, "
                         f"not {title!r}")
    return title


def _text_cell(ref: str, text: str, style: int) -> str:
    s = f' s="{style}"' if style else ""
    return f'<c r="{ref}" t="inlineStr"{s}><is><t xml:space="preserve">{xml_text(text)}</t></is></c>'


def _row(number: int, letters: Sequence[str], kinds: Sequence[str], values: Sequence,
         styles: dict[str, int], *, style_empty: bool = False) -> str:
    cells = [f'<row r="{number}">']
    for letter, kind, value in zip(letters, kinds, values, strict=True):
        if value is None or value == "":
            if style_empty:
                cells.append(f'<c r="{letter}{number}" s="{styles[kind]}"/>')
            continue
        if kind == "text":
            cells.append(_text_cell(f"{letter}{number}", value, styles[kind]))
        else:
            cells.append(f'<c r="{letter}{number}" s="{styles[kind]}"><v>{value}</v></c>')
    cells.append("</row>")
    return "".join(cells)


_BODY = {"text": PLAIN, "money": MONEY, "count": COUNT}
_TOTALS = {"text": TOTAL_TEXT, "money": TOTAL_MONEY, "count": TOTAL_COUNT}


def _sheet_start(widths: Sequence[int], header: Sequence[str]) -> str:
    cols = "".join(f'<col min="{n}" max="{n}" width="{w}" customWidth="1"/>'
                   for n, w in enumerate(widths, 1))
    cells = "".join(_text_cell(f"{get_column_letter(n)}1", key, HEADER)
                    for n, key in enumerate(header, 1))
    return (_HEAD + f'<worksheet xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
            '<sheetViews><sheetView workbookViewId="0">'
            '<pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/>'
            '<selection pane="bottomLeft" activeCell="A2" sqref="A2"/></sheetView></sheetViews>'
            f'<sheetFormatPr defaultRowHeight="15"/><cols>{cols}</cols><sheetData>'
            f'<row r="1">{cells}</row>')


def _parts(titles: Sequence[str]) -> dict[str, str]:
    sheets = "".join(f'<sheet name={quoteattr(t)} sheetId="{n}" r:id="rId{n}"/>'
                     for n, t in enumerate(titles, 1))
    links = "".join(f'<Relationship Id="rId{n}" Type="{RELATIONSHIPS}/worksheet" '
                    f'Target="worksheets/sheet{n}.xml"/>' for n in range(1, len(titles) + 1))
    overrides = "".join(f'<Override PartName="/xl/worksheets/sheet{n}.xml" '
                        f'ContentType="{_CONTENT}.worksheet+xml"/>'
                        for n in range(1, len(titles) + 1))
    return {
        "[Content_Types].xml": _HEAD + (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_CONTENT}.sheet.main+xml"/>'
            f'<Override PartName="/xl/styles.xml" ContentType="{_CONTENT}.styles+xml"/>'
            f'{overrides}</Types>'),
        "_rels/.rels": _HEAD + (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}"><Relationship Id="rId1" '
            f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>'),
        "xl/workbook.xml": _HEAD + (
            f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><bookViews><workbookView/>'
            f'</bookViews><sheets>{sheets}</sheets></workbook>'),
        "xl/_rels/workbook.xml.rels": _HEAD + (
            f'<Relationships xmlns="{PACKAGE_RELATIONSHIPS}">{links}'
            f'<Relationship Id="rId{len(titles) + 1}" Type="{RELATIONSHIPS}/styles" '
            f'Target="styles.xml"/></Relationships>'),
        "xl/styles.xml": STYLES,
    }


def write_workbook(path: Path, sheets: Sequence[Sheet]) -> None:
    """Write the sheets, in order, as one XLSX file at `path`."""
    titles = [_check_title(s.title) for s in sheets]
    if len({t.casefold() for t in titles}) != len(titles):
        raise ValueError(f"sheet title: each must be unique, got {titles}")
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=3) as zip_:
        for name, text in _parts(titles).items():
            zip_.writestr(name, text)
        for number, sheet in enumerate(sheets, 1):
            with zip_.open(f"xl/worksheets/sheet{number}.xml", "w", force_zip64=True) as part:
                _write_sheet(part, sheet)


def _write_sheet(part, sheet: Sheet) -> None:
    letters = [get_column_letter(n) for n in range(1, len(sheet.kinds) + 1)]
    part.write(_sheet_start(sheet.widths, sheet.header).encode())
    number, batch = 1, []
    for number, values in enumerate(sheet.rows, 2):
        batch.append(_row(number, letters, sheet.kinds, values, _BODY))
        if len(batch) == _BATCH:
            part.write("".join(batch).encode())
            batch = []
    # The totals row: every cell styled, so the rule above it runs the sheet's width.
    totals = _row(number + 1, letters, sheet.kinds, sheet.totals(), _TOTALS, style_empty=True)
    batch.append(totals)
    batch.append("</sheetData></worksheet>")
    part.write("".join(batch).encode())
