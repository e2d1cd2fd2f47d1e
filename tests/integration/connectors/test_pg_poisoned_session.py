"""No poisoned PostgreSQL session (accounts.md §10 defect 3), against the real server with the real psycopg sessions:
one statement is swapped for one the server rejects, and every statement sent afterwards is recorded."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from psycopg import sql

from tests.fakes.sessions import SettableClock
from tests.integration.connectors.conftest import TIMEOUTS, pg_target
from whalefall.adapters.connectors._shared import ResultSet
from whalefall.adapters.connectors.postgresql import _session
from whalefall.adapters.connectors.postgresql.catalog import PgSession, read_catalog
from whalefall.application.ports.connectors import ConnectorError
from whalefall.domain.instances import InstanceId

FAILING_SQL = "SELECT 1 / 0"  # a real server error (22012) that aborts the open snapshot transaction


@dataclass
class Spy:
    """Per database: the statements sent, and any sent after a failed one in the same snapshot."""

    poison: dict[str, str]  # database → statement label to replace with FAILING_SQL
    sent: dict[str, list[str]] = field(default_factory=dict)
    after_failure: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class SpySession(PgSession):
    real: PgSession
    database: str
    spy: Spy
    failed: bool = False

    async def fetch(self, name: str, sql_text: str, params: Sequence[object] = ()) -> ResultSet:
        if self.failed:
            self.spy.after_failure.append((self.database, name))
        self.spy.sent.setdefault(self.database, []).append(name)
        poisoned = self.spy.poison.get(self.database) == name
        try:
            return await self.real.fetch(name, FAILING_SQL if poisoned else sql_text, () if poisoned else params)
        except ConnectorError:
            self.failed = True
            raise

    @contextlib.asynccontextmanager
    async def snapshot(self) -> AsyncIterator[None]:
        async with self.real.snapshot():
            yield
        self.failed = False  # a new snapshot is a new transaction


@contextlib.asynccontextmanager
async def spied(database: str, spy: Spy) -> AsyncIterator[PgSession]:
    async with _session(pg_target("postgres", database=database), TIMEOUTS, database) as real:
        yield SpySession(real, database, spy)


@pytest.fixture
def second_database(pg_admin: psycopg.Connection[tuple[Any, ...]], prefix: str) -> Any:
    name = f"wf_w1_{prefix}_ok"[:63]
    pg_admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        pg_admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def _read(spy: Spy) -> Any:
    async with spied("postgres", spy) as maintenance:
        return await read_catalog(maintenance, lambda name: spied(name, spy), instance_id=InstanceId(1),
                                  clock=SettableClock(), object_grants="full", max_connections=2)


async def test_defect_3_a_failing_per_database_query_is_a_gap_and_the_others_are_read(second_database: str) -> None:
    """Accounts defect 3: D2 fails on `postgres` → that database is a (non-connect) failure, the new database is
    still read in full, and no statement follows the failure on the aborted transaction."""
    spy = Spy(poison={"postgres": "D2"})
    rows = await _read(spy)

    failed = {f.database: f for f in rows.failed_databases}
    assert "postgres" in failed and not failed["postgres"].connect_failed
    assert "division by zero" in (failed["postgres"].detail or "")
    assert second_database in {d.datname for d in rows.databases}
    assert spy.sent[second_database][:2] == ["D1", "D2"]
    assert spy.after_failure == []


async def test_defect_3_a_failing_cluster_query_fails_the_instance(second_database: str) -> None:
    """Accounts defect 3: Q2 fails on the maintenance session → CATALOG_READ_FAILED for the instance; Q3/Q4 are
    never sent on the aborted transaction and no per-database read starts."""
    spy = Spy(poison={"postgres": "Q2"})
    with pytest.raises(ConnectorError) as caught:
        await _read(spy)

    assert caught.value.error_code == "CATALOG_READ_FAILED"
    assert spy.sent == {"postgres": ["Q0", "Q1", "Q2"]}
    assert spy.after_failure == []
