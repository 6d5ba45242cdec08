"""Every file the product writes for people to open: cells that cannot run as spreadsheet
formulas, and files that appear whole or not at all.

The bureau's reports (`billing.exports`), the dormant-elder list and an import's errors file all
write through here: text that would start a formula is prefixed with `'`, and a file is written
beside its target and renamed into place only once it is complete, so a failed or interrupted
command leaves the previous file as it was.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

BOM = "\ufeff"
# OWASP's list: a text cell starting with one of these may run as a formula in a spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value):
    """Prefix a text cell that would start a formula with `'`, so it stays text."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def _part_beside(path: Path) -> Path:
    handle, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    os.close(handle)
    return Path(name)


@contextmanager
def replaced_on_success(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside `path`; rename it onto `path` when the block succeeds.

    On any error the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    part = _part_beside(path)
    try:
        yield part
        os.replace(part, path)
    finally:
        part.unlink(missing_ok=True)


class CsvOutput:
    """A CSV file (UTF-8 with a BOM, so Excel shows Chinese) written row by row, every text
    cell neutralised, that replaces `path` only when the `with` block ends without an error.

    `discard()` drops what was written and leaves `path` alone.
    """

    def __init__(self, path: Path, header: Sequence[str]):
        self.path = Path(path)
        self.header = list(header)
        self.count = 0
        self._discarded = False

    def __enter__(self) -> CsvOutput:
        self._part = _part_beside(self.path)
        try:
            self._file = self._part.open("w", encoding="utf-8", newline="")
            self._file.write(BOM)
            self._writer = csv.writer(self._file)
            self._writer.writerow([neutralise(h) for h in self.header])
        except BaseException:
            self._part.unlink(missing_ok=True)
            raise
        return self

    def write(self, row: Sequence) -> None:
        """Write one row of values in header order (None as an empty cell)."""
        self._writer.writerow(["" if v is None else neutralise(v) for v in row])
        self.count += 1

    def write_dicts(self, records: Iterable[dict]) -> None:
        """Write rows given as dicts keyed by the header's names."""
        for record in records:
            self.write([record.get(key) for key in self.header])

    def discard(self) -> None:
        """Keep `path` as it was when the block ends."""
        self._discarded = True

    def __exit__(self, kind, exc, traceback) -> None:
        try:
            self._file.close()
            if kind is None and not self._discarded:
                os.replace(self._part, self.path)
        finally:
            self._part.unlink(missing_ok=True)
