"""The order lifecycle: place, dispatch, answer, visit, bill, review. Services flush, never commit."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from billing import ledger
from billing.charges import charge_for_month
from billing.policy import Charge, Policy
from dispatcher import texts, visits
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.models import CallbackReview, Elder, Item, OperatorTask, Order, Visit
from dispatcher.quiet_hours import outside_quiet_hours, parse_quiet_hours
from dispatcher.slots import Slot, half_day_bounds, local_day_bounds, slot_label
from dispatcher.states import OPEN_STATES, OrderEvent, OrderState, next_state
from providers import quality
from providers.matching import (
    DEFAULT_WEIGHTS,
    EMERGENCY_WEIGHTS,
    Ranked,
    Weights,
    haversine_m,
    rank_candidates,
    rejection,
    score_ceiling,
)
from providers.models import Offer, Provider
from providers.queries import candidate_by_id, candidates_near, widest_radius_m
from telephony.outbox import enqueue_call, enqueue_sms

# Matching first searches this far around the elder, then widens until the answer cannot change.
FIRST_SEARCH_M = 2_000


@dataclass(frozen=True)
class Outcome:
    """What an answer to an offer or a visit step did, and what to tell whoever sent it."""

    ok: bool
    message: str
    order: Order | None = None


def elder_title(elder: Elder, now: datetime) -> str:
    return texts.honorific(elder.surname, elder.gender, texts.age_on(elder.birth_date, local(now).date()))


def month_of(moment: datetime) -> str:
    return f"{local(moment):%Y-%m}"


def _move(order: Order, event: OrderEvent, now: datetime) -> None:
    order.state = next_state(order.state, event).value
    order.updated_at = now


def _new_job_code(session: Session) -> str:
    while True:
        code = f"{secrets.randbelow(900000) + 100000}"
        taken = session.scalar(
            select(Order.id).where(Order.job_code == code, Order.state.in_(OPEN_STATES)).limit(1)
        )
        if taken is None:
            return code


def rank_for(session: Session, elder: Elder, item: Item, slot_start: datetime,
             excluded: frozenset[int] = frozenset(), *, top: int = 5, weights: Weights = DEFAULT_WEIGHTS,
             radius_factor: float = 1.0) -> list[Ranked]:
    """The eligible providers for an elder, item and start time, best first.

    The search starts close and widens until nobody farther out could beat the last of the
    top (`score_ceiling`): the same answer as searching the widest radius at once, from far
    fewer rows where providers are dense.
    """
    if elder.latitude is None or elder.longitude is None:
        return []
    excluded = excluded | complained_about(session, elder.id)
    day_start, day_end = local_day_bounds(slot_start)
    slot_from, slot_to = half_day_bounds(slot_start)
    here = local(slot_start)
    at, on = here.time(), here.date()
    # The widest radius is looked up only if the first search does not settle the answer.
    widest = None
    reach = FIRST_SEARCH_M
    measured: dict[int, float] = {}
    while True:
        candidates = candidates_near(session, item.id, elder.latitude, elder.longitude, day_start, day_end,
                                     within_m=reach, radius_factor=radius_factor, slot_start=slot_from,
                                     slot_end=slot_to, community=elder.community, day=on, at=at)
        ranked = rank_candidates(elder.latitude, elder.longitude, at, candidates, weights=weights,
                                 excluded=excluded, top=top, radius_factor=radius_factor, on=on,
                                 measured=measured)
        if len(ranked) == top and ranked[-1].score > score_ceiling(reach, weights):
            return ranked
        if widest is None:
            widest = widest_radius_m(session) * radius_factor
        if reach >= widest:
            return ranked
        # Too few near by: search everywhere at once. Enough but not provably the best: widen by
        # doubling the area, not the reach, since the rows to read grow with the area.
        reach = widest if len(ranked) < top else min(reach * math.sqrt(2), widest)


def complained_about(session: Session, elder_id: int) -> frozenset[int]:
    """Providers this elder has complained about: never sent to them again."""
    return frozenset(session.connection().scalars(_complained_statement(), {"elder_id": elder_id}))


@cache
def _complained_statement():
    from dispatcher.supervision import Complaint

    return select(Complaint.provider_id).where(Complaint.elder_id == bindparam("elder_id"))


def quote(session: Session, elder: Elder, item: Item, slot: Slot, policy: Policy,
          now: datetime) -> Charge | None:
    """What the best provider would charge and how it splits, or None if nobody can come."""
    ranked = rank_for(session, elder, item, slot.start)
    if not ranked:
        return None
    return charge_for(session, elder, item, ranked[0].candidate.price_fen, policy, slot.start)


def charge_for(session: Session, elder: Elder, item: Item, price_fen: int, policy: Policy,
               moment: datetime) -> Charge:
    """Price a visit at `moment` under the month's policy version, cap, use and rollover."""
    charge, _ = charge_for_month(session, elder=elder, item=item, price_fen=price_fen,
                                 policy=policy, month=month_of(moment))
    return charge


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
    order = _lock_order(session, order.id)
    if order.state == OrderState.CANCELLED:
        return Outcome(True, f"工单{order.job_code}已取消。", order)
    _move(order, OrderEvent.CANCEL, now)
    order.queue_reason = reason
    for offer in session.scalars(select(Offer).where(Offer.order_id == order.id,
                                                     Offer.status.in_(("offered", "accepted")))):
        was_accepted = offer.status == "accepted"
        if not was_accepted:
            offer.status, offer.responded_at = "withdrawn", now
        tell_provider(session, offer.provider, purpose="order_cancelled",
                      dedupe_key=f"cancel:{order.id}:{offer.id}", settings=settings, now=now,
                      body=f"【虚拟养老院】工单{order.job_code}（{order.item.name}）已由老人取消，"
                           + ("请勿上门。" if was_accepted else "本次派单撤回。"))
    return Outcome(True, f"工单{order.job_code}已取消。", order)


def queue_for_operator(session: Session, order: Order, reason: str, now: datetime) -> None:
    """Hand the order to the operator queue with the reason nobody was offered it."""
    _move(order, OrderEvent.QUEUE, now)
    order.queue_reason = reason
    asked = session.scalar(select(func.count()).select_from(Offer).where(Offer.order_id == order.id))
    open_task(session, kind="unassigned", reason=reason, dedupe_key=f"unassigned:{order.id}:{asked}",
              order_id=order.id, elder_id=order.elder_id, now=now)


def open_task(session: Session, *, kind: str, reason: str, dedupe_key: str, now: datetime,
              order_id: int | None = None, elder_id: int | None = None,
              call_sid: str | None = None, caller: str | None = None,
              priority: int = 5) -> OperatorTask:
    """Put something on the operator queue once per `dedupe_key`."""
    task = session.scalar(select(OperatorTask).where(OperatorTask.dedupe_key == dedupe_key))
    if task is None:
        task = OperatorTask(kind=kind, reason=reason, dedupe_key=dedupe_key, order_id=order_id,
                            elder_id=elder_id, call_sid=call_sid, caller=caller, created_at=now,
                            priority=priority)
        session.add(task)
        session.flush()
    return task


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
    elder, item = order.elder, order.item
    window_s = offer_window_s(order, settings)
    offers = [
        Offer(order_id=order.id, provider_id=r.candidate.provider_id, status="offered",
              rank=asked + n, price_fen=r.candidate.price_fen, distance_m=r.distance_m,
              score=r.score, reasons=r.reasons, offered_at=now,
              expires_at=now + timedelta(seconds=window_s))
        for n, r in enumerate(ranked, 1)
    ]
    session.add_all(offers)
    _move(order, OrderEvent.OFFER, now)
    order.quoted_price_fen = order.quoted_price_fen or offers[0].price_fen
    session.flush()
    when = texts.when_words(order.window_start_at, slot_label(order.slot_code))
    for offer in offers:
        tell_provider(
            session, session.get(Provider, offer.provider_id), purpose="offer", dedupe_key=f"offer:{offer.id}",
            settings=settings, now=now,
            body=texts.offer_sms(order.job_code, item.name, elder.address, when, offer.price_fen,
                                 max(window_s // 60, 1)),
        )
    return offers[0]


def tell_provider(session: Session, provider: Provider, *, body: str, purpose: str, dedupe_key: str,
                  settings: Settings, now: datetime) -> None:
    """Text a job message to every dispatch phone of the provider (whoever is on duty reads it).

    The main phone keeps `dedupe_key` as given; a further phone's key adds its number.
    """
    for n, phone in enumerate(provider.dispatch_phones):
        enqueue_sms(session, to=phone, purpose=purpose, dedupe_key=dedupe_key if n == 0 else f"{dedupe_key}:{phone}",
                    from_=settings.hotline_number, now=now, body=body)


def offer_window_s(order: Order, settings: Settings) -> int:
    """How long a provider has to answer: shorter when the elder asked for "as soon as possible"."""
    return settings.asap_offer_window_s if order.slot_code == "asap" else settings.offer_window_s


def _lock_order(session: Session, order_id: int) -> Order:
    # The row lock makes two racing answers queue up; the second then sees the first's result.
    return session.get(Order, order_id, with_for_update=True, populate_existing=True)


def accept_offer(session: Session, offer: Offer, provider_id: int, channel: str,
                 settings: Settings, now: datetime) -> Outcome:
    """Accept an offer for its provider; exactly one acceptance wins."""
    order = _lock_order(session, offer.order_id)
    session.refresh(offer)
    if offer.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if offer.status == "accepted":
        return Outcome(True, f"工单{order.job_code}您已接单。", order)
    if offer.status != "offered" or offer.expires_at <= now or order.state != OrderState.OFFERED:
        return Outcome(False, f"工单{order.job_code}已失效或已由其他服务商接单。", order)
    offer.status, offer.responded_at, offer.response_channel = "accepted", now, channel
    _move(order, OrderEvent.ACCEPT, now)
    order.provider_id = provider_id
    _withdraw_others(session, order, offer, settings, now)
    elder, item = order.elder, order.item
    when = texts.when_words(order.window_start_at, slot_label(order.slot_code))
    title = elder_title(elder, now)
    if visits.elder_mobile(elder):
        enqueue_sms(session, to=visits.elder_mobile(elder), purpose="elder_confirmation",
                    dedupe_key=f"confirm:{order.id}:{offer.id}", from_=settings.hotline_number, now=now,
                    body=texts.elder_confirmation_sms(title, offer.provider.name, item.name, when,
                                                      order.job_code))
    else:
        visits.tell_elder(session, order, offer.provider.name, kind="notice",
                          dedupe_key=f"confirm:{order.id}:{offer.id}", settings=settings, now=now)
    visits.schedule_deadlines(session, order, offer.id, provider_id, settings, now)
    return Outcome(True, texts.accepted_sms(order.job_code, item.name, elder.address, when, title), order)


def _withdraw_others(session, order, winner, settings, now):
    others = session.scalars(
        select(Offer).where(Offer.order_id == order.id, Offer.id != winner.id, Offer.status == "offered")
    )
    for other in others:
        other.status, other.responded_at = "withdrawn", now
        tell_provider(session, other.provider, purpose="offer_withdrawn",
                      dedupe_key=f"withdraw:{other.id}", settings=settings, now=now,
                      body=f"【虚拟养老院】工单{order.job_code}已由其他服务商接单，本次派单撤回。")


def decline_offer(session: Session, offer: Offer, provider_id: int, channel: str,
                  settings: Settings, now: datetime) -> Outcome:
    """Decline an offer; the order goes to the next candidate."""
    order = _lock_order(session, offer.order_id)
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


def expire_due_offers(session: Session, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Expire offers whose window has passed and move their orders on; return how many."""
    due = session.scalars(
        select(Offer).where(Offer.status == "offered", Offer.expires_at <= now)
        .order_by(Offer.expires_at).limit(limit)
    ).all()
    expired = 0
    for offer in due:
        # Lock the order before re-reading the offer, in the same order as an answer does, so a
        # racing answer or a second scheduler waits instead of deadlocking, then sees the result.
        order = _lock_order(session, offer.order_id)
        session.refresh(offer)
        if offer.status != "offered":
            continue
        offer.status, offer.responded_at = "expired", now
        expired += 1
        if order.state == OrderState.OFFERED and not _has_open_offer(session, order):
            dispatch(session, order, settings, now)
    return expired


def check_in(session: Session, order: Order, provider_id: int, source: str, now: datetime,
             evidence: dict | None = None) -> Outcome:
    """Record the worker's arrival; `evidence` may name the worker and the phone used."""
    order = _lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if order.visit is not None and order.visit.checked_in_at is not None:
        return Outcome(True, f"工单{order.job_code}已签到。", order)
    if order.state != OrderState.ACCEPTED:
        return Outcome(False, f"工单{order.job_code}当前不能签到。", order)
    _move(order, OrderEvent.CHECK_IN, now)
    evidence = evidence or {}
    session.add(Visit(order=order, provider_id=provider_id, checked_in_at=now, check_in_source=source,
                      worker_ref=evidence.get("worker"), check_in_phone=evidence.get("phone")))
    session.flush()
    return Outcome(True, f"已签到：工单{order.job_code}，{local(now):%H:%M}。", order)


def redispatch_order(session: Session, order: Order, now: datetime, provider_id: int | None = None, *,
                     settings: Settings) -> Outcome:
    """Take an accepted, not yet started order from its provider and offer it again.

    The provider is told by SMS not to come; if its check-in was already overdue the offer is
    marked `no_show`, which counts against its quality score. The order goes to the next ranked
    provider not yet asked, or to `provider_id` when an operator chose one (it must pass the
    hard filters and not have been asked for this order before). Refused, changing nothing,
    when the order is not accepted or the chosen provider cannot take it.
    """
    order = _lock_order(session, order.id)
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
    _move(order, OrderEvent.OFFER, now)
    why = "超时未签到" if is_no_show else "调度调整"
    tell_provider(session, late_provider, purpose="order_redispatched",
                  dedupe_key=f"redispatch:{order.id}:{accepted.id}", settings=settings, now=now,
                  body=f"【虚拟养老院】工单{order.job_code}（{order.item.name}）因{why}已改派其他服务商，请勿上门。")
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


def check_out(session: Session, order: Order, provider_id: int, source: str, policy: Policy,
              settings: Settings, now: datetime, evidence: dict | None = None) -> Outcome:
    """Record the end of the visit, bill it (subsidy pending) and schedule the callback review."""
    order = _lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    visit = order.visit
    if visit is not None and visit.checked_out_at is not None:
        return Outcome(True, f"工单{order.job_code}已签退。", order)
    if order.state != OrderState.IN_PROGRESS or visit is None:
        return Outcome(False, f"工单{order.job_code}尚未签到，不能签退。", order)
    _move(order, OrderEvent.CHECK_OUT, now)
    visit.checked_out_at, visit.check_out_source = now, source
    if evidence:
        visit.check_out_phone = evidence.get("phone")
        visit.worker_ref = visit.worker_ref or evidence.get("worker")
    accepted = session.scalar(
        select(Offer).where(Offer.order_id == order.id, Offer.status == "accepted")
    )
    elder = order.elder
    charge = charge_for(session, elder, order.item, accepted.price_fen, policy, now)
    ledger.post_charge(
        session, visit_ref(order, visit), price_fen=charge.price_fen, subsidy_fen=charge.subsidy_fen,
        copay_fen=charge.copay_fen, policy_version=policy.version_for(local(now).date()).name, now=now,
    )
    due = outside_quiet_hours(now + timedelta(seconds=settings.review_delay_s),
                              parse_quiet_hours(settings.quiet_hours))
    session.add(CallbackReview(visit_id=visit.id, order_id=order.id, state="scheduled", due_at=due))
    session.flush()
    return Outcome(True, f"已签退：工单{order.job_code}，感谢您的服务。", order)


def visit_ref(order: Order, visit: Visit) -> ledger.VisitRef:
    return ledger.VisitRef(
        order_id=order.id, visit_id=visit.id, elder_id=order.elder_id, provider_id=visit.provider_id,
        elder_class=order.elder.elder_class, month=month_of(visit.checked_out_at),
    )


def start_due_reviews(session: Session, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Place the callback-review calls that are due; return how many."""
    due = session.scalars(
        select(CallbackReview).where(CallbackReview.state == "scheduled", CallbackReview.due_at <= now)
        .order_by(CallbackReview.due_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for review in due:
        elder = review.order.elder
        phone = next((p.phone for p in elder.phones if p.is_primary), None) or elder.phones[0].phone
        review.attempts += 1
        review.state, review.called_at = "calling", now
        enqueue_call(session, to=phone, url=settings.url(f"/telephony/review/{review.id}"),
                     purpose="review", dedupe_key=f"review:{review.id}:{review.attempts}",
                     from_=settings.hotline_number, now=now, review_id=review.id)
    return len(due)


def record_review_answer(session: Session, review: CallbackReview, did_come: bool,
                         now: datetime, sample_share: float = 0.1) -> None:
    """Apply the elder's answer: a confirmed visit's subsidy becomes payable, a denied one withheld."""
    order = _lock_order(session, review.order_id)
    session.refresh(review)
    if review.did_worker_come is not None:
        return
    review.did_worker_come, review.answered_at = did_come, now
    review.state = "verified" if did_come else "denied"
    ref = visit_ref(order, review.visit)
    if did_come:
        _move(order, OrderEvent.VERIFY, now)
        ledger.post_verification(session, ref, now)
        from dispatcher.reviews import sample_for_supervisor

        sample_for_supervisor(session, review, sample_share, now)
    else:
        _move(order, OrderEvent.DENY, now)
        ledger.post_withholding(session, ref, now)
        open_task(session, kind="dispute", reason="回访中老人表示服务人员未上门",
                  dedupe_key=f"dispute:{order.id}", order_id=order.id, elder_id=order.elder_id, now=now)


def record_review_rating(session: Session, review: CallbackReview, rating: int,
                         now: datetime) -> None:
    """Keep the first rating given; a low one goes to a supervisor."""
    from dispatcher.reviews import after_rating

    if review.rating is None:
        review.rating = rating
        after_rating(session, review, now)
