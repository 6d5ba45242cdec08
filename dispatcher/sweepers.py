"""The tick: sweepers that claim due rows and handle each once. APScheduler only wakes them."""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from dispatcher import orders, reviews, visits, wellbeing
from dispatcher.config import Settings
from dispatcher.db import is_sqlite, session_scope
from dispatcher.quiet_hours import outside_quiet_hours, parse_quiet_hours
from telephony import outbox

log = logging.getLogger("vnh.scheduler")
# Automated calls to elders, which never ring in the quiet hours.
ELDER_CALLS = frozenset({"review", "wellbeing", "visit_notice", "visit_reminder"})
ADVISORY_LOCK_KEY = 0x766E68  # "vnh"


def run_due_work(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Run every sweeper once; each claimed row is committed on its own."""
    now = now or app.extensions["vnh.clock"].now()
    settings = Settings(app.config)
    counts = {}
    with session_scope(app) as session:
        counts["offers_expired"] = orders.expire_due_offers(session, settings, now)
    with session_scope(app) as session:
        counts["review_calls_unanswered"] = reviews.expire_silent_review_calls(session, settings, now)
    with session_scope(app) as session:
        counts["reviews_started"] = orders.start_due_reviews(session, settings, now)
    with session_scope(app) as session:
        counts["wellbeing_unanswered"] = wellbeing.expire_silent_calls(session, settings, now)
    with session_scope(app) as session:
        counts["wellbeing_calls"] = wellbeing.start_due_calls(session, settings, now)
    with session_scope(app) as session:
        counts["visit_deadlines"] = visits.sweep_due_deadlines(session, settings, now)
    counts["messages_sent"] = deliver_outbox(app, now)
    return counts


def deliver_outbox(app: Flask, now: datetime, limit: int = 200) -> int:
    """Send due outbox messages one transaction each, so a crash repeats at most one send."""
    telephony = app.extensions["vnh.telephony"]
    settings = Settings(app.config)

    def status_callback(kind: str) -> str | None:
        if app.config["TELEPHONY"] != "twilio":
            return None
        return settings.url(f"/telephony/status/{kind}")

    pacer = app.extensions["vnh.pacer"]
    quiet = parse_quiet_hours(settings.quiet_hours)
    sent = 0
    for _ in range(limit):
        with session_scope(app) as session:
            message = outbox.claim_next(session, now)
            if message is None:
                break
            if message.kind == "call" and message.purpose in ELDER_CALLS:
                later = outside_quiet_hours(now, quiet)
                if later != now:
                    # Late (an outage, a backlog) into the night: wait for the morning.
                    message.next_attempt_at = later
                    continue
            pacer.wait(message.kind)
            outbox.deliver(message, telephony, now, status_callback,
                           lambda failed, session=session: _failed_task(session, failed, now))
            sent += message.status == "sent"
    return sent


def _failed_task(session, message, now: datetime) -> None:
    orders.open_task(session, kind="failed_message", reason=f"发送失败：{message.last_error}",
                     dedupe_key=f"outbox:{message.id}", caller=message.to_number, now=now)


class SchedulerLease:
    """Only one process ticks: on PostgreSQL the holder of an advisory lock on its own connection.

    The connection is outside the pool, so closing it (or the process dying) frees the lock and
    another process takes over at its next tick.
    """

    def __init__(self, app: Flask):
        self.url = app.extensions["vnh.engine"].url
        self.engine = None
        self.connection = None

    def acquire(self) -> bool:
        if is_sqlite(self.url):
            return True
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                return True
            except Exception:
                self.release()
        if self.engine is None:
            self.engine = create_engine(self.url, poolclass=NullPool)
        connection = self.engine.connect()
        if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}):
            connection.commit()
            self.connection = connection
            return True
        connection.close()
        return False

    def release(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def start_scheduler(app: Flask):
    """Tick every VNH_TICK_S; a missed tick runs once late rather than never or many times."""
    from apscheduler.schedulers.background import BackgroundScheduler

    lease = SchedulerLease(app)

    def tick() -> None:
        try:
            if lease.acquire():
                run_due_work(app)
        except Exception:
            lease.release()
            log.exception("tick failed; the rows are still due and the next tick retries them")

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(tick, "interval", seconds=app.config["TICK_S"], id="tick",
                      coalesce=True, max_instances=1, misfire_grace_time=None)
    scheduler.start()
    return scheduler
