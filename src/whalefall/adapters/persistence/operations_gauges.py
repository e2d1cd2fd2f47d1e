"""SqlAlchemyOperationsGauges: running sessions per kind, next fire per job and the last successful partition
maintenance, read in the scrape's own unit of work (SQLite serialises transactions; a second connection inside the
request would wait for the request's own)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from whalefall.adapters.persistence.tables.operations import scheduled_jobs
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.errors import StoreUnavailableError
from whalefall.application.ports.metrics import OperationsGaugeReader
from whalefall.application.ports.partitions import PartitionManager


class SqlAlchemyOperationsGauges(OperationsGaugeReader):
    """`partition_figures` comes from the partition manager and the business `today` (the composition root passes
    them; without them the store is treated as unpartitioned)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork, partitions: PartitionManager | None = None,
                 today: Callable[[], date] | None = None) -> None:
        self._uow = uow
        self._partitions = partitions
        self._today = today

    async def running_sessions(self) -> Mapping[str, int]:
        statement = (select(sync_sessions.c.kind, func.count()).where(sync_sessions.c.status == "running")
                     .group_by(sync_sessions.c.kind))
        try:
            rows = (await (await self._uow.connection()).execute(statement)).all()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return {str(kind): int(n) for kind, n in rows}

    async def next_fires(self) -> Mapping[str, datetime]:
        statement = select(scheduled_jobs.c.id, scheduled_jobs.c.next_fire_at).where(
            scheduled_jobs.c.enabled.is_(True), scheduled_jobs.c.next_fire_at.is_not(None))
        try:
            rows = (await (await self._uow.connection()).execute(statement)).all()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return {str(job_id): at for job_id, at in rows}

    async def last_partition_maintenance_success(self) -> datetime | None:
        statement = select(func.max(sync_sessions.c.finished_at)).where(
            sync_sessions.c.kind == "partition_maintenance", sync_sessions.c.status == "completed")
        try:
            value = (await (await self._uow.connection()).execute(statement)).scalar_one_or_none()
        except (SQLAlchemyError, OSError) as exc:
            raise StoreUnavailableError() from exc
        return value if isinstance(value, datetime) else None

    async def partition_figures(self) -> Mapping[str, tuple[int, int]]:
        if self._partitions is None or self._today is None or not self._partitions.supported:
            return {}
        current = self._today().replace(day=1)
        figures: dict[str, tuple[int, int]] = {}
        try:
            children = await self._partitions.details()
        except (SQLAlchemyError, OSError, StoreUnavailableError):
            return {}  # the partition gauges vanish for this scrape; the others still answer
        for child in children:
            default_rows, future = figures.get(child.table, (0, 0))
            if child.is_default:
                default_rows += child.exact_rows or 0
            elif child.lower is not None and child.lower > current:
                future += 1
            figures[child.table] = (default_rows, future)
        return figures
