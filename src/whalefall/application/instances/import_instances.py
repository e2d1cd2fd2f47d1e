"""CSV import of instances (api.md §3.5, §5.3): per-row results, create or upsert, dry run, atomic."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from whalefall.application.instances.create_instance import CreateInstance, CreateInstanceInput
from whalefall.application.instances.fields import TagResolver
from whalefall.application.instances.instance_csv import ImportRow, read_import
from whalefall.application.instances.update_instance import UpdateInstance, UpdateInstanceInput
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import (
    CredentialRepository,
    InstanceQuery,
    InstanceRecord,
    InstanceRepository,
)
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.unset import UNSET
from whalefall.domain.errors import Problem, WhalefallError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import DEFAULT_PORTS, CredentialId, normalize_host

ImportMode = Literal["create", "upsert"]


class RowStatus(StrEnum):
    CREATED = "created"
    UPDATED = "updated"
    UNCHANGED = "unchanged"
    SKIPPED = "skipped"
    FAILED = "failed"
    NOT_APPLIED = "not_applied"


@dataclass(slots=True, kw_only=True)
class RowResult:
    row: int
    name: str
    status: RowStatus
    instance_id: int | None = None
    reason: str | None = None
    errors: list[Problem] = field(default_factory=list)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportReport:
    mode: ImportMode
    dry_run: bool
    atomic: bool
    applied: bool
    rows: Sequence[RowResult]

    def total(self, status: RowStatus) -> int:
        return sum(1 for row in self.rows if row.status is status)


@dataclass(frozen=True, slots=True, kw_only=True)
class ImportInstancesInput:
    actor: Actor
    content: bytes
    mode: ImportMode = "create"
    dry_run: bool = False
    atomic: bool = False


@dataclass(slots=True)
class _OneTransaction(UnitOfWork):
    """Hands the row use cases a unit of work whose commit waits for the import's single commit."""

    async def commit(self) -> None:
        return None

    async def rollback(self) -> None:
        return None


def _field(problem: Problem) -> Problem:
    """Use-case field paths (`body.port`, `credential_id`, `tags[2]`) → the CSV column."""
    path = (problem.field or "").removeprefix("body.")
    column = path.split("[", 1)[0].split(".", 1)[0] or None
    if column == "credential_id":
        column = "credential_name"
    return Problem(column, problem.code, problem.message, problem.context)


def _errors(exc: WhalefallError) -> list[Problem]:
    if exc.problems:
        return [_field(p) for p in exc.problems]
    return [Problem(None, exc.code.lower(), exc.message)]


@dataclass(frozen=True, slots=True)
class ImportInstances:
    """instances:write; rows naming a credential also need credentials:write. Each row goes through the same
    validation and writes as POST /instances (create) and PATCH /instances/{id} (update), with errors reported per
    row as `{field: <column>, code, message}`. `create` skips existing names (`already_exists`); `upsert` sets every
    column the file has on existing instances (an empty `tags` cell removes every tag) and reports `unchanged`
    when nothing differs. Valid rows are written in one transaction with one audit event per instance and one
    `instance.import` summary; `dry_run` writes nothing; `atomic` writes nothing when any row failed (valid rows
    are then `not_applied`)."""

    instances: InstanceRepository
    credentials: CredentialRepository
    tag_resolver: TagResolver
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork

    async def execute(self, data: ImportInstancesInput) -> ImportReport:
        data.actor.require(Permission.INSTANCES_WRITE)
        rows = read_import(data.content)
        existing = {r.name.lower(): r for r in await self.instances.all_for_export(InstanceQuery())}
        deferred = _OneTransaction()
        create = CreateInstance(self.instances, self.credentials, self.tag_resolver, self.audit, self.clock, deferred)
        update = UpdateInstance(self.instances, self.credentials, self.tag_resolver, self.audit, self.clock, deferred)
        results = [await self._one(data, row, existing, create, update) for row in rows]
        failed = any(r.status is RowStatus.FAILED for r in results)
        applied = not data.dry_run and not (data.atomic and failed)
        if not applied:
            await self.uow.rollback()
            for result in results:
                if data.atomic and failed and result.status in (RowStatus.CREATED, RowStatus.UPDATED):
                    result.status = RowStatus.NOT_APPLIED
                if result.status in (RowStatus.CREATED, RowStatus.NOT_APPLIED):
                    result.instance_id = None
        report = ImportReport(mode=data.mode, dry_run=data.dry_run, atomic=data.atomic, applied=applied, rows=results)
        if applied:
            await self.audit.record(AuditEntry(
                actor=data.actor, action="instance.import", target_type="instance",
                details={"mode": data.mode, "atomic": data.atomic, "rows": len(results),
                         **{status.value: report.total(status) for status in RowStatus}}))
            await self.uow.commit()
        return report

    async def _one(self, data: ImportInstancesInput, row: ImportRow, existing: dict[str, InstanceRecord],
                   create: CreateInstance, update: UpdateInstance) -> RowResult:
        result = RowResult(row=row.line, name=row.name, status=RowStatus.FAILED, errors=list(row.problems))
        current = existing.get(row.name.lower()) if row.name else None
        if current is not None:
            result.instance_id = current.id
            if data.mode == "create":
                result.status, result.reason = RowStatus.SKIPPED, "already_exists"
                return result
        credential_id: CredentialId | None = None
        if row.credential_name is not None:
            if not data.actor.has(Permission.CREDENTIALS_WRITE):
                result.errors.append(Problem("credential_name", "permission_denied",
                                             "naming a credential requires credentials:write",
                                             {"permission": Permission.CREDENTIALS_WRITE.value}))
            else:
                credential = await self.credentials.find_by_name(row.credential_name)
                if credential is None:
                    result.errors.append(Problem("credential_name", "not_found", "no credential with this name"))
                else:
                    credential_id = credential.id
        if result.errors or row.db_type is None:
            return result
        try:
            if current is None:
                record = await create.execute(CreateInstanceInput(
                    actor=data.actor, name=row.name, db_type=row.db_type, host=row.host, port=row.port,
                    database_name=row.database_name, credential_id=credential_id, description=row.description,
                    is_active=row.is_active, tags=row.tags, capacity_limit_bytes=row.capacity_limit_bytes,
                    collect_table_sizes=row.collect_table_sizes, field_prefix=""))
                result.status, result.instance_id = RowStatus.CREATED, record.id
                existing[row.name.lower()] = record
                return result
            if _unchanged(current, row, credential_id):
                result.status = RowStatus.UNCHANGED
                return result
            present = row.present
            await update.execute(UpdateInstanceInput(
                actor=data.actor, instance_id=current.id, name=row.name if row.name != current.name else UNSET,
                db_type=row.db_type, host=row.host,
                port=row.port if "port" in present else UNSET,
                database_name=row.database_name if "database_name" in present else UNSET,
                credential_id=credential_id if "credential_name" in present else UNSET,
                description=row.description if "description" in present else UNSET,
                is_active=row.is_active if "is_active" in present else UNSET,
                tags=row.tags if "tags" in present else UNSET,
                capacity_limit_bytes=row.capacity_limit_bytes if "capacity_limit_bytes" in present else UNSET,
                collect_table_sizes=row.collect_table_sizes if "collect_table_sizes" in present else UNSET))
            result.status = RowStatus.UPDATED
        except WhalefallError as exc:
            result.errors = _errors(exc)
        return result


def _unchanged(current: InstanceRecord, row: ImportRow, credential_id: CredentialId | None) -> bool:
    """True when applying the row would change nothing (absent columns keep their stored values)."""
    assert row.db_type is not None
    wanted: dict[str, object] = {
        "name": row.name, "db_type": row.db_type, "host": normalize_host(row.host) or row.host,
        "port": row.port if row.port is not None else DEFAULT_PORTS[row.db_type],
        "database_name": row.database_name, "description": row.description,
        "credential": credential_id, "is_active": row.is_active,
        "tags": sorted(tag.lower() for tag in row.tags), "capacity_limit_bytes": row.capacity_limit_bytes,
        "collect_table_sizes": row.collect_table_sizes,
    }
    stored: dict[str, object] = {
        "name": current.name, "db_type": current.db_type, "host": current.host, "port": current.port,
        "database_name": current.database_name, "description": current.description,
        "credential": current.credential.id if current.credential else None, "is_active": current.is_active,
        "tags": sorted(tag.name.lower() for tag in current.tags),
        "capacity_limit_bytes": current.capacity_limit_bytes, "collect_table_sizes": current.collect_table_sizes,
    }
    columns = {"name": "name", "db_type": "db_type", "host": "host", "port": "port",
               "database_name": "database_name", "description": "description", "credential": "credential_name",
               "is_active": "is_active", "tags": "tags", "capacity_limit_bytes": "capacity_limit_bytes",
               "collect_table_sizes": "collect_table_sizes"}
    return all(wanted[key] == stored[key] for key, column in columns.items() if column in row.present)
