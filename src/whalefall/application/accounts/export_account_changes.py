"""CSV export of the fleet change log (api.md §3.8, §5.2 account changes): the list's filters and window, capped
before any row is sent, audited."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from whalefall.application.accounts.queries import DEFAULT_WINDOW, MAX_WINDOW, check_window
from whalefall.application.ports.accounts import AccountLedgerReader, ChangeExportRow, ChangeQuery
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.csv_codec import CellValue
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS, check_export_size, given_filters
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.identity.roles import Permission

COLUMNS: Final = ("observed_at", "instance_name", "db_type", "namespace", "key", "type", "granted", "revoked",
                  "memberships_added", "memberships_removed", "attributes", "session_id")


def _items(diff: Mapping[str, object], name: str) -> list[Mapping[str, object]]:
    value = diff.get(name)
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _grant(item: Mapping[str, object]) -> str:
    """`PRIVILEGE@object_path`; a global grant (empty path) is the bare name, a deny is prefixed `DENY `."""
    path = str(item.get("object_path") or "")
    text = f"{item.get('privilege')}@{path}" if path else str(item.get("privilege"))
    return f"DENY {text}" if item.get("effect") == "deny" else text


def _role(item: Mapping[str, object]) -> str:
    """The role key; a database-scoped role (SQL Server) is `namespace/key`."""
    role = item.get("role")
    if not isinstance(role, Mapping):
        return ""
    namespace = str(role.get("namespace") or "")
    return f"{namespace}/{role.get('key')}" if namespace else str(role.get("key"))


def _value(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def export_row(row: ChangeExportRow) -> list[CellValue]:
    """One change entry in the order of `COLUMNS`: `;`-separated items, attributes as `field=before→after` with
    JSON-rendered values (`null` for a missing side), empty lists as null cells."""
    diff = row.change.diff

    def joined(values: list[str]) -> str | None:
        return ";".join(values) or None

    return [row.change.observed_at, row.instance_name, row.db_type.value, row.namespace, row.key, row.change.type,
            joined([_grant(i) for i in _items(diff, "granted")]),
            joined([_grant(i) for i in _items(diff, "revoked")]),
            joined([_role(i) for i in _items(diff, "memberships_added")]),
            joined([_role(i) for i in _items(diff, "memberships_removed")]),
            joined([f"{i.get('field')}={_value(i.get('before'))}→{_value(i.get('after'))}"
                    for i in _items(diff, "attributes")]),
            row.change.session_id]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportAccountChangesInput:
    actor: Actor
    query: ChangeQuery
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class ExportAccountChanges:
    """accounts:read and exports:run. Same filters and window as GET /account-changes (`from` exclusive, `to`
    inclusive; default the last 30 days, at most 366 → else 400 `window_too_large`), newest first. Counted first:
    above `max_rows` (`export.max_rows`, default 200 000) → 422 EXPORT_TOO_LARGE, nothing read or audited;
    otherwise one `export.download` event (resource, filters, row count) is committed."""

    accounts: AccountLedgerReader
    audit: AuditLog
    clock: Clock
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, data: ExportAccountChangesInput) -> list[ChangeExportRow]:
        data.actor.require(Permission.ACCOUNTS_READ)
        data.actor.require(Permission.EXPORTS_RUN)
        start, end = check_window(data.since, data.until, now=self.clock.now(), default=DEFAULT_WINDOW,
                                  maximum=MAX_WINDOW)
        q = data.query
        query = ChangeQuery(since=start, until=end, instance_ids=q.instance_ids, account_ids=q.account_ids,
                            db_types=q.db_types, types=q.types, session_id=q.session_id, q=q.q)
        total = (await self.accounts.changes(query, PageRequest(page=1, limit=1))).total
        check_export_size(total, self.max_rows)
        rows = await self.accounts.export_changes(query)
        filters: dict[str, object] = {
            "from": start.isoformat(), "to": end.isoformat(), "instance_id": sorted(q.instance_ids),
            "account_id": sorted(q.account_ids), "db_type": sorted(q.db_types), "type": sorted(q.types),
            "session_id": q.session_id, "q": q.q}
        await self.audit.record(AuditEntry.export_download(data.actor, "account_changes", len(rows),
                                                           given_filters(filters)))
        await self.uow.commit()
        return rows
