"""`whalefall credentials rotate-key|key-usage`."""

from __future__ import annotations

import typer

from whalefall.application.instances.credentials import GetCredentialKeyUsage, RotateCredentialKeys, RotationOutcome
from whalefall.application.shared.actor import Actor
from whalefall.entrypoints.cli.common import app_container, run

app = typer.Typer(help="Stored credentials and their encryption keys.", no_args_is_help=True)


@app.command("rotate-key")
def rotate_key() -> None:
    """Re-encrypt every secret not yet under the active key (200 rows per transaction; resumable)."""

    async def work() -> RotationOutcome:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(RotateCredentialKeys)
            return await use_case.execute(Actor.system("cli"))

    outcome = run(work)
    typer.echo(f"rotated {outcome.rotated} credential(s) to key {outcome.active_key_id}")
    for key_id, count in sorted(outcome.usage.items()):
        typer.echo(f"  {key_id}: {count}")


@app.command("key-usage")
def key_usage() -> None:
    """Credentials per key id; a key may be removed from the keyring only at zero."""

    async def work() -> tuple[str, dict[str, int]]:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(GetCredentialKeyUsage)
            return await use_case.execute(Actor.system("cli"))

    active, usage = run(work)
    typer.echo(f"active key: {active}")
    for key_id, count in sorted(usage.items()):
        typer.echo(f"  {key_id}: {count}")
