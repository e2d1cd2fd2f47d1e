"""Repositories on SQLite and PostgreSQL: partial unique indexes, endpoint keys, UTC instants, filters, paging."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dishka import AsyncContainer
from sqlalchemy import text

from tests.support.http_client import make_settings
from tests.support.stores import Store
from whalefall.adapters.persistence.engine import Database
from whalefall.application.ports.instances import InstanceQuery, InstanceRepository, TagRepository
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.paging import PageRequest, SortKey
from whalefall.domain.instances import DuplicateEndpointError, InstanceId, InstanceNameTakenError, TagId
from whalefall.entrypoints.di import make_container

T0 = datetime(2027, 3, 1, 8, 15, 2, 311042, tzinfo=UTC)


@dataclass
class Repos:
    container: AsyncContainer

    async def add(self, name: str, *, db_type: str = "postgresql", host: str = "h.example.com", port: int = 5432,
                  database_name: str | None = None, at: datetime = T0, **extra: Any) -> InstanceId:
        async with self.container() as scope:
            instances = await scope.get(InstanceRepository)
            instance_id = await instances.add({
                "name": name, "db_type": db_type, "host": host, "port": port, "database_name": database_name,
                "credential_id": None, "description": None, "is_active": True, "capacity_limit_bytes": None,
                "collect_table_sizes": False, **extra}, at=at, by=None)
            await (await scope.get(UnitOfWork)).commit()
            return instance_id

    async def soft_delete(self, instance_id: InstanceId) -> None:
        async with self.container() as scope:
            await (await scope.get(InstanceRepository)).update(instance_id, {"deleted_at": T0}, at=T0, by=None)
            await (await scope.get(UnitOfWork)).commit()

    async def scalar(self, sql: str, **params: object) -> Any:
        database = await self.container.get(Database)
        async with database.connect() as connection:
            return (await connection.execute(text(sql), params)).scalar()


@pytest.fixture
async def repos(store: Store, tmp_path: Path) -> AsyncIterator[Repos]:
    container = make_container(make_settings(tmp_path, store.url))
    try:
        yield Repos(container)
    finally:
        await container.close()


async def test_live_names_are_unique_case_insensitively_in_the_index(repos: Repos) -> None:
    first = await repos.add("Billing")
    with pytest.raises(InstanceNameTakenError):
        await repos.add("BILLING", host="other.example.com")
    await repos.soft_delete(first)
    second = await repos.add("billing", host="other.example.com")
    assert second != first


async def test_live_endpoints_are_unique_in_the_index(repos: Repos) -> None:
    first = await repos.add("a", host="DB.example.com")
    with pytest.raises(DuplicateEndpointError):
        await repos.add("b", host="db.EXAMPLE.com")
    await repos.soft_delete(first)
    await repos.add("b", host="db.example.com")


async def test_oracle_endpoint_key_upper_cases_the_service_name(repos: Repos) -> None:
    oracle = await repos.add("ora", db_type="oracle", port=1521, database_name="orcl.example.com")
    assert await repos.scalar("SELECT endpoint_database FROM instances WHERE id = :id", id=oracle) == \
        "ORCL.EXAMPLE.COM"
    with pytest.raises(DuplicateEndpointError):
        await repos.add("ora2", db_type="oracle", port=1521, database_name="ORCL.example.com")
    # Other engines ignore database_name in the key.
    pg = await repos.add("pg", database_name="sales")
    assert await repos.scalar("SELECT endpoint_database FROM instances WHERE id = :id", id=pg) == ""
    with pytest.raises(DuplicateEndpointError):
        await repos.add("pg2", database_name="other")
    async with repos.container() as scope:
        instances = await scope.get(InstanceRepository)
        await instances.update(oracle, {"database_name": "hr"}, at=T0, by=None)
        await (await scope.get(UnitOfWork)).commit()
    assert await repos.scalar("SELECT endpoint_database FROM instances WHERE id = :id", id=oracle) == "HR"


async def test_instants_come_back_utc_aware_and_naive_ones_are_refused(repos: Repos) -> None:
    local = T0.astimezone(__import__("zoneinfo").ZoneInfo("Asia/Shanghai"))
    instance_id = await repos.add("tz", at=local)
    async with repos.container() as scope:
        record = await (await scope.get(InstanceRepository)).get(instance_id)
    assert record is not None
    assert record.created_at == T0 and record.created_at.tzinfo is UTC
    assert record.created_at.utcoffset() == timedelta(0)
    with pytest.raises(Exception, match="naive datetime refused"):
        await repos.add("naive", host="n.example.com", at=datetime(2027, 1, 1))
    assert await repos.scalar("SELECT COUNT(*) FROM instances WHERE name = 'naive'") == 0


async def test_list_filters_sorting_and_paging(repos: Repos) -> None:
    ids = {}
    for n, (name, db_type, active) in enumerate([("c-pg", "postgresql", True), ("a-my", "mysql", True),
                                                  ("b-pg", "postgresql", False), ("d-ora", "oracle", True)]):
        ids[name] = await repos.add(name, db_type=db_type, host=f"h{n}.example.com", is_active=active,
                                    database_name="svc" if db_type == "oracle" else None,
                                    at=T0 + timedelta(minutes=n))
    async with repos.container() as scope:
        tags = await scope.get(TagRepository)
        t1 = await tags.add({"name": "t1", "display_name": "T1", "category": "c", "description": None,
                             "is_active": True}, at=T0)
        t2 = await tags.add({"name": "T2", "display_name": "T2", "category": "c", "description": None,
                             "is_active": True}, at=T0)
        inserted = await tags.link_missing([(ids["c-pg"], t1), (ids["c-pg"], t2), (ids["a-my"], t2)], at=T0, by=None)
        assert len(inserted) == 3
        await (await scope.get(UnitOfWork)).commit()
    async with repos.container() as scope:
        instances = await scope.get(InstanceRepository)

        async def names(query: InstanceQuery, page: PageRequest | None = None) -> tuple[list[str], int]:
            result = await instances.list_page(query, page or PageRequest(sort=(SortKey("name"),)))
            return [r.name for r in result.items], result.total

        assert await names(InstanceQuery()) == (["a-my", "b-pg", "c-pg", "d-ora"], 4)
        assert await names(InstanceQuery(status="active")) == (["a-my", "c-pg", "d-ora"], 3)
        assert await names(InstanceQuery(status="inactive")) == (["b-pg"], 1)
        assert await names(InstanceQuery(tags_any=frozenset({"t1", "t2"}))) == (["a-my", "c-pg"], 2)
        assert await names(InstanceQuery(tags_all=frozenset({"T1", "t2"}))) == (["c-pg"], 1)
        assert await names(InstanceQuery(db_types=frozenset({__import__(
            "whalefall.domain.instances", fromlist=["DbEngine"]).DbEngine.ORACLE}))) == (["d-ora"], 1)
        assert await names(InstanceQuery(q="H1.EXAMPLE")) == (["a-my"], 1)
        newest_first = PageRequest(page=1, limit=2, sort=(SortKey("created_at", descending=True),))
        assert await names(InstanceQuery(), newest_first) == (["d-ora", "b-pg"], 4)
        second = PageRequest(page=2, limit=2, sort=(SortKey("created_at", descending=True),))
        assert await names(InstanceQuery(), second) == (["a-my", "c-pg"], 4)
        by_type = PageRequest(sort=(SortKey("db_type"), SortKey("name", descending=True)))
        assert await names(InstanceQuery(), by_type) == (["a-my", "d-ora", "c-pg", "b-pg"], 4)


async def test_bulk_link_is_idempotent(repos: Repos) -> None:
    instance_id = await repos.add("x")
    async with repos.container() as scope:
        tags = await scope.get(TagRepository)
        tag = await tags.add({"name": "t", "display_name": "T", "category": "c", "description": None,
                              "is_active": True}, at=T0)
        first = await tags.link_missing([(instance_id, tag)], at=T0, by=None)
        second = await tags.link_missing([(instance_id, tag), (instance_id, TagId(tag))], at=T0, by=None)
        assert first == {(instance_id, tag)} and second == set()
        assert await tags.link_count(tag) == 1
