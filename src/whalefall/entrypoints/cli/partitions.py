"""`whalefall partitions plan|apply` (monthly partitions of the PostgreSQL metadata store)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from whalefall.application.partitions.maintain_partitions import (
    ApplyOutcome,
    ApplyPartitionPlan,
    PlanOutcome,
    PlanPartitions,
)
from whalefall.application.shared.actor import Actor
from whalefall.entrypoints.cli.common import OutputFormat, app_container, emit, run

app = typer.Typer(help="Monthly partitions of the metadata store.", no_args_is_help=True)
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
COLUMNS = ("action", "table", "name", "lower", "upper", "detail")


@app.command("plan")
def plan_command(
    today: Annotated[datetime | None, typer.Option("--today", formats=["%Y-%m-%d"])] = None,
    premake_months: Annotated[int | None, typer.Option(min=0, max=24)] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Dry run: what maintenance would create, drop or leave alone."""

    async def work() -> PlanOutcome:
        async with app_container() as container, container() as scope:
            return await (await scope.get(PlanPartitions)).execute(
                Actor.system("cli"), today=today.date() if today else None, premake_months=premake_months)

    outcome = run(work)
    if outcome.plan is None:
        typer.echo(f"not partitioned: {outcome.reason}")
        return
    plan = outcome.plan
    rows = ([{"action": "create", "table": s.table, "name": s.name, "lower": s.lower, "upper": s.upper}
             for s in plan.create]
            + [{"action": "create_default", "table": t, "name": f"{t}_default"} for t in plan.create_default]
            + [{"action": "drop", "table": d.table, "name": d.name, "lower": d.lower, "upper": d.upper}
               for d in plan.drop]
            + [{"action": "ignore", "table": i.partition.table, "name": i.partition.name, "detail": i.reason}
               for i in plan.ignored])
    emit(rows, COLUMNS, fmt)
    if fmt is OutputFormat.TABLE:
        typer.echo(f"write horizon {plan.write_horizon}; " + "; ".join(
            f"{t} cutoff {c}" for t, c in sorted(plan.cutoffs.items())))


@app.command("apply")
def apply_command(
    cleanup: Annotated[bool, typer.Option("--cleanup", help="retention drops only")] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Plan for today and execute it now (one transaction per action). On SQLite: "not partitioned", exit 0."""

    async def work() -> ApplyOutcome:
        async with app_container() as container, container() as scope:
            return await (await scope.get(ApplyPartitionPlan)).execute(Actor.system("cli"), drops_only=cleanup)

    outcome = run(work)
    if not outcome.supported:
        typer.echo(f"not partitioned: {outcome.reason}")
        return
    rows = [{"action": o.action, "table": o.table, "name": o.name,
             "detail": o.error if not o.ok else (o.skipped_reason or f"ok, moved {o.moved_rows}")}
            for o in outcome.report.outcomes]
    emit(rows, COLUMNS, fmt)
    if outcome.report.failed:
        raise typer.Exit(1)
