"""SqlAlchemyAccountFactsSource: permission facts built from the accounts ledger (classification.md §2, §10).

It reads the ledger tables directly (repositories of other contexts are never imported): the states of every
active principal of an instance (roles are graph nodes), the instance settings and coverage, then runs the pure
facts builder. A state document that cannot be read gives the account no facts (`facts_missing`), never empty
facts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncConnection

from whalefall.adapters.persistence.tables.accounts import (
    instance_account_sync_state,
    principal_state_versions,
    principals,
    snapshot_settings,
)
from whalefall.adapters.persistence.tables.instances import instances
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.ports.classification import AccountFacts, AccountFactsSource, FactsScope, ScopedAccount
from whalefall.domain.accounts.facts import build_facts
from whalefall.domain.accounts.model import (
    Coverage,
    CoverageGap,
    GapReason,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
    PrincipalState,
    state_from_document,
)
from whalefall.domain.instances import DbEngine, Flavor, InstanceId
from whalefall.domain.privileges.facts import parse_instant
from whalefall.domain.privileges.names import Scope

P = principals.c
V = principal_state_versions.c
I = instances.c  # noqa: E741


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def _covering(valid_from: Any, valid_to: Any, at: datetime) -> Any:
    return and_(valid_from <= at, or_(valid_to.is_(None), valid_to > at))


def _gaps(value: Any) -> tuple[CoverageGap, ...]:
    gaps = []
    for g in _json(value) or ():
        try:
            gaps.append(CoverageGap(scope=Scope(str(g.get("scope", "database"))), database=str(g["database"]),
                                    reason=GapReason(str(g["reason"])), detail=g.get("detail"),
                                    stale_since=parse_instant(g["stale_since"]) if g.get("stale_since") else None))
        except (KeyError, ValueError):
            continue
    return tuple(gaps)


def _flavor(value: object) -> Flavor | None:
    try:
        return Flavor(str(value)) if value is not None else None
    except ValueError:
        return None


class SqlAlchemyAccountFactsSource(AccountFactsSource):
    """Over the request's unit of work; one snapshot per instance, built from at most four statements."""

    def __init__(self, uow: SqlAlchemyUnitOfWork) -> None:
        self._uow = uow

    async def _conn(self) -> AsyncConnection:
        return await self._uow.connection()

    async def instances_of(self, instance_ids: frozenset[int] | None,
                           db_types: frozenset[DbEngine]) -> dict[int, DbEngine]:
        statement = select(I.id, I.db_type).where(I.deleted_at.is_(None), I.is_active.is_(True))
        if instance_ids is not None:
            statement = statement.where(I.id.in_(sorted(instance_ids)))
        if db_types:
            statement = statement.where(I.db_type.in_(sorted(d.value for d in db_types)))
        return {int(i): DbEngine(t) for i, t in await (await self._conn()).execute(statement)}

    async def scope(self, engine: DbEngine, instance_ids: frozenset[int] | None, *, as_of: datetime,
                    at: datetime | None = None) -> FactsScope:
        chosen = sorted(await self.instances_of(instance_ids, frozenset({engine})))
        accounts: list[ScopedAccount] = []
        unknown: list[int] = []
        for instance_id in chosen:
            loaded = await self._snapshot(instance_id, as_of=as_of, at=at)
            if loaded is None:
                unknown.append(instance_id)
                continue
            snapshot, rows = loaded
            for principal_id, ref, version_id in rows:
                accounts.append(ScopedAccount(account_id=principal_id, instance_id=instance_id,
                                              facts=self._facts(snapshot, ref, as_of), state_version_id=version_id))
        return FactsScope(accounts=tuple(accounts), instance_ids=tuple(i for i in chosen if i not in unknown),
                          unknown_instance_ids=tuple(unknown))

    async def account(self, account_id: int, *, as_of: datetime, at: datetime | None = None) -> AccountFacts | None:
        row = (await (await self._conn()).execute(
            select(P.instance_id, I.db_type).select_from(principals.join(instances, I.id == P.instance_id))
            .where(P.id == account_id, I.deleted_at.is_(None)))).first()
        if row is None:
            return None
        instance_id, engine = int(row[0]), DbEngine(row[1])
        loaded = await self._snapshot(instance_id, as_of=as_of, at=at, include_inactive=True)
        facts = None
        if loaded is not None:
            snapshot, rows = loaded
            ref = next((r for pid, r, _ in rows if pid == account_id), None)
            facts = self._facts(snapshot, ref, as_of) if ref is not None else None
        return AccountFacts(account_id=account_id, instance_id=instance_id, engine=engine, facts=facts)

    @staticmethod
    def _facts(snapshot: InstanceSnapshot, ref: PrincipalRef, as_of: datetime) -> Any:
        try:
            return build_facts(snapshot, ref, as_of=as_of)
        except (KeyError, ValueError):
            return None

    async def _snapshot(self, instance_id: int, *, as_of: datetime, at: datetime | None,
                        include_inactive: bool = False,
                        ) -> tuple[InstanceSnapshot, Sequence[tuple[int, PrincipalRef, int]]] | None:
        """The instance's principals as a snapshot plus (id, ref, state version) of its accounts; None when the
        ledger knows nothing of the instance at `at`."""
        connection = await self._conn()
        instance = (await connection.execute(select(I.db_type, I.flavor, I.version_raw, I.version).where(
            I.id == instance_id))).first()
        if instance is None:
            return None
        statement = (select(P.id, P.kind, P.namespace, P.key, P.is_account, P.active, V.id.label("version_id"),
                            V.state)
                     .select_from(principals.join(principal_state_versions, V.principal_id == P.id))
                     .where(P.instance_id == instance_id))
        if at is None:
            statement = statement.where(V.valid_to.is_(None))
            if not include_inactive:
                statement = statement.where(P.active.is_(True))
            settings = (await connection.execute(select(snapshot_settings.c.settings).where(
                snapshot_settings.c.instance_id == instance_id, snapshot_settings.c.valid_to.is_(None)))).scalar()
            gaps = _gaps((await connection.execute(select(instance_account_sync_state.c.coverage_gaps).where(
                instance_account_sync_state.c.instance_id == instance_id))).scalar())
        else:
            first = (await connection.execute(select(func.min(P.first_seen_at)).where(
                P.instance_id == instance_id))).scalar()
            if first is None or first > at:
                return None
            statement = statement.where(_covering(V.valid_from, V.valid_to, at))
            settings = (await connection.execute(select(snapshot_settings.c.settings).where(
                snapshot_settings.c.instance_id == instance_id,
                _covering(snapshot_settings.c.valid_from, snapshot_settings.c.valid_to, at)))).scalar()
            gaps = ()
        states: list[PrincipalState] = []
        accounts: list[tuple[int, PrincipalRef, int]] = []
        for row in (await connection.execute(statement)).mappings():
            ref = PrincipalRef.of(PrincipalKind(row["kind"]), row["key"], row["namespace"])
            try:
                states.append(state_from_document(ref, _json(row["state"]), is_account=row["is_account"]))
            except (KeyError, TypeError, ValueError):
                continue
            if row["is_account"] and (row["active"] or include_inactive or at is not None):
                accounts.append((int(row["id"]), ref, int(row["version_id"])))
        snapshot = InstanceSnapshot(
            instance_id=InstanceId(instance_id), engine=DbEngine(instance.db_type), flavor=_flavor(instance.flavor),
            server_version=str(instance.version_raw or instance.version or ""), observed_at=as_of,
            settings=dict(_json(settings) or {}), principals=tuple(states), coverage=Coverage(gaps))
        return snapshot, accounts
