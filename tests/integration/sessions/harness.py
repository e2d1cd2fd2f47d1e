"""A session-runtime harness on a real metadata store: open sessions, run records, reap, read back state."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text

from tests.fakes.sessions import MappingRecordWorks, RecordingTaskQueue, SettableClock
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.instances import SqlAlchemyInstanceRepository
from whalefall.adapters.persistence.sessions import SqlAlchemySessionStore
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.sessions import NewRecord, RecordView, SessionView
from whalefall.application.sessions.batching import CancelWatch, RecordClaimer, RecordFinisher
from whalefall.application.sessions.finalised import NO_LISTENERS, SessionFinalisedListeners
from whalefall.application.sessions.open_session import OpenSession, OpenSessionInput
from whalefall.application.sessions.reap import ReaperConfig, ReapOutcome, ReapSessions
from whalefall.application.sessions.run_record import RunnerConfig, RunOutcome, RunRecord
from whalefall.application.sessions.work import RecordWork
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.instances import InstanceId
from whalefall.domain.sessions.backoff import RetryPolicy
from whalefall.domain.sessions.sessions import SessionKind, SessionScope, SessionTrigger
from whalefall.entrypoints.di.sessions import StoreTransactions


@dataclass
class SleepRecorder:
    """Backoff sleeps are recorded, not waited."""

    delays: list[float] = field(default_factory=list)

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(0)


def quick_config(**overrides: Any) -> RunnerConfig:
    values: dict[str, Any] = {"lease_ttl_s": 60, "heartbeat_interval_s": 15, "instance_deadline_s": 30,
                              "retry": RetryPolicy(max_attempts=3, base_delay_s=5, factor=2, max_delay_s=60),
                              "random": None, "sleep": SleepRecorder()}
    values.update(overrides)
    return RunnerConfig(**values)


@dataclass
class Harness:
    database: Database
    clock: SettableClock = field(default_factory=SettableClock)
    queue: RecordingTaskQueue = field(default_factory=RecordingTaskQueue)
    finalised: SessionFinalisedListeners = NO_LISTENERS
    finisher: RecordFinisher | None = None
    claimer: RecordClaimer | None = None
    cancel_watch: CancelWatch | None = None

    def __post_init__(self) -> None:
        # One of each per harness, like the worker's APP-scope ones: concurrent runs share their flushes.
        self.finisher = RecordFinisher(self.transactions, self.clock)
        self.claimer = RecordClaimer(self.transactions, self.clock)
        self.cancel_watch = CancelWatch(self.transactions)

    @property
    def transactions(self) -> StoreTransactions:
        return StoreTransactions(self.database)

    @asynccontextmanager
    async def unit(self) -> AsyncIterator[tuple[SqlAlchemySessionStore, SqlAlchemyUnitOfWork]]:
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            yield SqlAlchemySessionStore(uow), uow
        finally:
            await uow.close()

    async def add_instance(self, name: str, *, active: bool = True, deleted: bool = False) -> int:
        uow = SqlAlchemyUnitOfWork(self.database)
        try:
            repo = SqlAlchemyInstanceRepository(uow)
            instance_id = await repo.add({"name": name, "db_type": "postgresql", "host": f"{name}.example",
                                          "port": 5432, "is_active": active}, at=self.clock.now(), by=None)
            if deleted:
                await repo.update(instance_id, {"deleted_at": self.clock.now()}, at=self.clock.now(), by=None)
            await uow.commit()
            return int(instance_id)
        finally:
            await uow.close()

    async def open(self, kind: SessionKind = SessionKind.CONNECTION_TEST, *, items: int = 0,
                   instance_ids: Sequence[int] = (), scope: SessionScope = SessionScope.TARGETED) -> SessionView:
        records = [NewRecord(item_type="instance", item_key=str(i), instance_id=i, instance_name=f"i{i}")
                   for i in instance_ids]
        records += [NewRecord(item_type="period", item_key=f"item-{n:04d}") for n in range(items)]
        async with self.unit() as (store, uow):
            return await OpenSession(store, store, self.queue, uow, self.clock).execute(OpenSessionInput(
                kind=kind, scope=scope, trigger=SessionTrigger.MANUAL, records=records))

    async def run(self, record_id: int, work: RecordWork, kind: SessionKind = SessionKind.CONNECTION_TEST, *,
                  config: RunnerConfig | None = None, worker_id: str = "test:1:abcd") -> RunOutcome:
        async with self.unit() as (store, uow):
            runner = RunRecord(store, uow, self.transactions, MappingRecordWorks({kind: work}), self.clock,
                               worker_id, config or quick_config(), self.finalised, self.finisher, self.claimer,
                               self.cancel_watch)
            return await runner.execute(record_id)

    async def reap(self, config: ReaperConfig | None = None) -> ReapOutcome:
        async with self.unit() as (store, uow):
            return await ReapSessions(store, self.queue, uow, self.clock, config or ReaperConfig(),
                                      self.finalised).execute()

    async def session(self, session_id: str) -> SessionView:
        async with self.unit() as (store, _uow):
            view = await store.get(session_id)
        assert view is not None
        return view

    async def records(self, session_id: str) -> list[RecordView]:
        async with self.unit() as (store, _uow):
            page = await store.list_records(session_id, PageRequest(1, 10_000, (SortKey("id"),)))
        return list(page.items)

    async def record(self, record_id: int) -> RecordView:
        async with self.unit() as (store, _uow):
            view = await store.get_record(record_id)
        assert view is not None
        return view

    async def execute(self, statement: str, **params: object) -> None:
        async with self.database.connect() as connection:
            await connection.execute(text(statement), params)
            await connection.commit()


__all__ = ["Harness", "InstanceId", "SleepRecorder", "quick_config"]
