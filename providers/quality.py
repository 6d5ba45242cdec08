"""Provider quality: a rolling score from what elders say, shown with its parts; suspension below a line.

The rating part is a Bayesian average: every provider starts with PRIOR_WEIGHT imaginary
ratings of PRIOR_MEAN, so three 5-star reviews do not outrank three hundred 4.8s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import JSON, ForeignKey, String, func, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from dispatcher.db import Base

PRIOR_MEAN = 4.5  # the score of a provider nobody has rated yet
PRIOR_WEIGHT = 10
WINDOW = timedelta(days=90)
LATE_PENALTY = 1.0        # all visits late → one star off
DENIAL_PENALTY = 3.0      # all visits denied ("the worker never came") and so judged → three stars off
COMPLAINT_PENALTY = 0.25  # per complaint in the window, at most four counted
NO_SHOW_PENALTY = 2.0     # every accepted job a no-show (re-dispatched after no check-in) → two stars off
FRAUD_PENALTY = 0.5       # per visit a supervisor confirmed as fraud (integrity flags), at most four counted
MIN_RATINGS_TO_SUSPEND = 5
HAPPENED, NOT_HAPPENED = "happened", "not_happened"  # a dispute's verdict (OperatorTask.verdict)


@dataclass(frozen=True)
class QualityInputs:
    ratings_sum: int = 0
    ratings: int = 0
    visits: int = 0
    late_visits: int = 0
    denials: int = 0
    complaints: int = 0
    no_shows: int = 0
    frauds: int = 0


@dataclass(frozen=True)
class QualityScore:
    score: float
    parts: dict


def quality_score(inputs: QualityInputs) -> QualityScore:
    """Score 0–5: the Bayesian rating less penalties for lateness, denials, complaints and no-shows.

    No-shows are weighed against every job the provider took on: its visits and its no-shows.
    """
    rating = (PRIOR_WEIGHT * PRIOR_MEAN + inputs.ratings_sum) / (PRIOR_WEIGHT + inputs.ratings)
    late = LATE_PENALTY * inputs.late_visits / inputs.visits if inputs.visits else 0.0
    denied = DENIAL_PENALTY * inputs.denials / inputs.visits if inputs.visits else 0.0
    complained = COMPLAINT_PENALTY * min(inputs.complaints, 4)
    taken_on = inputs.visits + inputs.no_shows
    no_show = NO_SHOW_PENALTY * inputs.no_shows / taken_on if taken_on else 0.0
    fraud = FRAUD_PENALTY * min(inputs.frauds, 4)
    score = max(0.0, min(5.0, rating - late - denied - complained - no_show - fraud))
    parts = {"rating": round(rating, 3), "ratings": inputs.ratings, "late": round(-late, 3),
             "denials": round(-denied, 3), "complaints": round(-complained, 3),
             "no_shows": round(-no_show, 3), "visits": inputs.visits, "no_show_count": inputs.no_shows}
    if inputs.frauds:
        parts["frauds"], parts["fraud_count"] = round(-fraud, 3), inputs.frauds
    return QualityScore(round(score, 3), parts)


class ProviderSuspension(Base):
    """Why and when a provider was taken out of matching, and who put it back."""

    __tablename__ = "provider_suspensions"

    id: Mapped[int] = mapped_column(primary_key=True)
    provider_id: Mapped[int] = mapped_column(ForeignKey("providers.id"), index=True)
    reason: Mapped[str] = mapped_column(String(300))
    parts: Mapped[dict] = mapped_column(JSON)
    suspended_at: Mapped[datetime]
    reinstated_at: Mapped[datetime | None]
    reinstated_by: Mapped[int | None] = mapped_column(ForeignKey("staff_users.id"))


def inputs_for(session: Session, provider_id: int, now: datetime) -> QualityInputs:
    """Count the last 90 days of one provider's visits, reviews, complaints and no-shows."""
    from dispatcher.integrity.models import CONFIRMED, IntegrityFlag
    from dispatcher.models import CallbackReview, OperatorTask, Order, Visit
    from dispatcher.programmes.supervision import Complaint
    from providers.models import Offer

    since = now - WINDOW
    visits = select(Visit.id).where(Visit.provider_id == provider_id, Visit.checked_out_at >= since)
    # A denial counts only once a supervisor has judged its dispute against the provider (issue 19):
    # an elder's "the worker never came" alone, or one found untrue, docks nothing.
    upheld = select(OperatorTask.order_id).where(OperatorTask.kind == "dispute",
                                                 OperatorTask.verdict == NOT_HAPPENED)
    ratings_sum, ratings, denials = session.execute(
        select(func.coalesce(func.sum(CallbackReview.rating), 0), func.count(CallbackReview.rating),
               func.count().filter(CallbackReview.did_worker_come.is_(False),
                                   CallbackReview.order_id.in_(upheld)))
        .where(CallbackReview.visit_id.in_(visits))
    ).one()
    n_visits, late = session.execute(
        select(func.count(), func.count().filter(Visit.checked_in_at > Order.window_end_at))
        .select_from(Visit).join(Order, Order.id == Visit.order_id)
        .where(Visit.provider_id == provider_id, Visit.checked_out_at >= since)
    ).one()
    complaints = session.scalar(select(func.count()).select_from(Complaint).where(
        Complaint.provider_id == provider_id, Complaint.created_at >= since))
    no_shows = session.scalar(select(func.count()).select_from(Offer).where(
        Offer.provider_id == provider_id, Offer.status == "no_show", Offer.offered_at >= since))
    frauds = session.scalar(select(func.count(func.distinct(IntegrityFlag.visit_id))).where(
        IntegrityFlag.provider_id == provider_id, IntegrityFlag.state == CONFIRMED,
        IntegrityFlag.decided_at >= since))
    return QualityInputs(int(ratings_sum), ratings, n_visits, late, denials, complaints, no_shows,
                         frauds)


def recompute(session: Session, provider_id: int, *, threshold: float, hotline_number: str,
              now: datetime) -> QualityScore:
    """Refresh a provider's score; below `threshold` (with enough ratings) suspend it and tell it."""
    from providers.models import Provider
    from telephony.outbox import enqueue_sms

    provider = session.get(Provider, provider_id, with_for_update=True)
    result = quality_score(inputs_for(session, provider_id, now))
    provider.quality_score, provider.quality_parts = result.score, result.parts
    if (result.score < threshold and provider.contract_status == "active"
            and result.parts["ratings"] >= MIN_RATINGS_TO_SUSPEND):
        provider.contract_status = "suspended"
        reason = f"服务质量评分{result.score:.2f}低于{threshold:.2f}"
        suspension = ProviderSuspension(provider_id=provider_id, reason=reason, parts=result.parts,
                                        suspended_at=now)
        session.add(suspension)
        session.flush()
        enqueue_sms(session, to=provider.dispatch_phone, purpose="provider_suspended",
                    dedupe_key=f"suspended:{suspension.id}", from_=hotline_number, now=now,
                    params={"provider_name": provider.name, "score": f"{result.score:.2f}",
                            "threshold": f"{threshold:.2f}"})
    return result


def reinstate(session: Session, provider_id: int, staff_id: int, now: datetime) -> bool:
    """Put a suspended provider back into matching; return False if it was not suspended."""
    from providers.models import Provider

    provider = session.get(Provider, provider_id, with_for_update=True)
    if provider is None or provider.contract_status != "suspended":
        return False
    provider.contract_status = "active"
    open_suspension = session.scalar(
        select(ProviderSuspension).where(ProviderSuspension.provider_id == provider_id,
                                         ProviderSuspension.reinstated_at.is_(None))
        .order_by(ProviderSuspension.id.desc()))
    if open_suspension is not None:
        open_suspension.reinstated_at, open_suspension.reinstated_by = now, staff_id
    return True
