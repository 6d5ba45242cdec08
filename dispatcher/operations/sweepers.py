"""The tick: sweepers that claim due rows and handle each once. APScheduler only wakes them."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import socket
import time
from datetime import datetime

from flask import Flask
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from dispatcher.assessments import reminders
from dispatcher.config import Settings
from dispatcher.db import is_sqlite, session_scope
from dispatcher.integrity import sweeper as integrity
from dispatcher.lifecycle import orders, reviews, tasks, visits
from dispatcher.lifecycle.quiet_hours import outside_quiet_hours, parse_quiet_hours
from dispatcher.operations.faults import crash_point
from dispatcher.plans import generation as plans
from dispatcher.programmes import month_end, wellbeing
from telephony import outbox
from telephony.models import OutboxMessage
from telephony.ports import DeliveryError

log = logging.getLogger("vnh.scheduler")
# Automated calls to elders, which never ring in the quiet hours.
ELDER_CALLS = frozenset({"review", "wellbeing", "visit_notice", "visit_reminder"})
ADVISORY_LOCK_KEY = 0x766E68  # "vnh"
LEASE_NAME = "vnh scheduler"
SCHEDULER_NICENESS = 10


def run_due_work(app: Flask, now: datetime | None = None) -> dict[str, int]:
    """Run every sweeper once; each claimed row is committed on its own."""
    now = now or app.extensions["vnh.clock"].now()
    settings = Settings(app.config)
    counts = {}
    counts["offers_expired"] = expire_offers(app, settings, now)
    with session_scope(app) as session:
        counts["review_calls_unanswered"] = reviews.expire_silent_review_calls(session, settings, now)
    with session_scope(app) as session:
        counts["reviews_started"] = reviews.start_due_reviews(session, settings, now)
    with session_scope(app) as session:
        counts["wellbeing_unanswered"] = wellbeing.expire_silent_calls(session, settings, now)
    with session_scope(app) as session:
        counts["wellbeing_calls"] = wellbeing.start_due_calls(session, settings, now)
    with session_scope(app) as session:
        counts["plan_occurrences"] = plans.sweep(session, settings, now)
    with session_scope(app) as session:
        counts["visit_deadlines"] = visits.sweep_due_deadlines(session, settings, now)
    with session_scope(app) as session:
        counts["month_end_reminders"] = month_end.sweep_due_reminders(session, now)
    with session_scope(app) as session:
        counts["reassessment_reminders"] = reminders.sweep_reassessment_reminders(session, now)
        counts["integrity_flags"] = integrity.sweep_due_runs(session, app.extensions["vnh.policy"], now)
    counts["messages_sent"] = deliver_outbox(app, now)
    return counts


def expire_offers(app: Flask, settings: Settings, now: datetime, budget_s: float | None = None) -> int:
    """Expire overdue offers and offer their orders on, each in a transaction of its own (a short
    lock on one order, never a write held across a cold snap's thousands), for up to `budget_s`
    (VNH_BACKLOG_SHARE of a tick, by default): a cold snap's backlog drains over the next ticks,
    and the other sweepers and the hotline's webhooks get the machine meanwhile."""
    budget_s = app.config["TICK_S"] * app.config["BACKLOG_SHARE"] if budget_s is None else budget_s
    until, expired = time.monotonic() + budget_s, 0
    while True:
        with session_scope(app) as session:
            due = orders.due_offers(session, now)
        for offer in due:
            with session_scope(app) as session:
                expired += orders.expire_offer(session, settings, offer, now)
            if time.monotonic() >= until:
                return expired
        if len(due) < orders.DUE_BATCH:
            return expired


def deliver_outbox(app: Flask, now: datetime, limit: int = 200) -> int:
    """Send due outbox messages exactly once, even across a crash during the send.

    Each message is claimed ("sending", committed) before the phone network is asked, and its
    outcome is recorded in a second transaction. A claim left behind by a crash is settled first:
    the network is asked whether it carried the message, and its SID is adopted if so.
    Only the ticking process delivers, one message at a time, so at the start of a pass no claim
    of its own is in flight.
    """
    telephony = app.extensions["vnh.telephony"]
    settings = Settings(app.config)
    on_twilio = app.config["TELEPHONY"] == "twilio"

    def status_callback(job: outbox.Send) -> str | None:
        return settings.url(f"/telephony/status/{job.kind}?outbox={job.id}") if on_twilio else None

    def failed(session):
        return lambda message: _failed_task(session, message, now)

    recovered = 0
    with session_scope(app) as session:
        left = outbox.abandoned(session)
    for job, claimed_at in left:
        # Asked outside any transaction: the network may be slow, and may be this database.
        answer = outbox.ask_network(job, claimed_at, telephony)
        with session_scope(app) as session:
            recovered += outbox.settle(session.get(OutboxMessage, job.id), answer, now)
    pacer = app.extensions["vnh.pacer"]
    quiet = parse_quiet_hours(settings.quiet_hours)
    sent = 0
    for _ in range(limit):
        with session_scope(app) as session:
            message = outbox.claim_next(session, now)
            if message is None:
                break
            job = None
            later = outside_quiet_hours(now, quiet)
            if message.kind == "call" and message.purpose in ELDER_CALLS and later != now:
                # Late (an outage, a backlog) into the night: wait for the morning.
                message.next_attempt_at = later
            else:
                job = outbox.mark_sending(message, now)
        if job is None:
            continue
        crash_point("before_send", job.kind)
        pacer.wait(job.kind)
        sid, error = None, None
        try:
            sid = outbox.send(job, telephony, status_callback(job))
        except DeliveryError as exc:
            error = exc
        crash_point("after_send", job.kind)
        with session_scope(app) as session:
            message = session.get(OutboxMessage, job.id)
            if sid is not None:
                outbox.record_sent(message, sid, now)
                sent += 1
            else:
                outbox.record_error(message, error, now, failed(session))
    if recovered:
        log.info("adopted %d sends a crash had left unrecorded", recovered)
    return sent


def _failed_task(session, message, now: datetime) -> None:
    tasks.open_task(session, kind="failed_message", reason=f"发送失败：{message.last_error}",
                     dedupe_key=f"outbox:{message.id}", caller=message.to_number, now=now)


class SchedulerLease:
    """Only one process ticks: on PostgreSQL the holder of an advisory lock on its own connection.

    The connection is outside the pool, so closing it (or the process dying) frees the lock and
    another process takes over at its next tick. On SQLite the lease is an exclusive lock on a
    file beside the database, so a stray second `vnh scheduler` waits instead of sending too.
    """

    def __init__(self, app: Flask):
        self.url = app.extensions["vnh.engine"].url
        self.engine = None
        self.connection = None
        self.lock_file = None

    def acquire(self) -> bool:
        if is_sqlite(self.url):
            return self._acquire_file()
        if self.connection is not None:
            try:
                self.connection.execute(text("SELECT 1"))
                return True
            except Exception:
                self.release()
        if self.engine is None:
            # Named, so that health (and the fault tests) can tell which process holds the lease.
            self.engine = create_engine(self.url, poolclass=NullPool, connect_args={
                "application_name": f"{LEASE_NAME} {socket.gethostname()} {os.getpid()}"})
        connection = self.engine.connect()
        if connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_LOCK_KEY}):
            connection.commit()
            self.connection = connection
            return True
        connection.close()
        return False

    def _acquire_file(self) -> bool:
        if self.lock_file is not None:
            return True
        path = self.url.database
        if not path or path == ":memory:":
            return True
        lock_file = open(f"{path}.scheduler-lease", "a")  # noqa: SIM115 - held for the process's life
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock_file.close()
            return False
        self.lock_file = lock_file
        return True

    def release(self) -> None:
        if self.lock_file is not None:
            self.lock_file.close()  # closing frees the flock
            self.lock_file = None
        if self.connection is not None:
            try:
                self.connection.close()
            finally:
                self.connection = None


def give_way_to_the_web() -> None:
    """Lower this process's CPU priority to `SCHEDULER_NICENESS`, before it starts threads (they
    inherit it). Its work can wait a second; an elder on the hotline cannot: on a machine busy
    with a cold snap's backlog, the web workers get about ten times its share of the CPU, and it
    still gets its share (SCHED_IDLE, which the password checks use, could starve it, and with it
    the SMS offers it sends)."""
    with contextlib.suppress(AttributeError, OSError):  # not a Unix: the tick runs at normal priority
        os.setpriority(os.PRIO_PROCESS, 0, max(os.getpriority(os.PRIO_PROCESS, 0), SCHEDULER_NICENESS))


def start_scheduler(app: Flask):
    """Tick every VNH_TICK_S; a missed tick runs once late rather than never or many times."""
    from apscheduler.schedulers.background import BackgroundScheduler

    give_way_to_the_web()
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
