"""`whalefall accounts list|show|history|filters-show|filters-set|filters-clear`: accounts, their current
permissions, their change log, and per-instance account filter overrides."""

from __future__ import annotations

from typing import Annotated, Any, Final

import typer

from whalefall.application.accounts.account_filters import (
    ClearAccountFilter,
    EffectiveAccountFilter,
    GetAccountFilter,
    SetAccountFilter,
    SetAccountFilterInput,
)
from whalefall.application.accounts.queries import (
    AccountPermissions,
    GetAccountPermissions,
    ListAccountChanges,
    ListAccounts,
)
from whalefall.application.ports.accounts import AccountQuery, AccountView, ChangeView
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest, SortKey
from whalefall.domain.instances import DbEngine, InstanceId
from whalefall.entrypoints.cli.common import OutputFormat, app_container, emit, run

app = typer.Typer(help="Accounts, permissions and the change log.", no_args_is_help=True)
ACTOR: Final = Actor.system("cli")
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
COLUMNS: Final = ("id", "instance", "kind", "key", "is_active", "login_capable", "is_locked", "is_superuser",
                  "last_changed_at")


def _when(value: Any) -> str | None:
    return None if value is None else value.isoformat().replace("+00:00", "Z")


def _row(a: AccountView) -> dict[str, Any]:
    return {"id": a.id, "instance": a.instance.name, "db_type": a.instance.db_type.value, "kind": a.kind.value,
            "namespace": a.namespace, "key": a.key, "is_active": a.is_active, "login_capable": a.login_capable,
            "is_locked": a.is_locked, "is_superuser": a.is_superuser, "password_expired": a.password_expired,
            "roles": ";".join(a.roles), "first_seen_at": _when(a.first_seen_at),
            "last_changed_at": _when(a.last_changed_at), "deactivation_reason": a.deactivation_reason}


@app.command("list")
def list_command(
    fmt: FormatOption = OutputFormat.TABLE,
    instance_id: Annotated[list[int] | None, typer.Option("--instance-id", help="repeatable")] = None,
    db_type: Annotated[list[DbEngine] | None, typer.Option(help="repeatable")] = None,
    q: Annotated[str | None, typer.Option(help="substring of the key")] = None,
    include_inactive: Annotated[bool, typer.Option("--include-inactive")] = False,
    superuser: Annotated[bool, typer.Option("--superuser", help="only superusers")] = False,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 200,
    page: Annotated[int, typer.Option(min=1)] = 1,
) -> None:
    """List accounts by instance name and key."""

    async def work() -> Page[AccountView]:
        async with app_container() as container, container() as scope:
            query = AccountQuery(instance_ids=frozenset(instance_id or ()), db_types=frozenset(db_type or ()), q=q,
                                 include_inactive=include_inactive, is_superuser=True if superuser else None)
            return await (await scope.get(ListAccounts)).execute(
                ACTOR, query, PageRequest(page, limit, (SortKey("instance_name"), SortKey("key"))))

    emit([_row(a) for a in run(work).items], COLUMNS, fmt)


@app.command("show")
def show_command(account_id: int, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """One account with its current grants and memberships."""

    async def work() -> AccountPermissions:
        async with app_container() as container, container() as scope:
            return await (await scope.get(GetAccountPermissions)).execute(ACTOR, account_id)

    result = run(work)
    row = _row(result.account)
    row["grants"] = [f"{g.privilege} {g.scope} {g.object_path}".strip() + (" WITH GRANT OPTION" if g.grant_option
                                                                           else "") for g in result.grants]
    row["memberships"] = [m.role.key for m in result.memberships]
    if fmt is OutputFormat.TABLE:
        row["grants"] = "\n".join(row["grants"])
        row["memberships"] = ", ".join(row["memberships"])
    emit([row], list(row), fmt, single=True)


@app.command("history")
def history_command(account_id: int, fmt: FormatOption = OutputFormat.TABLE,
                    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
                    page: Annotated[int, typer.Option(min=1)] = 1) -> None:
    """The account's change log, newest first."""

    async def work() -> Page[ChangeView]:
        async with app_container() as container, container() as scope:
            return await (await scope.get(ListAccountChanges)).execute(
                ACTOR, account_id, since=None, until=None, types=frozenset(),
                page=PageRequest(page, limit, (SortKey("observed_at", descending=True),)))

    rows = [{"id": c.id, "observed_at": _when(c.observed_at), "type": c.type, "summary": c.summary,
             "record_id": c.record_id, "session_id": c.session_id,
             **({"diff": dict(c.diff)} if fmt is OutputFormat.JSON else {})} for c in run(work).items]
    emit(rows, ("id", "observed_at", "type", "summary", "record_id"), fmt)


def _filter_row(result: EffectiveAccountFilter) -> dict[str, Any]:
    override = result.override
    return {"instance_id": result.instance_id, "engine": result.filter.engine.value,
            "source": "instance" if override else "settings", "exclude": list(result.filter.exclude),
            "exclude_oracle_maintained": result.filter.exclude_oracle_maintained,
            "updated_at": _when(override.updated_at) if override else None,
            "updated_by": override.updated_by_name if override else None}


@app.command("filters-show")
def filters_show_command(instance_id: int, fmt: FormatOption = OutputFormat.TABLE) -> None:
    """The account filter the next sync of the instance applies (its override, else the settings)."""

    async def work() -> EffectiveAccountFilter:
        async with app_container() as container, container() as scope:
            return await (await scope.get(GetAccountFilter)).execute(ACTOR, InstanceId(instance_id))

    row = _filter_row(run(work))
    if fmt is OutputFormat.TABLE:
        row["exclude"] = ", ".join(row["exclude"]) or "(nothing)"
    emit([row], list(row), fmt, single=True)


@app.command("filters-set")
def filters_set_command(
    instance_id: int,
    exclude: Annotated[list[str] | None, typer.Option("--exclude", help="pattern, repeatable; none = exclude "
                                                                        "nothing")] = None,
    oracle_maintained: Annotated[bool | None, typer.Option(
        "--exclude-oracle-maintained/--keep-oracle-maintained", help="Oracle only; default: the settings")] = None,
) -> None:
    """Replace the instance's account exclusions (takes effect at its next sync)."""

    async def work() -> None:
        async with app_container() as container, container() as scope:
            await (await scope.get(SetAccountFilter)).execute(SetAccountFilterInput(
                actor=ACTOR, instance_id=InstanceId(instance_id), exclude=tuple(exclude or ()),
                exclude_oracle_maintained=oracle_maintained, field_prefix="--"))

    run(work)
    typer.echo(f"account filter of instance {instance_id} set ({len(exclude or ())} pattern(s))")


@app.command("filters-clear")
def filters_clear_command(instance_id: int) -> None:
    """Remove the instance's override: the settings apply again from its next sync."""

    async def work() -> bool:
        async with app_container() as container, container() as scope:
            return await (await scope.get(ClearAccountFilter)).execute(ACTOR, InstanceId(instance_id))

    cleared = run(work)
    typer.echo(f"account filter override of instance {instance_id} " + ("removed" if cleared else "was not set"))
