"""CollectInstanceCapacity: the `capacity_collection` record work — one instance's inventory, ledger and sizes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final

from whalefall.application.capacity.collection_settings import CapacityCollectionSettings
from whalefall.application.capacity.config import CapacityConfig
from whalefall.application.ports.capacity import CapacityWriter, DailyCollection, TableSize
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.connectors import (
    Capability,
    Connector,
    ConnectorError,
    ConnectorFactory,
    ConnectorTimeouts,
    SizeCollection,
)
from whalefall.application.ports.instances import CredentialRepository, InstanceRecord, InstanceRepository
from whalefall.application.ports.security import SecretCipher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.instance_targets import connection_target, skip_code
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.capacity import DatabaseSample
from whalefall.domain.capacity.ledger import LedgerPlan, plan_ledger, system_checker
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import ConnectionTarget, InstanceId
from whalefall.domain.logs.redaction import Redactor
from whalefall.domain.sessions.backoff import ErrorClass

logger = logging.getLogger(__name__)
MAX_MISSING_NAMES: Final = 50
MAX_WARNINGS: Final = 50


async def read_table_sizes(connector: Connector, database: str, *, max_tables: int) -> tuple[list[TableSize], bool]:
    """The largest `max_tables` tables of one database and whether more existed (one extra row is asked for)."""
    rows = await connector.table_sizes(database, max_tables=max_tables + 1)
    kept = sorted(rows, key=lambda r: (-r.total_bytes, r.schema_name, r.table_name))[:max_tables]
    tables = [TableSize(schema_name=r.schema_name, table_name=r.table_name, total_bytes=r.total_bytes,
                        data_bytes=r.data_bytes, index_bytes=r.index_bytes, row_estimate=r.row_estimate)
              for r in kept]
    return tables, len(rows) > max_tables


@dataclass(frozen=True, slots=True, kw_only=True)
class _Remote:
    """Everything read from the instance before the metadata transaction opens."""

    names: tuple[str, ...]
    reported_system: frozenset[str]
    sizes: SizeCollection
    tables: Mapping[str, tuple[list[TableSize], bool]]
    warnings: tuple[Mapping[str, object], ...]


@dataclass(frozen=True, slots=True)
class CollectInstanceCapacity(RecordWork):
    """Collect one instance's capacity (capacity.md §3.1).

    Read first, write nothing: the inventory (an empty one fails the record `EMPTY_INVENTORY` and changes nothing),
    the engine's own system flags, then sizes of the non-excluded databases only (filters of
    `capacity.filters.<engine>` read for this run), all within `connector.instance_deadline_s` (else TIMEOUT,
    retryable). Then ONE metadata transaction, fenced first: the ledger diff
    (`plan_ledger`: created / seen / reactivated / deactivated, the mass-deactivation guard), the day's database
    samples replaced as a set, the instance sample and the ledger's latest sizes, and — when the session asks
    for tables (`include_tables`) or, absent that, the instance's `collect_table_sizes` is set — the table sizes of
    its non-system, non-excluded databases (decision: system databases are never table-sized nightly; a database
    whose tables cannot be read is a warning, not a failure). Any error before the commit rolls everything back
    and fails the record (transient classes are retried by the runner), so the record is never `completed`
    before its data is (defect 28). Unreadable sizes and held deactivations count as missing (`SIZES_MISSING`,
    `MASS_DEACTIVATION_HELD`). Nothing to size (no non-excluded database) → the ledger changes and a zero-byte
    sample are committed and the record ends `skipped` NOTHING_TO_DO. A deleted instance is skipped
    INSTANCE_DELETED, an inactive one INSTANCE_INACTIVE. Collection never triggers aggregation."""

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
        if context.record.instance_id is None:
            raise InvalidStateError("a capacity_collection record must name an instance")
        instance = await self.instances.get(InstanceId(context.record.instance_id))
        skipped = skip_code(instance)
        if skipped is not None or instance is None:
            await self.uow.rollback()
            return RecordResult(skipped_code=skipped or "INSTANCE_DELETED")
        target = await connection_target(instance, self.credentials, self.cipher)
        await self.uow.rollback()  # end the read transaction: SQLite would hold its lock while we collect
        if Capability.DATABASE_SIZES not in self.connectors.capabilities(instance.db_type):
            raise ConnectorError(ErrorClass.UNSUPPORTED, "This engine's connector cannot read database sizes",
                                 error_code="UNSUPPORTED")
        started = self.clock.now()
        today = self.config.today(self.clock)
        await context.check_cancel()
        try:
            # connector.instance_deadline_s bounds one attempt's remote work as a whole (capacity.md §2.1).
            async with asyncio.timeout(self.timeouts.instance_deadline_s):
                remote = await self._read(instance, target_tables=self._wants_tables(context, instance),
                                          context=context, target=target)
        except TimeoutError as exc:
            raise ConnectorError(ErrorClass.TIMEOUT, f"The collection exceeded the instance deadline of "
                                 f"{self.timeouts.instance_deadline_s:g} s", error_code="TIMEOUT") from exc
        await context.check_cancel()
        try:
            plan, day, missing = await self._write(context, instance, remote, today)
        except BaseException:
            await self.uow.rollback()
            raise
        if missing:
            logger.warning("capacity.instance.sizes_missing", extra={
                "instance_id": int(instance.id), "missing_count": len(missing), "session_id": context.session.id})
        logger.info("capacity.instance.collected", extra={
            "instance_id": int(instance.id), "database_count": len(day.databases), "session_id": context.session.id})
        return self._result(remote, plan, day, missing, today=today,
                            duration_ms=int((self.clock.now() - started).total_seconds() * 1000))

    @staticmethod
    def _wants_tables(context: RecordContext, instance: InstanceRecord) -> bool:
        requested = context.session.params.get("include_tables")
        return requested if isinstance(requested, bool) else instance.collect_table_sizes

    async def _read(self, instance: InstanceRecord, *, target_tables: bool, context: RecordContext,
                    target: ConnectionTarget) -> _Remote:
        excluded = self.settings.filter_for(instance.db_type).is_excluded
        # The password is masked in every log line while the connection is open (operations.md §5.3).
        with self.redactor.live_secret(target.secret.reveal()):
            async with self.connectors.open(target, self.timeouts) as connector:
                names = await connector.list_databases()
                if not names:
                    raise ConnectorError(ErrorClass.PERMISSION_DENIED, "The inventory query returned no database",
                                         error_code="EMPTY_INVENTORY")
                reported = await connector.system_databases()
                wanted = [n for n in names if not excluded(n)]
                sizes = await connector.database_sizes(wanted) if wanted else SizeCollection(sizes=())
                if not target_tables:
                    return _Remote(names=names, reported_system=reported, sizes=sizes, tables={}, warnings=())
                is_system = system_checker(instance.db_type, extra_names=self.settings.system_names(
                    instance.db_type), reported=reported)
                tables, warnings = await self._tables(connector, [n for n in wanted if not is_system(n)], context)
        return _Remote(names=names, reported_system=reported, sizes=sizes, tables=tables, warnings=warnings)

    async def _tables(self, connector: Connector, databases: Sequence[str], context: RecordContext
                      ) -> tuple[dict[str, tuple[list[TableSize], bool]], tuple[Mapping[str, object], ...]]:
        """Table sizes per database; one database's failure is a warning, never the instance's failure."""
        tables: dict[str, tuple[list[TableSize], bool]] = {}
        warnings: list[Mapping[str, object]] = []
        for name in databases:
            await context.check_cancel()
            try:
                tables[name] = await read_table_sizes(connector, name, max_tables=self.settings.max_tables)
            except ConnectorError as exc:
                warnings.append({"code": "TABLE_SIZES_FAILED", "database": name,
                                 "message": f"{exc.error_class.value}: {exc.message}"})
        return tables, tuple(warnings)

    async def _write(self, context: RecordContext, instance: InstanceRecord, remote: _Remote,
                     today: date) -> tuple[LedgerPlan, DailyCollection, list[str]]:
        excluded = self.settings.filter_for(instance.db_type).is_excluded
        is_system = system_checker(instance.db_type, extra_names=self.settings.system_names(instance.db_type),
                                   reported=remote.reported_system)
        await context.fence()
        stored = await self.writer.ledger(int(instance.id))
        plan = plan_ledger(stored, remote.names, today=today, is_system=is_system, is_excluded=excluded)
        await self.writer.save_ledger(int(instance.id), plan.writes)
        samples = tuple(DatabaseSample(instance_id=int(instance.id), database_name=row.name, collected_on=today,
                                       size_bytes=row.size_bytes, data_bytes=row.data_bytes,
                                       log_bytes=row.log_bytes, is_system=is_system(row.name))
                        for row in remote.sizes.sizes if row.size_bytes is not None)
        missing = [row.name for row in remote.sizes.sizes if row.size_bytes is None]
        missing += [name for name in plan.held if not excluded(name)]
        collected_at = self.clock.now()
        day = DailyCollection(instance_id=int(instance.id), collected_on=today, collected_at=collected_at,
                              databases=samples, missing_database_count=len(missing),
                              unattributed_bytes=remote.sizes.unattributed_bytes, session_id=context.session.id)
        await self.writer.write_day(day)
        for database, (tables, truncated) in remote.tables.items():
            await self.writer.replace_table_sizes(int(instance.id), database, tables, collected_at=collected_at,
                                                  truncated=truncated)
        await context.check_cancel()
        await self.uow.commit()
        return plan, day, missing

    @staticmethod
    def _result(remote: _Remote, plan: LedgerPlan, day: DailyCollection,
                missing: Sequence[str], *, today: date, duration_ms: int) -> RecordResult:
        warnings: list[Mapping[str, object]] = []
        if missing:
            warnings.append({"code": "SIZES_MISSING", "message": f"{len(missing)} databases had no readable size",
                             "databases": list(missing[:MAX_MISSING_NAMES])})
        if plan.held:
            warnings.append({"code": "MASS_DEACTIVATION_HELD",
                             "message": f"{len(plan.held)} databases missing from the inventory were kept active",
                             "databases": list(plan.held[:MAX_MISSING_NAMES])})
        warnings += [{"code": text.split(":", 1)[0], "message": text} for text in remote.sizes.warnings]
        warnings += list(remote.warnings)
        truncated = sorted(name for name, (_, cut) in remote.tables.items() if cut)
        if truncated:
            warnings.append({"code": "TABLE_SIZES_TRUNCATED", "message": "only the largest tables were kept",
                             "databases": truncated[:MAX_MISSING_NAMES]})
        rows = plan.rows
        details: dict[str, object] = {
            "collected_on": today.isoformat(), "database_count": len(day.databases),
            "total_bytes": sum(s.size_bytes for s in day.databases),
            "excluded_count": sum(1 for r in rows if r.status == "active" and r.is_excluded),
            "system_count": sum(1 for r in rows if r.status == "active" and r.is_system),
            "missing": list(missing[:MAX_MISSING_NAMES]), "unattributed_bytes": day.unattributed_bytes,
            "warnings": [w["code"] for w in warnings][:MAX_WARNINGS], "duration_ms": duration_ms,
            "table_databases": len(remote.tables), "truncated": bool(truncated),
        }
        counters = {"seen": plan.counters.seen, "created": plan.counters.created,
                    "reactivated": plan.counters.reactivated, "deactivated": plan.counters.deactivated,
                    "updated": len(day.databases)}
        seen = set(remote.names)
        nothing = all(r.is_excluded for r in rows if r.name in seen)
        return RecordResult(skipped_code="NOTHING_TO_DO" if nothing else None, counters=counters,
                            warnings=warnings[:MAX_WARNINGS], details=details)
