"""SqlAlchemyAccountHistoryPurger: batched deletes of expired change entries and closed ledger rows."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import Table, delete, exists, select
from sqlalchemy.exc import SQLAlchemyError

from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.accounts import (
    grant_intervals,
    membership_intervals,
    principal_changes,
    principal_state_versions,
    principals,
    snapshot_settings,
)
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.accounts import AccountHistoryPurger, HistoryTable

_TABLES: Final[Mapping[HistoryTable, Table]] = {
    HistoryTable.CHANGES: principal_changes, HistoryTable.STATE_VERSIONS: principal_state_versions,
    HistoryTable.GRANT_INTERVALS: grant_intervals, HistoryTable.MEMBERSHIP_INTERVALS: membership_intervals,
    HistoryTable.SETTINGS: snapshot_settings,
}


def _expired(table: HistoryTable, cutoff: datetime) -> list[Any]:
    if table is HistoryTable.CHANGES:
        return [principal_changes.c.observed_at < cutoff]
    columns = _TABLES[table].c
    clauses: list[Any] = [columns.valid_to.is_not(None), columns.valid_to < cutoff]
    if table is HistoryTable.STATE_VERSIONS:
        # An inactive principal keeps pointing at its last version: the reactivation diff needs it.
        clauses.append(~exists(select(1).where(principals.c.current_state_version_id == columns.id)))
    return clauses


class SqlAlchemyAccountHistoryPurger(AccountHistoryPurger):
    """`DELETE … WHERE id IN (SELECT id … ORDER BY id LIMIT n)`: bounded on both dialects, one transaction each."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def delete_batch(self, table: HistoryTable, cutoff: datetime, limit: int) -> int:
        target = _TABLES[table]
        victims = select(target.c.id).where(*_expired(table, cutoff)).order_by(target.c.id).limit(limit)
        try:
            async with self._database.engine.begin() as connection:
                result = await connection.execute(delete(target).where(target.c.id.in_(victims)))
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return int(result.rowcount or 0)
