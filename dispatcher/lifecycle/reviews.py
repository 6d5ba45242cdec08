"""Callback reviews (回访): the call, the answers, attempts, unanswered calls, low ratings and the sample."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from dispatcher.config import Settings
from dispatcher.integrity.checks import before_payable
from dispatcher.lifecycle.attendance import visit_ref
from dispatcher.lifecycle.family import review_contact
from dispatcher.lifecycle.orders import lock_order, move_order
from dispatcher.lifecycle.quiet_hours import outside_quiet_hours, parse_quiet_hours
from dispatcher.lifecycle.states import OrderEvent
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import CallbackReview
from dispatcher.plans import reviews as plan_reviews
from telephony.outbox import UNANSWERED_CALL, enqueue_call

MAX_ATTEMPTS = 3
# Wait this long before the second and the third attempt.
RETRY_AFTER = (timedelta(minutes=30), timedelta(hours=3))
# A review call that no status callback and no answer has closed after this long is unanswered.
SILENT_CALL_AFTER = timedelta(minutes=15)


def review_call_ended(session: Session, review_id: int, status: str, settings: Settings,
                      now: datetime) -> None:
    """A review call ended: busy, no answer and voicemail are tried again, up to three times."""
    review = session.get(CallbackReview, review_id, with_for_update=True, populate_existing=True)
    if review is None or review.state != "calling":
        return
    review.last_call_status = status
    if status in UNANSWERED_CALL:
        _try_again_or_give_up(session, review, settings, now)


def expire_silent_review_calls(session: Session, settings: Settings, now: datetime) -> int:
    """Treat review calls nobody answered and nobody reported on as unanswered; return how many."""
    silent = session.scalars(
        select(CallbackReview).where(CallbackReview.state == "calling",
                                     CallbackReview.called_at <= now - SILENT_CALL_AFTER)
        .with_for_update(skip_locked=True)
    ).all()
    for review in silent:
        review.last_call_status = review.last_call_status or "no-answer"
        _try_again_or_give_up(session, review, settings, now)
    return len(silent)


def _try_again_or_give_up(session: Session, review: CallbackReview, settings: Settings,
                          now: datetime) -> None:
    if review.attempts < MAX_ATTEMPTS:
        review.state = "scheduled"
        review.due_at = outside_quiet_hours(now + RETRY_AFTER[review.attempts - 1],
                                            parse_quiet_hours(settings.quiet_hours))
        return
    review.state = "unreachable"
    open_task(session, kind="review_unreachable", reason=f"回访{MAX_ATTEMPTS}次未接通，请人工回访",
              dedupe_key=f"review-unreachable:{review.id}", order_id=review.order_id,
              elder_id=review.order.elder_id, now=now)


def after_rating(session: Session, review: CallbackReview, now: datetime) -> None:
    """A rating of 2 or less is a case for a supervisor."""
    if review.rating is not None and review.rating <= 2:
        open_task(session, kind="low_rating", reason=f"回访评分{review.rating}分，请监督员跟进",
                  dedupe_key=f"low-rating:{review.id}", order_id=review.order_id,
                  elder_id=review.order.elder_id, now=now)


def sample_for_supervisor(session: Session, review: CallbackReview, share: float,
                          now: datetime) -> bool:
    """Choose a confirmed visit for a supervisor's own check, at random with a recorded seed.

    The seed is stored, so anyone can replay `random.Random(seed).random() < share` and see the
    choice was not made by hand.
    """
    if review.sample_seed is None:
        review.sample_seed = secrets.randbits(31)
        review.is_sampled = random.Random(review.sample_seed).random() < share
        if review.is_sampled:
            open_task(session, kind="review_sample", reason="抽查：已确认的上门服务，请监督员复核",
                      dedupe_key=f"review-sample:{review.id}", order_id=review.order_id,
                      elder_id=review.order.elder_id, now=now)
    return review.is_sampled


def refresh_provider_quality(session: Session, review: CallbackReview, settings: Settings,
                             now: datetime) -> None:
    """What the elder said moves the provider's score (and may suspend it)."""
    from providers.quality import recompute

    recompute(session, review.visit.provider_id, threshold=settings.suspend_below,
              hotline_number=settings.hotline_number, now=now)
def start_due_reviews(session: Session, settings: Settings, now: datetime, limit: int = 50) -> int:
    """Place the callback-review calls that are due; return how many."""
    due = session.scalars(
        select(CallbackReview).where(CallbackReview.state == "scheduled", CallbackReview.due_at <= now)
        .order_by(CallbackReview.due_at).limit(limit).with_for_update(skip_locked=True)
    ).all()
    for review in due:
        elder = review.order.elder
        # An elder flagged "review via family" is not asked: their family contact is (issue 18).
        contact = review_contact(elder)
        phone = contact.phone if contact is not None else (
            next((p.phone for p in elder.phones if p.is_primary), None) or elder.phones[0].phone)
        review.attempts += 1
        review.state, review.called_at = "calling", now
        enqueue_call(session, to=phone, url=settings.url(f"/telephony/review/{review.id}"),
                     purpose="review", dedupe_key=f"review:{review.id}:{review.attempts}",
                     from_=settings.hotline_number, now=now, review_id=review.id)
    return len(due)


def record_review_answer(session: Session, review: CallbackReview, did_come: bool,
                         now: datetime, sample_share: float = 0.1, plan_review_every_days: int = 7) -> None:
    """Apply the elder's answer: a confirmed visit's subsidy becomes payable, a denied one withheld."""
    order = lock_order(session, review.order_id)
    session.refresh(review)
    if review.did_worker_come is not None:
        return
    review.did_worker_come, review.answered_at = did_come, now
    review.state = "verified" if did_come else "denied"
    ref = visit_ref(order, review.visit)
    if did_come:
        move_order(order, OrderEvent.VERIFY, now)
        # An integrity flag holds the subsidy pending until a supervisor clears the visit.
        if not before_payable(session, review.visit, now):
            ledger.post_verification(session, ref, now)
        sample_for_supervisor(session, review, sample_share, now)
    else:
        move_order(order, OrderEvent.DENY, now)
        ledger.post_withholding(session, ref, now)
        plan_reviews.hold_window(session, order, plan_review_every_days, now)
        open_task(session, kind="dispute", reason="回访中老人表示服务人员未上门",
                  dedupe_key=f"dispute:{order.id}", order_id=order.id, elder_id=order.elder_id, now=now)


def record_review_rating(session: Session, review: CallbackReview, rating: int,
                         now: datetime) -> None:
    """Keep the first rating given; a low one goes to a supervisor."""
    if review.rating is None:
        review.rating = rating
        after_rating(session, review, now)


