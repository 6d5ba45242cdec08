"""Inbound SMS: providers answer offers and check workers in and out by text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing.policy import Policy
from dispatcher.config import Settings
from dispatcher.lifecycle import attendance, orders
from dispatcher.lifecycle.proof import device_hash
from dispatcher.lifecycle.states import OrderState
from dispatcher.models import Order
from providers.models import Offer, Provider, Worker
from providers.queries import provider_by_phone
from providers.replies import ProviderReply, parse_reply
from providers.workers import workers_by_phone
from telephony import templates
from telephony.models import InboundMessage

# The answers that mean "no such job here": a worker at several providers is looked for at the next.
_NOT_FOUND = frozenset({"reply_order_not_found", "reply_nothing_to_check_in", "reply_nothing_to_check_out"})

def handle_inbound_sms(session: Session, *, message_sid: str, sender: str, to: str, body: str,
                       settings: Settings, policy: Policy, now: datetime) -> str:
    """Apply a provider's reply and return the text to answer; a replayed SMS gets the same answer."""
    if message_sid:
        seen = session.scalar(select(InboundMessage).where(InboundMessage.message_sid == message_sid))
        if seen is not None:
            return seen.reply
    reply = _reply_to(session, sender, body, settings, policy, now)
    if message_sid:
        session.add(InboundMessage(message_sid=message_sid, from_number=sender, to_number=to,
                                   body=body[:1600], reply=reply, received_at=now))
        session.flush()
    return reply


def _reply_to(session, sender, body, settings, policy, now) -> str:
    provider = provider_by_phone(session, sender)
    parsed = parse_reply(body)
    if provider is None:
        # A worker's own registered mobile checks in and out and names the worker by itself.
        on_record = workers_by_phone(session, sender)
        if not on_record:
            return templates.render("unregistered_sender", {})
        if parsed is None or parsed.action in ("accept", "decline"):
            return templates.words("reply_worker_help", {})
        return _worker_step(session, on_record, parsed, sender, settings, policy, now)
    if parsed is None:
        return templates.words("reply_help", {})
    if parsed.action in ("accept", "decline"):
        return _answer_offer(session, provider, parsed, settings, now)
    return _visit_step(session, provider, parsed, settings, policy, now,
                       {"worker": parsed.worker, "phone": sender, "code": parsed.visit_code,
                        "device": device_hash("sms", sender)})


def _worker_step(session, on_record: list[Worker], parsed: ProviderReply, sender, settings, policy, now) -> str:
    """A worker's own mobile: the job is looked for at each provider the worker is on record with."""
    if parsed.worker is not None:
        return templates.words("reply_worker_no_number", {})
    answer = ""
    for worker in on_record:
        provider = session.get(Provider, worker.provider_id)
        answer = _visit_step(session, provider, parsed, settings, policy, now,
                             {"worker_id": worker.id, "phone": sender, "code": parsed.visit_code,
                              "device": device_hash("sms", sender)})
        if templates.reply_template(answer)[0] not in _NOT_FOUND:
            return answer
    return answer


def _answer_offer(session, provider: Provider, parsed: ProviderReply, settings, now) -> str:
    query = select(Offer).join(Order, Order.id == Offer.order_id).where(Offer.provider_id == provider.id)
    if parsed.job_code:
        offers = session.scalars(
            query.where(Order.job_code == parsed.job_code).order_by(Offer.id.desc()).limit(1)
        ).all()
        if not offers:
            return templates.words("reply_offer_not_found", {"job_code": parsed.job_code})
    else:
        offers = session.scalars(query.where(Offer.status == "offered", Offer.expires_at > now)).all()
        if not offers:
            return templates.words("reply_no_pending_offer", {})
        if len(offers) > 1:
            codes = "、".join(o_code(session, o) for o in offers)
            return templates.words("reply_which_offer", {"job_codes": codes, "job_code": o_code(session, offers[0])})
    offer = offers[0]
    if parsed.action == "accept":
        outcome = orders.accept_offer(session, offer, provider.id, "sms", settings, now)
    else:
        outcome = orders.decline_offer(session, offer, provider.id, "sms", settings, now)
    return outcome.message


def o_code(session, offer: Offer) -> str:
    return session.get(Order, offer.order_id).job_code


def _visit_step(session, provider: Provider, parsed: ProviderReply, settings, policy, now, evidence: dict) -> str:
    wanted = OrderState.ACCEPTED if parsed.action == "check_in" else OrderState.IN_PROGRESS
    query = select(Order).where(Order.provider_id == provider.id)
    if parsed.job_code:
        order = session.scalar(query.where(Order.job_code == parsed.job_code).order_by(Order.id.desc()).limit(1))
        if order is None:
            return templates.words("reply_order_not_found", {"job_code": parsed.job_code})
    else:
        candidates = session.scalars(query.where(Order.state == wanted.value)).all()
        if not candidates:
            return templates.words("reply_nothing_to_check_in" if parsed.action == "check_in"
                                   else "reply_nothing_to_check_out", {})
        if len(candidates) > 1:
            codes = "、".join(o.job_code for o in candidates)
            return templates.words("reply_which_order", {"job_codes": codes, "job_code": candidates[0].job_code})
        order = candidates[0]
    if parsed.action == "check_in":
        return attendance.check_in(session, order, provider.id, "sms", now, evidence, settings).message
    return attendance.check_out(session, order, provider.id, "sms", policy, settings, now, evidence).message
