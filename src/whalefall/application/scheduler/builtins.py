"""Seed the built-in jobs and the `nightly` pipeline at start-up, only where absent (operations.md §3.1)."""

from __future__ import annotations

from dataclasses import dataclass

from whalefall.application.ports.clock import Clock
from whalefall.application.ports.pipelines import DefinitionRecord, PipelineDefinitionStore
from whalefall.application.ports.scheduler import JobStore
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.scheduler.defaults import BUILTIN_JOBS, builtin_record
from whalefall.domain.pipelines import nightly_document


@dataclass(frozen=True, slots=True)
class EnsureBuiltins:
    """Insert missing built-in jobs (time zone = WHALEFALL_TIMEZONE) and the `nightly` definition; never overwrite
    a row. Built-in jobs never edited (revision 1) follow WHALEFALL_TIMEZONE, so the migration's UTC rows adopt the
    configured zone; any edit, pause or reset freezes the row. Idempotent; returns the job ids inserted."""

    jobs: JobStore
    definitions: PipelineDefinitionStore
    clock: Clock
    uow: UnitOfWork
    default_timezone: str

    async def execute(self) -> list[str]:
        now = self.clock.now()
        inserted = await self.jobs.insert_missing(
            [builtin_record(d, timezone=self.default_timezone, now=now) for d in BUILTIN_JOBS.values()])
        await self.jobs.adopt_default_timezone(list(BUILTIN_JOBS), self.default_timezone, now=now)
        if await self.definitions.get("nightly") is None:
            await self.definitions.insert(DefinitionRecord(
                name="nightly", revision=1, document=nightly_document(), is_builtin=True, created_at=now,
                created_by=None, updated_at=now, updated_by=None))
        await self.uow.commit()
        return inserted
