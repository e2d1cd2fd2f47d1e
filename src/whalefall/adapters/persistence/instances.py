"""Repositories of the instances context: SqlAlchemyInstanceRepository, …CredentialRepository, …TagRepository."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, insert, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, fetch_page, make_page, translate_unique
from whalefall.adapters.persistence.tables.accounts import principals
from whalefall.adapters.persistence.tables.capacity import instance_databases
from whalefall.adapters.persistence.tables.instances import credentials, instance_tags, instances, tags
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.instances import (
    CredentialQuery,
    CredentialRecord,
    CredentialRef,
    CredentialRepository,
    InstanceQuery,
    InstanceRecord,
    InstanceRepository,
    Pair,
    TagQuery,
    TagRecord,
    TagRef,
    TagRepository,
)
from whalefall.application.ports.security import EncryptedSecret
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import AlreadyExistsError
from whalefall.domain.instances import (
    CredentialId,
    DbEngine,
    DuplicateEndpointError,
    EndpointKey,
    InstanceId,
    InstanceNameTakenError,
    TagId,
)

_INSTANCE_SORT = {
    "name": instances.c.name, "db_type": instances.c.db_type, "host": instances.c.host,
    "created_at": instances.c.created_at, "last_success_at": instances.c.last_success_at,
    "last_accounts_sync_at": instances.c.accounts_synced_at,
}
_INSTANCE_UNIQUE = {"uq_instances_live_name": InstanceNameTakenError,
                    "uq_instances_live_endpoint": DuplicateEndpointError}


def _endpoint_database(values: Mapping[str, object], current: Mapping[Any, Any] | None = None) -> str:
    db_type = values.get("db_type", current["db_type"] if current else None)
    database = values.get("database_name", current["database_name"] if current else None)
    return str(database or "").upper() if db_type == DbEngine.ORACLE.value else ""


class SqlAlchemyInstanceRepository(InstanceRepository):
    """Instances with their tag refs and credential ref loaded in batched queries (no per-row queries)."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, values: Mapping[str, object], *, at: datetime, by: int | None) -> InstanceId:
        row = {**values, "endpoint_database": _endpoint_database(values), "created_at": at, "updated_at": at,
               "created_by": by, "updated_by": by, "revision": 1}
        connection = await self._conn()
        try:
            result = await connection.execute(insert(instances).values(row).returning(instances.c.id))
        except IntegrityError as exc:
            raise (translate_unique(exc, _INSTANCE_UNIQUE) or exc) from exc
        return InstanceId(int(result.scalar_one()))

    async def get(self, instance_id: InstanceId, *, for_update: bool = False) -> InstanceRecord | None:
        statement = self._select().where(instances.c.id == instance_id)
        if for_update:
            statement = statement.with_for_update(of=instances)
        records = await self._records(statement)
        return records[0] if records else None

    async def update(self, instance_id: InstanceId, values: Mapping[str, object], *, at: datetime,
                     by: int | None) -> None:
        connection = await self._conn()
        row = dict(values)
        if "db_type" in values or "database_name" in values:
            current = (await connection.execute(select(instances.c.db_type, instances.c.database_name).where(
                instances.c.id == instance_id))).mappings().one()
            row["endpoint_database"] = _endpoint_database(values, current)
        row.update(updated_at=at, updated_by=by, revision=instances.c.revision + 1)
        try:
            await connection.execute(update(instances).where(instances.c.id == instance_id).values(row))
        except IntegrityError as exc:
            raise (translate_unique(exc, _INSTANCE_UNIQUE) or exc) from exc

    async def list_page(self, query: InstanceQuery, page: PageRequest) -> Page[InstanceRecord]:
        statement = select(instances.c.id).where(*self._filters(query))
        ids, total = await fetch_page(await self._conn(), statement.add_columns(*_INSTANCE_SORT.values()), page,
                                      _INSTANCE_SORT, instances.c.id, lambda row: int(row["id"]))
        by_id = {r.id: r for r in await self._records(self._select().where(instances.c.id.in_(ids)))}
        return make_page([by_id[InstanceId(i)] for i in ids], total, page)

    async def all_for_export(self, query: InstanceQuery) -> Sequence[InstanceRecord]:
        return await self._records(self._select().where(*self._filters(query)).order_by(instances.c.name,
                                                                                        instances.c.id))

    async def name_taken(self, name: str, *, exclude: InstanceId | None = None) -> bool:
        condition = and_(func.lower(instances.c.name) == name.lower(), instances.c.deleted_at.is_(None))
        return await self._exists(condition, exclude)

    async def endpoint_taken(self, key: EndpointKey, *, exclude: InstanceId | None = None) -> bool:
        condition = and_(instances.c.db_type == key.db_type.value, func.lower(instances.c.host) == key.host,
                         instances.c.port == key.port, instances.c.endpoint_database == key.database,
                         instances.c.deleted_at.is_(None))
        return await self._exists(condition, exclude)

    async def replace_tags(self, instance_id: InstanceId, tag_ids: Sequence[TagId], *, at: datetime,
                           by: int | None) -> None:
        connection = await self._conn()
        await connection.execute(delete(instance_tags).where(instance_tags.c.instance_id == instance_id))
        if tag_ids:
            await connection.execute(insert(instance_tags), [
                {"instance_id": instance_id, "tag_id": tag_id, "created_at": at, "created_by": by}
                for tag_id in tag_ids])

    async def purge(self, instance_id: InstanceId) -> None:
        await (await self._conn()).execute(delete(instances).where(instances.c.id == instance_id))

    async def _exists(self, condition: Any, exclude: InstanceId | None) -> bool:
        if exclude is not None:
            condition = and_(condition, instances.c.id != exclude)
        return bool((await (await self._conn()).execute(select(exists().where(condition)))).scalar())

    @staticmethod
    def _select() -> Any:
        return select(instances, credentials.c.name.label("credential_name")).select_from(
            instances.outerjoin(credentials, credentials.c.id == instances.c.credential_id))

    @staticmethod
    def _filters(query: InstanceQuery) -> list[Any]:
        conditions: list[Any] = []
        if query.status == "deleted":
            conditions.append(instances.c.deleted_at.is_not(None))
        else:
            conditions.append(instances.c.deleted_at.is_(None))
            if query.status == "active":
                conditions.append(instances.c.is_active.is_(true()))
            elif query.status == "inactive":
                conditions.append(instances.c.is_active.is_(False))
        if query.q:
            conditions.append(contains_ci([instances.c.name, instances.c.host, instances.c.description], query.q))
        if query.db_types:
            conditions.append(instances.c.db_type.in_([d.value for d in query.db_types]))
        if query.flavors:
            conditions.append(instances.c.flavor.in_(sorted(query.flavors)))
        if query.credential_id is not None:
            conditions.append(instances.c.credential_id == query.credential_id)
        if query.connection == "never":
            conditions.append(instances.c.last_contact_at.is_(None))
        elif query.connection in ("ok", "failed"):
            conditions.append(instances.c.last_contact_at.is_not(None))
            conditions.append(instances.c.last_contact_ok.is_(query.connection == "ok"))
        linked = instance_tags.join(tags, tags.c.id == instance_tags.c.tag_id)

        def has_tag(names: list[str]) -> Any:
            return exists(select(1).select_from(linked).where(
                instance_tags.c.instance_id == instances.c.id, func.lower(tags.c.name).in_(names)))

        if query.tags_any:
            conditions.append(has_tag(sorted(n.lower() for n in query.tags_any)))
        conditions.extend(has_tag([name.lower()]) for name in sorted(query.tags_all))
        return conditions

    async def _records(self, statement: Any) -> list[InstanceRecord]:
        connection = await self._conn()
        rows = (await connection.execute(statement)).mappings().all()
        ids = [row["id"] for row in rows]
        tag_map: dict[int, list[TagRef]] = defaultdict(list)
        if ids:
            tag_rows = (await connection.execute(
                select(instance_tags.c.instance_id, tags.c.id, tags.c.name, tags.c.display_name, tags.c.category)
                .select_from(instance_tags.join(tags, tags.c.id == instance_tags.c.tag_id))
                .where(instance_tags.c.instance_id.in_(ids)).order_by(tags.c.name))).all()
            for instance_id, tag_id, name, display_name, category in tag_rows:
                tag_map[instance_id].append(TagRef(TagId(tag_id), name, display_name, category))
        account_counts: dict[int, int] = {}
        if ids:
            account_counts = {int(i): int(n) for i, n in (await connection.execute(
                select(principals.c.instance_id, func.count()).where(
                    principals.c.instance_id.in_(ids), principals.c.is_account.is_(True),
                    principals.c.active.is_(True)).group_by(principals.c.instance_id))).all()}
        database_counts: dict[int, int] = {}
        if ids:
            database_counts = {int(i): int(n) for i, n in (await connection.execute(
                select(instance_databases.c.instance_id, func.count()).where(
                    instance_databases.c.instance_id.in_(ids), instance_databases.c.status == "active")
                .group_by(instance_databases.c.instance_id))).all()}
        return [_instance_record(row, tuple(tag_map[row["id"]]), account_counts.get(row["id"], 0),
                                 database_counts.get(row["id"], 0)) for row in rows]


def _instance_record(row: Mapping[Any, Any], tag_refs: tuple[TagRef, ...], account_count: int = 0,
                     database_count: int = 0) -> InstanceRecord:
    credential = (CredentialRef(CredentialId(row["credential_id"]), row["credential_name"])
                  if row["credential_id"] is not None else None)
    return InstanceRecord(
        id=InstanceId(row["id"]), name=row["name"], db_type=DbEngine(row["db_type"]), flavor=row["flavor"],
        host=row["host"], port=row["port"], database_name=row["database_name"], description=row["description"],
        is_active=row["is_active"], credential=credential, tags=tag_refs,
        capacity_limit_bytes=row["capacity_limit_bytes"], collect_table_sizes=row["collect_table_sizes"],
        version=row["version"], version_major=row["version_major"], version_minor=row["version_minor"],
        edition=row["edition"], version_raw=row["version_raw"], last_contact_at=row["last_contact_at"],
        last_contact_ok=row["last_contact_ok"], last_contact_error_code=row["last_contact_error_code"],
        last_success_at=row["last_success_at"], accounts_synced_at=row["accounts_synced_at"],
        last_capacity_collected_on=row["last_capacity_collected_on"],
        # account_count: active account rows of the grant ledger; database_count: active rows of the databases
        # ledger (instance_databases).
        account_count=account_count, database_count=database_count,
        created_at=row["created_at"], updated_at=row["updated_at"], deleted_at=row["deleted_at"],
        revision=row["revision"],
    )


_CREDENTIAL_SORT = {"name": credentials.c.name, "created_at": credentials.c.created_at,
                    "secret_updated_at": credentials.c.secret_updated_at}


class SqlAlchemyCredentialRepository(CredentialRepository):
    """Credentials; the ciphertext column is only selected by `get_secret`."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, values: Mapping[str, object], *, at: datetime, by: int | None) -> CredentialId:
        row = {**values, "secret_ciphertext": b"", "key_id": "", "secret_updated_at": at, "created_at": at,
               "updated_at": at, "created_by": by, "updated_by": by, "revision": 1}
        try:
            result = await (await self._conn()).execute(insert(credentials).values(row).returning(credentials.c.id))
        except IntegrityError as exc:
            error = translate_unique(exc, {"uq_credentials_name_lower": lambda: AlreadyExistsError("body.name")})
            raise (error or exc) from exc
        return CredentialId(int(result.scalar_one()))

    async def set_secret(self, credential_id: CredentialId, secret: EncryptedSecret, *, at: datetime) -> None:
        await (await self._conn()).execute(update(credentials).where(credentials.c.id == credential_id).values(
            secret_ciphertext=secret.blob, key_id=secret.key_id, secret_updated_at=at))

    async def get(self, credential_id: CredentialId) -> CredentialRecord | None:
        rows = await self._records(self._select().where(credentials.c.id == credential_id))
        return rows[0] if rows else None

    async def find_by_name(self, name: str) -> CredentialRecord | None:
        rows = await self._records(self._select().where(func.lower(credentials.c.name) == name.lower()))
        return rows[0] if rows else None

    async def get_secret(self, credential_id: CredentialId) -> EncryptedSecret | None:
        row = (await (await self._conn()).execute(select(credentials.c.key_id, credentials.c.secret_ciphertext)
                                                  .where(credentials.c.id == credential_id))).first()
        return EncryptedSecret(row[0], bytes(row[1])) if row is not None and row[1] else None

    async def update(self, credential_id: CredentialId, values: Mapping[str, object], *, at: datetime,
                     by: int | None) -> None:
        try:
            await (await self._conn()).execute(update(credentials).where(credentials.c.id == credential_id).values(
                {**values, "updated_at": at, "updated_by": by, "revision": credentials.c.revision + 1}))
        except IntegrityError as exc:
            error = translate_unique(exc, {"uq_credentials_name_lower": lambda: AlreadyExistsError("body.name")})
            raise (error or exc) from exc

    async def delete(self, credential_id: CredentialId) -> None:
        await (await self._conn()).execute(delete(credentials).where(credentials.c.id == credential_id))

    async def list_page(self, query: CredentialQuery, page: PageRequest) -> Page[CredentialRecord]:
        conditions: list[Any] = []
        if query.q:
            conditions.append(contains_ci([credentials.c.name, credentials.c.username, credentials.c.description],
                                          query.q))
        if query.db_types:
            conditions.append(credentials.c.db_type.in_([d.value for d in query.db_types]))
        if query.auth_method:
            conditions.append(credentials.c.auth_method == query.auth_method)
        if query.key_id:
            conditions.append(credentials.c.key_id == query.key_id)
        if query.in_use is not None:
            used = exists().where(instances.c.credential_id == credentials.c.id)
            conditions.append(used if query.in_use else ~used)
        statement = self._select().where(*conditions)
        rows, total = await fetch_page(await self._conn(), statement, page, _CREDENTIAL_SORT, credentials.c.id,
                                       _credential_record)
        return make_page(rows, total, page)

    async def name_taken(self, name: str, *, exclude: CredentialId | None = None) -> bool:
        condition = func.lower(credentials.c.name) == name.lower()
        if exclude is not None:
            condition = and_(condition, credentials.c.id != exclude)
        return bool((await (await self._conn()).execute(select(exists().where(condition)))).scalar())

    async def referencing_instances(self, credential_id: CredentialId) -> list[int]:
        rows = await (await self._conn()).execute(select(instances.c.id).where(
            instances.c.credential_id == credential_id).order_by(instances.c.id))
        return [int(r[0]) for r in rows]

    async def key_usage(self) -> dict[str, int]:
        rows = await (await self._conn()).execute(select(credentials.c.key_id, func.count()).group_by(
            credentials.c.key_id))
        return {str(k): int(n) for k, n in rows}

    async def ids_not_encrypted_with(self, key_id: str, *, limit: int) -> list[CredentialId]:
        rows = await (await self._conn()).execute(select(credentials.c.id).where(
            credentials.c.key_id != key_id).order_by(credentials.c.id).limit(limit))
        return [CredentialId(int(r[0])) for r in rows]

    @staticmethod
    def _select() -> Any:
        usage = (select(func.count()).where(instances.c.credential_id == credentials.c.id)
                 .correlate(credentials).scalar_subquery())
        columns = [c for c in credentials.c if c.name != "secret_ciphertext"]
        has_secret = func.length(credentials.c.secret_ciphertext) > 0
        return select(*columns, usage.label("instance_count"), has_secret.label("has_secret"))

    async def _records(self, statement: Any) -> list[CredentialRecord]:
        rows = (await (await self._conn()).execute(statement)).mappings().all()
        return [_credential_record(row) for row in rows]


def _credential_record(row: Mapping[Any, Any]) -> CredentialRecord:
    return CredentialRecord(
        id=CredentialId(row["id"]), name=row["name"], username=row["username"],
        db_type=DbEngine(row["db_type"]) if row["db_type"] else None, auth_method=row["auth_method"],
        description=row["description"], has_secret=bool(row["has_secret"]), key_id=row["key_id"],
        secret_updated_at=row["secret_updated_at"], instance_count=int(row["instance_count"]),
        created_at=row["created_at"], updated_at=row["updated_at"], revision=row["revision"])


class SqlAlchemyTagRepository(TagRepository):
    """Tags and links; bulk link writes are set-based (INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING)."""

    _SORT = {"name": tags.c.name, "category": tags.c.category, "created_at": tags.c.created_at}

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def add(self, values: Mapping[str, object], *, at: datetime) -> TagId:
        try:
            result = await (await self._conn()).execute(insert(tags).values(
                {**values, "created_at": at, "updated_at": at, "revision": 1}).returning(tags.c.id))
        except IntegrityError as exc:
            raise (translate_unique(exc, {"uq_tags_name_lower": lambda: AlreadyExistsError("body.name")})
                   or exc) from exc
        return TagId(int(result.scalar_one()))

    async def get(self, tag_id: TagId) -> TagRecord | None:
        rows = await self._records(self._select().where(tags.c.id == tag_id))
        return rows[0] if rows else None

    async def update(self, tag_id: TagId, values: Mapping[str, object], *, at: datetime) -> None:
        try:
            await (await self._conn()).execute(update(tags).where(tags.c.id == tag_id).values(
                {**values, "updated_at": at, "revision": tags.c.revision + 1}))
        except IntegrityError as exc:
            raise (translate_unique(exc, {"uq_tags_name_lower": lambda: AlreadyExistsError("body.name")})
                   or exc) from exc

    async def delete(self, tag_id: TagId) -> None:
        await (await self._conn()).execute(delete(tags).where(tags.c.id == tag_id))

    async def list_page(self, query: TagQuery, page: PageRequest) -> Page[TagRecord]:
        conditions: list[Any] = []
        if query.q:
            conditions.append(contains_ci([tags.c.name, tags.c.display_name, tags.c.description], query.q))
        if query.categories:
            conditions.append(tags.c.category.in_(sorted(c.lower() for c in query.categories)))
        if query.is_active is not None:
            conditions.append(tags.c.is_active.is_(query.is_active))
        statement = self._select().where(*conditions)
        sort = {**self._SORT, "instance_count": statement.selected_columns.instance_count}
        rows, total = await fetch_page(await self._conn(), statement, page, sort, tags.c.id, _tag_record)
        return make_page(rows, total, page)

    async def categories(self, page: PageRequest) -> Page[tuple[str, int]]:
        statement = select(tags.c.category, func.count().label("tag_count")).group_by(tags.c.category)
        rows, total = await fetch_page(await self._conn(), statement, page, {"category": tags.c.category},
                                       tags.c.category, lambda row: (str(row["category"]), int(row["tag_count"])))
        return make_page(rows, total, page)

    async def name_taken(self, name: str, *, exclude: TagId | None = None) -> bool:
        condition = func.lower(tags.c.name) == name.lower()
        if exclude is not None:
            condition = and_(condition, tags.c.id != exclude)
        return bool((await (await self._conn()).execute(select(exists().where(condition)))).scalar())

    async def find_by_names(self, names: Sequence[str]) -> dict[str, TagRecord]:
        rows = await self._records(self._select().where(func.lower(tags.c.name).in_([n.lower() for n in names])))
        return {record.name.lower(): record for record in rows}

    async def existing_ids(self, tag_ids: Sequence[TagId]) -> set[TagId]:
        rows = await (await self._conn()).execute(select(tags.c.id).where(tags.c.id.in_(list(tag_ids))))
        return {TagId(int(r[0])) for r in rows}

    async def live_instance_ids(self, instance_ids: Sequence[InstanceId]) -> set[InstanceId]:
        rows = await (await self._conn()).execute(select(instances.c.id).where(
            instances.c.id.in_(list(instance_ids)), instances.c.deleted_at.is_(None)))
        return {InstanceId(int(r[0])) for r in rows}

    async def link_count(self, tag_id: TagId) -> int:
        return int((await (await self._conn()).execute(select(func.count()).where(
            instance_tags.c.tag_id == tag_id))).scalar_one())

    async def unlink_all(self, tag_id: TagId) -> int:
        result = await (await self._conn()).execute(delete(instance_tags).where(instance_tags.c.tag_id == tag_id))
        return int(result.rowcount)

    async def link_missing(self, pairs: Sequence[Pair], *, at: datetime, by: int | None) -> set[Pair]:
        connection = await self._conn()
        dialect = connection.dialect.name
        inserted: set[Pair] = set()
        for start in range(0, len(pairs), 1000):
            batch = pairs[start:start + 1000]
            rows = [{"instance_id": i, "tag_id": t, "created_at": at, "created_by": by} for i, t in batch]
            if dialect == "postgresql":
                from sqlalchemy.dialects.postgresql import insert as upsert
            else:
                from sqlalchemy.dialects.sqlite import insert as upsert  # type: ignore[assignment]
            statement = upsert(instance_tags).values(rows).on_conflict_do_nothing().returning(
                instance_tags.c.instance_id, instance_tags.c.tag_id)
            result = await connection.execute(statement)
            inserted.update((InstanceId(int(i)), TagId(int(t))) for i, t in result)
        return inserted

    async def unlink(self, pairs: Sequence[Pair]) -> set[Pair]:
        connection = await self._conn()
        removed: set[Pair] = set()
        by_instance: dict[InstanceId, list[TagId]] = defaultdict(list)
        for instance_id, tag_id in pairs:
            by_instance[instance_id].append(tag_id)
        for instance_id, tag_ids in by_instance.items():
            result = await connection.execute(delete(instance_tags).where(
                instance_tags.c.instance_id == instance_id, instance_tags.c.tag_id.in_(tag_ids)).returning(
                instance_tags.c.instance_id, instance_tags.c.tag_id))
            removed.update((InstanceId(int(i)), TagId(int(t))) for i, t in result)
        return removed

    async def clear(self, instance_ids: Sequence[InstanceId]) -> dict[InstanceId, int]:
        if not instance_ids:
            return {}
        result = await (await self._conn()).execute(delete(instance_tags).where(
            instance_tags.c.instance_id.in_(list(instance_ids))).returning(instance_tags.c.instance_id))
        counts: dict[InstanceId, int] = defaultdict(int)
        for (instance_id,) in result:
            counts[InstanceId(int(instance_id))] += 1
        return dict(counts)

    @staticmethod
    def _select() -> Any:
        count = (select(func.count()).where(instance_tags.c.tag_id == tags.c.id).correlate(tags).scalar_subquery())
        return select(tags, count.label("instance_count"))

    async def _records(self, statement: Any) -> list[TagRecord]:
        rows = (await (await self._conn()).execute(statement)).mappings().all()
        return [_tag_record(row) for row in rows]


def _tag_record(row: Mapping[Any, Any]) -> TagRecord:
    return TagRecord(id=TagId(row["id"]), name=row["name"], display_name=row["display_name"],
                     category=row["category"], description=row["description"], is_active=row["is_active"],
                     instance_count=int(row["instance_count"]), created_at=row["created_at"],
                     updated_at=row["updated_at"], revision=row["revision"])
