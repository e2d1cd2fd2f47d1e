"""Change-log entry shapes (accounts.md §5.2) and the item diff of two principal states (§5.1 step 4)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final, assert_never

from whalefall.domain.accounts.model import (
    EDGE_FLAGS,
    AttrValue,
    GrantEffect,
    JsonValue,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    json_value,
    object_path,
)
from whalefall.domain.privileges.names import Scope

#: Diff payload version stored with each entry.
DIFF_VERSION: Final = 1


class ChangeType(StrEnum):
    ADDED = "added"
    REACTIVATED = "reactivated"
    REMOVED = "removed"
    PRIVILEGES_GRANTED = "privileges_granted"
    PRIVILEGES_REVOKED = "privileges_revoked"
    ATTRIBUTES_CHANGED = "attributes_changed"

    @property
    def order(self) -> int:
        return list(ChangeType).index(self)


class RemovalReason(StrEnum):
    VANISHED = "vanished"
    FILTERED = "filtered"


@dataclass(frozen=True, slots=True)
class FlagChange:
    """A flag's value on both sides; a missing side is None (a new grant has `before = None`)."""

    before: bool | None
    after: bool | None

    def to_json(self) -> dict[str, JsonValue]:
        return {"before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True, kw_only=True)
class GrantItem:
    privilege: str
    scope: Scope
    object: tuple[str, ...]
    object_kind: str | None
    effect: GrantEffect
    grant_option: FlagChange
    implicit: bool

    @property
    def sort_key(self) -> tuple[int, tuple[str, ...], str, str]:
        return (self.scope.order, self.object, self.privilege, self.effect.value)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "privilege": self.privilege, "scope": self.scope.value, "object": list(self.object),
            "object_path": object_path(self.object), "object_kind": self.object_kind, "effect": self.effect.value,
            "grant_option": self.grant_option.to_json(), "implicit": self.implicit,
        }


@dataclass(frozen=True, slots=True)
class MembershipItem:
    """A membership that appeared/disappeared (every flag, one side None) or whose flags moved one way."""

    role: PrincipalRef
    flags: tuple[tuple[str, FlagChange], ...]

    def to_json(self) -> dict[str, JsonValue]:
        return {"role": self.role.to_json(), "flags": {name: change.to_json() for name, change in self.flags}}


@dataclass(frozen=True, slots=True)
class AttributeItem:
    field: str
    before: JsonValue
    after: JsonValue

    def to_json(self) -> dict[str, JsonValue]:
        return {"field": self.field, "before": self.before, "after": self.after}


@dataclass(frozen=True, slots=True, kw_only=True)
class ItemDiff:
    """The `{granted, revoked, memberships_added, memberships_removed, attributes}` shape shared by change
    entries and `net_diff`; items sorted by (scope order, object, privilege) / role / field."""

    granted: tuple[GrantItem, ...] = ()
    revoked: tuple[GrantItem, ...] = ()
    memberships_added: tuple[MembershipItem, ...] = ()
    memberships_removed: tuple[MembershipItem, ...] = ()
    attributes: tuple[AttributeItem, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.granted or self.revoked or self.memberships_added or self.memberships_removed
                    or self.attributes)

    def to_json(self) -> dict[str, JsonValue]:
        return {
            "granted": [i.to_json() for i in self.granted], "revoked": [i.to_json() for i in self.revoked],
            "memberships_added": [i.to_json() for i in self.memberships_added],
            "memberships_removed": [i.to_json() for i in self.memberships_removed],
            "attributes": [i.to_json() for i in self.attributes],
        }


@dataclass(frozen=True, slots=True)
class RenameHint:
    """An added and a vanished principal of one kind share a `stable_id`; identity stays name-based."""

    from_ref: PrincipalRef
    to_ref: PrincipalRef


@dataclass(frozen=True, slots=True, kw_only=True)
class ChangeEntry:
    """One change-log entry of one principal. Ids (entry, principal, session, record, state versions) are
    assigned by the application; `last_state_version_id` / `previous_state_version_id` come from the input."""

    type: ChangeType
    principal: PrincipalRef
    is_account: bool
    diff: ItemDiff = ItemDiff()
    reason: RemovalReason | None = None
    grant_count: int | None = None
    membership_count: int | None = None
    last_state_version_id: int | None = None
    previous_state_version_id: int | None = None
    absent_since: datetime | None = None
    rename: RenameHint | None = None

    def diff_json(self, *, state_version_id: int | None = None) -> dict[str, JsonValue]:
        """The stored/served diff object: the five item keys always, plus this type's own keys."""
        doc = self.diff.to_json()
        match self.type:
            case ChangeType.ADDED:
                doc["state_version_id"] = state_version_id
            case ChangeType.REMOVED:
                doc["reason"] = None if self.reason is None else self.reason.value
                doc["last_state_version_id"] = self.last_state_version_id
                doc["grant_count"] = self.grant_count
                doc["membership_count"] = self.membership_count
            case ChangeType.REACTIVATED:
                doc["absent_since"] = json_value(self.absent_since)
                doc["previous_state_version_id"] = self.previous_state_version_id
            case ChangeType.PRIVILEGES_GRANTED | ChangeType.PRIVILEGES_REVOKED | ChangeType.ATTRIBUTES_CHANGED:
                pass
            case _ as unreachable:
                assert_never(unreachable)
        if self.rename is not None:
            doc["rename"] = {"from": self.rename.from_ref.to_json(), "to": self.rename.to_ref.to_json()}
        return doc

    @property
    def summary(self) -> str:
        """Generated English text, for display only."""
        ref = self.principal
        name = f"{ref.namespace}.{ref.key}" if ref.namespace else ref.key
        d = self.diff
        match self.type:
            case ChangeType.ADDED:
                return f"{name} added with {len(d.granted)} grant(s) and {len(d.memberships_added)} role(s)"
            case ChangeType.REACTIVATED:
                return f"{name} reappeared"
            case ChangeType.REMOVED:
                return f"{name} removed ({self.reason.value if self.reason else 'vanished'})"
            case ChangeType.PRIVILEGES_GRANTED:
                return f"{name} gained {len(d.granted)} privilege item(s) and {len(d.memberships_added)} role item(s)"
            case ChangeType.PRIVILEGES_REVOKED:
                return (f"{name} lost {len(d.revoked)} privilege item(s) and "
                        f"{len(d.memberships_removed)} role item(s)")
            case ChangeType.ATTRIBUTES_CHANGED:
                return f"{name}: {', '.join(a.field for a in d.attributes)} changed"
            case _ as unreachable:
                assert_never(unreachable)


def _grant_item(g: PrivilegeGrant, before: bool | None, after: bool | None) -> GrantItem:
    return GrantItem(privilege=g.privilege, scope=g.scope, object=g.object, object_kind=g.object_kind,
                     effect=g.effect, grant_option=FlagChange(before, after), implicit=g.implicit)


def _edge_item(e: RoleMembership, *, appeared: bool) -> MembershipItem:
    return MembershipItem(e.role, tuple(
        (name, FlagChange(None, e.flag(name)) if appeared else FlagChange(e.flag(name), None)) for name in EDGE_FLAGS
    ))


def _leaves(attributes: Mapping[str, AttrValue]) -> Iterator[tuple[str, JsonValue]]:
    for name, value in attributes.items():
        if isinstance(value, Mapping):
            for sub, leaf in value.items():
                yield f"{name}.{sub}", leaf
        else:
            yield name, json_value(value)


def attribute_items(old: Mapping[str, AttrValue], new: Mapping[str, AttrValue]) -> list[AttributeItem]:
    """Attribute differences per leaf path (maps descend: `db_user_mappings.FinanceDW`), compared as typed JSON."""
    before, after = dict(_leaves(old)), dict(_leaves(new))
    if not before or not after:  # one side absent (added / removed principal): every leaf of the other differs
        return [AttributeItem(f, before.get(f), after.get(f)) for f in sorted(before or after)]
    return [AttributeItem(f, before.get(f), after.get(f)) for f in sorted(before.keys() | after.keys())
            if before.get(f) != after.get(f) or (f in before) != (f in after)]


def item_diff(old: PrincipalState | None, new: PrincipalState | None, *, attributes: bool = True) -> ItemDiff:
    """Grants and memberships compared by key; a flag that went false→true is a granted/added item, true→false
    a revoked/removed item (None counts as false); `implicit` changes are attribute items. Either side may be
    None (absent)."""
    old_grants = {g.key: g for g in (old.grants if old else ())}
    new_grants = {g.key: g for g in (new.grants if new else ())}
    granted: list[GrantItem] = []
    revoked: list[GrantItem] = []
    attrs: list[AttributeItem] = []
    for key, g in new_grants.items():
        was = old_grants.get(key)
        if was is None:
            granted.append(_grant_item(g, None, g.grant_option))
            continue
        if g.grant_option and not was.grant_option:
            granted.append(_grant_item(g, False, True))
        elif was.grant_option and not g.grant_option:
            revoked.append(_grant_item(g, True, False))
        if was.implicit != g.implicit:
            attrs.append(AttributeItem(f"grants[{g.scope.value}:{object_path(g.object)}:{g.privilege}:"
                                       f"{g.effect.value}].implicit", was.implicit, g.implicit))
    revoked.extend(_grant_item(g, g.grant_option, None) for key, g in old_grants.items() if key not in new_grants)
    old_edges = {e.role: e for e in (old.memberships if old else ())}
    new_edges = {e.role: e for e in (new.memberships if new else ())}
    added: list[MembershipItem] = []
    removed: list[MembershipItem] = []
    for role, e in new_edges.items():
        was_edge = old_edges.get(role)
        if was_edge is None:
            added.append(_edge_item(e, appeared=True))
            continue
        up = tuple((n, FlagChange(was_edge.flag(n), e.flag(n))) for n in EDGE_FLAGS
                   if bool(e.flag(n)) and not bool(was_edge.flag(n)))
        down = tuple((n, FlagChange(was_edge.flag(n), e.flag(n))) for n in EDGE_FLAGS
                     if bool(was_edge.flag(n)) and not bool(e.flag(n)))
        if up:
            added.append(MembershipItem(role, up))
        if down:
            removed.append(MembershipItem(role, down))
        if was_edge.implicit != e.implicit:
            label = f"{role.namespace}.{role.key}" if role.namespace else role.key
            attrs.append(AttributeItem(f"memberships[{label}].implicit", was_edge.implicit, e.implicit))
    removed.extend(_edge_item(e, appeared=False) for role, e in old_edges.items() if role not in new_edges)
    if attributes:
        attrs.extend(attribute_items(old.attributes if old else {}, new.attributes if new else {}))
        if old is not None and new is not None and old.ref.kind is not new.ref.kind:
            attrs.append(AttributeItem("kind", old.ref.kind.value, new.ref.kind.value))
    return ItemDiff(
        granted=tuple(sorted(granted, key=lambda i: i.sort_key)),
        revoked=tuple(sorted(revoked, key=lambda i: i.sort_key)),
        memberships_added=tuple(sorted(added, key=lambda i: i.role.sort_key)),
        memberships_removed=tuple(sorted(removed, key=lambda i: i.role.sort_key)),
        attributes=tuple(sorted(attrs, key=lambda i: i.field)),
    )
