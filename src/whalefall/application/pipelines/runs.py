"""Pipeline runs: start (also the scheduler's PipelineLauncher), read, list, re-run failed steps, cancel
(operations.md §4.3–4.5)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.identity import UserRepository
from whalefall.application.ports.pipelines import (
    PipelineAdvanceQueue,
    PipelineDefinitionStore,
    PipelineRunStore,
    RunQuery,
    RunRecord,
    StepRunRecord,
)
from whalefall.application.ports.scheduler import LaunchedRun, PipelineLauncher, SessionLauncher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import InvalidStateError, NotFoundError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import UserId
from whalefall.domain.pipelines import (
    RunStatus,
    StepState,
    StepStatus,
    definition_from_document,
    levels,
    plan_rerun,
    step_levels,
)


def run_levels(run: RunRecord) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(level) for level in levels(definition_from_document(run.definition)))


async def _enqueue_or_discard(runs: PipelineRunStore, queue: PipelineAdvanceQueue, uow: UnitOfWork,
                              run: RunRecord, request_id: str | None) -> None:
    """Enqueue the first advance after commit; if the broker refuses, the run is deleted again (it was already
    committed) so a 503 never leaves a run behind."""
    try:
        await queue.enqueue_advance(run.id, request_id=request_id)
    except QueueUnavailableError:
        await uow.rollback()
        await runs.discard(run.id)
        await uow.commit()
        raise


@dataclass(frozen=True, slots=True)
class StartPipelineRun(PipelineLauncher):
    """Create a run of the current definition (snapshot + `definition_revision`, every step pending at its level),
    commit, and enqueue its first advance. A running run of the pipeline → 409 PIPELINE_RUNNING (partial unique
    index); unknown pipeline → 404; broker unreachable → 503 QUEUE_UNAVAILABLE and nothing is created."""

    definitions: PipelineDefinitionStore
    runs: PipelineRunStore
    queue: PipelineAdvanceQueue
    clock: Clock
    uow: UnitOfWork

    async def start_run(self, pipeline: str, *, trigger: str, created_by: int | None, job_id: str | None,
                        request_id: str | None) -> LaunchedRun:
        record = await self.definitions.get(pipeline)
        if record is None:
            raise NotFoundError("pipeline", pipeline)
        definition = definition_from_document(record.document)
        level = step_levels(definition)
        if not await self.queue.ping():
            raise QueueUnavailableError()
        now = self.clock.now()
        run = RunRecord(
            id=str(uuid.uuid4()), pipeline=pipeline, definition_revision=record.revision,
            definition=dict(record.document), trigger=trigger, job_id=job_id, created_by=created_by,
            status=RunStatus.RUNNING, created_at=now, started_at=now, finished_at=None, cancel_requested_at=None,
            rerun_of=None, error_code=None, error_message=None,
            steps=tuple(StepRunRecord(step_name=s.name, level=level[s.name], status=StepStatus.PENDING)
                        for s in definition.steps))
        await self.runs.create(run)
        await self.uow.commit()
        await _enqueue_or_discard(self.runs, self.queue, self.uow, run, request_id)
        return LaunchedRun(pipeline_run_id=run.id, pipeline=pipeline, status=RunStatus.RUNNING.value)

    async def running_run(self, pipeline: str) -> str | None:
        return await self.runs.running_run(pipeline)


@dataclass(frozen=True, slots=True)
class RunPipeline:
    """`POST /pipelines/{name}/actions/run`: a manual run by the caller (audited `pipeline.run`)."""

    start: StartPipelineRun
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, name: str) -> LaunchedRun:
        actor.require(Permission.JOBS_MANAGE)
        receipt = await self.start.start_run(name, trigger="manual", created_by=actor.user_id, job_id=None,
                                             request_id=actor.request_id)
        await self.audit.record(AuditEntry(actor=actor, action="pipeline.run", target_type="pipeline",
                                           target_id=name, details={"pipeline_run_id": receipt.pipeline_run_id}))
        await self.uow.commit()
        return receipt


@dataclass(frozen=True, slots=True, kw_only=True)
class RunView:
    """A run for the API: the record, its creator's username and the levels of its definition snapshot."""

    run: RunRecord
    created_by_name: str | None
    levels: tuple[tuple[str, ...], ...]


async def _views(users: UserRepository, runs: Sequence[RunRecord]) -> list[RunView]:
    names: dict[int, str | None] = {}
    for run in runs:
        if run.created_by is not None and run.created_by not in names:
            user = await users.get(UserId(run.created_by))
            names[run.created_by] = user.username if user else None
    return [RunView(run=run, created_by_name=names.get(run.created_by) if run.created_by is not None else None,
                    levels=run_levels(run)) for run in runs]


@dataclass(frozen=True, slots=True)
class GetPipelineRun:
    """A run with its step runs (timestamps, status, errors, session ids) and levels."""

    runs: PipelineRunStore
    users: UserRepository

    async def execute(self, actor: Actor, run_id: str) -> RunView:
        actor.require(Permission.JOBS_READ)
        run = await self.runs.get(run_id)
        if run is None:
            raise NotFoundError("pipeline run", run_id)
        return (await _views(self.users, [run]))[0]


@dataclass(frozen=True, slots=True)
class ListPipelineRuns:
    """Runs matching the filters, newest first by default (without their steps)."""

    runs: PipelineRunStore
    users: UserRepository

    async def execute(self, actor: Actor, query: RunQuery, page: PageRequest) -> Page[RunView]:
        actor.require(Permission.JOBS_READ)
        found = await self.runs.list_runs(query, page)
        return Page(tuple(await _views(self.users, found.items)), found.total, found.page, found.limit)


@dataclass(frozen=True, slots=True)
class RerunFailed:
    """A new run with `rerun_of` and the original's definition snapshot: steps the original completed are copied
    `completed` with `reused_from` (not executed; `degraded` kept), the others run. Not terminal → 409
    INVALID_STATE; nothing failed, skipped or cancelled → 422 NOTHING_TO_RERUN; a running run → 409
    PIPELINE_RUNNING."""

    runs: PipelineRunStore
    queue: PipelineAdvanceQueue
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, run_id: str) -> LaunchedRun:
        actor.require(Permission.JOBS_MANAGE)
        original = await self.runs.get(run_id)
        if original is None:
            raise NotFoundError("pipeline run", run_id)
        if original.status is RunStatus.RUNNING:
            raise InvalidStateError("The run has not finished")
        definition = definition_from_document(original.definition)
        level = step_levels(definition)
        plan = plan_rerun(definition, {s.step_name: StepState(s.status, s.degraded, s.blocked_by)
                                       for s in original.steps})
        if not await self.queue.ping():
            raise QueueUnavailableError()
        now = self.clock.now()
        steps = tuple(
            StepRunRecord(step_name=name, level=level[name], status=StepStatus.COMPLETED,
                          degraded=plan.states[name].degraded, reused_from=original.id, finished_at=now)
            if name in plan.reused else StepRunRecord(step_name=name, level=level[name], status=StepStatus.PENDING)
            for name in (*plan.reused, *plan.rerun))
        run = RunRecord(
            id=str(uuid.uuid4()), pipeline=original.pipeline, definition_revision=original.definition_revision,
            definition=dict(original.definition), trigger="manual", job_id=None, created_by=actor.user_id,
            status=RunStatus.RUNNING, created_at=now, started_at=now, finished_at=None, cancel_requested_at=None,
            rerun_of=original.id, error_code=None, error_message=None, steps=steps)
        await self.runs.create(run)
        await self.audit.record(AuditEntry(actor=actor, action="pipeline.rerun_failed", target_type="pipeline_run",
                                           target_id=original.id, details={"pipeline_run_id": run.id}))
        await self.uow.commit()
        await _enqueue_or_discard(self.runs, self.queue, self.uow, run, actor.request_id)
        return LaunchedRun(pipeline_run_id=run.id, pipeline=run.pipeline, status=RunStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class CancelPipelineRun:
    """Set the cancel flag, request cancellation of the running steps' sessions and enqueue an advance, which
    turns pending steps `cancelled` and ends the run `cancelled` once the sessions stop. Finished → 409."""

    runs: PipelineRunStore
    sessions: SessionLauncher
    queue: PipelineAdvanceQueue
    users: UserRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, run_id: str) -> RunView:
        actor.require(Permission.JOBS_MANAGE)
        run = await self.runs.get(run_id, for_update=True)
        if run is None:
            raise NotFoundError("pipeline run", run_id)
        if not await self.runs.request_cancel(run_id, by=actor.user_id, now=self.clock.now()):
            raise InvalidStateError("The run has already finished", context={"status": run.status.value})
        await self.audit.record(AuditEntry(actor=actor, action="pipeline.cancel", target_type="pipeline_run",
                                           target_id=run_id))
        await self.uow.commit()
        for step in run.steps:
            if step.status is StepStatus.RUNNING and step.session_id:
                await self.sessions.cancel(step.session_id, by=actor.user_id)
        await self.queue.enqueue_advance(run_id, request_id=actor.request_id)
        refreshed = await self.runs.get(run_id)
        assert refreshed is not None
        return (await _views(self.users, [refreshed]))[0]
