"""SqlAlchemyAccountFilterOverrides: per-instance overrides of the account filters (accounts.md §3)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.accounts import instance_account_filters
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.accounts import AccountFilterOverride, AccountFilterOverrides
from whalefall.domain.instances import InstanceId

F = instance_account_filters.c


def _patterns(value: Any) -> tuple[str, ...]:
    items = json.loads(value) if isinstance(value, str) else value
    return tuple(str(p) for p in items or ())


async def override_of(connection: AsyncConnection, instance_id: int) -> AccountFilterOverride | None:
    """The stored override of one instance (one primary-key read)."""
    row = (await connection.execute(select(instance_account_filters).where(
        F.instance_id == instance_id))).mappings().first()
    if row is None:
        return None
    return AccountFilterOverride(exclude=_patterns(row["exclude"]),
                                 exclude_oracle_maintained=row["exclude_oracle_maintained"],
                                 updated_at=row["updated_at"], updated_by_name=row["updated_by_name"])


class SqlAlchemyAccountFilterOverrides(AccountFilterOverrides):
    """Over the request's unit of work."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def get(self, instance_id: InstanceId) -> AccountFilterOverride | None:
        return await override_of(await self._uow.connection(), instance_id)

    async def put(self, instance_id: InstanceId, override: AccountFilterOverride) -> None:
        if override.updated_at is None:
            raise ValueError("an override is stored with its updated_at")
        connection = await self._uow.connection()
        values = {"exclude": list(override.exclude), "exclude_oracle_maintained": override.exclude_oracle_maintained,
                  "updated_at": override.updated_at, "updated_by_name": override.updated_by_name}
        changed = (await connection.execute(update(instance_account_filters).where(
            F.instance_id == instance_id).values(values))).rowcount
        if not changed:
            await connection.execute(instance_account_filters.insert().values(instance_id=instance_id, **values))

    async def delete(self, instance_id: InstanceId) -> bool:
        connection = await self._uow.connection()
        result = await connection.execute(delete(instance_account_filters).where(F.instance_id == instance_id))
        return bool(result.rowcount)
