"""SQLAlchemy unit of work: one lazily opened connection and transaction per request/task/command."""

from __future__ import annotations

from typing import Final

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.engine import Database
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.unit_of_work import UnitOfWork

_UNAVAILABLE_SQLSTATES: Final = ("08", "57P")


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Repositories call `connection()`; the first call opens the connection and begins a transaction."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._connection: AsyncConnection | None = None
        self.committed = 0

    async def connection(self) -> AsyncConnection:
        try:
            if self._connection is None:
                self._connection = await self.database.connect().__aenter__()
            if not self._connection.in_transaction():
                await self._connection.begin()
        except (OperationalError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return self._connection

    async def commit(self) -> None:
        if self._connection is not None and self._connection.in_transaction():
            await self._connection.commit()
            self.committed += 1

    async def rollback(self) -> None:
        if self._connection is not None and self._connection.in_transaction():
            await self._connection.rollback()

    async def close(self) -> None:
        """Roll back anything uncommitted and return the connection to the pool."""
        if self._connection is not None:
            try:
                await self.rollback()
            finally:
                await self._connection.close()
                self._connection = None


def constraint_of(exc: IntegrityError) -> str:
    """The violated constraint's name: PostgreSQL diagnostics, else SQLite's message text."""
    original = exc.orig
    diag = getattr(original, "diag", None)
    name = getattr(diag, "constraint_name", None)
    return str(name) if name else str(original)


def is_unavailable(exc: DBAPIError) -> bool:
    """Connection-class failures (SQLSTATE 08xxx / 57P0x, or no SQLSTATE at all on a connect error)."""
    sqlstate = getattr(exc.orig, "sqlstate", None)
    return isinstance(exc, OperationalError) and (sqlstate is None or str(sqlstate).startswith(_UNAVAILABLE_SQLSTATES))
