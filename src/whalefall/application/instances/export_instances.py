"""CSV export of instances (api.md §3.5, §5): capped before any row is sent, audited `export.download`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.instances import InstanceQuery, InstanceRecord, InstanceRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS, check_export_size, given_filters
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.identity.roles import Permission

SORTABLE: Final = ("name", "db_type", "host", "created_at", "last_success_at", "last_accounts_sync_at")


def _value(record: InstanceRecord, key: str) -> object:
    if key == "last_accounts_sync_at":
        return record.accounts_synced_at
    if key == "name":
        return record.name.lower()
    return getattr(record, key)


def sort_records(records: Sequence[InstanceRecord], keys: Sequence[SortKey]) -> list[InstanceRecord]:
    """The list routes' order: each key with nulls last (ascending) or first (descending), then `id`."""
    ordered = sorted(records, key=lambda r: r.id)
    for key in reversed(keys):
        present = [r for r in ordered if _value(r, key.field) is not None]
        missing = [r for r in ordered if _value(r, key.field) is None]
        present.sort(key=lambda r: _value(r, key.field), reverse=key.descending)  # type: ignore[arg-type,return-value]
        ordered = missing + present if key.descending else present + missing
    return ordered


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportInstancesInput:
    actor: Actor
    query: InstanceQuery
    sort: tuple[SortKey, ...] = (SortKey("name"),)


@dataclass(frozen=True, slots=True)
class ExportInstances:
    """instances:read and exports:run. The matching rows are counted first: above `max_rows` (setting
    `export.max_rows`, default 200 000) → 422 EXPORT_TOO_LARGE and nothing is read or audited. Otherwise one
    `export.download` event (resource, filters, row count) is committed and the rows are returned in the list
    route's order, with the same columns as the import."""

    instances: InstanceRepository
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, data: ExportInstancesInput) -> list[InstanceRecord]:
        data.actor.require(Permission.INSTANCES_READ)
        data.actor.require(Permission.EXPORTS_RUN)
        total = (await self.instances.list_page(data.query, PageRequest(page=1, limit=1))).total
        check_export_size(total, self.max_rows)
        records = sort_records(await self.instances.all_for_export(data.query), data.sort)
        q = data.query
        filters: dict[str, object] = {
            "q": q.q, "db_type": sorted(q.db_types), "flavor": sorted(q.flavors), "status": q.status,
            "tags_any": sorted(q.tags_any), "tags_all": sorted(q.tags_all), "credential_id": q.credential_id,
            "connection": q.connection}
        await self.audit.record(AuditEntry.export_download(data.actor, "instances", len(records),
                                                           given_filters(filters)))
        await self.uow.commit()
        return records
