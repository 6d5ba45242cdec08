"""`vnh bench ivr` and `vnh bench webhooks`: how long the phone flow talks, and how fast it answers."""

from __future__ import annotations

import logging
import multiprocessing
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from dispatcher.operations.server import cpu_seconds, free_port

# Slow, clear Mandarin for elders: about four characters a second (a newsreader speaks five).
CHARS_PER_SECOND = 4.0
# The items elders ask for most in home-care hotlines of this kind: cleaning, meals, bathing,
# a blood-pressure check, an escort to the doctor.
COMMON_ITEMS = ["HK01", "ML01", "LC01", "HC01", "HC02"]
BENCH_TOKEN = "bench-auth-token"


def _fresh_app(directory: Path, clock):
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.demo.district import build_demo_district
    from dispatcher.migrate import upgrade

    app = create_app({"DATABASE_URL": f"sqlite:///{directory / 'bench.sqlite'}", "TELEPHONY": "local",
                      "TWILIO_AUTH_TOKEN": BENCH_TOKEN, "CLOCK": clock, "SECRET_KEY": "bench",
                      "AFTER_HOURS": ""})
    upgrade(app.extensions["vnh.engine"])
    with session_scope(app) as session:
        load_catalogue(session)
        build_demo_district(session, seed=1, now=clock.now())
    return app


def _spoken(transcript) -> str:
    return "".join(transcript.said)


def _keys_for(app, phone, caller: str, item_code: str) -> list[str]:
    """The keys that book `item_code`, read from the category menu this caller hears (the menu
    puts the categories the caller books most first, so it changes as the bench books)."""
    from sqlalchemy import select

    from dispatcher.models import Item

    with app.extensions["vnh.sessionmaker"]() as session:
        item = session.scalar(select(Item).where(Item.code == item_code))
        category, position = item.category.name, item.position
    _, greeting = phone.post("/telephony/voice", {"CallSid": "CA" + uuid.uuid4().hex, "From": caller,
                                                  "To": phone.hotline_number})
    for line in _says(greeting, gathered_only=True):
        if line.startswith(f"{category}按"):
            return [line.removeprefix(f"{category}按")[0], str(position), "1", "1"]
    raise click.ClickException(f"{category} is not on the first page of the menu: {_says(greeting)}")


def _booked_item(app) -> str:
    from sqlalchemy import select

    from dispatcher.models import Item, Order

    with app.extensions["vnh.sessionmaker"]() as session:
        return session.scalar(select(Item.code).join(Order, Order.item_id == Item.id)
                              .order_by(Order.id.desc()).limit(1))


def _naive_prompt(app) -> tuple[str, str]:
    """A flat menu that reads every category, then every item of the chosen one."""
    from sqlalchemy import select

    from dispatcher.models import Category

    with app.extensions["vnh.sessionmaker"]() as session:
        categories = session.scalars(select(Category).order_by(Category.position)).all()
        menu = "".join(f"{c.name}请按{i}。" for i, c in enumerate(categories, 1))
        items = {c.code: "".join(f"{it.name}请按{i}。" for i, it in enumerate(c.items, 1)) for c in categories}
    return menu, items


@click.command("ivr")
def bench_ivr():
    """Spoken length and key presses to book the five most common items, beside a flat menu."""
    import logging

    logging.getLogger("vnh").setLevel(logging.WARNING)  # one line per webhook would bury the table
    from dispatcher.clock import LOCAL_TZ, FakeClock
    from telephony.simulator import FlaskTransport, Phone

    start = datetime.now(LOCAL_TZ).replace(hour=9, minute=0, second=0, microsecond=0) + timedelta(days=1)
    clock = FakeClock(start.astimezone(UTC))
    with tempfile.TemporaryDirectory(prefix="vnh-bench-ivr-") as directory:
        app = _fresh_app(Path(directory), clock)
        phone = Phone(FlaskTransport(app.test_client()), BENCH_TOKEN, app.config["HOTLINE_NUMBER"])
        caller = "+8613900000001"
        naive_menu, naive_items = _naive_prompt(app)
        click.echo(f"speaking rate: {CHARS_PER_SECOND} Mandarin characters a second; prompts counted "
                   "until the booking is made (the closing goodbye is reported apart)\n")
        click.echo(f"{'item':6} {'keys pressed':14} {'keys':>4} {'full s':>7} {'barge-in s':>10} "
                   f"{'flat menu s':>11} {'goodbye s':>9}")
        worst_keys, worst_full, worst_barge = 0, 0.0, 0.0
        for code in COMMON_ITEMS:
            keys = _keys_for(app, phone, caller, code)
            call = phone.call_hotline(caller, keys)
            if call.ended_with != "hangup" or "工单号" not in _spoken(call):
                raise click.ClickException(f"booking {code} did not complete: {_spoken(call)[-80:]}")
            if _booked_item(app) != code:
                raise click.ClickException(f"keys {keys} booked {_booked_item(app)}, not {code}")
            full, barge = _heard_before_booking(call.responses, keys)
            goodbye = sum(map(len, _says(call.responses[-1]))) / CHARS_PER_SECOND
            flat = full - _menu_chars(call.responses) + len(naive_menu) + len(naive_items[code[:2]])
            worst_keys = max(worst_keys, len(keys))
            worst_full, worst_barge = max(worst_full, full / CHARS_PER_SECOND), max(worst_barge, barge / CHARS_PER_SECOND)
            click.echo(f"{code:6} {','.join(keys):14} {len(keys):>4} {full / CHARS_PER_SECOND:>7.1f} "
                       f"{barge / CHARS_PER_SECOND:>10.1f} {flat / CHARS_PER_SECOND:>11.1f} {goodbye:>9.1f}")
            _cancel_everything(app)
        speech = phone.call_hotline(caller, ["1", "1"], {0: "送个午饭"})
        click.echo(f"\nby speech ('送个午饭'): {len(speech.pressed) - 1} keys after speaking, "
                   f"{len(_spoken(speech)) / CHARS_PER_SECOND:.1f} s of prompts, ended with {speech.ended_with}")
        _cancel_everything(app)
        emergency = phone.call_hotline(caller, ["9"])
        before_dial = len(emergency.said[0]) / CHARS_PER_SECOND
        click.echo(f"emergency: 1 key ('9', accepted while the greeting plays) reaches "
                   f"{emergency.ended_with} {','.join(emergency.dialled)}; the greeting lasts {before_dial:.1f} s")
        click.echo(f"\nworst common booking: {worst_keys} key presses (goal ≤ 4); {worst_full:.1f} s "
                   f"listening to every prompt in full, {worst_barge:.1f} s pressing as soon as the "
                   "option is heard (goal ≤ 45 s)")


def _says(twiml_text: str, *, gathered_only: bool = False) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(twiml_text)
    node = root.find("Gather") if gathered_only else root
    return [] if node is None else ["".join(s.itertext()) for s in node.iter("Say")]


def _heard_before_booking(responses: list[str], keys: list[str]) -> tuple[int, int]:
    """Characters heard before the last key: in full, and stopping at each chosen option."""
    full = barge = 0
    for response, key in zip(responses, keys, strict=False):
        lines = _says(response)
        full += sum(map(len, lines))
        for line in lines:
            barge += len(line)
            if f"按{key}" in line:
                break
    return full, barge


def _menu_chars(responses: list[str]) -> int:
    """Characters of the category and item menus (the first two questions after the greeting)."""
    return sum(len(line) for response in responses[:2] for line in _says(response, gathered_only=True)
               if "按" in line)


def _cancel_everything(app) -> None:
    from sqlalchemy import update

    from dispatcher.models import Order

    with app.extensions["vnh.sessionmaker"]() as session:
        session.execute(update(Order).values(state="cancelled"))
        session.commit()


# -- webhooks under load ----------------------------------------------------------------------

_TRIVIAL_APP = """
import sys
from flask import Flask
from dispatcher.operations.server import WebServer

class Trivial(WebServer):
    def load(self):
        app = Flask("trivial")

        @app.post("/telephony/voice")
        def voice():
            return ('<?xml version="1.0" encoding="UTF-8"?><Response><Hangup/></Response>', 200,
                    {"Content-Type": "text/xml"})

        return app

Trivial({"bind": f"127.0.0.1:{sys.argv[1]}", "workers": int(sys.argv[2]), "worker_class": "gthread",
         "threads": 8, "accesslog": None}).run()
"""


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise click.ClickException(f"nothing listens on port {port}")


class _Load:
    """Open-loop load: request i is sent at start + i/rate, whatever the earlier ones are doing."""

    def __init__(self, base: str, token: str, hotline: str, callers: list[str]):
        from twilio.request_validator import RequestValidator

        self.base, self.hotline, self.callers = base, hotline, callers
        self.validator = RequestValidator(token)
        self.open_calls: list[str] = []
        self.lock = threading.Lock()

    def _post(self, path: str, form: dict) -> float:
        data = urllib.parse.urlencode(form).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST", headers={
            "X-Twilio-Signature": self.validator.compute_signature(self.base + path, form)})
        began = time.perf_counter()
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
            if response.status != 200:
                raise RuntimeError(f"status {response.status}")
        return time.perf_counter() - began

    def one(self, i: int) -> float:
        """Alternate a new call's greeting with a key pressed in an earlier call."""
        with self.lock:
            sid = self.open_calls.pop(0) if i % 2 and self.open_calls else None
        if sid is None:
            sid = "CA" + uuid.uuid4().hex
            form = {"CallSid": sid, "From": self.callers[i % len(self.callers)], "To": self.hotline}
            elapsed = self._post("/telephony/voice", form)
            with self.lock:
                self.open_calls.append(sid)
            return elapsed
        form = {"CallSid": sid, "From": "+8613900000001", "To": self.hotline, "Digits": "2"}
        return self._post("/telephony/voice?seq=1", form)

    def run(self, rate: int, seconds: float) -> list[float]:
        count = int(rate * seconds)
        start = time.perf_counter() + 0.2
        latencies: list[float] = []

        def timed(i: int) -> None:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            latencies.append(self.one(i))

        with ThreadPoolExecutor(max_workers=min(64, rate)) as pool:
            list(pool.map(timed, range(count)))
        return latencies


class _SignIns:
    """Open-loop wrong sign-ins, each under a new username (so the lockout, which counts per username
    and address, stops none of them and every one asks for a password check); with `page_only`, the
    same number of plain sign-in page views instead, to tell the checks' cost from the requests'."""

    def __init__(self, base: str, page_only: bool = False):
        self.base, self.page_only = base, page_only
        with urllib.request.urlopen(base + "/login", timeout=10) as response:
            page = response.read().decode()
            self.cookie = response.headers["Set-Cookie"].split(";", 1)[0]
        self.token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        self.outcomes: dict[str, int] = {}
        self.latencies: list[float] = []
        self.lock = threading.Lock()

    def one(self, i: int) -> None:
        form = {"csrf_token": self.token, "username": f"guess-{uuid.uuid4().hex[:12]}",
                "password": f"wrong-password-{i}"}
        request = (urllib.request.Request(self.base + "/login") if self.page_only else
                   urllib.request.Request(self.base + "/login", data=urllib.parse.urlencode(form).encode(),
                                          method="POST", headers={"Cookie": self.cookie}))
        began = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                body, status = response.read().decode(), response.status
        except urllib.error.HTTPError as error:
            body, status = error.read().decode(), error.code
        except OSError:
            body, status = "", 0
        elapsed = time.perf_counter() - began
        if status == 200 and self.page_only:
            outcome = "page"
        elif status == 200 and "用户名或密码错误" in body:
            outcome = "checked"
        elif status == 429 and "登录繁忙" in body:
            outcome = "busy"
        elif status == 429:
            outcome = "locked"
        else:
            outcome = f"other {status}"
        with self.lock:
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            self.latencies.append(elapsed)

    def run(self, rate: int, seconds: float) -> None:
        start = time.perf_counter() + 0.2

        def timed(i: int) -> None:
            delay = start + i / rate - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.one(i)

        with ThreadPoolExecutor(max_workers=min(64, rate)) as pool:
            list(pool.map(timed, range(int(rate * seconds))))


def _attack(base: str, rate: int, seconds: float, page_only: bool, ready, results) -> None:
    """The sign-in load, in a process of its own so that it does not share the webhook client's GIL."""
    sign_ins = _SignIns(base, page_only)
    ready.set()
    sign_ins.run(rate, seconds)
    results.put((sign_ins.outcomes, sign_ins.latencies))


def _under_sign_ins(base: str, callers: list[str], rate: int, sign_in_rate: int, seconds: float,
                    page_only: bool) -> tuple[list[float], dict[str, int], list[float]]:
    """Webhooks at `rate` a second while wrong sign-ins (or page views) arrive at `sign_in_rate`."""
    context = multiprocessing.get_context("spawn")
    ready, results = context.Event(), context.Queue()
    attacker = context.Process(target=_attack, args=(base, sign_in_rate, seconds, page_only, ready, results))
    attacker.start()
    try:
        if not ready.wait(60):
            raise click.ClickException("the sign-in load did not start")
        latencies = _Load(base, BENCH_TOKEN, "+869312345678", callers).run(rate, seconds)
        outcomes, sign_in_latencies = results.get(timeout=seconds + 60)
    finally:
        attacker.join(10)
        if attacker.is_alive():
            attacker.terminate()
    return latencies, outcomes, sign_in_latencies


def _percentiles(latencies: list[float]) -> tuple[float, float]:
    ordered = sorted(latencies)
    return statistics.median(ordered) * 1000, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1000


def _serve_vnh(database_url: str, port: int, workers: int) -> subprocess.Popen:
    env = {**os.environ, "VNH_DATABASE_URL": database_url, "TWILIO_AUTH_TOKEN": BENCH_TOKEN,
           "VNH_TELEPHONY": "local", "VNH_PUBLIC_URL": f"http://127.0.0.1:{port}", "VNH_AFTER_HOURS": ""}
    env.pop("TWILIO_ACCOUNT_SID", None)
    return subprocess.Popen([sys.executable, "-m", "dispatcher.cli", "serve", "--port", str(port),
                             "--workers", str(workers), "--no-scheduler"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _prepare(database_url: str) -> list[str]:
    """Wipe and fill the database with the demo district; return the elders' phone numbers."""
    from dispatcher import create_app
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.demo.district import build_demo_district
    from dispatcher.migrate import upgrade

    app = create_app({"DATABASE_URL": database_url, "TELEPHONY": "local", "SECRET_KEY": "bench"})
    if not database_url.startswith("sqlite"):
        from sqlalchemy import text

        with app.extensions["vnh.engine"].begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    upgrade(app.extensions["vnh.engine"])
    with session_scope(app) as session:
        load_catalogue(session)
        build_demo_district(session, seed=1, now=app.extensions["vnh.clock"].now())
    with session_scope(app) as session:
        from sqlalchemy import select

        from dispatcher.models import ElderPhone

        phones = list(session.scalars(select(ElderPhone.phone).where(ElderPhone.is_primary)))
    app.extensions["vnh.engine"].dispose()
    return phones


def _statements_per_turn(database_url: str, callers: list[str]) -> tuple[int, int]:
    """SQL statements of a greeting and of a key pressed in the menu, counted in this process
    on the same database (transaction control and the pool's ping not counted)."""
    from sqlalchemy import event

    from dispatcher import create_app
    from telephony.simulator import FlaskTransport, Phone

    app = create_app({"DATABASE_URL": database_url, "TELEPHONY": "local", "SECRET_KEY": "bench",
                      "TWILIO_AUTH_TOKEN": BENCH_TOKEN, "AFTER_HOURS": ""})
    phone = Phone(FlaskTransport(app.test_client()), BENCH_TOKEN, "+869312345678")
    seen: list[str] = []

    def collect(_conn, _cursor, statement, *_):
        if not statement.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
            seen.append(statement)

    engine = app.extensions["vnh.engine"]
    logger = logging.getLogger("vnh")
    level = logger.level
    logger.setLevel(logging.WARNING)  # a line per webhook would land in the table
    counts = []
    for caller in callers[-2:]:  # the first call warms the catalogue snapshot
        sid = "CA" + uuid.uuid4().hex
        seen.clear()
        event.listen(engine, "before_cursor_execute", collect)
        phone.post("/telephony/voice", {"CallSid": sid, "From": caller, "To": phone.hotline_number})
        greeting = len(seen)
        seen.clear()
        phone.post("/telephony/voice?seq=1", {"CallSid": sid, "From": caller,
                                              "To": phone.hotline_number, "Digits": "2"})
        event.remove(engine, "before_cursor_execute", collect)
        counts = [greeting, len(seen)]
    logger.setLevel(level)
    engine.dispose()
    return counts[0], counts[1]


def _timed_load(base: str, server_pid: int, callers: list[str], rate: int,
                seconds: float) -> tuple[list[float], float | None]:
    """The load's latencies, and the CPU the server's processes spent on each request (ms), where
    the system tells (a figure that does not grow with how busy the machine is, as latency does)."""
    before = cpu_seconds(server_pid)
    latencies = _Load(base, BENCH_TOKEN, "+869312345678", callers).run(rate, seconds)
    after = cpu_seconds(server_pid)
    spent = None if before is None or after is None else (after - before) * 1000 / len(latencies)
    return latencies, spent


def _cpu_columns(ours: float | None, plain: float | None) -> str:
    if ours is None or plain is None or plain <= 0:
        return f"{'-':>12} {'-':>12} {'-':>6}"
    return f"{ours:>10.2f}ms {plain:>10.2f}ms {ours / plain:>5.1f}×"


def _sign_in_runs(name: str, base: str, callers: list[str], rate: int, sign_in_rate: int,
                  seconds: float) -> list[str]:
    """Webhooks alone, beside sign-in page views, beside wrong sign-ins, and alone again; a line each."""
    lines = []
    # "none" twice, before and after, shows how much the runs differ with no sign-ins at all.
    for label, attack in (("none", None), (f"{sign_in_rate} pages", True), (f"{sign_in_rate} wrong", False),
                          ("none", None)):
        # Warm up again: the trivial server's run or the last attack left this one cold or busy.
        _Load(base, BENCH_TOKEN, "+869312345678", callers).run(20, 2)
        if attack is None:
            latencies = _Load(base, BENCH_TOKEN, "+869312345678", callers).run(rate, seconds)
            tail = f"{'-':>12} {'-':>12}"
        else:
            latencies, outcomes, sign_in_latencies = _under_sign_ins(base, callers, rate, sign_in_rate,
                                                                     seconds, page_only=attack)
            s50, s99 = _percentiles(sign_in_latencies)
            answers = ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items()))
            tail = f"{s50:>10.1f}ms {s99:>10.1f}ms  {answers}"
        p50, p99 = _percentiles(latencies)
        lines.append(f"{name:10} {label:>10} {len(latencies):>5} {p50:>7.1f}ms {p99:>7.1f}ms {tail}")
    return lines


@click.command("webhooks")
@click.option("--rates", default="20,50,100", show_default=True, help="Requests a second to offer.")
@click.option("--seconds", default=10.0, show_default=True, help="How long each rate runs.")
@click.option("--workers", default=2, show_default=True, help="Worker processes of both servers.")
@click.option("--postgres-url", default=lambda: os.environ.get("VNH_BENCH_DATABASE_URL", ""),
              help="A PostgreSQL database to wipe and use (VNH_BENCH_DATABASE_URL); SQLite only without it.")
@click.option("--sign-ins", "sign_in_rate", default=40, show_default=True,
              help="Wrong sign-ins a second sent beside the webhooks in a last run (0: no such run).")
@click.option("--sign-in-webhooks", "sign_in_webhook_rate", default=100, show_default=True,
              help="Webhooks a second in the sign-in runs.")
def bench_webhooks(rates, seconds, workers, postgres_url, sign_in_rate, sign_in_webhook_rate):
    """p50/p99 latency of IVR webhooks under load, beside a trivial Flask endpoint in the same run;
    then the same webhooks without and with a stream of wrong sign-ins."""
    rates = [int(r) for r in rates.split(",")]
    attacks: list[str] = []
    with tempfile.TemporaryDirectory(prefix="vnh-bench-webhooks-") as directory:
        targets = [("sqlite", f"sqlite:///{Path(directory) / 'bench.sqlite'}")]
        if postgres_url:
            targets.append(("postgresql", postgres_url))
        trivial_port = free_port()
        trivial = subprocess.Popen([sys.executable, "-c", _TRIVIAL_APP, str(trivial_port), str(workers)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            _wait_for(trivial_port)
            click.echo(f"both servers: gunicorn, {workers} worker processes × 8 threads; "
                       "the load generator shares the same cores")
            click.echo(f"{'database':10} {'rate/s':>6} {'n':>5} {'vnh p50':>9} {'vnh p99':>9} "
                       f"{'trivial p50':>12} {'trivial p99':>12} {'vnh CPU/req':>12} {'trivial CPU':>12} "
                       f"{'ratio':>6}")
            statements = {}
            for name, url in targets:
                callers = _prepare(url)
                statements[name] = _statements_per_turn(url, callers)
                port = free_port()
                server = _serve_vnh(url, port, workers)
                try:
                    _wait_for(port)
                    # Warm both servers (each worker's first requests build its app and pools).
                    _Load(f"http://127.0.0.1:{port}", BENCH_TOKEN, "+869312345678", callers).run(20, 2)
                    _Load(f"http://127.0.0.1:{trivial_port}", BENCH_TOKEN, "+869312345678",
                          callers).run(20, 2)
                    for rate in rates:
                        ours, ours_cpu = _timed_load(f"http://127.0.0.1:{port}", server.pid, callers, rate,
                                                     seconds)
                        plain, plain_cpu = _timed_load(f"http://127.0.0.1:{trivial_port}", trivial.pid, callers,
                                                       rate, seconds)
                        p50, p99 = _percentiles(ours)
                        t50, t99 = _percentiles(plain)
                        click.echo(f"{name:10} {rate:>6} {len(ours):>5} {p50:>7.1f}ms {p99:>7.1f}ms "
                                   f"{t50:>10.1f}ms {t99:>10.1f}ms {_cpu_columns(ours_cpu, plain_cpu)}")
                    if sign_in_rate:
                        attacks.extend(_sign_in_runs(name, f"http://127.0.0.1:{port}", callers,
                                                     sign_in_webhook_rate, sign_in_rate, seconds))
                finally:
                    server.terminate()
                    server.wait(10)
        finally:
            trivial.terminate()
            trivial.wait(10)
    if attacks:
        click.echo(f"\nwebhooks at {sign_in_webhook_rate}/s without and with {sign_in_rate} wrong sign-ins a "
                   "second (each under a new username, so the lockout stops none; sent from a process "
                   "of their own), and with as many views of the sign-in page (the cost of the requests "
                   "alone)")
        click.echo(f"{'database':10} {'beside /s':>10} {'n':>5} {'vnh p50':>9} {'vnh p99':>9} "
                   f"{'sign-in p50':>12} {'sign-in p99':>12}  sign-in answers")
        for line in attacks:
            click.echo(line)
        click.echo("goal: vnh p99 < 100 ms with the sign-ins as without; no 500 among the sign-ins")
    for name, (greeting, key) in statements.items():
        click.echo(f"{name}: SQL statements per turn (counted in-process, without BEGIN/COMMIT and "
                   f"the pool's ping): greeting {greeting}, a key pressed in the menu {key}")
    click.echo("goal: vnh p99 ≤ 100 ms at 100 requests/s; no webhook calls the Twilio REST API inline")
