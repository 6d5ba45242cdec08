"""`vnh provider …`: the registry (contract, area, capacity, hours, days off, phones, prices) and API tokens."""

from __future__ import annotations

import click

from dispatcher.commands import app_for_command, now_of


@click.group()
def provider():
    """Providers (加盟企业): registry and API tokens."""


@provider.command("token")
@click.argument("code")
@click.option("--label", default="", help="What the token is for, e.g. the provider's system name.")
def issue_token_command(code, label):
    """Create an API token for provider CODE and print it once (only its hash is kept)."""
    from dispatcher.db import session_scope
    from providers.queries import provider_by_code
    from providers.tokens import issue_token

    app = app_for_command()
    with session_scope(app) as session:
        found = provider_by_code(session, code)
        if found is None:
            raise click.ClickException(f"no provider with code {code!r}")
        row, token = issue_token(session, found.id, label.strip(), now_of(app))
        token_id = row.id
    click.echo(f"token {token_id} for {code}: {token}")
    click.echo("store it now: it is not shown again; `vnh provider revoke-token "
               f"{token_id}` revokes it")


@provider.command("revoke-token")
@click.argument("token_id", type=int)
def revoke_token_command(token_id):
    """Revoke API token ID at once."""
    from dispatcher.db import session_scope
    from providers.tokens import revoke_token

    app = app_for_command()
    with session_scope(app) as session:
        row = revoke_token(session, token_id, now_of(app))
        if row is None:
            raise click.ClickException(f"no API token {token_id}")
    click.echo(f"token {token_id} revoked")


def _edit(code, change):
    """Apply `change(session, provider)` to provider CODE and commit; a RegistryError names the field."""
    from dispatcher.db import session_scope
    from providers.queries import provider_by_code
    from providers.registry import RegistryError

    app = app_for_command()
    try:
        with session_scope(app) as session:
            found = provider_by_code(session, code)
            if found is None:
                raise click.ClickException(f"no provider with code {code!r}")
            change(session, found)
            summary = describe(found)
    except RegistryError as exc:
        raise click.ClickException(f"refused, nothing changed: {exc}") from None
    click.echo(summary)


def describe(provider) -> str:
    """The registry record of a provider, one field a line."""
    contract = provider.contract_status
    if provider.contract_starts_on or provider.contract_ends_on:
        contract += f" {provider.contract_starts_on or '…'} – {provider.contract_ends_on or '…'}"
    if provider.contract_reason:
        contract += f" ({provider.contract_reason})"
    slot = "no limit" if provider.capacity_per_slot is None else provider.capacity_per_slot
    lines = [
        f"{provider.code} {provider.name}",
        f"  contract:   {contract}",
        f"  area:       {provider.service_radius_m / 1000:g} km from the base"
        + (f"; communities {', '.join(c.community for c in provider.communities)}" if provider.communities else ""),
        f"  capacity:   {provider.capacity_per_day} a day, {slot} a slot",
        f"  hours:      {provider.opens_at:%H:%M}-{provider.closes_at:%H:%M}",
        f"  days off:   {', '.join(str(d.day) for d in provider.days_off) or 'none'}",
        f"  phones:     {', '.join(provider.dispatch_phones)}",
    ]
    return "\n".join(lines)


@provider.command("show")
@click.argument("code")
def show_command(code):
    """Print provider CODE's registry record."""
    _edit(code, lambda session, found: None)


@provider.command("contract")
@click.argument("code")
@click.option("--status", type=click.Choice(["active", "suspended", "terminated"]), required=True)
@click.option("--starts", "starts_on", help="First day of the contract (YYYY-MM-DD; - clears).")
@click.option("--ends", "ends_on", help="Last day of the contract (YYYY-MM-DD; - clears).")
@click.option("--reason", default="", help="Why; required to suspend or terminate.")
def contract_command(code, status, starts_on, ends_on, reason):
    """Set provider CODE's contract status, dates and reason."""
    from providers.registry import set_contract

    _edit(code, lambda session, found: set_contract(found, status=status, starts_on=starts_on,
                                                    ends_on=ends_on, reason=reason))


@provider.command("area")
@click.argument("code")
@click.option("--radius-km", help="Service radius from the base, in km (more than 0).")
@click.option("--community", "communities", multiple=True,
              help="A community served wherever it lies (repeat; replaces the list).")
@click.option("--no-communities", is_flag=True, help="Clear the list of communities.")
def area_command(code, radius_km, communities, no_communities):
    """Set provider CODE's service area: a radius and/or communities (an elder in either is inside)."""
    from providers.registry import set_area

    listed = [] if no_communities else (list(communities) if communities else None)
    _edit(code, lambda session, found: set_area(session, found, radius_km=radius_km, communities=listed))


@provider.command("capacity")
@click.argument("code")
@click.option("--per-day", help="Jobs a day.")
@click.option("--per-slot", help="Jobs a half-day slot (- for no limit).")
def capacity_command(code, per_day, per_slot):
    """Set provider CODE's capacity per day and per slot."""
    from providers.registry import set_capacity

    _edit(code, lambda session, found: set_capacity(found, per_day=per_day, per_slot=per_slot))


@provider.command("hours")
@click.argument("code")
@click.argument("hours")
def hours_command(code, hours):
    """Set provider CODE's working hours, like 08:00-18:00."""
    from providers.registry import set_hours

    _edit(code, lambda session, found: set_hours(found, hours))


@provider.command("day-off")
@click.argument("code")
@click.argument("days", nargs=-1, required=True)
@click.option("--reason", default="")
@click.option("--remove", is_flag=True, help="Open on these days again.")
def day_off_command(code, days, reason, remove):
    """Close provider CODE on DAYS (YYYY-MM-DD), or open it again with --remove."""
    from providers.registry import add_day_off, parse_day, remove_day_off

    def change(session, found):
        for day in days:
            parse_day("day", day)
        for day in days:
            (remove_day_off(session, found, day) if remove else add_day_off(session, found, day, reason))
        session.expire(found, ["days_off"])

    _edit(code, change)


@provider.command("phones")
@click.argument("code")
@click.argument("phones", nargs=-1, required=True)
def phones_command(code, phones):
    """Set provider CODE's dispatch phones: the first is the main one; every one gets job SMS."""
    from providers.registry import set_phones

    _edit(code, lambda session, found: set_phones(session, found, list(phones)))


@provider.command("price")
@click.argument("code")
@click.argument("item_code")
@click.argument("price_yuan")
def price_command(code, item_code, price_yuan):
    """Offer ITEM_CODE at PRICE_YUAN (0 if free; at most 80% of the market price)."""
    from providers.registry import set_price

    def change(session, found):
        offering = set_price(session, found, item_code, price_yuan)
        click.echo(f"{found.code} sells {item_code} at {offering.price_fen / 100:.2f} yuan")

    _edit(code, change)


def register(cli: click.Group) -> None:
    from dispatcher.commands import subgroup
    from providers.bench import bench_match
    from providers.worker_commands import worker

    cli.add_command(provider)
    cli.add_command(worker)
    subgroup(cli, "bench").add_command(bench_match)
