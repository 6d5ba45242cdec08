"""`vnh family …` (an elder's family in the loop) and `vnh report visits` (EVV's six facts per visit)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from dispatcher.commands import app_for_command, now_of, subgroup


@click.group()
def family():
    """Family members (家属): visit SMS, the monthly statement, the review for an elder who cannot answer."""


def _elder(session, id_number):
    from sqlalchemy import select

    from dispatcher.models import Elder

    found = session.scalar(select(Elder).where(Elder.id_number == id_number.strip().upper()))
    if found is None:
        raise click.ClickException("no elder with that ID number")
    return found


@family.command("add")
@click.option("--id-number", required=True, help="The elder's ID number.")
@click.option("--name", required=True)
@click.option("--phone", required=True, help="A mobile gets SMS; a landline a short call.")
@click.option("--relation", required=True, help="e.g. 女儿, 儿子, 老伴")
@click.option("--visit-sms", is_flag=True, help="Tell them when the worker checks in and out.")
@click.option("--statement", is_flag=True, help="Send them the monthly statement.")
@click.option("--review-contact", is_flag=True, help="They answer the callback review if the elder is so flagged.")
def add_command(id_number, name, phone, relation, visit_sms, statement, review_contact):
    """Name a family member of an elder."""
    from dispatcher.db import session_scope
    from dispatcher.lifecycle.family import FamilyError, FamilyFields, add_family_member

    app = app_for_command()
    try:
        with session_scope(app) as session:
            member = add_family_member(session, _elder(session, id_number), FamilyFields(
                name, phone, relation, visit_sms, statement, review_contact), now_of(app))
            member_id = member.id
    except FamilyError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo(f"family member {member_id} added")


@family.command("list")
@click.option("--id-number", required=True)
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
def list_command(id_number, fmt):
    """List an elder's family members (phones masked) and whether the review goes to them."""
    from dispatcher.db import session_scope
    from telephony.numbers import mask_phone

    app = app_for_command()
    with session_scope(app) as session:
        elder = _elder(session, id_number)
        rows = [{"id": m.id, "name": m.name, "relation": m.relation, "phone": mask_phone(m.phone),
                 "visit_sms": m.wants_visit_sms, "statement": m.wants_statement,
                 "review_contact": m.is_review_contact} for m in elder.family_members]
        via_family = elder.is_reviewed_via_family
    if fmt == "json":
        click.echo(json.dumps({"reviewed_via_family": via_family, "members": rows}, ensure_ascii=False, indent=2))
        return
    click.echo(f"review via family: {'yes' if via_family else 'no'}")
    for row in rows:
        flags = ",".join(k for k in ("visit_sms", "statement", "review_contact") if row[k]) or "-"
        click.echo(f"{row['id']}\t{row['name']}\t{row['relation']}\t{row['phone']}\t{flags}")


@family.command("remove")
@click.option("--id-number", required=True)
@click.argument("member_id", type=int)
def remove_command(id_number, member_id):
    """Take a family member off an elder's record."""
    from dispatcher.db import session_scope
    from dispatcher.lifecycle.family import remove_family_member

    app = app_for_command()
    with session_scope(app) as session:
        elder = _elder(session, id_number)
        member = next((m for m in elder.family_members if m.id == member_id), None)
        if member is None:
            raise click.ClickException(f"no family member {member_id} for that elder")
        remove_family_member(session, member)
    click.echo(f"family member {member_id} removed")


@family.command("review-via-family")
@click.option("--id-number", required=True)
@click.option("--off", is_flag=True, help="The elder answers the review again.")
def review_via_family_command(id_number, off):
    """Flag an elder who cannot answer reliably: the callback review calls the family contact."""
    from dispatcher.db import session_scope
    from dispatcher.lifecycle.family import FamilyError, set_reviewed_via_family

    app = app_for_command()
    try:
        with session_scope(app) as session:
            set_reviewed_via_family(session, _elder(session, id_number), not off)
    except FamilyError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo("review via family: " + ("off" if off else "on"))


@family.command("statements")
@click.option("--month", required=True, help="YYYY-MM")
def statements_command(month):
    """Send the month's statement (visits, co-pay) to every family member who opted in."""
    from billing.months import MonthError, parse_month
    from dispatcher.config import Settings
    from dispatcher.db import session_scope
    from dispatcher.programmes.family_statements import send_statements

    try:
        month = parse_month(month)
    except MonthError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    app = app_for_command()
    with session_scope(app) as session:
        told = send_statements(session, month, Settings(app.config), now_of(app))
    click.echo(f"statements for {month}: {told} family members told")


@click.command("visits")
@click.option("--month", required=True, help="YYYY-MM")
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True)
@click.option("--output", required=True, type=click.Path(dir_okay=False, path_type=Path))
def report_visits(month, fmt, output):
    """Every visit checked in during the month with EVV's six facts and how each was proved."""
    from billing.exports import Column, Table, write_report
    from billing.months import MonthError, parse_month
    from dispatcher.db import session_scope
    from dispatcher.lifecycle.evv import VISIT_COLUMNS, visit_rows

    try:
        month = parse_month(month)
    except MonthError as exc:
        raise click.BadParameter(str(exc), param_hint="--month") from None
    app = app_for_command()
    with session_scope(app) as session:
        rows = visit_rows(session, month)
    try:
        count = write_report([Table("visits", [Column(c) for c in VISIT_COLUMNS], rows)], fmt, output)
    except OSError as exc:
        raise click.ClickException(f"--output: cannot write {output}: {exc.strerror}") from None
    click.echo(f"wrote {count} visits for {month} to {output}")


def register(cli: click.Group) -> None:
    cli.add_command(family)
    subgroup(cli, "report").add_command(report_visits)
