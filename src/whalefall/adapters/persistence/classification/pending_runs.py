"""SqlAlchemyPendingRuns: the debounced fleet run request as one `classification_counters` row whose value is the
due time in epoch milliseconds (absent = nothing pending), so no extra table is needed and the request commits or
rolls back with the write that made it."""

from __future__ import annotations

from datetime import datetime
from typing import Final

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.classification import classification_counters
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import PendingRuns

C = classification_counters.c
PENDING: Final = "pending_fleet_run_ms"


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


class SqlAlchemyPendingRuns(PendingRuns):
    """Over the caller's unit of work; the row's primary key makes concurrent requests collapse into one."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _upsert(self, connection: AsyncConnection, due_ms: int, *, replace: bool) -> None:
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        statement = upsert(classification_counters).values(name=PENDING, value=due_ms)
        if replace:
            await connection.execute(statement.on_conflict_do_update(index_elements=[C.name],
                                                                     set_={"value": due_ms}))
        else:
            await connection.execute(statement.on_conflict_do_nothing())

    async def request(self, due_at: datetime) -> None:
        await self._upsert(await self._uow.connection(), _ms(due_at), replace=False)

    async def postpone(self, due_at: datetime) -> None:
        await self._upsert(await self._uow.connection(), _ms(due_at), replace=True)

    async def claim_due(self, now: datetime) -> bool:
        result = await (await self._uow.connection()).execute(delete(classification_counters).where(
            C.name == PENDING, C.value <= _ms(now)))
        return bool(result.rowcount)
