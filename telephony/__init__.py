"""The phone network: the Telephony port, its adapters, TwiML, signatures and the outbox."""

from __future__ import annotations

from flask import Flask


def build_telephony(config):
    """Return the adapter the configuration asks for."""
    from telephony.ports import LocalTelephony, TwilioTelephony

    if config["TELEPHONY"] == "twilio":
        return TwilioTelephony(config["TWILIO_ACCOUNT_SID"], config["TWILIO_AUTH_TOKEN"])
    return LocalTelephony()


def init_app(app: Flask) -> None:
    from telephony import views

    if "vnh.telephony" not in app.extensions:
        app.extensions["vnh.telephony"] = app.config.get("TELEPHONY_ADAPTER") or build_telephony(app.config)
    app.register_blueprint(views.bp)
    if app.config["TELEPHONY"] == "local":
        app.register_blueprint(views.simulator_bp)
