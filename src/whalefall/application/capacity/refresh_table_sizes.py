"""On-demand table sizes of one ledger database (capacity.md §3.4): queue a `table_sizes` session, run its record."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from whalefall.application.capacity.collect_instance_capacity import read_table_sizes
from whalefall.application.capacity.collection_settings import CapacityCollectionSettings
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.ports.capacity import CapacityWriter, DatabaseLedgerReader
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import Capability, ConnectorError, ConnectorFactory, ConnectorTimeouts
from whalefall.application.ports.instances import CredentialRepository, InstanceRepository
from whalefall.application.ports.security import SecretCipher
from whalefall.application.ports.sessions import NewRecord, SessionView
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.instance_targets import connection_target, skip_code
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.application.shared.actor import Actor
from whalefall.domain.errors import InvalidStateError, NotFoundError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import InstanceId, InstanceInactiveError
from whalefall.domain.logs.redaction import Redactor
from whalefall.domain.sessions.backoff import ErrorClass
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger


class DatabaseGoneError(InvalidStateError):
    """The ledger database is `gone`: there is nothing on the server to size."""

    code = "DATABASE_GONE"
    default_message = "The database is no longer on the instance"


@dataclass(frozen=True, slots=True)
class StartTableSizeRefresh:
    """Queue a table-size refresh of one ledger database (permission `sync:run`): a targeted `table_sizes`
    session with one record. Unknown database, or its instance deleted → 404; inactive instance → 409
    INSTANCE_INACTIVE; a `gone` database → 409 DATABASE_GONE. An excluded database may be refreshed (an explicit
    request overrides the nightly filter). Broker down → 503."""

    ledger: DatabaseLedgerReader
    instances: InstanceRepository
    open_session: OpenSession
    config: CapacityConfig
    clock: Clock

    async def execute(self, actor: Actor, database_id: int,
                      trigger: SessionTrigger = SessionTrigger.MANUAL) -> SessionView:
        actor.require(Permission.SYNC_RUN)
        database = await self.ledger.get(database_id, today=self.config.today(self.clock))
        instance = await self.instances.get(InstanceId(database.instance.id)) if database is not None else None
        if database is None or instance is None or instance.deleted_at is not None:
            raise NotFoundError("database", database_id)
        if not instance.is_active:
            raise InstanceInactiveError()
        if database.status == "gone":
            raise DatabaseGoneError()
        return await self.open_session.execute(OpenSessionInput(
            kind=SessionKind.TABLE_SIZES, scope=SessionScope.TARGETED, trigger=trigger,
            records=[NewRecord(item_type="database", item_key=str(database_id), instance_id=int(instance.id),
                               instance_name=instance.name)],
            created_by=actor.user_id, origin_request_id=actor.request_id, params={"database_id": database_id}))


@dataclass(frozen=True, slots=True)
class RefreshTableSizes(RecordWork):
    """The `table_sizes` record work: read the largest `capacity.table_sizes.max_tables` tables of the record's
    database and replace its snapshot atomically (fenced; `truncated` when more existed). The database gone since
    the request → skipped NOTHING_TO_DO; its instance deleted or purged (ledger rows go only with the instance) /
    inactive → skipped INSTANCE_DELETED / INSTANCE_INACTIVE. A connector failure fails the record and keeps the
    previous snapshot."""

    ledger: DatabaseLedgerReader
    instances: InstanceRepository
    credentials: CredentialRepository
    cipher: SecretCipher
    connectors: ConnectorFactory
    timeouts: ConnectorTimeouts
    writer: CapacityWriter
    settings: CapacityCollectionSettings
    config: CapacityConfig
    clock: Clock
    uow: UnitOfWork
    redactor: Redactor

    async def run(self, context: RecordContext) -> RecordResult:
        database = await self.ledger.get(int(context.record.item_key), today=self.config.today(self.clock))
        instance = await self.instances.get(InstanceId(database.instance.id)) if database is not None else None
        skipped = skip_code(instance)
        if database is None or database.status == "gone" or skipped is not None or instance is None:
            await self.uow.rollback()
            return RecordResult(skipped_code=skipped or "NOTHING_TO_DO")
        target = await connection_target(instance, self.credentials, self.cipher)
        await self.uow.rollback()
        if Capability.TABLE_SIZES not in self.connectors.capabilities(instance.db_type):
            raise ConnectorError(ErrorClass.UNSUPPORTED, "This engine's connector cannot read table sizes",
                                 error_code="UNSUPPORTED")
        await context.check_cancel()
        try:
            async with asyncio.timeout(self.timeouts.instance_deadline_s):
                with self.redactor.live_secret(target.secret.reveal()):
                    async with self.connectors.open(target, self.timeouts) as connector:
                        tables, truncated = await read_table_sizes(connector, database.name,
                                                                   max_tables=self.settings.max_tables)
        except TimeoutError as exc:
            raise ConnectorError(ErrorClass.TIMEOUT, "The refresh exceeded the instance deadline",
                                 error_code="TIMEOUT") from exc
        await context.check_cancel()
        try:
            await context.fence()
            await self.writer.replace_table_sizes(int(instance.id), database.name, tables,
                                                  collected_at=self.clock.now(), truncated=truncated)
            await self.uow.commit()
        except BaseException:
            await self.uow.rollback()
            raise
        return RecordResult(counters={"updated": len(tables)},
                            details={"database": database.name, "table_count": len(tables), "truncated": truncated})
