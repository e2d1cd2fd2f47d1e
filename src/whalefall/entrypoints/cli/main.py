"""The `whalefall` command: one sub-command group per module."""

from __future__ import annotations

import typer

from whalefall.entrypoints.cli import (
    accounts,
    capacity,
    classify,
    credentials,
    db,
    instances,
    partitions,
    pipelines,
    rules,
    scheduler,
    serve,
    sync,
    users,
    worker,
)

app = typer.Typer(name="whalefall", help="Govern a fleet of databases.", no_args_is_help=True,
                  pretty_exceptions_enable=False)
app.command("serve")(serve.serve_command)
app.command("worker")(worker.worker_command)
app.command("scheduler")(scheduler.scheduler_command)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(instances.app, name="instances")
app.add_typer(credentials.app, name="credentials")
app.add_typer(sync.app, name="sync")
app.add_typer(accounts.app, name="accounts")
app.add_typer(capacity.app, name="capacity")
app.add_typer(partitions.app, name="partitions")
app.add_typer(rules.app, name="rules")
app.add_typer(pipelines.app, name="pipelines")
app.command("classify")(classify.classify_command)


def main() -> None:
    app()
