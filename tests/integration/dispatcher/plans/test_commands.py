"""`vnh plan …` and `vnh import plans` on a real database, as the issue's check runs them."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from dispatcher.cli import main
from dispatcher.hotline.sms import handle_inbound_sms
from dispatcher.plans.models import CarePlan, PlanChange
from telephony.models import OutboxMessage

TODAY = date(2026, 11, 25)
NEAR = (36.0590, 103.8280)


@pytest.fixture
def vnh(database_url, app):
    def run(*args):
        environment = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
                       "TWILIO_AUTH_TOKEN": "", "VNH_CLOCK_START": "2026-11-25T09:00:00+08:00"}
        return CliRunner().invoke(main, list(args), env=environment)

    return run


def _plans(vnh, *args) -> list[dict]:
    result = vnh("plan", "list", "--format", "json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_a_daily_lunch_added_offered_once_accepted_by_sms_then_two_days_paused(
        vnh, session, settings, policy, clock, make_elder, make_provider):
    elder = make_elder()
    provider = make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"ML01": 1200})

    added = vnh("plan", "add", "--id-number", elder.id_number, "--item", "ML01", "--rule", "FREQ=DAILY",
                "--at", "11:30")
    assert added.exit_code == 0, added.output
    plan_id = int(added.output.strip())

    offers = list(session.scalars(select(OutboxMessage).where(OutboxMessage.to_number == provider.dispatch_phone,
                                                              OutboxMessage.purpose.in_(("offer", "plan_offer")))))
    assert [o.purpose for o in offers] == ["plan_offer"]
    session.commit()  # SQLite: the command line writes only when no session holds the file
    (plan,) = _plans(vnh, "--id-number", elder.id_number)
    assert plan["id"] == plan_id and plan["rule"] == "FREQ=DAILY" and plan["at"] == "11:30"
    lead = plan["occurrences"][0]["job_code"]
    reply = handle_inbound_sms(session, message_sid="SM-plan", sender=provider.dispatch_phone, to="+869312345678",
                               body=f"{lead} 接", settings=settings, policy=policy, now=clock.now())
    session.commit()
    assert "已接单" in reply

    (plan,) = _plans(vnh, "--id-number", elder.id_number)
    week = [o for o in plan["occurrences"] if o["date"] <= str(TODAY + timedelta(days=6))]
    accepted = [o for o in week if o["state"] == "accepted"]
    assert len(accepted) >= 5 and len({o["job_code"] for o in accepted}) == len(accepted)
    assert {o["provider"] for o in accepted} == {provider.code} and plan["provider"] == provider.code
    assert {o["time"] for o in accepted} == {"11:30"}

    paused = [str(TODAY + timedelta(days=2)), str(TODAY + timedelta(days=3))]
    result = vnh("plan", "pause", str(plan_id), "--from", paused[0], "--to", paused[1], "--reason", "住院")
    assert result.exit_code == 0, result.output
    (after,) = _plans(vnh, "--id-number", elder.id_number)
    assert {o["date"] for o in plan["occurrences"]} - {o["date"] for o in after["occurrences"]} == set(paused)
    assert len(after["occurrences"]) == len(plan["occurrences"]) - 2
    assert after["pauses"] == [{"from": paused[0], "to": paused[1], "reason": "住院"}]


def test_plan_add_refuses_a_rule_that_never_occurs_and_saves_nothing(vnh, session, make_elder):
    elder = make_elder()
    result = vnh("plan", "add", "--id-number", elder.id_number, "--item", "ML01", "--rule",
                 "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=30", "--at", "11:30")
    assert result.exit_code != 0 and "从不发生" in result.output
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 0


def test_plan_change_and_end_are_recorded_and_end_cancels_what_follows(vnh, session, make_elder, make_provider):
    elder = make_elder()
    make_provider(latitude=NEAR[0], longitude=NEAR[1], offerings={"ML01": 1200})
    plan_id = vnh("plan", "add", "--id-number", elder.id_number, "--item", "ML01", "--rule", "FREQ=DAILY",
                  "--at", "11:30").output.strip()
    changed = vnh("plan", "change", plan_id, "--rule", "FREQ=WEEKLY;BYDAY=MO,WE,FR", "--notes", "少盐")
    assert changed.exit_code == 0, changed.output
    (plan,) = _plans(vnh)
    assert plan["notes"] == "少盐"
    assert {date.fromisoformat(o["date"]).weekday() for o in plan["occurrences"]} <= {0, 2, 4}
    ended = vnh("plan", "end", plan_id, "--on", str(TODAY))
    assert ended.exit_code == 0, ended.output
    (plan,) = _plans(vnh)
    assert plan["state"] == "ended" and {o["date"] for o in plan["occurrences"]} <= {str(TODAY)}
    actions = list(session.scalars(select(PlanChange.action).where(PlanChange.plan_id == int(plan_id))
                                   .order_by(PlanChange.id)))
    assert actions == ["added", "changed", "ended"]


def _write(tmp_path, lines: list[str]):
    path = tmp_path / "plans.csv"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_import_plans_adds_every_row_of_a_good_file(vnh, session, tmp_path, make_elder):
    elders = [make_elder() for _ in range(3)]
    path = _write(tmp_path, ["身份证号,服务项目编码,重复规则,服务时间,开始日期,备注"]
                  + [f"{e.id_number},ML01,FREQ=DAILY,11:30,2026-11-26,夕阳乐餐桌" for e in elders])
    result = vnh("import", "plans", str(path))
    assert result.exit_code == 0, result.output
    assert "added 3" in result.output
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 3


def test_import_plans_names_every_bad_row_and_imports_nothing(vnh, session, tmp_path, make_elder):
    good, other = make_elder(), make_elder()
    path = _write(tmp_path, [
        "id_number,item,rule,at,starts,until,provider,duration",
        f"{good.id_number},ML01,FREQ=DAILY,11:30,,,,",
        f"{other.id_number},ZZ99,FREQ=DAILY,11:30,,,,",
        f"{other.id_number},ML01,FREQ=DAILY;UNTIL=20200101,11:30,,,,",
        f"{other.id_number},ML01,FREQ=DAILY,25:00,,,,",
        "620102194103050000,ML01,FREQ=DAILY,11:30,,,,",
        f"{other.id_number},ML01,FREQ=DAILY,11:30,,,P9999,",
        f"{other.id_number},ML01,FREQ=DAILY,11:30,,,,半小时",
    ])
    result = vnh("import", "plans", str(path))
    assert result.exit_code != 0
    for row, column in ((3, "item"), (4, "rule"), (5, "at"), (6, "id_number"), (7, "provider"), (8, "duration")):
        assert f"row {row}, {column}:" in result.output, result.output
    assert "row 2," not in result.output
    assert session.scalar(select(func.count()).select_from(CarePlan)) == 0
