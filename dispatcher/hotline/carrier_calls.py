"""Outbound calls on a domestic carrier: the script (template, parameters, keys) for each call URL.

A carrier plays registered TTS templates instead of fetching TwiML, so the outbox's call URL
(`/telephony/review/<id>`, `/telephony/wellbeing/<id>`, `/telephony/visit/<order>/<kind>`) is read
back into the purpose and the values its template needs. The keys the elder presses come back in
the carrier's call report (dispatcher/hotline/carrier_views.py) and go to the same services the
TwiML flows call.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker

from dispatcher import texts
from dispatcher.clock import clock_from_env
from dispatcher.lifecycle.orders import elder_title
from dispatcher.lifecycle.slots import slot_label
from dispatcher.models import CallbackReview, Order
from dispatcher.programmes.wellbeing import WellbeingCall
from providers.models import Provider
from telephony.aliyun import CallScript

# Review: 0 = the worker did not come; 1-5 = came, and the rating. The carrier's IVR is one menu
# deep (IvrCall's MenuKeyMap), so one key answers both of the TwiML flow's questions.
REVIEW_KEYS = ("0", "1", "2", "3", "4", "5")
WELLBEING_KEYS = ("1", "9")

_PATHS = (
    (re.compile(r"/telephony/review/(\d+)$"), "review"),
    (re.compile(r"/telephony/wellbeing/(\d+)$"), "wellbeing"),
    (re.compile(r"/telephony/visit/(\d+)/(notice|reminder)$"), "visit"),
)


class CallScripts:
    """Read a call URL into its CallScript, on a session of its own (the sender holds none)."""

    def __init__(self, engine, config):
        self.sessionmaker = sessionmaker(engine) if engine is not None else None
        self.clock = config.get("CLOCK") or clock_from_env()

    def __call__(self, url: str) -> CallScript | None:
        path = urlsplit(url).path
        for pattern, kind in _PATHS:
            found = pattern.search(path)
            if found and self.sessionmaker is not None:
                with self.sessionmaker() as session:
                    return script_for(session, kind, found.groups(), self.clock.now())
        return None


def script_for(session, kind: str, ids: tuple[str, ...], now) -> CallScript | None:
    """The carrier script of one call, or None when what it is about is gone."""
    if kind == "review":
        review = session.get(CallbackReview, int(ids[0]))
        if review is None:
            return None
        order = review.order
        return CallScript("review", {"title": elder_title(order.elder, now), "item": order.item.name},
                          REVIEW_KEYS)
    if kind == "wellbeing":
        call = session.get(WellbeingCall, int(ids[0]))
        return None if call is None else CallScript("wellbeing", {"title": elder_title(call.elder, now)},
                                                    WELLBEING_KEYS)
    order = session.get(Order, int(ids[0]))
    provider = session.get(Provider, order.provider_id) if order and order.provider_id else None
    if provider is None:
        return None
    return CallScript(f"visit_{ids[1]}", {
        "title": elder_title(order.elder, now), "provider": provider.name, "item": order.item.name,
        "when": texts.when_words(order.window_start_at, slot_label(order.slot_code)), "code": order.job_code,
    })
