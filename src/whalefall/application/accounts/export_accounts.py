"""CSV export of accounts (api.md §3.8, §5.2): the list's filters, capped before any row is sent, audited."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from whalefall.application.ports.accounts import AccountLedgerReader, AccountQuery, AccountView
from whalefall.application.ports.audit import AuditEntry, AuditLog
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.csv_codec import CellValue
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS, check_export_size
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.identity.roles import Permission

COLUMNS: Final = ("instance_name", "db_type", "kind", "namespace", "key", "is_active", "login_capable", "is_locked",
                  "is_superuser", "password_expired", "roles", "classifications", "primary_classification",
                  "instance_tags", "first_seen_at", "deactivated_at", "last_changed_at", "last_synced_at")


def export_row(account: AccountView) -> list[CellValue]:
    """One account in the order of `COLUMNS`; lists are `;`-separated (classification codes, role keys, tag
    names), empty lists are null cells. Text cells get the formula guard when the CSV is encoded."""
    primary = account.primary_classification
    return [account.instance.name, account.instance.db_type.value, account.kind.value, account.namespace,
            account.key, account.is_active, account.login_capable, account.is_locked, account.is_superuser,
            account.password_expired, ";".join(account.roles) or None,
            ";".join(dict.fromkeys(c.code for c in account.classifications)) or None,
            primary.code if primary else None, ";".join(account.instance_tags) or None, account.first_seen_at,
            account.deactivated_at, account.last_changed_at, account.last_synced_at]


@dataclass(frozen=True, slots=True, kw_only=True)
class ExportAccountsInput:
    actor: Actor
    query: AccountQuery
    sort: tuple[SortKey, ...] = (SortKey("instance_name"), SortKey("key"))


@dataclass(frozen=True, slots=True)
class ExportAccounts:
    """accounts:read and exports:run. Same filters and order as GET /accounts. The matching rows are counted
    first: above `max_rows` (setting `export.max_rows`, default 200 000) → 422 EXPORT_TOO_LARGE, nothing is read
    or audited. Otherwise one `export.download` event (resource, filters, row count) is committed and the rows are
    returned with their classifications (codes, `;`-separated; the primary one in its own column)."""

    accounts: AccountLedgerReader
    audit: AuditLog
    uow: UnitOfWork
    max_rows: int = DEFAULT_MAX_ROWS

    async def execute(self, data: ExportAccountsInput) -> list[AccountView]:
        data.actor.require(Permission.ACCOUNTS_READ)
        data.actor.require(Permission.EXPORTS_RUN)
        total = (await self.accounts.list_accounts(data.query, PageRequest(page=1, limit=1))).total
        check_export_size(total, self.max_rows)
        rows = await self.accounts.export_accounts(data.query, PageRequest(page=1, limit=1, sort=data.sort))
        await self.audit.record(AuditEntry.export_download(data.actor, "accounts", len(rows), _filters(data.query)))
        await self.uow.commit()
        return rows


def _filters(q: AccountQuery) -> dict[str, object]:
    values: dict[str, object] = {
        "instance_id": sorted(q.instance_ids), "db_type": sorted(q.db_types), "tags_any": sorted(q.tags_any),
        "tags_all": sorted(q.tags_all), "q": q.q, "kind": sorted(q.kinds), "include_inactive": q.include_inactive,
        "is_locked": q.is_locked, "is_superuser": q.is_superuser, "login_capable": q.login_capable,
        "changed_since": q.changed_since.isoformat() if q.changed_since else None,
        "classification_id": sorted(q.classification_ids), "unclassified": q.unclassified,
        "grants_stale": q.grants_stale}
    return {key: value for key, value in values.items() if value not in (None, [], False)}

