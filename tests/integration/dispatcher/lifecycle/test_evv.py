"""EVV's six facts (issue 18): on the console's order page and in `vnh report visits`."""

from __future__ import annotations

import csv

from click.testing import CliRunner
from sqlalchemy import select

from dispatcher.cli import main
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.evv import VISIT_COLUMNS, order_facts
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, Order
from providers.models import Offer


def _visited(session, settings, clock, policy, make_elder, make_provider, make_worker):
    elder = make_elder()
    provider = make_provider()
    worker = make_worker(provider)
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "offered"))
    assert orders.accept_offer(session, offer, provider.id, "sms", settings, clock.now()).ok
    assert attendance.check_in(session, order, provider.id, "api", clock.now(),
                               {"worker": worker.work_number, "code": order.visit_code}, settings).ok
    clock.advance(3600)
    assert attendance.check_out(session, order, provider.id, "api", policy, settings, clock.now(),
                                {"lat": elder.latitude, "lng": elder.longitude}).ok
    session.commit()
    return order, worker


def test_a_visit_record_names_the_six_facts_and_how_each_was_proved(
        session, settings, clock, policy, make_elder, make_provider, make_worker):
    order, worker = _visited(session, settings, clock, policy, make_elder, make_provider, make_worker)
    facts = {f.name: f for f in order_facts(session, session.get(Order, order.id))}
    assert list(facts) == ["服务项目", "服务对象", "服务日期", "服务地点", "服务人员", "开始和结束"]
    assert facts["服务人员"].value.startswith(worker.name) and facts["服务人员"].proof == "登记在册的服务人员"
    assert "老人告知的验证码" in facts["服务地点"].proof and "手机定位" in facts["服务地点"].proof
    assert order.elder.id_number not in facts["服务对象"].value


def test_an_order_without_a_visit_says_so(session, settings, clock, make_elder, make_provider):
    elder, _ = make_elder(), make_provider()
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    facts = {f.name: f for f in order_facts(session, order)}
    assert facts["服务人员"].proof == "尚未上门"


def test_vnh_report_visits_exports_every_visit_with_its_proofs(
        session, settings, clock, policy, make_elder, make_provider, make_worker, database_url, tmp_path):
    order, worker = _visited(session, settings, clock, policy, make_elder, make_provider, make_worker)
    job_code, id_number = order.job_code, order.elder.id_number
    session.commit()
    out = tmp_path / "visits.csv"
    env = {"VNH_DATABASE_URL": database_url, "VNH_TELEPHONY": "local", "TWILIO_ACCOUNT_SID": "",
           "TWILIO_AUTH_TOKEN": ""}
    result = CliRunner().invoke(main, ["report", "visits", "--month", "2026-11", "--output", str(out)], env=env)
    assert result.exit_code == 0, result.output
    with open(out, encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == list(VISIT_COLUMNS)
    (row,) = rows
    assert (row["job_code"], row["start_proof"], row["end_proof"]) == (job_code, "visit_code", "location")
    assert worker.work_number in row["worker"] and id_number not in out.read_text(encoding="utf-8-sig")
    bad = CliRunner().invoke(main, ["report", "visits", "--month", "2026-13", "--output", str(out)], env=env)
    assert bad.exit_code != 0 and "--month" in bad.output


def test_the_console_order_page_shows_the_six_facts(
        session, settings, clock, policy, make_elder, make_provider, make_worker, operator_client):
    order, _ = _visited(session, settings, clock, policy, make_elder, make_provider, make_worker)
    order_id = order.id
    session.commit()
    page = operator_client.get(f"/console/orders/{order_id}").get_data(as_text=True)
    assert "上门核验（六要素）" in page and "老人告知的验证码" in page and "登记在册的服务人员" in page
