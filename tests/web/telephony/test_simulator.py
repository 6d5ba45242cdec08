"""The phone simulator page and `vnh call`, both through the same signed webhooks."""

from click.testing import CliRunner

from dispatcher.cli import main


def test_the_simulator_page_offers_a_keypad_and_the_outbox(app):
    page = app.test_client().get("/simulator")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "电话模拟器" in text and "/simulator/outbox" in text


def test_the_simulator_posts_signed_webhooks_for_the_page(app, make_elder):
    make_elder(phone="+8613912340001")
    answer = app.test_client().post("/simulator/api/post", json={
        "url": "/telephony/voice",
        "form": {"CallSid": "CAsim1", "From": "+8613912340001", "To": app.config["HOTLINE_NUMBER"]}})
    assert answer.status_code == 200
    data = answer.get_json()
    assert data["status"] == 200 and "王奶奶您好" in data["body"]


def test_the_simulator_refuses_urls_outside_the_telephony_webhooks(app):
    answer = app.test_client().post("/simulator/api/post", json={"url": "/console", "form": {}})
    assert answer.status_code == 400


def test_the_simulator_is_absent_with_real_telephony(database_url):
    from dispatcher import create_app

    app = create_app({"DATABASE_URL": database_url, "TELEPHONY": "twilio", "TWILIO_ACCOUNT_SID": "AC1",
                      "TWILIO_AUTH_TOKEN": "t", "PUBLIC_URL": "https://hotline.example.org",
                      "HOTLINE_NUMBER": "+869312345678", "SECRET_KEY": "s"})
    assert app.test_client().get("/simulator/outbox").status_code == 404


def test_vnh_call_prints_the_conversation(app, make_elder, monkeypatch):
    make_elder(phone="+8613912340001")
    monkeypatch.setenv("VNH_DATABASE_URL", app.config["DATABASE_URL"])
    monkeypatch.setenv("VNH_TELEPHONY", "local")
    result = CliRunner().invoke(main, ["call", "--from", "+8613912340001", "--keys", "0"])
    assert result.exit_code == 0, result.output
    assert "热线: 王奶奶您好" in result.output
    assert "(dialling" in result.output and "ended with dial" in result.output


def test_the_outbox_says_each_status_in_words(app, session, clock):
    from telephony.outbox import enqueue_call, record_status

    call = enqueue_call(session, to="+8613900000009", url="https://example.invalid/x", purpose="review",
                        dedupe_key="sim-words", from_="+869312345678", now=clock.now())
    call.sid = "CAwords"
    session.commit()
    client = app.test_client()

    def shown():
        entry = next(e for e in client.get("/simulator/outbox").get_json() if e["id"] == call.id)
        return entry["status"], entry["status_text"]

    assert shown() == ("queued", "排队待发")
    for status, words in (("ringing", "振铃中"), ("in-progress", "通话中"), ("completed", "已挂断")):
        record_status(session, "CAwords", status)
        session.commit()
        assert shown() == (status, words)
    page = client.get("/simulator").get_data(as_text=True)
    assert "entry.status_text" in page and "HTTP " not in page
