"""CSV export of the audit trail (api.md §3.17, §5): capped, and itself audited (`export.download`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from whalefall.application.audit.query_audit_events import AuditSearchInput
from whalefall.application.audit.reader import AuditEventReader, AuditEventView
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS, check_export_size, given_filters
from whalefall.domain.identity.roles import Permission


@dataclass(frozen=True, slots=True)
class ExportAuditEvents:
    """audit:read and exports:run. The row count is checked first: above `max_rows` → 422 `EXPORT_TOO_LARGE`
    and nothing is read or audited. Otherwise the rows (oldest first) are returned and one `export.download` event
    with the resource, the filters and the row count is committed before the file is sent."""

    events: AuditEventReader
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, data: AuditSearchInput) -> Sequence[AuditEventView]:
        data.actor.require(Permission.AUDIT_READ)
        data.actor.require(Permission.EXPORTS_RUN)
        query = data.query(self.clock.now())
        total = await self.events.count(query)
        check_export_size(total, self.max_rows)
        rows = await self.events.export(query, limit=self.max_rows)
        filters: dict[str, object] = {
            "since": query.window.since.isoformat(), "until": query.window.until.isoformat(),
            "actor_type": data.actor_type, "actor_id": sorted(data.actor_ids), "action": data.action_prefix,
            "outcome": sorted(o.value for o in data.outcomes), "target_type": data.target_type,
            "target_id": data.target_id, "request_id": data.request_id}
        await self.audit.record(AuditEntry.export_download(data.actor, "audit_events", len(rows),
                                                           given_filters(filters)))
        await self.uow.commit()
        return rows
