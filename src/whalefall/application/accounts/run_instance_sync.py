"""RunInstanceSync: the `accounts_sync` record work — collect one instance's catalog, apply it in ONE transaction."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Final, assert_never

from whalefall.application.accounts.capabilities import direct_capabilities
from whalefall.application.ports.accounts import (
    AccountFilterOverride,
    AccountLedgerWriter,
    LedgerApply,
    LockedInstance,
)
from whalefall.application.ports.classification import DeactivatedAccountAssignments
from whalefall.application.ports.connectors import (
    AccountCatalogRows,
    ConnectorError,
    ConnectorFactory,
    ConnectorTimeouts,
)
from whalefall.application.ports.instances import CredentialRepository, InstanceRepository
from whalefall.application.ports.security import SecretCipher
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.sessions.instance_targets import connection_target, skip_code
from whalefall.application.sessions.work import RecordContext, RecordResult, RecordWork
from whalefall.domain.accounts.changes import ChangeType
from whalefall.domain.accounts.diff import SnapshotDiff, diff_snapshot, stale_principals
from whalefall.domain.accounts.filters import AccountFilter, default_filters
from whalefall.domain.accounts.model import CoverageGap, InstanceSnapshot, PrincipalRef, state_hash
from whalefall.domain.accounts.normalize import (
    CatalogVisibilityError,
    normalize_mariadb,
    normalize_mysql,
    normalize_oracle,
    normalize_postgresql,
    normalize_sqlserver,
)
from whalefall.domain.accounts.rows.mysql import MariaDbCatalogRows, MySqlCatalogRows
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows
from whalefall.domain.accounts.rows.postgresql import PgCatalogRows
from whalefall.domain.accounts.rows.sqlserver import SqlServerCatalogRows
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import DbEngine, Flavor, InstanceId
from whalefall.domain.sessions.backoff import ErrorClass

MAX_WARNINGS: Final = 50
#: Associated data binding a credential ciphertext to its row. Same format as
#: `application.instances.credentials.associated_data`, which application slices may not import (import contract).
#: Added/reactivated accounts listed in the record details (the rest are counted, never named).
MAX_DETAIL_ACCOUNTS: Final = 100


@dataclass(frozen=True, slots=True)
class AccountFilterSettings:
    """Settings `accounts.filters.<engine>`; engines without an entry use `default_filters` (accounts.md §3).
    MariaDB uses the MySQL entry."""

    by_engine: Mapping[DbEngine, AccountFilter] = field(default_factory=dict)

    def for_engine(self, engine: DbEngine) -> AccountFilter:
        return self.by_engine.get(engine) or default_filters(engine)

    @staticmethod
    def overridden(base: AccountFilter, override: AccountFilterOverride | None) -> AccountFilter:
        """The instance's override replaces the engine's `exclude` list as a whole (decision: no merging, so an
        instance can also keep a principal the fleet excludes); its `exclude_oracle_maintained`, when set,
        replaces the engine's."""
        if override is None:
            return base
        maintained = base.exclude_oracle_maintained if override.exclude_oracle_maintained is None \
            else override.exclude_oracle_maintained
        return AccountFilter(engine=base.engine, exclude=override.exclude, exclude_oracle_maintained=maintained)


def normalize(rows: AccountCatalogRows) -> InstanceSnapshot:
    """The engine's normaliser, chosen by the row family the connector read for the LIVE version: MariaDB rows
    only ever take the MariaDB path, never MySQL 8's (defect 15). Raises CatalogVisibilityError."""
    match rows:
        case MariaDbCatalogRows():
            return normalize_mariadb(rows)
        case MySqlCatalogRows():
            if "mariadb" in rows.server.version.lower():
                raise ConnectorError(ErrorClass.UNSUPPORTED, "MariaDB server read as MySQL",
                                     error_code="CATALOG_READ_FAILED")
            return normalize_mysql(rows)
        case PgCatalogRows():
            return normalize_postgresql(rows)
        case SqlServerCatalogRows():
            return normalize_sqlserver(rows)
        case OracleCatalogRows():
            return normalize_oracle(rows)
        case _ as unreachable:
            assert_never(unreachable)


def resolve_gaps(snapshot: InstanceSnapshot, locked: LockedInstance) -> tuple[CoverageGap, ...]:
    """`stale_since` of each gap: kept from a gap that was already open on the same database, else the previous
    successful sync (the segment was last fully observed then), else None (never observed). Decision: the store
    keeps no per-segment history beyond this."""
    previous = {g.database: g for g in locked.coverage_gaps}
    resolved = []
    for gap in snapshot.coverage.gaps:
        before = previous.get(gap.database)
        stale = before.stale_since if before is not None else locked.accounts_synced_at
        resolved.append(CoverageGap(scope=gap.scope, database=gap.database, reason=gap.reason, detail=gap.detail,
                                    stale_since=stale))
    return tuple(resolved)


@dataclass(frozen=True, slots=True)
class RunInstanceSync(RecordWork):
    """Sync one instance's accounts (accounts.md §4).

    Collect (no metadata writes): decrypt the credential, open the connector, read the catalog in a constant number
    of queries, normalise with the engine's normaliser for the live version, filter with `accounts.filters.<engine>`
    or, when the instance has one, its stored override (read under the apply transaction's instance lock).
    A catalog failure, a visibility failure (zero principals or not the collector) or an undecryptable credential
    fail the instance: nothing is written and no account is deactivated (defects 4, 18).
    Apply, in ONE transaction: `context.fence()` first, lock the instance row, load the stored principals, diff,
    write principals / state versions / intervals / change entries (each naming this record and its session,
    defect 20), settings and coverage when they changed, the `grants_stale` flag of principals holding items carried
    forward from a coverage gap (written only where it flips), and `accounts_synced_at`; commit. Any exception rolls the
    whole transaction back (defect 1). Unchanged principals cost zero row writes (defect 23).
    The same transaction closes the auto classification assignments of every principal the sync deactivated or
    demoted to a filtered role node (accounts.md §4 step 3, §5.3); their manual assignments stay (auto processing
    never touches them; decision: they remain visible on the inactive account until a user deletes them).
    A deleted instance ends the record `skipped` (INSTANCE_DELETED), an inactive one `skipped` (INSTANCE_INACTIVE).
    The result carries the §4 step 5 counters, ≤ 50 warnings, and the added / reactivated accounts with their
    direct capabilities (≤ 100 each, no username lists in counters).
    """

    instances: InstanceRepository
    credentials: CredentialRepository
    cipher: SecretCipher
    connectors: ConnectorFactory
    timeouts: ConnectorTimeouts
    ledger: AccountLedgerWriter
    filters: AccountFilterSettings
    uow: UnitOfWork
    assignments: DeactivatedAccountAssignments

    async def run(self, context: RecordContext) -> RecordResult:
        if context.record.instance_id is None:
            raise InvalidStateError("an accounts_sync record must name an instance")
        instance_id = InstanceId(context.record.instance_id)
        instance = await self.instances.get(instance_id)
        skipped = skip_code(instance)
        if skipped is not None or instance is None:
            await self.uow.rollback()
            return RecordResult(skipped_code=skipped or "INSTANCE_DELETED")
        target = await connection_target(instance, self.credentials, self.cipher)
        await self.uow.rollback()  # end the read transaction: SQLite would hold its write lock while we collect
        await context.check_cancel()
        async with self.connectors.open(target, self.timeouts) as connector:
            rows = await connector.read_account_catalog(instance_id=instance_id)
        try:
            snapshot = normalize(rows)
        except CatalogVisibilityError as exc:
            raise ConnectorError(ErrorClass.PERMISSION_DENIED, exc.message, error_code=exc.code) from exc
        filters = self.filters.for_engine(DbEngine.MYSQL if snapshot.flavor is Flavor.MARIADB else snapshot.engine)
        await context.check_cancel()
        try:
            diff = await self._apply(context, instance_id, snapshot, filters)
        except BaseException:
            await self.uow.rollback()
            raise
        return self._result(snapshot, diff)

    async def _apply(self, context: RecordContext, instance_id: InstanceId, snapshot: InstanceSnapshot,
                     filters: AccountFilter) -> tuple[SnapshotDiff, Mapping[PrincipalRef, int]]:
        await context.fence()
        locked = await self.ledger.lock_instance(instance_id)
        if locked is None:
            raise InvalidStateError("the instance was purged during the sync")
        filters = self.filters.overridden(filters, locked.filter_override)
        # With coverage gaps the diff carries items forward from every stored state, so it needs all documents.
        fresh = None if snapshot.coverage.gaps else {s.ref: (s.kind, state_hash(s)) for s in snapshot.principals}
        current = await self.ledger.current_principals(instance_id, fresh=fresh)
        diff = diff_snapshot([p.stored for p in current.values()], snapshot, filters)
        engine = snapshot.engine
        superusers = frozenset(w.ref for w in diff.plan.writes
                               if w.state is not None and "SUPERUSER" in direct_capabilities(engine, w.state))
        applied = await self.ledger.apply(LedgerApply(
            instance_id=instance_id, observed_at=snapshot.observed_at, session_id=context.session.id,
            record_id=context.record.id, diff=diff, current=current, superusers=superusers,
            settings=snapshot.settings, coverage_gaps=resolve_gaps(snapshot, locked),
            grants_stale=stale_principals(diff.snapshot)))
        removed = {e.principal for e in diff.entries if e.type is ChangeType.REMOVED}
        await self.assignments.close_auto([applied.principal_ids[ref] for ref in sorted(
            removed, key=lambda r: r.sort_key) if ref in applied.principal_ids], at=snapshot.observed_at)
        await context.check_cancel()
        await self.uow.commit()
        return diff, applied.principal_ids

    @staticmethod
    def _result(snapshot: InstanceSnapshot, outcome: tuple[SnapshotDiff, Mapping[PrincipalRef, int]]) -> RecordResult:
        diff, ids = outcome
        states = diff.snapshot.states_by_ref()
        warnings: list[Mapping[str, object]] = [{"code": w.code, "message": w.message} for w in snapshot.warnings]
        warnings += [{"code": "COVERAGE_GAP", "message": f"database {g.database} not read ({g.reason.value})"}
                     for g in snapshot.coverage.gaps]
        details: dict[str, object] = {}
        for kind in (ChangeType.ADDED, ChangeType.REACTIVATED):
            entries = [e for e in diff.entries if e.type is kind and e.is_account]
            details[kind.value] = [
                {"account_id": ids.get(e.principal), "kind": e.principal.kind.value,
                 "namespace": e.principal.namespace, "key": e.principal.key,
                 "capabilities": sorted(direct_capabilities(snapshot.engine, states[e.principal]))}
                for e in entries[:MAX_DETAIL_ACCOUNTS]]
            details[f"{kind.value}_truncated"] = max(0, len(entries) - MAX_DETAIL_ACCOUNTS)
        counters: dict[str, object] = {**asdict(diff.counters), "query_count": snapshot.query_count,
                                       "warning_count": len(warnings)}
        return RecordResult(counters=counters, warnings=_capped(warnings), details=details)


def _capped(warnings: Sequence[Mapping[str, object]]) -> list[Mapping[str, object]]:
    return list(warnings[:MAX_WARNINGS])
