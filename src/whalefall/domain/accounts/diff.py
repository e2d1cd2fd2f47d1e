"""Snapshot diff (accounts.md §5.1): change entries, counters and the write plan of one sync."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from whalefall.domain.accounts.changes import (
    ChangeEntry,
    ChangeType,
    ItemDiff,
    RemovalReason,
    RenameHint,
    item_diff,
)
from whalefall.domain.accounts.filters import AccountFilter, apply_filters
from whalefall.domain.accounts.model import (
    CoverageGap,
    InstanceSnapshot,
    PrincipalRef,
    PrincipalState,
    canonical_grants,
    canonical_memberships,
    state_hash,
)
from whalefall.domain.privileges.names import Scope


@dataclass(frozen=True, slots=True, kw_only=True)
class StoredPrincipal:
    """What the ledger holds for one principal of the instance: its current (or, when inactive, last known)
    state, rebuilt with `model.state_from_document`, and its row flags. `state_hash`, when given, is the stored
    hash (saves rehashing); otherwise it is computed from `state`."""

    ref: PrincipalRef
    active: bool
    is_account: bool
    state: PrincipalState | None
    state_hash: str | None = None
    state_version_id: int | None = None
    deactivated_at: datetime | None = None

    def current_hash(self) -> str | None:
        if self.state_hash is not None:
            return self.state_hash
        return None if self.state is None else state_hash(self.state)


class Outcome(StrEnum):
    ADDED = "added"
    REACTIVATED = "reactivated"
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    REMOVED = "removed"
    CARRIED = "carried"


@dataclass(frozen=True, slots=True, kw_only=True)
class PrincipalWrite:
    """What to write for one principal. `new_version` opens a state version with `state`/`state_hash`;
    REMOVED closes the current one; a CHANGED principal without `new_version` only flips `is_account`."""

    ref: PrincipalRef
    outcome: Outcome
    is_account: bool
    active: bool
    state: PrincipalState | None
    state_hash: str | None
    new_version: bool
    reason: RemovalReason | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class WritePlan:
    """`writes` lists only principals needing row writes; `unchanged` (and carried) principals cost zero."""

    writes: tuple[PrincipalWrite, ...]
    unchanged: tuple[PrincipalRef, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class DiffCounters:
    """Record counters (accounts.md §4 step 5); reactivations count only in `accounts_reactivated`;
    `grants_*` count grant and membership items of privileges_granted / privileges_revoked entries."""

    principals_seen: int
    accounts_added: int
    accounts_removed: int
    accounts_reactivated: int
    accounts_changed: int
    accounts_unchanged: int
    grants_granted: int
    grants_revoked: int
    coverage_gaps: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SnapshotDiff:
    """Entries (one per principal and type, grouped by principal, types in §5.1 order), the write plan, the
    counters, and the snapshot as applied (filters and carry-forward done)."""

    entries: tuple[ChangeEntry, ...]
    plan: WritePlan
    counters: DiffCounters
    snapshot: InstanceSnapshot
    excluded: frozenset[PrincipalRef]


def net_diff(state_a: PrincipalState | None, state_b: PrincipalState | None) -> ItemDiff:
    """Item diff between two states of one principal (either may be absent); grant-then-revoke cancels out."""
    return item_diff(state_a, state_b)


def _in_gap_namespace(role: PrincipalRef, gap: CoverageGap) -> bool:
    # Only SQL Server database principals are namespaced by database; the whole database was unread.
    return gap.scope.order <= Scope.DATABASE.order and role.namespace != "" and role.namespace == gap.database


def _carry_forward(state: PrincipalState, old: PrincipalState, gaps: Iterable[CoverageGap]) -> PrincipalState:
    """Replace the items inside every gap's segment by the previous ones (unknown is not revoked)."""
    grants = list(state.grants)
    edges = list(state.memberships)
    attributes = dict(state.attributes)
    for gap in gaps:
        grants = [g for g in grants if not gap.holds(g.scope, g.object)]
        grants += [replace(g, principal=state.ref) for g in old.grants if gap.holds(g.scope, g.object)]
        edges = [e for e in edges if not _in_gap_namespace(e.role, gap)]
        edges += [replace(e, member=state.ref) for e in old.memberships if _in_gap_namespace(e.role, gap)]
        mappings, old_mappings = attributes.get("db_user_mappings"), old.attributes.get("db_user_mappings")
        if not isinstance(mappings, Mapping) and not isinstance(old_mappings, Mapping):
            continue
        merged = {k: v for k, v in mappings.items() if k != gap.database} if isinstance(mappings, Mapping) else {}
        if isinstance(old_mappings, Mapping) and gap.database in old_mappings:
            merged[gap.database] = old_mappings[gap.database]
        attributes["db_user_mappings"] = dict(sorted(merged.items()))
    return replace(state, attributes=attributes, grants=canonical_grants(grants),
                   memberships=canonical_memberships(edges))


def stale_principals(snapshot: InstanceSnapshot) -> frozenset[PrincipalRef]:
    """Principals whose state, as applied, holds items of an unread segment (the `grants_stale` list flag of
    accounts.md §6.1): a grant inside a coverage gap, a membership of a role of a gap database, a database-user
    mapping of a gap database, or the principal itself living in a gap database. Decision: those items can only
    have been carried forward (§5.1 step 2), so "stale" means "shown as last observed, not as read now"."""
    gaps = snapshot.coverage.gaps
    if not gaps:
        return frozenset()
    found: set[PrincipalRef] = set()
    for state in snapshot.principals:
        mappings = state.attributes.get("db_user_mappings")
        if any(_in_gap_namespace(state.ref, gap)
               or any(gap.holds(g.scope, g.object) for g in state.grants)
               or any(_in_gap_namespace(e.role, gap) for e in state.memberships)
               or (isinstance(mappings, Mapping) and gap.database in mappings) for gap in gaps):
            found.add(state.ref)
    return frozenset(found)


def _split(diff: ItemDiff) -> list[tuple[ChangeType, ItemDiff]]:
    parts = [
        (ChangeType.PRIVILEGES_GRANTED, ItemDiff(granted=diff.granted, memberships_added=diff.memberships_added)),
        (ChangeType.PRIVILEGES_REVOKED, ItemDiff(revoked=diff.revoked, memberships_removed=diff.memberships_removed)),
        (ChangeType.ATTRIBUTES_CHANGED, ItemDiff(attributes=diff.attributes)),
    ]
    return [(kind, part) for kind, part in parts if not part.is_empty]


def diff_snapshot(previous: Iterable[StoredPrincipal], snapshot: InstanceSnapshot,
                  filters: AccountFilter) -> SnapshotDiff:
    """Diff a fresh snapshot against the stored principals of its instance (accounts.md §5.1).

    Filters first; then carry-forward: inside each coverage gap the previous items replace the (missing) new
    ones and principals visible only through the gap stay as they were. Added / reactivated / removed
    (`filtered` when excluded, else `vanished`) follow; active principals with equal state hashes produce
    nothing and cost no write. A principal that stays as a filtered role node gets `removed` (`filtered`) while
    its row stays active with `is_account=false`. Rename hints pair an added and a vanished principal of one
    kind with equal `stable_id`. Raises ValueError when the filter is for another engine.
    """
    prev = {p.ref: p for p in previous}
    filtered = apply_filters(snapshot, filters)
    gaps = snapshot.coverage.gaps
    states: dict[PrincipalRef, PrincipalState] = {}
    carried: set[PrincipalRef] = set()
    for state in filtered.snapshot.principals:
        old = prev.get(state.ref)
        old_state = old.state if old is not None and old.active else None
        states[state.ref] = _carry_forward(state, old_state, gaps) if gaps and old_state is not None else state
    for ref, p in prev.items():
        if ref not in states and p.active and p.state is not None and any(_in_gap_namespace(ref, g) for g in gaps):
            states[ref] = p.state
            carried.add(ref)
    entries: list[ChangeEntry] = []
    writes: list[PrincipalWrite] = []
    unchanged: list[PrincipalRef] = []
    for ref in sorted(prev.keys() | states.keys(), key=lambda r: r.sort_key):
        old, new = prev.get(ref), states.get(ref)
        if new is None:
            if old is not None and old.active:
                reason = RemovalReason.FILTERED if ref in filtered.excluded else RemovalReason.VANISHED
                entries.append(ChangeEntry(
                    type=ChangeType.REMOVED, principal=ref, is_account=old.is_account, reason=reason,
                    last_state_version_id=old.state_version_id,
                    grant_count=len(old.state.grants) if old.state else 0,
                    membership_count=len(old.state.memberships) if old.state else 0,
                ))
                writes.append(PrincipalWrite(ref=ref, outcome=Outcome.REMOVED, is_account=old.is_account,
                                             active=False, state=None, state_hash=None, new_version=False,
                                             reason=reason))
            continue
        new_hash = state_hash(new)
        if ref in carried:
            unchanged.append(ref)
            continue
        if old is None or (old.active and new.is_account and not old.is_account):
            entries.append(ChangeEntry(type=ChangeType.ADDED, principal=ref, is_account=new.is_account,
                                       diff=item_diff(None, new)))
            outcome = Outcome.ADDED if old is None else Outcome.CHANGED
            writes.append(PrincipalWrite(ref=ref, outcome=outcome, is_account=new.is_account, active=True,
                                         state=new, state_hash=new_hash,
                                         new_version=old is None or old.current_hash() != new_hash))
            continue
        if not old.active:
            entries.append(ChangeEntry(type=ChangeType.REACTIVATED, principal=ref, is_account=new.is_account,
                                       absent_since=old.deactivated_at,
                                       previous_state_version_id=old.state_version_id))
            entries.extend(ChangeEntry(type=kind, principal=ref, is_account=new.is_account, diff=part)
                           for kind, part in _split(item_diff(old.state, new)))
            writes.append(PrincipalWrite(ref=ref, outcome=Outcome.REACTIVATED, is_account=new.is_account,
                                         active=True, state=new, state_hash=new_hash, new_version=True))
            continue
        demoted = old.is_account and not new.is_account
        if demoted:
            entries.append(ChangeEntry(
                type=ChangeType.REMOVED, principal=ref, is_account=True, reason=RemovalReason.FILTERED,
                last_state_version_id=old.state_version_id, grant_count=len(old.state.grants) if old.state else 0,
                membership_count=len(old.state.memberships) if old.state else 0,
            ))
        same = old.current_hash() == new_hash and (old.state is None or old.state.ref.kind is new.ref.kind)
        if not same:
            entries.extend(ChangeEntry(type=kind, principal=ref, is_account=new.is_account, diff=part)
                           for kind, part in _split(item_diff(old.state, new)))
        if same and not demoted:
            unchanged.append(ref)
        else:
            writes.append(PrincipalWrite(ref=ref, outcome=Outcome.UNCHANGED if same else Outcome.CHANGED,
                                         is_account=new.is_account, active=True, state=new, state_hash=new_hash,
                                         new_version=not same))
    entries = _with_rename_hints(entries, prev, states)
    entries.sort(key=lambda e: (e.principal.sort_key, e.type.order))
    applied = replace(filtered.snapshot, principals=tuple(states[r] for r in sorted(states, key=lambda r: r.sort_key)))
    return SnapshotDiff(entries=tuple(entries), plan=WritePlan(writes=tuple(writes), unchanged=tuple(unchanged)),
                        counters=_counters(snapshot, entries, states, unchanged), snapshot=applied,
                        excluded=filtered.excluded)


def _with_rename_hints(entries: list[ChangeEntry], prev: Mapping[PrincipalRef, StoredPrincipal],
                       states: Mapping[PrincipalRef, PrincipalState]) -> list[ChangeEntry]:
    added = {(e.principal.kind, states[e.principal].stable_id): e.principal for e in entries
             if e.type is ChangeType.ADDED and e.principal not in prev and states[e.principal].stable_id}
    hints: dict[PrincipalRef, RenameHint] = {}
    for e in entries:
        old_state = prev[e.principal].state if e.principal in prev else None
        if e.type is not ChangeType.REMOVED or e.reason is not RemovalReason.VANISHED or old_state is None:
            continue
        target = added.get((e.principal.kind, old_state.stable_id))
        if target is not None and old_state.stable_id:
            hint = RenameHint(e.principal, target)
            hints[e.principal] = hints[target] = hint
    return [replace(e, rename=hints[e.principal]) if e.principal in hints and e.type in
            (ChangeType.ADDED, ChangeType.REMOVED) else e for e in entries]


def _counters(snapshot: InstanceSnapshot, entries: list[ChangeEntry], states: Mapping[PrincipalRef, PrincipalState],
              unchanged: list[PrincipalRef]) -> DiffCounters:
    def accounts(kind: ChangeType) -> set[PrincipalRef]:
        return {e.principal for e in entries if e.type is kind and e.is_account}

    reactivated = accounts(ChangeType.REACTIVATED)
    added = accounts(ChangeType.ADDED)
    item_types = (ChangeType.PRIVILEGES_GRANTED, ChangeType.PRIVILEGES_REVOKED, ChangeType.ATTRIBUTES_CHANGED)
    changed = {e.principal for e in entries if e.type in item_types and e.is_account} - reactivated - added
    granted = [e for e in entries if e.type is ChangeType.PRIVILEGES_GRANTED and e.principal not in reactivated]
    revoked = [e for e in entries if e.type is ChangeType.PRIVILEGES_REVOKED and e.principal not in reactivated]
    return DiffCounters(
        principals_seen=len(snapshot.principals), accounts_added=len(added),
        accounts_removed=len(accounts(ChangeType.REMOVED)), accounts_reactivated=len(reactivated),
        accounts_changed=len(changed),
        accounts_unchanged=sum(1 for r in unchanged if states[r].is_account),
        grants_granted=sum(len(e.diff.granted) + len(e.diff.memberships_added) for e in granted),
        grants_revoked=sum(len(e.diff.revoked) + len(e.diff.memberships_removed) for e in revoked),
        coverage_gaps=len(snapshot.coverage.gaps),
    )
