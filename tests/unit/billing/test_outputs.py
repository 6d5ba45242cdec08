"""The one writer of the files people open: formulas neutralised, files replaced only when whole."""

from __future__ import annotations

import csv

import pytest

from billing import exports
from billing.outputs import CsvOutput, neutralise, replaced_on_success


@pytest.mark.parametrize("start", ["=", "+", "-", "@", "\t", "\r"])
def test_every_text_cell_that_could_start_a_formula_is_kept_as_text(start):
    assert neutralise(f"{start}HYPERLINK(\"http://evil.example\")").startswith("'" + start)


def test_plain_text_and_numbers_are_written_as_they_are():
    assert [neutralise(v) for v in ("张桂兰", "", 12, -3, None)] == ["张桂兰", "", 12, -3, None]


def test_the_bureau_exports_use_the_same_rule():
    assert exports.neutralise is neutralise


def read(path):
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.reader(f))


def test_a_csv_output_neutralises_every_text_cell_and_starts_with_a_bom(tmp_path):
    path = tmp_path / "out.csv"
    with CsvOutput(path, ["name", "count"]) as out:
        out.write(["=cmd|' /C calc'!A0", 3])
        out.write_dicts([{"name": "@SUM(A1)", "count": None}])

    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read(path) == [["name", "count"], ["'=cmd|' /C calc'!A0", "3"], ["'@SUM(A1)", ""]]
    assert out.count == 2


def test_a_csv_output_that_fails_half_way_leaves_the_old_file_and_no_temporary_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("the old report\n", encoding="utf-8")

    with pytest.raises(RuntimeError), CsvOutput(path, ["name"]) as out:
        out.write(["张桂兰"])
        raise RuntimeError("the database went away")

    assert path.read_text(encoding="utf-8") == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_discarded_csv_output_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    path.write_text("the old report\n", encoding="utf-8")

    with CsvOutput(path, ["name"]) as out:
        out.write(["张桂兰"])
        out.discard()

    assert path.read_text(encoding="utf-8") == "the old report\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_a_file_written_through_the_helper_appears_only_when_the_block_succeeds(tmp_path):
    path = tmp_path / "report.xlsx"
    with replaced_on_success(path) as part:
        assert part.parent == tmp_path and part != path
        part.write_bytes(b"whole")
        assert not path.exists()
    assert path.read_bytes() == b"whole" and not part.exists()

    with pytest.raises(OSError), replaced_on_success(path) as part:
        part.write_bytes(b"half")
        raise OSError("disk full")
    assert path.read_bytes() == b"whole" and not part.exists()
