"""Oracle 12c+ catalog rows (one PDB or non-CDB) → canonical snapshot (accounts.md §2.5)."""

from __future__ import annotations

from typing import Final

from whalefall.domain.accounts.model import AttrValue, InstanceSnapshot, PrincipalKind, PrincipalRef
from whalefall.domain.accounts.normalize.builder import SnapshotBuilder, base_attributes, utc
from whalefall.domain.accounts.rows.oracle import OracleCatalogRows, OracleUserRow
from whalefall.domain.instances import DbEngine
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

_LOCK_TOKENS: Final = ("LOCKED", "LOCKED(TIMED)")
_ROUTINE_TYPES: Final = frozenset({"PROCEDURE", "FUNCTION", "PACKAGE", "PACKAGE BODY", "TYPE", "TYPE BODY"})
_ADMIN_PRIVILEGES: Final = ("SYSDBA", "SYSOPER", "SYSASM", "SYSBACKUP", "SYSDG", "SYSKM")


def status_tokens(account_status: str) -> tuple[str, ...]:
    """`EXPIRED & LOCKED(TIMED)` → (`EXPIRED`, `LOCKED(TIMED)`); `… & IN ROLLOVER` tokens are kept."""
    return tuple(token.strip() for token in account_status.split("&") if token.strip())


def normalize_oracle(rows: OracleCatalogRows) -> InstanceSnapshot:
    """Oracle rows → snapshot. Names are kept verbatim (a quoted `"svc_lower"` stays lower-case); a status
    token LOCKED or LOCKED(TIMED) locks, EXPIRED expires, EXPIRED(GRACE) only sets `password_in_grace`.
    Object grants of Oracle-maintained roles, and PUBLIC's object grants on objects of Oracle-maintained owners,
    are dropped (volume control; their system privileges and role edges stay). Quotas are tablespace grants
    `QUOTA` / `QUOTA UNLIMITED`; password-file flags are the administrative privileges SYSDBA … SYSKM.

    Raises CatalogVisibilityError when `dba_users` is empty or lacks the collector (`USER`).
    """
    builder = SnapshotBuilder(engine=DbEngine.ORACLE, flavor=None, meta=rows.meta,
                              server_version=rows.server.version, settings={"container": rows.server.container})
    refs: dict[str, PrincipalRef] = {}
    public = PrincipalRef.public()
    builder.add(public, is_account=False, attributes=base_attributes())
    refs["PUBLIC"] = public
    maintained_users: set[str] = set()
    for u in rows.users:
        ref = PrincipalRef.of(PrincipalKind.USER, u.username)
        refs[u.username] = ref
        builder.add(ref, is_account=True, attributes=_user_attributes(u))
        if u.oracle_maintained:
            maintained_users.add(u.username)
    maintained_roles: set[str] = set()
    for r in rows.roles:
        if r.role == "PUBLIC":
            continue  # the pseudo-principal, already present
        if r.role in refs:
            builder.warn("duplicate_principal", f"role {r.role!r} has the name of a user; skipped")
            continue
        ref = PrincipalRef.of(PrincipalKind.ROLE, r.role)
        refs[r.role] = ref
        attributes = base_attributes()
        attributes.update({"auth_method": r.authentication_type, "common": r.common,
                           "oracle_maintained": r.oracle_maintained})
        builder.add(ref, is_account=True, attributes=attributes)
        if r.oracle_maintained:
            maintained_roles.add(r.role)
    for e in rows.role_privs:
        builder.edge(refs.get(e.grantee), refs.get(e.granted_role), source_table="dba_role_privs",
                     admin_option=e.admin_option, delegate_option=e.delegate_option, default=e.default_role)
    for s in rows.sys_privs:
        builder.grant(refs.get(s.grantee), normalize_privilege_name(DbEngine.ORACLE, s.privilege), Scope.GLOBAL,
                      source_table="dba_sys_privs", grant_option=s.admin_option)
    for t in rows.tab_privs:
        if _dropped(t.grantee, t.owner, maintained_roles, maintained_users):
            continue
        object_type = (t.type or "").upper()
        scope = Scope.ROUTINE if object_type in _ROUTINE_TYPES else Scope.TABLE
        builder.grant(refs.get(t.grantee), normalize_privilege_name(DbEngine.ORACLE, t.privilege), scope,
                      (t.owner, t.table_name), source_table="dba_tab_privs",
                      object_kind=object_type.lower() or None, grant_option=t.grantable, grantor=t.grantor)
    for c in rows.col_privs:
        if _dropped(c.grantee, c.owner, maintained_roles, maintained_users):
            continue
        builder.grant(refs.get(c.grantee), normalize_privilege_name(DbEngine.ORACLE, c.privilege), Scope.COLUMN,
                      (c.owner, c.table_name, c.column_name), source_table="dba_col_privs", object_kind="column",
                      grant_option=c.grantable)
    # The byte amount of a quota is informational: only unlimited vs limited is part of the grant.
    for q in rows.quotas:
        builder.grant(refs.get(q.username), "QUOTA UNLIMITED" if q.max_bytes == -1 else "QUOTA",
                      Scope.TABLESPACE, (q.tablespace_name,), source_table="dba_ts_quotas",
                      object_kind="tablespace")
    for p in rows.pwfile_users:
        flags = (p.sysdba, p.sysoper, p.sysasm, p.sysbackup, p.sysdg, p.syskm)
        for privilege, held in zip(_ADMIN_PRIVILEGES, flags, strict=True):
            if held:
                builder.grant(refs.get(p.username), privilege, Scope.GLOBAL, source_table="v$pwfile_users")
    for sp in rows.schema_privs:
        builder.grant(refs.get(sp.grantee), normalize_privilege_name(DbEngine.ORACLE, sp.privilege), Scope.SCHEMA,
                      (sp.schema,), source_table="dba_schema_privs", object_kind="schema",
                      grant_option=sp.admin_option)
    collector = refs.get(rows.meta.collector)
    return builder.build(collector if collector is not None and collector.kind is PrincipalKind.USER else None)


def _dropped(grantee: str, owner: str, maintained_roles: set[str], maintained_users: set[str]) -> bool:
    return grantee in maintained_roles or (grantee == "PUBLIC" and owner in maintained_users)


def _user_attributes(u: OracleUserRow) -> dict[str, AttrValue]:
    tokens = status_tokens(u.account_status)
    locks = tuple(t for t in tokens if t in _LOCK_TOKENS)
    attributes = base_attributes()
    attributes.update({
        # 18c+ schema-only accounts (authentication NONE) cannot log in.
        "login_capable": (u.authentication_type or "").upper() != "NONE",
        "locked": bool(locks),
        "lock_reasons": locks,
        "password_expired": "EXPIRED" in tokens,
        "password_in_grace": "EXPIRED(GRACE)" in tokens,
        "valid_until": utc(u.expiry_date),
        "auth_method": u.authentication_type,
        "stable_id": str(u.user_id),
        "account_status": u.account_status,
        "profile": u.profile,
        "default_tablespace": u.default_tablespace,
        "common": u.common,
        "oracle_maintained": u.oracle_maintained,
    })
    return attributes
