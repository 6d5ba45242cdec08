"""Fault scenarios against real processes: `vnh serve` and `vnh scheduler` killed with SIGKILL at
named points of a dispatch (see dispatcher/faults.py), restarted, and the rows counted.

Used by the fault tests (tests/faults) and by `vnh chaos`. Every scenario runs the same dispatch
on a fresh copy of the demo district: an elder books by phone, the provider is texted the offer,
accepts, checks in and out by SMS. The counts of orders, offers, postings, outbox messages and
sends carried by the (local) phone network must equal those of the undisturbed run.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import click
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from dispatcher.server import free_port, wait_until_healthy
from telephony.simulator import HttpTransport, Phone

ELDER = "+8613900000001"  # the demo district's first elder, near several providers
BOOKING = ["2", "1", "1", "1"]  # 家政保洁 → the first item → as soon as possible → confirm
# Every scenario: the elder books by phone; the provider is texted, accepts, checks in and out by
# SMS; the review call is placed and answered.
TOKEN = "chaos-auth-token"
# 09:00 on a Wednesday in Asia/Shanghai: every provider of the demo district is working.
CLOCK_START = "2026-11-25T01:00:00+00:00"
STEP_TIMEOUT_S = 30

# (name, process the fault is set in, VNH_FAULT point)
SCENARIOS = [
    ("undisturbed", None, None),
    ("web killed before the order commits", "web", "before_commit:orders"),
    ("web killed after the order commits", "web", "after_commit:orders"),
    ("scheduler killed before the offer SMS is sent", "scheduler", "before_send"),
    ("scheduler killed during the send (carried, not recorded)", "scheduler", "after_send"),
    ("web killed after the acceptance commits", "web", "after_commit:visits"),
    ("web killed before the check-out posting commits", "web", "before_commit:ledger_postings"),
    ("web killed after the check-out posting commits", "web", "after_commit:ledger_postings"),
    ("scheduler killed before the review call is placed", "scheduler", "before_send:call"),
    ("scheduler killed after Twilio placed the review call, before recording it", "scheduler",
     "after_send:call"),
]

COUNTS = {
    "orders": "SELECT count(*) FROM orders",
    "offers": "SELECT count(*) FROM offers",
    "visits": "SELECT count(*) FROM visits",
    "postings": "SELECT count(*) FROM ledger_postings",
    "outbox": "SELECT count(*) FROM outbox_messages",
    "outbox_sent": "SELECT count(*) FROM outbox_messages WHERE sid IS NOT NULL",
    "outbound_calls": "SELECT count(*) FROM outbox_messages WHERE kind = 'call'",
    "reviews_verified": "SELECT count(*) FROM callback_reviews WHERE state = 'verified'",
    "operator_tasks": "SELECT count(*) FROM operator_tasks",
    "network_sends": "SELECT count(*) FROM local_network_sends",
    "sent_twice": "SELECT count(*) FROM (SELECT key FROM local_network_sends GROUP BY key "
                  "HAVING count(*) > 1) AS twice",
}


class Crashed(Exception):
    """A process of the stack died (or stopped answering) in the middle of a step."""


def vnh(*args: str) -> list[str]:
    return [sys.executable, "-m", "dispatcher.cli", *args]


@dataclass
class Stack:
    """One web server and one scheduler on a database, each in a process group of its own."""

    database_url: str
    workdir: Path
    anchor: float = field(default_factory=time.time)
    port: int = field(default_factory=free_port)
    web: subprocess.Popen | None = None
    scheduler: subprocess.Popen | None = None
    restarts: int = 0
    extra_env: dict = field(default_factory=dict)
    crashes: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def env(self, fault: str | None = None) -> dict:
        return {**self._env(fault), **self.extra_env}

    def _env(self, fault: str | None) -> dict:
        env = {**os.environ, "VNH_DATABASE_URL": self.database_url, "TWILIO_AUTH_TOKEN": TOKEN,
               "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.3", "VNH_AFTER_HOURS": "",
               "VNH_PUBLIC_URL": self.base_url, "VNH_CLOCK_START": CLOCK_START,
               "VNH_CLOCK_ANCHOR": str(self.anchor), "VNH_CLOCK_SPEED": "1", "VNH_DB_WAIT_S": "2",
               "VNH_REVIEW_DELAY_S": "1", "VNH_REVIEW_SAMPLE": "0"}
        for name in ("VNH_FAULT", "TWILIO_ACCOUNT_SID"):
            env.pop(name, None)
        if fault:
            env["VNH_FAULT"] = fault
        return env

    def start(self, fault_in: str | None = None, fault: str | None = None) -> None:
        log = (self.workdir / "processes.log").open("ab")
        self.web = subprocess.Popen(
            vnh("serve", "--port", str(self.port), "--workers", "1", "--threads", "4", "--no-scheduler"),
            env=self.env(fault if fault_in == "web" else None), stdout=log, stderr=log,
            start_new_session=True)
        self.scheduler = subprocess.Popen(
            vnh("scheduler"), env=self.env(fault if fault_in == "scheduler" else None),
            stdout=log, stderr=log, start_new_session=True)
        try:
            wait_until_healthy(self.base_url, STEP_TIMEOUT_S)
        except TimeoutError:
            raise RuntimeError(f"vnh serve did not answer on {self.port}; see {self.workdir}/processes.log") from None

    def kill(self) -> None:
        """SIGKILL every process of the stack, as a power cut would."""
        for process in (self.web, self.scheduler):
            if process is None:
                continue
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(10)
        self.web = self.scheduler = None

    def restart(self) -> None:
        self.kill()
        self.restarts += 1
        self.start()

    def check_alive(self) -> None:
        if self.scheduler is not None and self.scheduler.poll() is not None:
            raise Crashed("the scheduler died")


def prepare_database(database_url: str, workdir: Path) -> None:
    """A fresh demo district on `database_url` (a PostgreSQL schema is dropped first)."""
    if not database_url.startswith("sqlite"):
        engine = create_engine(database_url, poolclass=NullPool)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    env = {**os.environ, "VNH_DATABASE_URL": database_url}
    env.pop("VNH_FAULT", None)
    subprocess.run(vnh("demo-data", "--elders", "20", "--providers", "4", "--no-staff"), env=env,
                   check=True, capture_output=True, cwd=workdir)


def count_rows(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return {name: conn.scalar(text(sql)) for name, sql in COUNTS.items()}
    finally:
        engine.dispose()


def _rows(database_url: str, sql: str) -> list:
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


class Dispatch:
    """The dispatch, step by step; after a crash the stack restarts and the step resumes."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.phone = Phone(HttpTransport(stack.base_url, timeout=STEP_TIMEOUT_S), TOKEN)

    def run(self) -> None:
        self._step("book", self._book)
        code = self._step("offer sent", self._offer_code)
        provider = self._step("offer sent", lambda: self._offer(code)["to"])
        self._step("accept", lambda: self._reply(provider, f"{code} 接", "已接单", "visits"))
        self._step("check in", lambda: self._reply(provider, f"{code}到", "已签到", None))
        self._step("check out", lambda: self._reply(provider, f"{code}完", "已签退", "ledger_postings"))
        self._step("review call", self._review)
        self._step("drained", self._drained)

    def _step(self, label: str, action):
        for _ in range(3):
            try:
                self.stack.check_alive()
                return action()
            except (Crashed, OSError, ValueError, RuntimeError) as exc:
                # OSError: the connection dropped with the killed worker; others: a wrong or no reply.
                self.stack.crashes.append(f"{label}: {type(exc).__name__}: {exc}")
                self.stack.restart()
                last = exc
        raise RuntimeError(f"{label} failed three times: {last}")

    def _book(self) -> None:
        # An elder whose call dropped calls again, unless the order is there (an operator sees it).
        if _rows(self.stack.database_url, "SELECT id FROM orders"):
            return
        call = self.phone.call_hotline(ELDER, BOOKING)
        if call.ended_with.startswith("http"):
            raise ValueError(f"the call ended with {call.ended_with}")

    def _offer(self, code: str | None = None) -> dict:
        return self._wait_for(lambda m: m["purpose"] == "offer"
                              and (code is None or f"工单号:{code}" in m["body"]))

    def _offer_code(self) -> str:
        return re.search(r"工单号:(\d+)", self._offer()["body"]).group(1)

    def _reply(self, provider: str, body: str, expected: str, table: str | None) -> None:
        reply = self.phone.send_sms(provider, body)
        if expected not in reply and not ("已" in reply and table):
            raise ValueError(f"the reply to {body!r} was {reply!r}")

    def _review(self) -> None:
        """Answer the callback-review call: the worker came (1), very satisfied (5)."""
        call = self._wait_for(lambda m: m["purpose"] == "review" and m["kind"] == "call")
        if _rows(self.stack.database_url, "SELECT id FROM callback_reviews WHERE state = 'verified'"):
            return
        answered = self.phone.answer_call(call, ["1", "5"])
        if "感谢" not in answered.text:
            raise ValueError(f"the review call said {answered.text!r}")

    def _wait_for(self, wanted) -> dict:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            self.stack.check_alive()
            found = [m for m in self.phone.outbox() if wanted(m) and _done(m)]
            if found:
                return found[0]
            time.sleep(0.2)
        raise Crashed("the message was not sent in time")

    def _drained(self) -> None:
        deadline = time.monotonic() + STEP_TIMEOUT_S
        while time.monotonic() < deadline:
            self.stack.check_alive()
            if all(_done(m) for m in self.phone.outbox()):
                return
            time.sleep(0.2)
        raise Crashed("the outbox did not drain")


def _done(message: dict) -> bool:
    return message["status"] not in ("queued", "sending")


@dataclass
class Outcome:
    name: str
    counts: dict[str, int]
    restarts: int
    crashes: list[str] = field(default_factory=list)


def run_scenario(name: str, fault_in: str | None, fault: str | None, database_url: str,
                 workdir: Path) -> Outcome:
    """Run the dispatch with one fault armed; return the counts from the rows."""
    stack = Stack(database_url, workdir)
    stack.start(fault_in, fault)
    try:
        Dispatch(stack).run()
    finally:
        stack.kill()
    return Outcome(name, count_rows(database_url), stack.restarts, stack.crashes)


class Databases:
    """A fresh demo district per scenario: a copy of one SQLite file, or `database_url` rebuilt."""

    def __init__(self, workdir: Path, database_url: str | None = None):
        self.workdir, self.database_url, self.used = workdir, database_url, 0
        if database_url is None:
            prepare_database(f"sqlite:///{workdir / 'template.sqlite'}", workdir)

    def fresh(self) -> str:
        self.used += 1
        if self.database_url is not None:
            prepare_database(self.database_url, self.workdir)
            return self.database_url
        path = self.workdir / f"scenario{self.used}.sqlite"
        shutil.copy(self.workdir / "template.sqlite", path)
        return f"sqlite:///{path}"


def run_all(database_url: str | None = None, only: list[str] | None = None,
            report=print) -> list[Outcome]:
    """Every scenario (or those named in `only`, by name or fault point) on a fresh district."""
    outcomes = []
    with tempfile.TemporaryDirectory(prefix="vnh-chaos-") as tmp:
        databases = Databases(Path(tmp), database_url)
        for name, fault_in, fault in SCENARIOS:
            if only and fault not in only and name not in only:
                continue
            outcome = run_scenario(name, fault_in, fault, databases.fresh(), Path(tmp))
            report(outcome)
            outcomes.append(outcome)
    return outcomes


SAFE_ANSWER = "系统繁忙"


@dataclass
class Answer:
    at_s: float  # since the stream began
    took_s: float
    kind: str
    text: str

    @property
    def safe(self) -> bool:
        return SAFE_ANSWER in self.text


@dataclass
class OutageOutcome:
    counts: dict[str, int]
    answers: list[Answer]
    restarts: int
    processes_alive: bool
    away_s: float  # when the database went away and came back, since the stream began
    back_s: float

    def during(self) -> list[Answer]:
        """The answers to webhooks sent while the database was away."""
        return [a for a in self.answers if self.away_s <= a.at_s and a.at_s + a.took_s <= self.back_s]

    def after(self, settle_s: float = 2) -> list[Answer]:
        return [a for a in self.answers if a.at_s >= self.back_s + settle_s]


class WebhookStream:
    """A steady stream of webhooks from `callers` threads: hotline calls and SMS, timed one by one."""

    def __init__(self, phone: Phone, elder: str, callers: int = 4, every_s: float = 0.25):
        self.phone, self.elder, self.every_s = phone, elder, every_s
        self.answers: list[Answer] = []
        self.origin = time.monotonic()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(n,), daemon=True)
                         for n in range(callers)]

    def __enter__(self) -> WebhookStream:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def _run(self, n: int) -> None:
        while not self._stop.is_set():
            kind = "call" if n % 2 else "sms"
            began = time.monotonic()
            try:
                if kind == "call":
                    text_ = self.phone.call_hotline(self.elder, []).text
                else:
                    text_ = self.phone.send_sms(f"+86137000000{n:02d}", "你好")
            except Exception as exc:  # a hang or a refused connection is what this counts
                text_ = f"error: {exc}"
            done = time.monotonic()
            self.answers.append(Answer(began - self.origin, done - began, kind, text_))
            self._stop.wait(self.every_s)


def run_outage(database_url: str, workdir: Path, away=None, back=None, gap_s: float = 10) -> OutageOutcome:
    """Book an order whose first offer falls due during a database outage of `gap_s` seconds
    under a steady stream of webhooks; wait until every offer has run out; count the rows.

    `away`/`back` take the database away and bring it back (None: an undisturbed run).
    """
    stack = Stack(database_url, workdir, extra_env={"VNH_ASAP_OFFER_WINDOW_S": "6"})
    stack.start()
    phone = Phone(HttpTransport(stack.base_url, timeout=STEP_TIMEOUT_S), TOKEN)
    try:
        call = phone.call_hotline(ELDER, BOOKING)
        if call.ended_with.startswith("http"):
            raise RuntimeError(f"the booking call ended with {call.ended_with}")
        with WebhookStream(phone, ELDER) as stream:
            time.sleep(1)
            began = time.monotonic()
            if away is not None:
                away()
            # "During" runs from when the database is surely gone until it may be back.
            away_s = time.monotonic() - stream.origin
            time.sleep(max(0.0, gap_s - (time.monotonic() - began)))
            back_s = time.monotonic() - stream.origin
            if back is not None:
                back()
            time.sleep(5)
        _wait_until_settled(database_url)
        alive = stack.web.poll() is None and stack.scheduler.poll() is None
    finally:
        stack.kill()
    return OutageOutcome(count_rows(database_url), stream.answers, stack.restarts, alive, away_s, back_s)


def _wait_until_settled(database_url: str, timeout_s: float = 60) -> None:
    """Until no offer is open, no message waits and the order has gone to an operator."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        (open_offers, unsent, tasks), = _rows(database_url, (
            "SELECT (SELECT count(*) FROM offers WHERE status = 'offered'),"
            " (SELECT count(*) FROM outbox_messages WHERE sid IS NULL AND status <> 'failed'),"
            " (SELECT count(*) FROM operator_tasks)"))
        if not open_offers and not unsent and tasks:
            return
        time.sleep(0.5)
    raise RuntimeError("the dispatch did not settle: offers still open or messages unsent")


SOAK_DUPLICATES = {
    "sends carried twice": COUNTS["sent_twice"],
    "offers of one order to one provider twice": (
        "SELECT count(*) FROM (SELECT order_id, provider_id FROM offers GROUP BY order_id, provider_id "
        "HAVING count(*) > 1) AS twice"),
    "orders with two open offers": (
        "SELECT count(*) FROM (SELECT order_id FROM offers WHERE status = 'offered' GROUP BY order_id "
        "HAVING count(*) > 1) AS twice"),
    "orders with more than one operator task": (
        "SELECT count(*) FROM (SELECT order_id FROM operator_tasks WHERE order_id IS NOT NULL "
        "GROUP BY order_id HAVING count(*) > 1) AS twice"),
}
SOAK_MISSED = {
    "offers never expired": "SELECT count(*) FROM offers WHERE status = 'offered'",
    "messages never sent": "SELECT count(*) FROM outbox_messages WHERE sid IS NULL AND status <> 'failed'",
    "orders stuck without an open offer": (
        "SELECT count(*) FROM orders o WHERE o.state = 'offered' AND NOT EXISTS "
        "(SELECT 1 FROM offers f WHERE f.order_id = o.id AND f.status = 'offered')"),
    "unassigned orders no operator was told of": (
        "SELECT count(*) FROM orders o WHERE o.state = 'unassigned' AND NOT EXISTS "
        "(SELECT 1 FROM operator_tasks t WHERE t.order_id = o.id)"),
}


@dataclass
class SoakOutcome:
    schedulers: int
    wall_s: float
    simulated_s: float
    killed: int | None  # the OS pid of the lease holder killed
    takeover_s: float | None  # wall seconds until another process held the lease
    holders: set[int]
    counts: dict[str, int]
    duplicates: dict[str, int]
    missed: dict[str, int]


def lease_holder(database_url: str) -> int | None:
    """The OS pid of the scheduler holding the lease (its connection is named after it)."""
    from dispatcher.sweepers import ADVISORY_LOCK_KEY, LEASE_NAME

    rows = _rows(database_url, (
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        f"AND ((l.classid::bigint << 32) | l.objid::bigint) = {ADVISORY_LOCK_KEY}"))
    if not rows or not (rows[0][0] or "").startswith(LEASE_NAME):
        return None
    return int(rows[0][0].rsplit(" ", 1)[1])


def _booking_app(database_url: str, clock):
    from dispatcher import create_app

    return create_app({"DATABASE_URL": database_url, "CLOCK": clock, "TELEPHONY": "local",
                       "TWILIO_ACCOUNT_SID": "", "TWILIO_AUTH_TOKEN": TOKEN, "PUBLIC_URL": "",
                       "SECRET_KEY": "chaos", "AFTER_HOURS": "", "QUIET_HOURS": "21:00-08:00"})


def _elder_phones(database_url: str, limit: int) -> list[str]:
    return [r[0] for r in _rows(database_url, "SELECT phone FROM elder_phones WHERE is_primary "
                                              f"ORDER BY elder_id LIMIT {int(limit)}")]


def run_soak(database_url: str, workdir: Path, schedulers: int = 2, wall_s: float = 40,
             speed: float = 60, orders: int = 20, report=None) -> SoakOutcome:
    """`schedulers` processes tick one PostgreSQL on an accelerated clock while orders are booked;
    the lease holder is killed once; then the rows are checked for duplicate and missed work.

    Every order's offers run out unanswered (each expiry is due work), then it goes to an operator.
    """
    from dispatcher.clock import AcceleratedClock
    from telephony.simulator import FlaskTransport

    prepare_database(database_url, workdir)
    anchor, start = time.time(), CLOCK_START
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": TOKEN,
           "VNH_TELEPHONY": "local", "VNH_TICK_S": "0.5", "VNH_CLOCK_START": start,
           "VNH_CLOCK_ANCHOR": str(anchor), "VNH_CLOCK_SPEED": str(speed)}
    env.pop("VNH_FAULT", None)
    log = (workdir / "soak.log").open("ab")
    processes = {}
    for _ in range(schedulers):
        process = subprocess.Popen(vnh("scheduler"), env=env, stdout=log, stderr=log,
                                   start_new_session=True)
        processes[process.pid] = process
    clock = AcceleratedClock(datetime.fromisoformat(start), anchor, speed)
    app = _booking_app(database_url, clock)
    phone = Phone(FlaskTransport(app.test_client()), TOKEN)
    elders = _elder_phones(database_url, orders)
    holders: set[int] = set()
    killed = takeover_s = None
    began = time.monotonic()
    try:
        for n, elder in enumerate(elders):
            # Bookings spread over the first 60% of the soak; the holder dies at 40%.
            while time.monotonic() - began < 0.6 * wall_s * n / len(elders):
                time.sleep(0.1)
            phone.call_hotline(elder, BOOKING)
            holder = lease_holder(database_url)
            if holder:
                holders.add(holder)
            if killed is None and time.monotonic() - began >= 0.4 * wall_s and holder in processes:
                killed = holder
                os.killpg(holder, signal.SIGKILL)
                processes.pop(holder).wait(10)
                died = time.monotonic()
                while takeover_s is None and time.monotonic() - died < 60:
                    successor = lease_holder(database_url)
                    if successor and successor != killed:
                        takeover_s = time.monotonic() - died
                        holders.add(successor)
                    time.sleep(0.1)
                if report:
                    report(f"killed the lease holder (pid {killed}); another took over in "
                           f"{takeover_s if takeover_s is None else round(takeover_s, 1)} s")
        while time.monotonic() - began < wall_s:
            time.sleep(0.2)
        try:
            _wait_until_quiet(database_url, wall_s)
        except RuntimeError:
            pass  # reported below as missed work
        holder = lease_holder(database_url)
        if holder:
            holders.add(holder)
    finally:
        for pid, process in processes.items():
            try:
                os.killpg(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            process.wait(10)
        app.extensions["vnh.engine"].dispose()
    wall = time.monotonic() - began
    return SoakOutcome(
        schedulers, wall, wall * speed, killed, takeover_s, holders, count_rows(database_url),
        {name: _rows(database_url, sql)[0][0] for name, sql in SOAK_DUPLICATES.items()},
        {name: _rows(database_url, sql)[0][0] for name, sql in SOAK_MISSED.items()})


def run_soak_undisturbed(database_url: str, workdir: Path, orders: int = 20) -> dict[str, int]:
    """The same bookings in one process, its clock stepped by hand: what the soak must end with."""
    from dispatcher.clock import FakeClock
    from dispatcher.sweepers import run_due_work
    from telephony.simulator import FlaskTransport

    prepare_database(database_url, workdir)
    clock = FakeClock(datetime.fromisoformat(CLOCK_START))
    app = _booking_app(database_url, clock)
    try:
        phone = Phone(FlaskTransport(app.test_client()), TOKEN)
        for elder in _elder_phones(database_url, orders):
            phone.call_hotline(elder, BOOKING)
            run_due_work(app, clock.advance(60))
        for _ in range(1000):
            run_due_work(app, clock.advance(30))
            if not any(_rows(database_url, sql)[0][0] for sql in SOAK_MISSED.values()):
                break
    finally:
        app.extensions["vnh.engine"].dispose()
    return count_rows(database_url)


def _wait_until_quiet(database_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(_rows(database_url, sql)[0][0] for sql in SOAK_MISSED.values()):
            return
        time.sleep(0.5)
    raise RuntimeError("work still due at the end of the soak")


class PrivateCluster:
    """A throwaway PostgreSQL server of our own, to stop and start without touching anyone else's.

    initdb refuses to run as root, so as root the cluster belongs to the `postgres` OS user.
    """

    def __init__(self, port: int | None = None):
        self.bin = self.binaries()
        if self.bin is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) not found")
        # Its own directory under /tmp: the postgres user must reach it, and a test's may be private.
        self.home = Path(tempfile.mkdtemp(prefix="vnh-pg-"))
        self.dir = self.home / "data"
        self.port = port or free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    @staticmethod
    def binaries() -> Path | None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
        if found:
            return found[-1].parent
        initdb = shutil.which("initdb")
        return Path(initdb).parent if initdb else None

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if done.returncode:
            raise RuntimeError(f"{args[0]} failed: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> PrivateCluster:
        self.dir.mkdir(mode=0o700)
        if os.geteuid() == 0:
            shutil.chown(self.home, "postgres")
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", str(self.dir), "-A", "trust", "-U", "postgres", "-E", "UTF8",
                  "--no-sync")
        self.start()
        return self

    def start(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.dir / "server.log"), "-w", "-o",
                  f"-p {self.port} -k \"\" -c listen_addresses=127.0.0.1 -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-m", "fast", "-w", "stop")

    def destroy(self) -> None:
        try:
            self.stop()
        except RuntimeError:
            pass
        shutil.rmtree(self.home, ignore_errors=True)


def _counts_text(counts: dict[str, int]) -> str:
    return " ".join(f"{name}={value}" for name, value in counts.items())


@click.command("chaos")
@click.option("--database-url", default=None,
              help="Run on this PostgreSQL database, which is WIPED for each scenario. Default: "
                   "temporary SQLite files, and a private throwaway PostgreSQL cluster for the "
                   "PostgreSQL scenarios when its binaries are installed.")
@click.option("--only", multiple=True, help="Only the crash scenarios with this name or fault point.")
@click.option("--crashes/--no-crashes", default=True, show_default=True,
              help="kill -9 of vnh serve / vnh scheduler at named points of a dispatch.")
@click.option("--outage/--no-outage", default=True, show_default=True,
              help="The database away for 10 s under a stream of webhooks.")
@click.option("--soak/--no-soak", default=True, show_default=True,
              help="Two and three schedulers on one PostgreSQL, the lease holder killed once.")
@click.option("--soak-seconds", default=35.0, show_default=True, help="Wall time of each soak.")
def chaos_command(database_url, only, crashes, outage, soak, soak_seconds):
    """Kill, cut off and crowd real vnh processes; print the counts from the rows.

    Every scenario must end with the same counts as its undisturbed run; the exit status is 1 if
    one does not.
    """
    logging.getLogger("vnh").setLevel(logging.WARNING)  # one line per webhook would bury the counts
    failures = 0

    def verdict(same: bool) -> str:
        nonlocal failures
        failures += not same
        return "ok" if same else "DIFFERS"

    with tempfile.TemporaryDirectory(prefix="vnh-chaos-") as tmp:
        workdir = Path(tmp)
        if crashes:
            click.echo("== kill -9 at named points of a dispatch (counts must equal the undisturbed run's)")
            databases = Databases(workdir, database_url)
            baseline = None
            for name, fault_in, fault in SCENARIOS:
                if only and fault is not None and fault not in only and name not in only:
                    continue
                outcome = run_scenario(name, fault_in, fault, databases.fresh(), workdir)
                baseline = baseline or outcome.counts
                same = outcome.counts == baseline and not outcome.counts["sent_twice"]
                click.echo(f"{verdict(same):8} {name} [{fault or '-'}] restarts={outcome.restarts}\n"
                           f"         {_counts_text(outcome.counts)}")
                for crash in outcome.crashes:
                    click.echo(f"         restarted after {crash}")
        cluster = None
        if database_url is None and (outage or soak) and PrivateCluster.binaries() is not None:
            cluster = PrivateCluster()
            cluster.init()
        try:
            if outage:
                click.echo("== the database away for 10 s under a stream of webhooks")
                targets = [("SQLite, locked by another writer", None)]
                if cluster is not None:
                    targets.append(("PostgreSQL, stopped and started (private cluster)", cluster))
                elif database_url:
                    click.echo("skipped on --database-url: only a private cluster is stopped")
                for label, pg in targets:
                    click.echo(_outage_line(label, pg, workdir, verdict))
            if soak:
                url = database_url or (cluster.url if cluster else None)
                if url is None:
                    click.echo("== soak skipped: needs PostgreSQL (--database-url or initdb installed)")
                else:
                    click.echo(f"== schedulers sharing one PostgreSQL, {soak_seconds:.0f} s each at 60x")
                    expected = run_soak_undisturbed(url, workdir)
                    click.echo(f"one process:  {_counts_text(expected)}")
                    for schedulers in (2, 3):
                        o = run_soak(url, workdir, schedulers=schedulers, wall_s=soak_seconds)
                        same = (o.counts == expected and not any(o.duplicates.values())
                                and not any(o.missed.values()) and o.takeover_s is not None)
                        click.echo(
                            f"{verdict(same):8} {schedulers} schedulers, {o.simulated_s / 60:.0f} simulated "
                            f"minutes, holder pid {o.killed} killed, taken over in "
                            f"{o.takeover_s if o.takeover_s is None else round(o.takeover_s, 1)} s\n"
                            f"         {_counts_text(o.counts)}\n"
                            f"         duplicates: {_counts_text(o.duplicates)}\n"
                            f"         missed: {_counts_text(o.missed)}")
        finally:
            if cluster is not None:
                cluster.destroy()
    if failures:
        raise SystemExit(1)


def _outage_line(label: str, cluster: PrivateCluster | None, workdir: Path, verdict) -> str:
    if cluster is None:
        (workdir / "outage").mkdir(exist_ok=True)
        databases = Databases(workdir / "outage")
        undisturbed = run_outage(databases.fresh(), workdir)
        url = databases.fresh()
        blocker = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        try:
            outcome = run_outage(url, workdir, away=lambda: blocker.execute("BEGIN IMMEDIATE"),
                                 back=lambda: blocker.execute("ROLLBACK"))
        finally:
            blocker.close()
    else:
        prepare_database(cluster.url, workdir)
        undisturbed = run_outage(cluster.url, workdir)
        prepare_database(cluster.url, workdir)
        outcome = run_outage(cluster.url, workdir, away=cluster.stop, back=cluster.start)
    during, after = outcome.during(), outcome.after()
    slowest = max(a.took_s for a in outcome.answers)
    same = (outcome.counts == undisturbed.counts and during and all(a.safe for a in during)
            and after and not any(a.safe for a in after) and outcome.processes_alive)
    return (f"{verdict(bool(same)):8} {label}: {len(during)} webhooks while away, "
            f"{sum(a.safe for a in during)} answered safely; slowest answer {slowest:.2f} s; "
            f"{len(after)} after, {sum(not a.safe for a in after)} answered normally; "
            f"processes restarted: {outcome.restarts}\n"
            f"         {_counts_text(outcome.counts)}")
