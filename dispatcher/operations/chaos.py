"""Crash scenarios against real processes: `vnh serve` and `vnh scheduler` killed with SIGKILL at
named points of a dispatch (see dispatcher/operations/faults.py), restarted, and the rows counted.

Used by the fault tests (tests/faults) and by `vnh chaos`; the outage and the soak are in `outage`. Every scenario runs the same dispatch
on a fresh copy of the demo district: an elder books by phone, the provider is texted the offer,
accepts, checks in and out by SMS. The counts of orders, offers, postings, outbox messages and
sends carried by the (local) phone network must equal those of the undisturbed run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from dispatcher.operations.server import free_port, wait_until_healthy
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


def query_rows(database_url: str, sql: str) -> list:
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
        self._step("check in", lambda: self._reply(provider, f"{code}到 0001", "已签到", None))  # the demo's worker 0001
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
        if query_rows(self.stack.database_url, "SELECT id FROM orders"):
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
        if query_rows(self.stack.database_url, "SELECT id FROM callback_reviews WHERE state = 'verified'"):
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
