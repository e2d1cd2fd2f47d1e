"""Providers of the accounts context: ledger repositories, account filters from settings, and its use cases."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from dishka import Provider, Scope, provide, provide_all

from whalefall.adapters.persistence.accounts.reader import SqlAlchemyLedgerReader
from whalefall.adapters.persistence.accounts.writer import SqlAlchemyLedgerWriter
from whalefall.adapters.persistence.unit_of_work import SqlAlchemyUnitOfWork
from whalefall.application.accounts.history import (
    FindHolders,
    GetAccountStateAt,
    GetAccountTimeline,
    GetEffectivePrivileges,
    GetNetDiff,
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
from whalefall.application.ports.accounts import AccountLedgerReader, AccountLedgerWriter
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

    @provide
    def ledger_writer(self, uow: SqlAlchemyUnitOfWork) -> AccountLedgerWriter:
        return SqlAlchemyLedgerWriter(uow)

    @provide
    def ledger_reader(self, uow: SqlAlchemyUnitOfWork) -> AccountLedgerReader:
        return SqlAlchemyLedgerReader(uow)

    use_cases = provide_all(
        ListAccounts, GetAccount, GetAccountPermissions, ListAccountChanges, ListFleetChanges, GetChange,
        GetAccountStateAt, GetNetDiff, GetAccountTimeline, FindHolders, GetEffectivePrivileges, StartAccountsSync,
        RunInstanceSync,
    )

