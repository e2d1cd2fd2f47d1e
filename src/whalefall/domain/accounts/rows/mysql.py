"""Raw catalog rows of MySQL 5.7/8.x (accounts.md §2.1) and MariaDB 10.4+ (§2.2)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from whalefall.domain.accounts.rows.common import CatalogMeta


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlServerRow:
    """Q0. 8.0-only variables are None on 5.7; `partial_revokes` is None before 8.0.16."""

    version: str
    version_comment: str | None = None
    default_password_lifetime: int | None = None
    lower_case_table_names: int | None = None
    mandatory_roles: str | None = None
    activate_all_roles_on_login: bool | None = None
    partial_revokes: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlUserRow:
    """Q1 `mysql.user`. `priv_columns` maps every static `*_priv` column read (e.g. `Select_priv`) to its flag;
    `empty_authentication_string` is the server-side `authentication_string = ''` test (None under the strict
    column grant); `restrictions_json` is `$.Restrictions` (8.0.16+), `mfa_plugins_json` the factor 2/3 plugins."""

    user: str
    host: str
    plugin: str | None
    account_locked: bool = False
    password_expired: bool = False
    password_last_changed: datetime | None = None
    password_lifetime: int | None = None
    ssl_type: str | None = None
    max_questions: int = 0
    max_updates: int = 0
    max_connections: int = 0
    max_user_connections: int = 0
    priv_columns: Mapping[str, bool] = field(default_factory=dict)
    empty_authentication_string: bool | None = None
    restrictions_json: str | None = None
    mfa_plugins_json: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlDbPrivRow:
    """Q2 `mysql.db`: `priv_columns` maps each `*_priv` column to its flag."""

    host: str
    db: str
    user: str
    priv_columns: Mapping[str, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlTablePrivRow:
    """Q3 `mysql.tables_priv`: `table_priv` holds the SET members as the server spells them (`Show view`)."""

    host: str
    db: str
    user: str
    table_name: str
    grantor: str | None = None
    table_priv: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlColumnPrivRow:
    """Q4 `mysql.columns_priv`."""

    host: str
    db: str
    user: str
    table_name: str
    column_name: str
    column_priv: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlProcPrivRow:
    """Q5 `mysql.procs_priv`: `routine_type` FUNCTION, PROCEDURE (MariaDB also PACKAGE, PACKAGE BODY)."""

    host: str
    db: str
    user: str
    routine_name: str
    routine_type: str
    grantor: str | None = None
    proc_priv: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlProxyPrivRow:
    """Q6 `mysql.proxies_priv`."""

    host: str
    user: str
    proxied_host: str
    proxied_user: str
    with_grant: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlRoleEdgeRow:
    """Q7 `mysql.role_edges` (8.0): `GRANT r TO u` stores FROM = r, TO = u."""

    from_host: str
    from_user: str
    to_host: str
    to_user: str
    with_admin_option: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlDefaultRoleRow:
    """Q8 `mysql.default_roles` (8.0)."""

    host: str
    user: str
    default_role_host: str
    default_role_user: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlGlobalGrantRow:
    """Q9 `mysql.global_grants` (8.0): dynamic privileges."""

    user: str
    host: str
    priv: str
    with_grant_option: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MySqlCatalogRows:
    """Everything one MySQL collection read; Q7–Q9 stay empty on 5.7."""

    meta: CatalogMeta
    server: MySqlServerRow
    users: tuple[MySqlUserRow, ...]
    db_privs: tuple[MySqlDbPrivRow, ...] = ()
    table_privs: tuple[MySqlTablePrivRow, ...] = ()
    column_privs: tuple[MySqlColumnPrivRow, ...] = ()
    proc_privs: tuple[MySqlProcPrivRow, ...] = ()
    proxy_privs: tuple[MySqlProxyPrivRow, ...] = ()
    role_edges: tuple[MySqlRoleEdgeRow, ...] = ()
    default_roles: tuple[MySqlDefaultRoleRow, ...] = ()
    global_grants: tuple[MySqlGlobalGrantRow, ...] = ()



# ---- MariaDB 10.4+ (§2.2) ---------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class MariaDbServerRow:
    """Q0."""

    version: str
    default_password_lifetime: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MariaDbGlobalPrivRow:
    """Q1 `mysql.global_priv`, one field per `JSON_VALUE(Priv, …)` key (None when the key is absent).

    `password_last_changed` is the epoch-seconds value (0 = expired marker); `password_lifetime` -1 = default;
    `ssl_type` is the integer code; `auth_or_plugins_json` is `JSON_EXTRACT(Priv,'$.auth_or[*].plugin')`."""

    host: str
    user: str
    access: int | None = None
    plugin: str | None = None
    account_locked: bool | None = None
    password_last_changed: int | None = None
    password_lifetime: int | None = None
    is_role: bool = False
    default_role: str | None = None
    ssl_type: int | None = None
    max_questions: int | None = None
    max_updates: int | None = None
    max_connections: int | None = None
    max_user_connections: int | None = None
    max_statement_time: float | None = None
    version_id: int | None = None
    auth_or_plugins_json: str | None = None
    empty_authentication_string: bool | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class MariaDbRoleMappingRow:
    """Q7 `mysql.roles_mapping`: grantee `User@Host`, or the bare role name when `host` is empty."""

    host: str
    user: str
    role: str
    admin_option: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class MariaDbCatalogRows:
    """Everything one MariaDB collection read; Q2–Q6 use the MySQL-family row types."""

    meta: CatalogMeta
    server: MariaDbServerRow
    users: tuple[MariaDbGlobalPrivRow, ...]
    db_privs: tuple[MySqlDbPrivRow, ...] = ()
    table_privs: tuple[MySqlTablePrivRow, ...] = ()
    column_privs: tuple[MySqlColumnPrivRow, ...] = ()
    proc_privs: tuple[MySqlProcPrivRow, ...] = ()
    proxy_privs: tuple[MySqlProxyPrivRow, ...] = ()
    roles_mapping: tuple[MariaDbRoleMappingRow, ...] = ()
