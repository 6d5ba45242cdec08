"""The operator console: the screen-pop of a transferred call, orders by hand, the queue, the board."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from dispatcher.consoles.audit import ElderRecordView
from dispatcher.consoles.auth import add_user
from dispatcher.lifecycle import orders
from dispatcher.lifecycle.slots import slot_for
from dispatcher.models import Item, OperatorTask, Order
from dispatcher.operations.sweepers import run_due_work
from providers.models import Offer
from telephony.models import OutboxMessage
from telephony.simulator import FlaskTransport, Phone

ELDER_PHONE = "+8613912340001"


@pytest.fixture
def operator(app, session, clock):
    user = add_user(session, username="xiaoli", password="long-enough-pw", role="operator",
                    display_name="话务员小李", provider_id=None, now=clock.now())
    user.phone = "+8613700000009"
    session.commit()
    client = app.test_client()
    assert client.post("/login", data={"username": "xiaoli", "password": "long-enough-pw"}).status_code == 302
    return client


@pytest.fixture
def elder(make_elder):
    return make_elder(name="王秀英", phone=ELDER_PHONE, contacts=[("李明", "+8613600000001")])


def _phone(app):
    return Phone(FlaskTransport(app.test_client()), "test-auth-token")


def _read(app, model, *where):
    with app.extensions["vnh.sessionmaker"]() as s:
        return s.scalars(select(model).where(*where)).all()


def test_a_call_that_presses_0_pops_up_with_the_callers_card_and_why(app, operator, elder, make_provider):
    assert operator.get("/console/transfers.json").get_json()["transfers"] == []
    _phone(app).call_hotline(ELDER_PHONE, ["0"])
    transfers = operator.get("/console/transfers.json").get_json()["transfers"]
    assert [(t["kind"], t["elder_name"]) for t in transfers] == [("operator_request", "王秀英")]
    assert "按0" in transfers[0]["reason"]
    card = operator.get(transfers[0]["card_url"]).get_data(as_text=True)
    assert "王秀英" in card and "85岁" in card and "特困" in card and "剩余" in card
    assert "李明" in card and "按0" in card


@pytest.mark.parametrize(("keys", "kind", "words"), [
    (["0"], "operator_request", "按0转人工（选择服务类别）"),
    (["1", "0"], "operator_request", "按0转人工（选择服务项目）"),
    (["", "", ""], "silence", "连续两次无输入"),
    (["9"], "emergency", "紧急求助"),
])
def test_every_way_the_ivr_hands_a_call_to_a_person_pops_up_with_its_reason(app, operator, elder, keys, kind,
                                                                            words):
    _phone(app).call_hotline(ELDER_PHONE, keys)
    (transfer,) = operator.get("/console/transfers.json").get_json()["transfers"]
    assert transfer["kind"] == kind and words in transfer["reason"] and transfer["connected"] is True


def test_a_transfer_nobody_answered_leaves_the_pop_for_the_queue_as_a_voicemail(app, operator, elder):
    phone = Phone(FlaskTransport(app.test_client()), "test-auth-token", operators_answer=False)
    phone.call_hotline(ELDER_PHONE, ["0"])
    assert operator.get("/console/transfers.json").get_json()["transfers"] == []
    queue = operator.get("/console?partial=queue").get_data(as_text=True)
    assert 'data-kind="voicemail"' in queue and "<html" not in queue


def test_an_unknown_caller_pops_up_as_unknown_with_a_search_box(app, operator):
    _phone(app).call_hotline("+8613999999999", [])
    transfer = operator.get("/console/transfers.json").get_json()["transfers"][0]
    assert transfer["kind"] == "unknown_caller" and transfer["elder_id"] is None
    assert "未登记号码" in operator.get(transfer["card_url"]).get_data(as_text=True)


def test_an_emergency_comes_before_an_earlier_transfer(app, operator, elder, make_elder, clock):
    _phone(app).call_hotline(make_elder(phone="+8613912340002").phones[0].phone, ["0"])
    clock.advance(30)
    _phone(app).call_hotline(ELDER_PHONE, ["9"])
    kinds = [t["kind"] for t in operator.get("/console/transfers.json").get_json()["transfers"]]
    assert kinds == ["emergency", "operator_request"]
    page = operator.get("/console").get_data(as_text=True)
    assert page.index('data-kind="emergency"') < page.index('data-kind="transfer"')


def test_opening_a_card_or_a_record_is_written_to_the_audit_log(app, operator, elder):
    _phone(app).call_hotline(ELDER_PHONE, ["0"])
    transfer = operator.get("/console/transfers.json").get_json()["transfers"][0]
    operator.get(transfer["card_url"])
    operator.get(f"/console/elders/{elder.id}")
    views = _read(app, ElderRecordView, ElderRecordView.elder_id == elder.id)
    assert [v.route.split()[0] for v in views] == ["views.console_card", "views.console_elder"]
    assert all(v.staff_user_id is not None and v.viewed_at is not None for v in views)


def test_closing_the_transfer_takes_it_off_the_screen_pop(app, operator, elder):
    _phone(app).call_hotline(ELDER_PHONE, ["0"])
    task_id = operator.get("/console/transfers.json").get_json()["transfers"][0]["task_id"]
    operator.post(f"/console/tasks/{task_id}/close", data={"outcome": "已解答", "note": "已电话解答"})
    assert operator.get("/console/transfers.json").get_json()["transfers"] == []


@pytest.mark.parametrize("query", ["王秀", "13912340001", "2340001"])
def test_an_elder_is_found_by_name_or_phone(operator, elder, make_elder, query):
    make_elder(name="张桂兰", phone="+8613912349999")
    page = operator.get("/console/elders", query_string={"q": query}).get_data(as_text=True)
    assert "王秀英" in page and "张桂兰" not in page


def test_an_operator_sees_the_phone_but_not_the_id_number_in_full(operator, elder):
    page = operator.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert "139 1234 0001" in page  # as staff write it (issue 19), not +8613912340001
    assert elder.id_number not in page and elder.id_number[-4:] in page


def test_a_supervisor_sees_phone_numbers_masked(app, session, clock, elder):
    add_user(session, username="zhou", password="long-enough-pw", role="supervisor", display_name="老周",
             provider_id=None, now=clock.now())
    session.commit()
    client = app.test_client()
    client.post("/login", data={"username": "zhou", "password": "long-enough-pw"})
    page = client.get(f"/console/elders/{elder.id}").get_data(as_text=True)
    assert ELDER_PHONE not in page and "139 1234 0001" not in page and "139 **** 0001" in page


def test_an_order_by_hand_reads_back_the_price_and_is_offered_like_a_phone_order(app, operator, elder,
                                                                                   make_provider):
    provider = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    preview = operator.post(f"/console/elders/{elder.id}/orders/preview",
                            data={"item_code": "HK01", "slot_code": "tomorrow_am"}).get_data(as_text=True)
    assert provider.name in preview and "价格 48.00 元" in preview and "自付" in preview
    assert "<svg" in preview and "公里" in preview
    assert _read(app, Order) == []  # a read-back changes nothing
    response = operator.post(f"/console/elders/{elder.id}/orders",
                             data={"item_code": "HK01", "slot_code": "tomorrow_am"})
    (order,) = _read(app, Order)
    assert response.headers["Location"] == f"/console/orders/{order.id}"
    assert order.source == "operator" and order.state == "offered" and order.slot_code == "tomorrow_am"
    (sms,) = _read(app, OutboxMessage, OutboxMessage.purpose == "offer")
    assert sms.to_number == provider.dispatch_phone and f"工单号:{order.job_code}" in sms.body


def test_an_order_made_from_a_screen_pop_closes_the_transfer(app, operator, elder, make_provider):
    make_provider(offerings={"HK01": 4800})
    _phone(app).call_hotline(ELDER_PHONE, ["0"])
    task_id = operator.get("/console/transfers.json").get_json()["transfers"][0]["task_id"]
    operator.post(f"/console/elders/{elder.id}/orders",
                  data={"item_code": "HK01", "slot_code": "asap", "task_id": task_id})
    (task,) = _read(app, OperatorTask, OperatorTask.id == task_id)
    assert task.resolved_at is not None and "代下单" in task.resolution


@pytest.fixture
def unassigned(app, session, clock, settings, elder):
    """An order no provider could take: on the queue."""
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("tomorrow_am", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()
    assert order.state == "unassigned"
    return order.id


def test_an_order_nobody_took_is_re_dispatched_to_the_chosen_candidate(app, operator, unassigned,
                                                                       make_provider):
    near = make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    far = make_provider(offerings={"HK01": 4500}, latitude=36.0700, longitude=103.8400)
    page = operator.get("/console").get_data(as_text=True)
    assert "无人接单" in page
    detail = operator.get(f"/console/orders/{unassigned}").get_data(as_text=True)
    assert detail.index(near.name) < detail.index(far.name)  # ranked, best first
    assert "总分" in detail and "距离" in detail and "<svg" in detail
    operator.post(f"/console/orders/{unassigned}/redispatch", data={"provider_id": far.id})
    (offer,) = _read(app, Offer)
    assert offer.provider_id == far.id and offer.reasons["parts"]["distance"] > 0
    assert _read(app, Order)[0].state == "offered"
    (task,) = _read(app, OperatorTask, OperatorTask.kind == "unassigned")
    assert task.resolved_at is not None and far.name in task.resolution


def test_a_provider_outside_the_candidates_is_refused(app, operator, unassigned, make_provider):
    away = make_provider(offerings={"HK01": 4800}, latitude=36.5, longitude=104.5)
    operator.post(f"/console/orders/{unassigned}/redispatch", data={"provider_id": away.id})
    assert _read(app, Offer) == [] and _read(app, Order)[0].state == "unassigned"


def test_an_operator_cancels_an_order_with_a_reason(app, operator, unassigned):
    operator.post(f"/console/orders/{unassigned}/cancel", data={"reason": "老人住院"})
    (order,) = _read(app, Order)
    assert order.state == "cancelled" and "老人住院" in order.queue_reason
    assert _read(app, OperatorTask)[0].resolved_at is not None


def test_click_to_call_rings_the_operator_then_bridges_to_the_elder(app, operator, unassigned):
    (task,) = _read(app, OperatorTask)
    operator.post(f"/console/tasks/{task.id}/call")
    (call,) = _read(app, OutboxMessage, OutboxMessage.kind == "call")
    assert call.to_number == "+8613700000009" and call.url.endswith(f"/telephony/bridge/{task.id}")


def test_an_accepted_visit_nobody_checked_in_to_is_late_on_the_queue(app, session, operator, elder, clock,
                                                                     settings, make_provider):
    make_provider(offerings={"HK01": 4800})
    item = session.scalar(select(Item).where(Item.code == "HK01"))
    order = orders.place_order(session, elder=elder, item=item, slot=slot_for("asap", clock.now()),
                               source="phone", call_sid=None, settings=settings, now=clock.now())
    offer = session.scalars(select(Offer)).one()
    orders.accept_offer(session, offer, offer.provider_id, "sms", settings, clock.now())
    session.commit()
    run_due_work(app, clock.now())
    assert "签到超时" not in operator.get("/console").get_data(as_text=True)
    clock.advance(2.5 * 3600)  # well past the start of an "as soon as possible" window
    run_due_work(app, clock.now())
    page = operator.get("/console").get_data(as_text=True)
    assert "签到超时" in page and order.order_no in page


def test_the_board_lists_open_orders_filtered_by_street_and_category(app, session, operator, make_elder,
                                                                    settings, clock):
    for name, street, code in (("甲", "酒泉路街道", "HK01"), ("乙", "张掖路街道", "HK01"),
                               ("丙", "酒泉路街道", "LC01")):
        item = session.scalar(select(Item).where(Item.code == code))
        elder = make_elder(name=f"老{name}", street=street)
        orders.place_order(session, elder=elder, item=item, slot=slot_for("tomorrow_am", clock.now()),
                           source="phone", call_sid=None, settings=settings, now=clock.now())
    session.commit()

    def names(**filters):
        page = operator.get("/console/board", query_string=filters).get_data(as_text=True)
        return set(re.findall(r"<td>老(.)</td>", page))

    assert names() == {"甲", "乙", "丙"}
    assert names(street="酒泉路街道") == {"甲", "丙"}
    category = session.scalar(select(Item).where(Item.code == "HK01")).category.code
    session.commit()
    assert names(street="酒泉路街道", category=category) == {"甲"}
    assert "<table>" in operator.get("/console/board?partial=1").get_data(as_text=True)


def test_times_are_shown_in_asia_shanghai(app, operator, elder, clock):
    _phone(app).call_hotline(ELDER_PHONE, ["0"])  # 01:00 UTC is 09:00 in Shanghai
    assert operator.get("/console/transfers.json").get_json()["transfers"][0]["at"] == "09:00:00"


def test_the_keyboard_shortcuts_are_documented_on_the_page(operator):
    page = operator.get("/console").get_data(as_text=True)
    assert 'id="shortcuts"' in page and 'data-key="/"' in page and 'data-key="b"' in page


def test_the_elder_card_marks_the_numbers_no_sms_can_reach(app, operator, make_elder):
    landline_elder = make_elder(name="张桂兰", phone="+869318120001", other_phones=["+8618600000001"],
                                contacts=[("张强", "+869318760001"), ("张丽", "+8613600000002")])
    mobile_elder = make_elder(name="李淑珍", phone="+8613912340009", contacts=[("李明", "+8613600000003")])

    card = operator.get(f"/console/elders/{landline_elder.id}").get_data(as_text=True)
    plain = operator.get(f"/console/elders/{mobile_elder.id}").get_data(as_text=True)

    assert card.count("短信不可达") == 2  # the elder's own landline and 张强's
    assert "短信不可达" not in plain


def test_polls_of_one_area_within_a_moment_share_one_answer(app, operator, elder, make_provider):
    """Fifty consoles polling each second cost about one query a moment, not fifty; a transfer made
    in the meantime shows at the first poll after the moment (VNH_POLL_REUSE_S)."""
    from sqlalchemy import event

    from dispatcher.consoles.polls import Reused

    # The moment is kept on a clock of the test's own: a busy machine may take longer than the
    # moment to answer the call, and the reuse must not depend on how fast it is.
    moment = [0.0]
    app.extensions["vnh.polls"] = Reused(0.3, timer=lambda: moment[0])
    statements = []
    engine = app.extensions["vnh.engine"]

    def count(_conn, _cursor, statement, *_):
        if "operator_tasks" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        assert operator.get("/console/transfers.json").get_json()["transfers"] == []
        _phone(app).call_hotline(ELDER_PHONE, ["0"])
        statements.clear()
        for _ in range(5):  # within the moment: the answer from before the call, without a query
            assert operator.get("/console/transfers.json").get_json()["transfers"] == []
        assert statements == []
        moment[0] += 0.35
        transfers = operator.get("/console/transfers.json").get_json()["transfers"]
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert [t["elder_name"] for t in transfers] == ["王秀英"]


def test_a_long_queue_lists_its_most_urgent_rows_and_counts_them_all(app, operator, elder, session, clock,
                                                                     monkeypatch):
    """A cold snap leaves hundreds of orders nobody took: the queue shows the first QUEUE_ROWS, the
    heading counts every one, and each row's elder comes with its task (no query per row)."""
    from sqlalchemy import event

    from dispatcher.consoles import operator as console
    from dispatcher.lifecycle.tasks import open_task

    monkeypatch.setattr(console, "QUEUE_ROWS", 2)
    for n in range(3):
        open_task(session, kind="voicemail", reason=f"留言{n}", dedupe_key=f"vm:{n}", now=clock.now(),
                  elder_id=elder.id)
    session.commit()
    statements = []
    engine = app.extensions["vnh.engine"]

    def collect(_conn, _cursor, statement, *_):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", collect)
    try:
        page = operator.get("/console?partial=queue").get_data(as_text=True)
    finally:
        event.remove(engine, "before_cursor_execute", collect)
    assert "待处理事项（3）" in page
    assert "留言0" in page and "留言1" in page and "留言2" not in page
    assert "其余 1 项" in page
    assert sum("elders" in s and "operator_tasks" not in s for s in statements) == 0
