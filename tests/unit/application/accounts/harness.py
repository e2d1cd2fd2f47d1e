"""SyncHarness: RunInstanceSync over a real metadata store, a scripted catalog and an in-memory record context."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import count
from typing import Any, Final

from sqlalchemy import text

from tests.fakes.account_sync import ContextProbe, FakeCatalogConnectorFactory, PlainSecretCipher, record_context
from whalefall.adapters.persistence.accounts.writer import SqlAlchemyLedgerWriter
from whalefall.adapters.persistence.classification.deactivation import SqlAlchemyDeactivatedAccountAssignments
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.instances import SqlAlchemyCredentialRepository, SqlAlchemyInstanceRepository
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.accounts.run_instance_sync import AccountFilterSettings, RunInstanceSync
from whalefall.application.ports.accounts import AccountLedgerWriter
from whalefall.application.ports.connectors import AccountCatalogRows, ConnectorFactory, ConnectorTimeouts
from whalefall.application.sessions.work import RecordResult
from whalefall.domain.instances import DbEngine, SecretText

LEDGER_TABLES: Final = ("principals", "principal_state_versions", "grant_intervals", "membership_intervals",
                        "principal_changes", "snapshot_settings", "instance_account_sync_state")
_WRITE: Final = re.compile(r"^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+\"?(\w+)", re.IGNORECASE)
T0: Final = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


@dataclass
class SyncHarness:
    database: Database
    connectors: FakeCatalogConnectorFactory = field(default_factory=FakeCatalogConnectorFactory)
    cipher: PlainSecretCipher = field(default_factory=PlainSecretCipher)
    filters: AccountFilterSettings = field(default_factory=AccountFilterSettings)
    statements: list[str] = field(default_factory=list)
    ledger_factory: Callable[[SqlAlchemyUnitOfWork], AccountLedgerWriter] = SqlAlchemyLedgerWriter
    _records: count[int] = field(default_factory=lambda: count(1))
    last_probe: ContextProbe | None = None
    real_connectors: ConnectorFactory | None = None

    async def add_instance(self, name: str = "pg1", *, is_active: bool = True,
                           db_type: DbEngine = DbEngine.POSTGRESQL, host: str | None = None, port: int = 5432,
                           username: str = "whalefall", password: str = "pw",
                           database_name: str | None = None) -> int:
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            credentials = SqlAlchemyCredentialRepository(uow)
            credential_id = await credentials.add({"name": f"{name}-cred", "username": username,
                                                   "db_type": db_type.value}, at=T0, by=None)
            await credentials.set_secret(credential_id, self.cipher.encrypt(
                SecretText(password), associated_data=f"whalefall:credential:{credential_id}".encode()), at=T0)
            instance_id = await SqlAlchemyInstanceRepository(uow).add(
                {"name": name, "db_type": db_type.value, "host": host or f"{name}.example", "port": port,
                 "database_name": database_name, "credential_id": credential_id, "is_active": is_active},
                at=T0, by=None)
            await uow.commit()
        finally:
            await uow.close()
        return int(instance_id)

    async def sync(self, instance_id: int, source: Callable[[], AccountCatalogRows] | None = None, *,
                   session_id: str = "00000000-0000-4000-8000-000000000001",
                   record_id: int | None = None) -> RecordResult:
        """Run the record work once; `source` scripts the fake catalog, None uses `real_connectors`."""
        if source is not None:
            self.connectors.serve(instance_id, source)
        context, self.last_probe = record_context(record_id=record_id or next(self._records), session_id=session_id,
                                                  instance_id=instance_id)
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            use_case = RunInstanceSync(
                instances=SqlAlchemyInstanceRepository(uow), credentials=SqlAlchemyCredentialRepository(uow),
                cipher=self.cipher, connectors=self.real_connectors if source is None and self.real_connectors
                else self.connectors, timeouts=ConnectorTimeouts(),
                ledger=self.ledger_factory(uow), filters=self.filters, uow=uow,
                assignments=SqlAlchemyDeactivatedAccountAssignments(uow))
            return await use_case.run(context)
        finally:
            await uow.close()

    def ledger_writes(self) -> list[str]:
        """INSERT/UPDATE/DELETE statements on ledger tables since the last `reset_statements`."""
        return [s for s in self.statements if (m := _WRITE.match(s)) and m.group(2).lower() in LEDGER_TABLES]

    def reset_statements(self) -> None:
        self.statements.clear()

    async def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every ledger table's rows (all columns, by primary key) for byte-for-byte comparisons."""
        async with self.database.connect() as connection:
            return {table: [tuple(row) for row in (await connection.execute(
                text(f"SELECT * FROM {table} ORDER BY 1"))).all()]
                for table in (*LEDGER_TABLES, "instances")}

    async def scalar(self, sql: str, **params: object) -> Any:
        async with self.database.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()

    async def rows(self, sql: str, **params: object) -> list[dict[str, Any]]:
        async with self.database.connect() as connection:
            return [dict(r) for r in (await connection.execute(text(sql), params)).mappings()]


