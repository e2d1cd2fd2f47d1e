"""SqlAlchemyClassificationStore: classifications, rules, rule revisions and the `rules_revision` counter."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from sqlalchemy import ColumnElement, delete, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, fetch_page, make_page, translate_unique
from whalefall.adapters.persistence.tables.classification import (
    assignment_history,
    classification_assignments,
    classification_counters,
    classifications,
    rule_revisions,
    rules,
)
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import (
    ActiveRule,
    ClassificationQuery,
    ClassificationStore,
    ClassificationView,
    NewClassification,
    NewRule,
    RuleExpressionDuplicatedError,
    RuleNameTakenError,
    RuleQuery,
    RuleRevisionView,
    RuleView,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.classification.rules import ValidationIssue
from whalefall.domain.errors import AlreadyExistsError, WhalefallError
from whalefall.domain.instances import DbEngine

K = classifications.c
R = rules.c
RV = rule_revisions.c
A = classification_assignments.c
RULES_REVISION: Final = "rules_revision"
CLASSIFICATION_SORT: Final[Mapping[str, ColumnElement[Any]]] = {
    "priority": K.priority, "code": K.code, "risk_level": K.risk_level}
RULE_SORT: Final[Mapping[str, ColumnElement[Any]]] = {"name": R.name, "updated_at": R.updated_at, "id": R.id}
_UNIQUE: Final[Mapping[str, Any]] = {
    "uq_classifications_code": lambda: AlreadyExistsError("body.code"),
    "classifications.code": lambda: AlreadyExistsError("body.code"),
    "uq_classifications_display_name_key": lambda: AlreadyExistsError("body.display_name"),
    "classifications.display_name_key": lambda: AlreadyExistsError("body.display_name"),
    "uq_rules_name_live": RuleNameTakenError,
    "rules.name": RuleNameTakenError,
    "uq_rules_fingerprint_live": RuleExpressionDuplicatedError,
    "rules.fingerprint": RuleExpressionDuplicatedError,
}


def load_json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _translate(exc: IntegrityError) -> WhalefallError | IntegrityError:
    return translate_unique(exc, _UNIQUE) or exc


def _rule_count() -> Any:
    return (select(func.count()).where(R.classification_id == K.id, R.deleted_at.is_(None))
            .correlate(classifications).scalar_subquery())


def _account_count() -> Any:
    return (select(func.count(func.distinct(A.account_id))).where(A.classification_id == K.id)
            .correlate(classifications).scalar_subquery())


def _classification(row: Mapping[Any, Any]) -> ClassificationView:
    return ClassificationView(
        id=row["id"], code=row["code"], display_name=row["display_name"], description=row["description"],
        risk_level=row["risk_level"], priority=row["priority"], icon=row["icon"], is_system=row["is_system"],
        is_active=row["is_active"], rule_count=int(row["rule_count"] or 0),
        account_count=int(row["account_count"] or 0), created_at=row["created_at"], updated_at=row["updated_at"],
        revision=row["revision"])


def _issues(value: Any) -> tuple[ValidationIssue, ...]:
    return tuple(ValidationIssue(str(i["code"]), str(i["path"]), str(i.get("message", "")), "warning")
                 for i in load_json(value) or ())


def _rule(row: Mapping[Any, Any], hits: int | None = None) -> RuleView:
    return RuleView(
        id=row["id"], name=row["name"], classification_id=row["classification_id"], db_type=DbEngine(row["db_type"]),
        description=row["description"], expression=load_json(row["expression"]), fingerprint=row["fingerprint"],
        is_active=row["is_active"], rule_revision=row["rule_revision"], warnings=_issues(row["warnings"]),
        created_by=row["created_by"], created_by_name=row["created_by_name"], created_at=row["created_at"],
        updated_at=row["updated_at"], deleted_at=row["deleted_at"], revision=row["revision"],
        matched_account_count=hits)


def _revision(row: Mapping[Any, Any]) -> RuleRevisionView:
    return RuleRevisionView(rule_id=row["rule_id"], rule_revision=row["rule_revision"],
                            expression=load_json(row["expression"]), fingerprint=row["fingerprint"],
                            created_by=row["created_by"], created_by_name=row["created_by_name"],
                            created_at=row["created_at"], superseded_at=row["superseded_at"])


def _warnings_json(issues: Any) -> list[dict[str, str]]:
    return [{"code": i.code, "path": i.path, "message": i.message} for i in issues]


class SqlAlchemyClassificationStore(ClassificationStore):
    """Over the request's unit of work; nothing is committed here."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    def _classifications(self) -> Any:
        return select(classifications, _rule_count().label("rule_count"), _account_count().label("account_count"))

    async def list_classifications(self, query: ClassificationQuery, page: PageRequest) -> Page[ClassificationView]:
        statement = self._classifications()
        if query.q:
            statement = statement.where(contains_ci([K.code, K.display_name], query.q))
        if query.is_system is not None:
            statement = statement.where(K.is_system.is_(query.is_system))
        if query.is_active is not None:
            statement = statement.where(K.is_active.is_(query.is_active))
        items, total = await fetch_page(await self._conn(), statement, page, CLASSIFICATION_SORT, K.id,
                                        _classification)
        return make_page(items, total, page)

    async def all_classifications(self) -> list[ClassificationView]:
        rows = (await (await self._conn()).execute(self._classifications().order_by(K.id))).mappings().all()
        return [_classification(row) for row in rows]

    async def get_classification(self, classification_id: int) -> ClassificationView | None:
        row = (await (await self._conn()).execute(self._classifications().where(
            K.id == classification_id))).mappings().first()
        return _classification(row) if row else None

    async def insert_classification(self, data: NewClassification, *, now: datetime) -> ClassificationView:
        values = {"code": data.code, "display_name": data.display_name, "display_name_key": data.display_name.lower(),
                  "description": data.description, "risk_level": data.risk_level, "priority": data.priority,
                  "icon": data.icon, "is_system": data.is_system, "is_active": data.is_active, "created_at": now,
                  "updated_at": now, "revision": 1}
        try:
            new_id = (await (await self._conn()).execute(
                insert(classifications).values(values).returning(K.id))).scalar_one()
        except IntegrityError as exc:
            raise _translate(exc) from exc
        found = await self.get_classification(int(new_id))
        assert found is not None
        return found

    async def update_classification(self, classification_id: int, changes: Mapping[str, object], *,
                                    now: datetime) -> ClassificationView:
        values: dict[str, object] = {**changes, "updated_at": now, "revision": K.revision + 1}
        if isinstance(changes.get("display_name"), str):
            values["display_name_key"] = str(changes["display_name"]).lower()
        try:
            await (await self._conn()).execute(update(classifications).where(K.id == classification_id)
                                               .values(values))
        except IntegrityError as exc:
            raise _translate(exc) from exc
        found = await self.get_classification(classification_id)
        assert found is not None
        return found

    async def classification_usage(self, classification_id: int) -> tuple[int, int]:
        connection = await self._conn()
        rule_count = (await connection.execute(select(func.count()).where(
            R.classification_id == classification_id, R.deleted_at.is_(None)))).scalar_one()
        assigned = (await connection.execute(select(func.count()).where(
            A.classification_id == classification_id))).scalar_one()
        return int(rule_count), int(assigned)

    async def delete_classification(self, classification_id: int) -> None:
        # Soft-deleted rules, their revisions and closed history go with the classification they belong to.
        connection = await self._conn()
        dead = select(R.id).where(R.classification_id == classification_id).scalar_subquery()
        await connection.execute(delete(rule_revisions).where(RV.rule_id.in_(dead)))
        await connection.execute(delete(rules).where(R.classification_id == classification_id))
        await connection.execute(delete(assignment_history).where(
            assignment_history.c.classification_id == classification_id))
        await connection.execute(delete(classifications).where(K.id == classification_id))

    async def list_rules(self, query: RuleQuery, page: PageRequest) -> Page[RuleView]:
        statement = select(rules)
        if query.classification_ids:
            statement = statement.where(R.classification_id.in_(sorted(query.classification_ids)))
        if query.db_types:
            statement = statement.where(R.db_type.in_(sorted(d.value for d in query.db_types)))
        if query.is_active is not None:
            statement = statement.where(R.is_active.is_(query.is_active))
        if not query.include_deleted:
            statement = statement.where(R.deleted_at.is_(None))
        if query.q:
            statement = statement.where(contains_ci([R.name], query.q))
        connection = await self._conn()
        items, total = await fetch_page(connection, statement, page, RULE_SORT, R.id, lambda row: row)
        hits = await self._hits([row["id"] for row in items])
        return make_page([_rule(row, hits.get(row["id"], 0)) for row in items], total, page)

    async def _hits(self, rule_ids: list[int]) -> dict[int, int]:
        if not rule_ids:
            return {}
        rows = (await (await self._conn()).execute(select(A.matched_rules).where(A.source == "auto"))).all()
        wanted, hits = set(rule_ids), dict.fromkeys(rule_ids, 0)
        for (matched,) in rows:
            for rule_id in {int(item[0]) for item in load_json(matched) or ()} & wanted:
                hits[rule_id] += 1
        return hits

    async def get_rule(self, rule_id: int) -> RuleView | None:
        row = (await (await self._conn()).execute(select(rules).where(R.id == rule_id))).mappings().first()
        return _rule(row, (await self._hits([rule_id])).get(rule_id, 0)) if row else None

    async def live_rule_named(self, classification_id: int, db_type: DbEngine, name: str) -> int | None:
        value = (await (await self._conn()).execute(select(R.id).where(
            R.classification_id == classification_id, R.db_type == db_type.value, R.name == name,
            R.deleted_at.is_(None)))).scalar()
        return int(value) if value is not None else None

    async def active_rule_with_fingerprint(self, classification_id: int, db_type: DbEngine,
                                           fingerprint: str) -> int | None:
        value = (await (await self._conn()).execute(select(R.id).where(
            R.classification_id == classification_id, R.db_type == db_type.value, R.fingerprint == fingerprint,
            R.deleted_at.is_(None), R.is_active.is_(True)))).scalar()
        return int(value) if value is not None else None

    async def insert_rule(self, data: NewRule, *, now: datetime) -> RuleView:
        connection = await self._conn()
        values = {"classification_id": data.classification_id, "db_type": data.db_type.value, "name": data.name,
                  "description": data.description, "is_active": data.is_active, "rule_revision": 1,
                  "expression": dict(data.expression), "fingerprint": data.fingerprint,
                  "warnings": _warnings_json(data.warnings), "created_by": data.created_by,
                  "created_by_name": data.created_by_name, "created_at": now, "updated_at": now, "revision": 1}
        try:
            rule_id = int((await connection.execute(insert(rules).values(values).returning(R.id))).scalar_one())
        except IntegrityError as exc:
            raise _translate(exc) from exc
        await connection.execute(insert(rule_revisions).values(
            rule_id=rule_id, rule_revision=1, expression=dict(data.expression), fingerprint=data.fingerprint,
            created_by=data.created_by, created_by_name=data.created_by_name, created_at=now))
        found = await self.get_rule(rule_id)
        assert found is not None
        return found

    async def update_rule(self, rule_id: int, changes: Mapping[str, object], *, new_revision: bool, now: datetime,
                          actor_id: int | None, actor_name: str | None) -> RuleView:
        connection = await self._conn()
        values: dict[str, object] = {k: v for k, v in changes.items() if k != "warnings"}
        if "warnings" in changes:
            values["warnings"] = _warnings_json(changes["warnings"])
        values.update(updated_at=now, revision=R.revision + 1)
        if new_revision:
            values["rule_revision"] = R.rule_revision + 1
        try:
            await connection.execute(update(rules).where(R.id == rule_id).values(values))
        except IntegrityError as exc:
            raise _translate(exc) from exc
        if new_revision:
            current = (await connection.execute(select(R.rule_revision).where(R.id == rule_id))).scalar_one()
            await connection.execute(update(rule_revisions).where(
                RV.rule_id == rule_id, RV.superseded_at.is_(None)).values(superseded_at=now))
            await connection.execute(insert(rule_revisions).values(
                rule_id=rule_id, rule_revision=current, expression=changes["expression"],
                fingerprint=changes["fingerprint"], created_by=actor_id, created_by_name=actor_name,
                created_at=now))
        found = await self.get_rule(rule_id)
        assert found is not None
        return found

    async def soft_delete_rule(self, rule_id: int, *, now: datetime) -> RuleView:
        await (await self._conn()).execute(update(rules).where(R.id == rule_id, R.deleted_at.is_(None)).values(
            deleted_at=now, updated_at=now, revision=R.revision + 1))
        found = await self.get_rule(rule_id)
        assert found is not None
        return found

    async def rule_revisions(self, rule_id: int, page: PageRequest) -> Page[RuleRevisionView]:
        statement = select(rule_revisions).where(RV.rule_id == rule_id)
        items, total = await fetch_page(await self._conn(), statement, page, {"rule_revision": RV.rule_revision},
                                        RV.rule_revision, _revision)
        return make_page(items, total, page)

    async def revision_at(self, rule_id: int, at: datetime) -> RuleRevisionView | None:
        row = (await (await self._conn()).execute(select(rule_revisions).where(
            RV.rule_id == rule_id, RV.created_at <= at, or_(RV.superseded_at.is_(None), RV.superseded_at > at))
            .order_by(RV.rule_revision.desc()))).mappings().first()
        return _revision(row) if row else None

    async def bump_rules_revision(self) -> int:
        connection = await self._conn()
        result = await connection.execute(update(classification_counters).where(
            classification_counters.c.name == RULES_REVISION).values(value=classification_counters.c.value + 1))
        if not result.rowcount:  # the migration seeds the row; a store emptied by hand gets it back here
            await connection.execute(insert(classification_counters).values(name=RULES_REVISION, value=1))
        return await self.rules_revision()

    async def rules_revision(self) -> int:
        value = (await (await self._conn()).execute(select(classification_counters.c.value).where(
            classification_counters.c.name == RULES_REVISION))).scalar()
        return int(value or 0)

    async def active_rules(self, engines: frozenset[DbEngine]) -> list[ActiveRule]:
        statement = (select(R.id, R.classification_id, R.db_type, R.rule_revision, R.expression)
                     .select_from(rules.join(classifications, K.id == R.classification_id))
                     .where(R.is_active.is_(True), R.deleted_at.is_(None), K.is_active.is_(True)).order_by(R.id))
        if engines:
            statement = statement.where(R.db_type.in_(sorted(e.value for e in engines)))
        rows = (await (await self._conn()).execute(statement)).mappings().all()
        return [ActiveRule(id=row["id"], classification_id=row["classification_id"],
                           db_type=DbEngine(row["db_type"]), rule_revision=row["rule_revision"],
                           expression=load_json(row["expression"])) for row in rows]

