"""Wellbeing calls (关爱呼叫) for elders who live alone: a daily call, and an alarm when unanswered."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from sqlalchemy import ForeignKey, String, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from dispatcher import texts
from dispatcher.clock import LOCAL_TZ, local
from dispatcher.config import Settings
from dispatcher.consoles.scope import Area, scope_filter
from dispatcher.db import Base
from dispatcher.lifecycle.tasks import open_task
from dispatcher.models import Elder, StaffUser
from telephony.outbox import UNANSWERED_CALL, enqueue_call, enqueue_notice

SILENT_CALL_AFTER = timedelta(minutes=15)


class WellbeingSchedule(Base):
    """When to call an elder every day; `next_due_at` is the sweeper's deadline."""

    __tablename__ = "wellbeing_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), unique=True)
    local_time: Mapped[time]
    is_active: Mapped[bool] = mapped_column(default=True)
    next_due_at: Mapped[datetime] = mapped_column(index=True)

    elder: Mapped[Elder] = relationship()


class WellbeingCall(Base):
    """One day's call to one elder; at most two attempts, then the alarm."""

    __tablename__ = "wellbeing_calls"
    __table_args__ = (UniqueConstraint("elder_id", "day"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    elder_id: Mapped[int] = mapped_column(ForeignKey("elders.id"), index=True)
    day: Mapped[str] = mapped_column(String(10))
    state: Mapped[str] = mapped_column(String(20), default="calling")
    attempts: Mapped[int] = mapped_column(default=0)
    called_at: Mapped[datetime | None]
    due_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]

    elder: Mapped[Elder] = relationship()


def next_occurrence(at: time, after: datetime) -> datetime:
    """The next moment strictly after `after` when the local clock reads `at`."""
    day = local(after).date()
    moment = datetime.combine(day, at, LOCAL_TZ)
    if moment <= after:
        moment = datetime.combine(day + timedelta(days=1), at, LOCAL_TZ)
    return moment.astimezone(after.tzinfo)


def schedule_call(session: Session, elder: Elder, at: time, now: datetime) -> WellbeingSchedule:
    """Call `elder` every day at local time `at` (changing the time of an existing schedule)."""
    schedule = session.scalar(select(WellbeingSchedule).where(WellbeingSchedule.elder_id == elder.id))
    if schedule is None:
        schedule = WellbeingSchedule(elder_id=elder.id, local_time=at, next_due_at=next_occurrence(at, now))
        session.add(schedule)
    schedule.local_time, schedule.is_active = at, True
    schedule.next_due_at = next_occurrence(at, now)
    session.flush()
    return schedule


def living_alone(session: Session, who: StaffUser | Area | None = None,
                 within: Area | None = None) -> list[Elder]:
    """Every enrolled elder who lives alone, of `who`'s area and inside `within` if given."""
    return list(session.scalars(select(Elder).where(Elder.is_living_alone, scope_filter(who, Elder.id),
                                                    scope_filter(within, Elder.id))
                                .order_by(Elder.street, Elder.community, Elder.id)))


def schedules(session: Session, who: StaffUser | Area | None = None) -> list[WellbeingSchedule]:
    """The daily-call schedules of `who`'s area, active first, by street and community."""
    return list(session.scalars(
        select(WellbeingSchedule).join(Elder, Elder.id == WellbeingSchedule.elder_id)
        .where(scope_filter(who, Elder.id))
        .order_by(WellbeingSchedule.is_active.desc(), Elder.street, Elder.community, Elder.id)))


def call_today(session: Session, elder: Elder, now: datetime) -> bool:
    """Place one wellbeing call to `elder` now (the sweeper dials it; unanswered twice → the alarm);
    False when the elder already has today's call, so asking twice calls once."""
    day = f"{local(now):%Y-%m-%d}"
    if session.scalar(select(WellbeingCall.id).where(WellbeingCall.elder_id == elder.id,
                                                     WellbeingCall.day == day)) is not None:
        return False
    try:
        with session.begin_nested():  # a second click racing this one finds the row and stops
            session.add(WellbeingCall(elder_id=elder.id, day=day, state="scheduled", due_at=now))
    except IntegrityError:
        return False
    return True


def start_due_calls(session: Session, settings: Settings, now: datetime) -> int:
    """Start today's call for every schedule that is due, and every retry that is due."""
    started = 0
    for schedule in session.scalars(
        select(WellbeingSchedule).where(WellbeingSchedule.is_active, WellbeingSchedule.next_due_at <= now)
        .with_for_update(skip_locked=True)
    ).all():
        day = f"{local(schedule.next_due_at):%Y-%m-%d}"
        schedule.next_due_at = next_occurrence(schedule.local_time, now)
        if session.scalar(select(WellbeingCall.id).where(WellbeingCall.elder_id == schedule.elder_id,
                                                          WellbeingCall.day == day)) is None:
            call = WellbeingCall(elder_id=schedule.elder_id, day=day, state="scheduled", due_at=now)
            session.add(call)
            session.flush()
    for call in session.scalars(
        select(WellbeingCall).where(WellbeingCall.state == "scheduled", WellbeingCall.due_at <= now)
        .with_for_update(skip_locked=True)
    ).all():
        _place(session, call, settings, now)
        started += 1
    return started


def _place(session: Session, call: WellbeingCall, settings: Settings, now: datetime) -> None:
    elder = call.elder
    phone = next((p.phone for p in elder.phones if p.is_primary), elder.phones[0].phone)
    call.attempts += 1
    call.state, call.called_at = "calling", now
    enqueue_call(session, to=phone, url=settings.url(f"/telephony/wellbeing/{call.id}"),
                 purpose="wellbeing", dedupe_key=f"wellbeing:{call.id}:{call.attempts}",
                 from_=settings.hotline_number, now=now)


def call_unanswered(session: Session, call: WellbeingCall, settings: Settings, now: datetime) -> None:
    """Try once more later (VNH_WELLBEING_RETRY_S); a second miss texts the contacts and alerts."""
    if call.state != "calling":
        return
    if call.attempts < 2:
        call.state, call.due_at = "scheduled", now + timedelta(seconds=settings.wellbeing_retry_s)
        return
    call.state = "alarm"
    elder = call.elder
    for contact in elder.emergency_contacts:
        enqueue_notice(session, to=contact.phone, purpose="wellbeing_alarm",
                       dedupe_key=f"wellbeing-alarm:{call.id}:{contact.id}", from_=settings.hotline_number,
                       now=now, params={"contact_name": contact.name, "elder_name": elder.name},
                       public_url=settings.public_url)
    open_task(session, kind="wellbeing_alarm", reason="关爱电话两次无人接听", priority=1,
              dedupe_key=f"wellbeing-alarm:{call.id}", elder_id=elder.id, now=now)


def wellbeing_call_ended(session: Session, dedupe_key: str, status: str, settings: Settings,
                         now: datetime) -> None:
    """A wellbeing call ended (Twilio's status callback): not reached counts as unanswered."""
    call = session.get(WellbeingCall, call_id_of(dedupe_key), with_for_update=True)
    if call is not None and status in UNANSWERED_CALL:
        call_unanswered(session, call, settings, now)


def expire_silent_calls(session: Session, settings: Settings, now: datetime) -> int:
    silent = session.scalars(
        select(WellbeingCall).where(WellbeingCall.state == "calling",
                                    WellbeingCall.called_at <= now - SILENT_CALL_AFTER)
        .with_for_update(skip_locked=True)
    ).all()
    for call in silent:
        call_unanswered(session, call, settings, now)
    return len(silent)


def record_wellbeing_answer(session: Session, call: WellbeingCall, key: str, settings: Settings,
                            now: datetime) -> str:
    """1: well. 9: the emergency path. Return what to say before hanging up or transferring."""
    if key == "9":
        call.state, call.answered_at = "help", call.answered_at or now
        open_task(session, kind="emergency", reason="关爱电话中老人按9求助", priority=0,
                  dedupe_key=f"wellbeing-help:{call.id}", elder_id=call.elder_id, now=now)
        for contact in call.elder.emergency_contacts:
            enqueue_notice(session, to=contact.phone, purpose="emergency_contact",
                           dedupe_key=f"wellbeing-help:{call.id}:{contact.id}",
                           from_=settings.hotline_number, now=now,
                           params=texts.emergency_params(contact.name, call.elder.name, now),
                           public_url=settings.public_url)
        return "正在为您紧急转接话务员。"
    if call.state in ("calling", "scheduled"):
        call.state, call.answered_at = "well", now
    return "好的，祝您身体健康，再见。"


def call_id_of(dedupe_key: str) -> int | None:
    """The wellbeing call an outbox call belongs to (its key is `wellbeing:<id>:<attempt>`)."""
    parts = dedupe_key.split(":")
    return int(parts[1]) if len(parts) == 3 and parts[0] == "wellbeing" and parts[1].isdigit() else None
