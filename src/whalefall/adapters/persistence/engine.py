"""The Database object: async engine + connection options for SQLite (embedded) and PostgreSQL (production)."""

from __future__ import annotations

import asyncio
import weakref
from pathlib import Path
from typing import Any, Final

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import StaticPool

SQLITE_BUSY_TIMEOUT_MS: Final = 15_000


class Database:
    """Owns the engine; the container only ever sees this type (never SQLAlchemy's)."""

    def __init__(self, url: str, *, echo: bool = False, pool_size: int = 10) -> None:
        parsed = make_url(url)
        self.url = url
        self.dialect = parsed.get_backend_name()
        options: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            database = parsed.database or ""
            if database in ("", ":memory:"):
                # One shared in-memory database for every connection (tests).
                options.update(poolclass=StaticPool, connect_args={"check_same_thread": False})
            else:
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options.update(pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                           connect_args={"application_name": "whalefall", "connect_timeout": 5})
        self.engine: AsyncEngine = create_async_engine(url, **options)
        self._write_locks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary())
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_on_connect)
            event.listen(self.engine.sync_engine, "begin", _sqlite_on_begin)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def write_lock(self) -> asyncio.Lock | None:
        """SQLite only: the in-process lock that units of work hold for the whole of each transaction, so this
        process's writers queue on an asyncio lock (FIFO, no polling) instead of in SQLite's busy handler, which
        sleeps with back-off. Other processes (and connections taken without a unit of work) still meet
        `BEGIN IMMEDIATE` and the busy timeout. One lock per event loop; None on PostgreSQL."""
        if not self.is_sqlite:
            return None
        loop = asyncio.get_running_loop()
        lock = self._write_locks.get(loop)
        if lock is None:
            lock = self._write_locks[loop] = asyncio.Lock()
        return lock

    def connect(self) -> AsyncConnection:
        return self.engine.connect()

    async def ping(self, timeout_s: float = 2.0) -> bool:
        """True when `SELECT 1` answers within the timeout."""
        try:
            async with asyncio.timeout(timeout_s), self.engine.connect() as connection:
                await connection.execute(text("SELECT 1"))
        except (TimeoutError, SQLAlchemyError, OSError):
            return False
        return True

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # pysqlite's own transaction handling would defer BEGIN; take control so BEGIN IMMEDIATE serialises writers.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


READ_ONLY_OPTION: Final = "whalefall_read_only"
"""Connection execution option of read-only units of work: on SQLite no `BEGIN` at all (each statement reads its
own WAL snapshot, next to the writer and without its lock)."""


def _sqlite_on_begin(connection: Any) -> None:
    # Every transaction takes the write lock up front: read-then-write use cases (last-admin check, unique checks)
    # are then serialised, as api.md §4.3 rule 4 requires ("SQLite serialises writers"). Declared read-only
    # units of work run their statements in autocommit instead.
    if not connection.get_execution_options().get(READ_ONLY_OPTION):
        connection.exec_driver_sql("BEGIN IMMEDIATE")
