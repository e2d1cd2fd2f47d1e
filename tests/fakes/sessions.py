"""Fakes for the session runtime: a recording task queue, a scripted record kind and a settable clock."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from dishka import Provider, Scope, provide

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.task_queue import TaskQueue
from whalefall.application.sessions.run_record import RecordWorks
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.sessions.sessions import SessionKind

Script = Callable[[RecordContext], Awaitable[RecordResult]]


class SettableClock(Clock):
    """Starts at a fixed instant; tests move it forward."""

    def __init__(self, start: datetime = datetime(2027, 3, 1, 3, 0, tzinfo=UTC)) -> None:
        self.current = start

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


class RecordingTaskQueue(TaskQueue):
    """Keeps every enqueued record id; `available = False` makes ping fail, `fail_enqueue` makes enqueue fail."""

    def __init__(self) -> None:
        self.enqueued: list[int] = []
        self.available = True
        self.fail_enqueue = False

    async def enqueue_records(self, record_ids: Sequence[int], *, request_id: str | None = None) -> None:
        if self.fail_enqueue:
            raise QueueUnavailableError()
        self.enqueued.extend(record_ids)

    async def ping(self) -> bool:
        return self.available


class RecordingQueueProvider(Provider):
    """Replaces the container's broker with a RecordingTaskQueue: for tests of receipts and records, not delivery."""

    def __init__(self, queue: RecordingTaskQueue) -> None:
        super().__init__()
        self._queue = queue

    @provide(scope=Scope.APP, override=True)
    def queue(self) -> TaskQueue:
        return self._queue


async def _complete(_context: RecordContext) -> RecordResult:
    return RecordResult(counters={"items": 1})


@dataclass
class ScriptedWork(RecordWork):
    """The built-in test kind: runs `script` (default: complete at once) and remembers every call by item key."""

    script: Script = _complete
    calls: list[str] = field(default_factory=list)

    async def run(self, context: RecordContext) -> RecordResult:
        self.calls.append(context.record.item_key)
        return await self.script(context)


class MappingRecordWorks(RecordWorks):
    def __init__(self, works: Mapping[SessionKind, RecordWork]) -> None:
        self._works = works

    async def for_kind(self, kind: SessionKind) -> RecordWork | None:
        return self._works.get(kind)
