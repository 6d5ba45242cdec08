"""`vnh bench mixed`: the hotline's webhooks while everything else the centre runs is busy too.

One `vnh serve` (gunicorn, as `vnh bench webhooks` starts it) on a fresh demo district takes, at
once: signed IVR webhooks at a steady rate (the `vnh bench webhooks` load), operator consoles
polling as console.js does (transfers every second, the queue every 5 s), provider portal users
opening their job list, the board polling every 2 s as board.js does, and the scheduler's
sweepers working off a cold-snap backlog (thousands of offers due at the same moment). Each
route's p50/p99 is printed beside its figure with nothing else running, and their ratio.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import re
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click

from dispatcher.hotline.bench import (
    BENCH_TOKEN,
    _Load,
    _percentiles,
    _prepare,
    _serve_vnh,
    _wait_for,
)
from dispatcher.operations.server import cpu_seconds, free_port

HOTLINE = "+869312345678"
PASSWORD = "bench-" + "x7Qp9zLm2Kv4"
# What each poller asks for and how often (seconds), as the browser's scripts do.
CONSOLE_POLLS = (("console transfers", "/console/transfers.json", 1.0), ("console queue", "/console?partial=queue", 5.0))
BOARD_POLL = ("board", "/console/board?partial=1", 2.0)
PORTAL_PAGE = ("portal", "/portal/", 3.0)
WARM_UP_S = 3.0


class _Webhooks(_Load):
    """`vnh bench webhooks`' load, counting a failed or timed-out webhook (as its time to fail,
    10 s at most) instead of stopping the bench."""

    def __init__(self, *args):
        super().__init__(*args)
        self.failures = 0

    def one(self, i: int) -> float:
        began = time.perf_counter()
        try:
            return super().one(i)
        except (OSError, RuntimeError):
            self.failures += 1
            return time.perf_counter() - began


# -- the district's extra rows: accounts and the backlog ---------------------------------------
def _accounts(url: str, portal_accounts: int) -> list[tuple[str, str]]:
    """An operator and up to `portal_accounts` provider staff; (username, role) each."""
    from sqlalchemy import select

    from dispatcher import create_app
    from dispatcher.consoles.auth import add_user
    from dispatcher.db import session_scope
    from providers.models import Provider

    app = create_app({"DATABASE_URL": url, "TELEPHONY": "local", "SECRET_KEY": "bench"})
    now = datetime.now(UTC)
    made = [("bench-operator", "operator")]
    with session_scope(app) as session:
        add_user(session, username="bench-operator", password=PASSWORD, role="operator",
                 display_name="压测话务员", provider_id=None, now=now)
        for n, provider_id in enumerate(session.scalars(select(Provider.id).order_by(Provider.id)
                                                        .limit(portal_accounts))):
            add_user(session, username=f"bench-provider-{n}", password=PASSWORD, role="provider",
                     display_name=f"压测服务商{n}", provider_id=provider_id, now=now)
            made.append((f"bench-provider-{n}", "provider"))
    app.extensions["vnh.engine"].dispose()
    return made


def _cold_snap(url: str, count: int) -> int:
    """`count` orders, each with an offer that expired a minute ago: the sweepers' backlog."""
    from sqlalchemy import insert, select, text

    from dispatcher import create_app
    from dispatcher.db import session_scope
    from dispatcher.models import Elder, Order
    from providers.models import Offer, Offering

    app = create_app({"DATABASE_URL": url, "TELEPHONY": "local", "SECRET_KEY": "bench"})
    now = datetime.now(UTC)
    with session_scope(app) as session:
        elders = list(session.scalars(select(Elder.id).order_by(Elder.id)))
        offerings = session.execute(select(Offering.provider_id, Offering.item_id, Offering.price_fen)).all()
        batch = 1000
        for first in range(0, count, batch):
            numbers = range(first, min(count, first + batch))
            orders = [{"order_no": f"CS{i:010d}", "job_code": f"C{i:07d}", "elder_id": elders[i % len(elders)],
                       "item_id": offerings[i % len(offerings)].item_id, "state": "offered", "source": "phone",
                       "slot_code": "asap", "window_start_at": now + timedelta(hours=1),
                       "window_end_at": now + timedelta(hours=3), "created_at": now - timedelta(minutes=11),
                       "updated_at": now - timedelta(minutes=11)} for i in numbers]
            ids = session.scalars(insert(Order).returning(Order.id, sort_by_parameter_order=True), orders).all()
            session.execute(insert(Offer), [
                {"order_id": order_id, "provider_id": offerings[i % len(offerings)].provider_id,
                 "status": "offered", "rank": 1, "price_fen": offerings[i % len(offerings)].price_fen,
                 "distance_m": 500, "score": 1.0, "reasons": {}, "offered_at": now - timedelta(minutes=11),
                 "expires_at": now - timedelta(minutes=1)} for i, order_id in zip(numbers, ids, strict=True)])
    # A real backlog builds up over days, and the database's statistics with it; one written in
    # a second would leave the planner thinking the tables small (until autovacuum looks, up to
    # a minute later) and the run would measure that.
    with app.extensions["vnh.engine"].begin() as connection:
        connection.execute(text("ANALYZE"))
    app.extensions["vnh.engine"].dispose()
    return count


# -- signed-in users ----------------------------------------------------------------------------
def _sign_in(base: str, username: str) -> str:
    """The session cookie of a sign-in through the login form."""
    with urllib.request.urlopen(base + "/login", timeout=10) as response:
        page = response.read().decode()
        cookie = response.headers["Set-Cookie"].split(";", 1)[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = urllib.parse.urlencode({"csrf_token": token, "username": username, "password": PASSWORD}).encode()

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args, **kwargs):
            return None

    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(base + "/login", data=form, method="POST", headers={"Cookie": cookie})
    try:
        opener.open(request, timeout=30)
    except urllib.error.HTTPError as answer:
        if answer.code == 302:
            return answer.headers["Set-Cookie"].split(";", 1)[0]
        raise click.ClickException(f"sign-in of {username} answered {answer.code}") from None
    raise click.ClickException(f"sign-in of {username} did not redirect")


def _get(base: str, path: str, cookie: str) -> tuple[float, int]:
    request = urllib.request.Request(base + path, headers={"Cookie": cookie})
    began = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            response.read()
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    except OSError:
        status = 0
    return time.perf_counter() - began, status


def _poll(base: str, route: str, path: str, cookie: str, every: float, until: float, found: dict) -> None:
    """Ask for `path` every `every` seconds, from a random moment of the first period (or of the
    run, if shorter: every poller asks at least once)."""
    time.sleep(random.uniform(0, max(0.0, min(every, until - time.perf_counter() - 0.5))))
    while time.perf_counter() < until:
        began = time.perf_counter()
        elapsed, status = _get(base, path, cookie)
        found.setdefault(route, []).append(elapsed)
        if status != 200:
            found.setdefault("errors", []).append(f"{route} {status}")
        time.sleep(max(0.0, every - (time.perf_counter() - began)))


def _users(base: str, cookies: dict[str, list[str]], consoles: int, portal_users: int, seconds: float,
           ready, go, results) -> None:
    """The consoles, the portal users and the board, in a process of their own (their client
    threads do not share the webhook client's GIL)."""
    found: dict[str, list] = {}
    jobs = []
    for _ in range(consoles):
        for route, path, every in CONSOLE_POLLS:
            jobs.append((route, path, cookies["operator"][0], every))
    for n in range(portal_users):
        route, path, every = PORTAL_PAGE
        jobs.append((route, path, cookies["provider"][n % len(cookies["provider"])], every))
    if consoles:
        jobs.append((BOARD_POLL[0], BOARD_POLL[1], cookies["operator"][0], BOARD_POLL[2]))
    ready.set()
    go.wait(120)
    until = time.perf_counter() + seconds + 0.2
    threads = [threading.Thread(target=_poll, args=(base, route, path, cookie, every, until, found), daemon=True)
               for route, path, cookie, every in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 60)
    results.put(found)


def _sweep(url: str, seconds: float, ready, go, results) -> None:
    """The scheduler working off the backlog for `seconds`, as `vnh scheduler` does: at its CPU
    priority, a tick every VNH_TICK_S (at once if the last one overran); puts (offers expired,
    seconds each tick took, ticks failed)."""
    from sqlalchemy.exc import OperationalError

    from dispatcher import create_app
    from dispatcher.operations.sweepers import give_way_to_the_web, run_due_work

    give_way_to_the_web()
    app = create_app({"DATABASE_URL": url, "TELEPHONY": "local", "SECRET_KEY": "bench",
                      "TWILIO_AUTH_TOKEN": BENCH_TOKEN})
    tick_s = app.config["TICK_S"]
    ready.set()
    go.wait(120)
    until, expired, runs = time.perf_counter() + seconds, 0, []
    failed = 0
    while time.perf_counter() < until:
        began = time.perf_counter()
        try:
            counts = run_due_work(app, datetime.now(UTC))
            expired += counts["offers_expired"]
        except OperationalError:
            failed += 1  # a busy database: the scheduler logs it and tries at its next tick
        runs.append(time.perf_counter() - began)
        time.sleep(max(0.0, min(until - time.perf_counter(), tick_s - runs[-1])))
    app.extensions["vnh.engine"].dispose()
    results.put((expired, runs, failed))


# -- the runs -----------------------------------------------------------------------------------
def _alone(base: str, cookies: dict[str, list[str]], callers: list[str], rate: int, seconds: float) -> dict:
    """Each route with nothing else running: the webhooks at `rate` (as `vnh bench webhooks`),
    the pages one request at a time (at least 5 each, then until `seconds` have passed or 40 were
    asked, whichever is first: a page that takes seconds must not hold the bench for minutes)."""
    load = _Webhooks(base, BENCH_TOKEN, HOTLINE, callers)
    found: dict[str, list] = {"webhooks": load.run(rate, seconds),
                              "errors": ["webhook failed or timed out (alone)"] * load.failures}
    for route, path, _every in (*CONSOLE_POLLS, BOARD_POLL, PORTAL_PAGE):
        cookie = cookies["provider" if route == "portal" else "operator"][0]
        until = time.perf_counter() + seconds
        for n in range(40):
            if n >= 5 and time.perf_counter() > until:
                break
            elapsed, status = _get(base, path, cookie)
            found.setdefault(route, []).append(elapsed)
            if status != 200:
                found.setdefault("errors", []).append(f"{route} {status} (alone)")
    return found


def _mixed(base: str, url: str, cookies: dict[str, list[str]], callers: list[str], rate: int, seconds: float,
           consoles: int, portal_users: int) -> tuple[dict, int, list[float]]:
    context = multiprocessing.get_context("spawn")
    ready, sweeper_ready, go = context.Event(), context.Event(), context.Event()
    results, swept = context.Queue(), context.Queue()
    users = context.Process(target=_users, args=(base, cookies, consoles, portal_users, seconds, ready, go,
                                                 results))
    sweeper = context.Process(target=_sweep, args=(url, seconds, sweeper_ready, go, swept))
    users.start()
    sweeper.start()
    try:
        # Both processes import and build what they need first; then everything starts at once.
        if not (ready.wait(120) and sweeper_ready.wait(120)):
            raise click.ClickException("the consoles, portal users or sweepers did not start")
        go.set()
        load = _Webhooks(base, BENCH_TOKEN, HOTLINE, callers)
        webhooks = load.run(rate, seconds)
        found = results.get(timeout=seconds + 120)
        expired, runs, failed = swept.get(timeout=seconds + 600)
    finally:
        for process in (users, sweeper):
            process.join(10)
            if process.is_alive():
                process.terminate()
    found["webhooks"] = webhooks
    found["errors"] = found.get("errors", []) + ["webhook failed or timed out"] * load.failures
    found["sweeps failed"] = [failed]
    return found, expired, runs


def _stop(server) -> None:
    """Stop the server; one still finishing slow requests after 30 s is killed."""
    server.terminate()
    try:
        server.wait(30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait(10)


def _line(route: str, alone: list[float], mixed: list[float]) -> str:
    if not alone or not mixed:
        return f"{route:18} {'no requests':>10}"
    a50, a99 = _percentiles(alone)
    m50, m99 = _percentiles(mixed)
    return (f"{route:18} {len(mixed):>6} {a50:>8.1f}ms {a99:>8.1f}ms {m50:>8.1f}ms {m99:>8.1f}ms "
            f"{m50 / a50:>6.1f}× {m99 / a99:>6.1f}×")


@click.command("mixed")
@click.option("--seconds", default=10.0, show_default=True, help="How long the mixed load (and each route alone) runs.")
@click.option("--rate", default=100, show_default=True, help="Webhooks a second.")
@click.option("--consoles", default=50, show_default=True, help="Operator consoles polling.")
@click.option("--portal-users", default=20, show_default=True, help="Provider portal users.")
@click.option("--backlog", default=10000, show_default=True, help="Offers due at once for the sweepers.")
@click.option("--workers", default=2, show_default=True, help="Worker processes of the server.")
@click.option("--postgres-url", default=lambda: os.environ.get("VNH_BENCH_DATABASE_URL", ""),
              help="A PostgreSQL database to wipe and use (VNH_BENCH_DATABASE_URL); SQLite only without it.")
@click.option("--skip-sqlite", is_flag=True, help="Run on the PostgreSQL database only.")
def bench_mixed(seconds, rate, consoles, portal_users, backlog, workers, postgres_url, skip_sqlite):
    """Each route's p50/p99 alone and under the mixed load (webhooks, consoles, portal, board and a
    cold-snap sweep at once), with their ratio."""
    with tempfile.TemporaryDirectory(prefix="vnh-bench-mixed-") as directory:
        targets = [] if skip_sqlite and postgres_url else [("sqlite", f"sqlite:///{Path(directory) / 'bench.sqlite'}")]
        if postgres_url:
            targets.append(("postgresql", postgres_url))
        click.echo(f"server: gunicorn, {workers} worker processes × 8 threads, on {os.cpu_count()} cores shared "
                   f"with the load (webhooks: this process; consoles, portal, board: a second; the scheduler: a third)")
        click.echo(f"mixed load: {rate} webhooks/s, {consoles} consoles (transfers every 1 s, queue every 5 s), "
                   f"{portal_users} portal users (every 3 s), the board (every 2 s), {backlog} offers due at once")
        for name, url in targets:
            callers = _prepare(url)
            accounts = _accounts(url, min(4, max(1, portal_users)))
            _cold_snap(url, backlog)
            port = free_port()
            server = _serve_vnh(url, port, workers)
            base = f"http://127.0.0.1:{port}"
            try:
                _wait_for(port)
                cookies: dict[str, list[str]] = {"operator": [], "provider": []}
                for username, role in accounts:
                    cookies[role].append(_sign_in(base, username))
                # Warm every worker and thread (each builds its app, pools and caches on first use).
                _Webhooks(base, BENCH_TOKEN, HOTLINE, callers).run(20, 1)
                _Webhooks(base, BENCH_TOKEN, HOTLINE, callers).run(rate, 2)
                alone = _alone(base, cookies, callers, rate, seconds)
                # The same load for a few seconds first, not counted: each worker's pool opens the
                # connections the load needs and prepares its statements on them, as a server that
                # has been up a while has (the first seconds otherwise measure that).
                _mixed(base, url, cookies, callers, rate, WARM_UP_S, consoles, portal_users)
                before = cpu_seconds(server.pid)
                mixed, expired, runs = _mixed(base, url, cookies, callers, rate, seconds, consoles, portal_users)
                after = cpu_seconds(server.pid)
            finally:
                _stop(server)
            click.echo(f"\n{name}: route, requests under the mixed load, p50/p99 alone, p50/p99 mixed, ratios")
            click.echo(f"{'route':18} {'n':>6} {'alone p50':>10} {'alone p99':>10} {'mixed p50':>10} "
                       f"{'mixed p99':>10} {'p50 ×':>7} {'p99 ×':>7}")
            for route in ("webhooks", *(r for r, _, _ in CONSOLE_POLLS), BOARD_POLL[0], PORTAL_PAGE[0]):
                click.echo(_line(route, alone.get(route, []), mixed.get(route, [])))
            errors = alone.get("errors", []) + mixed.get("errors", [])
            click.echo(f"{name}: the scheduler expired {expired} of {backlog} due offers in {len(runs)} ticks "
                       f"({sum(runs):.1f} s of work; {mixed['sweeps failed'][0]} failed on a busy database); "
                       f"failed requests: {len(errors)}" + (f" (first: {errors[0]})" if errors else ""))
            if before is not None and after is not None:
                # The processes start idle and the load lasts `seconds`: CPU over it is cores in use.
                click.echo(f"{name}: the server used {after - before:.1f} s of CPU in the {seconds:g} s of mixed "
                           f"load, {(after - before) / seconds:.2f} of the machine's {os.cpu_count()} cores")
    click.echo("goal: webhooks' p99 under the mixed load < 100 ms on PostgreSQL")
