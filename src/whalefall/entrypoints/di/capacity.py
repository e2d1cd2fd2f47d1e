"""Providers of the capacity and partition slices: settings-derived configs, stores, managers, use cases."""

from __future__ import annotations

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
from whalefall.application.capacity.capacity_queries import (
    GetDatabase,
    ListCapacitySamples,
    ListDatabaseAggregations,
    ListDatabases,
    ListDatabaseTables,
    ListInstanceAggregations,
    SummarizeCapacity,
)
from whalefall.application.capacity.config import CapacityConfig, default_partition_policy
from whalefall.application.capacity.forecast_capacity import ForecastCapacity
from whalefall.application.capacity.start_capacity_aggregation import StartCapacityAggregation
from whalefall.application.capacity.write_daily_samples import WriteDailySamples
from whalefall.application.partitions.maintain_partitions import ApplyPartitionPlan, PartitionConfig, PlanPartitions
from whalefall.application.partitions.partition_status import InspectPartitions
from whalefall.application.partitions.start_partition_maintenance import StartPartitionMaintenance
from whalefall.application.ports.capacity import (
    AggregationStore,
    CapacityReader,
    CapacityWriter,
    DatabaseLedgerReader,
)
from whalefall.application.ports.partitions import PartitionManager
from whalefall.domain.capacity import AggregationPolicy
from whalefall.domain.errors import Problem
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
