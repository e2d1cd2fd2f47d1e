"""Pipeline definitions: list, read, create, replace, delete, reset and dry validation (operations.md §4.1–4.2,
§4.6). A definition's `schedule` becomes the job `pipeline:<name>`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.pipelines import DefinitionRecord, PipelineDefinitionStore
from whalefall.application.ports.scheduler import PIPELINE_JOB_KIND, JobChange, JobRecord, JobStore, SessionLauncher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import (
    AlreadyExistsError,
    NotFoundError,
    Problem,
    ProtectedResourceError,
    VersionConflictError,
)
from whalefall.domain.identity.roles import Permission
from whalefall.domain.pipelines import (
    PipelineDefinition,
    PipelineInvalidError,
    definition_from_document,
    definition_to_document,
    levels,
    next_fire,
    nightly_document,
    validate_document,
)
from whalefall.domain.sessions.sessions import SessionKind


@dataclass(frozen=True, slots=True, kw_only=True)
class PipelineView:
    record: DefinitionRecord
    definition: PipelineDefinition
    levels: tuple[tuple[str, ...], ...]


def view_of(record: DefinitionRecord) -> PipelineView:
    definition = definition_from_document(record.document)
    return PipelineView(record=record, definition=definition,
                        levels=tuple(tuple(level) for level in levels(definition)))


def _body(problems: Sequence[Problem]) -> list[Problem]:
    return [Problem("body" if not p.field else f"body.{p.field}", p.code, p.message, p.context) for p in problems]


def check_document(sessions: SessionLauncher, document: Mapping[str, Any]) -> tuple[PipelineDefinition | None,
                                                                                    list[Problem]]:
    """Shape and every rule, problems at `body.`-prefixed paths; params are checked by the session kind's schema."""

    def params(kind: str, values: Mapping[str, object]) -> Sequence[Problem]:
        return sessions.params_problems(SessionKind(kind), values)

    definition, problems = validate_document(document, params)
    return definition, _body(problems)


def _require_valid(sessions: SessionLauncher, document: Mapping[str, Any]) -> PipelineDefinition:
    definition, problems = check_document(sessions, document)
    if problems or definition is None:
        raise PipelineInvalidError(problems=problems)
    return definition


async def sync_job(jobs: JobStore, definition: PipelineDefinition, *, is_builtin: bool, by: int | None,
                   now: datetime) -> None:
    """Create, update or remove the job `pipeline:<name>` to follow the definition's `schedule` (a built-in
    pipeline's job is paused rather than removed)."""
    job_id = f"pipeline:{definition.name}"
    current = await jobs.get(job_id)
    schedule = definition.schedule
    if schedule is None:
        if current is not None and current.is_builtin:
            await jobs.update(job_id, JobChange(enabled=False), expected_revision=None, by=by, now=now)
        elif current is not None:
            await jobs.delete(job_id)
        return
    upcoming = next_fire(schedule.cron, now, ZoneInfo(schedule.timezone)) if schedule.enabled else None
    if current is None:
        await jobs.insert_missing([JobRecord(
            id=job_id, kind=PIPELINE_JOB_KIND, target=definition.name, name=f"Pipeline {definition.name}",
            description=definition.description, cron=schedule.cron, timezone=schedule.timezone,
            enabled=schedule.enabled, params={}, is_builtin=is_builtin, revision=1, updated_at=now, updated_by=by,
            schedule_changed_at=now, next_fire_at=upcoming)])
        return
    changed = (schedule.cron, schedule.timezone) != (current.cron, current.timezone) or (
        schedule.enabled and not current.enabled)
    if changed or schedule.enabled is not current.enabled:
        await jobs.update(job_id, JobChange(cron=schedule.cron, timezone=schedule.timezone, enabled=schedule.enabled,
                                            schedule_changed=changed, next_fire_at=upcoming),
                          expected_revision=None, by=by, now=now)


@dataclass(frozen=True, slots=True)
class ListPipelines:
    definitions: PipelineDefinitionStore

    async def execute(self, actor: Actor, *, is_builtin: bool | None, page: PageRequest) -> Page[PipelineView]:
        actor.require(Permission.JOBS_READ)
        found = await self.definitions.list_definitions(is_builtin=is_builtin, page=page)
        return Page(tuple(view_of(r) for r in found.items), found.total, found.page, found.limit)


@dataclass(frozen=True, slots=True)
class GetPipeline:
    definitions: PipelineDefinitionStore

    async def execute(self, actor: Actor, name: str) -> PipelineView:
        actor.require(Permission.JOBS_READ)
        record = await self.definitions.get(name)
        if record is None:
            raise NotFoundError("pipeline", name)
        return view_of(record)


@dataclass(frozen=True, slots=True, kw_only=True)
class ValidationResult:
    valid: bool
    levels: tuple[tuple[str, ...], ...] | None
    problems: tuple[Problem, ...]


@dataclass(frozen=True, slots=True)
class ValidatePipeline:
    """Dry validation of a draft: every problem (paths under `body.`), and the levels when it is valid."""

    sessions: SessionLauncher

    async def execute(self, actor: Actor, document: Mapping[str, Any]) -> ValidationResult:
        actor.require(Permission.JOBS_READ)
        definition, problems = check_document(self.sessions, document)
        if problems or definition is None:
            return ValidationResult(valid=False, levels=None, problems=tuple(problems))
        return ValidationResult(valid=True, levels=tuple(tuple(level) for level in levels(definition)), problems=())


@dataclass(frozen=True, slots=True)
class CreatePipeline:
    """Create a definition: 422 PIPELINE_INVALID with one detail per problem; a taken name → 409 ALREADY_EXISTS.
    A `schedule` creates the job `pipeline:<name>`."""

    definitions: PipelineDefinitionStore
    jobs: JobStore
    sessions: SessionLauncher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, document: Mapping[str, Any]) -> PipelineView:
        actor.require(Permission.JOBS_MANAGE)
        definition = _require_valid(self.sessions, document)
        now = self.clock.now()
        record = DefinitionRecord(name=definition.name, revision=1, document=definition_to_document(definition),
                                  is_builtin=False, created_at=now, created_by=actor.user_id, updated_at=now,
                                  updated_by=actor.user_id)
        if not await self.definitions.insert(record):
            raise AlreadyExistsError("body.name")
        await sync_job(self.jobs, definition, is_builtin=False, by=actor.user_id, now=now)
        await self.audit.record(AuditEntry(actor=actor, action="pipeline.create", target_type="pipeline",
                                           target_id=definition.name))
        await self.uow.commit()
        return view_of(record)


@dataclass(frozen=True, slots=True)
class ReplacePipeline:
    """Replace a definition (built-ins too). `revision` is required: stale → 409 VERSION_CONFLICT; the document's
    name must be the path's. Runs keep the snapshot they started with."""

    definitions: PipelineDefinitionStore
    jobs: JobStore
    sessions: SessionLauncher
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, actor: Actor, name: str, document: Mapping[str, Any], *, revision: int,
                      permission: Permission = Permission.JOBS_MANAGE, action: str = "pipeline.replace",
                      ) -> PipelineView:
        actor.require(permission)
        current = await self.definitions.get(name)
        if current is None:
            raise NotFoundError("pipeline", name)
        definition = _require_valid(self.sessions, document)
        if definition.name != name:
            raise PipelineInvalidError(problems=[Problem("body.name", "invalid_choice",
                                                         "the name cannot change; it must be the path's name")])
        now = self.clock.now()
        updated = await self.definitions.replace(name, definition_to_document(definition),
                                                 expected_revision=revision, by=actor.user_id, now=now)
        if updated is None:
            raise VersionConflictError(current.revision)
        await sync_job(self.jobs, definition, is_builtin=current.is_builtin, by=actor.user_id, now=now)
        await self.audit.record(AuditEntry(actor=actor, action=action, target_type="pipeline", target_id=name,
                                           details={"revision": updated.revision}))
        await self.uow.commit()
        return view_of(updated)


@dataclass(frozen=True, slots=True)
class ResetPipeline:
    """Restore the built-in `nightly` definition (needs `system:manage`); a custom pipeline has no default to
    restore → 409 RESOURCE_PROTECTED; unknown → 404."""

    definitions: PipelineDefinitionStore
    replace: ReplacePipeline

    async def execute(self, actor: Actor, name: str) -> PipelineView:
        actor.require(Permission.SYSTEM_MANAGE)
        current = await self.definitions.get(name)
        if current is None:
            raise NotFoundError("pipeline", name)
        if not current.is_builtin or name != "nightly":
            raise ProtectedResourceError("Only built-in pipelines can be reset")
        return await self.replace.execute(actor, name, nightly_document(), revision=current.revision,
                                          permission=Permission.SYSTEM_MANAGE, action="pipeline.reset")


@dataclass(frozen=True, slots=True)
class DeletePipeline:
    """Delete a custom definition and its job; built-in → 409 RESOURCE_PROTECTED; stale `revision` → 409."""

    definitions: PipelineDefinitionStore
    jobs: JobStore
    audit: AuditLog
    uow: UnitOfWork

    async def execute(self, actor: Actor, name: str, *, revision: int | None) -> None:
        actor.require(Permission.JOBS_MANAGE)
        current = await self.definitions.get(name)
        if current is None:
            raise NotFoundError("pipeline", name)
        if current.is_builtin:
            raise ProtectedResourceError("Built-in pipelines cannot be deleted, only reset")
        if revision is not None and revision != current.revision:
            raise VersionConflictError(current.revision)
        await self.definitions.delete(name)
        await self.jobs.delete(f"pipeline:{name}")
        await self.audit.record(AuditEntry(actor=actor, action="pipeline.delete", target_type="pipeline",
                                           target_id=name))
        await self.uow.commit()
