"""`whalefall classify [--instance NAME]`: queue auto-classify for the fleet or one instance."""

from __future__ import annotations

from typing import Annotated, Final

import typer

from whalefall.application.classification.start_classification import (
    ClassificationSelection,
    StartClassification,
    StartClassificationInput,
)
from whalefall.application.instances.instance_queries import ListInstances
from whalefall.application.ports.instances import InstanceQuery
from whalefall.application.ports.sessions import SessionView
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.errors import NotFoundError
from whalefall.entrypoints.cli.common import app_container, run

ACTOR: Final = Actor.system("cli")


async def _start(instance: str | None) -> SessionView:
    async with app_container() as container, container() as scope:
        instance_ids: tuple[int, ...] | None = None
        if instance is not None:
            page = await (await scope.get(ListInstances)).execute(
                ACTOR, InstanceQuery(q=instance), PageRequest(1, 200, (SortKey("name"),)))
            match = next((i for i in page.items if i.name.lower() == instance.lower()), None)
            if match is None:
                raise NotFoundError("instance", instance)
            instance_ids = (int(match.id),)
        use_case = await scope.get(StartClassification)
        return await use_case.execute(StartClassificationInput(
            actor=ACTOR, selection=ClassificationSelection(instance_ids=instance_ids)))


def classify_command(
    instance: Annotated[str | None, typer.Option("--instance", help="Only this instance (by name)")] = None,
) -> None:
    """Queue a classification session (one record per engine with rules or assignments) and print its id."""
    session = run(lambda: _start(instance))
    typer.echo(f"session {session.id} ({session.scope.value}, {session.total} record(s)) queued")
