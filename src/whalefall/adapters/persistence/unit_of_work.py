"""SQLAlchemy unit of work: one lazily opened connection and transaction per request/task/command."""

from __future__ import annotations

import asyncio
from typing import Final

from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.engine import READ_ONLY_OPTION, SQLITE_BUSY_TIMEOUT_MS, Database
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.unit_of_work import UnitOfWork

_UNAVAILABLE_SQLSTATES: Final = ("08", "57P")


class SqlAlchemyUnitOfWork(UnitOfWork):
    """Repositories call `connection()`; the first call opens the connection and begins a transaction.

    On SQLite each transaction also holds the database's in-process write lock (`Database.write_lock`), taken
    after the connection is checked out and before `BEGIN IMMEDIATE`, released when the transaction ends; waiting
    longer than the busy timeout fails like SQLite's own "database is locked". A `read_only` unit of work (for
    single-statement status reads that must not queue behind writers) takes neither and runs in autocommit
    (PostgreSQL: no BEGIN/COMMIT round trips; SQLite: no BEGIN): each statement sees its own snapshot, and it
    must not write."""

    def __init__(self, database: Database, *, read_only: bool = False) -> None:
        self.database = database
        self.read_only = read_only
        self._connection: AsyncConnection | None = None
        self._held: asyncio.Lock | None = None
        self.committed = 0

    async def connection(self) -> AsyncConnection:
        try:
            if self._connection is None:
                connection = await self.database.connect().__aenter__()
                if self.read_only:
                    options: dict[str, object] = {READ_ONLY_OPTION: True}
                    if not self.database.is_sqlite:
                        options["isolation_level"] = "AUTOCOMMIT"
                    connection = await connection.execution_options(**options)
                self._connection = connection
            if not self._connection.in_transaction():
                await self._acquire()
                try:
                    await self._connection.begin()
                except BaseException:
                    self._release()
                    raise
        except (OperationalError, OSError, TimeoutError) as exc:
            raise StoreUnavailableError() from exc
        return self._connection

    async def _acquire(self) -> None:
        lock = None if self.read_only else self.database.write_lock()
        if lock is None or self._held is not None:
            return
        async with asyncio.timeout(SQLITE_BUSY_TIMEOUT_MS / 1000):
            await lock.acquire()
        self._held = lock

    def _release(self) -> None:
        held, self._held = self._held, None
        if held is not None:
            held.release()

    async def commit(self) -> None:
        if self._connection is not None and self._connection.in_transaction():
            try:
                await self._connection.commit()
            finally:
                if not self._connection.in_transaction():
                    self._release()
            self.committed += 1

    async def rollback(self) -> None:
        try:
            if self._connection is not None and self._connection.in_transaction():
                await self._connection.rollback()
        finally:
            if self._connection is None or not self._connection.in_transaction():
                self._release()

    async def release(self) -> None:
        """Roll back and return the connection to the pool; `connection()` opens a new one when needed."""
        await self.close()

    async def close(self) -> None:
        """Roll back anything uncommitted and return the connection to the pool."""
        if self._connection is not None:
            try:
                await self.rollback()
            finally:
                try:
                    await self._connection.close()
                finally:
                    self._connection = None
                    self._release()


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
