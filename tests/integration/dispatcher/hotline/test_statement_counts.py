"""SQL statements per IVR turn: a count, not a time, so the webhook's work cannot quietly grow.

Each statement is a round trip to the database while the caller waits; `vnh bench webhooks`
times the turns, these tests pin how many statements they take.
"""

from __future__ import annotations

import uuid
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from telephony.simulator import FlaskTransport, Phone

ELDER = "+8613912340001"
# Transaction control and connection set-up are not the turn's own work.
NOT_COUNTED = ("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA", "SAVEPOINT", "RELEASE")


@pytest.fixture
def phone(app):
    return Phone(FlaskTransport(app.test_client()), app.config["TWILIO_AUTH_TOKEN"],
                 app.config["HOTLINE_NUMBER"])


@contextmanager
def statements(app):
    """Collect the SQL statements the app sends while the block runs."""
    seen: list[str] = []

    def collect(_conn, _cursor, statement, _parameters, _context, _executemany):
        if not statement.lstrip().upper().startswith(NOT_COUNTED):
            seen.append(" ".join(statement.split()))

    engine = app.extensions["vnh.engine"]
    event.listen(engine, "before_cursor_execute", collect)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", collect)


def _turn(phone, app, call_sid: str, seq: int = 0, **form) -> tuple[str, list[str]]:
    url = "/telephony/voice" + (f"?seq={seq}" if seq else "")
    with statements(app) as seen:
        status, body = phone.post(url, {"CallSid": call_sid, "From": ELDER,
                                        "To": app.config["HOTLINE_NUMBER"], **form})
    assert status == 200
    return body, seen


@pytest.fixture
def warm(app, phone, make_elder):
    """An enrolled elder, and a first call already answered (the catalogue is read once a
    minute per process, not per turn)."""
    make_elder(phone=ELDER)
    _turn(phone, app, "CA" + uuid.uuid4().hex)


def test_a_known_callers_greeting_takes_five_statements(app, phone, warm):
    body, seen = _turn(phone, app, "CA" + uuid.uuid4().hex)

    assert "王奶奶您好" in body
    # the caller with their open order, the call record, the caller's usual categories, then
    # the call and its answer written (a new call is inserted, not looked up first)
    assert len(seen) == 5, "\n".join(seen)


def test_a_key_pressed_in_a_menu_takes_three_statements(app, phone, warm):
    sid = "CA" + uuid.uuid4().hex
    _turn(phone, app, sid)

    body, seen = _turn(phone, app, sid, seq=1, Digits="2")

    assert "居室保洁按1" in body
    # the call with any answer already given, the call's new step, the answer
    assert len(seen) == 3, "\n".join(seen)


def test_a_replayed_turn_is_answered_from_one_statement(app, phone, warm):
    sid = "CA" + uuid.uuid4().hex
    _turn(phone, app, sid)
    first, _ = _turn(phone, app, sid, seq=1, Digits="2")

    again, seen = _turn(phone, app, sid, seq=1, Digits="2")

    assert again == first
    assert len(seen) == 1, "\n".join(seen)


def test_no_turn_reads_the_catalogue(app, phone, warm):
    sid = "CA" + uuid.uuid4().hex
    _, greeting = _turn(phone, app, sid)
    _, category = _turn(phone, app, sid, seq=1, Digits="2")
    _, item = _turn(phone, app, sid, seq=2, Digits="1")

    read = [s for s in greeting + category + item if "FROM categories" in s or "FROM items" in s]
    assert read == []


def test_a_caller_with_an_open_order_is_greeted_with_its_status_in_five_statements(
    app, phone, warm, make_provider
):
    make_provider(offerings={"HK01": 4800}, latitude=36.0590, longitude=103.8280)
    booked = phone.call_hotline(ELDER, ["2", "1", "1", "1"])
    assert "工单号" in booked.text

    body, seen = _turn(phone, app, "CA" + uuid.uuid4().hex)

    assert "您有一个工单：居室保洁" in body
    # the caller with their open order's id, the order with its item, then the call record,
    # the call and its answer written (no menu yet: the caller first decides about the order)
    assert len(seen) == 5, "\n".join(seen)


def test_a_turn_writes_back_only_its_step_and_data(app, phone, warm):
    """The call is read as a row and written back with Core: the step's new state is saved, and
    the status the network's callbacks keep on the call (the operator's leg ringing) is still there
    after the turn (the row lock keeps a callback from writing between the read and the write)."""
    from sqlalchemy import select, update

    from dispatcher.models import HotlineCall

    sid = "CA" + uuid.uuid4().hex
    _turn(phone, app, sid)
    with app.extensions["vnh.sessionmaker"]() as session:
        session.execute(update(HotlineCall).where(HotlineCall.call_sid == sid).values(call_status="ringing"))
        session.commit()

    _turn(phone, app, sid, seq=1, Digits="2")

    with app.extensions["vnh.sessionmaker"]() as session:
        call = session.scalar(select(HotlineCall).where(HotlineCall.call_sid == sid))
        assert (call.call_status, call.step) == ("ringing", "item")
        assert call.data["category"] and call.data["failures"] == 0
