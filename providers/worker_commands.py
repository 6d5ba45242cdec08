"""`vnh worker …`: a provider's workers on record (服务人员) — add, list, change, deactivate, certificates."""

from __future__ import annotations

import json

import click

from dispatcher.commands import app_for_command, now_of


@click.group()
def worker():
    """Workers on record (服务人员): who may check in and out of a provider's visits."""


def _items(text: str | None) -> list[str] | None:
    return [code.strip() for code in text.split(",") if code.strip()] if text else None


def _provider(session, code):
    from providers.queries import provider_by_code

    found = provider_by_code(session, code)
    if found is None:
        raise click.ClickException(f"no provider with code {code!r}")
    return found


def _worker(session, provider, work_number):
    from providers.workers import worker_by_work_number

    found = worker_by_work_number(session, provider.id, work_number)
    if found is None:
        raise click.ClickException(f"no worker {work_number!r} at provider {provider.code}")
    return found


@worker.command("add")
@click.option("--provider", "code", required=True, help="The provider's code.")
@click.option("--name", required=True)
@click.option("--phone", required=True, help="The worker's own mobile; SMS from it names the worker.")
@click.option("--id-number", required=True, help="Resident ID number (stored, shown masked).")
@click.option("--items", default=None, help="Item codes the worker may do, comma-separated (default: all).")
@click.option("--work-number", default="", help="The provider's work number (default: the next free one).")
def add_command(code, name, phone, id_number, items, work_number):
    """Put a worker on a provider's record and print the work number."""
    from dispatcher.db import session_scope
    from providers.workers import WorkerError, WorkerFields, add_worker

    app = app_for_command()
    try:
        with session_scope(app) as session:
            provider = _provider(session, code)
            added = add_worker(session, provider, WorkerFields(name, phone, id_number, _items(items), work_number),
                               now_of(app))
            number = added.work_number
    except WorkerError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo(number)


@worker.command("list")
@click.option("--provider", "code", required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_command(code, fmt):
    """List a provider's workers, ID numbers and mobiles masked."""
    from dispatcher.db import session_scope
    from providers.workers import certificates_of, masked, workers_of

    app = app_for_command()
    with session_scope(app) as session:
        provider = _provider(session, code)
        rows = []
        for found in workers_of(session, provider.id):
            row = masked(found)
            row["certificates"] = [{"kind": c.kind, "level": c.level,
                                    "expires_on": c.expires_on.isoformat() if c.expires_on else None}
                                   for c in certificates_of(session, found.id)]
            rows.append(row)
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        state = "" if row["active"] else " (inactive)"
        items = ",".join(row["items"]) or "all items"
        click.echo(f"{row['work_number']}\t{row['name']}\t{row['phone']}\t{row['id_number']}\t{items}{state}")


@worker.command("edit")
@click.option("--provider", "code", required=True)
@click.argument("work_number")
@click.option("--name", default=None)
@click.option("--phone", default=None)
@click.option("--id-number", default=None)
@click.option("--items", default=None, help="Item codes, comma-separated; 'all' for every item.")
def edit_command(code, work_number, name, phone, id_number, items):
    """Change a worker's name, mobile, ID number or items."""
    from dispatcher.db import session_scope
    from providers.workers import WorkerError, WorkerFields, update_worker

    app = app_for_command()
    try:
        with session_scope(app) as session:
            found = _worker(session, _provider(session, code), work_number)
            kept = found.items.split(",") if found.items else None
            update_worker(session, found, WorkerFields(
                name or found.name, phone or found.phone, id_number or found.id_number,
                kept if items is None else (None if items == "all" else _items(items))))
    except WorkerError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo(f"worker {work_number} updated")


@worker.command("deactivate")
@click.option("--provider", "code", required=True)
@click.argument("work_number")
@click.option("--reactivate", is_flag=True)
def deactivate_command(code, work_number, reactivate):
    """Deactivate a worker (they can no longer check in), or reactivate them."""
    from dispatcher.db import session_scope
    from providers.workers import set_active

    app = app_for_command()
    with session_scope(app) as session:
        set_active(session, _worker(session, _provider(session, code), work_number), reactivate)
    click.echo(f"worker {work_number} {'active' if reactivate else 'inactive'}")


@worker.command("certificate")
@click.option("--provider", "code", required=True)
@click.argument("work_number")
@click.option("--kind", required=True, help="e.g. 养老护理员, 健康证")
@click.option("--level", default=None)
@click.option("--expires", type=click.DateTime(["%Y-%m-%d"]), default=None)
def certificate_command(code, work_number, kind, level, expires):
    """Record a certificate a worker holds, with its expiry date."""
    from dispatcher.db import session_scope
    from providers.workers import WorkerError, add_certificate

    app = app_for_command()
    try:
        with session_scope(app) as session:
            found = _worker(session, _provider(session, code), work_number)
            add_certificate(session, found, kind, level, expires.date() if expires else None)
    except WorkerError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo(f"certificate {kind} recorded for {work_number}")


@worker.command("shared")
def shared_command():
    """Workers on record at more than one provider (same ID number), for supervisors."""
    from dispatcher.db import session_scope
    from dispatcher.enrollment.identity import mask_id_number
    from providers.models import Provider
    from providers.workers import workers_at_several_providers

    app = app_for_command()
    with session_scope(app) as session:
        for id_number, found in workers_at_several_providers(session):
            at = ", ".join(f"{session.get(Provider, w.provider_id).code}:{w.work_number}" for w in found)
            click.echo(f"{mask_id_number(id_number)}\t{found[0].name}\t{at}")

