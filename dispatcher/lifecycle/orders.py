"""Orders and their offers: place, dispatch, accept or decline, expire, cancel, re-dispatch.

Services flush, never commit. The visit itself (check-in, check-out) is in `attendance`, the
callback review in `reviews`: both build on this module, never the other way round.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from dispatcher import texts
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.lifecycle import visits
from dispatcher.lifecycle.ranking import complained_about, rank_for
from dispatcher.lifecycle.slots import Slot, half_day_bounds, local_day_bounds
from dispatcher.lifecycle.states import OPEN_STATES, OrderEvent, OrderState, next_state
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import Elder, Item, Order
from dispatcher.plans import commitment
from providers import quality
from providers.matching import EMERGENCY_WEIGHTS, Ranked, haversine_m, rank_candidates, rejection
from providers.models import Offer, Provider
from providers.queries import candidate_by_id
from telephony import templates
from telephony.outbox import PerNumberLimit, enqueue_sms


@dataclass(frozen=True)
class Outcome:
    """What an answer to an offer or a visit step did, and what to tell whoever sent it."""

    ok: bool
    message: str
    order: Order | None = None
    # Why a refusal: an English code for the API (e.g. unknown_worker); None for the usual conflict.
    error: str | None = None
    # A refusal that still changed something to keep (a wrong visit code is counted): commit it.
    keep: bool = False


def elder_title(elder: Elder, now: datetime) -> str:
    return texts.honorific(elder.surname, elder.gender, texts.age_on(elder.birth_date, local(now).date()))


def move_order(order: Order, event: OrderEvent, now: datetime) -> None:
    """Move the order along the state machine (refused transitions raise)."""
    order.state = next_state(order.state, event).value
    order.updated_at = now


def lock_order(session: Session, order_id: int) -> Order:
    """Load the order under a row lock: two racing answers queue up, the second sees the first's result."""
    return session.get(Order, order_id, with_for_update=True, populate_existing=True)


def _new_job_code(session: Session) -> str:
    while True:
        code = f"{secrets.randbelow(900000) + 100000}"
        taken = session.scalar(
            select(Order.id).where(Order.job_code == code, Order.state.in_(OPEN_STATES)).limit(1)
        )
        if taken is None:
            return code


def place_order(session: Session, *, elder: Elder, item: Item, slot: Slot, source: str,
                call_sid: str | None, settings: Settings, now: datetime) -> Order:
    """Create an order and offer it to the best provider; one order per call at most."""
    if call_sid:
        existing = session.scalar(select(Order).where(Order.call_sid == call_sid))
        if existing is not None:
            return existing
    order = Order(
        job_code=_new_job_code(session), elder=elder, item=item, state=OrderState.NEW.value,
        source=source, call_sid=call_sid, slot_code=slot.code, window_start_at=slot.start,
        window_end_at=slot.end, created_at=now, updated_at=now,
    )
    order.order_no = f"{local(now):%Y%m%d}{order.job_code}"
    session.add(order)
    session.flush()
    dispatch(session, order, settings, now)
    return order


def cancel_order(session: Session, order: Order, reason: str, settings: Settings,
                 now: datetime) -> Outcome:
    """Cancel an open order; open offers are withdrawn and an assigned provider is told by SMS."""
    order = lock_order(session, order.id)
    if order.state == OrderState.CANCELLED:
        return Outcome(True, f"工单{order.job_code}已取消。", order)
    move_order(order, OrderEvent.CANCEL, now)
    order.queue_reason = reason
    for offer in session.scalars(select(Offer).where(Offer.order_id == order.id,
                                                     Offer.status.in_(("offered", "accepted")))):
        was_accepted = offer.status == "accepted"
        if not was_accepted:
            offer.status, offer.responded_at = "withdrawn", now
        tell_provider(session, offer.provider, purpose="order_cancelled" if was_accepted else "offer_cancelled",
                      dedupe_key=f"cancel:{order.id}:{offer.id}", settings=settings, now=now,
                      params={"job_code": order.job_code, "item_name": order.item.name})
    return Outcome(True, f"工单{order.job_code}已取消。", order)


def queue_for_operator(session: Session, order: Order, reason: str, now: datetime) -> None:
    """Hand the order to the operator queue with the reason nobody was offered it."""
    move_order(order, OrderEvent.QUEUE, now)
    order.queue_reason = reason
    asked = session.scalar(select(func.count()).select_from(Offer).where(Offer.order_id == order.id))
    open_task(session, kind="unassigned", reason=reason, dedupe_key=f"unassigned:{order.id}:{asked}",
              order_id=order.id, elder_id=order.elder_id, now=now)


def dispatch(session: Session, order: Order, settings: Settings, now: datetime) -> Offer | None:
    """Offer the order to the best provider not yet asked; queue it when there is none.

    An emergency item is offered to several providers at once, within a widened radius and
    without regard to fairness; the first to accept wins and the others are withdrawn.
    Return the best new offer.
    """
    elder, item = order.elder, order.item
    if elder.latitude is None or elder.longitude is None:
        queue_for_operator(session, order, "老人地址没有坐标，无法按距离派单", now)
        return None
    asked = frozenset(session.scalars(select(Offer.provider_id).where(Offer.order_id == order.id)))
    if len(asked) >= settings.max_offers:
        queue_for_operator(session, order, f"已派给{len(asked)}家服务商，均未接单", now)
        return None
    if item.is_emergency:
        at_once = min(settings.emergency_offers, settings.max_offers - len(asked))
        ranked = rank_for(session, elder, item, order.window_start_at, excluded=asked, top=at_once,
                          weights=EMERGENCY_WEIGHTS, radius_factor=settings.emergency_radius_factor)
    else:
        ranked = rank_for(session, elder, item, order.window_start_at, excluded=asked)[:1]
    if not ranked:
        reason = "附近没有可接单的服务商" if not asked else "其余服务商均不符合条件"
        queue_for_operator(session, order, reason, now)
        return None
    return send_offers(session, order, ranked, len(asked), settings, now)


def send_offers(session: Session, order: Order, ranked: list[Ranked], asked: int, settings: Settings,
                now: datetime) -> Offer:
    """Offer the order to these ranked providers (after `asked` earlier offers), keeping why each
    was chosen, and text each one."""
    item = order.item
    window_s = offer_window_s(order, settings)
    offers = [
        Offer(order_id=order.id, provider_id=r.candidate.provider_id, status="offered",
              rank=asked + n, price_fen=r.candidate.price_fen, distance_m=r.distance_m,
              score=r.score, reasons=r.reasons, offered_at=now,
              expires_at=now + timedelta(seconds=window_s))
        for n, r in enumerate(ranked, 1)
    ]
    session.add_all(offers)
    move_order(order, OrderEvent.OFFER, now)
    order.quoted_price_fen = order.quoted_price_fen or offers[0].price_fen
    session.flush()
    # A care plan's first offer names the plan and its schedule: accepting it takes the whole plan.
    plan = commitment.plan_offer_params(session, order)
    for offer in offers:
        provider = session.get(Provider, offer.provider_id)
        tell_provider(
            session, provider, purpose="plan_offer" if plan else "offer", dedupe_key=f"offer:{offer.id}",
            settings=settings, now=now,
            params={"job_code": order.job_code, "item_name": item.name, "address": place_words(order, provider),
                    "when": texts.visit_time(order.window_start_at), "price": texts.yuan_words(offer.price_fen),
                    "minutes": max(window_s // 60, 1), **(plan or {})},
        )
    return offers[0]


def place_words(order: Order, provider: Provider) -> str:
    """Where the visit happens, for the provider: the elder's home, a delivery, or its venue."""
    item = order.item
    return texts.service_place(item.place, item.venue, order.elder.address, provider.address,
                               is_meal=item.category.code == "ML")


def tell_provider(session: Session, provider: Provider, *, purpose: str, params: dict, dedupe_key: str,
                  settings: Settings, now: datetime) -> None:
    """Text a job message to every dispatch phone of the provider (whoever is on duty reads it).

    The main phone keeps `dedupe_key` as given; a further phone's key adds its number. A phone
    that has had its carrier's share of texts in the window (VNH_SMS_PER_NUMBER per
    VNH_SMS_WINDOW_S) is not texted: the carrier would hold the text for a day. The row says
    so (`skipped_rate_limit`); an offer still reaches the portal and API and the other phones,
    and expires in its own window, so the order never waits for the carrier.
    """
    limit = PerNumberLimit(settings.sms_per_number, settings.sms_window_s)
    for n, phone in enumerate(provider.dispatch_phones):
        enqueue_sms(session, to=phone, purpose=purpose, dedupe_key=dedupe_key if n == 0 else f"{dedupe_key}:{phone}",
                    from_=settings.hotline_number, now=now, params=params, limit=limit)


def offer_window_s(order: Order, settings: Settings) -> int:
    """How long a provider has to answer: shorter when the elder asked for "as soon as possible"."""
    return settings.asap_offer_window_s if order.slot_code == "asap" else settings.offer_window_s


def accept_offer(session: Session, offer: Offer, provider_id: int, channel: str,
                 settings: Settings, now: datetime) -> Outcome:
    """Accept an offer for its provider; exactly one acceptance wins."""
    order = lock_order(session, offer.order_id)
    session.refresh(offer)
    if offer.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if offer.status == "accepted":
        return Outcome(True, f"工单{order.job_code}您已接单。", order)
    if offer.status != "offered" or offer.expires_at <= now or order.state != OrderState.OFFERED:
        return Outcome(False, f"工单{order.job_code}已失效或已由其他服务商接单。", order)
    offer.status, offer.responded_at, offer.response_channel = "accepted", now, channel
    move_order(order, OrderEvent.ACCEPT, now)
    order.provider_id = provider_id
    _withdraw_others(session, order, offer, settings, now)
    elder, item = order.elder, order.item
    visits.tell_elder(session, order, offer.provider.name, kind="notice",
                      dedupe_key=f"confirm:{order.id}:{offer.id}", settings=settings, now=now)
    visits.schedule_deadlines(session, order, offer.id, provider_id, settings, now)
    commitment.on_offer_accepted(session, order, offer, settings, now)
    # The answer to the provider's accepting SMS (the carrier adds the signature to a reply).
    reply = templates.words("accepted_reply", {
        "job_code": order.job_code, "item_name": item.name, "title": elder_title(elder, now),
        "address": place_words(order, offer.provider), "when": texts.visit_time(order.window_start_at)})
    return Outcome(True, reply, order)


def _withdraw_others(session, order, winner, settings, now):
    others = session.scalars(
        select(Offer).where(Offer.order_id == order.id, Offer.id != winner.id, Offer.status == "offered")
    )
    for other in others:
        other.status, other.responded_at = "withdrawn", now
        tell_provider(session, other.provider, purpose="offer_withdrawn",
                      dedupe_key=f"withdraw:{other.id}", settings=settings, now=now,
                      params={"job_code": order.job_code})


def decline_offer(session: Session, offer: Offer, provider_id: int, channel: str,
                  settings: Settings, now: datetime) -> Outcome:
    """Decline an offer; the order goes to the next candidate."""
    order = lock_order(session, offer.order_id)
    session.refresh(offer)
    if offer.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if offer.status == "declined":
        return Outcome(True, f"已拒绝工单{order.job_code}。", order)
    if offer.status != "offered":
        return Outcome(False, f"工单{order.job_code}已失效，无需处理。", order)
    offer.status, offer.responded_at, offer.response_channel = "declined", now, channel
    if order.state == OrderState.OFFERED and not _has_open_offer(session, order):
        dispatch(session, order, settings, now)
    return Outcome(True, f"已拒绝工单{order.job_code}。", order)


def _has_open_offer(session, order) -> bool:
    return session.scalar(
        select(Offer.id).where(Offer.order_id == order.id, Offer.status == "offered").limit(1)
    ) is not None


# Overdue offers read at a time by the sweeper.
DUE_BATCH = 100


def expire_due_offers(session: Session, settings: Settings, now: datetime, limit: int = DUE_BATCH) -> int:
    """Expire offers whose window has passed and move their orders on; return how many."""
    return sum(expire_offer(session, settings, due, now) for due in due_offers(session, now, limit))


@dataclass(frozen=True)
class DueOffer:
    offer_id: int
    order_id: int


def due_offers(session: Session, now: datetime, limit: int = DUE_BATCH) -> list[DueOffer]:
    """Up to `limit` offers whose window has passed, the longest overdue first."""
    return [DueOffer(*row) for row in session.execute(
        select(Offer.id, Offer.order_id).where(Offer.status == "offered", Offer.expires_at <= now)
        .order_by(Offer.expires_at, Offer.id).limit(limit))]


def expire_offer(session: Session, settings: Settings, due: DueOffer, now: datetime) -> int:
    """Expire one overdue offer and, if its order has no other open offer, offer the order to the
    next provider; 1 if it expired it, 0 if an answer or another scheduler got there first."""
    # Lock the order before reading the offer, in the same order as an answer does, so a racing
    # answer or a second scheduler waits instead of deadlocking, then sees the result.
    order = lock_order(session, due.order_id)
    offer = session.get(Offer, due.offer_id, populate_existing=True)
    if offer is None or offer.status != "offered":
        return 0
    offer.status, offer.responded_at = "expired", now
    if order.state == OrderState.OFFERED and not _has_open_offer(session, order):
        dispatch(session, order, settings, now)
    return 1


def redispatch_order(session: Session, order: Order, now: datetime, provider_id: int | None = None, *,
                     settings: Settings) -> Outcome:
    """Take an accepted, not yet started order from its provider and offer it again.

    The provider is told by SMS not to come; if its check-in was already overdue the offer is
    marked `no_show`, which counts against its quality score. The order goes to the next ranked
    provider not yet asked, or to `provider_id` when an operator chose one (it must pass the
    hard filters and not have been asked for this order before). Refused, changing nothing,
    when the order is not accepted or the chosen provider cannot take it.
    """
    order = lock_order(session, order.id)
    if order.state != OrderState.ACCEPTED or order.provider_id is None:
        return Outcome(False, f"工单{order.job_code}当前不能改派（仅限已接单、未签到的工单）。", order)
    accepted = session.scalar(select(Offer).where(Offer.order_id == order.id, Offer.status == "accepted"))
    if accepted is None:
        return Outcome(False, f"工单{order.job_code}没有已接单的服务商，不能改派。", order)
    chosen = None
    if provider_id is not None:
        refusal, chosen = _chosen_provider(session, order, provider_id)
        if refusal:
            return Outcome(False, refusal, order)
    late_provider = accepted.provider
    is_no_show = now >= visits.check_in_due_at(order.window_start_at, accepted.responded_at or now)
    accepted.status = "no_show" if is_no_show else "withdrawn"
    order.provider_id = None
    move_order(order, OrderEvent.OFFER, now)
    why = "超时未签到" if is_no_show else "调度调整"
    tell_provider(session, late_provider, purpose="order_redispatched",
                  dedupe_key=f"redispatch:{order.id}:{accepted.id}", settings=settings, now=now,
                  params={"job_code": order.job_code, "item_name": order.item.name, "reason": why})
    if is_no_show:
        quality.recompute(session, late_provider.id, threshold=settings.suspend_below,
                          hotline_number=settings.hotline_number, now=now)
    if chosen is not None:
        asked = session.scalar(select(func.count()).select_from(Offer).where(Offer.order_id == order.id))
        send_offers(session, order, [chosen], asked, settings, now)
    else:
        dispatch(session, order, settings, now)
    return Outcome(True, f"工单{order.job_code}已改派。", order)


def _chosen_provider(session: Session, order: Order, provider_id: int) -> tuple[str | None, Ranked | None]:
    """A provider an operator chose for an order, ranked with its reasons, or why it cannot take it."""
    elder = order.elder
    asked = set(session.scalars(select(Offer.provider_id).where(Offer.order_id == order.id)))
    if provider_id in asked:
        return "该服务商已派过此工单，不能再派。", None
    if provider_id in complained_about(session, elder.id):
        return "老人投诉过该服务商，不能派给它。", None
    if elder.latitude is None or elder.longitude is None:
        return "老人地址没有坐标，无法核对服务范围。", None
    day_start, day_end = local_day_bounds(order.window_start_at)
    slot_from, slot_to = half_day_bounds(order.window_start_at)
    here = local(order.window_start_at)
    candidate = candidate_by_id(session, provider_id, order.item_id, day_start=day_start, day_end=day_end,
                                slot_start=slot_from, slot_end=slot_to, community=elder.community,
                                day=here.date())
    if candidate is None:
        return "该服务商不提供此项服务。", None
    ranked = rank_candidates(elder.latitude, elder.longitude, here.time(), [candidate], top=1, on=here.date())
    if not ranked:
        metres = haversine_m(elder.latitude, elder.longitude, candidate.latitude, candidate.longitude)
        why = rejection(candidate, metres, here.time(), frozenset(), on=here.date()) or "outside service radius"
        return f"该服务商不符合派单条件：{why}。", None
    chosen = ranked[0]
    return None, Ranked(chosen.candidate, chosen.distance_m, chosen.score,
                        {**chosen.reasons, "chosen_by_operator": True})


