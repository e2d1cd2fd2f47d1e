"""Driver-free mapping of MySQL/MariaDB result sets to the port's typed rows, version detection, tablespace
attribution and table sizes (accounts.md §2.1–2.2, capacity.md §2.3, §3.2–3.4). Pure: recorded rows feed it."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Final

from whalefall.adapters.connectors._shared import (
    ResultSet,
    first_version,
    flag,
    optional_float,
    optional_int,
    optional_text,
    text,
    utc_datetime,
)
from whalefall.adapters.connectors.mysql.filenames import decode_filename
from whalefall.application.ports.connectors import DatabaseSizeRow, ServerInfo, SizeCollection, TableSizeRow
from whalefall.domain.accounts.normalize.builder import version_tuple
from whalefall.domain.accounts.normalize.mysql import STATIC_PRIV_COLUMNS
from whalefall.domain.accounts.rows.mysql import (
    MariaDbGlobalPrivRow,
    MariaDbRoleMappingRow,
    MariaDbServerRow,
    MySqlColumnPrivRow,
    MySqlDbPrivRow,
    MySqlDefaultRoleRow,
    MySqlGlobalGrantRow,
    MySqlProcPrivRow,
    MySqlProxyPrivRow,
    MySqlRoleEdgeRow,
    MySqlServerRow,
    MySqlTablePrivRow,
    MySqlUserRow,
)
from whalefall.domain.instances import Flavor

_PRIV_NAMES: Final = {name.lower(): name for name in STATIC_PRIV_COLUMNS}
UNATTRIBUTED_WARNING: Final = "TABLESPACE_UNATTRIBUTED"


def records(result: ResultSet) -> list[dict[str, object]]:
    """Rows keyed by lower-cased column name (servers differ in the case of catalog column names)."""
    columns = [c.lower() for c in result.columns]
    return [dict(zip(columns, row, strict=True)) for row in result.rows]


def is_mariadb(version: str) -> bool:
    return "mariadb" in version.lower()


def server_info(version: str, comment: str | None) -> ServerInfo:
    """capacity.md §2.3: flavor mariadb when VERSION() says so (any case); version = first `x.y.z` (MariaDB's
    `5.5.5-` replication prefix skipped)."""
    flavor = Flavor.MARIADB if is_mariadb(version) else Flavor.MYSQL
    number, major, minor = first_version(version)
    if number is not None:
        parsed = version_tuple(version)
        number, major, minor = ".".join(str(p) for p in parsed), parsed[0], parsed[1]
    return ServerInfo(flavor=flavor.value, version=number, version_major=major, version_minor=minor, edition=None,
                      product=comment or None, raw=version)


def priv_columns(record: Mapping[str, object]) -> dict[str, bool]:
    """Every `*_priv` column of a row → its flag, keyed by the canonical column name (`Select_priv`)."""
    return {_PRIV_NAMES.get(key, key): flag(value) for key, value in record.items() if key.endswith("_priv")}


def set_members(value: object) -> tuple[str, ...]:
    """A SET column as the server spells its members (`Show view`); empty set → ()."""
    if value is None:
        return ()
    if isinstance(value, set | frozenset):
        return tuple(sorted(text(v) for v in value))
    raw = text(value)
    return tuple(part for part in raw.split(",") if part)


def mariadb_server(result: ResultSet) -> MariaDbServerRow:
    [row] = records(result)
    return MariaDbServerRow(version=text(row["version"]),
                            default_password_lifetime=optional_int(row.get("default_password_lifetime")))


def mariadb_users(result: ResultSet) -> tuple[MariaDbGlobalPrivRow, ...]:
    return tuple(
        MariaDbGlobalPrivRow(
            host=text(r["host"]), user=text(r["user"]), access=optional_int(r["access"]),
            plugin=optional_text(r["plugin"]),
            account_locked=None if r["account_locked"] is None else flag(r["account_locked"]),
            password_last_changed=optional_int(r["password_last_changed"]),
            password_lifetime=optional_int(r["password_lifetime"]), is_role=flag(r["is_role"]),
            default_role=optional_text(r["default_role"]), ssl_type=optional_int(r["ssl_type"]),
            max_questions=optional_int(r["max_questions"]), max_updates=optional_int(r["max_updates"]),
            max_connections=optional_int(r["max_connections"]),
            max_user_connections=optional_int(r["max_user_connections"]),
            max_statement_time=optional_float(r["max_statement_time"]), version_id=optional_int(r["version_id"]),
            auth_or_plugins_json=optional_text(r["auth_or_plugins_json"]),
            empty_authentication_string=(None if r["empty_authentication_string"] is None
                                         else flag(r["empty_authentication_string"])),
        )
        for r in records(result)
    )


def roles_mapping(result: ResultSet) -> tuple[MariaDbRoleMappingRow, ...]:
    return tuple(MariaDbRoleMappingRow(host=text(r["host"]), user=text(r["user"]), role=text(r["role"]),
                                       admin_option=flag(r["admin_option"]))
                 for r in records(result))


def mysql_server(result: ResultSet) -> MySqlServerRow:
    [row] = records(result)
    return MySqlServerRow(
        version=text(row["version"]), version_comment=optional_text(row.get("version_comment")),
        default_password_lifetime=optional_int(row.get("default_password_lifetime")),
        lower_case_table_names=optional_int(row.get("lower_case_table_names")),
        mandatory_roles=optional_text(row.get("mandatory_roles")),
        activate_all_roles_on_login=(None if row.get("activate_all_roles_on_login") is None
                                     else flag(row["activate_all_roles_on_login"])),
        partial_revokes=None if row.get("partial_revokes") is None else flag(row["partial_revokes"]),
    )


def mysql_users(result: ResultSet) -> tuple[MySqlUserRow, ...]:
    return tuple(
        MySqlUserRow(
            user=text(r["user"]), host=text(r["host"]), plugin=optional_text(r["plugin"]),
            account_locked=flag(r["account_locked"]), password_expired=flag(r["password_expired"]),
            password_last_changed=utc_datetime(r["password_last_changed"]),
            password_lifetime=optional_int(r["password_lifetime"]), ssl_type=optional_text(r["ssl_type"]),
            max_questions=optional_int(r["max_questions"]) or 0, max_updates=optional_int(r["max_updates"]) or 0,
            max_connections=optional_int(r["max_connections"]) or 0,
            max_user_connections=optional_int(r["max_user_connections"]) or 0,
            priv_columns=priv_columns(r),
            empty_authentication_string=(None if r.get("empty_authentication_string") is None
                                         else flag(r["empty_authentication_string"])),
            restrictions_json=optional_text(r.get("restrictions_json")),
            mfa_plugins_json=optional_text(r.get("mfa_plugins_json")),
        )
        for r in records(result)
    )


def db_privs(result: ResultSet) -> tuple[MySqlDbPrivRow, ...]:
    """Positional mapping (this table holds ~one row per database grant): the column layout and the flag of each
    distinct cell value are worked out once per result set instead of once per cell."""
    columns = [c.lower() for c in result.columns]
    position = {c: i for i, c in enumerate(columns)}
    host, db, user = position["host"], position["db"], position["user"]
    privs = [(i, _PRIV_NAMES.get(c, c)) for i, c in enumerate(columns) if c.endswith("_priv")]
    indexes = [i for i, _ in privs]
    names = [name for _, name in privs]
    # Flags of the text cells seen so far (`Y`/`N`); keyed by str only, so 1, True and b"Y" never hit it.
    known: dict[object, bool] = {}
    lookup = known.get

    def cell_flags(values: Sequence[object]) -> list[bool]:
        found = list(map(lookup, values))
        if None not in found:
            return found  # type: ignore[return-value]
        flags = [flag(v) for v in values]
        known.update((v, f) for v, f in zip(values, flags, strict=True) if type(v) is str)
        return flags

    rows: list[MySqlDbPrivRow] = []
    width = len(columns)
    for r in result.rows:
        if len(r) != width:
            raise ValueError(f"row of {len(r)} values for {width} columns")
        rows.append(MySqlDbPrivRow(host=text(r[host]), db=text(r[db]), user=text(r[user]),
                                   priv_columns=dict(zip(names, cell_flags([r[i] for i in indexes]), strict=True))))
    return tuple(rows)


def table_privs(result: ResultSet) -> tuple[MySqlTablePrivRow, ...]:
    return tuple(MySqlTablePrivRow(host=text(r["host"]), db=text(r["db"]), user=text(r["user"]),
                                   table_name=text(r["table_name"]), grantor=optional_text(r["grantor"]),
                                   table_priv=set_members(r["table_priv"]))
                 for r in records(result))


def column_privs(result: ResultSet) -> tuple[MySqlColumnPrivRow, ...]:
    return tuple(MySqlColumnPrivRow(host=text(r["host"]), db=text(r["db"]), user=text(r["user"]),
                                    table_name=text(r["table_name"]), column_name=text(r["column_name"]),
                                    column_priv=set_members(r["column_priv"]))
                 for r in records(result))


def proc_privs(result: ResultSet) -> tuple[MySqlProcPrivRow, ...]:
    return tuple(MySqlProcPrivRow(host=text(r["host"]), db=text(r["db"]), user=text(r["user"]),
                                  routine_name=text(r["routine_name"]), routine_type=text(r["routine_type"]),
                                  grantor=optional_text(r["grantor"]), proc_priv=set_members(r["proc_priv"]))
                 for r in records(result))


def proxy_privs(result: ResultSet) -> tuple[MySqlProxyPrivRow, ...]:
    return tuple(MySqlProxyPrivRow(host=text(r["host"]), user=text(r["user"]),
                                   proxied_host=text(r["proxied_host"]), proxied_user=text(r["proxied_user"]),
                                   with_grant=flag(r["with_grant"]))
                 for r in records(result))


def role_edges(result: ResultSet) -> tuple[MySqlRoleEdgeRow, ...]:
    return tuple(MySqlRoleEdgeRow(from_host=text(r["from_host"]), from_user=text(r["from_user"]),
                                  to_host=text(r["to_host"]), to_user=text(r["to_user"]),
                                  with_admin_option=flag(r["with_admin_option"]))
                 for r in records(result))


def default_roles(result: ResultSet) -> tuple[MySqlDefaultRoleRow, ...]:
    return tuple(MySqlDefaultRoleRow(host=text(r["host"]), user=text(r["user"]),
                                     default_role_host=text(r["default_role_host"]),
                                     default_role_user=text(r["default_role_user"]))
                 for r in records(result))


def global_grants(result: ResultSet) -> tuple[MySqlGlobalGrantRow, ...]:
    return tuple(MySqlGlobalGrantRow(user=text(r["user"]), host=text(r["host"]), priv=text(r["priv"]),
                                     with_grant_option=flag(r["with_grant_option"]))
                 for r in records(result))


def schema_names(result: ResultSet) -> tuple[str, ...]:
    return tuple(text(row[0]) for row in result.rows)


def attribute_sizes(names: Sequence[str], *, inventory: Iterable[str], tablespaces: ResultSet,
                    non_innodb: ResultSet | None) -> SizeCollection:
    """capacity.md §3.2–3.3: Σ FILE_SIZE of the file-per-table tablespaces of each schema (NAME split at the first
    `/`, the left part decoded) plus its non-InnoDB bytes. Tablespaces without `/` or of an unknown schema are
    unattributed (the latter with warning TABLESPACE_UNATTRIBUTED naming them); a requested name missing from the
    inventory has no size."""
    known = set(inventory)
    totals: dict[str, int] = dict.fromkeys(known, 0)
    unattributed = 0
    strays: list[str] = []
    for row in tablespaces.rows:
        name, size = text(row[0]), optional_int(row[1]) or 0
        encoded, slash, _ = name.partition("/")
        schema = decode_filename(encoded) if slash else None
        if schema is None:
            unattributed += size
        elif schema in known:
            totals[schema] += size
        else:
            unattributed += size
            strays.append(name)
    for row in non_innodb.rows if non_innodb is not None else ():
        schema = text(row[0])
        if schema in known:
            totals[schema] += optional_int(row[1]) or 0
    warnings = ((f"{UNATTRIBUTED_WARNING}: {', '.join(sorted(strays)[:50])}",) if strays else ())
    sizes = tuple(DatabaseSizeRow(name=n, size_bytes=totals.get(n), data_bytes=totals.get(n)) for n in names)
    return SizeCollection(sizes=sizes, unattributed_bytes=unattributed, warnings=warnings)


def table_sizes(result: ResultSet) -> tuple[TableSizeRow, ...]:
    return tuple(
        TableSizeRow(schema_name=text(r["table_schema"]), table_name=text(r["table_name"]),
                     total_bytes=optional_int(r["total_bytes"]) or 0, data_bytes=optional_int(r["data_length"]),
                     index_bytes=optional_int(r["index_length"]), row_estimate=optional_int(r["table_rows"]))
        for r in records(result)
    )
