"""SqlAlchemyLedgerWriter: applies one sync's write plan in the caller's transaction (accounts.md §4 step 3, §6.1).

Every write is batched (one executemany per table and kind of write, the large ones bound by `_bulk.execute_many`,
IN lists in chunks); principals the plan calls
unchanged are never touched, so an unchanged re-sync issues no INSERT/UPDATE/DELETE on the ledger tables and only
updates `instances.accounts_synced_at`.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias

from sqlalchemy import and_, bindparam, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.accounts._bulk import execute_many
from whalefall.adapters.persistence.accounts._rows import (
    chunks,
    edge_identity,
    grant_identity,
    grant_row,
    membership_row,
    principal_columns,
    ref_of,
    to_datetime,
)
from whalefall.adapters.persistence.accounts.filters import override_of
from whalefall.adapters.persistence.tables.accounts import (
    grant_intervals,
    instance_account_sync_state,
    membership_intervals,
    principal_changes,
    principal_state_versions,
    principals,
    snapshot_settings,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.accounts import (
    AccountLedgerWriter,
    AppliedSync,
    LedgerApply,
    LedgerPrincipal,
    LockedInstance,
)
from whalefall.domain.accounts.changes import ChangeType
from whalefall.domain.accounts.diff import Outcome, PrincipalWrite, StoredPrincipal
from whalefall.domain.accounts.model import (
    CoverageGap,
    GapReason,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    canonical_json,
    json_value,
    state_document,
    state_from_document,
)
from whalefall.domain.instances import DbEngine, InstanceId
from whalefall.domain.privileges.names import Scope

#: principal id → interval identity → interval row id.
_OpenIntervals: TypeAlias = dict[int, dict[tuple[object, ...], int]]


def gaps_to_json(gaps: Sequence[CoverageGap]) -> list[dict[str, Any]]:
    return [{"scope": g.scope.value, "database": g.database, "reason": g.reason.value, "detail": g.detail,
             "stale_since": json_value(g.stale_since)} for g in gaps]


def gaps_from_json(value: object) -> tuple[CoverageGap, ...]:
    items = value if isinstance(value, list) else []
    return tuple(CoverageGap(scope=Scope(str(g["scope"])), database=str(g["database"]),
                             reason=GapReason(str(g["reason"])), detail=g.get("detail"),
                             stale_since=to_datetime(g.get("stale_since"))) for g in items)


class SqlAlchemyLedgerWriter(AccountLedgerWriter):
    """The write side of the ledger over the request's unit of work."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def lock_instance(self, instance_id: InstanceId) -> LockedInstance | None:
        connection = await self._conn()
        statement = select(instances.c.id, instances.c.db_type, instances.c.is_active, instances.c.deleted_at,
                           instances.c.accounts_synced_at).where(instances.c.id == instance_id)
        if connection.dialect.name == "postgresql":
            statement = statement.with_for_update()
        row = (await connection.execute(statement)).mappings().first()
        if row is None:
            return None
        gaps = (await connection.execute(select(instance_account_sync_state.c.coverage_gaps).where(
            instance_account_sync_state.c.instance_id == instance_id))).scalar()
        return LockedInstance(id=InstanceId(row["id"]), db_type=DbEngine(row["db_type"]), is_active=row["is_active"],
                              deleted=row["deleted_at"] is not None, accounts_synced_at=row["accounts_synced_at"],
                              coverage_gaps=gaps_from_json(gaps),
                              filter_override=await override_of(connection, instance_id))

    async def current_principals(self, instance_id: InstanceId, *,
                                 fresh: Mapping[PrincipalRef, tuple[PrincipalKind, str]] | None = None,
                                 ) -> dict[PrincipalRef, LedgerPrincipal]:
        connection = await self._conn()
        statement = (select(principals.c.id, principals.c.kind, principals.c.namespace, principals.c.key,
                            principals.c.is_account, principals.c.active, principals.c.deactivated_at,
                            principals.c.current_state_version_id, principals.c.state_hash)
                     .where(principals.c.instance_id == instance_id))
        rows = (await connection.execute(statement)).mappings().all()
        needed = [row["current_state_version_id"] for row in rows if row["current_state_version_id"] is not None
                  and (fresh is None or not row["active"]
                       or fresh.get(ref_of(row)) != (PrincipalKind(row["kind"]), row["state_hash"]))]
        documents: dict[int, Any] = {}
        for part in chunks(needed):
            documents.update({int(vid): doc for vid, doc in (await connection.execute(select(
                principal_state_versions.c.id, principal_state_versions.c.state).where(
                principal_state_versions.c.id.in_(part)))).all()})
        result: dict[PrincipalRef, LedgerPrincipal] = {}
        for row in rows:
            ref = ref_of(row)
            document = documents.get(row["current_state_version_id"])
            if isinstance(document, str):
                document = json.loads(document)
            state = state_from_document(ref, document, is_account=row["is_account"]) if document else None
            result[ref] = LedgerPrincipal(id=row["id"], stored=StoredPrincipal(
                ref=ref, active=row["active"], is_account=row["is_account"], state=state,
                state_hash=row["state_hash"], state_version_id=row["current_state_version_id"],
                deactivated_at=row["deactivated_at"]))
        return result

    async def apply(self, data: LedgerApply) -> AppliedSync:
        connection = await self._conn()
        at = data.observed_at
        writes = data.diff.plan.writes
        ids: dict[PrincipalRef, int] = {ref: p.id for ref, p in data.current.items()}
        await self._insert_new_principals(connection, data, [w for w in writes if w.ref not in ids], ids)
        versioned = [w for w in writes if w.new_version and w.state is not None]
        closing = [ids[w.ref] for w in writes if w.ref in data.current and (w.new_version or not w.active)]
        for part in chunks(closing):
            await connection.execute(update(principal_state_versions).where(
                principal_state_versions.c.principal_id.in_(part), principal_state_versions.c.valid_to.is_(None),
            ).values(valid_to=at))
        version_ids: dict[PrincipalRef, int] = {}
        if versioned:
            rows = [{"principal_id": ids[w.ref], "instance_id": data.instance_id,
                     "state": state_document(w.state, informational=True), "state_hash": w.state_hash,
                     "valid_from": at, "valid_to": None, "sync_record_id": data.record_id,
                     "session_id": data.session_id} for w in versioned if w.state is not None]
            # executemany without RETURNING (RETURNING in parameter order degrades to one statement per row), then
            # one SELECT of the versions this sync opened.
            await execute_many(connection, insert(principal_state_versions), rows)
            opened: dict[int, int] = {int(pid): int(vid) for pid, vid in (await connection.execute(select(
                principal_state_versions.c.principal_id, principal_state_versions.c.id).where(
                principal_state_versions.c.instance_id == data.instance_id,
                principal_state_versions.c.valid_from == at, principal_state_versions.c.valid_to.is_(None),
                principal_state_versions.c.sync_record_id == data.record_id))).all()}
            version_ids = {w.ref: int(opened[ids[w.ref]]) for w in versioned}
        await self._update_principals(connection, data, writes, ids, version_ids)
        await self._write_intervals(connection, data, writes, ids)
        change_count = await self._insert_changes(connection, data, ids, version_ids)
        await self._write_settings(connection, data)
        await self._write_coverage(connection, data)
        await self._write_grants_stale(connection, data, ids)
        await connection.execute(update(instances).where(instances.c.id == data.instance_id).values(
            accounts_synced_at=at))
        return AppliedSync(principal_ids={w.ref: ids[w.ref] for w in writes}, change_count=change_count)

    async def _insert_new_principals(self, connection: AsyncConnection, data: LedgerApply,
                                     new: Sequence[PrincipalWrite], ids: dict[PrincipalRef, int]) -> None:
        if not new:
            return
        rows = [{"instance_id": data.instance_id, "kind_class": w.ref.kind_class.value, "kind": w.ref.kind.value,
                 "namespace": w.ref.namespace, "key": w.ref.key, "is_account": w.is_account, "active": True,
                 "first_seen_at": data.observed_at, "grants_stale": False,
                 **_new_columns(w.state, superuser=w.ref in data.superusers)} for w in new]
        await execute_many(connection, insert(principals), rows)
        wanted = {w.ref for w in new}
        found = (await connection.execute(select(principals.c.id, principals.c.kind, principals.c.namespace,
                                                 principals.c.key).where(
            principals.c.instance_id == data.instance_id, principals.c.first_seen_at == data.observed_at))).mappings()
        ids.update({ref: int(row["id"]) for row in found if (ref := ref_of(row)) in wanted})

    async def _update_principals(self, connection: AsyncConnection, data: LedgerApply,
                                 writes: Sequence[PrincipalWrite], ids: Mapping[PrincipalRef, int],
                                 version_ids: Mapping[PrincipalRef, int]) -> None:
        rows: list[dict[str, object]] = []
        for w in writes:
            row: dict[str, object] = {"pid": ids[w.ref]}
            if w.ref in data.current:
                row.update(is_account=w.is_account, active=w.active)
                if w.outcome is Outcome.REMOVED:
                    row.update(deactivated_at=data.observed_at,
                               deactivation_reason=w.reason.value if w.reason else None)
                else:
                    row.update(deactivated_at=None, deactivation_reason=None)
                if w.state is not None:
                    row.update(principal_columns(w.state, superuser=w.ref in data.superusers))
            if w.ref in version_ids:
                row.update(current_state_version_id=version_ids[w.ref], state_hash=w.state_hash,
                           last_changed_at=data.observed_at)
            if len(row) > 1:
                rows.append(row)
        # One executemany per column set (new principals only need their version columns).
        for keys in sorted({tuple(sorted(r)) for r in rows}):
            group = [r for r in rows if tuple(sorted(r)) == keys]
            values: dict[str, Any] = {k: bindparam(k) for k in keys if k != "pid"}
            await execute_many(connection, update(principals).where(principals.c.id == bindparam("pid")).values(values),
                               group)

    async def _write_intervals(self, connection: AsyncConnection, data: LedgerApply,
                               writes: Sequence[PrincipalWrite], ids: Mapping[PrincipalRef, int]) -> None:
        at = data.observed_at
        removed = [ids[w.ref] for w in writes if w.outcome is Outcome.REMOVED]
        for table, member in ((grant_intervals, grant_intervals.c.principal_id),
                              (membership_intervals, membership_intervals.c.member_id)):
            for part in chunks(removed):
                await connection.execute(update(table).where(member.in_(part), table.c.valid_to.is_(None))
                                         .values(valid_to=at))
        versioned = [w for w in writes if w.new_version and w.state is not None]
        if not versioned:
            return
        open_grants, open_edges = await self._open_intervals(connection, [ids[w.ref] for w in versioned])
        close_ids: list[int] = []
        close_edge_ids: list[int] = []
        grant_rows: list[dict[str, object]] = []
        edge_rows: list[dict[str, object]] = []
        for w in versioned:
            assert w.state is not None
            pid = ids[w.ref]
            held = open_grants.get(pid, {})
            wanted = {grant_identity(g): g for g in w.state.grants}
            close_ids += [interval for identity, interval in held.items() if identity not in wanted]
            grant_rows += [grant_row(g, principal_id=pid, instance_id=data.instance_id, at=at)
                           for identity, g in wanted.items() if identity not in held]
            held_edges = open_edges.get(pid, {})
            wanted_edges = {edge_identity(e): e for e in w.state.memberships}
            close_edge_ids += [interval for identity, interval in held_edges.items() if identity not in wanted_edges]
            edge_rows += [membership_row(e, member_id=pid, role_id=ids.get(e.role), instance_id=data.instance_id,
                                         at=at) for identity, e in wanted_edges.items() if identity not in held_edges]
        for table, closed in ((grant_intervals, close_ids), (membership_intervals, close_edge_ids)):
            for part in chunks(closed):
                await connection.execute(update(table).where(table.c.id.in_(part)).values(valid_to=at))
        await execute_many(connection, insert(grant_intervals), grant_rows)
        await execute_many(connection, insert(membership_intervals), edge_rows)

    @staticmethod
    async def _open_intervals(connection: AsyncConnection, principal_ids: Sequence[int]
                              ) -> tuple[_OpenIntervals, _OpenIntervals]:
        grants: _OpenIntervals = {}
        edges: _OpenIntervals = {}
        g = grant_intervals.c
        m = membership_intervals.c
        for part in chunks(principal_ids):
            for row in (await connection.execute(select(
                    g.id, g.principal_id, g.privilege, g.scope, g.object, g.effect, g.grant_option, g.implicit)
                    .where(g.principal_id.in_(part), g.valid_to.is_(None)))).all():
                grants.setdefault(row.principal_id, {})[
                    (row.privilege, row.scope, row.object, row.effect, row.grant_option, row.implicit)] = row.id
            for edge in (await connection.execute(select(
                    m.id, m.member_id, m.role_kind, m.role_namespace, m.role_key, m.admin_option, m.inherit,
                    m.set_option, m.default_role, m.delegate_option, m.implicit)
                    .where(m.member_id.in_(part), m.valid_to.is_(None)))).all():
                kind_class = "public" if edge.role_kind == "public" else "principal"
                edges.setdefault(edge.member_id, {})[
                    (kind_class, edge.role_namespace, edge.role_key, edge.admin_option, edge.inherit, edge.set_option,
                     edge.default_role, edge.delegate_option, edge.implicit)] = edge.id
        return grants, edges

    @staticmethod
    async def _insert_changes(connection: AsyncConnection, data: LedgerApply, ids: Mapping[PrincipalRef, int],
                              version_ids: Mapping[PrincipalRef, int]) -> int:
        rows = [{"instance_id": data.instance_id, "principal_id": ids[e.principal], "type": e.type.value,
                 "observed_at": data.observed_at, "session_id": data.session_id, "sync_record_id": data.record_id,
                 "diff_version": 1,
                 "diff": e.diff_json(state_version_id=version_ids.get(e.principal)
                                     if e.type is ChangeType.ADDED else None),
                 "summary": e.summary} for e in data.diff.entries]
        await execute_many(connection, insert(principal_changes), rows)
        return len(rows)

    @staticmethod
    async def _write_settings(connection: AsyncConnection, data: LedgerApply) -> None:
        document = {k: json_value(v) for k, v in sorted(data.settings.items())}
        digest = hashlib.sha256(canonical_json(document).encode()).hexdigest()
        s = snapshot_settings.c
        current = (await connection.execute(select(s.id, s.settings_hash).where(
            s.instance_id == data.instance_id, s.valid_to.is_(None)))).first()
        if current is not None and current.settings_hash == digest:
            return
        if current is not None:
            await connection.execute(update(snapshot_settings).where(s.id == current.id).values(
                valid_to=data.observed_at))
        await connection.execute(insert(snapshot_settings).values(
            instance_id=data.instance_id, settings=document, settings_hash=digest, valid_from=data.observed_at))

    @staticmethod
    async def _write_coverage(connection: AsyncConnection, data: LedgerApply) -> None:
        c = instance_account_sync_state.c
        current = (await connection.execute(select(c.coverage_gaps).where(
            c.instance_id == data.instance_id))).first()
        wanted = gaps_to_json(data.coverage_gaps)
        if current is None:
            if not wanted:
                return
            await connection.execute(insert(instance_account_sync_state).values(
                instance_id=data.instance_id, coverage_gaps=wanted, updated_at=data.observed_at))
        elif current.coverage_gaps != wanted:
            await connection.execute(update(instance_account_sync_state).where(
                and_(c.instance_id == data.instance_id)).values(coverage_gaps=wanted, updated_at=data.observed_at))

    @staticmethod
    async def _write_grants_stale(connection: AsyncConnection, data: LedgerApply,
                                  ids: Mapping[PrincipalRef, int]) -> None:
        """Flip `grants_stale` only where it differs (one indexed read; no write on an unchanged re-sync)."""
        flagged = {int(pid) for pid in (await connection.execute(select(principals.c.id).where(
            principals.c.grants_stale.is_(True), principals.c.instance_id == data.instance_id))).scalars()}
        wanted = {pid for ref in data.grants_stale if (pid := ids.get(ref)) is not None}
        for value, changed in ((True, wanted - flagged), (False, flagged - wanted)):
            for part in chunks(sorted(changed)):
                await connection.execute(update(principals).where(principals.c.id.in_(part)).values(
                    grants_stale=value))


def _new_columns(state: PrincipalState | None, *, superuser: bool) -> dict[str, object]:
    if state is None:
        return {"attributes": {}, "roles": []}
    return principal_columns(state, superuser=superuser)
