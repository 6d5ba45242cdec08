"""The operator's desk (issue 19): outcomes to close, an emergency's confirmation, the call's state
from the network's callbacks, voicemail through the app, search by job code, data in words."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import HotlineCall, Item, OperatorTask
from telephony.models import CallRecording
from telephony.simulator import FlaskTransport, Phone

ELDER_PHONE = "+8613912340001"


@pytest.fixture
def staff(app, session, clock):
    """A signed-in client of a role (a provider's account belongs to a provider)."""

    def sign_in(role: str, make_provider=None):
        provider_id = make_provider().id if role == "provider" else None
        add_user(session, username=f"u-{role}", password="long-enough-pw", role=role, display_name=role,
                 provider_id=provider_id, now=clock.now())
        session.commit()
        client = app.test_client()
        assert client.post("/login", data={"username": f"u-{role}", "password": "long-enough-pw"}).status_code == 302
        return client

    return sign_in


@pytest.fixture
def operator(staff):
    return staff("operator")


@pytest.fixture
def elder(make_elder):
    return make_elder(name="王秀英", phone=ELDER_PHONE)


def _phone(app):
    return Phone(FlaskTransport(app.test_client()), "test-auth-token")


def _task(app, call_sid):
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(select(OperatorTask).where(OperatorTask.call_sid == call_sid)).one()


def _transfers(client):
    return client.get("/console/transfers.json").get_json()["transfers"]


# -- closing needs an outcome ---------------------------------------------------------------------------
def test_closing_a_transfer_without_an_outcome_is_refused_in_chinese(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["0"])
    task = _task(app, call.call_sid)
    response = operator.post(f"/console/tasks/{task.id}/close", data={"note": "已电话解答"})
    assert response.status_code == 400
    assert "请选择办结结果" in response.get_data(as_text=True)
    assert _task(app, call.call_sid).resolved_at is None
    response = operator.post(f"/console/tasks/{task.id}/close", data={"outcome": "随便", "note": ""})
    assert response.status_code == 400 and _task(app, call.call_sid).resolved_at is None


def test_closing_with_an_outcome_stores_it_with_the_note(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["0"])
    task = _task(app, call.call_sid)
    response = operator.post(f"/console/tasks/{task.id}/close", data={"outcome": "已解答", "note": "  问了 价格 "})
    assert response.status_code == 302
    closed = _task(app, call.call_sid)
    assert closed.resolved_at is not None and closed.resolution == "已解答：问了 价格"
    page = operator.get("/console").get_data(as_text=True)
    assert "flash-success" in page and "事项已办结" in page


def test_closing_an_emergency_needs_its_confirmation_and_an_outcome(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["9"])
    task = _task(app, call.call_sid)
    assert task.kind == "emergency"
    refused = operator.post(f"/console/tasks/{task.id}/close", data={"outcome": "已转介"})
    assert refused.status_code == 400 and "紧急求助" in refused.get_data(as_text=True)
    refused = operator.post(f"/console/tasks/{task.id}/close", data={"confirm_emergency": "1"})
    assert refused.status_code == 400
    assert _task(app, call.call_sid).resolved_at is None
    done = operator.post(f"/console/tasks/{task.id}/close", data={"outcome": "已转介", "confirm_emergency": "1"})
    assert done.status_code == 302 and _task(app, call.call_sid).resolution == "已转介"


def test_the_card_asks_for_an_outcome_and_the_d_key_only_chooses_it(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["9"])
    card = operator.get(_transfers(operator)[0]["card_url"]).get_data(as_text=True)
    assert '<select name="outcome" required data-key="d">' in card
    assert 'name="confirm_emergency" value="1" required' in card
    assert '<button data-key="d"' not in card and 'data-key="d">办结' not in card
    page = operator.get(f"/console/transfers/{_task(app, call.call_sid).id}").get_data(as_text=True)
    assert "王秀英" in page and "已转介" in page


# -- the call's state from the network ------------------------------------------------------------------
def _status(app, form):
    status, _ = _phone(app).post("/telephony/status/call", form)
    assert status == 204


def test_the_call_state_follows_the_status_callbacks(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["0"])
    assert 'statusCallback="http' in call.responses[-1] and "/telephony/status/call" in call.responses[-1]
    (t,) = _transfers(operator)
    assert (t["state"], t["state_name"]) == ("ringing", "振铃中") and t["waited_s"] == 0
    _status(app, {"CallSid": "CAoperatorleg", "ParentCallSid": call.call_sid, "CallStatus": "ringing"})
    assert _transfers(operator)[0]["state"] == "ringing"
    _status(app, {"CallSid": "CAoperatorleg", "ParentCallSid": call.call_sid, "CallStatus": "in-progress"})
    assert _transfers(operator)[0]["state"] == "talking"
    _status(app, {"CallSid": call.call_sid, "CallStatus": "completed", "CallDuration": "61"})
    (t,) = _transfers(operator)
    assert (t["state"], t["state_name"], t["connected"]) == ("ended", "已挂断", False)
    with app.extensions["vnh.sessionmaker"]() as s:
        assert s.scalars(select(HotlineCall.call_status).where(HotlineCall.call_sid == call.call_sid)).one() == "ended"


def test_an_unanswered_operator_leg_does_not_end_the_call(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["0"])
    _status(app, {"CallSid": "CAleg2", "ParentCallSid": call.call_sid, "CallStatus": "no-answer"})
    assert _transfers(operator)[0]["state"] == "ringing"


def test_a_status_callback_without_a_signature_changes_nothing(app, operator, elder):
    call = _phone(app).call_hotline(ELDER_PHONE, ["0"])
    response = app.test_client().post("/telephony/status/call", data={"CallSid": call.call_sid,
                                                                       "CallStatus": "completed"})
    assert response.status_code == 403
    assert _transfers(operator)[0]["state"] == "ringing"


def test_waiting_seconds_count_on_the_clock(app, operator, elder, clock):
    _phone(app).call_hotline(ELDER_PHONE, ["0"])
    clock.advance(42)
    assert _transfers(operator)[0]["waited_s"] == 42


# -- every staff page hears transfers -------------------------------------------------------------------
@pytest.mark.parametrize("path", ["/console/board", "/console/elders?q=王", "/"])
def test_every_operator_page_carries_the_desk(operator, path):
    page = operator.get(path).get_data(as_text=True)
    assert 'id="desk"' in page and "/static/desk.js" in page and 'data-poll="/console/transfers.json"' in page


def test_a_providers_pages_do_not_carry_the_desk(staff, make_provider):
    page = staff("provider", make_provider).get("/portal/").get_data(as_text=True)
    assert 'id="desk"' not in page and "desk.js" not in page


# -- voicemail through the app --------------------------------------------------------------------------
@pytest.fixture
def voicemail(app, session, clock, elder):
    recording = CallRecording(call_sid="sw-1", content_type="audio/wav", audio=b"RIFFdemo", size_bytes=8,
                              created_at=clock.now())
    session.add(recording)
    session.flush()
    twilio = OperatorTask(kind="voicemail", reason="留言", elder_id=elder.id, call_sid="CA1", caller=ELDER_PHONE,
                          dedupe_key="vm-1", created_at=clock.now(),
                          recording_url="https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1")
    switch = OperatorTask(kind="voicemail", reason="留言", elder_id=elder.id, call_sid="sw-1", caller=ELDER_PHONE,
                          dedupe_key="vm-2", created_at=clock.now(),
                          recording_url=f"/telephony/switch/recordings/{recording.id}")
    session.add_all([twilio, switch])
    session.commit()
    return twilio.id, switch.id


def test_voicemail_plays_in_the_page_through_the_app(operator, voicemail):
    twilio, switch = voicemail
    page = operator.get("/console").get_data(as_text=True)
    assert f'<audio controls preload="none" src="/console/tasks/{twilio}/recording"' in page
    assert "api.twilio.com" not in page
    played = operator.get(f"/console/tasks/{twilio}/recording")
    assert played.status_code == 200 and played.mimetype == "audio/wav" and played.data.startswith(b"RIFF")
    assert "no-store" in played.headers["Cache-Control"]
    stored = operator.get(f"/console/tasks/{switch}/recording")
    assert stored.status_code == 200 and stored.data == b"RIFFdemo"


def test_voicemail_is_for_operators_only(app, staff, make_provider, voicemail):
    twilio, _ = voicemail
    assert staff("provider", make_provider).get(f"/console/tasks/{twilio}/recording").status_code == 403
    anonymous = app.test_client().get(f"/console/tasks/{twilio}/recording")
    assert anonymous.status_code == 302 and "/login" in anonymous.headers["Location"]
    assert staff("supervisor").get(f"/console/tasks/{twilio}/recording").status_code == 200


def test_a_recording_url_elsewhere_is_not_fetched(app, operator, session, clock, elder):
    task = OperatorTask(kind="voicemail", reason="留言", elder_id=elder.id, dedupe_key="vm-3", created_at=clock.now(),
                        recording_url="https://evil.example/x")
    session.add(task)
    session.commit()
    from telephony.ports import TwilioTelephony

    assert TwilioTelephony("AC1", "t", client=object()).fetch_recording("https://evil.example/x") is None
    assert operator.get(f"/console/tasks/{task.id}/recording").status_code == 200  # the local network's silence


# -- readable data --------------------------------------------------------------------------------------
@pytest.fixture
def offered(app, session, clock, settings, elder, make_provider):
    provider = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280, name="安康家政")
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("tomorrow_am", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    assert order.state == "offered"
    return order, provider


@pytest.mark.parametrize("which", ["job_code", "order_no"])
def test_an_order_is_found_by_its_job_code_or_number(operator, offered, which):
    order, _ = offered
    page = operator.get("/console/elders", query_string={"q": getattr(order, which)}).get_data(as_text=True)
    assert 'id="found-orders"' in page and f"/console/orders/{order.id}" in page


def test_a_job_code_of_another_area_is_not_found(two_areas, area_staff, session):
    from dispatcher.models import Order

    mine, other = (session.get(Order, two_areas[k].open_order_id) for k in ("A", "B"))
    client = area_staff["a-operator"]
    page = client.get("/console/elders", query_string={"q": mine.job_code}).get_data(as_text=True)
    assert f'/console/orders/{mine.id}"' in page
    page = client.get("/console/elders", query_string={"q": other.job_code}).get_data(as_text=True)
    assert f'/console/orders/{other.id}"' not in page


def test_the_order_page_names_the_provider_deadline_and_state_and_ranks_in_words(operator, offered):
    order, provider = offered
    page = operator.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert "安康家政" in page and "等待答复" in page and 'id="answer-deadline"' in page and "派单中" in page
    assert "最近 " in page and "公里，评分 " in page and "今日已接 0 单" in page
    assert "<details><summary>计算明细</summary>总分" in page


def test_the_board_counts_orders_by_state_and_shows_who_is_asked(operator, offered):
    order, _ = offered
    page = operator.get("/console/board").get_data(as_text=True)
    assert 'id="board-counts"' in page and '<span data-state="offered">派单中 <strong>1</strong></span>' in page
    assert "安康家政" in page and "（待答复）" in page and order.job_code in page


def test_a_crowded_board_lists_the_soonest_and_counts_them_all(operator, app, session, clock, settings, elder,
                                                                 make_provider, monkeypatch):
    """A cold snap leaves thousands open: the board lists the first few and its counts cover all."""
    from dispatcher.consoles import operator as board

    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280, name="安康家政")
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    placed = [orders.place_order(session, elder=elder, item=item, slot=slot_for(code, clock.now()), source="phone",
                                 call_sid=None, settings=settings, now=clock.now())
              for code in ("tomorrow_pm", "tomorrow_am", "tomorrow_pm")]
    session.commit()
    monkeypatch.setattr(board, "BOARD_ROWS", 2)

    page = operator.get("/console/board").get_data(as_text=True)

    assert "共 <strong>3</strong> 单" in page and "只列出上门时间最早的 2 单" in page
    assert page.count("<tr data-order=") == 2
    assert placed[1].order_no in page  # the morning visit is the soonest


def test_phone_numbers_on_the_card_read_as_staff_write_them(operator, make_elder):
    make_elder(name="张桂兰", phone="+869315790068")
    page = operator.get("/console/elders", query_string={"q": "张桂兰"}).get_data(as_text=True)
    assert "0931-5790068" in page and "+869315790068" not in page and "岁" in page


@pytest.mark.parametrize("role", ["operator", "supervisor", "admin", "bureau", "provider"])
def test_each_role_has_its_navigation(staff, make_provider, role):
    client = staff(role, make_provider)
    page = client.get("/portal/" if role == "provider" else "/").get_data(as_text=True)
    nav = page[page.index('<nav aria-label="主导航">'):page.index("</nav>")]
    expected = {"operator": "话务台", "supervisor": "质量监督", "admin": "服务目录", "bureau": "补贴报表",
                "provider": "派单与工单"}[role]
    assert expected in nav
    if role in ("bureau", "provider"):
        assert "话务台" not in nav


def test_an_error_is_styled_apart_from_a_success(operator, offered):
    order, _ = offered
    operator.post(f"/console/orders/{order.id}/cancel", data={"reason": " "})
    page = operator.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert '<p class="flash flash-error" role="alert">✖ 请填写取消原因</p>' in page
    operator.post(f"/console/orders/{order.id}/cancel", data={"reason": "老人改期"})
    page = operator.get(f"/console/orders/{order.id}").get_data(as_text=True)
    assert '<p class="flash flash-success" role="status">✔ 工单已取消</p>' in page
