"""Ledger queries over time (accounts.md §6.2, §7): state at an instant, net diff, timeline, holders, effective."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from whalefall.application.accounts.purge_account_history import NO_RETENTION, LedgerRetention
from whalefall.application.accounts.queries import load_account
from whalefall.application.ports.accounts import (
    AccountLedgerReader,
    AccountView,
    ChangeView,
    GrantView,
    HolderQuery,
    MembershipView,
    StateAtInstant,
)
from whalefall.application.ports.clock import Clock
from whalefall.application.shared.actor import Actor
from whalefall.application.shared.paging import Page, PageRequest
from whalefall.domain.accounts.changes import ItemDiff
from whalefall.domain.accounts.diff import net_diff
from whalefall.domain.accounts.effective import EffectiveGrant, EffectivePath, resolve_effective
from whalefall.domain.accounts.model import JsonValue, PrincipalRef, PrincipalState, state_from_document
from whalefall.domain.errors import Problem, ValidationProblemsError
from whalefall.domain.identity.roles import Permission
from whalefall.domain.instances import Flavor
from whalefall.domain.privileges.names import Scope

KNOWN: Final = "known"
ABSENT: Final = "absent"
UNKNOWN: Final = "unknown"


@dataclass(frozen=True, slots=True, kw_only=True)
class StateAt:
    """`status` known | absent | unknown with `reason` (never_synced, before_first_observation, outside_retention,
    not_yet_observed, deactivated); `observed_at` is the valid_from of the version found."""

    account: AccountView
    at: datetime
    status: str
    reason: str | None
    observed_at: datetime | None
    last_successful_sync_at: datetime | None
    attributes: Mapping[str, JsonValue] | None
    grants: tuple[GrantView, ...] | None
    memberships: tuple[MembershipView, ...] | None
    state: PrincipalState | None


def _not_future(at: datetime, now: datetime, field_path: str) -> None:
    if at > now:
        raise ValidationProblemsError([Problem(field_path, "too_large", "must not be in the future")])


async def state_at(accounts: AccountLedgerReader, account: AccountView, at: datetime, *,
                   cutoff: datetime | None = None) -> StateAt:
    """The state version with valid_from ≤ at < valid_to; `unknown` before the instance's first observation or
    when it had no successful sync by then, and (reason `outside_retention`) before the ledger retention
    `cutoff`; `absent` when the account did not exist or was deactivated at `at`."""
    if cutoff is not None and at < cutoff:
        return StateAt(account=account, at=at, status=UNKNOWN, reason="outside_retention", observed_at=None,
                       last_successful_sync_at=None, attributes=None, grants=None, memberships=None, state=None)
    first = await accounts.first_observed_at(account.instance.id)
    last_sync = await accounts.last_sync_at_or_before(account.instance.id, at)
    if first is None or last_sync is None or at < first:
        reason = "never_synced" if first is None else "before_first_observation"
        return StateAt(account=account, at=at, status=UNKNOWN, reason=reason, observed_at=None,
                       last_successful_sync_at=last_sync, attributes=None, grants=None, memberships=None,
                       state=None)
    version = await accounts.version_at(account.id, at)
    if version is None:
        reason = "not_yet_observed" if at < account.first_seen_at else "deactivated"
        return StateAt(account=account, at=at, status=ABSENT, reason=reason, observed_at=None,
                       last_successful_sync_at=last_sync, attributes=None, grants=None, memberships=None,
                       state=None)
    state = state_from_document(account.ref, version.state, is_account=account.is_account)
    attributes = version.state.get("attributes")
    return StateAt(account=account, at=at, status=KNOWN, reason=None, observed_at=version.valid_from,
                   last_successful_sync_at=last_sync,
                   attributes=attributes if isinstance(attributes, dict) else {},
                   grants=tuple(await accounts.grants_at(account.id, at)),
                   memberships=tuple(await accounts.memberships_at(account.id, at)), state=state)


@dataclass(frozen=True, slots=True)
class GetAccountStateAt:
    """The account as it was at `at` (not in the future → else 400); before the `ledger.retention_days` cut-off
    the status is `unknown` with reason `outside_retention`."""

    accounts: AccountLedgerReader
    clock: Clock
    retention: LedgerRetention = NO_RETENTION

    async def execute(self, actor: Actor, account_id: int, at: datetime) -> StateAt:
        actor.require(Permission.ACCOUNTS_READ)
        _not_future(at, self.clock.now(), "query.at")
        return await state_at(self.accounts, await load_account(self.accounts, account_id), at,
                              cutoff=self.retention.cutoff())


@dataclass(frozen=True, slots=True, kw_only=True)
class NetDiff:
    account: AccountView
    since: datetime
    until: datetime
    status_from: str
    status_to: str
    diff: ItemDiff


@dataclass(frozen=True, slots=True)
class GetNetDiff:
    """The §5.1 item diff between the states at `from` and `to` (`from < to`, else 400 `invalid_range`): a grant
    given and revoked in between cancels out; an absent or unknown side (`outside_retention` included) counts as
    no state."""

    accounts: AccountLedgerReader
    retention: LedgerRetention = NO_RETENTION

    async def execute(self, actor: Actor, account_id: int, since: datetime, until: datetime) -> NetDiff:
        actor.require(Permission.ACCOUNTS_READ)
        if since >= until:
            raise ValidationProblemsError([Problem("query.from", "invalid_range", "from must be before to")])
        account = await load_account(self.accounts, account_id)
        cutoff = self.retention.cutoff()
        before = await state_at(self.accounts, account, since, cutoff=cutoff)
        after = await state_at(self.accounts, account, until, cutoff=cutoff)
        return NetDiff(account=account, since=since, until=until, status_from=before.status, status_to=after.status,
                       diff=net_diff(before.state, after.state))


@dataclass(frozen=True, slots=True, kw_only=True)
class TimelineEntry:
    valid_from: datetime
    valid_to: datetime | None
    state_hash: str
    changes: tuple[ChangeView, ...]


@dataclass(frozen=True, slots=True)
class GetAccountTimeline:
    """State versions (oldest first) with the change entries observed during each version's life (from its
    valid_from up to the next version's): the entries that opened it and, for a removal, the one that closed it."""

    accounts: AccountLedgerReader

    async def execute(self, actor: Actor, account_id: int, page: PageRequest) -> Page[TimelineEntry]:
        actor.require(Permission.ACCOUNTS_READ)
        await load_account(self.accounts, account_id)
        versions = await self.accounts.versions(account_id, page)
        items = []
        for index, version in enumerate(versions.items):
            following = versions.items[index + 1].valid_from if index + 1 < len(versions.items) else None
            if following is None and version.valid_to is not None:
                nxt = await self.accounts.versions(account_id, PageRequest(page=versions.page * versions.limit + 1,
                                                                           limit=1, sort=page.sort))
                following = nxt.items[0].valid_from if nxt.items else None
            changes = await self.accounts.changes_of(account_id, version.valid_from, following)
            items.append(TimelineEntry(valid_from=version.valid_from, valid_to=version.valid_to,
                                       state_hash=version.state_hash, changes=tuple(changes)))
        return Page(tuple(items), versions.total, versions.page, versions.limit)


def _states(snapshot: StateAtInstant) -> tuple[list[PrincipalState], dict[PrincipalRef, tuple[int, bool]]]:
    states = [state_from_document(ref, doc, is_account=is_account) for _, ref, is_account, doc in snapshot.states]
    ids = {ref: (pid, is_account) for pid, ref, is_account, _ in snapshot.states}
    return states, ids


def _flavor(text: str | None) -> Flavor | None:
    try:
        return Flavor(text) if text else None
    except ValueError:
        return None


@dataclass(frozen=True, slots=True, kw_only=True)
class EffectiveAt:
    account: AccountView
    as_of: datetime
    items: tuple[EffectiveGrant, ...]
    denied: tuple[EffectiveGrant, ...]


@dataclass(frozen=True, slots=True)
class GetEffectivePrivileges:
    """Section 7 over the states of ALL principals of the instance at `at` (default now): direct grants, role
    grants with their paths, PUBLIC. Filters: `privilege`, `scope`, `database` (grants on it and below). An account
    absent at `at` has no effective privileges."""

    accounts: AccountLedgerReader
    clock: Clock

    async def execute(self, actor: Actor, account_id: int, *, at: datetime | None = None,
                      privilege: str | None = None, scope: Scope | None = None,
                      database: str | None = None) -> EffectiveAt:
        actor.require(Permission.ACCOUNTS_READ)
        now = self.clock.now()
        when = at or now
        _not_future(when, now, "query.at")
        account = await load_account(self.accounts, account_id)
        snapshot = await self.accounts.states_at(account.instance.id, when)
        states, ids = _states(snapshot) if snapshot else ([], {})
        if snapshot is None or account.ref not in ids:
            return EffectiveAt(account=account, as_of=when, items=(), denied=())
        resolved = resolve_effective(states, account.ref, engine=snapshot.engine, flavor=_flavor(snapshot.flavor),
                                     settings=snapshot.settings)

        def keep(g: EffectiveGrant) -> bool:
            return ((privilege is None or g.privilege == privilege.upper()) and (scope is None or g.scope is scope)
                    and (database is None or (g.scope is not Scope.GLOBAL and g.object[:1] == (database,))))

        return EffectiveAt(account=account, as_of=when, items=tuple(filter(keep, resolved.grants)),
                           denied=tuple(filter(keep, resolved.denied)))


@dataclass(frozen=True, slots=True, kw_only=True)
class Holder:
    account: AccountView
    grant: GrantView | None
    paths: tuple[EffectivePath, ...] | None


@dataclass(frozen=True, slots=True)
class FindHolders:
    """Who held `privilege` on `scope` (and `object_path`) at `at` (default now). Stored grants by default (role
    and PUBLIC holders included, as their own rows); `effective=true` resolves section 7 over the states at `at`
    for the accounts of the instances where anyone held it, listing each account once with its paths."""

    accounts: AccountLedgerReader
    clock: Clock

    async def execute(self, actor: Actor, query: HolderQuery, *, effective: bool, page: PageRequest) -> Page[Holder]:
        actor.require(Permission.ACCOUNTS_READ)
        _not_future(query.at, self.clock.now(), "query.at")
        holders = await (self._effective(query) if effective else self._stored(query))
        start = page.offset
        return Page(tuple(holders[start:start + page.limit]), len(holders), page.page, page.limit)

    async def _stored(self, query: HolderQuery) -> list[Holder]:
        grants = await self.accounts.holders(query)
        accounts = await self.accounts.accounts_by_ids([g.principal_id for g in grants])
        return [Holder(account=accounts[g.principal_id], grant=g, paths=None) for g in grants
                if g.principal_id in accounts]

    async def _effective(self, query: HolderQuery) -> list[Holder]:
        found: list[tuple[int, tuple[EffectivePath, ...]]] = []
        for instance_id in await self.accounts.instance_ids_with_privilege(query.privilege, query.scope, query.at,
                                                                           query.instance_ids):
            snapshot = await self.accounts.states_at(instance_id, query.at)
            if snapshot is None:
                continue
            states, ids = _states(snapshot)
            for state in states:
                if not state.is_account:
                    continue
                resolved = resolve_effective(states, state.ref, engine=snapshot.engine,
                                             flavor=_flavor(snapshot.flavor), settings=snapshot.settings)
                paths = tuple(p for g in resolved.grants if g.privilege == query.privilege
                              and g.scope.value == query.scope
                              and (query.object_path is None or g.object_path == query.object_path) for p in g.paths)
                if paths:
                    found.append((ids[state.ref][0], paths))
        accounts = await self.accounts.accounts_by_ids([pid for pid, _ in found])
        return [Holder(account=accounts[pid], grant=None, paths=paths) for pid, paths in found if pid in accounts]
