"""WhalefallScheduleSource: taskiq's schedule source over the job store (operations.md §3.4, spec README).

Every refresh (the scheduler runs taskiq's loop with a 5 s update interval, so API edits apply within 5 s) it asks
the feed for each enabled job's next instant, computed by whalefall's own cron code (DST, misfires, day-of-week
numbering), and hands taskiq one-off `time` schedules, never taskiq `cron` strings. The schedule id is the
(job, instant) pair, so taskiq sends each instant once per process. `pre_send` re-checks leadership and inserts the
instant's `job_fires` row; a unique-key conflict (another leader fired it) cancels the send. A standby gets no
schedules at all.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from taskiq import ScheduledTask, ScheduleSource
from taskiq.exceptions import ScheduledTaskCancelledError

from whalefall.application.ports.scheduler import FIRE_JOB_TASK, DueFire, ScheduleFeed

logger = logging.getLogger("whalefall.adapters.taskqueue.schedule_source")


class WhalefallScheduleSource(ScheduleSource):
    def __init__(self, feed: ScheduleFeed, *, task_name: str = FIRE_JOB_TASK) -> None:
        self._feed = feed
        self._task_name = task_name
        # A claim that failed for another reason than the unique key (store unreachable) gets a new schedule id,
        # so taskiq, which sends a schedule id once, tries the instant again on the next refresh.
        self._attempts: dict[str, int] = {}

    async def get_schedules(self) -> list[ScheduledTask]:
        if not self._feed.is_leader():
            return []
        fires = await self._feed.due()
        live = {fire.key for fire in fires}
        self._attempts = {key: n for key, n in self._attempts.items() if key in live}
        return [self._task(fire) for fire in fires]

    def _task(self, fire: DueFire) -> ScheduledTask:
        attempt = self._attempts.get(fire.key, 0)
        return ScheduledTask(
            task_name=self._task_name, labels={}, args=[],
            kwargs={"job_id": fire.job_id, "scheduled_for": fire.scheduled_for.isoformat()},
            time=fire.scheduled_for, schedule_id=f"{fire.key}#{attempt}")

    async def pre_send(self, task: ScheduledTask) -> None:
        fire = _fire_of(task.kwargs)
        if not self._feed.is_leader():
            raise ScheduledTaskCancelledError
        try:
            claimed = await self._feed.claim(fire)
        except Exception as exc:  # the store's own errors are not ours to name; the instant is retried
            self._attempts[fire.key] = self._attempts.get(fire.key, 0) + 1
            logger.warning("scheduler.claim_failed", extra={"job_id": fire.job_id, "error": type(exc).__name__})
            raise ScheduledTaskCancelledError from exc
        if not claimed:
            logger.info("scheduler.fire_already_claimed", extra={"job_id": fire.job_id})
            raise ScheduledTaskCancelledError


def _fire_of(kwargs: dict[str, Any]) -> DueFire:
    return DueFire(job_id=str(kwargs["job_id"]), scheduled_for=datetime.fromisoformat(str(kwargs["scheduled_for"])))
