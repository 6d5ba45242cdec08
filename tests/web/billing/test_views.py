"""The bureau's page: a month driven through the phone, then read, charted and downloaded."""

from __future__ import annotations

import csv
import io
import re

import pytest
from openpyxl import load_workbook

from dispatcher.consoles.auth import add_user
from dispatcher.operations.sweepers import run_due_work
from telephony.simulator import FlaskTransport, Phone


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


def _signed_in(app, session, clock, role):
    add_user(session, username=role, password="correct-horse", role=role, display_name=role,
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": role, "password": "correct-horse"}).status_code == 302
    return client


def _one_visit(app, phone, clock, provider, caller, answer):
    """The elder books 居室保洁 by keypad; the worker comes; the review is answered."""
    call = phone.call_hotline(caller, ["2", "1", "1", "1"])
    code = re.search(r"工单号:?([\d，]+)", call.text).group(1).replace("，", "")
    assert "已接单" in phone.send_sms(provider.dispatch_phone, f"{code} 接")
    assert "已签到" in phone.send_sms(provider.dispatch_phone, f"{code} 到")
    clock.advance(3600)
    assert "已签退" in phone.send_sms(provider.dispatch_phone, f"{code} 完")
    clock.advance(app.config["REVIEW_DELAY_S"])
    run_due_work(app)
    phone.answer_call(phone.outbox()[-1], [answer, "5"])


@pytest.fixture
def november(app, phone, clock, make_elder, make_provider):
    provider = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    make_elder(phone="+8613912340001", elder_class="特困", name="王秀英")
    make_elder(phone="+8613912340002", elder_class="高龄", name="赵淑珍", street="张掖路街道")
    _one_visit(app, phone, clock, provider, "+8613912340001", "1")
    _one_visit(app, phone, clock, provider, "+8613912340002", "2")
    return provider


def test_the_bureau_page_shows_the_months_totals_downloads_and_charts(
    app, session, clock, november
):
    client = _signed_in(app, session, clock, "bureau")
    page = client.get("/bureau/?month=2026-11")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "2026-11 居家养老服务补贴" in html and "尚未结账" in html
    assert "72.00 元" in html  # 48.00 for 特困 and 24.00 for 高龄
    assert "48.00 元" in html  # payable: the 高龄 visit was denied
    assert html.count("<svg") == 5
    assert "按资金来源" in html and "市级分类补贴（city_class）" in html
    assert "酒泉路街道" in html and "张掖路街道" in html and "家政保洁" in html
    assert "<script" not in html
    assert "/bureau/reports/settlement.xlsx?month=2026-11" in html


def test_the_bureau_downloads_every_report_as_csv_and_xlsx(app, session, clock, november):
    client = _signed_in(app, session, clock, "bureau")
    # A streamed response holds the request's session until it is closed, as a server does.
    with client.get("/bureau/reports/subsidy.csv?month=2026-11") as detail:
        assert detail.status_code == 200
        assert detail.headers["Content-Disposition"] == "attachment; filename=subsidy-2026-11.csv"
        text = detail.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    # For people, by default: Chinese headers and values.
    assert [(r["老人姓名"], r["补贴（元）"], r["回访结果"]) for r in rows] == [
        ("王秀英", "48.00", "已核实"), ("赵淑珍", "24.00", "已扣回")]
    summary = client.get("/bureau/reports/summary.xlsx?month=2026-11&lang=en")
    assert summary.status_code == 200
    book = load_workbook(io.BytesIO(summary.data))
    assert [s.title for s in book.worksheets] == [
        "街道 2026-11", "社区 2026-11", "服务类别 2026-11", "老人类别 2026-11", "服务商 2026-11"]
    for sheet in book.worksheets:
        header = [c.value for c in sheet[1]]
        assert [c.value for c in sheet[sheet.max_row]][header.index("subsidy")] == 72
    with client.get("/bureau/reports/settlement.csv?month=2026-11&lang=en") as settlement:
        text = settlement.get_data(as_text=True)
    (row,) = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    assert (row["provider_code"], row["visits"], row["payable"], row["withheld"]) == (
        november.code, "2", "48.00", "24.00")


def test_the_bureau_downloads_the_report_of_each_funding_source(app, session, clock, november):
    client = _signed_in(app, session, clock, "bureau")
    html = client.get("/bureau/?month=2026-11").get_data(as_text=True)
    assert "/bureau/reports/source/city_class.csv?month=2026-11" in html
    with client.get("/bureau/reports/source/city_class.csv?month=2026-11&lang=en") as report:
        assert report.status_code == 200
        assert report.headers["Content-Disposition"] == \
            "attachment; filename=source-city_class-2026-11.csv"
        text = report.get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert [(r["elder_name"], r["source"], r["source_subsidy"]) for r in rows] == [
        ("王秀英", "city_class", "48.00"), ("赵淑珍", "city_class", "24.00")]
    assert client.get("/bureau/reports/source/lottery.csv?month=2026-11").status_code == 404


def test_the_verify_page_confirms_the_reports_agree_with_the_ledger(app, session, clock, november):
    client = _signed_in(app, session, clock, "supervisor")
    page = client.get("/bureau/verify?month=2026-11").get_data(as_text=True)
    assert "合计与总账一致" in page and "2 次服务" in page


@pytest.mark.parametrize("month", ["2026-13", "november", "2099-01"])
def test_a_bad_or_future_month_is_a_400_naming_the_problem(app, session, clock, month):
    client = _signed_in(app, session, clock, "bureau")
    for url in (f"/bureau/?month={month}", f"/bureau/reports/subsidy.csv?month={month}"):
        response = client.get(url)
        assert response.status_code == 400
        assert "month" in response.get_data(as_text=True)


def test_an_unknown_report_is_not_found(app, session, clock):
    client = _signed_in(app, session, clock, "bureau")
    assert client.get("/bureau/reports/ledger.csv?month=2026-11").status_code == 404
    assert client.get("/bureau/reports/subsidy.pdf?month=2026-11").status_code == 404


def test_operators_may_not_see_the_bureau_page_and_strangers_are_sent_to_sign_in(
    app, session, clock
):
    assert app.test_client().get("/bureau/").headers["Location"].startswith("/login")
    operator = _signed_in(app, session, clock, "operator")
    assert operator.get("/bureau/").status_code == 403
    assert operator.get("/bureau/reports/subsidy.csv?month=2026-11").status_code == 403


def test_the_landing_page_of_a_bureau_user_links_to_the_bureau_page(app, session, clock):
    from dispatcher.consoles.auth import add_user

    add_user(session, username="kezhang", password="long-enough-pw", role="bureau",
             display_name="王科长", provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "kezhang", "password": "long-enough-pw"})
    home = client.get("/").get_data(as_text=True)
    assert "/bureau/" in home


def test_the_month_is_a_picker_and_the_server_refuses_a_month_it_cannot_show(app, session, clock):
    client = _signed_in(app, session, clock, "bureau")
    html = client.get("/bureau/").get_data(as_text=True)
    from billing.months import month_of

    this_month = month_of(clock.now())
    assert re.search(rf'<label for="month">月份</label> <input type="month" id="month" name="month" '
                     rf'value="{this_month}" max="{this_month}"', html)
    for bad in ("2026-13", "next month", "2999-01", "<script>"):
        refused = client.get("/bureau/", query_string={"month": bad})
        assert refused.status_code == 400, bad
        text = refused.get_data(as_text=True)
        assert "月份应为本月或以前的年月" in text and "<script>" not in text.split("<main>")[1], bad
