"""Task queue port: messages carry ids only (operations.md §2.1); task names are stable strings."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Final, Protocol

RUN_RECORD_TASK: Final = "whalefall.records.run"
ADVANCE_PIPELINE_TASK: Final = "whalefall.pipelines.advance"


class TaskQueue(Protocol):
    """Enqueues work for the workers; raises whalefall.application.errors.QueueUnavailableError when the broker
    cannot be reached (callers then create nothing)."""

    @abstractmethod
    async def enqueue_records(self, record_ids: Sequence[int], *, request_id: str | None = None) -> None:
        """One `whalefall.records.run` message per record id."""

    @abstractmethod
    async def ping(self) -> bool:
        """True when the broker answers (readiness component `broker`)."""
