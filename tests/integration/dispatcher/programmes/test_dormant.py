"""Dormant elders: nobody has heard from them in N days."""

import csv

from click.testing import CliRunner

from dispatcher.cli import main
from dispatcher.programmes.dormant import dormant_elders
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
    assert row["phone_masked"] == "+86139****0003"
    assert "*" in row["elder_id_masked"] and len(row["elder_id_masked"]) == 18
