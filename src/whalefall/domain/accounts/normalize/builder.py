"""Shared assembly of an `InstanceSnapshot` from normalised pieces, and the catalog visibility guard."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import ClassVar, Final

from whalefall.domain.accounts.model import (
    AttrValue,
    Coverage,
    CoverageGap,
    GrantEffect,
    InstanceSnapshot,
    PrincipalRef,
    PrincipalState,
    PrivilegeGrant,
    RoleMembership,
    SnapshotWarning,
    canonical_grants,
    canonical_memberships,
)
from whalefall.domain.accounts.rows.common import CatalogMeta
from whalefall.domain.errors import InvalidStateError
from whalefall.domain.instances import DbEngine, Flavor
from whalefall.domain.privileges.names import Scope


class CatalogVisibilityError(InvalidStateError):
    """The catalog returned no principal, or not the collector's own: the collector cannot see the catalog, so
    nothing may be applied (and no account deactivated). The connector taxonomy class is PERMISSION_DENIED."""

    code = "CATALOG_VISIBILITY"
    default_message = "The collector cannot see the instance's principals"

    def __init__(self, collector: str, principal_count: int) -> None:
        text = (f"the catalog returned no principals (collector {collector!r})" if principal_count == 0
                else f"the collector's own principal {collector!r} is not among the {principal_count} principals")
        super().__init__(text, context={"collector": collector, "principal_count": principal_count})
        self.collector = collector
        self.principal_count = principal_count


def base_attributes() -> dict[str, AttrValue]:
    """The canonical attributes of accounts.md §1.2, present on every principal so facts see one shape."""
    return {
        "login_capable": False, "locked": False, "lock_reasons": (), "password_expired": False,
        "password_changed_at": None, "password_lifetime_days": None, "valid_until": None, "auth_method": None,
        "has_empty_password": None, "connection_limit": None,
    }


def utc(value: datetime | None) -> datetime | None:
    """Timestamps are UTC; a naive one is read as UTC (the connector contract)."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_VERSION: Final = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


def version_tuple(text: str) -> tuple[int, int, int]:
    """(major, minor, patch) of a version string; MariaDB's `5.5.5-` replication prefix is skipped."""
    found = [(int(a), int(b), int(c or 0)) for a, b, c in _VERSION.findall(text)]
    if len(found) > 1 and found[0] == (5, 5, 5):
        return found[1]
    return found[0] if found else (0, 0, 0)


class SnapshotBuilder:
    """Collects principals, grants and edges keyed by ref; unknown holders are dropped with a counted warning."""

    MAX_WARNINGS: ClassVar[int] = 50

    def __init__(self, *, engine: DbEngine, flavor: Flavor | None, meta: CatalogMeta, server_version: str,
                 settings: Mapping[str, AttrValue]) -> None:
        self._engine = engine
        self._flavor = flavor
        self._meta = meta
        self._server_version = server_version
        self._settings = dict(settings)
        self._principals: dict[PrincipalRef, tuple[bool, dict[str, AttrValue]]] = {}
        self._grants: defaultdict[PrincipalRef, list[PrivilegeGrant]] = defaultdict(list)
        self._edges: defaultdict[PrincipalRef, list[RoleMembership]] = defaultdict(list)
        self._gaps: list[CoverageGap] = []
        self._warnings: list[SnapshotWarning] = []
        self._ignored: Counter[str] = Counter()

    def add(self, ref: PrincipalRef, *, is_account: bool, attributes: Mapping[str, AttrValue]) -> None:
        self._principals[ref] = (is_account, dict(attributes))

    def has(self, ref: PrincipalRef) -> bool:
        return ref in self._principals

    def attributes(self, ref: PrincipalRef) -> dict[str, AttrValue]:
        """The mutable attribute map of a known principal (for values found in later queries)."""
        return self._principals[ref][1]

    def grant(self, ref: PrincipalRef | None, privilege: str, scope: Scope, obj: tuple[str, ...] = (), *,
              source_table: str, object_kind: str | None = None, effect: GrantEffect = GrantEffect.GRANT,
              grant_option: bool = False, implicit: bool = False, pattern: bool = False,
              grantor: str | None = None) -> None:
        if ref is None or ref not in self._principals:
            self.ignore(source_table)
            return
        self._grants[ref].append(PrivilegeGrant(
            principal=ref, privilege=privilege, scope=scope, object=obj, object_kind=object_kind, effect=effect,
            grant_option=grant_option, implicit=implicit, pattern=pattern, grantor=grantor,
        ))

    def edge(self, member: PrincipalRef | None, role: PrincipalRef | None, *, source_table: str,
             admin_option: bool = False, inherit: bool = True, set_option: bool = True,
             default: bool | None = None, delegate_option: bool = False, implicit: bool = False) -> None:
        if member is None or role is None or member not in self._principals or role not in self._principals:
            self.ignore(source_table)
            return
        self._edges[member].append(RoleMembership(
            member=member, role=role, admin_option=admin_option, inherit=inherit, set=set_option, default=default,
            delegate_option=delegate_option, implicit=implicit,
        ))

    def edges_of(self, member: PrincipalRef) -> list[RoleMembership]:
        return self._edges[member]

    def ignore(self, source_table: str) -> None:
        """Count a row whose principal is unknown; reported once per source as a warning."""
        self._ignored[source_table] += 1

    def warn(self, code: str, message: str) -> None:
        if len(self._warnings) < self.MAX_WARNINGS:
            self._warnings.append(SnapshotWarning(code, message))

    def gap(self, gap: CoverageGap) -> None:
        self._gaps.append(gap)
        self.warn("coverage_gap", f"database {gap.database!r} was not read ({gap.reason.value})")

    def build(self, collector: PrincipalRef | None) -> InstanceSnapshot:
        """Raises CatalogVisibilityError when there is no principal or the collector is not among them."""
        if not self._principals or collector is None or collector not in self._principals:
            raise CatalogVisibilityError(self._meta.collector, len(self._principals))
        for table, count in sorted(self._ignored.items()):
            self.warn("unknown_principal_rows", f"{count} entries of {table} name no collected principal; ignored")
        principals = tuple(
            PrincipalState(ref=ref, is_account=is_account, attributes=attributes,
                           grants=canonical_grants(self._grants[ref]),
                           memberships=canonical_memberships(self._edges[ref]))
            for ref, (is_account, attributes) in sorted(self._principals.items(), key=lambda item: item[0].sort_key)
        )
        return InstanceSnapshot(
            instance_id=self._meta.instance_id, engine=self._engine, flavor=self._flavor,
            server_version=self._server_version, observed_at=utc(self._meta.observed_at) or self._meta.observed_at,
            settings=self._settings, principals=principals,
            coverage=Coverage(tuple(sorted(self._gaps, key=lambda g: (g.database, g.scope.order)))),
            warnings=tuple(self._warnings), query_count=self._meta.query_count,
        )
