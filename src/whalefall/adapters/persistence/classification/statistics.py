"""SqlAlchemyClassificationStatsReader: the read side of the statistics routes (api.md §3.9), from assignments,
their history, the ledger's accounts and the sessions table."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.classification.store import load_json
from whalefall.adapters.persistence.tables.accounts import principal_state_versions, principals
from whalefall.adapters.persistence.tables.classification import (
    assignment_history,
    classification_assignments,
    classification_errors,
    rules,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.tables.sessions import sync_sessions
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import ClassificationStatsReader, LastSession, Stretch
from whalefall.domain.instances import DbEngine

A = classification_assignments.c
H = assignment_history.c
P = principals.c
I = instances.c  # noqa: E741
S = sync_sessions.c
E = classification_errors.c
CHUNK: Final = 500


def _accounts(engines: frozenset[DbEngine], instance_ids: frozenset[int]) -> list[Any]:
    """Active accounts of active, non-deleted instances, filtered."""
    clauses: list[Any] = [P.is_account.is_(True), P.active.is_(True), I.deleted_at.is_(None), I.is_active.is_(True)]
    if engines:
        clauses.append(I.db_type.in_(sorted(e.value for e in engines)))
    if instance_ids:
        clauses.append(I.id.in_(sorted(instance_ids)))
    return clauses


class SqlAlchemyClassificationStatsReader(ClassificationStatsReader):
    """Over the request's unit of work (reads only)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def last_session(self) -> LastSession | None:
        row = (await (await self._conn()).execute(
            select(S.id, S.finished_at).where(S.kind == "classification", S.finished_at.is_not(None))
            .order_by(S.finished_at.desc(), S.id.desc()).limit(1))).first()
        return LastSession(session_id=str(row[0]), finished_at=row[1]) if row else None

    async def unclassified_count(self, engines: frozenset[DbEngine], instance_ids: frozenset[int]) -> int:
        assigned = exists().where(A.account_id == P.id)
        statement = (select(func.count()).select_from(principals.join(instances, I.id == P.instance_id))
                     .where(*_accounts(engines, instance_ids), ~assigned))
        return int((await (await self._conn()).execute(statement)).scalar_one())

    async def engines_with_facts(self, engines: frozenset[DbEngine], instance_ids: frozenset[int]
                                 ) -> frozenset[DbEngine]:
        statement = (select(I.db_type).distinct().select_from(principals.join(instances, I.id == P.instance_id))
                     .where(*_accounts(engines, instance_ids), exists().where(
                         principal_state_versions.c.principal_id == P.id,
                         principal_state_versions.c.valid_to.is_(None))))
        return frozenset(DbEngine(value) for (value,) in await (await self._conn()).execute(statement))

    async def rule_names(self, rule_ids: Sequence[int]) -> dict[int, str]:
        names: dict[int, str] = {}
        ids = sorted(set(rule_ids))
        for start in range(0, len(ids), CHUNK):
            rows = await (await self._conn()).execute(select(rules.c.id, rules.c.name).where(
                rules.c.id.in_(ids[start:start + CHUNK])))
            names.update({int(i): str(n) for i, n in rows})
        return names

    async def rule_hits(self, instance_ids: frozenset[int]) -> dict[int, int]:
        statement = select(A.matched_rules).where(A.source == "auto")
        if instance_ids:
            statement = statement.where(A.instance_id.in_(sorted(instance_ids)))
        hits: dict[int, int] = {}
        for (matched,) in await (await self._conn()).execute(statement):
            for rule_id in {int(pair[0]) for pair in load_json(matched) or ()}:
                hits[rule_id] = hits.get(rule_id, 0) + 1
        return hits

    async def error_counts(self, instance_ids: frozenset[int]) -> dict[int, int]:
        statement = select(E.rule_id, func.count()).where(E.rule_id.is_not(None)).group_by(E.rule_id)
        if instance_ids:
            statement = statement.where(E.instance_id.in_(sorted(instance_ids)))
        return {int(rule_id): int(n) for rule_id, n in await (await self._conn()).execute(statement)}

    async def stretches(self, classification_ids: frozenset[int], start: datetime, end: datetime
                        ) -> list[Stretch]:
        statement = select(H.account_id, H.classification_id, H.valid_from, H.valid_to, H.rule_ids).where(
            H.valid_from < end, or_(H.valid_to.is_(None), H.valid_to > start))
        if classification_ids:
            statement = statement.where(H.classification_id.in_(sorted(classification_ids)))
        return [Stretch(account_id=int(r[0]), classification_id=int(r[1]), valid_from=r[2], valid_to=r[3],
                        rule_ids=tuple(int(i) for i in load_json(r[4]) or ()))
                for r in await (await self._conn()).execute(statement)]

    async def tracking_start(self) -> datetime | None:
        value: datetime | None = (await (await self._conn()).execute(select(func.min(H.valid_from)))).scalar()
        return value
