"""Read use cases over current accounts and the change log: list, detail, permissions, changes (api.md §3.8)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

from whalefall.application.ports.accounts import (
    AccountLedgerReader,
    AccountQuery,
    AccountView,
    ChangeQuery,
    ChangeView,
    GapView,
    GrantView,
    MembershipView,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.errors import NotFoundError, Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.privileges.names import Scope

#: Fleet change-log window (api.md §3.8): default the last 30 days, at most 366.
DEFAULT_WINDOW: Final = timedelta(days=30)
MAX_WINDOW: Final = timedelta(days=366)
_DATABASE_SCOPES: Final = frozenset({Scope.DATABASE, Scope.SCHEMA, Scope.TABLE, Scope.COLUMN, Scope.ROUTINE})


async def load_account(accounts: AccountLedgerReader, account_id: int) -> AccountView:
    """Any principal by id (account rows and role nodes); 404 when unknown or its instance is deleted."""
    account = await accounts.get_account(account_id)
    if account is None:
        raise NotFoundError("account", account_id)
    return account


def check_window(since: datetime | None, until: datetime | None, *, now: datetime,
                 default: timedelta | None, maximum: timedelta | None) -> tuple[datetime, datetime]:
    """`from` (exclusive) / `to` (inclusive); `from < to` else 400 `invalid_range`; wider than `maximum` → 400
    `window_too_large`. A missing `to` is now; a missing `from` is `to - default` (or the beginning of time)."""
    end = until or now
    start = since or (end - default if default is not None else datetime.min.replace(tzinfo=end.tzinfo))
    problems: list[Problem] = []
    if start >= end:
        problems.append(Problem("query.from", "invalid_range", "from must be before to"))
    elif maximum is not None and end - start > maximum:
        problems.append(Problem("query.from", "window_too_large", f"the window is at most {maximum.days} days",
                                {"max_days": maximum.days}))
    if problems:
        raise ValidationProblemsError(problems)
    return start, end


@dataclass(frozen=True, slots=True)
class ListAccounts:
    """Accounts (every principal kind that is an account row) of non-deleted instances; inactive ones only with
    `include_inactive`. Every filter is backed by an index."""

    accounts: AccountLedgerReader

    async def execute(self, actor: Actor, query: AccountQuery, page: PageRequest) -> Page[AccountView]:
        actor.require(Permission.ACCOUNTS_READ)
        return await self.accounts.list_accounts(query, page)


@dataclass(frozen=True, slots=True)
class GetAccount:
    """One account (or role node) by id; 404 when unknown or its instance is deleted."""

    accounts: AccountLedgerReader

    async def execute(self, actor: Actor, account_id: int) -> AccountView:
        actor.require(Permission.ACCOUNTS_READ)
        return await load_account(self.accounts, account_id)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccountPermissions:
    account: AccountView
    observed_at: datetime | None
    coverage_gaps: tuple[GapView, ...]
    grants: tuple[GrantView, ...]
    memberships: tuple[MembershipView, ...]


@dataclass(frozen=True, slots=True)
class GetAccountPermissions:
    """Current stored grants and memberships (open ledger intervals). `scopes` keeps those scopes; `database`
    keeps grants on that database and below. `observed_at` is the instance's last successful sync."""

    accounts: AccountLedgerReader

    async def execute(self, actor: Actor, account_id: int, *, scopes: frozenset[Scope] = frozenset(),
                      database: str | None = None) -> AccountPermissions:
        actor.require(Permission.ACCOUNTS_READ)
        account = await load_account(self.accounts, account_id)
        grants = [g for g in await self.accounts.grants_at(account_id)
                  if (not scopes or Scope(g.scope) in scopes)
                  and (database is None or (Scope(g.scope) in _DATABASE_SCOPES and g.object[:1] == (database,)))]
        memberships = await self.accounts.memberships_at(account_id)
        return AccountPermissions(account=account, observed_at=account.last_synced_at,
                                  coverage_gaps=account.coverage_gaps, grants=tuple(grants),
                                  memberships=tuple(memberships))


@dataclass(frozen=True, slots=True)
class ListAccountChanges:
    """One account's change log with `from` < observed_at ≤ `to` (both optional: the whole history)."""

    accounts: AccountLedgerReader
    clock: Clock

    async def execute(self, actor: Actor, account_id: int, *, since: datetime | None, until: datetime | None,
                      types: frozenset[str], page: PageRequest) -> Page[ChangeView]:
        actor.require(Permission.ACCOUNTS_READ)
        await load_account(self.accounts, account_id)
        start, end = check_window(since, until, now=self.clock.now(), default=None, maximum=None)
        return await self.accounts.changes(ChangeQuery(since=start, until=end, account_ids=frozenset({account_id}),
                                                       types=types), page)


@dataclass(frozen=True, slots=True)
class ListFleetChanges:
    """The fleet change log: `from` (exclusive) / `to` (inclusive), default the last 30 days, at most 366
    (wider → 400 `window_too_large`)."""

    accounts: AccountLedgerReader
    clock: Clock

    async def execute(self, actor: Actor, query: ChangeQuery | None, *, since: datetime | None,
                      until: datetime | None, page: PageRequest) -> Page[ChangeView]:
        actor.require(Permission.ACCOUNTS_READ)
        start, end = check_window(since, until, now=self.clock.now(), default=DEFAULT_WINDOW, maximum=MAX_WINDOW)
        base = query or ChangeQuery(since=start, until=end)
        return await self.accounts.changes(ChangeQuery(
            since=start, until=end, instance_ids=base.instance_ids, account_ids=base.account_ids,
            db_types=base.db_types, types=base.types, session_id=base.session_id, q=base.q), page)


@dataclass(frozen=True, slots=True)
class GetChange:
    """One change entry with its full diff; 404 when unknown."""

    accounts: AccountLedgerReader

    async def execute(self, actor: Actor, change_id: int) -> ChangeView:
        actor.require(Permission.ACCOUNTS_READ)
        change = await self.accounts.change(change_id)
        if change is None:
            raise NotFoundError("change", change_id)
        return change
