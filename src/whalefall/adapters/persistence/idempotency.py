"""SqlAlchemyIdempotencyStore: idempotency keys in the metadata store, shared by every API process (api.md §1.14)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, delete, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.access import idempotency_keys
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.idempotency import (
    ClaimOutcome,
    ClaimResult,
    IdempotencyClaim,
    IdempotencyStore,
    StoredResponse,
)

_IN_PROGRESS: Final = "in_progress"
_COMPLETED: Final = "completed"
#: A row can vanish between a refused insert and the read (released or purged): claim again, a bounded number
#: of times.
_ATTEMPTS: Final = 3

keys = idempotency_keys.c


class SqlAlchemyIdempotencyStore(IdempotencyStore):
    """Each method commits the unit of work it is given. In an HTTP request that is the request's own unit of
    work (on SQLite a second writer in the same request would wait for the request's write lock)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def claim(self, claim: IdempotencyClaim) -> ClaimOutcome:
        values = {"fingerprint": claim.fingerprint, "principal": claim.principal, "method": claim.method,
                  "route": claim.route[:255], "state": _IN_PROGRESS, "status_code": None, "response_headers": None,
                  "response_body": None, "created_at": claim.now, "locked_until": claim.locked_until,
                  "completed_at": None, "expires_at": claim.expires_at}
        for _ in range(_ATTEMPTS):
            connection = await self._conn()
            dialect: Any = postgresql if connection.dialect.name == "postgresql" else sqlite
            inserted = await connection.execute(dialect.insert(idempotency_keys).values(
                scope_digest=claim.scope_digest, **values).on_conflict_do_nothing().returning(keys.scope_digest))
            if inserted.first() is not None:
                await self._uow.commit()
                return ClaimOutcome(ClaimResult.CLAIMED)
            taken_over = await connection.execute(update(idempotency_keys).where(
                keys.scope_digest == claim.scope_digest,
                or_(keys.expires_at <= claim.now,
                    and_(keys.state == _IN_PROGRESS, keys.locked_until <= claim.now))).values(**values).returning(
                keys.scope_digest))
            if taken_over.first() is not None:
                await self._uow.commit()
                return ClaimOutcome(ClaimResult.CLAIMED)
            row = (await connection.execute(select(
                keys.fingerprint, keys.state, keys.status_code, keys.response_headers, keys.response_body,
            ).where(keys.scope_digest == claim.scope_digest))).one_or_none()
            await self._uow.commit()
            if row is None:
                continue
            if row.fingerprint != claim.fingerprint:
                return ClaimOutcome(ClaimResult.MISMATCH)
            if row.state != _COMPLETED:
                return ClaimOutcome(ClaimResult.IN_PROGRESS)
            return ClaimOutcome(ClaimResult.REPLAY, StoredResponse(
                status=int(row.status_code), headers=dict(row.response_headers or {}),
                body=bytes(row.response_body or b"")))
        return ClaimOutcome(ClaimResult.IN_PROGRESS)

    async def complete(self, scope_digest: str, fingerprint: str, response: StoredResponse, *, at: datetime
                       ) -> None:
        await (await self._conn()).execute(update(idempotency_keys).where(
            keys.scope_digest == scope_digest, keys.fingerprint == fingerprint, keys.state == _IN_PROGRESS,
        ).values(state=_COMPLETED, status_code=response.status, response_headers=dict(response.headers),
                 response_body=response.body, completed_at=at))
        await self._uow.commit()

    async def release(self, scope_digest: str, fingerprint: str) -> None:
        await (await self._conn()).execute(delete(idempotency_keys).where(
            keys.scope_digest == scope_digest, keys.fingerprint == fingerprint, keys.state == _IN_PROGRESS))
        await self._uow.commit()

    async def purge_expired(self, *, now: datetime, batch_size: int) -> int:
        expired = select(keys.scope_digest).where(keys.expires_at <= now).limit(batch_size)
        result = await (await self._conn()).execute(delete(idempotency_keys).where(keys.scope_digest.in_(expired)))
        await self._uow.commit()
        return int(result.rowcount)
