"""Driver-free mapping of Oracle result sets to the port's typed rows, version parsing and tablespace sizes."""

from __future__ import annotations

import re
from collections.abc import Sequence
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
from whalefall.domain.accounts.rows.oracle import (
    OracleColPrivRow,
    OraclePwfileUserRow,
    OracleQuotaRow,
    OracleRolePrivRow,
    OracleRoleRow,
    OracleSchemaPrivRow,
    OracleServerRow,
    OracleSysPrivRow,
    OracleTabPrivRow,
    OracleUserRow,
)
from whalefall.domain.instances import Flavor

_EDITION: Final = re.compile(r"^Oracle Database\s+\S+\s+(.+?)\s*$")


def records(result: ResultSet) -> list[dict[str, object]]:
    columns = [c.lower() for c in result.columns]
    return [dict(zip(columns, row, strict=True)) for row in result.rows]


def server_info(result: ResultSet) -> ServerInfo:
    """capacity.md §2.3 / E15: `19.22.0.0.0` → 19/22; the edition is the product banner after the release."""
    [row] = records(result)
    product, version_text = text(row["product"]), text(row["version"])
    version, major, minor = first_version(version_text)
    if version is not None:
        version = version_text
    edition = _EDITION.match(product)
    return ServerInfo(flavor=Flavor.ORACLE.value, version=version, version_major=major, version_minor=minor,
                      edition=edition.group(1) if edition else None, product=product or None,
                      raw=f"{product} {version_text}".strip())


def major_version(version: str) -> int:
    return first_version(version)[1] or 0


def server_row(result: ResultSet) -> tuple[OracleServerRow, str]:
    """Q0 → (server row, the collector's user name as `USER` reports it)."""
    [row] = records(result)
    return (OracleServerRow(version=text(row["version"]), container=optional_text(row["container"])),
            text(row["collector"]))


def users(result: ResultSet) -> tuple[OracleUserRow, ...]:
    return tuple(
        OracleUserRow(
            username=text(r["username"]), user_id=optional_int(r["user_id"]) or 0,
            account_status=text(r["account_status"]), lock_date=utc_datetime(r["lock_date"]),
            expiry_date=utc_datetime(r["expiry_date"]), created=utc_datetime(r["created"]),
            profile=optional_text(r["profile"]), authentication_type=optional_text(r["authentication_type"]),
            default_tablespace=optional_text(r["default_tablespace"]), common=optional_flag(r["common"]),
            oracle_maintained=optional_flag(r["oracle_maintained"]))
        for r in records(result)
    )


def roles(result: ResultSet) -> tuple[OracleRoleRow, ...]:
    return tuple(OracleRoleRow(role=text(r["role"]), authentication_type=optional_text(r["authentication_type"]),
                               common=optional_flag(r["common"]),
                               oracle_maintained=optional_flag(r["oracle_maintained"]))
                 for r in records(result))


def role_privs(result: ResultSet) -> tuple[OracleRolePrivRow, ...]:
    return tuple(
        OracleRolePrivRow(grantee=text(r["grantee"]), granted_role=text(r["granted_role"]),
                          admin_option=flag(r["admin_option"]), delegate_option=flag(r["delegate_option"]),
                          default_role=flag(r["default_role"]), common=optional_flag(r["common"]),
                          inherited=optional_flag(r["inherited"]))
        for r in records(result)
    )


def sys_privs(result: ResultSet) -> tuple[OracleSysPrivRow, ...]:
    return tuple(OracleSysPrivRow(grantee=text(r["grantee"]), privilege=text(r["privilege"]),
                                  admin_option=flag(r["admin_option"]), common=optional_flag(r["common"]),
                                  inherited=optional_flag(r["inherited"]))
                 for r in records(result))


def tab_privs(result: ResultSet) -> tuple[OracleTabPrivRow, ...]:
    return tuple(
        OracleTabPrivRow(grantee=text(r["grantee"]), owner=text(r["owner"]), table_name=text(r["table_name"]),
                         grantor=optional_text(r["grantor"]), privilege=text(r["privilege"]),
                         grantable=flag(r["grantable"]), hierarchy=flag(r["hierarchy"]),
                         type=optional_text(r["type"]))
        for r in records(result)
    )


def col_privs(result: ResultSet) -> tuple[OracleColPrivRow, ...]:
    return tuple(OracleColPrivRow(grantee=text(r["grantee"]), owner=text(r["owner"]), table_name=text(r["table_name"]),
                                  column_name=text(r["column_name"]), privilege=text(r["privilege"]),
                                  grantable=flag(r["grantable"]))
                 for r in records(result))


def quotas(result: ResultSet) -> tuple[OracleQuotaRow, ...]:
    return tuple(OracleQuotaRow(tablespace_name=text(r["tablespace_name"]), username=text(r["username"]),
                                max_bytes=optional_int(r["max_bytes"]) or 0)
                 for r in records(result))


def pwfile_users(result: ResultSet) -> tuple[OraclePwfileUserRow, ...]:
    return tuple(OraclePwfileUserRow(username=text(r["username"]), sysdba=flag(r["sysdba"]),
                                     sysoper=flag(r["sysoper"]), sysasm=flag(r["sysasm"]),
                                     sysbackup=flag(r["sysbackup"]), sysdg=flag(r["sysdg"]), syskm=flag(r["syskm"]))
                 for r in records(result))


def schema_privs(result: ResultSet) -> tuple[OracleSchemaPrivRow, ...]:
    return tuple(OracleSchemaPrivRow(grantee=text(r["grantee"]), privilege=text(r["privilege"]),
                                     schema=text(r["schema"]), admin_option=flag(r["admin_option"]))
                 for r in records(result))


def names(result: ResultSet) -> tuple[str, ...]:
    return tuple(text(row[0]) for row in result.rows)


def sizes(names_wanted: Sequence[str], result: ResultSet) -> SizeCollection:
    """Σ bytes of data (TEMPORARY: temp) files per tablespace; any unreadable file makes the tablespace missing."""
    read: dict[str, int | None] = {}
    for r in records(result):
        name = text(r["tablespace_name"])
        unreadable = optional_int(r["unreadable_files"]) or 0
        read[name] = None if unreadable else optional_int(r["size_bytes"])
    return SizeCollection(sizes=tuple(DatabaseSizeRow(name=n, size_bytes=read.get(n), data_bytes=read.get(n))
                                      for n in names_wanted))


def table_sizes(result: ResultSet) -> tuple[TableSizeRow, ...]:
    return tuple(TableSizeRow(schema_name=text(r["owner"]), table_name=text(r["segment_name"]),
                              total_bytes=optional_int(r["total_bytes"]) or 0,
                              data_bytes=optional_int(r["total_bytes"]), index_bytes=None,
                              row_estimate=optional_int(r["num_rows"]))
                 for r in records(result))
