"""Ledger, rule and run helpers for the classification integration tests (rows written as a sync would)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import text

from tests.support.http_client import Api, data_of
from tests.unit.application.classification.fakes import context
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.classification.classify_record import ClassifyRecord
from whalefall.application.ports.clock import Clock
from whalefall.domain.accounts.model import (
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    canonical_json,
    state_document,
    state_hash,
)
from whalefall.domain.identity.roles import Role
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope

SUPER: dict[str, Any] = {"version": 4, "expr": {"fn": "is_superuser"}}
PROCESS: dict[str, Any] = {"version": 4, "expr": {"fn": "has_privilege", "args": {"name": "PROCESS",
                                                                                   "scope": "global"}}}


async def mysql_instance(api: Api, name: str) -> int:
    op = await api.headers(Role.OPERATOR)
    return int(data_of(await api.client.post("/api/v1/instances", headers=op, json={
        "name": name, "db_type": "mysql", "host": f"{name}.example.com"}))["id"])


async def add_accounts(api: Api, instance_id: int, grants: Sequence[Sequence[str]], prefix: str = "u") -> list[int]:
    """One MySQL user per entry of `grants` holding those global privileges; returns their principal ids."""
    ids = []
    async with api.container() as scope:
        uow = await scope.get(SqlAlchemyUnitOfWork)
        connection = await uow.connection()
        for n, privileges in enumerate(grants):
            ref = PrincipalRef.of(PrincipalKind.USER, f"{prefix}{n}@%")
            state = PrincipalState(ref=ref, is_account=True, grants=tuple(
                PrivilegeGrant(principal=ref, privilege=p, scope=Scope.GLOBAL) for p in privileges),
                attributes={"login_capable": True, "locked": False, "host": "%"})
            row = (await connection.execute(text(
                "INSERT INTO principals (instance_id, kind_class, kind, namespace, key, is_account, active, "
                "first_seen_at, login_capable, locked, superuser, password_expired, grants_stale, attributes, roles)"
                " VALUES (:i, 'principal', 'user', '', :k, true, true, CURRENT_TIMESTAMP, true, false, false, false,"
                " false, '{}', '[]') RETURNING id"), {"i": instance_id, "k": ref.key})).scalar_one()
            await connection.execute(text(
                "INSERT INTO principal_state_versions (principal_id, instance_id, state, state_hash, valid_from) "
                "VALUES (:p, :i, :s, :h, CURRENT_TIMESTAMP)"),
                {"p": row, "i": instance_id, "s": canonical_json(state_document(state)), "h": state_hash(state)})
            ids.append(int(row))
        await uow.commit()
    return ids


async def classification_id(api: Api, code: str) -> int:
    auditor = await api.headers(Role.AUDITOR)
    listed = data_of(await api.client.get("/api/v1/classifications?limit=50", headers=auditor))["items"]
    return int(next(c["id"] for c in listed if c["code"] == code))


async def create_rule(api: Api, expression: dict[str, Any], name: str, code: str = "super") -> int:
    op = await api.headers(Role.OPERATOR)
    return int(data_of(await api.client.post("/api/v1/rules", headers=op, json={
        "name": name, "classification_id": await classification_id(api, code), "db_type": "mysql",
        "expression": expression}))["id"])


async def classify(api: Api, session_id: str = "s-1", instance_ids: Sequence[int] | None = None) -> dict[str, Any]:
    async with api.container() as scope:
        work = await scope.get(ClassifyRecord)
        record_context = context(DbEngine.MYSQL, session_id=session_id,
                                 instance_ids=list(instance_ids) if instance_ids is not None else None)
        return dict((await work.run(record_context)).counters)


async def now(api: Api) -> datetime:
    """The app's clock (the real one: history rows are placed relative to today)."""
    return (await api.container.get(Clock)).now()
