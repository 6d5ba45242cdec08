"""Building the app for a command-line command, and the core's own commands (`init-db`).

Every package brings its commands in a `commands` module with a `register(cli)` function;
`dispatcher.cli` only gathers them.
"""

from __future__ import annotations

import click

from dispatcher.config import ConfigError


def app_for_command(**overrides):
    """Create the app from the environment; a bad setting is a clean command-line error."""
    from dispatcher import create_app

    try:
        return create_app(overrides or None)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def now_of(app):
    return app.extensions["vnh.clock"].now()


def prepare_database(app) -> int:
    """Bring the schema to the newest migration and load the service catalogue; return its size."""
    from dispatcher.catalogue import load_catalogue
    from dispatcher.db import session_scope
    from dispatcher.migrate import upgrade

    upgrade(app.extensions["vnh.engine"])
    with session_scope(app) as session:
        return load_catalogue(session)


def subgroup(cli: click.Group, name: str) -> click.Group:
    """A group another package registered (`bench`, `report`), for adding a command to it."""
    group = cli.commands.get(name)
    if not isinstance(group, click.Group):
        raise RuntimeError(f"`vnh {name}` must be registered before commands are added to it")
    return group


@click.command("init-db")
def init_db():
    """Create or upgrade the database schema and load the service catalogue."""
    app = app_for_command()
    items = prepare_database(app)
    click.echo(f"database ready at {app.extensions['vnh.engine'].url.render_as_string()}; "
               f"catalogue has {items} items")


def register(cli: click.Group) -> None:
    cli.add_command(init_db)
