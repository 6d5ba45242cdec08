"""The phone network: the Telephony port, its adapters, TwiML, signatures and the outbox."""

from __future__ import annotations

from flask import Flask


def build_telephony(config, engine=None):
    """Return the adapter the configuration asks for (the local network records on `engine`)."""
    from telephony.ports import LocalTelephony, TwilioTelephony

    if config["TELEPHONY"] == "twilio":
        return TwilioTelephony(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    if config["TELEPHONY"] == "aliyun":
        from datetime import timedelta

        from dispatcher.hotline.carrier_calls import CallScripts
        from telephony.aliyun import AliyunTelephony, national
        from telephony.esl import SwitchCalls

        scripts = CallScripts(engine, config)
        switch = SwitchCalls(host=config["SWITCH_ESL_HOST"], port=int(config.get("SWITCH_ESL_PORT") or 8021),
                             password=config["SWITCH_ESL_PASSWORD"],
                             caller_id=national(config["HOTLINE_NUMBER"])) if config.get("SWITCH_ESL_HOST") else None
        return AliyunTelephony(
            access_key_id=config["ALIYUN_ACCESS_KEY_ID"], access_key_secret=config["ALIYUN_ACCESS_KEY_SECRET"],
            sign_name=config["ALIYUN_SMS_SIGN"], sms_templates=config["ALIYUN_SMS_TEMPLATES"],
            voice_templates=config["ALIYUN_VOICE_TEMPLATES"], show_number=config["ALIYUN_SHOW_NUMBER"],
            scripts=scripts, switch=switch, gateway=config.get("SWITCH_GATEWAY") or "sofia/gateway/carrier/{national}",
            clock=scripts.clock, report_wait=timedelta(seconds=config.get("ALIYUN_CALL_REPORT_WAIT_S", 900)))
    return LocalTelephony(engine)


def init_app(app: Flask) -> None:
    from telephony import views
    from telephony.outbox import Pacer

    # Twilio's default is one call a second per account. Alibaba Cloud's IvrCall allows 100 calls/s
    # per account but each show number carries only a few calls at once, so one a second there too
    # (https://help.aliyun.com/document_detail/393521.html). The local network needs no pacing.
    paced = app.config["TELEPHONY"] in ("twilio", "aliyun")
    app.extensions["vnh.pacer"] = Pacer({
        "call": app.config.get("CALLS_PER_S", 1.0 if paced else 0),
        "sms": app.config.get("SMS_PER_S", 10.0 if paced else 0),
    })
    if "vnh.telephony" not in app.extensions:
        app.extensions["vnh.telephony"] = app.config.get("TELEPHONY_ADAPTER") or build_telephony(
            app.config, app.extensions.get("vnh.engine"))
    app.register_blueprint(views.bp)
    if app.config["TELEPHONY"] == "local":
        app.register_blueprint(views.simulator_bp)
