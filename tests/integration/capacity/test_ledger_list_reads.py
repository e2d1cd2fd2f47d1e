"""The database ledger list reads only the ledger (capacity.md §1.4, §11; capacity defect 30): the legacy
"latest size" scanned the whole samples table and freshness used 6 h / 48 h thresholds. Here every statement of
`GET /databases` (any filter or sort) names no samples table, and size and freshness come from the ledger's own
`last_size_bytes` / `last_collected_on`, even when the samples say otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from typing import Any

from sqlalchemy import event, text

from tests.integration.capacity.helpers import add_instance, insert_samples
from tests.support.http_client import Api, data_of
from whalefall.adapters.persistence.capacity.writes import SqlAlchemyCapacityWriter
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.clock import Clock
from whalefall.domain.capacity import DatabaseSample, InstanceSample
from whalefall.domain.capacity.ledger import LedgerEntry
from whalefall.domain.identity.roles import Role

SAMPLE_TABLES = ("database_size_samples", "instance_size_samples")


@contextmanager
def _statements(database: Database) -> Iterator[list[str]]:
    """Every SQL statement the app's engine sends while the block runs."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_rest: Any) -> None:
        seen.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)


async def _seed(database: Database, today: date) -> None:
    instance = await add_instance(database, "wf-w2-ledger")
    uow = SqlAlchemyUnitOfWork(database)
    try:
        await SqlAlchemyCapacityWriter(uow).save_ledger(instance, [
            LedgerEntry(name=name, is_system=False, is_excluded=False, status="active",
                        first_seen_on=today - timedelta(days=30), last_seen_on=today)
            for name in ("fresh_db", "stale_db", "never_db")])
        await uow.commit()
    finally:
        await uow.close()
    # The samples of today disagree with the ledger on purpose: a read from samples would show 9xx sizes.
    await insert_samples(database, [DatabaseSample(instance, n, today, 900 + k)
                                    for k, n in enumerate(("fresh_db", "stale_db", "never_db"))],
                         [InstanceSample(instance, today, 2703, 3)])
    async with database.engine.begin() as connection:
        for name, size, day in (("fresh_db", 111, today - timedelta(days=1)),
                                ("stale_db", 222, today - timedelta(days=2))):
            await connection.execute(text("UPDATE instance_databases SET last_size_bytes = :s, last_collected_on = :d "
                                          "WHERE name = :n"), {"s": size, "d": day, "n": name})


async def test_ledger_list_touches_no_samples_table_and_freshness_follows_the_ledger(api: Api) -> None:
    """Capacity defect 30."""
    database = await api.container.get(Database)
    today: date = (await api.container.get(Clock)).now().date()  # test settings: UTC business calendar
    await _seed(database, today)
    headers = await api.headers(Role.VIEWER)
    queries: list[dict[str, Any]] = [{}, {"sort": "-last_size_bytes"}, {"freshness": "stale"}, {"q": "db"},
                                     {"status": "active", "is_system": "false"}]
    with _statements(database) as seen:
        pages = []
        for params in queries:
            response = await api.client.get("/api/v1/databases", params=params, headers=headers)
            assert response.status_code == 200, f"{params}: {response.text}"
            pages.append(data_of(response))
    assert seen, "the listener saw no statement"
    for statement in seen:
        assert not any(table in statement for table in SAMPLE_TABLES), statement
    rows = {d["name"]: (d["last_size_bytes"], d["last_collected_on"], d["freshness"]) for d in pages[0]["items"]}
    assert rows == {"fresh_db": (111, (today - timedelta(days=1)).isoformat(), "fresh"),
                    "stale_db": (222, (today - timedelta(days=2)).isoformat(), "stale"),
                    "never_db": (None, None, "never")}
    # Sorted by the ledger's size (where rows without a size go is not the point here).
    assert [d["name"] for d in pages[1]["items"] if d["last_size_bytes"] is not None] == ["stale_db", "fresh_db"]
    assert [d["name"] for d in pages[2]["items"]] == ["stale_db"]
