"""Raw catalog rows of Oracle 12c+ (accounts.md §2.5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.domain.accounts.rows.common import CatalogMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleServerRow:
    """Q0."""

    version: str
    container: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleUserRow:
    """Q1 `dba_users`."""

    username: str
    user_id: int
    account_status: str
    lock_date: datetime | None = None
    expiry_date: datetime | None = None
    created: datetime | None = None
    profile: str | None = None
    authentication_type: str | None = None
    default_tablespace: str | None = None
    common: bool | None = None
    oracle_maintained: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleRoleRow:
    """Q2 `dba_roles`; `authentication_type` NONE, PASSWORD, EXTERNAL, GLOBAL, APPLICATION."""

    role: str
    authentication_type: str | None = None
    common: bool | None = None
    oracle_maintained: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleRolePrivRow:
    """Q3 `dba_role_privs`."""

    grantee: str
    granted_role: str
    admin_option: bool = False
    delegate_option: bool = False
    default_role: bool = False
    common: bool | None = None
    inherited: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleSysPrivRow:
    """Q4 `dba_sys_privs`."""

    grantee: str
    privilege: str
    admin_option: bool = False
    common: bool | None = None
    inherited: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleTabPrivRow:
    """Q5 `dba_tab_privs`; `type` is the object type (TABLE, VIEW, PROCEDURE, PACKAGE, DIRECTORY, …)."""

    grantee: str
    owner: str
    table_name: str
    grantor: str | None = None
    privilege: str
    grantable: bool = False
    hierarchy: bool = False
    type: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleColPrivRow:
    """Q6 `dba_col_privs`."""

    grantee: str
    owner: str
    table_name: str
    column_name: str
    privilege: str
    grantable: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleQuotaRow:
    """Q7 `dba_ts_quotas`; `max_bytes` −1 = unlimited."""

    tablespace_name: str
    username: str
    max_bytes: int


@dataclass(frozen=True, slots=True, kw_only=True)
class OraclePwfileUserRow:
    """Q8 `v$pwfile_users`."""

    username: str
    sysdba: bool = False
    sysoper: bool = False
    sysasm: bool = False
    sysbackup: bool = False
    sysdg: bool = False
    syskm: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleSchemaPrivRow:
    """Q9 `dba_schema_privs` (23ai)."""

    grantee: str
    privilege: str
    schema: str
    admin_option: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class OracleCatalogRows:
    meta: CatalogMeta
    server: OracleServerRow
    users: tuple[OracleUserRow, ...]
    roles: tuple[OracleRoleRow, ...] = ()
    role_privs: tuple[OracleRolePrivRow, ...] = ()
    sys_privs: tuple[OracleSysPrivRow, ...] = ()
    tab_privs: tuple[OracleTabPrivRow, ...] = ()
    col_privs: tuple[OracleColPrivRow, ...] = ()
    quotas: tuple[OracleQuotaRow, ...] = ()
    pwfile_users: tuple[OraclePwfileUserRow, ...] = ()
    schema_privs: tuple[OracleSchemaPrivRow, ...] = ()
