"""`vnh provider …`: API tokens for providers' own systems."""

from __future__ import annotations

import click

from dispatcher.cliapp import app_for_command, now_of


@click.group()
def provider():
    """Providers (加盟企业): API tokens."""


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
