"""Repositories of the identity context: users, refresh tokens, the access-token deny-list."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, fetch_page, make_page, translate_unique
from whalefall.adapters.persistence.tables.identity import refresh_tokens, revoked_access_tokens, users
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.identity import (
    AccessTokenDenyList,
    RefreshTokenRecord,
    RefreshTokenRepository,
    UserQuery,
    UserRepository,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import AlreadyExistsError
from whalefall.domain.identity.roles import Role
from whalefall.domain.identity.users import User, UserId

_SORT = {"username": users.c.username, "created_at": users.c.created_at, "last_login_at": users.c.last_login_at}


class SqlAlchemyUserRepository(UserRepository):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, values: Mapping[str, object], *, at: datetime) -> UserId:
        try:
            result = await (await self._conn()).execute(insert(users).values(
                {**values, "created_at": at, "updated_at": at, "revision": 1}).returning(users.c.id))
        except IntegrityError as exc:
            error = translate_unique(exc, {"uq_users_username_lower": lambda: AlreadyExistsError("body.username")})
            raise (error or exc) from exc
        return UserId(int(result.scalar_one()))

    async def get(self, user_id: UserId) -> User | None:
        row = (await (await self._conn()).execute(select(users).where(users.c.id == user_id))).mappings().first()
        return _user(row) if row else None

    async def get_by_username(self, username: str) -> User | None:
        row = (await (await self._conn()).execute(select(users).where(
            func.lower(users.c.username) == username.lower()))).mappings().first()
        return _user(row) if row else None

    async def update(self, user_id: UserId, values: Mapping[str, object], *, at: datetime) -> None:
        await (await self._conn()).execute(update(users).where(users.c.id == user_id).values(
            {**values, "updated_at": at, "revision": users.c.revision + 1}))

    async def list_page(self, query: UserQuery, page: PageRequest) -> Page[User]:
        conditions: list[Any] = []
        if not query.include_deleted:
            conditions.append(users.c.deleted_at.is_(None))
        if query.q:
            conditions.append(contains_ci([users.c.username, users.c.display_name], query.q))
        if query.roles:
            conditions.append(users.c.role.in_(sorted(r.value for r in query.roles)))
        if query.is_active is not None:
            conditions.append(users.c.is_active.is_(query.is_active))
        rows, total = await fetch_page(await self._conn(), select(users).where(*conditions), page, _SORT,
                                       users.c.id, _user)
        return make_page(rows, total, page)

    async def lock_active_admins(self) -> frozenset[UserId]:
        statement = select(users.c.id).where(users.c.role == Role.ADMIN.value, users.c.is_active.is_(True),
                                             users.c.deleted_at.is_(None)).with_for_update()
        rows = await (await self._conn()).execute(statement)
        return frozenset(UserId(int(r[0])) for r in rows)

    async def count(self) -> int:
        return int((await (await self._conn()).execute(select(func.count()).select_from(users))).scalar_one())


def _user(row: Mapping[Any, Any]) -> User:
    return User(id=UserId(row["id"]), username=row["username"], display_name=row["display_name"],
                role=Role(row["role"]), is_active=row["is_active"], must_change_password=row["must_change_password"],
                password_hash=row["password_hash"], security_stamp=row["security_stamp"],
                locked_until=row["locked_until"], last_login_at=row["last_login_at"],
                password_changed_at=row["password_changed_at"], created_at=row["created_at"],
                updated_at=row["updated_at"], deleted_at=row["deleted_at"], revision=row["revision"])


class SqlAlchemyRefreshTokenRepository(RefreshTokenRepository):
    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, *, user_id: UserId, family_id: str, digest: str, issued_at: datetime, expires_at: datetime,
                  family_expires_at: datetime) -> None:
        await (await self._conn()).execute(insert(refresh_tokens).values(
            user_id=user_id, family_id=family_id, token_digest=digest, issued_at=issued_at, expires_at=expires_at,
            family_expires_at=family_expires_at))

    async def get_by_digest(self, digest: str) -> RefreshTokenRecord | None:
        row = (await (await self._conn()).execute(select(refresh_tokens).where(
            refresh_tokens.c.token_digest == digest))).mappings().first()
        if row is None:
            return None
        return RefreshTokenRecord(id=row["id"], user_id=UserId(row["user_id"]), family_id=row["family_id"],
                                  digest=row["token_digest"], issued_at=row["issued_at"],
                                  expires_at=row["expires_at"], family_expires_at=row["family_expires_at"],
                                  used_at=row["used_at"], revoked_at=row["revoked_at"])

    async def mark_used(self, token_id: int, *, at: datetime) -> bool:
        result = await (await self._conn()).execute(update(refresh_tokens).where(
            refresh_tokens.c.id == token_id, refresh_tokens.c.used_at.is_(None)).values(used_at=at))
        return int(result.rowcount) == 1

    async def revoke_family(self, family_id: str, *, at: datetime) -> int:
        result = await (await self._conn()).execute(update(refresh_tokens).where(
            refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=at))
        return int(result.rowcount)

    async def revoke_user(self, user_id: UserId, *, at: datetime) -> int:
        connection = await self._conn()
        live = and_(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None),
                    refresh_tokens.c.family_expires_at > at)
        families = (await connection.execute(select(func.count(refresh_tokens.c.family_id.distinct())).where(
            live))).scalar_one()
        await connection.execute(update(refresh_tokens).where(
            refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None)).values(revoked_at=at))
        return int(families)


class SqlAlchemyAccessTokenDenyList(AccessTokenDenyList):
    """Deny-list in the metadata store (works in every mode); expired rows are pruned on insert."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def deny(self, token_id: str, *, expires_at: datetime) -> None:
        connection = await self._uow.connection()
        await connection.execute(revoked_access_tokens.delete().where(revoked_access_tokens.c.token_id == token_id))
        await connection.execute(insert(revoked_access_tokens).values(token_id=token_id, expires_at=expires_at))

    async def is_denied(self, token_id: str) -> bool:
        connection = await self._uow.connection()
        row = (await connection.execute(select(revoked_access_tokens.c.token_id).where(
            revoked_access_tokens.c.token_id == token_id))).first()
        return row is not None
