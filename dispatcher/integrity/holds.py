"""Holds: a flagged visit's subsidy stays pending (not payable) until a supervisor decides.

Held: a visit already verified has its verification reversed (payable → pending) through the
ledger's reversal; one not yet verified is simply not verified. Cleared (no other open or
confirmed flag): a visit the elder confirmed is verified as usual. Confirmed as fraud: the
visit is re-booked as withheld (reversal + new entry) and the provider's score is recomputed.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from billing import ledger
from billing.charges import correct_visit, ref_for
from billing.models import LedgerPosting
from billing.policy import Policy
from dispatcher.integrity.models import CLEARED, CONFIRMED, OPEN, IntegrityFlag, is_held
from dispatcher.lifecycle.orders import lock_order
from dispatcher.models import CallbackReview, StaffUser, Visit

log = logging.getLogger("vnh.integrity")
__all__ = ["DecisionError", "clear_flag", "confirm_flag", "hold_flagged", "hold_visit", "is_held",
           "release_visit"]


class DecisionError(ValueError):
    """A supervisor's decision that does not fit the flag; the message says why (in Chinese)."""


def hold_visit(session: Session, visit: Visit, now: datetime) -> bool:
    """Take back a verification that stands (payable → pending); return whether one did."""
    lock_order(session, visit.order_id)
    verified = [t for t in ledger.live_transactions(session, visit.id) if t.kind == ledger.VERIFY]
    if not verified:
        return False
    return ledger.reverse_transaction(session, ref_for(visit), verified[-1].key, now)


def hold_flagged(session: Session, visit_ids: list[int], now: datetime) -> int:
    """Hold every visit among these that has an open flag and a verification; return how many."""
    held = 0
    for start in range(0, len(visit_ids), 500):
        chunk = visit_ids[start:start + 500]
        verified = session.scalars(
            select(LedgerPosting.visit_id).distinct().where(
                LedgerPosting.visit_id.in_(chunk), LedgerPosting.kind == ledger.VERIFY,
                LedgerPosting.visit_id.in_(select(IntegrityFlag.visit_id).where(
                    IntegrityFlag.state == OPEN)))
        ).all()
        for visit_id in verified:
            held += hold_visit(session, session.get(Visit, visit_id), now)
    return held


def release_visit(session: Session, visit: Visit, now: datetime) -> bool:
    """Verify a visit no flag holds any longer if the elder confirmed it; return whether it did."""
    if is_held(session, visit.id) or visit.checked_out_at is None:
        return False
    lock_order(session, visit.order_id)
    review = session.scalar(select(CallbackReview).where(CallbackReview.visit_id == visit.id))
    if review is None or review.did_worker_come is not True:
        return False
    if ledger.visit_outcome(session, visit.id) is not None:
        return False
    return ledger.post_verification(session, ref_for(visit), now)


def _decide(flag: IntegrityFlag, state: str, staff: StaffUser, note: str, now: datetime) -> None:
    if flag.state != OPEN:
        raise DecisionError("这个标记已经处理过了")
    if not note.strip():
        raise DecisionError("请填写处理说明")
    flag.state, flag.decided_by, flag.decided_at = state, staff.id, now
    flag.decision_note = note.strip()[:500]
    log.info("integrity flag %s (%s, visit %s) %s by staff %s", flag.id, flag.check,
             flag.visit_id, state, staff.id)


def clear_flag(session: Session, flag: IntegrityFlag, staff: StaffUser, note: str,
               now: datetime) -> bool:
    """The supervisor found nothing wrong: the visit is paid as usual once no flag holds it."""
    _decide(flag, CLEARED, staff, note, now)
    session.flush()
    return release_visit(session, session.get(Visit, flag.visit_id), now)


def confirm_flag(session: Session, flag: IntegrityFlag, staff: StaffUser, note: str, *,
                 policy: Policy, suspend_below: float, hotline_number: str,
                 now: datetime) -> None:
    """The supervisor confirmed a fraud: withhold the subsidy by reversal, dock the provider."""
    from providers.quality import recompute

    _decide(flag, CONFIRMED, staff, note, now)
    session.flush()
    visit = session.get(Visit, flag.visit_id)
    lock_order(session, visit.order_id)
    charged = any(t.kind == ledger.CHARGE for t in ledger.live_transactions(session, visit.id))
    if charged and ledger.visit_outcome(session, visit.id) != ledger.WITHHOLD:
        correct_visit(session, visit, policy=policy, now=now, did_come=False)
    recompute(session, visit.provider_id, threshold=suspend_below, hotline_number=hotline_number,
              now=now)
