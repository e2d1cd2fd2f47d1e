"""Bodies of the accounts routes (api.md §2 Account, Grant, Membership, EffectivePrivilege, Change; §3.8)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

import msgspec
from msgspec import Meta

from whalefall.application.accounts.history import EffectiveAt, Holder, NetDiff, StateAt, TimelineEntry
from whalefall.application.accounts.queries import AccountPermissions
from whalefall.application.ports.accounts import AccountView, ChangeView, GapView, GrantView, MembershipView
from whalefall.application.ports.sessions import SessionView
from whalefall.domain.accounts.effective import EffectiveGrant, EffectivePath
from whalefall.domain.instances import DbEngine


class InstanceBriefOut(msgspec.Struct, kw_only=True):
    id: int
    name: str
    db_type: DbEngine


class GapOut(msgspec.Struct, kw_only=True):
    database: str
    reason: str
    stale_since: datetime | None

    @classmethod
    def of(cls, g: GapView) -> GapOut:
        return cls(database=g.database, reason=g.reason, stale_since=g.stale_since)


class AccountClassificationOut(msgspec.Struct, kw_only=True):
    id: int
    code: str
    display_name: str
    is_primary: bool
    source: str


class AccountClassificationErrorOut(msgspec.Struct, kw_only=True):
    rule_id: int | None
    rule_revision: int | None
    code: str
    path: str
    message: str


class AccountOut(msgspec.Struct, kw_only=True):
    id: int
    instance: InstanceBriefOut
    kind: str
    namespace: str
    key: str
    is_active: bool
    login_capable: bool
    is_locked: bool
    is_superuser: bool
    password_expired: bool
    attributes: dict[str, Any]
    roles: list[str]
    first_seen_at: datetime
    deactivated_at: datetime | None
    deactivation_reason: str | None
    last_changed_at: datetime | None
    last_synced_at: datetime | None
    coverage_gaps: list[GapOut]
    grants_stale: bool
    classifications: list[AccountClassificationOut]
    classification_errors: list[AccountClassificationErrorOut]

    @classmethod
    def of(cls, a: AccountView) -> AccountOut:
        return cls(id=a.id, instance=InstanceBriefOut(id=a.instance.id, name=a.instance.name,
                                                      db_type=a.instance.db_type),
                   kind=a.kind.value, namespace=a.namespace, key=a.key, is_active=a.is_active,
                   login_capable=a.login_capable, is_locked=a.is_locked, is_superuser=a.is_superuser,
                   password_expired=a.password_expired, attributes=dict(a.attributes), roles=list(a.roles),
                   first_seen_at=a.first_seen_at, deactivated_at=a.deactivated_at,
                   deactivation_reason=a.deactivation_reason, last_changed_at=a.last_changed_at,
                   last_synced_at=a.last_synced_at, coverage_gaps=[GapOut.of(g) for g in a.coverage_gaps],
                   grants_stale=a.grants_stale,
                   classifications=[AccountClassificationOut(id=c.id, code=c.code, display_name=c.display_name,
                                                             is_primary=c.is_primary, source=c.source)
                                    for c in a.classifications],
                   classification_errors=[AccountClassificationErrorOut(
                       rule_id=e.rule_id, rule_revision=e.rule_revision, code=e.code, path=e.path, message=e.message)
                       for e in a.classification_errors])


class GrantOut(msgspec.Struct, kw_only=True):
    privilege: str
    scope: str
    object: list[str]
    object_path: str
    object_kind: str | None
    effect: str
    grant_option: bool
    implicit: bool
    pattern: bool
    grantor: str | None
    valid_from: datetime

    @classmethod
    def of(cls, g: GrantView) -> GrantOut:
        return cls(privilege=g.privilege, scope=g.scope, object=list(g.object), object_path=g.object_path,
                   object_kind=g.object_kind, effect=g.effect, grant_option=g.grant_option, implicit=g.implicit,
                   pattern=g.pattern, grantor=g.grantor, valid_from=g.valid_from)


class RoleRefOut(msgspec.Struct, kw_only=True):
    kind: str
    namespace: str
    key: str


class MembershipOut(msgspec.Struct, kw_only=True):
    role: RoleRefOut
    admin_option: bool
    inherit: bool
    set: bool
    default: bool | None
    delegate_option: bool
    implicit: bool
    valid_from: datetime

    @classmethod
    def of(cls, m: MembershipView) -> MembershipOut:
        return cls(role=RoleRefOut(kind=m.role.kind.value, namespace=m.role.namespace, key=m.role.key),
                   admin_option=m.admin_option, inherit=m.inherit, set=m.set, default=m.default,
                   delegate_option=m.delegate_option, implicit=m.implicit, valid_from=m.valid_from)


class PermissionsOut(msgspec.Struct, kw_only=True):
    account: AccountOut
    observed_at: datetime | None
    coverage_gaps: list[GapOut]
    attributes: dict[str, Any]
    grants: list[GrantOut]
    memberships: list[MembershipOut]

    @classmethod
    def of(cls, p: AccountPermissions) -> PermissionsOut:
        return cls(account=AccountOut.of(p.account), observed_at=p.observed_at,
                   coverage_gaps=[GapOut.of(g) for g in p.coverage_gaps], attributes=dict(p.account.attributes),
                   grants=[GrantOut.of(g) for g in p.grants], memberships=[MembershipOut.of(m) for m in p.memberships])


class PathOut(msgspec.Struct, kw_only=True):
    source: str
    path: list[str]
    mode: str
    implicit: bool
    requires_authentication: bool

    @classmethod
    def of(cls, p: EffectivePath) -> PathOut:
        return cls(source=p.source, path=list(p.path), mode=p.mode.value, implicit=p.implicit,
                   requires_authentication=p.requires_authentication)


class EffectivePrivilegeOut(msgspec.Struct, kw_only=True):
    privilege: str
    scope: str
    object: list[str]
    object_path: str
    grant_option: bool
    effect: str
    paths: list[PathOut]

    @classmethod
    def of(cls, g: EffectiveGrant) -> EffectivePrivilegeOut:
        return cls(privilege=g.privilege, scope=g.scope.value, object=list(g.object), object_path=g.object_path,
                   grant_option=g.grant_option, effect=g.effect.value, paths=[PathOut.of(p) for p in g.paths])


class EffectiveOut(msgspec.Struct, kw_only=True):
    account: AccountOut
    as_of: datetime
    items: list[EffectivePrivilegeOut]
    denied: list[EffectivePrivilegeOut]

    @classmethod
    def of(cls, e: EffectiveAt) -> EffectiveOut:
        return cls(account=AccountOut.of(e.account), as_of=e.as_of,
                   items=[EffectivePrivilegeOut.of(g) for g in e.items],
                   denied=[EffectivePrivilegeOut.of(g) for g in e.denied])


class StateOut(msgspec.Struct, kw_only=True):
    account: AccountOut
    at: datetime
    status: str
    reason: str | None
    observed_at: datetime | None
    last_successful_sync_at: datetime | None
    attributes: dict[str, Any] | None
    grants: list[GrantOut] | None
    memberships: list[MembershipOut] | None

    @classmethod
    def of(cls, s: StateAt) -> StateOut:
        return cls(account=AccountOut.of(s.account), at=s.at, status=s.status, reason=s.reason,
                   observed_at=s.observed_at, last_successful_sync_at=s.last_successful_sync_at,
                   attributes=dict(s.attributes) if s.attributes is not None else None,
                   grants=[GrantOut.of(g) for g in s.grants] if s.grants is not None else None,
                   memberships=[MembershipOut.of(m) for m in s.memberships] if s.memberships is not None else None)


class DiffOut(msgspec.Struct, kw_only=True, rename={"since": "from", "until": "to"}):
    account: AccountOut
    since: datetime
    until: datetime
    status_from: str
    status_to: str
    granted: list[dict[str, Any]]
    revoked: list[dict[str, Any]]
    memberships_added: list[dict[str, Any]]
    memberships_removed: list[dict[str, Any]]
    attributes: list[dict[str, Any]]

    @classmethod
    def of(cls, d: NetDiff) -> DiffOut:
        body: dict[str, Any] = d.diff.to_json()
        return cls(account=AccountOut.of(d.account), since=d.since, until=d.until, status_from=d.status_from,
                   status_to=d.status_to, granted=body["granted"], revoked=body["revoked"],
                   memberships_added=body["memberships_added"], memberships_removed=body["memberships_removed"],
                   attributes=body["attributes"])


class ChangeOut(msgspec.Struct, kw_only=True):
    id: int
    instance_id: int
    account_id: int
    type: str
    observed_at: datetime
    record_id: int
    session_id: str
    diff_version: int
    diff: dict[str, Any]
    summary: str

    @classmethod
    def of(cls, c: ChangeView) -> ChangeOut:
        return cls(id=c.id, instance_id=c.instance_id, account_id=c.account_id, type=c.type,
                   observed_at=c.observed_at, record_id=c.record_id, session_id=c.session_id,
                   diff_version=c.diff_version, diff=dict(c.diff), summary=c.summary)


class TimelineEntryOut(msgspec.Struct, kw_only=True):
    valid_from: datetime
    valid_to: datetime | None
    state_hash: str
    changes: list[ChangeOut]

    @classmethod
    def of(cls, t: TimelineEntry) -> TimelineEntryOut:
        return cls(valid_from=t.valid_from, valid_to=t.valid_to, state_hash=t.state_hash,
                   changes=[ChangeOut.of(c) for c in t.changes])


class HolderOut(msgspec.Struct, kw_only=True):
    account: AccountOut
    grant: GrantOut | None
    paths: list[PathOut] | None

    @classmethod
    def of(cls, h: Holder) -> HolderOut:
        return cls(account=AccountOut.of(h.account), grant=GrantOut.of(h.grant) if h.grant else None,
                   paths=[PathOut.of(p) for p in h.paths] if h.paths is not None else None)


InstanceIds = Annotated[list[Annotated[int, Meta(ge=1)]], Meta(max_length=5000)]
Names = Annotated[list[str], Meta(max_length=100)]


class SelectionIn(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """api.md §1.13 Selection of fleet actions."""

    instance_ids: InstanceIds | None = None
    db_types: list[DbEngine] | None = None
    tags_any: Names | None = None
    tags_all: Names | None = None


class SessionReceiptOut(msgspec.Struct, kw_only=True):
    """Session receipt of a queued action (api.md §1.13)."""

    session_id: str
    kind: str
    scope: str
    status: str
    record_count: int
    status_url: str

    @classmethod
    def of(cls, s: SessionView) -> SessionReceiptOut:
        return cls(session_id=s.id, kind=s.kind.value, scope=s.scope.value, status=s.status.value,
                   record_count=s.total, status_url=f"/api/v1/sync-sessions/{s.id}")
