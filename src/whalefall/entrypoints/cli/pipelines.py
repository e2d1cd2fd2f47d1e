"""`whalefall pipelines run NAME [--wait]` and `whalefall pipelines status [RUN_ID]`."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Final

import typer
from dishka import AsyncContainer
from dishka.integrations.taskiq import TaskiqProvider

from whalefall.application.pipelines.advance import AdvancePipelineRun
from whalefall.application.pipelines.runs import GetPipelineRun, ListPipelineRuns, RunPipeline, RunView
from whalefall.application.ports.pipelines import RunQuery
from whalefall.application.ports.scheduler import LaunchedRun
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.errors import NotFoundError
from whalefall.domain.pipelines import RunStatus
from whalefall.entrypoints.cli.common import OutputFormat, app_container, emit, err_console, run
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker

app = typer.Typer(help="DAG pipelines.", no_args_is_help=True)
ACTOR: Final = Actor.system("cli")
#: Exit code when the followed run ends failed, partial or cancelled.
RUN_NOT_COMPLETED: Final = 8
STEP_COLUMNS: Final = ("step_name", "level", "status", "degraded", "session_id", "blocked_by", "reused_from",
                       "error_code")
FormatOption = Annotated[OutputFormat, typer.Option("--format", help="table or json")]


def _iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def _run_row(view: RunView) -> dict[str, Any]:
    r = view.run
    return {"id": r.id, "pipeline": r.pipeline, "status": r.status.value, "trigger": r.trigger,
            "rerun_of": r.rerun_of, "created_at": _iso(r.created_at), "finished_at": _iso(r.finished_at),
            "levels": " | ".join(", ".join(level) for level in view.levels)}


def _step_rows(view: RunView) -> list[dict[str, Any]]:
    return [{"step_name": s.step_name, "level": s.level, "status": s.status.value, "degraded": s.degraded,
             "session_id": s.session_id, "blocked_by": s.blocked_by, "reused_from": s.reused_from,
             "error_code": s.error_code} for s in view.run.steps]


@contextlib.asynccontextmanager
async def _container() -> AsyncIterator[AsyncContainer]:
    """A container whose in-memory broker (embedded mode) has this process's worker attached, so the run's
    messages have somewhere to go; with Redis the workers consume them and this is a plain container."""
    settings = Settings.from_environ()
    container = make_container(settings, WorkerProvider(), TaskiqProvider())
    try:
        async with embedded_worker(container):
            yield container
    finally:
        await container.close()


async def _start_and_follow(name: str, *, wait: bool, interval_s: float, timeout_s: float
                            ) -> tuple[LaunchedRun, RunView | None]:
    async with _container() as container:
        async with container() as scope:
            receipt = await (await scope.get(RunPipeline)).execute(ACTOR, name)
        if not wait:
            return receipt, None
        return receipt, await _follow(container, receipt.pipeline_run_id, interval_s=interval_s,
                                      timeout_s=timeout_s)


async def _follow(container: AsyncContainer, run_id: str, *, interval_s: float, timeout_s: float) -> RunView:
    """Poll until the run ends, advancing it on each poll (idempotent) so a lost completion callback never
    stalls the wait."""
    deadline = time.monotonic() + timeout_s
    while True:
        async with container() as scope:
            await (await scope.get(AdvancePipelineRun)).execute(run_id)
        async with container() as scope:
            view = await (await scope.get(GetPipelineRun)).execute(ACTOR, run_id)
        err_console.print(f"{view.run.pipeline} {view.run.status.value}: " + ", ".join(
            f"{s.step_name}={s.status.value}" for s in view.run.steps))
        if view.run.status is not RunStatus.RUNNING or time.monotonic() > deadline:
            return view
        await asyncio.sleep(interval_s)


async def _status(run_id: str | None) -> RunView:
    async with app_container() as container, container() as scope:
        if run_id is not None:
            return await (await scope.get(GetPipelineRun)).execute(ACTOR, run_id)
        page = await (await scope.get(ListPipelineRuns)).execute(
            ACTOR, RunQuery(), PageRequest(1, 1, (SortKey("created_at", descending=True),)))
        if not page.items:
            raise NotFoundError("pipeline run", "latest")
        return await (await scope.get(GetPipelineRun)).execute(ACTOR, page.items[0].run.id)


@app.command("run")
def run_command(
    name: Annotated[str, typer.Argument(help="pipeline name, e.g. nightly")],
    wait: Annotated[bool, typer.Option("--wait", help="follow the run until it ends")] = False,
    timeout_s: Annotated[float, typer.Option("--timeout", min=1, help="seconds to wait at most")] = 4 * 3600,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Start a run through the task queue (a running run of the pipeline → exit 4, PIPELINE_RUNNING). With --wait,
    follow it and exit non-zero unless it completes."""
    receipt, view = run(lambda: _start_and_follow(name, wait=wait, interval_s=2.0, timeout_s=timeout_s))
    if view is None:
        emit([{"pipeline_run_id": receipt.pipeline_run_id, "pipeline": receipt.pipeline, "status": receipt.status}],
             ("pipeline_run_id", "pipeline", "status"), fmt, single=True)
        return
    emit(_step_rows(view), STEP_COLUMNS, fmt)
    if view.run.status is not RunStatus.COMPLETED:
        raise typer.Exit(RUN_NOT_COMPLETED)


@app.command("status")
def status_command(
    run_id: Annotated[str | None, typer.Argument(help="run id (default: the latest run)")] = None,
    fmt: FormatOption = OutputFormat.TABLE,
) -> None:
    """Show a run with its steps (default: the most recent run of any pipeline)."""
    view = run(lambda: _status(run_id))
    if fmt is OutputFormat.JSON:
        emit([{**_run_row(view), "steps": _step_rows(view)}], (), fmt, single=True)
        return
    emit([_run_row(view)], ("id", "pipeline", "status", "trigger", "rerun_of", "created_at", "finished_at",
                            "levels"), fmt, single=True)
    emit(_step_rows(view), STEP_COLUMNS, fmt)
