"""The visit itself: the worker checks in, checks out, and the check-out bills it and books the review."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import duration, ledger
from billing.months import month_of
from billing.policy import Policy
from dispatcher.clock import local
from dispatcher.config import Settings
from dispatcher.lifecycle import family, proof
from dispatcher.lifecycle.orders import Outcome, lock_order, move_order
from dispatcher.lifecycle.quiet_hours import outside_quiet_hours, parse_quiet_hours
from dispatcher.lifecycle.ranking import charge_for
from dispatcher.lifecycle.states import OrderEvent, OrderState
from dispatcher.models import Order, Visit
from dispatcher.plans import reviews as plan_reviews
from providers.models import Offer, Worker
from providers.workers import name_worker


def check_in(session: Session, order: Order, provider_id: int, source: str, now: datetime,
             evidence: dict | None = None, settings: Settings | None = None) -> Outcome:
    """Record the worker's arrival, naming the worker on record and how the place was proved.

    `evidence` may hold: `worker` (a work number or mobile) or `worker_id`, `phone` (the number
    reported from), `elder_phone` (True when caller ID is the elder's), `code` (the visit code),
    `lat`/`lng` (the worker's location) and `device` (a hash of who reported it).
    """
    order = lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    if order.visit is not None and order.visit.checked_in_at is not None:
        return Outcome(True, f"工单{order.job_code}已签到。", order)
    if order.state != OrderState.ACCEPTED:
        return Outcome(False, f"工单{order.job_code}当前不能签到。", order)
    evidence = evidence or {}
    naming = name_worker(session, provider_id, evidence.get("worker"), order.item.code, order.item.name,
                         evidence.get("worker_id"))
    if naming.refusal:
        return Outcome(False, naming.refusal, order, error=naming.error)
    proof = _prove(order, evidence, settings)
    if isinstance(proof, Outcome):
        return proof
    move_order(order, OrderEvent.CHECK_IN, now)
    worker = naming.worker
    session.add(Visit(order=order, provider_id=provider_id, checked_in_at=now, check_in_source=source,
                      worker_ref=worker.work_number if worker else evidence.get("worker"),
                      worker_id=worker.id if worker else None, check_in_phone=evidence.get("phone"),
                      check_in_method=proof.method, check_in_lat=proof.lat, check_in_lng=proof.lng,
                      check_in_device=evidence.get("device")))
    session.flush()
    if settings is not None:
        family.tell_family(session, order, "check_in", worker.name if worker else None, settings, now)
    return Outcome(True, f"已签到：工单{order.job_code}，{local(now):%H:%M}。{_note(proof)}", order)


def check_out(session: Session, order: Order, provider_id: int, source: str, policy: Policy,
              settings: Settings, now: datetime, evidence: dict | None = None) -> Outcome:
    """Record the end of the visit, bill it (subsidy pending) and schedule the callback review."""
    order = lock_order(session, order.id)
    if order.provider_id != provider_id:
        return Outcome(False, "该工单不属于您。")
    visit = order.visit
    if visit is not None and visit.checked_out_at is not None:
        return Outcome(True, f"工单{order.job_code}已签退。", order)
    if order.state != OrderState.IN_PROGRESS or visit is None:
        return Outcome(False, f"工单{order.job_code}尚未签到，不能签退。", order)
    evidence = evidence or {}
    worker = None
    if evidence.get("worker") or evidence.get("worker_id"):
        naming = name_worker(session, provider_id, evidence.get("worker"), order.item.code, order.item.name,
                             evidence.get("worker_id"))
        if naming.refusal:
            return Outcome(False, naming.refusal, order, error=naming.error)
        worker = naming.worker
        if visit.worker_id is not None and worker is not None and worker.id != visit.worker_id:
            return Outcome(False, f"签退的服务人员（工号{worker.work_number}）不是签到的服务人员。", order,
                           error="worker_mismatch")
    proof = _prove(order, evidence, settings)
    if isinstance(proof, Outcome):
        return proof
    move_order(order, OrderEvent.CHECK_OUT, now)
    visit.checked_out_at, visit.check_out_source = now, source
    visit.check_out_method, visit.check_out_lat, visit.check_out_lng = proof.method, proof.lat, proof.lng
    visit.check_out_device = evidence.get("device")
    visit.check_out_phone = evidence.get("phone")
    if worker is not None and visit.worker_id is None:
        visit.worker_id = worker.id
    visit.worker_ref = visit.worker_ref or (worker.work_number if worker else evidence.get("worker"))
    accepted = session.scalar(
        select(Offer).where(Offer.order_id == order.id, Offer.status == "accepted")
    )
    elder = order.elder
    price_fen = duration.visit_price_fen(session, order.item, visit, accepted.price_fen, policy)
    charge = charge_for(session, elder, order.item, price_fen, policy, now)
    ledger.post_charge(
        session, visit_ref(order, visit), price_fen=charge.price_fen, subsidy_fen=charge.subsidy_fen,
        copay_fen=charge.copay_fen, policy_version=policy.version_for(local(now).date()).name, now=now,
        parts=charge.parts,
    )
    due = outside_quiet_hours(now + timedelta(seconds=settings.review_delay_s),
                              parse_quiet_hours(settings.quiet_hours))
    # A care plan's occurrence is called only once in its review window (dispatcher.plans.reviews).
    plan_reviews.review_at_check_out(session, order, visit, due, settings, now)
    session.flush()
    done_by = session.get(Worker, visit.worker_id) if visit.worker_id else None
    family.tell_family(session, order, "check_out", done_by.name if done_by else None, settings, now)
    return Outcome(True, f"已签退：工单{order.job_code}，感谢您的服务。{_note(proof)}", order)


def _prove(order: Order, evidence: dict, settings: Settings | None) -> proof.Proof | Outcome:
    """How this end of the visit is proved, or the refusal of a wrong visit code (counted, kept)."""
    if evidence.get("elder_phone"):
        return proof.Proof("elder_phone")
    code = (evidence.get("code") or "").strip()
    if code:
        if order.visit_code_failures >= proof.MAX_CODE_FAILURES:
            return Outcome(False, f"工单{order.job_code}的验证码已输错{proof.MAX_CODE_FAILURES}次，已锁定；"
                                  "请从老人家电话签到，或不带验证码签到（记为未核验）。", order, error="visit_code_locked")
        if order.visit_code is not None and code == order.visit_code:
            return proof.Proof("visit_code")
        order.visit_code_failures += 1
        left = proof.MAX_CODE_FAILURES - order.visit_code_failures
        if left <= 0:
            return Outcome(False, f"验证码不对，已连续输错{proof.MAX_CODE_FAILURES}次，已锁定并记录。", order,
                           error="visit_code_locked", keep=True)
        return Outcome(False, f"验证码不对，请向老人核对后重试（还可再试{left}次）。", order,
                       error="wrong_visit_code", keep=True)
    if evidence.get("lat") is not None or evidence.get("lng") is not None:
        distance = settings.proof_distance_m if settings is not None else proof.DEFAULT_DISTANCE_M
        return proof.location_proof(evidence.get("lat"), evidence.get("lng"), order.elder.latitude,
                                    order.elder.longitude, distance)
    return proof.Proof("none")


def _note(found: proof.Proof) -> str:
    if found.method == "none":
        return f"（{found.note or '未核验到场'}）"
    return f"（{proof.METHOD_NAMES[found.method]}核验）"


def visit_ref(order: Order, visit: Visit) -> ledger.VisitRef:
    return ledger.VisitRef(
        order_id=order.id, visit_id=visit.id, elder_id=order.elder_id, provider_id=visit.provider_id,
        elder_class=order.elder.elder_class, month=month_of(visit.checked_out_at),
    )


