"""Providers of the capacity and partition slices: settings-derived configs, stores, managers, use cases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from zoneinfo import ZoneInfo

from dishka import Provider, Scope, provide, provide_all

from whalefall.adapters.persistence.capacity.aggregation import SqlAlchemyAggregationStore
from whalefall.adapters.persistence.capacity.reads import SqlAlchemyCapacityReader, SqlAlchemyDatabaseLedgerReader
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.partitions import PostgresPartitionManager, UnsupportedPartitionManager
from whalefall.adapters.persistence.tables.capacity import PARTITION_KEYS
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.capacity.aggregate_capacity import AggregateCapacity
from whalefall.application.capacity.capacity_exports import ExportCapacityAggregations, ExportDatabases
from whalefall.application.capacity.capacity_queries import (
    GetDatabase,
    ListCapacitySamples,
    ListDatabaseAggregations,
    ListDatabases,
    ListDatabaseTables,
    ListInstanceAggregations,
    SummarizeCapacity,
)
from whalefall.application.capacity.collect_instance_capacity import CollectInstanceCapacity
from whalefall.application.capacity.collection_settings import CASE_SENSITIVE, CapacityCollectionSettings
from whalefall.application.capacity.config import CapacityConfig, default_partition_policy
from whalefall.application.capacity.forecast_capacity import ForecastCapacity
from whalefall.application.capacity.refresh_table_sizes import RefreshTableSizes, StartTableSizeRefresh
from whalefall.application.capacity.start_capacity_aggregation import StartCapacityAggregation
from whalefall.application.capacity.start_capacity_collection import StartCapacityCollection
from whalefall.application.capacity.write_daily_samples import WriteDailySamples
from whalefall.application.partitions.maintain_partitions import ApplyPartitionPlan, PartitionConfig, PlanPartitions
from whalefall.application.partitions.partition_status import InspectPartitions
from whalefall.application.partitions.start_partition_maintenance import StartPartitionMaintenance
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.capacity import (
    AggregationStore,
    CapacityReader,
    CapacityWriter,
    DatabaseLedgerReader,
)
from whalefall.application.ports.instances import InstanceRepository
from whalefall.application.ports.partitions import PartitionManager
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS
from whalefall.domain.capacity import AggregationPolicy, DatabaseFilter, InvalidFilterPattern
from whalefall.domain.capacity.ledger import DEFAULT_EXTRA_SYSTEM_NAMES
from whalefall.domain.errors import Problem
from whalefall.domain.instances import DbEngine
from whalefall.domain.partitions import PartitionPolicy
from whalefall.entrypoints.settings import Settings, SettingsError


def _two_keys(settings: Settings, dotted: str, default: int) -> int:
    """`partitions.retention_months.samples` from TOML, or its environment form `…_retention_months_samples`."""
    return settings.get(dotted, settings.get(dotted.replace("months.", "months_"), default))


def partition_policy(settings: Settings) -> PartitionPolicy:
    try:
        return default_partition_policy(
            samples_months=_two_keys(settings, "partitions.retention_months.samples", 24),
            aggregations_months=_two_keys(settings, "partitions.retention_months.aggregations", 60),
            premake_months=settings.get("partitions.premake_months", 3))
    except ValueError as exc:
        raise SettingsError([Problem("partitions", "out_of_range", str(exc))]) from exc


def _names(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):  # environment form: a comma list
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, Iterable) and all(isinstance(p, str) for p in value):
        return tuple(str(p) for p in value)
    raise SettingsError([Problem(key, "invalid_type", "must be a list of names")])


def _entry(settings: Settings, area: str, engine: DbEngine, name: str | None = None) -> object:
    """`<area>.<engine>[.<name>]` from a TOML table (`[capacity.filters.mysql]`) or its environment form
    (`WHALEFALL_CAPACITY_FILTERS_MYSQL_EXCLUDE_NAMES` → raw key `capacity.filters_mysql_exclude_names`)."""
    head, _, tail = area.partition(".")
    env_key = f"{head}.{tail}_{engine.value}" + (f"_{name}" if name else "")
    if env_key in settings.raw:
        return settings.raw[env_key]
    table = settings.raw.get(area)
    by_engine = table.get(engine.value) if isinstance(table, Mapping) else None
    if name is None:
        return by_engine
    return by_engine.get(name) if isinstance(by_engine, Mapping) else None


def collection_settings(settings: Settings) -> CapacityCollectionSettings:
    """capacity.md §3.5/§11: per-engine `capacity.filters.<engine>.exclude_names|exclude_patterns` (lists or comma
    lists; an invalid pattern → CONFIGURATION_ERROR naming `invalid_filter_pattern`), `capacity.system_names.<engine>`
    (replaces the default extra names) and `capacity.table_sizes.max_tables` (1–100 000, default 5000)."""
    filters: dict[DbEngine, DatabaseFilter] = {}
    extra: dict[DbEngine, frozenset[str]] = dict(DEFAULT_EXTRA_SYSTEM_NAMES)
    for engine in DbEngine:
        names = _entry(settings, "capacity.filters", engine, "exclude_names")
        patterns = _entry(settings, "capacity.filters", engine, "exclude_patterns")
        key = f"capacity.filters.{engine.value}"
        try:
            filters[engine] = DatabaseFilter(
                frozenset(_names(names, f"{key}.exclude_names")) if names is not None else frozenset(),
                _names(patterns, f"{key}.exclude_patterns") if patterns is not None else (),
                case_sensitive=engine in CASE_SENSITIVE)
        except InvalidFilterPattern as exc:
            raise SettingsError([Problem(f"{key}.exclude_patterns", "invalid_filter_pattern", exc.message,
                                         {"pattern": exc.pattern})]) from exc
        system = _entry(settings, "capacity.system_names", engine)
        if system is not None:
            extra[engine] = frozenset(_names(system, f"capacity.system_names.{engine.value}"))
    table = settings.raw.get("capacity.table_sizes")
    max_tables = settings.get("capacity.table_sizes_max_tables",
                              int(str(table.get("max_tables", 5000))) if isinstance(table, Mapping) else 5000)
    if not 1 <= max_tables <= 100_000:
        raise SettingsError([Problem("capacity.table_sizes.max_tables", "out_of_range", "must be within 1–100000")])
    return CapacityCollectionSettings(filters=filters, extra_system_names=extra, max_tables=max_tables)


class CapacityProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    def capacity_config(self, settings: Settings) -> CapacityConfig:
        try:
            threshold = Decimal(settings.get("capacity.trend_threshold_percent", "5.00"))
            policy = AggregationPolicy(threshold)
        except (InvalidOperation, ValueError) as exc:
            raise SettingsError([Problem("capacity.trend_threshold_percent", "out_of_range",
                                         "must be a number within 0–100")]) from exc
        return CapacityConfig(zone=ZoneInfo(settings.timezone), aggregation=policy,
                              partitions=partition_policy(settings),
                              forecast_window_days=settings.get("forecast.window_days", 90),
                              forecast_min_samples=settings.get("forecast.min_samples", 7))

    @provide(scope=Scope.APP)
    def partition_config(self, settings: Settings) -> PartitionConfig:
        return PartitionConfig(zone=ZoneInfo(settings.timezone), policy=partition_policy(settings),
                               keys=dict(PARTITION_KEYS))

    @provide(scope=Scope.APP)
    def partition_manager(self, database: Database, settings: Settings) -> PartitionManager:
        if database.is_sqlite:
            return UnsupportedPartitionManager()
        return PostgresPartitionManager(database, keys=PARTITION_KEYS,
                                        lock_timeout_s=settings.get("partitions.lock_timeout_s", 5.0),
                                        statement_timeout_s=settings.get("partitions.statement_timeout_s", 60.0))

    @provide
    def collection_settings(self, settings: Settings) -> CapacityCollectionSettings:
        """REQUEST scope on purpose: the filters are read for every run, never cached process-wide (defect 27)."""
        return collection_settings(settings)

    @provide
    def aggregation_store(self, uow: SqlAlchemyUnitOfWork) -> AggregationStore:
        return SqlAlchemyAggregationStore(uow)

    @provide
    def capacity_writer(self, uow: SqlAlchemyUnitOfWork) -> CapacityWriter:
        return SqlAlchemyCapacityWriter(uow)

    @provide
    def capacity_reader(self, uow: SqlAlchemyUnitOfWork) -> CapacityReader:
        return SqlAlchemyCapacityReader(uow)

    @provide
    def ledger_reader(self, uow: SqlAlchemyUnitOfWork) -> DatabaseLedgerReader:
        return SqlAlchemyDatabaseLedgerReader(uow)

    use_cases = provide_all(
        AggregateCapacity, WriteDailySamples, ForecastCapacity, ListDatabaseAggregations, ListInstanceAggregations,
        SummarizeCapacity, ListCapacitySamples, ListDatabases, GetDatabase, ListDatabaseTables,
        StartCapacityAggregation, PlanPartitions, ApplyPartitionPlan, InspectPartitions, StartPartitionMaintenance,
    )
    collection_use_cases = provide_all(
        CollectInstanceCapacity, StartCapacityCollection, StartTableSizeRefresh, RefreshTableSizes,
    )

    @provide
    def export_databases(self, ledger: DatabaseLedgerReader, instances: InstanceRepository, audit: AuditLog,
                         uow: UnitOfWork, settings: Settings) -> ExportDatabases:
        return ExportDatabases(ledger, instances, audit, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))

    @provide
    def export_aggregations(self, reader: CapacityReader, audit: AuditLog, uow: UnitOfWork,
                            settings: Settings) -> ExportCapacityAggregations:
        return ExportCapacityAggregations(reader, audit, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))
