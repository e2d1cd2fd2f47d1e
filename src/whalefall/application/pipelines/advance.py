"""The idempotent pipeline advancer (`whalefall.pipelines.advance`, operations.md §4.3–4.4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.dashboard import NO_DASHBOARD_REFRESH, DashboardRefresh
from whalefall.application.ports.metrics import NO_OPERATIONS_METRICS, OperationsMetrics
from whalefall.application.ports.pipelines import PipelineRunStore, RunRecord, StepChange, StepRunRecord
from whalefall.application.ports.scheduler import LaunchRequest, SessionLauncher
from whalefall.application.ports.sessions import FleetLockHeldError
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.domain.pipelines import (
    PipelineDefinition,
    RunStatus,
    StepErrorCode,
    StepState,
    StepStatus,
    definition_from_document,
    plan_advance,
    step_state_from_session,
)
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger

logger = logging.getLogger("whalefall.application.pipelines.advance")
# A step marked running whose session was never recorded (the starter died between its two transactions).
LAUNCH_LOST_AFTER = timedelta(minutes=5)
_SESSION_ERRORS = {StepStatus.FAILED: "SESSION_FAILED", StepStatus.CANCELLED: "SESSION_CANCELLED"}


@dataclass(frozen=True, slots=True)
class AdvancePipelineRun:
    """One advancer pass, safe to run any number of times and concurrently.

    Under the run row lock: running steps take their session's outcome (`partial` → completed + degraded), a step
    past its `timeout_s` has its session cancelled and fails `STEP_TIMEOUT`; then the planner skips blocked steps
    (`blocked_by`), cancels pending steps of a cancel-requested run, picks ready steps up to
    `max_parallel_steps` in (level, name) order and marks them running, and the run is finalised once nothing is
    pending or running. That transaction commits before any session is opened (the session is created in its own
    transaction and enqueued); a fleet lock held by another session fails the step at once with `ALREADY_RUNNING`.
    Passes repeat until no step was started, so failures to start propagate in the same call. After the commits,
    the dashboard is told of each step session created and of the run's finalisation.
    """

    runs: PipelineRunStore
    sessions: SessionLauncher
    clock: Clock
    uow: UnitOfWork
    metrics: OperationsMetrics = NO_OPERATIONS_METRICS
    dashboard: DashboardRefresh = NO_DASHBOARD_REFRESH

    async def execute(self, run_id: str) -> RunStatus | None:
        status: RunStatus | None = None
        for _ in range(64):
            status, started = await self._pass(run_id)
            if not started:
                break
        return status

    async def _pass(self, run_id: str) -> tuple[RunStatus | None, list[StepRunRecord]]:
        run = await self.runs.get(run_id, for_update=True)
        if run is None:
            await self.uow.commit()
            return None, []
        if run.status is not RunStatus.RUNNING:
            await self.uow.commit()
            return run.status, []
        now = self.clock.now()
        definition = definition_from_document(run.definition)
        changes = await self._observe(run, definition, now)
        await self.runs.update_steps(run.id, changes)
        states = {s.step_name: StepState(s.status, s.degraded, s.blocked_by) for s in run.steps}
        for change in changes:
            states[change.step_name] = StepState(change.status, bool(change.degraded), change.blocked_by)
        plan = plan_advance(definition, states, cancel_requested=run.cancel_requested_at is not None)
        plan_changes = [
            *(StepChange(step_name=name, from_status=StepStatus.PENDING, status=StepStatus.SKIPPED, blocked_by=cause,
                         finished_at=now) for name, cause in plan.skip.items()),
            *(StepChange(step_name=name, from_status=StepStatus.PENDING, status=StepStatus.CANCELLED,
                         finished_at=now) for name in plan.cancel),
            *(StepChange(step_name=name, from_status=StepStatus.PENDING, status=StepStatus.RUNNING, started_at=now)
              for name in plan.start),
        ]
        await self.runs.update_steps(run.id, plan_changes)
        if plan.status is not RunStatus.RUNNING:
            await self.runs.finish(run.id, plan.status, now=now)
        await self.uow.commit()
        self._count(run, changes, plan.status, now)
        if plan.status is not RunStatus.RUNNING:
            await self.dashboard.pipeline_run_finalised()
        by_name = {step.name: step for step in definition.steps}
        started: list[StepRunRecord] = []
        for name in plan.start:
            started.append(await self._start(run, name, by_name[name].kind, dict(by_name[name].params)))
        return plan.status, started

    def _count(self, run: RunRecord, changes: list[StepChange], status: RunStatus, now: datetime) -> None:
        """After the commit: durations of the steps that just ended, and the run if it just finished (the row was
        locked and `running`, so this pass is the one that finished it)."""
        started = {s.step_name: s.started_at for s in run.steps}
        for change in changes:
            began = started.get(change.step_name)
            if began is not None and change.status is not StepStatus.RUNNING:
                self.metrics.pipeline_step_finished(run.pipeline, change.step_name,
                                                    (now - began).total_seconds())
        if status is not RunStatus.RUNNING:
            self.metrics.pipeline_run_finished(run.pipeline, status.value)

    async def _observe(self, run: RunRecord, definition: PipelineDefinition, now: datetime) -> list[StepChange]:
        """Transitions of running steps from their sessions' states and timeouts."""
        timeouts = {step.name: step.timeout_s for step in definition.steps}
        changes: list[StepChange] = []
        for step in run.steps:
            if step.status is not StepStatus.RUNNING:
                continue
            if step.session_id is None:
                if step.started_at is not None and now - step.started_at > LAUNCH_LOST_AFTER:
                    changes.append(StepChange(step_name=step.step_name, from_status=StepStatus.RUNNING,
                                              status=StepStatus.FAILED, finished_at=now, error_code="LAUNCH_LOST",
                                              error_message="the step's session was never created"))
                continue
            session_status = await self.sessions.status(step.session_id)
            if session_status is None or session_status is SessionStatus.RUNNING:
                limit = timeouts.get(step.step_name)
                if limit is not None and step.started_at is not None and now - step.started_at > timedelta(
                        seconds=limit):
                    await self.sessions.cancel(step.session_id, by=None)
                    changes.append(StepChange(
                        step_name=step.step_name, from_status=StepStatus.RUNNING, status=StepStatus.FAILED,
                        finished_at=now, error_code=StepErrorCode.STEP_TIMEOUT.value,
                        error_message=f"the step ran longer than {limit} s"))
                continue
            state = step_state_from_session(session_status.value)
            changes.append(StepChange(
                step_name=step.step_name, from_status=StepStatus.RUNNING, status=state.status,
                degraded=state.degraded, finished_at=now, error_code=_SESSION_ERRORS.get(state.status),
                error_message=f"session ended {session_status.value}" if state.status in _SESSION_ERRORS else None))
        return changes

    async def _start(self, run: RunRecord, step_name: str, kind: str, params: dict[str, object]) -> StepRunRecord:
        """Open the step's session (own transaction + enqueue) and record it; a failure to start fails the step."""
        change: StepChange
        try:
            session = await self.sessions.launch(LaunchRequest(
                kind=SessionKind(kind), trigger=SessionTrigger.PIPELINE, params=params, created_by=run.created_by,
                pipeline_run_id=run.id, step_name=step_name))
            change = StepChange(step_name=step_name, from_status=StepStatus.RUNNING, status=StepStatus.RUNNING,
                                session_id=session.session_id)
        except FleetLockHeldError as exc:
            change = StepChange(step_name=step_name, from_status=StepStatus.RUNNING, status=StepStatus.FAILED,
                                finished_at=self.clock.now(), error_code=StepErrorCode.ALREADY_RUNNING.value,
                                error_message=f"a fleet session of kind {kind} is running ({exc.session_id})")
        except QueueUnavailableError:
            logger.exception("pipelines.step_not_started", extra={"pipeline_run_id": run.id, "step": step_name})
            change = StepChange(step_name=step_name, from_status=StepStatus.RUNNING, status=StepStatus.FAILED,
                                finished_at=self.clock.now(), error_code=QueueUnavailableError.code,
                                error_message="the task queue was unavailable")
        await self.runs.update_steps(run.id, [change])
        await self.uow.commit()
        if change.session_id is not None:
            await self.dashboard.session_created()
        return StepRunRecord(step_name=step_name, level=0, status=change.status, session_id=change.session_id)


@dataclass(frozen=True, slots=True)
class AdvanceRunningPipelines:
    """Reaper step 4: advance every running run, in case a completion callback was lost."""

    runs: PipelineRunStore
    advance: AdvancePipelineRun
    uow: UnitOfWork

    async def execute(self) -> int:
        run_ids = await self.runs.running_ids()
        await self.uow.commit()
        for run_id in run_ids:
            await self.advance.execute(run_id)
        return len(run_ids)
