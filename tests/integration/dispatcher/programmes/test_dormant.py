"""Dormant elders: nobody has heard from them in N days."""

import csv

import pytest
from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.programmes import dormant
from dispatcher.programmes.dormant import MAX_DAYS, dormant_elders
from telephony.simulator import FlaskTransport, Phone


def test_an_elder_who_called_recently_is_not_dormant_and_one_who_never_called_is(
    app, session, clock, make_elder
):
    caller = make_elder(phone="+8613912340001", name="张桂兰")
    silent = make_elder(phone="+8613912340002", name="李建国")
    Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"]).call_hotline(
        "+8613912340001", [])
    clock.advance(5 * 86400)

    rows = list(dormant_elders(session, 3, clock.now()))
    assert [r["elder_name"] for r in rows] == [caller.name, silent.name]
    assert rows[0]["days_without_contact"] == 5 and rows[1]["last_contact"] == "从未联系"
    assert [r["elder_name"] for r in dormant_elders(session, 30, clock.now())] == [silent.name]


def test_the_dormant_report_masks_phone_and_id_numbers(app, session, clock, make_elder, tmp_path,
                                                       monkeypatch):
    make_elder(phone="+8613912340003")
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    output = tmp_path / "dormant.csv"

    result = CliRunner().invoke(main, ["report", "dormant", "--days", "7", "--output", str(output)])

    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(output.open(encoding="utf-8-sig")))
    assert row["phone_masked"] == "'+86139****0003"  # a leading + would start a formula
    assert "*" in row["elder_id_masked"] and len(row["elder_id_masked"]) == 18


def test_a_name_that_would_run_as_a_formula_is_written_as_text(app, session, make_elder, tmp_path,
                                                                monkeypatch):
    make_elder(phone="+8613912340004", name='=HYPERLINK("http://evil.example","点我")')
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    output = tmp_path / "dormant.csv"

    result = CliRunner().invoke(main, ["report", "dormant", "--days", "7", "--output", str(output)])

    assert result.exit_code == 0, result.output
    (row,) = list(csv.DictReader(output.open(encoding="utf-8-sig")))
    assert row["elder_name"] == '\'=HYPERLINK("http://evil.example","点我")'


@pytest.mark.parametrize("days", ["99999999999", "36501", "0", "-1"])
def test_days_out_of_range_are_refused_and_the_old_report_is_kept(app, tmp_path, monkeypatch, days):
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    output = tmp_path / "dormant.csv"
    output.write_text("last week's report\n", encoding="utf-8")

    result = CliRunner().invoke(main, ["report", "dormant", "--days", days, "--output", str(output)])

    assert result.exit_code == 2
    assert "--days" in result.output and "1<=x<=36500" in result.output
    assert output.read_text(encoding="utf-8") == "last week's report\n"


def test_the_longest_days_allowed_still_gives_a_report(app, session, clock, make_elder):
    make_elder(phone="+8613912340005")

    assert len(list(dormant_elders(session, MAX_DAYS, clock.now()))) == 1


def test_a_report_that_fails_half_way_leaves_the_old_file_whole(app, make_elder, tmp_path,
                                                                monkeypatch):
    make_elder(phone="+8613912340006")
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    (tmp_path / "reports").mkdir()
    output = tmp_path / "reports" / "dormant.csv"
    output.write_text("last week's report\n", encoding="utf-8")

    def failing(session, days, now):
        yield {"street": "酒泉路街道", "elder_name": "张桂兰"}
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(dormant, "dormant_elders", failing)
    result = CliRunner().invoke(main, ["report", "dormant", "--days", "7", "--output", str(output)])

    assert result.exit_code == 1
    assert "cannot write" in result.output and "No space left on device" in result.output
    assert output.read_text(encoding="utf-8") == "last week's report\n"
    assert [p.name for p in output.parent.iterdir()] == ["dormant.csv"]
