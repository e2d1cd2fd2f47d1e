"""The `whalefall` command: one sub-command group per module."""

from __future__ import annotations

import typer

from whalefall.entrypoints.cli import credentials, db, instances, serve, users

app = typer.Typer(name="whalefall", help="Govern a fleet of databases.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(serve.serve_command)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(instances.app, name="instances")
app.add_typer(credentials.app, name="credentials")


def main() -> None:
    app()
