"""Enqueue `whalefall.pipelines.advance` as soon as a pipeline step's session is finalised (operations.md §4.4)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from whalefall.application.errors import QueueUnavailableError
from whalefall.application.ports.pipelines import PipelineAdvanceQueue
from whalefall.application.ports.sessions import SessionView
from whalefall.application.sessions.finalised import SessionFinalisedListener

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class AdvancePipelineOnFinalise(SessionFinalisedListener):
    """A terminal session with a `pipeline_run_id` enqueues one advance of that run; sessions outside pipelines are
    ignored. The advancer is idempotent, so a duplicate notification (two finalisation paths) costs one no-op pass.
    An unreachable broker is logged, not raised: the leader's periodic sweep and the reaper advance the run later
    (the session's finalisation is already committed and must not look failed)."""

    queue: PipelineAdvanceQueue

    async def session_finalised(self, session: SessionView) -> None:
        if session.pipeline_run_id is None:
            return
        try:
            await self.queue.enqueue_advance(session.pipeline_run_id, request_id=session.origin_request_id)
        except QueueUnavailableError:
            logger.warning("pipelines.advance_not_enqueued",
                           extra={"pipeline_run_id": session.pipeline_run_id, "session_id": session.id})
