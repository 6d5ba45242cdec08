"""`vnh report … --lang`: Chinese for people by default, English column names on request."""

from __future__ import annotations

import csv

from click.testing import CliRunner

from dispatcher.cli import main

from .test_billing import _november


def report(tmp_path, kind, *extra):
    out = tmp_path / f"{kind}.csv"
    result = CliRunner().invoke(main, ["report", kind, "--month", "2026-11", "--output", str(out),
                                       *extra])
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(out.open(encoding="utf-8-sig")))


def test_reports_are_in_chinese_by_default_and_in_english_on_request(
    app, session, policy, settings, clock, make_elder, make_provider, tmp_path, monkeypatch
):
    _november(session, policy, settings, clock, make_elder, make_provider)
    session.rollback()
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    people = report(tmp_path, "subsidy")
    assert {r["回访结果"] for r in people} == {"已核实", "已扣回", "待回访"}
    assert {r["记录类型"] for r in people} == {"本月服务"}
    systems = report(tmp_path, "subsidy", "--lang", "en")
    assert {r["review_result"] for r in systems} == {"verified", "denied", "pending"}
    (settlement,) = report(tmp_path, "settlement")
    assert (settlement["已核实次数"], settlement["已扣回次数"], settlement["待回访次数"]) == (
        "4", "1", "1")
    streets = report(tmp_path, "summary")
    assert {r["汇总维度"] for r in streets} >= {"街道", "社区", "服务类别", "老人类别", "服务商"}


def test_an_unknown_language_is_refused(app, tmp_path, monkeypatch):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    result = CliRunner().invoke(main, ["report", "subsidy", "--month", "2026-11", "--output",
                                       str(tmp_path / "x.csv"), "--lang", "fr"])
    assert result.exit_code == 2 and "--lang" in result.output
