"""`whalefall capacity collect|refresh-tables` (queued) and `aggregate|forecast` (synchronous in the CLI process)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final

import typer
from dishka import AsyncContainer

from whalefall.application.capacity.aggregate_capacity import (
    AggregateCapacity,
    AggregateCapacityInput,
    AggregationOutcome,
    backfill_windows,
    resolve_window,
)
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.capacity.forecast_capacity import (
    CapacityForecast,
    ForecastCapacity,
    ForecastCapacityInput,
)
from whalefall.application.capacity.refresh_table_sizes import StartTableSizeRefresh
from whalefall.application.capacity.start_capacity_collection import (
    CapacitySelection,
    StartCapacityCollection,
    StartCapacityCollectionInput,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.sessions import SessionView
from whalefall.application.shared.actor import Actor
from whalefall.domain.capacity import PeriodType
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.sessions.sessions import SessionStatus
from whalefall.entrypoints.cli.common import OutputFormat, app_container, emit, run
from whalefall.entrypoints.cli.session_commands import instance_id_by_name, progress_follower, start_and_follow

app = typer.Typer(help="Capacity collection, aggregation and forecasts.", no_args_is_help=True)
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]
ACTOR: Final = Actor.system("cli")
#: Exit code when the followed session ends failed, partial or cancelled (as `sync accounts --wait`).
SESSION_NOT_COMPLETED: Final = 8
SESSION_COLUMNS: Final = ("session_id", "kind", "scope", "status", "total", "succeeded", "failed", "skipped")
WaitOption = Annotated[bool, typer.Option("--wait", help="follow the session until it ends")]
TimeoutOption = Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait at most")]
FOLLOW: Final = progress_follower("capacity")


def _finish(start: Callable[[AsyncContainer], Awaitable[SessionView]], *, wait: bool, timeout_s: float,
            fmt: OutputFormat) -> None:
    session, followed = run(lambda: start_and_follow(start, FOLLOW, wait=wait, timeout_s=timeout_s))
    emit([{"session_id": session.id, "kind": session.kind.value, "scope": session.scope.value,
           "status": session.status.value, "total": session.total, "succeeded": session.succeeded,
           "failed": session.failed, "skipped": session.skipped}], SESSION_COLUMNS, fmt, single=True)
    if followed and session.status is not SessionStatus.COMPLETED:
        raise typer.Exit(SESSION_NOT_COMPLETED)


@app.command("collect")
def collect_command(
    instance: Annotated[str | None, typer.Option("--instance", help="instance name (default: the whole fleet)")]
    = None,
    include_tables: Annotated[bool | None, typer.Option("--tables/--no-tables",
                                                        help="force table sizes on or off (default: per instance)")]
    = None,
    wait: WaitOption = False, timeout_s: TimeoutOption = 3600, fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Queue a capacity collection (one instance, or every active instance); a worker runs it. With --wait,
    follow it and exit 8 unless the session ends `completed` (skipped records, NOTHING_TO_DO included, are fine)."""

    async def start(container: AsyncContainer) -> SessionView:
        instance_id = await instance_id_by_name(container, instance) if instance is not None else None
        async with container() as scope:
            use_case = await scope.get(StartCapacityCollection)
            selection = CapacitySelection(instance_ids=(instance_id,) if instance_id is not None else None)
            return await use_case.execute(StartCapacityCollectionInput(actor=ACTOR, selection=selection,
                                                                       include_tables=include_tables))

    _finish(start, wait=wait, timeout_s=timeout_s, fmt=fmt)


@app.command("refresh-tables")
def refresh_tables_command(
    database: Annotated[int, typer.Option("--database", min=1, help="ledger database id (GET /databases)")],
    wait: WaitOption = False, timeout_s: TimeoutOption = 3600, fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Queue a table-size refresh of one ledger database (session kind `table_sizes`)."""

    async def start(container: AsyncContainer) -> SessionView:
        async with container() as scope:
            return await (await scope.get(StartTableSizeRefresh)).execute(ACTOR, database)

    _finish(start, wait=wait, timeout_s=timeout_s, fmt=fmt)


class PeriodChoice(StrEnum):
    ALL = "all"
    DAILY = "daily"
    WEEKLY = "weekly"
    MONTHLY = "monthly"
    QUARTERLY = "quarterly"
    YEARLY = "yearly"


def _date(value: datetime | None) -> Any:
    return None if value is None else value.date()


@app.command("aggregate")
def aggregate_command(
    period: Annotated[PeriodChoice, typer.Option("--period", help="one period type or all")] = PeriodChoice.ALL,
    first: Annotated[datetime | None, typer.Option("--from", formats=["%Y-%m-%d"],
                                                   help="backfill: first day")] = None,
    last: Annotated[datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="backfill: last day")] = None,
    current: Annotated[bool, typer.Option("--current", help="the window containing today (stored partial)")] = False,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Recompute aggregations now: by default the last complete window of each period type; `--from/--to`
    backfills every window intersecting the range (one statement pair per period type); `--current` computes the
    running window."""
    if (first is None) != (last is None) or (current and first is not None):
        raise typer.BadParameter("give --from and --to together, or --current, or neither")
    periods = list(PeriodType) if period is PeriodChoice.ALL else [PeriodType(period.value)]

    async def work() -> list[AggregationOutcome]:
        outcomes = []
        async with app_container() as container, container() as scope:
            use_case = await scope.get(AggregateCapacity)
            today = (await scope.get(CapacityConfig)).today(await scope.get(Clock))
            for p in periods:
                if first is not None and last is not None:
                    if first > last:
                        raise ValidationProblemsError([Problem("--from", "invalid_range", "--from is after --to")])
                    windows = backfill_windows(p, first.date(), last.date())
                else:
                    windows = (resolve_window(p, "current" if current else "last_complete", today),)
                outcomes.append(await use_case.execute(AggregateCapacityInput(
                    actor=Actor.system("cli"), period_type=p, windows=windows)))
        return outcomes

    rows = [{"period_type": o.period_type.value, "windows": o.window_count, "first_start": o.first_start.isoformat(),
             "last_end": o.last_end.isoformat(), "partial_windows": o.partial_windows,
             "database_rows": o.database_rows, "instance_rows": o.instance_rows} for o in run(work)]
    emit(rows, list(rows[0]) if rows else [], fmt)


@app.command("forecast")
def forecast_command(
    instance: Annotated[int, typer.Option("--instance", help="instance id")],
    database: Annotated[str | None, typer.Option("--database", help="database name (else the instance)")] = None,
    window_days: Annotated[int | None, typer.Option(min=7, max=730)] = None,
    threshold_bytes: Annotated[int | None, typer.Option(min=0)] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Least-squares forecast of an instance (threshold: its capacity limit) or one of its databases."""

    async def work() -> CapacityForecast:
        async with app_container() as container, container() as scope:
            use_case = await scope.get(ForecastCapacity)
            return await use_case.execute(ForecastCapacityInput(
                actor=Actor.system("cli"), instance_id=instance, database_name=database, window_days=window_days,
                threshold_bytes=threshold_bytes))

    f = run(work).forecast
    row = {"status": f.status, "as_of": f.as_of.isoformat(), "window_start": f.window_start.isoformat(),
           "sample_count": f.sample_count, "slope_bytes_per_day": f.slope_bytes_per_day,
           "fitted_bytes": f.fitted_bytes, "r_squared": f.r_squared,
           **{f"projected_{p.horizon_days}d": p.projected_bytes for p in f.projections},
           "threshold_bytes": f.threshold_bytes, "days_until_threshold": f.days_until_threshold,
           "threshold_on": f.threshold_on.isoformat() if f.threshold_on else None}
    emit([row], list(row), fmt, single=True)
