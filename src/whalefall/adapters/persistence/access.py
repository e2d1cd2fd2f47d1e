"""Repositories of API tokens and browser sessions (api.md §4.6–4.7)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any, Final

from sqlalchemy import ColumnElement, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.tables.access import api_tokens, browser_sessions
from whalefall.adapters.persistence.tables.identity import users
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.access import (
    ApiTokenQuery,
    ApiTokenRecord,
    ApiTokenRepository,
    BrowserSessionRecord,
    BrowserSessionRepository,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.identity.roles import Permission
from whalefall.domain.identity.users import UserId

_SORT: Final[Mapping[str, ColumnElement[Any]]] = {
    "created_at": api_tokens.c.created_at, "last_used_at": api_tokens.c.last_used_at,
    "expires_at": api_tokens.c.expires_at,
}
_KNOWN_SCOPES: Final = frozenset(p.value for p in Permission)
_WITH_OWNER: Final = select(api_tokens, users.c.username.label("owner_username")).join(
    users, users.c.id == api_tokens.c.owner_id)


class SqlAlchemyApiTokenRepository(ApiTokenRepository):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, *, public_id: str, secret_digest: str, name: str, owner_id: UserId, created_by: UserId | None,
                  scopes: frozenset[Permission], created_at: datetime, expires_at: datetime) -> int:
        result = await (await self._conn()).execute(insert(api_tokens).values(
            public_id=public_id, secret_digest=secret_digest, name=name, owner_id=owner_id, created_by=created_by,
            scopes=sorted(s.value for s in scopes), created_at=created_at, expires_at=expires_at,
        ).returning(api_tokens.c.id))
        return int(result.scalar_one())

    async def get(self, token_id: int) -> ApiTokenRecord | None:
        row = (await (await self._conn()).execute(_WITH_OWNER.where(api_tokens.c.id == token_id))).mappings().first()
        return _token(row) if row else None

    async def get_by_public_id(self, public_id: str) -> ApiTokenRecord | None:
        row = (await (await self._conn()).execute(_WITH_OWNER.where(
            api_tokens.c.public_id == public_id))).mappings().first()
        return _token(row) if row else None

    async def list_page(self, query: ApiTokenQuery, page: PageRequest) -> Page[ApiTokenRecord]:
        conditions: list[ColumnElement[bool]] = []
        if query.owner_id is not None:
            conditions.append(api_tokens.c.owner_id == query.owner_id)
        if not query.include_revoked:
            conditions.append(api_tokens.c.revoked_at.is_(None))
        rows, total = await fetch_page(await self._conn(), _WITH_OWNER.where(*conditions), page, _SORT,
                                       api_tokens.c.id, _token)
        return make_page(rows, total, page)

    async def revoke(self, token_id: int, *, at: datetime) -> None:
        await (await self._conn()).execute(update(api_tokens).where(
            api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None)).values(revoked_at=at))

    async def touch(self, token_id: int, *, at: datetime, min_interval_s: int) -> bool:
        result = await (await self._conn()).execute(update(api_tokens).where(
            api_tokens.c.id == token_id,
            or_(api_tokens.c.last_used_at.is_(None),
                api_tokens.c.last_used_at <= at - timedelta(seconds=min_interval_s)),
        ).values(last_used_at=at))
        return int(result.rowcount) == 1


def _token(row: Mapping[Any, Any]) -> ApiTokenRecord:
    return ApiTokenRecord(
        id=int(row["id"]), public_id=row["public_id"], secret_digest=row["secret_digest"], name=row["name"],
        owner_id=UserId(int(row["owner_id"])), owner_username=row["owner_username"],
        created_by=UserId(int(row["created_by"])) if row["created_by"] is not None else None,
        scopes=frozenset(Permission(s) for s in row["scopes"] if s in _KNOWN_SCOPES),
        created_at=row["created_at"], expires_at=row["expires_at"], last_used_at=row["last_used_at"],
        revoked_at=row["revoked_at"])


class SqlAlchemyBrowserSessionRepository(BrowserSessionRepository):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, *, user_id: UserId, session_digest: str, csrf_token: str, stamp_hash: str,
                  created_at: datetime, idle_expires_at: datetime, expires_at: datetime) -> int:
        result = await (await self._conn()).execute(insert(browser_sessions).values(
            user_id=user_id, session_digest=session_digest, csrf_token=csrf_token, stamp_hash=stamp_hash,
            created_at=created_at, last_seen_at=created_at, idle_expires_at=idle_expires_at, expires_at=expires_at,
        ).returning(browser_sessions.c.id))
        return int(result.scalar_one())

    async def get_by_digest(self, session_digest: str) -> BrowserSessionRecord | None:
        row = (await (await self._conn()).execute(select(browser_sessions).where(
            browser_sessions.c.session_digest == session_digest))).mappings().first()
        if row is None:
            return None
        return BrowserSessionRecord(
            id=int(row["id"]), user_id=UserId(int(row["user_id"])), session_digest=row["session_digest"],
            csrf_token=row["csrf_token"], stamp_hash=row["stamp_hash"], created_at=row["created_at"],
            last_seen_at=row["last_seen_at"], idle_expires_at=row["idle_expires_at"], expires_at=row["expires_at"],
            ended_at=row["ended_at"])

    async def extend(self, session_id: int, *, seen_at: datetime, idle_expires_at: datetime) -> None:
        await (await self._conn()).execute(update(browser_sessions).where(
            browser_sessions.c.id == session_id).values(last_seen_at=seen_at, idle_expires_at=idle_expires_at))

    async def end(self, session_id: int, *, at: datetime) -> None:
        await (await self._conn()).execute(update(browser_sessions).where(
            browser_sessions.c.id == session_id, browser_sessions.c.ended_at.is_(None)).values(ended_at=at))

    async def count_live(self, user_id: UserId, *, stamp_hash: str, at: datetime) -> int:
        count = (await (await self._conn()).execute(select(func.count()).select_from(browser_sessions).where(
            browser_sessions.c.user_id == user_id, browser_sessions.c.stamp_hash == stamp_hash,
            browser_sessions.c.ended_at.is_(None), browser_sessions.c.expires_at > at,
            browser_sessions.c.idle_expires_at > at))).scalar_one()
        return int(count)

    async def end_for_user(self, user_id: UserId, *, at: datetime) -> int:
        result = await (await self._conn()).execute(update(browser_sessions).where(
            browser_sessions.c.user_id == user_id, browser_sessions.c.ended_at.is_(None),
            browser_sessions.c.expires_at > at).values(ended_at=at))
        return int(result.rowcount)
