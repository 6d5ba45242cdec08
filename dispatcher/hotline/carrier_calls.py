"""Outbound calls on a domestic carrier: the script (template, parameters, keys) for each call URL.

A carrier plays registered TTS templates instead of fetching TwiML, so the outbox's call URL
(`/telephony/review/<id>`, `/telephony/wellbeing/<id>`, `/telephony/visit/<order>/<kind>`) is read
back into the purpose and the values its template needs. The keys the elder presses come back in
the carrier's call report (dispatcher/hotline/carrier_views.py) and go to the same services the
TwiML flows call.
"""

from __future__ import annotations

import json
import re
from urllib.parse import urlsplit

from sqlalchemy.orm import sessionmaker

from dispatcher import texts
from dispatcher.clock import clock_from_env, local
from dispatcher.hotline.httapi import SwitchSettings, bridge_data
from dispatcher.lifecycle.orders import elder_title
from dispatcher.lifecycle.slots import slot_label
from dispatcher.models import CallbackReview, OperatorTask, Order
from dispatcher.programmes.supervision import elder_number
from dispatcher.programmes.wellbeing import WellbeingCall
from providers.models import Provider
from telephony.aliyun import BRIDGE, CallScript
from telephony.models import OutboxMessage

# Review: 0 = the worker did not come; 1-5 = came, and the rating. The carrier's IVR is one menu
# deep (IvrCall's MenuKeyMap), so one key answers both of the TwiML flow's questions.
REVIEW_KEYS = ("0", "1", "2", "3", "4", "5")
WELLBEING_KEYS = ("1", "9")

_PATHS = (
    (re.compile(r"/telephony/bridge/wellbeing/(\d+)$"), "bridge_wellbeing"),
    (re.compile(r"/telephony/bridge/(\d+)$"), "bridge_task"),
    (re.compile(r"/telephony/spoken/(\d+)$"), "spoken"),
    (re.compile(r"/telephony/review/(\d+)$"), "review"),
    (re.compile(r"/telephony/wellbeing/(\d+)$"), "wellbeing"),
    (re.compile(r"/telephony/visit/(\d+)/(notice|reminder)$"), "visit"),
)


class CallScripts:
    """Read a call URL into its CallScript, on a session of its own (the sender holds none)."""

    def __init__(self, engine, config):
        self.sessionmaker = sessionmaker(engine) if engine is not None else None
        self.clock = config.get("CLOCK") or clock_from_env()
        self.switch = SwitchSettings.from_config(config)
        self.operator_numbers = list(config.get("OPERATOR_NUMBERS") or [])

    def __call__(self, url: str) -> CallScript | None:
        path = urlsplit(url).path
        for pattern, kind in _PATHS:
            found = pattern.search(path)
            if found and self.sessionmaker is not None:
                with self.sessionmaker() as session:
                    if kind.startswith("bridge_"):
                        return self.bridge_script(session, kind, int(found.group(1)))
                    return script_for(session, kind, found.groups(), self.clock.now())
        return None

    def bridge_script(self, session, kind: str, ident: int) -> CallScript | None:
        """A two-leg call on the switch: the supervisor's phone (the callee) or the operator desks
        (a wellbeing call's key 9) first, then the elder."""
        if kind == "bridge_task":
            task = session.get(OperatorTask, ident)
            number = elder_number(session, task) if task is not None else None
            first = ""  # the callee: the supervisor's own phone
        else:
            call = session.get(WellbeingCall, ident)
            number = primary_phone(call.elder) if call is not None else None
            first = bridge_data(self.operator_numbers, self.switch, self.operator_numbers)
        if number is None:
            return None
        then = bridge_data([number], self.switch, self.operator_numbers)
        return CallScript(BRIDGE, {"first": first, "then": then})


def primary_phone(elder) -> str | None:
    if elder is None or not elder.phones:
        return None
    return next((p.phone for p in elder.phones if p.is_primary), elder.phones[0].phone)


def script_for(session, kind: str, ids: tuple[str, ...], now) -> CallScript | None:
    """The carrier script of one call, or None when what it is about is gone."""
    if kind == "spoken":
        # A notice to a landline: the TTS template of its purpose, with the SMS's parameters.
        message = session.get(OutboxMessage, int(ids[0]))
        if message is None or not message.template_code:
            return None
        return CallScript(message.purpose, json.loads(message.params or "{}"))
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
        "when": texts.when_words(order.window_start_at, _slot_words(order)), "code": order.job_code,
    })


def _slot_words(order: Order) -> str:
    """明天上午, 12月3日 星期四 下午; a care plan's occurrence (slot `plan`) by its time of day."""
    if order.slot_code == "plan":
        return texts.clock_words(local(order.window_start_at))
    return slot_label(order.slot_code)
