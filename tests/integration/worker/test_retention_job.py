"""The `retention_cleanup` job end to end (operations.md §1.9): one record per category run by the real worker
wiring, each reporting what it deleted; the cleanup's own running session is never touched."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from dishka.integrations.taskiq import TaskiqProvider
from sqlalchemy import insert, select

from tests.integration.worker.test_worker import wait_terminal
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.logs import unified_logs
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.scheduler import LaunchRequest, SessionLauncher
from whalefall.application.ports.sessions import SessionStore
from whalefall.application.sessions.retention import RETENTION_CATEGORIES
from whalefall.application.shared.paging import PageRequest
from whalefall.domain.sessions.sessions import SessionKind, SessionStatus, SessionTrigger
from whalefall.entrypoints.di import make_container
from whalefall.entrypoints.settings import Settings
from whalefall.entrypoints.worker.app import WorkerProvider, embedded_worker


async def seed(database: Database, now: datetime) -> str:
    """An expired finished session and an expired log event, plus a recent log event that must stay."""
    old = now - timedelta(days=200)
    expired = str(uuid.uuid4())
    async with database.engine.begin() as connection:
        await connection.execute(insert(sync_sessions).values(
            id=expired, kind="connection_test", scope="targeted", trigger="manual", status="completed",
            created_at=old, finished_at=old, params={}, summary={}))
        await connection.execute(insert(unified_logs), [
            {"ts": ts, "level": "INFO", "logger": "whalefall.test", "module": "system", "event": "wf_h7.test",
             "message": "m", "process": "api", "host": "h", "pid": 1, "context": {}}
            for ts in (old, now - timedelta(minutes=5))])
    return expired


async def test_retention_cleanup_runs_every_category(settings: Settings) -> None:
    container = make_container(settings, WorkerProvider(), TaskiqProvider())
    try:
        database = await container.get(Database)
        expired = await seed(database, (await container.get(Clock)).now())
        async with embedded_worker(container):
            async with container() as scope:
                launched = await (await scope.get(SessionLauncher)).launch(
                    LaunchRequest(kind=SessionKind.RETENTION_CLEANUP, trigger=SessionTrigger.MANUAL))
            final = await wait_terminal(container, launched.session_id)
        async with container() as scope:
            page = await (await scope.get(SessionStore)).list_records(launched.session_id, PageRequest(1, 50, ()))
        records = {r.item_key: r for r in page.items}
        assert sorted(records) == sorted(RETENTION_CATEGORIES)
        assert final.status is SessionStatus.COMPLETED, [(r.item_key, r.status, r.error_message)
                                                         for r in page.items]
        assert records["sync_sessions"].counters == {"deleted": 1, "batches": 1}
        assert records["unified_logs"].counters["deleted"] == 1
        assert records["account_changes"].status.value == "completed", "the accounts slice's purge is wired"
        if database.is_sqlite:  # samples retention by DELETE; PostgreSQL drops partitions instead
            assert records["capacity_samples"].counters == {"deleted": 0, "batches": 0}
        else:
            assert (records["capacity_samples"].status.value, records["capacity_samples"].error_code) == (
                "skipped", "NOTHING_TO_DO")
        async with database.engine.connect() as connection:
            left = {str(v) for v in (await connection.execute(select(sync_sessions.c.id))).scalars()}
            events = (await connection.execute(select(unified_logs.c.event)
                                               .where(unified_logs.c.event == "wf_h7.test"))).all()
        assert expired not in left and launched.session_id in left
        assert len(events) == 1, "the recent event stays"
    finally:
        await container.close()
