"""TaskiqPipelineQueue: `whalefall.pipelines.advance(pipeline_run_id)` messages, kicked by their task name."""

from __future__ import annotations

from taskiq import AsyncBroker
from taskiq.exceptions import SendTaskError
from taskiq.kicker import AsyncKicker

from whalefall.adapters.taskqueue.broker import ping_broker
from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.task_queue import ADVANCE_PIPELINE_TASK


class TaskiqPipelineQueue(PipelineAdvanceQueue):
    """The message carries the run id only (the request id as a label)."""

    def __init__(self, broker: AsyncBroker) -> None:
        self._broker = broker

    async def enqueue_advance(self, run_id: str, *, request_id: str | None = None) -> None:
        labels = {"request_id": request_id} if request_id else {}
        kicker: AsyncKicker[..., object] = AsyncKicker(task_name=ADVANCE_PIPELINE_TASK, broker=self._broker,
                                                       labels=labels)
        try:
            await kicker.kiq(pipeline_run_id=run_id)
        except SendTaskError as exc:
            raise QueueUnavailableError() from exc

    async def ping(self) -> bool:
        return await ping_broker(self._broker)
