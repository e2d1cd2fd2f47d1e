"""Bodies of the pipeline and pipeline-run routes (api.md §2 Pipeline, PipelineRun, StepRun, §3.14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from msgspec import UNSET, UnsetType

from whalefall.application.pipelines.definitions import PipelineView, ValidationResult
from whalefall.application.pipelines.runs import RunView
from whalefall.application.ports.pipelines import StepRunRecord
from whalefall.application.ports.scheduler import LaunchedRun


class ScheduleIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    cron: str
    timezone: str | UnsetType = UNSET
    enabled: bool | UnsetType = UNSET


class StepIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: str
    kind: str
    depends_on: list[str] | UnsetType = UNSET
    params: dict[str, Any] | UnsetType = UNSET
    timeout_s: int | UnsetType = UNSET


class PipelineIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The definition document of operations.md §4.1; the rules (422 PIPELINE_INVALID) are checked after."""

    name: str
    description: str | None | UnsetType = UNSET
    max_parallel_steps: int | UnsetType = UNSET
    schedule: ScheduleIn | None | UnsetType = UNSET
    steps: list[StepIn]

    def document(self) -> dict[str, Any]:
        built: dict[str, Any] = msgspec.to_builtins(self)
        built.pop("revision", None)
        return built


class PipelinePut(PipelineIn, kw_only=True, forbid_unknown_fields=True):
    revision: int


class ScheduleOut(msgspec.Struct, kw_only=True):
    cron: str
    timezone: str
    enabled: bool


class StepOut(msgspec.Struct, kw_only=True):
    name: str
    kind: str
    depends_on: list[str]
    params: dict[str, Any]
    timeout_s: int


class PipelineOut(msgspec.Struct, kw_only=True):
    name: str
    description: str | None
    is_builtin: bool
    max_parallel_steps: int
    schedule: ScheduleOut | None
    steps: list[StepOut]
    levels: list[list[str]]
    updated_at: datetime
    revision: int

    @classmethod
    def of(cls, view: PipelineView) -> PipelineOut:
        d, r = view.definition, view.record
        return cls(
            name=d.name, description=d.description, is_builtin=r.is_builtin, max_parallel_steps=d.max_parallel_steps,
            schedule=None if d.schedule is None else ScheduleOut(cron=d.schedule.cron, timezone=d.schedule.timezone,
                                                                 enabled=d.schedule.enabled),
            steps=[StepOut(name=s.name, kind=s.kind, depends_on=list(s.depends_on), params=dict(s.params),
                           timeout_s=s.timeout_s) for s in d.steps],
            levels=[list(level) for level in view.levels], updated_at=r.updated_at, revision=r.revision)


class PipelineNameOut(msgspec.Struct, kw_only=True):
    name: str


class ProblemOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    field: str | None
    code: str
    message: str
    context: dict[str, Any] | None = None


class ValidationOut(msgspec.Struct, kw_only=True):
    valid: bool
    levels: list[list[str]] | None
    problems: list[ProblemOut]

    @classmethod
    def of(cls, result: ValidationResult) -> ValidationOut:
        return cls(valid=result.valid, levels=None if result.levels is None else [list(x) for x in result.levels],
                   problems=[ProblemOut(field=p.field, code=p.code, message=p.message,
                                        context=dict(p.context) if p.context else None) for p in result.problems])


class UserRefOut(msgspec.Struct, kw_only=True):
    id: int
    username: str | None


class StepRunOut(msgspec.Struct, kw_only=True):
    step_name: str
    level: int
    status: str
    degraded: bool
    session_id: str | None
    blocked_by: str | None
    reused_from: str | None
    started_at: datetime | None
    finished_at: datetime | None
    error_code: str | None
    error_message: str | None

    @classmethod
    def of(cls, s: StepRunRecord) -> StepRunOut:
        return cls(step_name=s.step_name, level=s.level, status=s.status.value, degraded=s.degraded,
                   session_id=s.session_id, blocked_by=s.blocked_by, reused_from=s.reused_from,
                   started_at=s.started_at, finished_at=s.finished_at, error_code=s.error_code,
                   error_message=s.error_message)


class PipelineRunOut(msgspec.Struct, kw_only=True, omit_defaults=True):
    id: str
    pipeline: str
    definition_revision: int
    trigger: str
    rerun_of: str | None
    created_by: UserRefOut | None
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    cancel_requested_at: datetime | None
    error_code: str | None
    error_message: str | None
    levels: list[list[str]]
    steps: list[StepRunOut] | UnsetType = UNSET

    @classmethod
    def of(cls, view: RunView, *, with_steps: bool = True) -> PipelineRunOut:
        run = view.run
        return cls(
            id=run.id, pipeline=run.pipeline, definition_revision=run.definition_revision, trigger=run.trigger,
            rerun_of=run.rerun_of, status=run.status.value, created_at=run.created_at, started_at=run.started_at,
            created_by=None if run.created_by is None else UserRefOut(id=run.created_by,
                                                                     username=view.created_by_name),
            finished_at=run.finished_at, cancel_requested_at=run.cancel_requested_at, error_code=run.error_code,
            error_message=run.error_message, levels=[list(level) for level in view.levels],
            steps=[StepRunOut.of(s) for s in run.steps] if with_steps else UNSET)


class PipelineReceiptOut(msgspec.Struct, kw_only=True):
    """Pipeline receipt of a queued action (api.md §1.13)."""

    pipeline_run_id: str
    pipeline: str
    status: str
    status_url: str

    @classmethod
    def of(cls, r: LaunchedRun) -> PipelineReceiptOut:
        return cls(pipeline_run_id=r.pipeline_run_id, pipeline=r.pipeline, status=r.status,
                   status_url=f"/api/v1/pipeline-runs/{r.pipeline_run_id}")
