"""`whalefall sync accounts [--instance NAME] [--wait]`: queue an account sync, optionally follow it to the end.

Without Redis (in-memory broker) no other process can take the task, so the command runs the embedded worker in
its own event loop and always follows the session to its end, as `serve` would run it."""

from __future__ import annotations

from typing import Annotated, Final

import typer
from dishka import AsyncContainer

from whalefall.application.accounts.start_accounts_sync import (
    AccountsSyncSelection,
    StartAccountsSync,
    StartAccountsSyncInput,
)
from whalefall.application.ports.sessions import SessionView
from whalefall.application.shared.actor import Actor
from whalefall.domain.sessions.sessions import SessionStatus
from whalefall.entrypoints.cli.common import OutputFormat, emit, run
from whalefall.entrypoints.cli.session_commands import instance_id_by_name, progress_follower, start_and_follow

app = typer.Typer(help="Queue synchronisations.", no_args_is_help=True)
ACTOR: Final = Actor.system("cli")
#: Exit code when the followed session ends failed, partial or cancelled.
SESSION_NOT_COMPLETED: Final = 8
FOLLOW: Final = progress_follower("accounts sync")


async def _start(container: AsyncContainer, instance: str | None) -> SessionView:
    instance_id = await instance_id_by_name(container, instance) if instance is not None else None
    async with container() as scope:
        use_case = await scope.get(StartAccountsSync)
        selection = AccountsSyncSelection(instance_ids=(instance_id,) if instance_id is not None else None)
        return await use_case.execute(StartAccountsSyncInput(actor=ACTOR, selection=selection))


@app.command("accounts")
def accounts_command(
    instance: Annotated[str | None, typer.Option("--instance", help="instance name (default: the whole fleet)")]
    = None,
    wait: Annotated[bool, typer.Option("--wait", help="follow the session until it ends")] = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait at most")] = 3600,
    fmt: Annotated[OutputFormat, typer.Option("--format", help="table or json")] = OutputFormat.TABLE,
) -> None:
    """Queue an account sync (one instance, or every active instance) through the task queue; a worker runs it.
    With --wait (always without Redis, where this process runs the worker), show a progress bar and exit non-zero
    unless the session completes."""
    session, followed = run(lambda: start_and_follow(lambda container: _start(container, instance), FOLLOW, wait=wait,
                                                     timeout_s=timeout_s))
    emit([{"session_id": session.id, "scope": session.scope.value, "status": session.status.value,
           "total": session.total, "succeeded": session.succeeded, "failed": session.failed,
           "skipped": session.skipped}],
         ("session_id", "scope", "status", "total", "succeeded", "failed", "skipped"), fmt, single=True)
    if followed and session.status is not SessionStatus.COMPLETED:
        raise typer.Exit(SESSION_NOT_COMPLETED)
