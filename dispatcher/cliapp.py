"""Building the app for a command-line command."""

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
