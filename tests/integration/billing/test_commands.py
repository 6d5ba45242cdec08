"""`vnh report …` writes its file beside the target and renames it into place only when whole."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from billing import reports
from billing.exports import Column, Table
from dispatcher.cli import main


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("kind", ["subsidy", "summary", "settlement"])
def test_a_report_that_fails_half_way_keeps_last_months_file_whole(
    app, tmp_path, monkeypatch, kind, fmt
):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    (tmp_path / "out").mkdir()
    output = tmp_path / "out" / f"report.{fmt}"
    output.write_bytes(b"last month's report")

    def rows():
        yield ("酒泉路街道",)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(reports, "report_tables",
                        lambda session, kind, month: [Table("明细", [Column("street")], rows())])
    result = CliRunner().invoke(main, ["report", kind, "--month", "2026-11", "--format", fmt,
                                       "--output", str(output)])

    assert result.exit_code == 1
    assert "cannot write" in result.output and "No space left on device" in result.output
    assert output.read_bytes() == b"last month's report"
    assert [p.name for p in output.parent.iterdir()] == [f"report.{fmt}"]
