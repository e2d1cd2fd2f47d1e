"""`whalefall db upgrade`: apply pending migrations to the configured metadata store."""

from __future__ import annotations

import typer

from whalefall.entrypoints.cli.common import app_container, run
from whalefall.entrypoints.di.runtime import upgrade_store

app = typer.Typer(help="Metadata store maintenance.", no_args_is_help=True)


@app.command("upgrade")
def upgrade_command() -> None:
    """Upgrade the metadata store schema to the newest revision."""

    async def work() -> tuple[str | None, str]:
        async with app_container() as container:
            return await upgrade_store(container)

    before, head = run(work)
    typer.echo(f"metadata store at revision {head} (was {before or 'empty'})")
