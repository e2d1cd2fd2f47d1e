"""Raw catalog rows of PostgreSQL 12+ (accounts.md §2.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class PgServerRow:
    """Q0 plus the `postgresql.object_grants` level the collection used (`off|schemas|tables|full`)."""

    server_version_num: int
    current_database: str
    object_grants: str = "schemas"


@dataclass(frozen=True, slots=True, kw_only=True)
class PgRoleRow:
    """Q1 `pg_roles`; `rolvaliduntil` is None for NULL and for ±infinity."""

    oid: int
    rolname: str
    rolsuper: bool = False
    rolinherit: bool = True
    rolcreaterole: bool = False
    rolcreatedb: bool = False
    rolcanlogin: bool = False
    rolreplication: bool = False
    rolbypassrls: bool = False
    rolconnlimit: int = -1
    rolvaliduntil: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PgAuthMemberRow:
    """Q2 `pg_auth_members`; `inherit_option`/`set_option` are None before 16."""

    roleid: int
    member: int
    grantor: int | None = None
    admin_option: bool = False
    inherit_option: bool | None = None
    set_option: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PgAclRow:
    """One `aclexplode` entry (grantee 0 = PUBLIC); `implicit` is true when it came from `acldefault`."""

    grantor: int | None
    grantee: int
    privilege_type: str
    is_grantable: bool = False
    implicit: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class PgDatabaseAclRow:
    """Q3 `pg_database` × aclexplode."""

    datname: str
    datdba: int
    datallowconn: bool
    datistemplate: bool
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgTablespaceAclRow:
    """Q4 `pg_tablespace` × aclexplode."""

    spcname: str
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgSchemaAclRow:
    """D1 `pg_namespace` × aclexplode."""

    nspname: str
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgRelationAclRow:
    """D2 `pg_class` (relkind r, p, v, m, f, S) × aclexplode."""

    nspname: str
    relname: str
    relkind: str
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgColumnAclRow:
    """D3 `pg_attribute` × aclexplode."""

    nspname: str
    relname: str
    attname: str
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgRoutineAclRow:
    """D3 `pg_proc` × aclexplode; `signature` is `name(argtypes)` without the schema prefix; `prokind` f, p, a, w."""

    nspname: str
    signature: str
    prokind: str
    acl: PgAclRow


@dataclass(frozen=True, slots=True, kw_only=True)
class PgDatabaseRows:
    """D1–D3 of one database that was read completely (lists beyond the configured level stay empty)."""

    datname: str
    schemas: tuple[PgSchemaAclRow, ...] = ()
    relations: tuple[PgRelationAclRow, ...] = ()
    columns: tuple[PgColumnAclRow, ...] = ()
    routines: tuple[PgRoutineAclRow, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class PgCatalogRows:
    meta: CatalogMeta
    server: PgServerRow
    roles: tuple[PgRoleRow, ...]
    memberships: tuple[PgAuthMemberRow, ...] = ()
    database_acls: tuple[PgDatabaseAclRow, ...] = ()
    tablespace_acls: tuple[PgTablespaceAclRow, ...] = ()
    databases: tuple[PgDatabaseRows, ...] = ()
    failed_databases: tuple[DatabaseFailure, ...] = ()
