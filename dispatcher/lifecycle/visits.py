"""Visits: telling the elder who is coming and when, the day-before reminder, the late check-in alarm.

Every deadline is a `VisitDeadline` row with its due time, so a restart loses nothing; the
sweeper claims due rows, handles each once and marks it, so running it twice does nothing more.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import ForeignKey, Index, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from dispatcher import texts
from dispatcher.clock import LOCAL_TZ, local
from dispatcher.config import Settings
from dispatcher.db import Base
from dispatcher.lifecycle.proof import new_visit_code
from dispatcher.lifecycle.quiet_hours import inside, outside_quiet_hours, parse_quiet_hours
from dispatcher.lifecycle.states import OrderState
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import Elder, Order
from telephony import templates
from telephony.numbers import is_mobile
from telephony.outbox import enqueue_call, enqueue_sms

# No check-in this long after the visit window opens (or after a late acceptance) → an alarm.
LATE_CHECK_IN = timedelta(minutes=30)
# The day-before reminder goes out at this local time (or later, once the quiet hours end).
REMINDER_AT = time(18, 0)


class VisitDeadline(Base):
    """A moment something must happen for an order's visit: `reminder` or `check_in`."""

    __tablename__ = "visit_deadlines"
    __table_args__ = (Index("ix_visit_deadlines_due", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    provider_id: Mapped[int | None] = mapped_column(ForeignKey("providers.id"))
    state: Mapped[str] = mapped_column(String(20), default="scheduled")
    due_at: Mapped[datetime]
    handled_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(100))

    order: Mapped[Order] = relationship()


# -- what the elder is told (pure) ----------------------------------------------------------------

# The SMS template of each thing the elder is told; a call to a landline says the same words.
TEMPLATE_OF = {"notice": "elder_confirmation", "reminder": "elder_reminder"}
# Where the item happens changes the words (issue 17): the elder goes to a venue; a meal is brought.
PLACE_SUFFIX = {"venue": "_venue", "delivered": "_delivered"}


def template_of(kind: str, order: Order) -> str:
    return TEMPLATE_OF[kind] + PLACE_SUFFIX.get(order.item.place, "")


def visit_params(order: Order, provider_name: str, now: datetime) -> dict:
    """The parameters of the elder's notice or reminder about `order`."""
    elder = order.elder
    return {"title": texts.honorific(elder.surname, elder.gender, texts.age_on(elder.birth_date, local(now).date())),
            "provider_name": provider_name, "when": texts.visit_time(order.window_start_at),
            "item_name": order.item.name, "job_code": order.job_code,
            **({"venue": order.item.venue or "服务场所"} if order.item.place == "venue" else {})}


def visit_words(kind: str, order: Order, provider_name: str, now: datetime) -> str:
    """What the call to an elder's landline says: the SMS's words, and the visit code to read out."""
    words = templates.spoken(template_of(kind, order), visit_params(order, provider_name, now))
    if order.visit_code:
        words += f"服务人员到达后，请把验证码{'，'.join(order.visit_code)}告诉他。"
    return words


def check_in_due_at(window_start_at: datetime, accepted_at: datetime) -> datetime:
    """When a missing check-in becomes an alarm: 30 minutes after the later of start and acceptance."""
    return max(window_start_at, accepted_at) + LATE_CHECK_IN


def reminder_due_at(window_start_at: datetime, accepted_at: datetime,
                    quiet: tuple[time, time] | None) -> datetime | None:
    """When to remind the elder the day before, or None when the visit is not on a later day.

    18:00 local the day before, not before the acceptance and never in the quiet hours; no
    reminder if that would fall at or after the visit's start.
    """
    visit_day = local(window_start_at).date()
    if visit_day <= local(accepted_at).date():
        return None
    due = datetime.combine(visit_day - timedelta(days=1), REMINDER_AT, LOCAL_TZ).astimezone(accepted_at.tzinfo)
    due = outside_quiet_hours(max(due, accepted_at), quiet)
    return due if due < window_start_at else None


def elder_mobile(elder: Elder) -> str | None:
    """The elder's primary number if it takes SMS; None for a landline (the elder is called)."""
    primary = next((p.phone for p in elder.phones if p.is_primary), None)
    return primary if primary and is_mobile(primary) else None


def elder_primary(elder: Elder) -> str | None:
    return next((p.phone for p in elder.phones if p.is_primary), None) or (
        elder.phones[0].phone if elder.phones else None)


# -- services ---------------------------------------------------------------------------------------

def tell_elder(session: Session, order: Order, provider_name: str, *, kind: str, dedupe_key: str,
               settings: Settings, now: datetime) -> None:
    """Tell the elder who is coming and when: by SMS to a mobile, else by a short call.

    `kind` is `notice` (just accepted) or `reminder` (the day before). The call's TwiML is
    served by `dispatcher.hotline.visit_call` and says the same words.
    """
    elder = order.elder
    if order.visit_code is None:
        order.visit_code = new_visit_code()
    mobile = elder_mobile(elder)
    if mobile:
        enqueue_sms(session, to=mobile, purpose=template_of(kind, order), dedupe_key=dedupe_key,
                    from_=settings.hotline_number, now=now, params=visit_params(order, provider_name, now))
        if kind == "notice":
            params = visit_params(order, provider_name, now)
            enqueue_sms(session, to=mobile, purpose="visit_code", dedupe_key=f"{dedupe_key}:code",
                        from_=settings.hotline_number, now=now,
                        params={"title": params["title"], "visit_code": order.visit_code, "job_code": order.job_code})
        return
    landline = elder_primary(elder)
    if landline:
        enqueue_call(session, to=landline, url=settings.url(f"/telephony/visit/{order.id}/{kind}"),
                     purpose=f"visit_{kind}", dedupe_key=dedupe_key, from_=settings.hotline_number, now=now)


def schedule_deadlines(session: Session, order: Order, offer_id: int, provider_id: int,
                       settings: Settings, now: datetime) -> None:
    """On acceptance: the check-in alarm for this provider, and the elder's day-before reminder."""
    _add(session, key=f"check_in:{order.id}:{offer_id}", kind="check_in", order_id=order.id,
         provider_id=provider_id, due_at=check_in_due_at(order.window_start_at, now))
    due = reminder_due_at(order.window_start_at, now, parse_quiet_hours(settings.quiet_hours))
    if due is not None:
        _add(session, key=f"reminder:{order.id}:{offer_id}", kind="reminder", order_id=order.id,
             provider_id=provider_id, due_at=due)


def reschedule_deadlines(session: Session, order: Order, offer_id: int, provider_id: int,
                         accepted_at: datetime, settings: Settings, now: datetime) -> None:
    """A moved visit (issue 17): its check-in alarm and the day-before reminder follow the new time."""
    rows = session.scalars(select(VisitDeadline).where(VisitDeadline.order_id == order.id,
                                                       VisitDeadline.state == "scheduled")).all()
    reminder = reminder_due_at(order.window_start_at, now, parse_quiet_hours(settings.quiet_hours))
    for row in rows:
        if row.kind == "check_in":
            row.due_at = check_in_due_at(order.window_start_at, accepted_at)
        elif reminder is None:
            _finish(row, "skipped", "visit moved", now)
        else:
            row.due_at = reminder
    if reminder is not None and not any(row.kind == "reminder" for row in rows):
        _add(session, key=f"reminder:{order.id}:{offer_id}:{order.slot_code}", kind="reminder",
             order_id=order.id, provider_id=provider_id, due_at=reminder)


def _add(session: Session, *, key: str, **fields) -> None:
    if session.scalar(select(VisitDeadline.id).where(VisitDeadline.key == key)) is None:
        session.add(VisitDeadline(key=key, state="scheduled", **fields))
        session.flush()


def sweep_due_deadlines(session: Session, settings: Settings, now: datetime, limit: int = 100) -> int:
    """Handle the due reminders and check-in alarms; return how many were handled.

    A row is claimed with `FOR UPDATE SKIP LOCKED` and marked done or skipped, so a second
    scheduler or a second run does nothing more. A reminder due in the quiet hours waits.
    """
    due = session.scalars(
        select(VisitDeadline).where(VisitDeadline.state == "scheduled", VisitDeadline.due_at <= now)
        .order_by(VisitDeadline.due_at, VisitDeadline.id).limit(limit).with_for_update(skip_locked=True)
    ).all()
    quiet = parse_quiet_hours(settings.quiet_hours)
    handled = 0
    for row in due:
        order = session.get(Order, row.order_id, with_for_update=True, populate_existing=True)
        still_theirs = order.state == OrderState.ACCEPTED and order.provider_id == row.provider_id
        if row.kind == "reminder":
            if not still_theirs:
                _finish(row, "skipped", "no longer theirs", now)
                continue
            if inside(now, quiet):
                row.due_at = outside_quiet_hours(now, quiet)
                continue
            from providers.models import Provider

            provider = session.get(Provider, order.provider_id)
            tell_elder(session, order, provider.name, kind="reminder", dedupe_key=row.key,
                       settings=settings, now=now)
            _finish(row, "done", "reminded", now)
        elif row.kind == "check_in":
            if not still_theirs or order.visit is not None:
                _finish(row, "skipped", "checked in or no longer theirs", now)
                continue
            open_task(session, kind="late_check_in", priority=2, order_id=order.id, elder_id=order.elder_id,
                      dedupe_key=f"late_check_in:{order.id}:{row.provider_id}", now=now,
                      reason=f"工单{order.job_code}服务人员超过{LATE_CHECK_IN.seconds // 60}分钟未签到，可改派")
            _finish(row, "done", "operator alerted", now)
        handled += 1
    return handled


def _finish(row: VisitDeadline, state: str, outcome: str, now: datetime) -> None:
    row.state, row.outcome, row.handled_at = state, outcome, now
