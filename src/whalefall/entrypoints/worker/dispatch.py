"""Session kind → the RecordWork use case that processes one record of that kind (cross-slice orchestration).

To make a kind runnable, provide its use case in the container (REQUEST scope, like every use case) and add one
line to WORK_FACTORIES, e.g. `SessionKind.ACCOUNTS_SYNC: resolved(RunInstanceSync)`. The runner resolves the work
from the task's request container, so it shares the task's unit of work (and therefore the fence).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from types import MappingProxyType
from typing import Final, TypeVar

from dishka import AsyncContainer

from whalefall.application.accounts.run_instance_sync import RunInstanceSync
from whalefall.application.capacity.aggregate_capacity import AggregateCapacity
from whalefall.application.capacity.collect_instance_capacity import CollectInstanceCapacity
from whalefall.application.capacity.refresh_table_sizes import RefreshTableSizes
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.instances.credential_rotation_session import RunCredentialRotation
from whalefall.application.instances.run_connection_test import RunConnectionTest
from whalefall.application.partitions.maintain_partitions import ApplyPartitionPlan
from whalefall.application.sessions.retention import RunRetentionCategory
from whalefall.application.sessions.run_record import RecordWorks
from whalefall.application.sessions.work import RecordWork
from whalefall.domain.sessions.sessions import SessionKind

W = TypeVar("W", bound=RecordWork)
WorkFactory = Callable[[AsyncContainer], Awaitable[RecordWork]]


def resolved(work_type: type[W]) -> WorkFactory:
    """A factory that resolves `work_type` from the task's request container."""

    async def build(container: AsyncContainer) -> RecordWork:
        return await container.get(work_type)

    return build


WORK_FACTORIES: Final[Mapping[SessionKind, WorkFactory]] = MappingProxyType({
    SessionKind.CLASSIFICATION: resolved(ClassifyRecord),
    SessionKind.ACCOUNTS_SYNC: resolved(RunInstanceSync),
    SessionKind.CAPACITY_AGGREGATION: resolved(AggregateCapacity),
    SessionKind.CAPACITY_COLLECTION: resolved(CollectInstanceCapacity),
    SessionKind.TABLE_SIZES: resolved(RefreshTableSizes),
    SessionKind.PARTITION_MAINTENANCE: resolved(ApplyPartitionPlan),
    SessionKind.CONNECTION_TEST: resolved(RunConnectionTest),
    SessionKind.RETENTION_CLEANUP: resolved(RunRetentionCategory),
    SessionKind.CREDENTIAL_ROTATION: resolved(RunCredentialRotation),
})
"""Kinds without an entry fail their records with UNSUPPORTED_KIND."""


class ContainerRecordWorks(RecordWorks):
    """RecordWorks over a factory map and the task's request container."""

    def __init__(self, container: AsyncContainer, factories: Mapping[SessionKind, WorkFactory]) -> None:
        self._container = container
        self._factories = factories

    async def for_kind(self, kind: SessionKind) -> RecordWork | None:
        factory = self._factories.get(kind)
        return None if factory is None else await factory(self._container)
