"""`vnh chaos`, `vnh serve`, `vnh scheduler` and `vnh status`: running the service and trying to break it."""

from __future__ import annotations

import logging
import secrets
import sqlite3
import tempfile
from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of
from dispatcher.commands import prepare_database as prepare_schema
from dispatcher.operations.chaos import SCENARIOS, Databases, prepare_database, run_scenario
from dispatcher.operations.outage import PrivateCluster, run_outage, run_soak, run_soak_undisturbed


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


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True)
@click.option("--workers", default=2, show_default=True, help="Web worker processes.")
@click.option("--threads", default=8, show_default=True, help="Threads per worker process.")
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Also run the scheduler tick, in one process of its own.")
def serve(host, port, workers, threads, scheduler):
    """Serve the web app with gunicorn and, by default, run the scheduler tick beside it."""
    import os

    from dispatcher.operations.server import serve as run_server

    if not os.environ.get("VNH_PUBLIC_URL"):
        os.environ["VNH_PUBLIC_URL"] = f"http://{host}:{port}"
    app = app_for_command()
    if not os.environ.get("VNH_SECRET_KEY"):
        # Local mode without a key (twilio mode refused to start above): one random key for every
        # worker process, or a sign-in answered by one worker is refused by the next.
        os.environ["VNH_SECRET_KEY"] = secrets.token_hex(32)
    prepare_schema(app)
    app.extensions["vnh.engine"].dispose()
    click.echo(f"vnh serving on http://{host}:{port} with {workers} worker processes "
               f"(telephony: {app.config['TELEPHONY']}; scheduler: {'on' if scheduler else 'off'})")
    run_server(host, port, workers, threads, scheduler)


@click.command("status")
def status_command():
    """Print the health report: database, scheduler lock holder, outbox backlog, overdue work."""
    from dispatcher.db import session_scope
    from dispatcher.operations.health import health_report

    app = app_for_command()
    with session_scope(app) as session:
        report = health_report(session, now_of(app))
    for key, value in report.items():
        click.echo(f"{key}: {value}")
    if not report["ok"]:
        raise SystemExit(1)


@click.command("scheduler")
def scheduler_command():
    """Run only the scheduler tick (one ticking process at a time on PostgreSQL)."""
    import time

    from dispatcher.operations.sweepers import start_scheduler

    app = app_for_command()
    start_scheduler(app)
    click.echo(f"scheduler ticking every {app.config['TICK_S']} s; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def register(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(status_command)
    cli.add_command(scheduler_command)
    cli.add_command(chaos_command)
