"""SQL Server 2012+ catalog rows → canonical snapshot: SID mapping, per-database securables, gaps (§2.4)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from whalefall.domain.accounts.model import (
    AttrValue,
    CoverageGap,
    GapReason,
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
)
from whalefall.domain.accounts.normalize.builder import SnapshotBuilder, base_attributes, utc
from whalefall.domain.accounts.rows.sqlserver import (
    SqlServerCatalogRows,
    SqlServerDatabasePermissionRow,
    SqlServerDatabaseRows,
    SqlServerPrincipalRow,
)
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

_LOGIN_TYPES: Final = frozenset({"S", "U", "G", "C", "K", "E", "X"})
_USER_TYPES: Final = frozenset({"S", "U", "G", "C", "K", "E", "X"})
_ROUTINE_TYPES: Final = frozenset({"P", "PC", "FN", "IF", "TF", "FS", "FT", "X"})
_OBJECT_KINDS: Final = MappingProxyType({
    "U": "table", "V": "view", "P": "procedure", "PC": "procedure", "FN": "function", "IF": "function",
    "TF": "function", "FS": "function", "FT": "function", "X": "procedure", "SO": "sequence", "SN": "synonym",
    "TT": "type", "IT": "table", "S": "table", "AF": "function",
})
_PRINCIPAL_CLASS_NAMES: Final = MappingProxyType({"R": "ROLE", "A": "APPLICATION ROLE"})


def sid_hex(sid: bytes | None) -> str | None:
    """A SID as `0x…` upper-case hex (the form SQL Server prints)."""
    return None if sid is None else "0x" + sid.hex().upper()


def _state(state: str) -> tuple[GrantEffect, bool]:
    # G = grant, W = grant with grant option, D = deny (R never appears: a REVOKE deletes the row).
    return (GrantEffect.DENY, False) if state == "D" else (GrantEffect.GRANT, state == "W")


def normalize_sqlserver(rows: SqlServerCatalogRows) -> InstanceSnapshot:
    """SQL Server rows → snapshot (accounts.md §2.4). Database users attach to logins by SID only (never by
    name): a mapped user's grants and role memberships are the login's, and the login's `db_user_mappings`
    records the user name per database; unmapped users are `db_user` principals (accounts when contained,
    `orphaned` when their INSTANCE-authenticated SID has no login). The database owner's login gets an implicit
    edge to that database's `db_owner`. Databases not ONLINE, not accessible or whose reads failed are gaps.

    Raises CatalogVisibilityError when `sys.server_principals` is empty or lacks the collector (`SUSER_SNAME()`).
    """
    server = rows.server
    builder = SnapshotBuilder(
        engine=DbEngine.SQLSERVER, flavor=None, meta=rows.meta, server_version=server.product_version,
        settings={"collation": server.collation, "engine_edition": server.engine_edition},
    )
    by_id: dict[int, PrincipalRef] = {}
    login_by_sid: dict[bytes, PrincipalRef] = {}
    names: dict[int, str] = {}
    for p in rows.principals:
        names[p.principal_id] = p.name
        if p.type == "R":
            ref = PrincipalRef.public() if p.name == "public" else PrincipalRef.of(PrincipalKind.SERVER_ROLE, p.name)
            attributes = base_attributes()
            attributes.update({"stable_id": sid_hex(p.sid), "type": p.type, "is_fixed_role": p.is_fixed_role})
            builder.add(ref, is_account=False, attributes=attributes)
        elif p.type in _LOGIN_TYPES:
            ref = PrincipalRef.of(PrincipalKind.LOGIN, p.name)
            builder.add(ref, is_account=True, attributes=_login_attributes(p))
            if p.sid is not None:
                login_by_sid[p.sid] = ref
        else:
            builder.warn("unknown_principal_type", f"server principal {p.name!r} of type {p.type!r} skipped")
            continue
        by_id[p.principal_id] = ref
    for m in rows.server_role_members:
        builder.edge(by_id.get(m.member_principal_id), by_id.get(m.role_principal_id),
                     source_table="sys.server_role_members")
    endpoints = {e.endpoint_id: e.name for e in rows.endpoints}
    for perm in rows.server_permissions:
        effect, option = _state(perm.state)
        grantee = by_id.get(perm.grantee_principal_id)
        privilege = normalize_privilege_name(DbEngine.SQLSERVER, perm.permission_name)
        match perm.class_:
            case 100:
                obj: tuple[str, ...] = ()
                kind = None
            case 101:
                obj, kind = ("LOGIN", names.get(perm.major_id, f"#{perm.major_id}")), "login"
            case 105:
                obj, kind = ("ENDPOINT", endpoints.get(perm.major_id, f"#{perm.major_id}")), "endpoint"
            case 108:
                obj, kind = ("AVAILABILITY GROUP", f"#{perm.major_id}"), "availability_group"
            case _:
                obj, kind = (perm.class_desc, f"#{perm.major_id}"), perm.class_desc.lower()
        grantor = names.get(perm.grantor_principal_id) if perm.grantor_principal_id is not None else None
        builder.grant(grantee, privilege, Scope.GLOBAL, obj, source_table="sys.server_permissions",
                      object_kind=kind, effect=effect, grant_option=option, grantor=grantor)
        if perm.class_ == 100 and privilege == "CONNECT SQL" and effect is GrantEffect.DENY and grantee:
            attributes = builder.attributes(grantee)
            attributes["locked"] = True
            attributes["lock_reasons"] = (*_reasons(attributes), "connect_denied")
    read = {d.database: d for d in rows.database_rows}
    failed = {f.database: f for f in rows.failed_databases}
    for database in rows.databases:
        if database.state != 0:
            builder.gap(CoverageGap(scope=Scope.DATABASE, database=database.name, reason=GapReason.OFFLINE,
                                    detail=database.state_desc))
        elif not database.has_dbaccess:
            builder.gap(CoverageGap(scope=Scope.DATABASE, database=database.name, reason=GapReason.NOT_ACCESSIBLE,
                                    detail=database.user_access_desc))
        elif database.name in failed:
            failure = failed[database.name]
            reason = GapReason.CONNECT_FAILED if failure.connect_failed else GapReason.QUERY_FAILED
            builder.gap(CoverageGap(scope=Scope.DATABASE, database=database.name, reason=reason,
                                    detail=failure.detail))
        elif database.name not in read:
            builder.gap(CoverageGap(scope=Scope.DATABASE, database=database.name, reason=GapReason.QUERY_FAILED,
                                    detail="database was not read"))
        else:
            owner = login_by_sid.get(database.owner_sid) if database.owner_sid is not None else None
            _add_database(builder, read[database.name], login_by_sid, owner, contained=database.containment != 0)
    return builder.build(next((r for r in by_id.values() if r.kind is PrincipalKind.LOGIN
                               and r.key == rows.meta.collector), None))


def _reasons(attributes: dict[str, AttrValue]) -> tuple[str, ...]:
    reasons = attributes.get("lock_reasons")
    return reasons if isinstance(reasons, tuple) else ()


def _login_attributes(p: SqlServerPrincipalRow) -> dict[str, AttrValue]:
    reasons = tuple(r for r, on in (("disabled", p.is_disabled), ("locked_out", bool(p.is_locked))) if on)
    attributes = base_attributes()
    attributes.update({
        "login_capable": True,
        "locked": bool(reasons),
        "lock_reasons": reasons,
        "password_expired": bool(p.is_expired) or bool(p.is_must_change),
        "password_changed_at": utc(p.password_last_set_time),
        "auth_method": p.type_desc,
        "stable_id": sid_hex(p.sid),
        "type": p.type,
        "default_database": p.default_database_name,
        "is_policy_checked": p.is_policy_checked,
        "is_expiration_checked": p.is_expiration_checked,
        "db_user_mappings": {},
    })
    return attributes


def _add_database(builder: SnapshotBuilder, rows: SqlServerDatabaseRows, login_by_sid: dict[bytes, PrincipalRef],
                  owner: PrincipalRef | None, *, contained: bool) -> None:
    db = rows.database
    by_id: dict[int, PrincipalRef] = {}
    labels: dict[int, tuple[str, str]] = {}
    for p in rows.principals:
        if p.type in _USER_TYPES and p.sid is None:
            continue  # `sys` and `INFORMATION_SCHEMA`: no SID, cannot log in, hold nothing worth listing
        labels[p.principal_id] = (_PRINCIPAL_CLASS_NAMES.get(p.type, "USER"), p.name)
        if p.type in ("R", "A"):
            ref = PrincipalRef.public(db) if p.type == "R" and p.name == "public" else PrincipalRef.of(
                PrincipalKind.DB_ROLE, p.name, db)
            attributes = base_attributes()
            attributes.update({"type": p.type, "is_fixed_role": p.is_fixed_role})
            builder.add(ref, is_account=False, attributes=attributes)
            by_id[p.principal_id] = ref
            continue
        login = login_by_sid.get(p.sid) if p.sid is not None else None
        if login is not None:
            mappings = builder.attributes(login)["db_user_mappings"]
            builder.attributes(login)["db_user_mappings"] = {**(mappings if isinstance(mappings, dict) else {}),
                                                             db: p.name}
            by_id[p.principal_id] = login
            continue
        is_contained = p.authentication_type == "DATABASE" or (contained and p.authentication_type == "WINDOWS")
        ref = PrincipalRef.of(PrincipalKind.DB_USER, p.name, db)
        attributes = base_attributes()
        attributes.update({
            "login_capable": is_contained, "auth_method": p.authentication_type, "stable_id": sid_hex(p.sid),
            "type": p.type, "default_schema": p.default_schema_name,
            "orphaned": p.authentication_type == "INSTANCE" and not is_contained,
        })
        builder.add(ref, is_account=is_contained, attributes=attributes)
        by_id[p.principal_id] = ref
    for m in rows.role_members:
        builder.edge(by_id.get(m.member_principal_id), by_id.get(m.role_principal_id),
                     source_table=f"[{db}].sys.database_role_members")
    db_owner = PrincipalRef.of(PrincipalKind.DB_ROLE, "db_owner", db)
    if owner is not None and builder.has(db_owner):
        edges = builder.edges_of(owner)
        if not any(e.role == db_owner for e in edges):
            builder.edge(owner, db_owner, source_table="sys.databases", implicit=True)
    for perm in rows.permissions:
        scope, obj, kind = _securable(db, perm, labels)
        effect, option = _state(perm.state)
        builder.grant(by_id.get(perm.grantee_principal_id),
                      normalize_privilege_name(DbEngine.SQLSERVER, perm.permission_name), scope, obj,
                      source_table=f"[{db}].sys.database_permissions", object_kind=kind, effect=effect,
                      grant_option=option)


def _securable(db: str, perm: SqlServerDatabasePermissionRow,
               labels: dict[int, tuple[str, str]]) -> tuple[Scope, tuple[str, ...], str | None]:
    unnamed = f"#{perm.major_id}"
    match perm.class_:
        case 0:
            return Scope.DATABASE, (db,), "database"
        case 1:
            schema, name = perm.schema_name or "", perm.object_name or unnamed
            kind = _OBJECT_KINDS.get((perm.object_type or "").strip(), None)
            if perm.minor_id > 0:
                return Scope.COLUMN, (db, schema, name, perm.column_name or f"#{perm.minor_id}"), "column"
            if (perm.object_type or "").strip() in _ROUTINE_TYPES:
                return Scope.ROUTINE, (db, schema, name), kind
            return Scope.TABLE, (db, schema, name), kind
        case 3:
            return Scope.SCHEMA, (db, perm.schema_name or perm.securable_name or unnamed), "schema"
        case 4:
            label, name = labels.get(perm.major_id, ("USER", perm.securable_name or unnamed))
            return Scope.DATABASE, (db, label, name), label.lower().replace(" ", "_")
        case _:
            return Scope.DATABASE, (db, perm.class_desc, perm.securable_name or unnamed), perm.class_desc.lower()
