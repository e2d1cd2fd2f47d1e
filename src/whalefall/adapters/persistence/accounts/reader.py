"""SqlAlchemyLedgerReader: account lists, open grants, state versions, intervals and the change log (accounts.md §6.2).

`last_sync_at_or_before(T)`: the store keeps only the latest successful sync time per instance; for an earlier T the
answer is the latest change observed at or before T (a sync that happened then), a lower bound of the true value.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence._sql import contains_ci, fetch_page, make_page, order_by
from whalefall.adapters.persistence.accounts._rows import chunks, decode_object, ref_of
from whalefall.adapters.persistence.tables.accounts import (
    grant_intervals,
    instance_account_sync_state,
    membership_intervals,
    principal_changes,
    principal_state_versions,
    principals,
    snapshot_settings,
)
from whalefall.adapters.persistence.tables.classification import (
    classification_assignments,
    classification_errors,
    classifications,
)
from whalefall.adapters.persistence.tables.instances import instance_tags, instances, tags
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.accounts import (
    AccountClassification,
    AccountClassificationError,
    AccountLedgerReader,
    AccountQuery,
    AccountView,
    ChangeExportRow,
    ChangeQuery,
    ChangeView,
    GapView,
    GrantView,
    HolderQuery,
    InstanceBrief,
    MembershipView,
    StateAtInstant,
    StateVersionView,
)
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.accounts.model import AttrValue, PrincipalKind, PrincipalRef
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope

P = principals.c
V = principal_state_versions.c
G = grant_intervals.c
M = membership_intervals.c
C = principal_changes.c
A = classification_assignments.c
ACCOUNT_SORT: Mapping[str, ColumnElement[Any]] = {
    "key": P.key, "instance_name": instances.c.name, "first_seen_at": P.first_seen_at,
    "last_changed_at": P.last_changed_at,
}
CHANGE_SORT: Mapping[str, ColumnElement[Any]] = {"observed_at": C.observed_at}


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _covering(valid_from: Any, valid_to: Any, at: datetime) -> ColumnElement[bool]:
    return and_(valid_from <= at, or_(valid_to.is_(None), valid_to > at))


def _account_select() -> Any:
    return (select(P.id, P.kind, P.namespace, P.key, P.is_account, P.active, P.login_capable, P.locked, P.superuser,
                   P.password_expired, P.grants_stale, P.attributes, P.roles, P.first_seen_at, P.deactivated_at,
                   P.deactivation_reason, P.last_changed_at, P.instance_id, instances.c.name.label("instance_name"),
                   instances.c.db_type, instances.c.flavor, instances.c.accounts_synced_at,
                   instance_account_sync_state.c.coverage_gaps)
            .select_from(principals.join(instances, instances.c.id == P.instance_id).outerjoin(
                instance_account_sync_state, instance_account_sync_state.c.instance_id == P.instance_id))
            .where(instances.c.deleted_at.is_(None)))


def _account(row: Mapping[Any, Any]) -> AccountView:
    gaps = _json(row["coverage_gaps"]) or []
    return AccountView(
        id=row["id"], instance=InstanceBrief(row["instance_id"], row["instance_name"], DbEngine(row["db_type"])),
        flavor=row["flavor"], kind=PrincipalKind(row["kind"]), namespace=row["namespace"], key=row["key"],
        is_account=row["is_account"], is_active=row["active"], login_capable=row["login_capable"],
        is_locked=row["locked"], is_superuser=row["superuser"], password_expired=row["password_expired"],
        attributes=_json(row["attributes"]) or {}, roles=tuple(_json(row["roles"]) or ()),
        first_seen_at=row["first_seen_at"], deactivated_at=row["deactivated_at"],
        deactivation_reason=row["deactivation_reason"], last_changed_at=row["last_changed_at"],
        last_synced_at=row["accounts_synced_at"] if row["active"] else None, grants_stale=row["grants_stale"],
        coverage_gaps=tuple(GapView(database=g["database"], reason=g["reason"],
                                    stale_since=datetime.fromisoformat(g["stale_since"].replace("Z", "+00:00"))
                                    if g.get("stale_since") else None) for g in gaps),
    )


def _grant(row: Any) -> GrantView:
    return GrantView(principal_id=row.principal_id, privilege=row.privilege, scope=row.scope,
                     object=decode_object(row.object), object_path=row.object_path, object_kind=row.object_kind,
                     effect=row.effect, grant_option=row.grant_option, implicit=row.implicit, pattern=row.pattern,
                     grantor=row.grantor, valid_from=row.valid_from, valid_to=row.valid_to)


def _version(row: Any) -> StateVersionView:
    return StateVersionView(id=row.id, principal_id=row.principal_id, state=_json(row.state),
                            state_hash=row.state_hash, valid_from=row.valid_from, valid_to=row.valid_to)


def _change(row: Any) -> ChangeView:
    return ChangeView(id=row.id, instance_id=row.instance_id, account_id=row.principal_id, type=row.type,
                      observed_at=row.observed_at, record_id=row.sync_record_id, session_id=row.session_id,
                      diff_version=row.diff_version, diff=_json(row.diff), summary=row.summary)


class SqlAlchemyLedgerReader(AccountLedgerReader):
    """Read queries of the ledger over the request's unit of work; every list is one or two statements."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def list_accounts(self, query: AccountQuery, page: PageRequest) -> Page[AccountView]:
        statement = _account_select().where(P.is_account.is_(True), *self._account_filters(query))
        items, total = await fetch_page(await self._conn(), statement, page, ACCOUNT_SORT, P.id, _account)
        return make_page(await self._decorate(items), total, page)

    async def export_accounts(self, query: AccountQuery, page: PageRequest) -> list[AccountView]:
        statement = order_by(_account_select().where(P.is_account.is_(True), *self._account_filters(query)),
                             page, ACCOUNT_SORT, P.id)
        rows = (await (await self._conn()).execute(statement)).mappings().all()
        return await self._decorate([_account(row) for row in rows])

    async def _decorate(self, accounts: list[AccountView]) -> list[AccountView]:
        """Attach classifications, classification errors and instance tag names (three queries per chunk)."""
        if not accounts:
            return accounts
        connection = await self._conn()
        assigned: dict[int, list[AccountClassification]] = {}
        errors: dict[int, list[AccountClassificationError]] = {}
        for part in chunks(sorted({a.id for a in accounts})):
            for row in (await connection.execute(
                    select(A.account_id, A.classification_id, A.is_primary, A.source, classifications.c.code,
                           classifications.c.display_name)
                    .select_from(classification_assignments.join(classifications,
                                                                 classifications.c.id == A.classification_id))
                    .where(A.account_id.in_(part))
                    .order_by(A.account_id, A.is_primary.desc(), classifications.c.code, A.source))).all():
                assigned.setdefault(row.account_id, []).append(AccountClassification(
                    id=row.classification_id, code=row.code, display_name=row.display_name,
                    is_primary=bool(row.is_primary), source=row.source))
            e = classification_errors.c
            for row in (await connection.execute(select(e.account_id, e.rule_id, e.rule_revision, e.code, e.path,
                                                        e.message).where(e.account_id.in_(part))
                                                 .order_by(e.account_id, e.id))).all():
                errors.setdefault(row.account_id, []).append(AccountClassificationError(
                    rule_id=row.rule_id, rule_revision=row.rule_revision, code=row.code, path=row.path,
                    message=row.message))
        names: dict[int, list[str]] = {}
        for part in chunks(sorted({a.instance.id for a in accounts})):
            for instance_id, name in (await connection.execute(
                    select(instance_tags.c.instance_id, tags.c.name)
                    .select_from(instance_tags.join(tags, tags.c.id == instance_tags.c.tag_id))
                    .where(instance_tags.c.instance_id.in_(part)).order_by(tags.c.name))).all():
                names.setdefault(int(instance_id), []).append(str(name))
        return [replace(a, classifications=tuple(assigned.get(a.id, ())),
                        classification_errors=tuple(errors.get(a.id, ())),
                        instance_tags=tuple(names.get(a.instance.id, ()))) for a in accounts]

    @staticmethod
    def _account_filters(query: AccountQuery) -> list[Any]:
        conditions: list[Any] = []
        if not query.include_inactive:
            conditions.append(P.active.is_(True))
        if query.instance_ids:
            conditions.append(P.instance_id.in_(sorted(query.instance_ids)))
        if query.db_types:
            conditions.append(instances.c.db_type.in_(sorted(d.value for d in query.db_types)))
        if query.kinds:
            conditions.append(P.kind.in_(sorted(k.value for k in query.kinds)))
        if query.q:
            conditions.append(contains_ci([P.key], query.q))
        for column, wanted in ((P.locked, query.is_locked), (P.superuser, query.is_superuser),
                               (P.login_capable, query.login_capable)):
            if wanted is not None:
                conditions.append(column.is_(wanted))
        if query.changed_since is not None:
            conditions.append(P.last_changed_at >= query.changed_since)
        if query.grants_stale is not None:
            conditions.append(P.grants_stale.is_(query.grants_stale))
        if query.classification_ids:
            conditions.append(exists(select(1).where(
                A.account_id == P.id, A.classification_id.in_(sorted(query.classification_ids)))))
        if query.unclassified is not None:
            classified = exists(select(1).where(A.account_id == P.id))
            conditions.append(~classified if query.unclassified else classified)
        linked = instance_tags.join(tags, tags.c.id == instance_tags.c.tag_id)

        def has_tag(names: list[str]) -> Any:
            return exists(select(1).select_from(linked).where(instance_tags.c.instance_id == P.instance_id,
                                                              func.lower(tags.c.name).in_(names)))

        if query.tags_any:
            conditions.append(has_tag(sorted(n.lower() for n in query.tags_any)))
        conditions.extend(has_tag([name.lower()]) for name in sorted(query.tags_all))
        return conditions

    async def get_account(self, account_id: int) -> AccountView | None:
        row = (await (await self._conn()).execute(_account_select().where(P.id == account_id))).mappings().first()
        return None if row is None else (await self._decorate([_account(row)]))[0]

    async def accounts_by_ids(self, account_ids: Sequence[int]) -> dict[int, AccountView]:
        found: dict[int, AccountView] = {}
        for part in chunks(sorted(set(account_ids))):
            rows = (await (await self._conn()).execute(_account_select().where(P.id.in_(part)))).mappings()
            found.update({row["id"]: _account(row) for row in rows})
        return {a.id: a for a in await self._decorate(list(found.values()))}

    async def grants_at(self, account_id: int, at: datetime | None = None) -> list[GrantView]:
        when = G.valid_to.is_(None) if at is None else _covering(G.valid_from, G.valid_to, at)
        rows = (await (await self._conn()).execute(select(grant_intervals).where(
            G.principal_id == account_id, when))).all()
        return sorted((_grant(r) for r in rows),
                      key=lambda g: (Scope(g.scope).order, g.object, g.privilege, g.effect))

    async def memberships_at(self, account_id: int, at: datetime | None = None) -> list[MembershipView]:
        when = M.valid_to.is_(None) if at is None else _covering(M.valid_from, M.valid_to, at)
        rows = (await (await self._conn()).execute(select(membership_intervals).where(
            M.member_id == account_id, when).order_by(M.role_namespace, M.role_key))).all()
        return [MembershipView(role=PrincipalRef.of(PrincipalKind(r.role_kind), r.role_key, r.role_namespace),
                               admin_option=r.admin_option, inherit=r.inherit, set=r.set_option,
                               default=r.default_role, delegate_option=r.delegate_option, implicit=r.implicit,
                               valid_from=r.valid_from) for r in rows]

    async def version_at(self, account_id: int, at: datetime) -> StateVersionView | None:
        row = (await (await self._conn()).execute(select(principal_state_versions).where(
            V.principal_id == account_id, _covering(V.valid_from, V.valid_to, at)))).first()
        return None if row is None else _version(row)

    async def versions(self, account_id: int, page: PageRequest) -> Page[StateVersionView]:
        statement = select(principal_state_versions).where(V.principal_id == account_id)
        items, total = await fetch_page(await self._conn(), statement, page, {"valid_from": V.valid_from}, V.id,
                                        _version)
        return make_page(items, total, page)

    async def first_observed_at(self, instance_id: int) -> datetime | None:
        value = (await (await self._conn()).execute(select(func.min(P.first_seen_at)).where(
            P.instance_id == instance_id))).scalar()
        return value if isinstance(value, datetime) else None

    async def last_sync_at_or_before(self, instance_id: int, at: datetime) -> datetime | None:
        connection = await self._conn()
        latest = (await connection.execute(select(instances.c.accounts_synced_at).where(
            instances.c.id == instance_id))).scalar()
        if isinstance(latest, datetime) and latest <= at:
            return latest
        value = (await connection.execute(select(func.max(C.observed_at)).where(
            C.instance_id == instance_id, C.observed_at <= at))).scalar()
        return value if isinstance(value, datetime) else None

    async def states_at(self, instance_id: int, at: datetime) -> StateAtInstant | None:
        connection = await self._conn()
        instance = (await connection.execute(select(instances.c.db_type, instances.c.flavor).where(
            instances.c.id == instance_id))).first()
        if instance is None:
            return None
        settings = (await connection.execute(select(snapshot_settings.c.settings).where(
            snapshot_settings.c.instance_id == instance_id,
            _covering(snapshot_settings.c.valid_from, snapshot_settings.c.valid_to, at)))).scalar()
        rows = (await connection.execute(
            select(P.id, P.kind, P.namespace, P.key, P.is_account, V.state)
            .select_from(principal_state_versions.join(principals, principals.c.id == V.principal_id))
            .where(V.instance_id == instance_id, _covering(V.valid_from, V.valid_to, at)))).mappings().all()
        settings_map: dict[str, AttrValue] = dict(_json(settings) or {})
        return StateAtInstant(engine=DbEngine(instance.db_type), flavor=instance.flavor, settings=settings_map,
                              states=[(r["id"], ref_of(r), r["is_account"], _json(r["state"])) for r in rows])

    async def changes(self, query: ChangeQuery, page: PageRequest) -> Page[ChangeView]:
        statement = self._changes_statement(select(principal_changes), query)
        items, total = await fetch_page(await self._conn(), statement, page, CHANGE_SORT, C.id, _change)
        return make_page(items, total, page)

    async def export_changes(self, query: ChangeQuery) -> list[ChangeExportRow]:
        statement = self._changes_statement(select(principal_changes, instances.c.name.label("instance_name"),
                                                   instances.c.db_type, P.namespace, P.key), query)
        order = C.observed_at.desc() if query.descending else C.observed_at.asc()
        rows = (await (await self._conn()).execute(statement.order_by(order, C.id))).all()
        return [ChangeExportRow(change=_change(r), instance_name=r.instance_name, db_type=DbEngine(r.db_type),
                                namespace=r.namespace, key=r.key) for r in rows]

    @staticmethod
    def _changes_statement(base: Any, query: ChangeQuery) -> Any:
        statement = (base.select_from(principal_changes.join(principals, P.id == C.principal_id)
                                      .join(instances, instances.c.id == C.instance_id))
                     .where(C.observed_at > query.since, C.observed_at <= query.until))
        if query.instance_ids:
            statement = statement.where(C.instance_id.in_(sorted(query.instance_ids)))
        if query.account_ids:
            statement = statement.where(C.principal_id.in_(sorted(query.account_ids)))
        if query.db_types:
            statement = statement.where(instances.c.db_type.in_(sorted(d.value for d in query.db_types)))
        if query.types:
            statement = statement.where(C.type.in_(sorted(query.types)))
        if query.session_id:
            statement = statement.where(C.session_id == query.session_id)
        if query.q:
            statement = statement.where(contains_ci([P.key], query.q))
        return statement

    async def change(self, change_id: int) -> ChangeView | None:
        row = (await (await self._conn()).execute(select(principal_changes).where(C.id == change_id))).first()
        return None if row is None else _change(row)

    async def changes_of(self, account_id: int, since: datetime, until: datetime | None) -> list[ChangeView]:
        statement = select(principal_changes).where(C.principal_id == account_id, C.observed_at >= since)
        if until is not None:
            statement = statement.where(C.observed_at < until)
        rows = (await (await self._conn()).execute(statement.order_by(C.observed_at, C.id))).all()
        return [_change(r) for r in rows]

    async def holders(self, query: HolderQuery) -> list[GrantView]:
        statement = (select(grant_intervals)
                     .select_from(grant_intervals.join(instances, instances.c.id == G.instance_id))
                     .where(G.privilege == query.privilege, G.scope == query.scope,
                            _covering(G.valid_from, G.valid_to, query.at), instances.c.deleted_at.is_(None)))
        if query.object_path is not None:
            statement = statement.where(G.object_path == query.object_path)
        if query.instance_ids:
            statement = statement.where(G.instance_id.in_(sorted(query.instance_ids)))
        rows = (await (await self._conn()).execute(statement.order_by(G.instance_id, G.principal_id, G.id))).all()
        return [_grant(r) for r in rows]

    async def instance_ids_with_privilege(self, privilege: str, scope: str, at: datetime,
                                          instance_ids: frozenset[int]) -> list[int]:
        statement = (select(G.instance_id).distinct()
                     .select_from(grant_intervals.join(instances, instances.c.id == G.instance_id))
                     .where(G.privilege == privilege, G.scope == scope, _covering(G.valid_from, G.valid_to, at),
                            instances.c.deleted_at.is_(None)))
        if instance_ids:
            statement = statement.where(G.instance_id.in_(sorted(instance_ids)))
        return sorted(int(i) for i in (await (await self._conn()).execute(statement)).scalars())
