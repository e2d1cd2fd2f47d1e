"""A hanging instance delays nobody (operations.md §12 defect 17): records run concurrently under the real runner on
both stores, the hanging one is cut at its per-instance deadline and the others finish long before it."""

from __future__ import annotations

import asyncio
import time

from tests.fakes.sessions import ScriptedWork
from tests.integration.sessions.harness import Harness, quick_config
from whalefall.application.sessions.run_record import RunOutcome
from whalefall.application.sessions.work import RecordContext, RecordResult
from whalefall.domain.sessions.records import RecordStatus
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus

SYNC = SessionKind.ACCOUNTS_SYNC
DEADLINE_S = 2.0


async def test_defect_17_one_hanging_instance_does_not_delay_the_others(harness: Harness) -> None:
    """Operations defect 17: with a 2 s per-instance deadline, three healthy instances finish while the fourth
    hangs; the hanging record fails DEADLINE_EXCEEDED within its deadline plus a small grace, and the session ends
    `partial`. (The fleet throughput half of the defect is bench/fleet_bench.py.)"""
    names = ["w1hang", "w1ok1", "w1ok2", "w1ok3"]
    instances = [await harness.add_instance(name) for name in names]
    session = await harness.open(SYNC, instance_ids=instances)
    records = await harness.records(session.id)
    hanging = records[0].id
    finished_at: dict[int, float] = {}

    async def work(context: RecordContext) -> RecordResult:
        if context.record.id == hanging:
            await asyncio.Event().wait()  # a server that accepted the query and never answers
        await context.fence()
        return RecordResult()

    config = quick_config(instance_deadline_s=DEADLINE_S)
    started = time.monotonic()

    async def run(record_id: int) -> RunOutcome:
        outcome = await harness.run(record_id, ScriptedWork(work), SYNC, config=config)
        finished_at[record_id] = time.monotonic() - started
        return outcome

    outcomes = await asyncio.gather(*(run(r.id) for r in records))

    assert outcomes == [RunOutcome.FAILED] + [RunOutcome.COMPLETED] * 3
    healthy = [finished_at[r.id] for r in records[1:]]
    assert max(healthy) < DEADLINE_S, finished_at           # nobody waited for the hanging instance
    assert DEADLINE_S <= finished_at[hanging] < DEADLINE_S + 3, finished_at
    stored = await harness.record(hanging)
    assert (stored.status, stored.error_code) == (RecordStatus.FAILED, "DEADLINE_EXCEEDED")
    assert (await harness.session(session.id)).status is SessionStatus.PARTIAL
