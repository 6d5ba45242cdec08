"""Callback reviews (回访): attempts, unanswered calls, low ratings and the supervisor's sample."""

from __future__ import annotations

import random
import secrets
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatcher.config import Settings
from dispatcher.models import CallbackReview
from dispatcher.orders import open_task
from dispatcher.quiet_hours import outside_quiet_hours, parse_quiet_hours
from telephony.outbox import UNANSWERED_CALL

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
