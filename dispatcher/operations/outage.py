"""Fault scenarios beyond a crash: the database away under a stream of webhooks, several schedulers
sharing one PostgreSQL (the lease holder killed), and the private throwaway cluster they run on.

Used by the fault tests (tests/faults) and by `vnh chaos`.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from dispatcher.operations.chaos import (
    BOOKING,
    CLOCK_START,
    COUNTS,
    ELDER,
    STEP_TIMEOUT_S,
    TOKEN,
    Stack,
    count_rows,
    prepare_database,
    query_rows,
    vnh,
)
from dispatcher.operations.server import free_port
from telephony.simulator import HttpTransport, Phone

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
        (open_offers, unsent, tasks), = query_rows(database_url, (
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
    from dispatcher.operations.sweepers import ADVISORY_LOCK_KEY, LEASE_NAME

    rows = query_rows(database_url, (
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
    return [r[0] for r in query_rows(database_url, "SELECT phone FROM elder_phones WHERE is_primary "
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
        {name: query_rows(database_url, sql)[0][0] for name, sql in SOAK_DUPLICATES.items()},
        {name: query_rows(database_url, sql)[0][0] for name, sql in SOAK_MISSED.items()})


def run_soak_undisturbed(database_url: str, workdir: Path, orders: int = 20) -> dict[str, int]:
    """The same bookings in one process, its clock stepped by hand: what the soak must end with."""
    from dispatcher.clock import FakeClock
    from dispatcher.operations.sweepers import run_due_work
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
            if not any(query_rows(database_url, sql)[0][0] for sql in SOAK_MISSED.values()):
                break
    finally:
        app.extensions["vnh.engine"].dispose()
    return count_rows(database_url)


def _wait_until_quiet(database_url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not any(query_rows(database_url, sql)[0][0] for sql in SOAK_MISSED.values()):
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
