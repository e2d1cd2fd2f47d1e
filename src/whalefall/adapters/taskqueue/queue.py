"""TaskiqTaskQueue: one `whalefall.records.run` message per record id, kicked by its explicit task name."""

from __future__ import annotations

from collections.abc import Sequence

from taskiq import AsyncBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from whalefall.adapters.taskqueue.broker import ping_broker
from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.task_queue import RUN_RECORD_TASK, TaskQueue


class TaskiqTaskQueue(TaskQueue):
    """Messages carry the record id only (plus the originating request id as a label, never a payload)."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue_records(self, record_ids: Sequence[int], *, request_id: str | None = None) -> None:
        labels = {"request_id": request_id} if request_id else {}
        kicker: AsyncKicker[..., object] = AsyncKicker(task_name=RUN_RECORD_TASK, broker=self._broker, labels=labels)
        try:
            for record_id in record_ids:
                await kicker.kiq(record_id=record_id)
        except SendTaskError as exc:
            raise QueueUnavailableError() from exc

    async def ping(self) -> bool:
        return await ping_broker(self._broker)
