"""Providers of the accounts context: ledger repositories, account filters from settings, and its use cases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dishka import Provider, Scope, provide, provide_all

from whalefall.adapters.persistence.accounts.filters import SqlAlchemyAccountFilterOverrides
from whalefall.adapters.persistence.accounts.reader import SqlAlchemyLedgerReader
from whalefall.adapters.persistence.accounts.retention import SqlAlchemyAccountHistoryPurger
from whalefall.adapters.persistence.accounts.writer import SqlAlchemyLedgerWriter
from whalefall.adapters.persistence.classification.deactivation import SqlAlchemyDeactivatedAccountAssignments
from whalefall.adapters.persistence.engine import Database
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.accounts.account_filters import ClearAccountFilter, GetAccountFilter, SetAccountFilter
from whalefall.application.accounts.export_account_changes import ExportAccountChanges
from whalefall.application.accounts.export_accounts import ExportAccounts
from whalefall.application.accounts.history import (
    FindHolders,
    GetAccountStateAt,
    GetAccountTimeline,
    GetEffectivePrivileges,
    GetNetDiff,
)
from whalefall.application.accounts.purge_account_history import (
    DEFAULT_CHANGE_LOG_DAYS,
    LedgerRetention,
    PurgeExpiredAccountHistory,
)
from whalefall.application.accounts.queries import (
    GetAccount,
    GetAccountPermissions,
    GetChange,
    ListAccountChanges,
    ListAccounts,
    ListFleetChanges,
)
from whalefall.application.accounts.run_instance_sync import AccountFilterSettings, RunInstanceSync
from whalefall.application.accounts.start_accounts_sync import StartAccountsSync
from whalefall.application.ports.accounts import AccountFilterOverrides, AccountLedgerReader, AccountLedgerWriter
from whalefall.application.ports.audit import AuditLog
from whalefall.application.ports.classification import DeactivatedAccountAssignments
from whalefall.application.ports.clock import Clock
from whalefall.application.ports.unit_of_work import UnitOfWork
from whalefall.application.shared.exports import DEFAULT_MAX_ROWS
from whalefall.domain.accounts.filters import AccountFilter, default_filters
from whalefall.domain.errors import Problem
from whalefall.domain.instances import DbEngine
from whalefall.entrypoints.settings import Settings, SettingsError


def _patterns(value: object, key: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(p.strip() for p in value.split(",") if p.strip())
    if isinstance(value, Iterable) and all(isinstance(p, str) for p in value):
        return tuple(str(p) for p in value)
    raise SettingsError([Problem(key, "invalid_type", "must be a list of account patterns")])


def account_filters(settings: Settings) -> AccountFilterSettings:
    """`accounts.filters.<engine>` (accounts.md §3). TOML: `[accounts.filters] postgresql = ["pg_*", …]` or a
    table with `exclude` (and, for Oracle, `exclude_oracle_maintained`); environment
    `WHALEFALL_ACCOUNTS_FILTERS_<ENGINE>` = comma list. An engine without a value keeps `default_filters`; an
    empty list excludes nothing."""
    raw = settings.raw
    table = raw.get("accounts.filters")
    tables: Mapping[str, object] = table if isinstance(table, Mapping) else {}
    by_engine: dict[DbEngine, AccountFilter] = {}
    for engine in DbEngine:
        key = f"accounts.filters.{engine.value}"
        value = raw.get(f"accounts.filters_{engine.value}", tables.get(engine.value))
        if value is None:
            continue
        oracle_maintained = default_filters(engine).exclude_oracle_maintained
        if isinstance(value, Mapping):
            oracle_maintained = bool(value.get("exclude_oracle_maintained", oracle_maintained))
            value = value.get("exclude", ())
        by_engine[engine] = AccountFilter(engine=engine, exclude=_patterns(value, key),
                                          exclude_oracle_maintained=oracle_maintained)
    return AccountFilterSettings(by_engine)


class AccountsProvider(Provider):
    scope = Scope.REQUEST

    @provide(scope=Scope.APP)
    def filters(self, settings: Settings) -> AccountFilterSettings:
        return account_filters(settings)

    @provide(scope=Scope.APP)
    def ledger_retention(self, settings: Settings, clock: Clock) -> LedgerRetention:
        """`ledger.retention_days` (unset or 0: keep the ledger forever; accounts.md §6.2)."""
        days = settings.get("ledger.retention_days", 0)
        return LedgerRetention(days if days > 0 else None, clock)

    @provide
    def purge_account_history(self, database: Database, clock: Clock, settings: Settings,
                              retention: LedgerRetention) -> PurgeExpiredAccountHistory:
        """The `account_changes` category of `retention_cleanup` (operations.md §1.9): change log after
        `retention.account_changes_days` (400), closed ledger rows after `ledger.retention_days` when set."""
        return PurgeExpiredAccountHistory(
            SqlAlchemyAccountHistoryPurger(database), clock,
            int(settings.get("retention.account_changes_days", DEFAULT_CHANGE_LOG_DAYS)), retention.days,
            max_runtime_s=settings.get("retention.max_runtime_s", 1800.0))

    @provide
    def ledger_writer(self, uow: SqlAlchemyUnitOfWork) -> AccountLedgerWriter:
        return SqlAlchemyLedgerWriter(uow)

    @provide
    def ledger_reader(self, uow: SqlAlchemyUnitOfWork) -> AccountLedgerReader:
        return SqlAlchemyLedgerReader(uow)

    @provide
    def export_accounts(self, accounts: AccountLedgerReader, audit: AuditLog, uow: UnitOfWork,
                        settings: Settings) -> ExportAccounts:
        return ExportAccounts(accounts, audit, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))

    @provide
    def export_account_changes(self, accounts: AccountLedgerReader, audit: AuditLog, clock: Clock, uow: UnitOfWork,
                               settings: Settings) -> ExportAccountChanges:
        return ExportAccountChanges(accounts, audit, clock, uow, settings.get("export.max_rows", DEFAULT_MAX_ROWS))

    @provide
    def filter_overrides(self, uow: SqlAlchemyUnitOfWork) -> AccountFilterOverrides:
        return SqlAlchemyAccountFilterOverrides(uow)

    @provide
    def deactivated_assignments(self, uow: SqlAlchemyUnitOfWork) -> DeactivatedAccountAssignments:
        return SqlAlchemyDeactivatedAccountAssignments(uow)

    use_cases = provide_all(
        ListAccounts, GetAccount, GetAccountPermissions, ListAccountChanges, ListFleetChanges, GetChange,
        GetAccountStateAt, GetNetDiff, GetAccountTimeline, FindHolders, GetEffectivePrivileges, StartAccountsSync,
        RunInstanceSync, GetAccountFilter, SetAccountFilter, ClearAccountFilter,
    )

