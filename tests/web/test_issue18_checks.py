"""Issue 18's "how it will be checked", over the phone network: a provider registers a worker by the
command line; that worker checks in at two elders' homes at the same time; an unknown worker is
refused; an opted-in family member gets an SMS when the worker checks in; `vnh report integrity`
lists the overlap with both visits, whose subsidy waits for a supervisor to clear them."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.enrollment.identity import check_digit
from dispatcher.models import Order
from telephony.simulator import FlaskTransport, Phone

ELDERS = ("+8613912340001", "+8613912340002")
DAUGHTER = "+8613912345678"


def test_a_registered_worker_checks_in_at_two_homes_at_once_and_the_family_hears(
        app, session, database_url, clock, make_elder, make_provider):
    first = make_elder(phone=ELDERS[0])
    make_elder(phone=ELDERS[1], latitude=36.0600, longitude=103.8300)
    provider = make_provider(latitude=36.0590, longitude=103.8280)
    code, dispatch = provider.code, provider.dispatch_phone
    env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": ""}
    family = CliRunner().invoke(main, ["family", "add", "--id-number", first.id_number, "--name", "王芳",
                                       "--phone", DAUGHTER, "--relation", "女儿", "--visit-sms"], env=env)
    assert family.exit_code == 0, family.output
    added = CliRunner().invoke(main, ["worker", "add", "--provider", code, "--name", "张丽", "--phone",
                                      "13712340001", "--id-number", "62010219800601001" + check_digit("62010219800601001")],
                               env=env)
    assert added.exit_code == 0, added.output
    number = added.output.strip()
    session.commit()

    phone = Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"], app.config["HOTLINE_NUMBER"])
    jobs = []
    for elder_phone in ELDERS:
        call = phone.call_hotline(elder_phone, ["2", "1", "1", "1"])
        job = call.text.split("工单号")[1].split("。")[0].replace("，", "")
        assert "已接单" in phone.send_sms(dispatch, f"{job} 接")
        jobs.append(job)

    assert "不在本服务商登记的名单上" in phone.send_sms(dispatch, f"{jobs[0]} 到 9999")
    for job in jobs:
        assert phone.send_sms(dispatch, f"{job} 到 {number}").startswith("已签到")

    session.expire_all()
    visits = [session.scalar(select(Order).where(Order.job_code == job)).visit for job in jobs]
    assert visits[0].worker_id == visits[1].worker_id is not None
    assert visits[0].checked_in_at == visits[1].checked_in_at
    session.commit()
    (told,) = [m for m in phone.outbox() if m["to"] == DAUGHTER]
    assert told["kind"] == "sms" and "张丽" in told["body"] and "到达" in told["body"]

    # Both visits end an hour later; the elders confirm them on the review call; the integrity
    # checks (run as the review comes in) hold the overlapping visits' subsidy.
    clock.advance(3600)
    for job in jobs:
        assert phone.send_sms(dispatch, f"{job} 完 {number}").startswith("已签退")
    session.expire_all()
    from billing import ledger
    from dispatcher.lifecycle.reviews import record_review_answer
    from dispatcher.models import CallbackReview

    visits = [session.scalar(select(Order).where(Order.job_code == job)).visit for job in jobs]
    for visit in visits:
        review = session.scalar(select(CallbackReview).where(CallbackReview.visit_id == visit.id))
        record_review_answer(session, review, True, clock.now())
    session.commit()
    assert [ledger.visit_outcome(session, v.id) for v in visits] == [None, None]
    assert ledger.pending_subsidy(session, visits[1].id) > 0
    session.commit()  # end the read, so the command line can write its flags

    import tempfile
    from pathlib import Path

    out = Path(tempfile.mkdtemp()) / "integrity.csv"
    report = CliRunner().invoke(main, ["report", "integrity", "--month", clock.now().strftime("%Y-%m"),
                                       "--format", "csv", "--output", str(out)], env=env)
    assert report.exit_code == 0, report.output
    text = out.read_text(encoding="utf-8-sig")
    session.expire_all()
    overlap_lines = [line for line in text.splitlines() if "overlap" in line or "同一服务人员" in line]
    assert {job for job in jobs if any(job in line for line in overlap_lines)} == set(jobs), text

    # A supervisor clears both flags: the elders' confirmations now make the subsidy payable.
    from dispatcher.consoles.auth import add_user
    from dispatcher.integrity.holds import clear_flag
    from dispatcher.integrity.models import IntegrityFlag

    supervisor = add_user(session, username="jiandu", password="long-enough-pw", role="supervisor",
                          display_name="监督员", provider_id=None, now=clock.now())
    for flag in session.scalars(select(IntegrityFlag)).all():
        clear_flag(session, flag, supervisor, "核实：两位老人都确认上门，时间记录有误", clock.now())
    session.commit()
    assert [ledger.visit_outcome(session, v.id) for v in visits] == [ledger.VERIFY, ledger.VERIFY]
