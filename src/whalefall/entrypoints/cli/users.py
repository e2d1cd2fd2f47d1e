"""`whalefall users create-admin`: the first admin (no default password ever exists)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from whalefall.application.identity.create_user import CreateUser, CreateUserInput
from whalefall.application.shared.actor import Actor
from whalefall.domain.identity.roles import Role
from whalefall.entrypoints.cli.common import app_container, run

app = typer.Typer(help="User administration.", no_args_is_help=True)


@app.command("create-admin")
def create_admin(
    username: Annotated[str, typer.Option(help="Username of the new admin")] = "admin",
) -> None:
    """Create an active admin. The password comes from WHALEFALL_ADMIN_PASSWORD or is prompted twice."""
    password = os.environ.get("WHALEFALL_ADMIN_PASSWORD") or typer.prompt(
        "Password", hide_input=True, confirmation_prompt=True)

    async def work() -> int:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(CreateUser)
            user = await use_case.execute(CreateUserInput(
                actor=Actor.system("system"), username=username, password=password, role=Role.ADMIN,
                must_change_password=False))
            return user.id

    user_id = run(work)
    typer.echo(f"created admin {username!r} (id {user_id})")
