"""Repositories of pipelines: SqlAlchemyPipelineDefinitionStore and SqlAlchemyPipelineRunStore (operations §4.4)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.tables.operations import pipeline_definitions, pipeline_runs, pipeline_step_runs
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork, constraint_of
from whalefall.application.ports.pipelines import (
    DefinitionRecord,
    PipelineDefinitionStore,
    PipelineRunningError,
    PipelineRunStore,
    RunQuery,
    RunRecord,
    StepChange,
    StepRunRecord,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.pipelines import RunStatus, StepStatus

_DEFINITION_SORT = {"name": pipeline_definitions.c.name, "updated_at": pipeline_definitions.c.updated_at}
_RUN_SORT = {"created_at": pipeline_runs.c.created_at, "finished_at": pipeline_runs.c.finished_at}


def _definition(row: Mapping[Any, Any]) -> DefinitionRecord:
    return DefinitionRecord(name=row["name"], revision=row["revision"], document=dict(row["definition"]),
                            is_builtin=bool(row["is_builtin"]), created_at=row["created_at"],
                            created_by=row["created_by"], updated_at=row["updated_at"], updated_by=row["updated_by"])


def _step(row: Mapping[Any, Any]) -> StepRunRecord:
    return StepRunRecord(step_name=row["step_name"], level=row["level"], status=StepStatus(row["status"]),
                         degraded=bool(row["degraded"]), session_id=row["session_id"], blocked_by=row["blocked_by"],
                         reused_from=row["reused_from"], started_at=row["started_at"], finished_at=row["finished_at"],
                         error_code=row["error_code"], error_message=row["error_message"])


def _run(row: Mapping[Any, Any], steps: Sequence[StepRunRecord] = ()) -> RunRecord:
    return RunRecord(id=row["id"], pipeline=row["pipeline_name"], definition_revision=row["definition_revision"],
                     definition=dict(row["definition"]), trigger=row["trigger"], job_id=row["job_id"],
                     created_by=row["created_by"], status=RunStatus(row["status"]), created_at=row["created_at"],
                     started_at=row["started_at"], finished_at=row["finished_at"],
                     cancel_requested_at=row["cancel_requested_at"], rerun_of=row["rerun_of"],
                     error_code=row["error_code"], error_message=row["error_message"], steps=tuple(steps))


class SqlAlchemyPipelineDefinitionStore(PipelineDefinitionStore):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def list_definitions(self, *, is_builtin: bool | None, page: PageRequest) -> Page[DefinitionRecord]:
        connection = await self._uow.connection()
        statement = select(pipeline_definitions)
        if is_builtin is not None:
            statement = statement.where(pipeline_definitions.c.is_builtin.is_(is_builtin))
        items, total = await fetch_page(connection, statement, page, _DEFINITION_SORT, pipeline_definitions.c.name,
                                        _definition)
        return make_page(items, total, page)

    async def get(self, name: str) -> DefinitionRecord | None:
        connection = await self._uow.connection()
        row = (await connection.execute(select(pipeline_definitions)
                                        .where(pipeline_definitions.c.name == name))).mappings().first()
        return _definition(row) if row else None

    async def insert(self, record: DefinitionRecord) -> bool:
        connection = await self._uow.connection()
        try:
            async with connection.begin_nested():
                await connection.execute(insert(pipeline_definitions).values(
                    name=record.name, revision=record.revision, definition=dict(record.document),
                    is_builtin=record.is_builtin, created_at=record.created_at, created_by=record.created_by,
                    updated_at=record.updated_at, updated_by=record.updated_by))
        except IntegrityError:
            return False
        return True

    async def replace(self, name: str, document: Mapping[str, Any], *, expected_revision: int | None,
                      by: int | None, now: datetime) -> DefinitionRecord | None:
        connection = await self._uow.connection()
        statement = update(pipeline_definitions).where(pipeline_definitions.c.name == name)
        if expected_revision is not None:
            statement = statement.where(pipeline_definitions.c.revision == expected_revision)
        result = await connection.execute(statement.values(
            definition=dict(document), revision=pipeline_definitions.c.revision + 1, updated_at=now, updated_by=by))
        return await self.get(name) if result.rowcount else None

    async def delete(self, name: str) -> None:
        connection = await self._uow.connection()
        await connection.execute(delete(pipeline_definitions).where(pipeline_definitions.c.name == name))


class SqlAlchemyPipelineRunStore(PipelineRunStore):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def create(self, run: RunRecord) -> None:
        connection = await self._uow.connection()
        try:
            async with connection.begin_nested():
                await connection.execute(insert(pipeline_runs).values(
                    id=run.id, pipeline_name=run.pipeline, definition_revision=run.definition_revision,
                    definition=dict(run.definition), trigger=run.trigger, job_id=run.job_id,
                    created_by=run.created_by, status=run.status.value, created_at=run.created_at,
                    started_at=run.started_at, rerun_of=run.rerun_of))
        except IntegrityError as exc:
            if "one_running" not in constraint_of(exc) and "pipeline_runs.pipeline_name" not in constraint_of(exc):
                raise
            raise PipelineRunningError(await self.running_run(run.pipeline)) from None
        if run.steps:
            await connection.execute(insert(pipeline_step_runs), [
                {"run_id": run.id, "step_name": s.step_name, "level": s.level, "status": s.status.value,
                 "degraded": s.degraded, "session_id": s.session_id, "blocked_by": s.blocked_by,
                 "reused_from": s.reused_from, "started_at": s.started_at, "finished_at": s.finished_at,
                 "error_code": s.error_code, "error_message": s.error_message} for s in run.steps])

    async def get(self, run_id: str, *, for_update: bool = False) -> RunRecord | None:
        connection = await self._uow.connection()
        statement = select(pipeline_runs).where(pipeline_runs.c.id == run_id)
        if for_update and connection.dialect.name == "postgresql":
            statement = statement.with_for_update()
        row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        steps = (await connection.execute(select(pipeline_step_runs).where(pipeline_step_runs.c.run_id == run_id)
                                          .order_by(pipeline_step_runs.c.level, pipeline_step_runs.c.step_name)
                                          )).mappings()
        return _run(row, [_step(s) for s in steps])

    async def running_run(self, pipeline: str) -> str | None:
        connection = await self._uow.connection()
        value = (await connection.execute(select(pipeline_runs.c.id).where(
            pipeline_runs.c.pipeline_name == pipeline, pipeline_runs.c.status == RunStatus.RUNNING.value))).scalar()
        return str(value) if value is not None else None

    async def list_runs(self, query: RunQuery, page: PageRequest) -> Page[RunRecord]:
        connection = await self._uow.connection()
        statement = select(pipeline_runs)
        if query.pipelines:
            statement = statement.where(pipeline_runs.c.pipeline_name.in_(sorted(query.pipelines)))
        if query.statuses:
            statement = statement.where(pipeline_runs.c.status.in_(sorted(s.value for s in query.statuses)))
        if query.trigger is not None:
            statement = statement.where(pipeline_runs.c.trigger == query.trigger)
        if query.since is not None:
            statement = statement.where(pipeline_runs.c.created_at >= query.since)
        if query.until is not None:
            statement = statement.where(pipeline_runs.c.created_at < query.until)
        items, total = await fetch_page(connection, statement, page, _RUN_SORT, pipeline_runs.c.id, _run)
        return make_page(items, total, page)

    async def update_steps(self, run_id: str, changes: Sequence[StepChange]) -> int:
        connection = await self._uow.connection()
        matched = 0
        for change in changes:
            values: dict[str, Any] = {"status": change.status.value}
            for name in ("degraded", "session_id", "blocked_by", "started_at", "finished_at", "error_code",
                         "error_message"):
                value = getattr(change, name)
                if value is not None:
                    values[name] = value
            result = await connection.execute(
                update(pipeline_step_runs)
                .where(pipeline_step_runs.c.run_id == run_id, pipeline_step_runs.c.step_name == change.step_name,
                       pipeline_step_runs.c.status == change.from_status.value)
                .values(values))
            matched += result.rowcount
        return matched

    async def finish(self, run_id: str, status: RunStatus, *, now: datetime) -> bool:
        connection = await self._uow.connection()
        result = await connection.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id, pipeline_runs.c.status == RunStatus.RUNNING.value)
            .values(status=status.value, finished_at=now))
        return bool(result.rowcount)

    async def request_cancel(self, run_id: str, *, by: int | None, now: datetime) -> bool:
        connection = await self._uow.connection()
        result = await connection.execute(
            update(pipeline_runs)
            .where(pipeline_runs.c.id == run_id, pipeline_runs.c.status == RunStatus.RUNNING.value)
            .values(cancel_requested_at=func.coalesce(pipeline_runs.c.cancel_requested_at, now),
                    cancel_requested_by=func.coalesce(pipeline_runs.c.cancel_requested_by, by)))
        return bool(result.rowcount)

    async def discard(self, run_id: str) -> None:
        connection = await self._uow.connection()
        await connection.execute(delete(pipeline_step_runs).where(pipeline_step_runs.c.run_id == run_id))
        await connection.execute(delete(pipeline_runs).where(pipeline_runs.c.id == run_id))

    async def runs_of_session(self, session_id: str) -> list[str]:
        connection = await self._uow.connection()
        rows = await connection.execute(
            select(pipeline_step_runs.c.run_id).join(pipeline_runs, pipeline_runs.c.id == pipeline_step_runs.c.run_id)
            .where(pipeline_step_runs.c.session_id == session_id,
                   pipeline_runs.c.status == RunStatus.RUNNING.value))
        return sorted({str(row[0]) for row in rows})

    async def running_ids(self) -> list[str]:
        connection = await self._uow.connection()
        rows = await connection.execute(select(pipeline_runs.c.id)
                                        .where(pipeline_runs.c.status == RunStatus.RUNNING.value)
                                        .order_by(pipeline_runs.c.created_at))
        return [str(row[0]) for row in rows]

