"""Driver-free mapping of SQL Server result sets to the port's typed rows, version parsing and sizes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from whalefall.adapters.connectors._shared import (
    ResultSet,
    first_version,
    flag,
    optional_flag,
    optional_int,
    optional_text,
    text,
    utc_datetime,
)
from whalefall.application.ports.connectors import DatabaseSizeRow, ServerInfo, SizeCollection, TableSizeRow
from whalefall.domain.accounts.rows.sqlserver import (
    SqlServerDatabasePermissionRow,
    SqlServerDatabasePrincipalRow,
    SqlServerDatabaseRow,
    SqlServerEndpointRow,
    SqlServerPrincipalRow,
    SqlServerRoleMemberRow,
    SqlServerServerPermissionRow,
    SqlServerServerRow,
)
from whalefall.domain.instances import Flavor

#: capacity.md §2.3: ProductVersion major → product name.
PRODUCTS: Final = {11: "SQL Server 2012", 12: "SQL Server 2014", 13: "SQL Server 2016", 14: "SQL Server 2017",
                   15: "SQL Server 2019", 16: "SQL Server 2022", 17: "SQL Server 2025"}


def records(result: ResultSet) -> list[dict[str, object]]:
    columns = [c.lower() for c in result.columns]
    return [dict(zip(columns, row, strict=True)) for row in result.rows]


def sid(value: object) -> bytes | None:
    """SIDs stay the raw varbinary bytes (the catalog-row convention)."""
    if value is None:
        return None
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    raise TypeError(f"a SID must be bytes, got {type(value).__name__}")


def server_info(result: ResultSet) -> ServerInfo:
    [row] = records(result)
    product_version = text(row["product_version"])
    version, major, minor = first_version(product_version)
    if version is not None:
        version = product_version
    raw = text(row["version"]) or product_version
    return ServerInfo(flavor=Flavor.SQLSERVER.value, version=version, version_major=major, version_minor=minor,
                      edition=optional_text(row.get("edition")), product=PRODUCTS.get(major or 0),
                      raw=raw)


def server_row(row: Mapping[str, object]) -> SqlServerServerRow:
    return SqlServerServerRow(product_version=text(row["product_version"]),
                              engine_edition=optional_int(row["engine_edition"]),
                              collation=optional_text(row["collation"]),
                              has_view_any_definition=flag(row["has_view_any_definition"]))


def principals(result: ResultSet) -> tuple[SqlServerPrincipalRow, ...]:
    return tuple(
        SqlServerPrincipalRow(
            principal_id=optional_int(r["principal_id"]) or 0, sid=sid(r["sid"]), name=text(r["name"]),
            type=text(r["type"]).strip(), type_desc=text(r["type_desc"]), is_disabled=flag(r["is_disabled"]),
            default_database_name=optional_text(r["default_database_name"]), is_fixed_role=flag(r["is_fixed_role"]),
            owning_principal_id=optional_int(r["owning_principal_id"]),
            is_policy_checked=optional_flag(r["is_policy_checked"]),
            is_expiration_checked=optional_flag(r["is_expiration_checked"]),
            is_locked=optional_flag(r["is_locked"]), is_expired=optional_flag(r["is_expired"]),
            is_must_change=optional_flag(r["is_must_change"]),
            password_last_set_time=utc_datetime(r["password_last_set_time"]))
        for r in records(result)
    )


def role_members(result: ResultSet) -> tuple[SqlServerRoleMemberRow, ...]:
    return tuple(SqlServerRoleMemberRow(role_principal_id=optional_int(r["role_principal_id"]) or 0,
                                        member_principal_id=optional_int(r["member_principal_id"]) or 0)
                 for r in records(result))


def server_permissions(result: ResultSet) -> tuple[SqlServerServerPermissionRow, ...]:
    return tuple(
        SqlServerServerPermissionRow(
            class_=optional_int(r["class"]) or 0, class_desc=text(r["class_desc"]),
            major_id=optional_int(r["major_id"]) or 0, minor_id=optional_int(r["minor_id"]) or 0,
            grantee_principal_id=optional_int(r["grantee_principal_id"]) or 0,
            grantor_principal_id=optional_int(r["grantor_principal_id"]),
            permission_name=text(r["permission_name"]), state=text(r["state"]).strip())
        for r in records(result)
    )


def endpoints(result: ResultSet) -> tuple[SqlServerEndpointRow, ...]:
    return tuple(SqlServerEndpointRow(endpoint_id=optional_int(r["endpoint_id"]) or 0, name=text(r["name"]))
                 for r in records(result))


def databases(result: ResultSet) -> tuple[SqlServerDatabaseRow, ...]:
    return tuple(
        SqlServerDatabaseRow(
            database_id=optional_int(r["database_id"]) or 0, name=text(r["name"]), owner_sid=sid(r["owner_sid"]),
            state=optional_int(r["state"]) or 0, state_desc=text(r["state_desc"]),
            is_read_only=flag(r["is_read_only"]), user_access_desc=text(r["user_access_desc"]),
            containment=optional_int(r["containment"]) or 0, has_dbaccess=flag(r["has_dbaccess"]))
        for r in records(result)
    )


def database_principals(rows: Sequence[Mapping[str, object]]) -> tuple[SqlServerDatabasePrincipalRow, ...]:
    return tuple(
        SqlServerDatabasePrincipalRow(
            principal_id=optional_int(r["principal_id"]) or 0, name=text(r["name"]), type=text(r["type"]).strip(),
            sid=sid(r["sid"]), default_schema_name=optional_text(r["default_schema_name"]),
            authentication_type=optional_text(r["authentication_type"]),
            owning_principal_id=optional_int(r["owning_principal_id"]), is_fixed_role=flag(r["is_fixed_role"]))
        for r in rows
    )


def database_role_members(rows: Sequence[Mapping[str, object]]) -> tuple[SqlServerRoleMemberRow, ...]:
    return tuple(SqlServerRoleMemberRow(role_principal_id=optional_int(r["role_principal_id"]) or 0,
                                        member_principal_id=optional_int(r["member_principal_id"]) or 0)
                 for r in rows)


def database_permissions(rows: Sequence[Mapping[str, object]]) -> tuple[SqlServerDatabasePermissionRow, ...]:
    return tuple(
        SqlServerDatabasePermissionRow(
            class_=optional_int(r["class"]) or 0, class_desc=text(r["class_desc"]),
            major_id=optional_int(r["major_id"]) or 0, minor_id=optional_int(r["minor_id"]) or 0,
            grantee_principal_id=optional_int(r["grantee_principal_id"]) or 0,
            permission_name=text(r["permission_name"]), state=text(r["state"]).strip(),
            schema_name=optional_text(r["schema_name"]), object_name=optional_text(r["object_name"]),
            object_type=None if r["object_type"] is None else text(r["object_type"]).strip(),
            column_name=optional_text(r["column_name"]), securable_name=optional_text(r["securable_name"]))
        for r in rows
    )


def by_database(result: ResultSet) -> dict[str, list[dict[str, object]]]:
    """Rows of a UNION ALL batch grouped by the bound `database_name` column."""
    grouped: dict[str, list[dict[str, object]]] = {}
    for record in records(result):
        grouped.setdefault(text(record["database_name"]), []).append(record)
    return grouped


def names(result: ResultSet) -> tuple[str, ...]:
    return tuple(text(row[0]) for row in result.rows)


def sizes(names_wanted: Sequence[str], result: ResultSet, tempdb: ResultSet | None) -> SizeCollection:
    """capacity.md §3.2: data and log kept apart, size = data + log; no file rows → missing; tempdb from
    `tempdb.sys.database_files`."""
    read: dict[str, DatabaseSizeRow] = {}
    for r in records(result):
        name = text(r["name"])
        read[name] = _size_row(name, r)
    if tempdb is not None and tempdb.rows:
        [t] = records(tempdb)
        read["tempdb"] = _size_row("tempdb", t)
    return SizeCollection(sizes=tuple(read.get(n, DatabaseSizeRow(name=n, size_bytes=None)) for n in names_wanted))


def _size_row(name: str, r: Mapping[str, object]) -> DatabaseSizeRow:
    if not optional_int(r["file_count"]):
        return DatabaseSizeRow(name=name, size_bytes=None)
    data, log = optional_int(r["data_bytes"]) or 0, optional_int(r["log_bytes"]) or 0
    return DatabaseSizeRow(name=name, size_bytes=data + log, data_bytes=data, log_bytes=log)


def table_sizes(result: ResultSet) -> tuple[TableSizeRow, ...]:
    return tuple(TableSizeRow(schema_name=text(r["schema_name"]), table_name=text(r["table_name"]),
                              total_bytes=optional_int(r["total_bytes"]) or 0,
                              data_bytes=optional_int(r["data_bytes"]), index_bytes=optional_int(r["index_bytes"]),
                              row_estimate=optional_int(r["row_estimate"]))
                 for r in records(result))


def missing_privileges(result: ResultSet) -> tuple[str, ...]:
    """accounts.md §2.6: VIEW ANY DEFINITION, VIEW ANY DATABASE, and CONNECT ANY DATABASE where the server knows
    it (2014+; NULL before); on 2022+ the ##MS_DefinitionReader## / ##MS_DatabaseConnector## roles grant them."""
    [r] = records(result)
    missing = []
    for column, grant in (("view_any_definition", "VIEW ANY DEFINITION"), ("view_any_database", "VIEW ANY DATABASE"),
                          ("connect_any_database", "CONNECT ANY DATABASE")):
        if r[column] is not None and not flag(r[column]):
            missing.append(grant)
    return tuple(missing)
