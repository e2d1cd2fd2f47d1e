"""Coalesced terminal record transitions: concurrent finishes of one process share one short transaction."""

from __future__ import annotations

import asyncio
import logging
from abc import abstractmethod
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Generic, Protocol, TypeVar

from whalefall.application.ports.sessions import RecordFinish
from whalefall.domain.sessions.records import RecordStatus

logger = logging.getLogger(__name__)
Q = TypeVar("Q")
R = TypeVar("R")
MAX_BATCH: Final = 256


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishRequest:
    """One terminal transition: `from_status → outcome.status`, conditional on `worker_id`'s lease when given."""

    record_id: int
    outcome: RecordFinish
    worker_id: str | None = None
    from_status: RecordStatus = RecordStatus.RUNNING


@dataclass(frozen=True, slots=True, kw_only=True)
class FinishReceipt:
    """`changed` False = a stale transition (matched no row, discarded); `finalised` = this transaction made the
    record's session terminal (its finalised listeners are due after the commit); within one batch only the
    first receipt of a session says so."""

    changed: bool
    finalised: bool = False
    session_id: str | None = None


class BatchFinishStore(Protocol):
    """Several terminal transitions in the caller's transaction."""

    @abstractmethod
    async def finish_many(self, requests: Sequence[FinishRequest], *, now: datetime) -> list[FinishReceipt]:
        """One receipt per request, in order, each transition exactly as `SessionStore.finish` would apply it.
        Record rows are updated first (in record-id order), then each touched running session is locked once
        (in id order) and its counters move by the sum of its records' shifts; a session left with nothing
        pending or running is recomputed from its records and finalised. `InvalidStateError` for a transition
        §1.3 forbids (nothing of the batch is kept: the caller's transaction is rolled back)."""


class Coalescer(Generic[Q, R]):
    """Group commit. Requests submitted while a flush runs wait and go to the next flush together (at most
    `max_batch` per flush); a lone request on an idle coalescer is flushed on the next loop iteration, so it
    adds no latency. `flush` returns one result or exception per request, in order; if it raises, every request
    of that flush gets the exception. A waiter cancelled meanwhile does not stop its request from being written.
    One instance per event loop (the drainer task belongs to the loop of the first submit)."""

    def __init__(self, flush: Callable[[Sequence[Q]], Awaitable[Sequence[R | BaseException]]], *,
                 max_batch: int = MAX_BATCH) -> None:
        self._flush = flush
        self._max_batch = max_batch
        self._queue: deque[tuple[Q, asyncio.Future[R]]] = deque()
        self._drainer: asyncio.Task[None] | None = None
        self.flushes = 0

    async def submit(self, request: Q) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._queue.append((request, future))
        if self._drainer is None or self._drainer.done():
            self._drainer = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[Q, asyncio.Future[R]]] = []
        try:
            while self._queue:
                batch = [self._queue.popleft() for _ in range(min(self._max_batch, len(self._queue)))]
                results: Sequence[R | BaseException]
                try:
                    results = await self._flush([request for request, _ in batch])
                except Exception as exc:
                    results = [exc] * len(batch)
                self.flushes += 1
                for (_request, future), result in zip(batch, results, strict=True):
                    if future.done():
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
                batch = []
        finally:  # the drainer itself was cancelled (loop shutting down): nobody may wait forever
            for _request, future in [*batch, *self._queue]:
                if not future.done():
                    future.cancel()
            self._queue.clear()
