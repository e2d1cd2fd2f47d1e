"""`execute_many` (the ledger writer's fast executemany) stores exactly what SQLAlchemy's executemany stores, on
both stores, and refuses rows it cannot bind faithfully."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, bindparam, delete, insert, select, update

from tests.support.stores import Store
from whalefall.adapters.persistence.accounts._bulk import execute_many
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.tables.accounts import principals
from whalefall.adapters.persistence.tables.instances import instances

AT = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=UTC)


def _rows(instance_id: int, prefix: str) -> list[dict[str, Any]]:
    # Keys left out (namespace, login_capable, ...) take their scalar defaults; JSON, booleans, aware datetimes and
    # non-ASCII text go through the dialect's processors.
    return [{"instance_id": instance_id, "kind_class": "principal", "kind": "user", "key": f"{prefix}{k}-名",
             "is_account": k % 2 == 0, "active": True, "first_seen_at": AT,
             "attributes": {"plugin": "mysql_native_password", "n": k, "nested": {"a": [1, None]}},
             "roles": [f"role{k}"], "grants_stale": False} for k in range(3)]


async def _snapshot(database: Database, prefix: str) -> list[tuple[Any, ...]]:
    columns = [c for c in principals.c if c.name != "id"]
    async with database.connect() as connection:
        rows = (await connection.execute(select(*columns).where(principals.c.key.like(f"{prefix}%"))
                                         .order_by(principals.c.key))).all()
    return [tuple(r) for r in rows]


async def _instance(database: Database) -> int:
    async with database.connect() as connection:
        instance_id = (await connection.execute(insert(instances).values(
            name="bulk", db_type="mysql", host="bulk.example", port=3306, endpoint_database="", is_active=True,
            collect_table_sizes=False, created_at=AT, updated_at=AT, revision=1).returning(instances.c.id)
        )).scalar_one()
        await connection.commit()
    return int(instance_id)


async def test_insert_and_update_store_what_sqlalchemy_stores(store: Store) -> None:
    database = Database(store.url)
    try:
        instance_id = await _instance(database)
        async with database.connect() as connection:
            await connection.execute(insert(principals), _rows(instance_id, "sa"))
            await execute_many(connection, insert(principals), _rows(instance_id, "fast"))
            await connection.commit()
        expected = [(*r[:4], r[4].replace("sa", "fast"), *r[5:]) for r in await _snapshot(database, "sa")]
        assert await _snapshot(database, "fast") == expected
        assert len(expected) == 3 and expected[0][0] == instance_id

        async with database.connect() as connection:
            ids = (await connection.execute(select(principals.c.id).where(principals.c.key.like("fast%"))
                                            .order_by(principals.c.key))).scalars().all()
            statement = update(principals).where(principals.c.id == bindparam("pid")).values(
                active=bindparam("active"), attributes=bindparam("attributes"), deactivated_at=bindparam("gone"))
            await execute_many(connection, statement, [{"pid": pid, "active": False, "attributes": {"k": i},
                                                        "gone": AT} for i, pid in enumerate(ids)])
            await connection.commit()
            changed = (await connection.execute(select(principals.c.active, principals.c.attributes,
                                                       principals.c.deactivated_at)
                                                .where(principals.c.id.in_(ids)).order_by(principals.c.key))).all()
        assert [tuple(r) for r in changed] == [(False, {"k": i}, AT) for i in range(3)]
    finally:
        await database.dispose()


async def test_rows_that_cannot_be_bound_faithfully_are_refused(store: Store) -> None:
    database = Database(store.url)
    try:
        instance_id = await _instance(database)
        async with database.connect() as connection:
            rows = _rows(instance_id, "bad")
            with pytest.raises(ValueError, match="differ"):
                await execute_many(connection, insert(principals), [*rows[:2], {**rows[2], "locked": True}])
            with pytest.raises(KeyError):
                await execute_many(connection, insert(principals),
                                   [rows[0], {k: v for k, v in rows[1].items() if k != "roles"} | {"locked": True}])
            computed = Table("computed_default", MetaData(), Column("a", Integer),
                             Column("b", Integer, default=lambda: 1))
            with pytest.raises(ValueError, match="no value for 'b'"):  # refused before anything is sent
                await execute_many(connection, insert(computed), [{"a": 1}])
            await execute_many(connection, insert(principals), [])  # nothing to do: no statement
            await connection.execute(delete(principals).where(principals.c.instance_id == instance_id))
            await connection.commit()
        assert await _snapshot(database, "bad") == []
    finally:
        await database.dispose()
