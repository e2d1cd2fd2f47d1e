"""Fixture `harness`: a SyncHarness on a migrated SQLite copy, capturing every SQL statement sent."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event

from tests.support.stores import sqlite_url
from tests.unit.application.accounts.harness import SyncHarness
from whalefall.adapters.persistence.engine import Database


@pytest.fixture
async def harness(sqlite_template: Path, tmp_path: Path) -> AsyncIterator[SyncHarness]:
    target = tmp_path / "whalefall.db"
    shutil.copyfile(sqlite_template, target)
    database = Database(sqlite_url(target))
    h = SyncHarness(database)

    def capture(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        h.statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", capture)
    try:
        yield h
    finally:
        await database.dispose()
