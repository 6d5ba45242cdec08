"""Twilio request signatures, checked against the public URL Twilio called."""

from __future__ import annotations

from functools import wraps

from flask import abort, current_app, request
from twilio.request_validator import RequestValidator

# Where the web edge keeps the form exactly as posted when it strips control characters from
# request.form: Twilio signs what it sent.
FORM_AS_SENT = "vnh.form_as_sent"


def public_url_of_request() -> str:
    """Return the URL Twilio signed: VNH_PUBLIC_URL + path and query, or the request's own URL."""
    base = current_app.config.get("PUBLIC_URL")
    if not base:
        return request.url
    query = request.query_string.decode()
    return base + request.path + (f"?{query}" if query else "")


def twilio_signed(view):
    """Answer 403 unless the request carries a valid X-Twilio-Signature (when a token is set).

    On a domestic carrier with no Twilio token nothing may post to Twilio's webhooks: they would
    otherwise answer offers and review calls for anyone.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        token = current_app.config.get("TWILIO_AUTH_TOKEN")
        if not token and current_app.config.get("TELEPHONY") == "aliyun":
            abort(403)
        if token:
            signature = request.headers.get("X-Twilio-Signature", "")
            params = request.environ.get(FORM_AS_SENT, request.form).to_dict(flat=True)
            if not signature or not RequestValidator(token).validate(
                public_url_of_request(), params, signature
            ):
                abort(403)
        return view(*args, **kwargs)

    return wrapper
