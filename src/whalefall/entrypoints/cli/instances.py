"""`whalefall instances list|add|show`."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from whalefall.application.instances.create_instance import CreateInstance, CreateInstanceInput
from whalefall.application.instances.instance_queries import GetInstance, ListInstances
from whalefall.application.ports.instances import InstanceQuery, InstanceRecord
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest, SortKey
from whalefall.domain.instances import CredentialId, DbEngine, InstanceId
from whalefall.entrypoints.cli.common import OutputFormat, app_container, emit, run

app = typer.Typer(help="Registered database instances.", no_args_is_help=True)
COLUMNS = ("id", "name", "db_type", "host", "port", "database_name", "is_active", "tags", "connection_status")
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def _row(record: InstanceRecord) -> dict[str, Any]:
    return {
        "id": record.id, "name": record.name, "db_type": record.db_type.value, "flavor": record.flavor,
        "host": record.host, "port": record.port, "database_name": record.database_name,
        "description": record.description, "is_active": record.is_active,
        "credential": record.credential.name if record.credential else None,
        "tags": ";".join(t.name for t in record.tags), "connection_status": record.connection_status,
        "version": record.version, "created_at": record.created_at.isoformat().replace("+00:00", "Z"),
        "deleted_at": record.deleted_at.isoformat().replace("+00:00", "Z") if record.deleted_at else None,
        "revision": record.revision,
    }


@app.command("list")
def list_command(
    fmt: FormatOption = OutputFormat.TABLE,
    db_type: Annotated[list[DbEngine] | None, typer.Option(help="filter by engine (repeatable)")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 200,
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """List non-deleted instances by name."""

    async def work() -> Page[InstanceRecord]:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(ListInstances)
            return await use_case.execute(Actor.system("cli"), InstanceQuery(db_types=frozenset(db_type or ())),
                                          PageRequest(page=page, limit=limit, sort=(SortKey("name"),)))

    result = run(work)
    emit([_row(r) for r in result.items], COLUMNS, fmt)


@app.command("show")
def show_command(instance_id: int, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """Show one instance (soft-deleted ones too)."""

    async def work() -> InstanceRecord:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(GetInstance)
            return await use_case.execute(Actor.system("cli"), InstanceId(instance_id))

    row = _row(run(work))
    emit([row], list(row), fmt, single=True)


@app.command("add")
def add_command(
    name: Annotated[str, typer.Option(help="unique instance name")],
    db_type: Annotated[DbEngine, typer.Option(help="mysql, postgresql, sqlserver or oracle")],
    host: Annotated[str, typer.Option(help="hostname, IPv4 or IPv6 address")],
    port: Annotated[int | None, typer.Option(help="default per engine")] = None,
    database_name: Annotated[str | None, typer.Option(help="database (Oracle: service name)")] = None,
    credential_id: Annotated[int | None, typer.Option(help="id of a stored credential")] = None,
    description: Annotated[str | None, typer.Option()] = None,
    tag: Annotated[list[str] | None, typer.Option(help="tag name (repeatable)")] = None,
    inactive: Annotated[bool, typer.Option("--inactive", help="register as inactive")] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Register an instance (same rules as POST /api/v1/instances)."""

    async def work() -> InstanceRecord:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(CreateInstance)
            return await use_case.execute(CreateInstanceInput(
                actor=Actor.system("cli"), name=name, db_type=db_type, host=host, port=port,
                database_name=database_name,
                credential_id=CredentialId(credential_id) if credential_id is not None else None,
                description=description, is_active=not inactive, tags=list(tag or ()), field_prefix="--"))

    row = _row(run(work))
    emit([row], list(row), fmt, single=True)
