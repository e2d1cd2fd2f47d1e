"""SqlAlchemyAssignmentStore: assignments, their continuous history and per-account error rows (§8.3, §9)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

from sqlalchemy import and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import fetch_page, make_page
from whalefall.adapters.persistence.classification.store import load_json
from whalefall.adapters.persistence.tables.classification import (
    assignment_history,
    classification_assignments,
    classification_counters,
    classification_errors,
)
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import (
    ApplyPlan,
    AssignmentQuery,
    AssignmentStore,
    AssignmentView,
    AutoWrite,
    HistoryView,
    StoredAuto,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import AlreadyExistsError
from whalefall.domain.instances import DbEngine

A = classification_assignments.c
H = assignment_history.c
E = classification_errors.c
AUTO: Final = "auto"
MANUAL: Final = "manual"
CHUNK: Final = 500
SORT: Final[Mapping[str, Any]] = {"assigned_at": A.assigned_at}
HISTORY_SORT: Final[Mapping[str, Any]] = {"valid_from": H.valid_from}


def _pairs(value: Any) -> tuple[tuple[int, int], ...]:
    return tuple((int(item[0]), int(item[1])) for item in load_json(value) or ())


def _view(row: Mapping[Any, Any]) -> AssignmentView:
    return AssignmentView(
        id=row["id"], account_id=row["account_id"], classification_id=row["classification_id"],
        instance_id=row["instance_id"], source=row["source"], is_primary=row["is_primary"], rule_id=row["rule_id"],
        rule_revision=row["rule_revision"], matched_rules=_pairs(row["matched_rules"]), session_id=row["session_id"],
        assigned_by=row["assigned_by"], assigned_by_name=row["assigned_by_name"], assigned_at=row["assigned_at"],
        note=row["note"])


def _history(row: Mapping[Any, Any]) -> HistoryView:
    return HistoryView(account_id=row["account_id"], classification_id=row["classification_id"],
                       source=row["source"], valid_from=row["valid_from"], valid_to=row["valid_to"],
                       rule_ids=tuple(int(i) for i in load_json(row["rule_ids"]) or ()))


def _filters(columns: Any, query: AssignmentQuery) -> list[Any]:
    clauses = []
    if query.account_ids:
        clauses.append(columns.account_id.in_(sorted(query.account_ids)))
    if query.classification_ids:
        clauses.append(columns.classification_id.in_(sorted(query.classification_ids)))
    if query.instance_ids:
        clauses.append(columns.instance_id.in_(sorted(query.instance_ids)))
    if query.source:
        clauses.append(columns.source == query.source)
    return clauses


def _scope(columns: Any, engine: DbEngine, instance_ids: Sequence[int] | None) -> list[Any]:
    clauses = [columns.db_type == engine.value]
    if instance_ids is not None:
        clauses.append(columns.instance_id.in_(list(instance_ids)))
    return clauses


class SqlAlchemyAssignmentStore(AssignmentStore):
    """Over the request's unit of work; `apply` is the single write path of auto runs."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def lock_auto(self, engine: DbEngine, instance_ids: Sequence[int] | None) -> list[StoredAuto]:
        connection = await self._conn()
        # One counter row per engine serialises applies of overlapping scopes on PostgreSQL (the second waits);
        # SQLite holds the database write lock for the whole transaction anyway.
        await self._engine_lock(connection, engine)
        statement = select(A.id, A.account_id, A.classification_id, A.instance_id, A.matched_rules, A.is_primary).where(
            A.source == AUTO, *_scope(A, engine, instance_ids))
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update()
        rows = (await connection.execute(statement)).mappings().all()
        return [StoredAuto(id=r["id"], account_id=r["account_id"], classification_id=r["classification_id"],
                           instance_id=r["instance_id"], matched_rules=_pairs(r["matched_rules"]),
                           is_primary=r["is_primary"]) for r in rows]

    async def _engine_lock(self, connection: AsyncConnection, engine: DbEngine) -> None:
        name = f"apply:{engine.value}"
        counters = classification_counters
        if connection.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as upsert
        else:
            from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
        await connection.execute(upsert(counters).values(name=name, value=0).on_conflict_do_nothing())
        await connection.execute(update(counters).where(counters.c.name == name).values(value=counters.c.value + 1))

    async def manual_pairs(self, account_ids: Sequence[int]) -> list[tuple[int, int]]:
        connection = await self._conn()
        found: list[tuple[int, int]] = []
        for start in range(0, len(account_ids), CHUNK):
            rows = await connection.execute(select(A.account_id, A.classification_id).where(
                A.source == MANUAL, A.account_id.in_(list(account_ids[start:start + CHUNK]))))
            found.extend((int(a), int(c)) for a, c in rows)
        return found

    async def apply(self, plan: ApplyPlan) -> None:
        connection = await self._conn()
        if plan.delete:
            for start in range(0, len(plan.delete), CHUNK):
                ids = list(plan.delete[start:start + CHUNK])
                gone = (await connection.execute(select(A.account_id, A.classification_id).where(
                    A.id.in_(ids)))).all()
                await connection.execute(delete(classification_assignments).where(A.id.in_(ids)))
                await self._close_history(connection, [(int(a), int(c)) for a, c in gone], AUTO, plan.started_at)
        if plan.insert:
            rows = [self._row(write, plan) | {"source": AUTO, "assigned_at": plan.started_at}
                    for write in plan.insert]
            await connection.execute(insert(classification_assignments), rows)
            await connection.execute(insert(assignment_history), [
                {"account_id": w.account_id, "classification_id": w.classification_id, "source": AUTO,
                 "instance_id": w.instance_id, "db_type": plan.engine.value, "valid_from": plan.started_at,
                 "rule_ids": [rule_id for rule_id, _ in w.matched_rules]} for w in plan.insert])
        for write in plan.update:
            await connection.execute(update(classification_assignments).where(
                A.account_id == write.account_id, A.classification_id == write.classification_id,
                A.source == AUTO).values(self._row(write, plan)))
            await connection.execute(update(assignment_history).where(
                H.account_id == write.account_id, H.classification_id == write.classification_id, H.source == AUTO,
                H.valid_to.is_(None)).values(rule_ids=[rule_id for rule_id, _ in write.matched_rules]))
        await self._manual_primary(connection, plan)
        await connection.execute(delete(classification_errors).where(*_scope(E, plan.engine, plan.instance_ids)))
        if plan.errors:
            await connection.execute(insert(classification_errors), [
                {"account_id": e.account_id, "instance_id": e.instance_id, "db_type": plan.engine.value,
                 "rule_id": e.rule_id, "rule_revision": e.rule_revision, "session_id": plan.session_id,
                 "code": e.code, "path": e.path, "message": e.message, "created_at": plan.started_at}
                for e in plan.errors])

    @staticmethod
    def _row(write: AutoWrite, plan: ApplyPlan) -> dict[str, object]:
        return {"account_id": write.account_id, "classification_id": write.classification_id,
                "instance_id": write.instance_id, "db_type": plan.engine.value,
                "rule_id": write.matched_rules[0][0], "rule_revision": write.matched_rules[0][1],
                "matched_rules": [list(pair) for pair in write.matched_rules], "is_primary": write.is_primary,
                "session_id": plan.session_id, "explanation_ref": dict(write.explanation_ref or {})}

    async def _manual_primary(self, connection: AsyncConnection, plan: ApplyPlan) -> None:
        for start in range(0, len(plan.accounts), CHUNK):
            rows = (await connection.execute(select(A.id, A.account_id, A.classification_id, A.is_primary).where(
                A.source == MANUAL, A.account_id.in_(list(plan.accounts[start:start + CHUNK]))))).all()
            for row_id, account, classification, primary in rows:
                wanted = (account, classification) in plan.manual_primary
                if bool(primary) != wanted:
                    await connection.execute(update(classification_assignments).where(A.id == row_id).values(
                        is_primary=wanted))

    @staticmethod
    async def _close_history(connection: AsyncConnection, pairs: list[tuple[int, int]], source: str,
                             at: datetime) -> None:
        for start in range(0, len(pairs), CHUNK):
            batch = pairs[start:start + CHUNK]
            await connection.execute(update(assignment_history).where(
                H.source == source, H.valid_to.is_(None),
                or_(*(and_(H.account_id == a, H.classification_id == c) for a, c in batch))).values(valid_to=at))

    async def list(self, query: AssignmentQuery, page: PageRequest) -> Page[AssignmentView]:
        statement = select(classification_assignments).where(*_filters(A, query))
        if query.is_primary is not None:
            statement = statement.where(A.is_primary.is_(query.is_primary))
        items, total = await fetch_page(await self._conn(), statement, page, SORT, A.id, _view)
        return make_page(items, total, page)

    async def get(self, assignment_id: int) -> AssignmentView | None:
        row = (await (await self._conn()).execute(select(classification_assignments).where(
            A.id == assignment_id))).mappings().first()
        return _view(row) if row else None

    async def history(self, query: AssignmentQuery, page: PageRequest) -> Page[HistoryView]:
        statement = select(assignment_history).where(*_filters(H, query))
        if query.since is not None:
            statement = statement.where(or_(H.valid_to.is_(None), H.valid_to > query.since))
        if query.until is not None:
            statement = statement.where(H.valid_from <= query.until)
        items, total = await fetch_page(await self._conn(), statement, page, HISTORY_SORT, H.id, _history)
        return make_page(items, total, page)

    async def insert_manual(self, *, account_id: int, classification_id: int, instance_id: int, db_type: DbEngine,
                            note: str | None, actor_id: int | None, actor_name: str | None,
                            now: datetime) -> AssignmentView:
        connection = await self._conn()
        try:
            new_id = (await connection.execute(insert(classification_assignments).values(
                account_id=account_id, classification_id=classification_id, source=MANUAL, instance_id=instance_id,
                db_type=db_type.value, matched_rules=[], is_primary=False, assigned_at=now, assigned_by=actor_id,
                assigned_by_name=actor_name, note=note).returning(A.id))).scalar_one()
        except IntegrityError as exc:
            raise AlreadyExistsError("body.classification_id",
                                     "the account already has this manual assignment") from exc
        await connection.execute(insert(assignment_history).values(
            account_id=account_id, classification_id=classification_id, source=MANUAL, instance_id=instance_id,
            db_type=db_type.value, valid_from=now, rule_ids=[]))
        found = await self.get(int(new_id))
        assert found is not None
        return found

    async def delete_manual(self, assignment_id: int, *, now: datetime) -> None:
        connection = await self._conn()
        row = (await connection.execute(select(A.account_id, A.classification_id).where(
            A.id == assignment_id))).first()
        await connection.execute(delete(classification_assignments).where(A.id == assignment_id))
        if row is not None:
            await self._close_history(connection, [(int(row[0]), int(row[1]))], MANUAL, now)

    async def current_counts(self, engines: frozenset[DbEngine],
                             instance_ids: frozenset[int]) -> dict[int, dict[str, int]]:
        statement = select(A.classification_id, A.db_type, A.account_id).distinct()
        if engines:
            statement = statement.where(A.db_type.in_(sorted(e.value for e in engines)))
        if instance_ids:
            statement = statement.where(A.instance_id.in_(sorted(instance_ids)))
        counts: dict[int, dict[str, int]] = {}
        for classification, db_type, _account in await (await self._conn()).execute(statement):
            per = counts.setdefault(int(classification), {})
            per[db_type] = per.get(db_type, 0) + 1
        return counts

    async def rule_hits(self) -> dict[int, int]:
        hits: dict[int, int] = {}
        for (matched,) in await (await self._conn()).execute(select(A.matched_rules).where(A.source == AUTO)):
            for rule_id in {rule for rule, _ in _pairs(matched)}:
                hits[rule_id] = hits.get(rule_id, 0) + 1
        return hits

    async def error_counts(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        for (rule_id,) in await (await self._conn()).execute(select(E.rule_id).where(E.rule_id.is_not(None))):
            counts[int(rule_id)] = counts.get(int(rule_id), 0) + 1
        return counts
