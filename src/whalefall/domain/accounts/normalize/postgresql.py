"""PostgreSQL 12+ catalog rows → canonical snapshot (accounts.md §2.3)."""

from __future__ import annotations

from types import MappingProxyType
from typing import Final

from whalefall.domain.accounts.model import (
    AttrValue,
    CoverageGap,
    GapReason,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
)
from whalefall.domain.accounts.normalize.builder import SnapshotBuilder, base_attributes, utc
from whalefall.domain.accounts.rows.postgresql import PgAclRow, PgCatalogRows, PgRoleRow
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

_RELKINDS: Final = MappingProxyType({
    "r": "table", "p": "partitioned_table", "v": "view", "m": "materialized_view", "f": "foreign_table",
    "S": "sequence",
})
_PROKINDS: Final = MappingProxyType({"f": "function", "p": "procedure", "a": "aggregate", "w": "window"})
_PG16: Final = 160000


def server_version_text(num: int) -> str:
    """`server_version_num` → `major.minor` (160002 → 16.2)."""
    return f"{num // 10000}.{num % 10000}"


def normalize_postgresql(rows: PgCatalogRows) -> InstanceSnapshot:
    """PostgreSQL rows → snapshot: every `pg_roles` row is a `role` (LOGIN or not), grantee 0 is PUBLIC, TEMP is
    stored as TEMPORARY, acldefault entries are implicit; memberships OR the flags of several grantors (16+) and
    take `inherit` from the member's `rolinherit` before 16. A database that should have been read per database
    (per `object_grants`) but failed or is missing becomes a coverage gap of scope `schema`: its database-level
    ACL comes from the cluster query and stays fresh.

    Raises CatalogVisibilityError when `pg_roles` is empty or lacks the collector (`current_user`).
    """
    server = rows.server
    version_num = server.server_version_num
    builder = SnapshotBuilder(
        engine=DbEngine.POSTGRESQL, flavor=None, meta=rows.meta, server_version=server_version_text(version_num),
        settings={"server_version_num": version_num, "maintenance_database": server.current_database,
                  "object_grants": server.object_grants},
    )
    by_oid: dict[int, PrincipalRef] = {}
    inherits: dict[int, bool] = {}
    public = PrincipalRef.public()
    builder.add(public, is_account=False, attributes=base_attributes())
    by_oid[0] = public
    for role in rows.roles:
        ref = PrincipalRef.of(PrincipalKind.ROLE, role.rolname)
        by_oid[role.oid] = ref
        inherits[role.oid] = role.rolinherit
        builder.add(ref, is_account=True, attributes=_attributes(role))

    def name(oid: int | None) -> str | None:
        ref = None if oid is None else by_oid.get(oid)
        return None if ref is None else ref.key

    def grant(acl: PgAclRow, scope: Scope, obj: tuple[str, ...], kind: str, table: str) -> None:
        builder.grant(by_oid.get(acl.grantee), normalize_privilege_name(DbEngine.POSTGRESQL, acl.privilege_type),
                      scope, obj, source_table=table, object_kind=kind, grant_option=acl.is_grantable,
                      implicit=acl.implicit, grantor=name(acl.grantor))

    for m in rows.memberships:
        before_16 = version_num < _PG16
        inherit = inherits.get(m.member, True) if before_16 else bool(m.inherit_option)
        builder.edge(by_oid.get(m.member), by_oid.get(m.roleid), source_table="pg_auth_members",
                     admin_option=m.admin_option, inherit=inherit,
                     set_option=True if before_16 else bool(m.set_option))
    scannable: list[str] = []
    for d in rows.database_acls:
        grant(d.acl, Scope.DATABASE, (d.datname,), "database", "pg_database")
        if d.datallowconn and not d.datistemplate and d.datname not in scannable:
            scannable.append(d.datname)
    for t in rows.tablespace_acls:
        grant(t.acl, Scope.TABLESPACE, (t.spcname,), "tablespace", "pg_tablespace")
    read: set[str] = set()
    for db in rows.databases:
        read.add(db.datname)
        for s in db.schemas:
            grant(s.acl, Scope.SCHEMA, (db.datname, s.nspname), "schema", "pg_namespace")
        for r in db.relations:
            grant(r.acl, Scope.TABLE, (db.datname, r.nspname, r.relname), _RELKINDS.get(r.relkind, r.relkind),
                  "pg_class")
        for c in db.columns:
            grant(c.acl, Scope.COLUMN, (db.datname, c.nspname, c.relname, c.attname), "column", "pg_attribute")
        for f in db.routines:
            grant(f.acl, Scope.ROUTINE, (db.datname, f.nspname, f.signature), _PROKINDS.get(f.prokind, f.prokind),
                  "pg_proc")
    failed = {f.database: f for f in rows.failed_databases}
    for datname, failure in sorted(failed.items()):
        reason = GapReason.CONNECT_FAILED if failure.connect_failed else GapReason.QUERY_FAILED
        builder.gap(CoverageGap(scope=Scope.SCHEMA, database=datname, reason=reason, detail=failure.detail))
    if server.object_grants != "off":
        for datname in scannable:
            if datname not in read and datname not in failed:
                builder.gap(CoverageGap(scope=Scope.SCHEMA, database=datname, reason=GapReason.QUERY_FAILED,
                                        detail="database was not read"))
    collector = next((ref for ref in by_oid.values() if ref.key == rows.meta.collector and ref != public), None)
    return builder.build(collector)


def _attributes(role: PgRoleRow) -> dict[str, AttrValue]:
    attributes = base_attributes()
    valid_until = utc(role.rolvaliduntil)
    # ±infinity may reach us as datetime.max/min from a lenient loader; both mean "no expiry".
    if valid_until is not None and valid_until.year in (1, 9999):
        valid_until = None
    attributes.update({
        "login_capable": role.rolcanlogin,
        "valid_until": valid_until,
        "connection_limit": None if role.rolconnlimit < 0 else role.rolconnlimit,
        "stable_id": str(role.oid),
        "rolsuper": role.rolsuper,
        "rolinherit": role.rolinherit,
        "rolcreaterole": role.rolcreaterole,
        "rolcreatedb": role.rolcreatedb,
        "rolreplication": role.rolreplication,
        "rolbypassrls": role.rolbypassrls,
    })
    return attributes
