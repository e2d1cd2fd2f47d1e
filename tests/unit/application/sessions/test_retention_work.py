"""The `retention_cleanup` record work and the batched purge loop (operations.md §1.9), and the pipeline-advance
listener of finalised sessions (§4.4), without a store."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from tests.fakes.account_sync import record_context
from tests.fakes.operations import RecordingAdvanceQueue
from tests.fakes.sessions import SettableClock
from whalefall.application.pipelines.advance_on_finalise import AdvancePipelineOnFinalise
from whalefall.application.sessions.retention import PurgeExpiredRows, RowsPurged, RunRetentionCategory
from whalefall.application.sessions.work import RecordCancelledError, RecordContext
from whalefall.domain.sessions.sessions import SessionStatus

NOW = datetime(2027, 3, 1, 5, 0, tzinfo=UTC)


class SlowPurger:
    """Always a full batch; every batch takes `seconds` of the settable clock."""

    def __init__(self, clock: SettableClock, seconds: float) -> None:
        self.clock = clock
        self.seconds = seconds
        self.cutoffs: list[datetime] = []

    async def delete_batch(self, cutoff: datetime, limit: int) -> int:
        self.cutoffs.append(cutoff)
        self.clock.advance(self.seconds)
        return limit


async def test_the_purge_stops_at_max_runtime_and_says_so() -> None:
    clock = SettableClock(NOW)
    purger = SlowPurger(clock, 600)
    outcome = await PurgeExpiredRows(purger, clock, 90, batch_size=100, max_runtime_s=1800).execute()
    assert outcome == RowsPurged(deleted=300, batches=3, complete=False)
    assert purger.cutoffs[0] == datetime(2026, 12, 1, 5, 0, tzinfo=UTC), "90 days before the start"


async def test_batches_never_exceed_5000_rows() -> None:
    clock = SettableClock(NOW)
    purger = SlowPurger(clock, 1000)
    outcome = await PurgeExpiredRows(purger, clock, 1, batch_size=50_000, max_runtime_s=1500).execute()
    assert outcome.deleted == 2 * 5000


def context_for(category: str, *, cancel: bool = False) -> RecordContext:
    context, probe = record_context(record_id=1, session_id="s", instance_id=1)
    probe.cancel = cancel
    return replace(context, record=replace(context.record, item_key=category))


async def test_a_category_reports_its_counts_and_an_incomplete_run_warns() -> None:
    async def purge() -> RowsPurged:
        return RowsPurged(deleted=12, batches=1, complete=False)

    work = RunRetentionCategory({"job_fires": purge})
    result = await work.run(context_for("job_fires"))
    assert result.skipped_code is None
    assert dict(result.counters) == {"deleted": 12, "batches": 1}
    assert [w["code"] for w in result.warnings] == ["RETENTION_INCOMPLETE"]
    assert dict(result.details) == {"category": "job_fires", "complete": False}


async def test_an_unwired_category_is_skipped_and_a_cancel_stops_before_deleting() -> None:
    calls: list[str] = []

    async def purge() -> RowsPurged:
        calls.append("purged")
        return RowsPurged(deleted=0, batches=0, complete=True)

    work = RunRetentionCategory({"unified_logs": purge})
    skipped = await work.run(context_for("capacity_samples"))
    assert skipped.skipped_code == "NOTHING_TO_DO" and skipped.details["category"] == "capacity_samples"
    with pytest.raises(RecordCancelledError):
        await work.run(context_for("unified_logs", cancel=True))
    assert calls == []


async def test_only_pipeline_sessions_enqueue_an_advance_and_a_down_queue_is_not_fatal() -> None:
    context, _ = record_context(record_id=1, session_id="s", instance_id=1)
    queue = RecordingAdvanceQueue()
    listener = AdvancePipelineOnFinalise(queue)
    done = replace(context.session, status=SessionStatus.COMPLETED)
    await listener.session_finalised(done)
    await listener.session_finalised(replace(done, pipeline_run_id="run-1"))
    assert queue.enqueued == ["run-1"]
    queue.available = False
    await listener.session_finalised(replace(done, pipeline_run_id="run-2"))  # logged, not raised
    assert queue.enqueued == ["run-1"]
