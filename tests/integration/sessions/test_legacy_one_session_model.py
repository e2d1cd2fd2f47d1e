"""One run-tracking model (operations.md §12 defect 8): the migrated schema has one sessions table, and every session
kind of §1.1 is stored in it and executed by the worker through it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import inspect

from tests.integration.sessions.harness import Harness
from whalefall.domain.sessions.sessions import SessionKind
from whalefall.entrypoints.worker.dispatch import WORK_FACTORIES

#: Tables whose names say "a run of something": the sessions pair, the scheduler's fires (each names its session)
#: and the pipeline runs (each step names its session). A new table here is a second run-tracking model.
RUN_TABLES = {"sync_sessions", "sync_records", "job_fires", "scheduled_jobs", "pipeline_runs", "pipeline_step_runs"}
RUN_WORDS = ("session", "record", "run", "job", "task", "fire", "execution")


async def test_defect_8_the_schema_has_one_sessions_table(harness: Harness) -> None:
    """Operations defect 8: no other table tracks background runs; fires and pipeline steps point at sessions."""

    def tables(connection: Any) -> tuple[set[str], dict[str, set[str]]]:
        inspector = inspect(connection)
        names = set(inspector.get_table_names())
        return names, {t: {c["name"] for c in inspector.get_columns(t)} for t in ("job_fires", "pipeline_step_runs")}

    async with harness.database.connect() as connection:
        names, columns = await connection.run_sync(tables)
    run_like = {n for n in names if any(w in n for w in RUN_WORDS) and n not in {"browser_sessions"}
                and not n.startswith("alembic")}
    assert run_like == RUN_TABLES
    assert all("session_id" in cols for cols in columns.values())


@pytest.mark.parametrize("kind", list(SessionKind), ids=str)
async def test_defect_8_every_background_kind_writes_the_sessions_table(harness: Harness, kind: SessionKind) -> None:
    """Operations defect 8: each kind is stored in `sync_sessions` (with its records) on both stores, and the
    worker has a work for it, so every background kind runs through sessions."""
    session = await harness.open(kind, items=1)
    stored = await harness.session(session.id)
    assert stored.kind is kind and len(await harness.records(session.id)) == 1
    assert kind in WORK_FACTORIES
