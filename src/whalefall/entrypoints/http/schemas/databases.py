"""Wire shapes of the database ledger routes (api.md §2 `Database`, §3.10)."""

from __future__ import annotations

from datetime import date, datetime

import msgspec

from whalefall.application.ports.capacity import DatabaseView, TableSizeView


class LedgerInstanceOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    db_type: str


class DatabaseOut(msgspec.Struct, kw_only=True):
    id: int
    instance: LedgerInstanceOut
    name: str
    is_system: bool
    is_excluded: bool
    status: str
    first_seen_on: date
    last_seen_on: date
    gone_since: date | None
    last_size_bytes: int | None
    last_collected_on: date | None
    freshness: str

    @classmethod
    def of(cls, v: DatabaseView) -> DatabaseOut:
        return cls(id=v.id, instance=LedgerInstanceOut(id=v.instance.id, name=v.instance.name,
                                                       db_type=v.instance.db_type.value),
                   name=v.name, is_system=v.is_system, is_excluded=v.is_excluded, status=v.status,
                   first_seen_on=v.first_seen_on, last_seen_on=v.last_seen_on, gone_since=v.gone_since,
                   last_size_bytes=v.last_size_bytes, last_collected_on=v.last_collected_on, freshness=v.freshness)


class TableSizeOut(msgspec.Struct, kw_only=True):
    schema_name: str
    table_name: str
    total_bytes: int
    data_bytes: int | None
    index_bytes: int | None
    row_estimate: int | None
    collected_at: datetime

    @classmethod
    def of(cls, v: TableSizeView) -> TableSizeOut:
        return cls(schema_name=v.schema_name, table_name=v.table_name, total_bytes=v.total_bytes,
                   data_bytes=v.data_bytes, index_bytes=v.index_bytes, row_estimate=v.row_estimate,
                   collected_at=v.collected_at)
