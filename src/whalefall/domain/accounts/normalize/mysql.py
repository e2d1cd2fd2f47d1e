"""MySQL 5.7/8.x catalog rows → canonical snapshot, plus the grant-table mapping shared with MariaDB (§2.1)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

from whalefall.domain.accounts.model import (
    AttrValue,
    GrantEffect,
    InstanceSnapshot,
    PrincipalKind,
    PrincipalRef,
)
from whalefall.domain.accounts.normalize.builder import SnapshotBuilder, base_attributes, utc, version_tuple
from whalefall.domain.accounts.rows.mysql import (
    MySqlCatalogRows,
    MySqlColumnPrivRow,
    MySqlDbPrivRow,
    MySqlProcPrivRow,
    MySqlProxyPrivRow,
    MySqlTablePrivRow,
    MySqlUserRow,
)
from whalefall.domain.instances import DbEngine, Flavor
from whalefall.domain.privileges.names import Scope, normalize_privilege_name

#: Static `*_priv` column → canonical privilege: a fixed table, never string manipulation (MariaDB extras included).
STATIC_PRIV_COLUMNS: Final = MappingProxyType({
    "Select_priv": "SELECT", "Insert_priv": "INSERT", "Update_priv": "UPDATE", "Delete_priv": "DELETE",
    "Create_priv": "CREATE", "Drop_priv": "DROP", "Reload_priv": "RELOAD", "Shutdown_priv": "SHUTDOWN",
    "Process_priv": "PROCESS", "File_priv": "FILE", "Grant_priv": "GRANT OPTION", "References_priv": "REFERENCES",
    "Index_priv": "INDEX", "Alter_priv": "ALTER", "Show_db_priv": "SHOW DATABASES", "Super_priv": "SUPER",
    "Create_tmp_table_priv": "CREATE TEMPORARY TABLES", "Lock_tables_priv": "LOCK TABLES",
    "Execute_priv": "EXECUTE", "Repl_slave_priv": "REPLICATION SLAVE", "Repl_client_priv": "REPLICATION CLIENT",
    "Create_view_priv": "CREATE VIEW", "Show_view_priv": "SHOW VIEW", "Create_routine_priv": "CREATE ROUTINE",
    "Alter_routine_priv": "ALTER ROUTINE", "Create_user_priv": "CREATE USER", "Event_priv": "EVENT",
    "Trigger_priv": "TRIGGER", "Create_tablespace_priv": "CREATE TABLESPACE", "Create_role_priv": "CREATE ROLE",
    "Drop_role_priv": "DROP ROLE", "Delete_history_priv": "DELETE HISTORY",
    "Show_create_routine_priv": "SHOW CREATE ROUTINE",
})

#: SET members of `tables_priv.Table_priv`, `columns_priv.Column_priv` and `procs_priv.Proc_priv`.
SET_VALUES: Final = MappingProxyType({
    "Select": "SELECT", "Insert": "INSERT", "Update": "UPDATE", "Delete": "DELETE", "Create": "CREATE",
    "Drop": "DROP", "Grant": "GRANT OPTION", "References": "REFERENCES", "Index": "INDEX", "Alter": "ALTER",
    "Create View": "CREATE VIEW", "Show view": "SHOW VIEW", "Trigger": "TRIGGER",
    "Delete versioning rows": "DELETE HISTORY", "Execute": "EXECUTE", "Alter Routine": "ALTER ROUTINE",
})

#: Plugins whose secret is a password, so an empty stored string means an empty password.
PASSWORD_PLUGINS: Final = frozenset({
    "", "mysql_native_password", "caching_sha2_password", "sha256_password", "mysql_old_password", "ed25519",
    "parsec",
})

Resolve = Callable[[str, str], PrincipalRef | None]


def account_key(user: str, host: str) -> str:
    """`User@Host` verbatim; the anonymous user is `@host`."""
    return f"{user}@{host}"


def has_pattern(db: str) -> bool:
    """A database name with an unescaped `%` or `_` is a pattern grant."""
    escaped = False
    for char in db:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "%_":
            return True
    return False


def set_privilege(builder: SnapshotBuilder, value: str, table: str) -> str:
    known = SET_VALUES.get(value)
    if known is None:
        builder.warn("unknown_privilege_value", f"{table} value {value!r} is not in the fixed table")
        return normalize_privilege_name(DbEngine.MYSQL, value)
    return known


#: Column layouts seen so far → their columns in sorted order (every row of one table shares one layout).
_LAYOUTS: dict[tuple[str, ...], tuple[str, ...]] = {}


def _sorted_columns(columns: Mapping[str, bool]) -> tuple[str, ...]:
    layout = tuple(columns)
    ordered = _LAYOUTS.get(layout)
    if ordered is None:
        ordered = tuple(sorted(layout))
        if len(_LAYOUTS) < 64:
            _LAYOUTS[layout] = ordered
    return ordered


def column_privileges(builder: SnapshotBuilder, columns: Mapping[str, bool], table: str) -> list[str]:
    names = []
    for column in _sorted_columns(columns):
        if not columns[column]:
            continue
        name = STATIC_PRIV_COLUMNS.get(column)
        if name is None:
            builder.warn("unknown_privilege_column", f"{table} column {column!r} is not in the fixed table")
            continue
        names.append(name)
    return names


def add_object_grants(builder: SnapshotBuilder, resolve: Resolve, *, db_privs: Iterable[MySqlDbPrivRow],
                      table_privs: Iterable[MySqlTablePrivRow], column_privs: Iterable[MySqlColumnPrivRow],
                      proc_privs: Iterable[MySqlProcPrivRow], proxy_privs: Iterable[MySqlProxyPrivRow]) -> None:
    """Q2–Q6, identical for MySQL and MariaDB; `resolve(user, host)` maps a grantee to its ref."""
    for d in db_privs:
        ref = resolve(d.user, d.host)
        for name in column_privileges(builder, d.priv_columns, "mysql.db"):
            builder.grant(ref, name, Scope.DATABASE, (d.db,), source_table="mysql.db", object_kind="database",
                          pattern=has_pattern(d.db))
    for t in table_privs:
        ref = resolve(t.user, t.host)
        for value in t.table_priv:
            builder.grant(ref, set_privilege(builder, value, "mysql.tables_priv"), Scope.TABLE,
                          (t.db, t.table_name), source_table="mysql.tables_priv", object_kind="table",
                          grantor=t.grantor or None)
    for c in column_privs:
        ref = resolve(c.user, c.host)
        for value in c.column_priv:
            builder.grant(ref, set_privilege(builder, value, "mysql.columns_priv"), Scope.COLUMN,
                          (c.db, c.table_name, c.column_name), source_table="mysql.columns_priv",
                          object_kind="column")
    # A procedure and a function of one name share the path (db, routine) of §1.3.1; their grants merge.
    for p in proc_privs:
        ref = resolve(p.user, p.host)
        for value in p.proc_priv:
            builder.grant(ref, set_privilege(builder, value, "mysql.procs_priv"), Scope.ROUTINE,
                          (p.db, p.routine_name), source_table="mysql.procs_priv",
                          object_kind=p.routine_type.lower(), grantor=p.grantor or None)
    for x in proxy_privs:
        builder.grant(resolve(x.user, x.host), "PROXY", Scope.GLOBAL, (account_key(x.proxied_user, x.proxied_host),),
                      source_table="mysql.proxies_priv", object_kind="user", grant_option=x.with_grant)


def parse_role_list(text: str | None) -> list[tuple[str, str]]:
    """`@@mandatory_roles` (`r1,` `` `r2`@`%` ``, `'r3'@'h'`) → [(user, host)]; a missing host is `%`."""
    if not text:
        return []
    entries: list[list[str]] = [[""]]
    quote: str | None = None
    for char in text:
        if quote:
            if char == quote:
                quote = None
            else:
                entries[-1][-1] += char
        elif char in "`'\"":
            quote = char
        elif char == ",":
            entries.append([""])
        elif char == "@":
            entries[-1].append("")
        elif not char.isspace():
            entries[-1][-1] += char
    return [(parts[0], parts[1] if len(parts) > 1 else "%") for parts in entries if parts[0]]


def _json_list(text: str | None) -> list[object]:
    if not text:
        return []
    value = json.loads(text)
    return value if isinstance(value, list) else []


def _is_role_footprint(u: MySqlUserRow) -> bool:
    # CREATE ROLE leaves a locked account with an expired, empty password; tested server-side.
    return u.account_locked and u.password_expired and u.empty_authentication_string is True


def normalize_mysql(rows: MySqlCatalogRows) -> InstanceSnapshot:
    """MySQL 5.7/8.x rows → snapshot (accounts.md §2.1). Roles and dynamic privileges are read only when the
    live version is 8.0+; rows of Q2–Q9 naming no account of Q1 are ignored with a warning.

    Raises CatalogVisibilityError when Q1 is empty or lacks the collector (`CURRENT_USER()`).
    """
    server = rows.server
    has_roles = version_tuple(server.version)[0] >= 8
    mandatory = parse_role_list(server.mandatory_roles) if has_roles else []
    settings: dict[str, AttrValue] = {
        "version_comment": server.version_comment,
        "default_password_lifetime": server.default_password_lifetime,
        "lower_case_table_names": server.lower_case_table_names,
        "activate_all_roles_on_login": server.activate_all_roles_on_login,
        "mandatory_roles": tuple(account_key(u, h) for u, h in mandatory),
        "partial_revokes": server.partial_revokes,
    }
    builder = SnapshotBuilder(engine=DbEngine.MYSQL, flavor=Flavor.MYSQL, meta=rows.meta,
                              server_version=server.version, settings=settings)
    role_names: set[tuple[str, str]] = set(mandatory)
    if has_roles:
        role_names |= {(e.from_user, e.from_host) for e in rows.role_edges}
        role_names |= {(d.default_role_user, d.default_role_host) for d in rows.default_roles}
    refs: dict[tuple[str, str], PrincipalRef] = {}
    for u in rows.users:
        inferred = has_roles and (u.user, u.host) not in role_names and _is_role_footprint(u)
        is_role = has_roles and ((u.user, u.host) in role_names or inferred)
        ref = PrincipalRef.of(PrincipalKind.ROLE if is_role else PrincipalKind.USER, account_key(u.user, u.host))
        refs[(u.user, u.host)] = ref
        builder.add(ref, is_account=True, attributes=_user_attributes(u, is_role=is_role, inferred=inferred))
        for name in column_privileges(builder, u.priv_columns, "mysql.user"):
            builder.grant(ref, name, Scope.GLOBAL, source_table="mysql.user")
        for entry in _json_list(u.restrictions_json):
            if not isinstance(entry, dict):
                continue
            for privilege in entry.get("Privileges", []):
                builder.grant(ref, normalize_privilege_name(DbEngine.MYSQL, str(privilege)), Scope.DATABASE,
                              (str(entry.get("Database", "")),), source_table="mysql.user",
                              object_kind="database", effect=GrantEffect.DENY)

    def resolve(user: str, host: str) -> PrincipalRef | None:
        return refs.get((user, host))

    add_object_grants(builder, resolve, db_privs=rows.db_privs, table_privs=rows.table_privs,
                      column_privs=rows.column_privs, proc_privs=rows.proc_privs, proxy_privs=rows.proxy_privs)
    if has_roles:
        _add_roles(builder, rows, resolve, mandatory)
    return builder.build(_collector_ref(rows.meta.collector, refs))


def _add_roles(builder: SnapshotBuilder, rows: MySqlCatalogRows, resolve: Resolve,
               mandatory: list[tuple[str, str]]) -> None:
    defaults = {(d.user, d.host, d.default_role_user, d.default_role_host) for d in rows.default_roles}
    explicit: set[tuple[PrincipalRef | None, PrincipalRef | None]] = set()
    for e in rows.role_edges:
        member, role = resolve(e.to_user, e.to_host), resolve(e.from_user, e.from_host)
        explicit.add((member, role))
        builder.edge(member, role, source_table="mysql.role_edges", admin_option=e.with_admin_option,
                     default=(e.to_user, e.to_host, e.from_user, e.from_host) in defaults)
    for g in rows.global_grants:
        builder.grant(resolve(g.user, g.host), normalize_privilege_name(DbEngine.MYSQL, g.priv), Scope.GLOBAL,
                      source_table="mysql.global_grants", grant_option=g.with_grant_option)
    # Mandatory roles are granted to every user account by the server without a role_edges row.
    for u in rows.users:
        user, host = u.user, u.host
        member = resolve(user, host)
        if member is None or member.kind is not PrincipalKind.USER:
            continue
        for role_user, role_host in mandatory:
            role = resolve(role_user, role_host)
            if role is None or (member, role) in explicit:
                continue
            builder.edge(member, role, source_table="mandatory_roles", implicit=True,
                         default=(user, host, role_user, role_host) in defaults)
    for user, host, role_user, role_host in sorted(defaults):
        member, role = resolve(user, host), resolve(role_user, role_host)
        if (member, role) not in explicit and (role_user, role_host) not in mandatory:
            builder.warn("default_role_not_granted", f"default role {role_user}@{role_host} of {user}@{host} "
                         "is not granted; ignored")


def _user_attributes(u: MySqlUserRow, *, is_role: bool, inferred: bool) -> dict[str, AttrValue]:
    attributes = base_attributes()
    locked = u.account_locked and not is_role
    attributes.update({
        "login_capable": not is_role,
        "locked": locked,
        "lock_reasons": ("account_locked",) if locked else (),
        # CREATE ROLE marks the password expired; a role cannot log in, so the flag means nothing there.
        "password_expired": u.password_expired and not is_role,
        "password_changed_at": utc(u.password_last_changed),
        "password_lifetime_days": u.password_lifetime,
        "auth_method": u.plugin,
        "has_empty_password": None if is_role else empty_password(u.plugin, u.empty_authentication_string),
        "connection_limit": u.max_user_connections or None,
        "host": u.host,
        "ssl_type": u.ssl_type or "",
        "max_questions": u.max_questions,
        "max_updates": u.max_updates,
        "max_connections": u.max_connections,
        "kind_inferred": inferred,
    })
    factors = [str(p) for p in _json_list(u.mfa_plugins_json) if p]
    if factors:
        attributes["auth_factors"] = (u.plugin or "", *factors)
    return attributes


def empty_password(plugin: str | None, empty_string: bool | None) -> bool | None:
    """Empty password = password plugin with an empty stored secret; None when the test was not possible."""
    if empty_string is None:
        return None
    return empty_string and (plugin or "") in PASSWORD_PLUGINS


def _collector_ref(collector: str, refs: Mapping[tuple[str, str], PrincipalRef]) -> PrincipalRef | None:
    user, _, host = collector.rpartition("@")
    return refs.get((user, host))
