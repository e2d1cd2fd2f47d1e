"""CollectionHarness: CollectInstanceCapacity / RefreshTableSizes over a real metadata store and scripted
connectors, with an in-memory record context."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from itertools import count
from typing import Any

from sqlalchemy import text

from tests.fakes.account_sync import ContextProbe, PlainSecretCipher, record_context
from tests.fakes.capacity import CapacityConnectorFactory
from tests.fakes.sessions import SettableClock
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.capacity.reads import SqlAlchemyDatabaseLedgerReader
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.instances import SqlAlchemyCredentialRepository, SqlAlchemyInstanceRepository
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.collect_instance_capacity import CollectInstanceCapacity
from whalefall.application.capacity.collection_settings import CapacityCollectionSettings
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.capacity.refresh_table_sizes import RefreshTableSizes
from whalefall.application.ports.connectors import ConnectorFactory, ConnectorTimeouts
from whalefall.application.sessions.work import LeaseLostError, RecordCancelledError, RecordResult
from whalefall.domain.instances import DbEngine
from whalefall.domain.logs.redaction import Redactor

#: A business day inside the partitions the migrations create on PostgreSQL.
DAY1 = datetime(2026, 11, 20, 3, 0, tzinfo=UTC)


@dataclass
class CollectionHarness:
    database: Database
    connectors: CapacityConnectorFactory = field(default_factory=CapacityConnectorFactory)
    settings: CapacityCollectionSettings = field(default_factory=CapacityCollectionSettings)
    clock: SettableClock = field(default_factory=lambda: SettableClock(DAY1))
    real_connectors: ConnectorFactory | None = None
    redactor: Redactor = field(default_factory=Redactor)
    timeouts: ConnectorTimeouts = field(default_factory=lambda: ConnectorTimeouts(connect_s=3, statement_s=30))
    last_probe: ContextProbe | None = None
    _records: count[int] = field(default_factory=lambda: count(1))

    def __post_init__(self) -> None:
        self._instances = SyncHarness(self.database, cipher=PlainSecretCipher())

    async def add_instance(self, name: str, **options: Any) -> int:
        return await self._instances.add_instance(name, **options)

    def _ports(self, uow: SqlAlchemyUnitOfWork) -> dict[str, Any]:
        return {"instances": SqlAlchemyInstanceRepository(uow), "credentials": SqlAlchemyCredentialRepository(uow),
                "cipher": self._instances.cipher, "connectors": self.real_connectors or self.connectors,
                "timeouts": self.timeouts, "writer": SqlAlchemyCapacityWriter(uow),
                "settings": self.settings, "config": CapacityConfig(), "clock": self.clock, "uow": uow,
                "redactor": self.redactor}

    async def collect(self, instance_id: int, *, params: dict[str, object] | None = None,
                      cancel_at: int | None = None, lease_lost: bool = False) -> RecordResult:
        """Run the record work once. `cancel_at` = n: the n-th cancellation check raises (the last one of a
        collection sits right before the data commit); `lease_lost` makes the fence fail."""
        context, self.last_probe = record_context(record_id=next(self._records),
                                                  session_id="00000000-0000-4000-8000-0000000000c1",
                                                  instance_id=instance_id, now=self.clock.now())
        context = replace(context, session=replace(context.session, params=params or {}))
        if cancel_at is not None:
            checks = count(1)

            async def check_cancel() -> None:
                if next(checks) >= cancel_at:
                    raise RecordCancelledError()

            context = replace(context, check_cancel=check_cancel)
        if lease_lost:
            async def fence() -> None:
                raise LeaseLostError()

            context = replace(context, fence=fence)
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            return await CollectInstanceCapacity(**self._ports(uow)).run(context)
        finally:
            await uow.close()

    async def refresh(self, database_id: int, instance_id: int) -> RecordResult:
        context, self.last_probe = record_context(record_id=next(self._records),
                                                  session_id="00000000-0000-4000-8000-0000000000c2",
                                                  instance_id=instance_id, now=self.clock.now())
        context = replace(context, record=replace(context.record, item_key=str(database_id),
                                                  item_type="database"))
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            return await RefreshTableSizes(ledger=SqlAlchemyDatabaseLedgerReader(uow),
                                           **self._ports(uow)).run(context)
        finally:
            await uow.close()

    async def rows(self, sql: str, **params: object) -> list[dict[str, Any]]:
        async with self.database.connect() as connection:
            return [dict(r) for r in (await connection.execute(text(sql), params)).mappings()]

    async def ledger(self, instance_id: int) -> dict[str, dict[str, Any]]:
        rows = await self.rows("SELECT * FROM instance_databases WHERE instance_id = :i", i=instance_id)
        return {r["name"]: r for r in rows}

    async def day_samples(self, instance_id: int) -> dict[str, int]:
        rows = await self.rows("SELECT database_name, size_bytes FROM database_size_samples "
                               "WHERE instance_id = :i AND collected_on = :d", i=instance_id,
                               d=self.clock.now().date())
        return {r["database_name"]: r["size_bytes"] for r in rows}

    async def instance_sample(self, instance_id: int) -> dict[str, Any] | None:
        rows = await self.rows("SELECT * FROM instance_size_samples WHERE instance_id = :i AND collected_on = :d",
                               i=instance_id, d=self.clock.now().date())
        return rows[0] if rows else None

    async def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every capacity row, for 'nothing changed' comparisons."""
        async with self.database.connect() as connection:
            return {t: [tuple(r) for r in (await connection.execute(text(f"SELECT * FROM {t} ORDER BY 1, 2")))]
                    for t in ("instance_databases", "database_size_samples", "instance_size_samples",
                              "table_size_snapshots")}


PG = DbEngine.POSTGRESQL
