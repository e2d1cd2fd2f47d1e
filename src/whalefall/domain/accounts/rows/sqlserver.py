"""Raw catalog rows of SQL Server 2012+ (accounts.md §2.4)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from whalefall.domain.accounts.rows.common import CatalogMeta, DatabaseFailure


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerServerRow:
    """Q0 `SERVERPROPERTY` and the preflight's `HAS_PERMS_BY_NAME(NULL, NULL, 'VIEW ANY DEFINITION')`."""

    product_version: str
    engine_edition: int | None = None
    collation: str | None = None
    has_view_any_definition: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerPrincipalRow:
    """Q1 `sys.server_principals` ⟕ `sys.sql_logins`; the LOGINPROPERTY values are set for type S only."""

    principal_id: int
    sid: bytes | None
    name: str
    type: str
    type_desc: str
    is_disabled: bool = False
    default_database_name: str | None = None
    is_fixed_role: bool = False
    owning_principal_id: int | None = None
    is_policy_checked: bool | None = None
    is_expiration_checked: bool | None = None
    is_locked: bool | None = None
    is_expired: bool | None = None
    is_must_change: bool | None = None
    password_last_set_time: datetime | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerRoleMemberRow:
    """Q2 `sys.server_role_members` and D2 `sys.database_role_members`."""

    role_principal_id: int
    member_principal_id: int


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerServerPermissionRow:
    """Q3 `sys.server_permissions`; `state` G, W or D. The field is `class_` because `class` is reserved."""

    class_: int
    class_desc: str
    major_id: int
    minor_id: int
    grantee_principal_id: int
    grantor_principal_id: int | None
    permission_name: str
    state: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerEndpointRow:
    """Q4 `sys.endpoints`."""

    endpoint_id: int
    name: str


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerDatabaseRow:
    """Q5 `sys.databases`; `state` 0 = ONLINE; `containment` 0 = NONE, 1 = PARTIAL; `has_dbaccess` = HAS_DBACCESS."""

    database_id: int
    name: str
    owner_sid: bytes | None
    state: int
    state_desc: str = "ONLINE"
    is_read_only: bool = False
    user_access_desc: str = "MULTI_USER"
    containment: int = 0
    has_dbaccess: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerDatabasePrincipalRow:
    """D1 `sys.database_principals`; `authentication_type` is the `_desc` text (NONE, INSTANCE, DATABASE, WINDOWS,
    EXTERNAL)."""

    principal_id: int
    name: str
    type: str
    sid: bytes | None
    default_schema_name: str | None = None
    authentication_type: str | None = None
    owning_principal_id: int | None = None
    is_fixed_role: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerDatabasePermissionRow:
    """D3 `sys.database_permissions` with names resolved in that database: schema/object/column names for
    classes 1 and 3, `object_type` (`sys.all_objects.type`, e.g. U, V, P), `securable_name` for other classes."""

    class_: int
    class_desc: str
    major_id: int
    minor_id: int
    grantee_principal_id: int
    permission_name: str
    state: str
    schema_name: str | None = None
    object_name: str | None = None
    object_type: str | None = None
    column_name: str | None = None
    securable_name: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerDatabaseRows:
    """D1–D3 of one database read completely."""

    database: str
    principals: tuple[SqlServerDatabasePrincipalRow, ...] = ()
    role_members: tuple[SqlServerRoleMemberRow, ...] = ()
    permissions: tuple[SqlServerDatabasePermissionRow, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class SqlServerCatalogRows:
    """Server-level rows plus, per ONLINE accessible database of Q5, either its rows or a failure."""

    meta: CatalogMeta
    server: SqlServerServerRow
    principals: tuple[SqlServerPrincipalRow, ...]
    server_role_members: tuple[SqlServerRoleMemberRow, ...] = ()
    server_permissions: tuple[SqlServerServerPermissionRow, ...] = ()
    endpoints: tuple[SqlServerEndpointRow, ...] = ()
    databases: tuple[SqlServerDatabaseRow, ...] = ()
    database_rows: tuple[SqlServerDatabaseRows, ...] = ()
    failed_databases: tuple[DatabaseFailure, ...] = ()
