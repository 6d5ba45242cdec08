"""`vnh telephony …`: what the phone network needs from us, e.g. the SMS templates to file."""

from __future__ import annotations

import json

import click


@click.group()
def telephony():
    """The phone network: SMS templates to file with a carrier."""


@telephony.command("templates")
@click.option("--format", "fmt", type=click.Choice(["json", "text"]), default="text", show_default=True)
def list_templates(fmt: str):
    """List every outbound SMS template: code, purpose, text with ${name} placeholders, the
    longest rendering in characters (signature included) and in SMS segments."""
    from telephony.templates import listing

    rows = listing()
    if fmt == "json":
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    for row in rows:
        click.echo(f"{row['code']}  {row['purpose']}  ({row['audience']}) "
                   f"max {row['max_chars']} chars, {row['segments']} segment(s)")
        click.echo(f"    {row['signature']}{row['text']}")
        for name, param in row["params"].items():
            click.echo(f"    ${{{name}}}: ≤{param['max_chars']} {param['meaning']}")


def register(cli: click.Group) -> None:
    cli.add_command(telephony)
