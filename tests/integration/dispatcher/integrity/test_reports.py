"""`vnh report integrity`: every flag with visit, provider, masked worker, reason, evidence, outcome."""

from __future__ import annotations

import csv
import json
from datetime import timedelta

import openpyxl
import pytest
from click.testing import CliRunner

from dispatcher.cli import main


@pytest.fixture
def run_cli(app, database_url, clock, monkeypatch):
    monkeypatch.setenv("VNH_DATABASE_URL", database_url)
    monkeypatch.setenv("VNH_CLOCK_START", clock.now().isoformat())

    def run(*args):
        return CliRunner().invoke(main, list(args), catch_exceptions=False)

    return run


@pytest.fixture
def overlap(make_provider, make_worker, make_visit, make_elder, clock):
    provider = make_provider(code="P9001", name="安康家政")
    worker = make_worker(provider)
    start = clock.now() - timedelta(days=3)
    first = make_visit(provider=provider, worker=worker, start=start, minutes=90)
    second = make_visit(provider=provider, worker=worker, start=start + timedelta(minutes=30),
                        elder=make_elder(latitude=36.07, longitude=103.83))
    return worker, first, second


def test_the_csv_lists_the_overlap_with_both_visits_and_the_worker_masked(run_cli, tmp_path,
                                                                          overlap):
    worker, first, second = overlap
    out = tmp_path / "integrity.csv"
    result = run_cli("report", "integrity", "--month", "2026-11", "--output", str(out))
    assert "wrote 2 rows" in result.output, result.output
    rows = list(csv.DictReader(out.read_text(encoding="utf-8-sig").splitlines()))
    assert [r["job_code"] for r in rows] == [first.order.job_code, second.order.job_code]
    for row in rows:
        assert row["month"] == "2026-11" and row["check"] == "overlap"
        assert row["provider_code"] == "P9001" and row["outcome"] == "open"
        assert row["worker"].startswith("张*") and worker.work_number in row["worker"]
        assert worker.phone not in row["worker"] and worker.id_number not in row["worker"]
        assert worker.phone[-4:] in row["worker"]
        assert "重叠" in row["reason"]
    evidence = json.loads(rows[1]["evidence"])
    assert evidence["other"]["job_code"] == first.order.job_code


def test_the_xlsx_has_the_flags_and_the_counts_per_provider_and_check(run_cli, tmp_path, overlap):
    out = tmp_path / "integrity.xlsx"
    result = run_cli("report", "integrity", "--month", "2026-11", "--format", "xlsx",
                     "--output", str(out))
    assert result.exit_code == 0, result.output
    book = openpyxl.load_workbook(out, read_only=True)
    flags, counts = book.worksheets
    header, *rows = [list(r) for r in flags.iter_rows(values_only=True)]
    assert header[:4] == ["month", "check", "check_name", "job_code"]
    data = [r for r in rows if r[0] == "2026-11"]
    assert len(data) == 2
    count_rows = [list(r) for r in counts.iter_rows(values_only=True)]
    assert ["P9001", "安康家政", "overlap"] == count_rows[1][:3] and count_rows[1][4] == 2


def test_without_checking_first_the_report_shows_only_flags_already_raised(run_cli, tmp_path,
                                                                          overlap):
    out = tmp_path / "integrity.csv"
    result = run_cli("report", "integrity", "--month", "2026-11", "--no-check", "--output", str(out))
    assert "wrote 0 rows" in result.output
    assert "new flags" in run_cli("integrity", "check", "--month", "2026-11").output


def test_a_month_not_started_is_refused_naming_the_option(run_cli, tmp_path):
    result = CliRunner().invoke(main, ["report", "integrity", "--month", "2031-01", "--output",
                                       str(tmp_path / "x.csv")])
    assert result.exit_code != 0 and "--month" in result.output
